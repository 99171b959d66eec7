"""The refusal throttle of ``bridge.listener``: a burst answered at once, then each refusal
queues behind the ones before it, up to a longest wait."""

from __future__ import annotations

import pytest

from bridge.listener import FailureThrottle


def test_refusals_past_the_burst_queue_up_to_the_longest_wait() -> None:
    throttle = FailureThrottle(rate=5.0, burst=5.0, longest=1.0)
    assert [throttle.refuse(100.0) for _ in range(5)] == [0.0] * 5
    waits = [throttle.refuse(100.0) for _ in range(45)]
    assert waits[:5] == pytest.approx([0.2, 0.4, 0.6, 0.8, 1.0])
    assert waits[5:] == [1.0] * 40  # a flood does not pile up waits past the longest
    assert throttle.retry_after() == 2
    # A fifth of a second later the queue moved by one: still the longest wait.
    assert throttle.refuse(100.2) == pytest.approx(1.0)
    # Quiet seconds give the whole burst back, never more.
    assert [throttle.refuse(200.0) for _ in range(6)] == [0.0] * 5 + [pytest.approx(0.2)]

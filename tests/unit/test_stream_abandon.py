"""A stream whose process cannot be ended still lets go of its place when its page goes away."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from bridge.processes.base import Chunk, ExitStatus
from bridge.processes.output import NotificationSink, Stream


class Unkillable:
    """A process whose ending fails, as a sweep's error would make it fail."""

    killed = False
    closed = False

    async def read(self) -> list[Chunk]:
        await asyncio.Event().wait()
        return []

    async def wait(self) -> ExitStatus:
        await asyncio.Event().wait()
        raise AssertionError

    async def terminate(self, grace: float) -> None:
        raise OSError(9, "Bad file descriptor")

    def close(self) -> None:
        self.closed = True


async def nothing(method: str, params: dict[str, Any]) -> None:
    return None


@pytest.mark.parametrize("started", [True, False])
async def test_a_failed_kill_still_ends_the_stream(started: bool) -> None:
    process = Unkillable()
    stream = Stream("1", process, 0.1)
    released: list[str] = []
    stream.done_callbacks.append(lambda: released.append("place"))
    if started:
        stream.start(NotificationSink("1", nothing))
        await asyncio.sleep(0)
    with pytest.raises(OSError, match="Bad file descriptor"):
        await stream.abandon()
    await asyncio.sleep(0)
    assert released == ["place"] and process.closed

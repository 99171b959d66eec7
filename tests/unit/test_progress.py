"""Progress as events (bridge.progress): what a page or a remote terminal receives, and the
remote terminal's drawing of it being the local one's."""

from __future__ import annotations

import asyncio
import io
from typing import Any

import pytest

from bridge.progress import Progress


async def steps(progress: Progress) -> None:
    progress.info("host binaries: tool")
    async with progress.step("Pulling x") as step:
        step.detail = "layer 1/2"
        step.detail = "layer 1/2"  # unchanged: no new event
        step.detail = "layer 2/2"
    with pytest.raises(RuntimeError):
        async with progress.step("Starting the backend"):
            raise RuntimeError("it exited with code 3")
    progress.warn("careful")


def test_every_line_and_step_is_an_event_in_order() -> None:
    events: list[dict[str, Any]] = []
    asyncio.run(steps(Progress(io.StringIO(), interactive=False, listener=events.append)))
    assert [
        (e["kind"], e.get("state"), e.get("title") or e.get("message"), e.get("detail")) for e in events
    ] == [
        ("info", None, "host binaries: tool", None),
        ("step", "start", "Pulling x", ""),
        ("step", "detail", "Pulling x", "layer 1/2"),
        ("step", "detail", "Pulling x", "layer 2/2"),
        ("step", "done", "Pulling x", "layer 2/2"),
        ("step", "start", "Starting the backend", ""),
        ("step", "failed", "Starting the backend", "it exited with code 3"),
        ("warn", None, "careful", None),
    ]


def test_a_remote_progress_draws_as_the_local_one() -> None:
    local, remote = io.StringIO(), io.StringIO()
    shown = Progress(remote, interactive=False)
    asyncio.run(steps(Progress(local, interactive=False, listener=shown.show)))
    # Elapsed times may differ by a rounding: compare without them.
    strip = lambda text: [line.split(" (")[0] for line in text.splitlines()]  # noqa: E731
    assert strip(remote.getvalue()) == strip(local.getvalue())
    assert "✗ Starting the backend: it exited with code 3" in remote.getvalue()

"""Progress for the long steps of ``ddbridge run`` / ``dev``: extraction, compose up, socket wait.

On a terminal a step is one line redrawn in place (spinner, detail, elapsed seconds) and then
replaced by its outcome; elsewhere (CI logs, pipes) each step prints a start line and an outcome
line, nothing in between. Failures are one clear line each; details go to the log (--verbose).
"""

from __future__ import annotations

import asyncio
import contextlib
import sys
import time
from collections.abc import AsyncIterator
from typing import TextIO

_SPINNER = "⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏"


class Step:
    """A running step; ``detail`` shows what it is doing now."""

    def __init__(self, title: str) -> None:
        self.title = title
        self.detail = ""
        self.started = time.monotonic()

    @property
    def elapsed(self) -> float:
        return time.monotonic() - self.started


class Progress:
    def __init__(self, stream: TextIO | None = None, *, interactive: bool | None = None) -> None:
        self._stream = stream or sys.stderr
        self._interactive = self._stream.isatty() if interactive is None else interactive

    def _write(self, text: str) -> None:
        self._stream.write(text)
        self._stream.flush()

    def info(self, message: str) -> None:
        self._write(f"  {message}\n")

    def warn(self, message: str) -> None:
        self._write(f"! {message}\n")

    def fail(self, message: str) -> None:
        self._write(f"✗ {message}\n")

    def _draw(self, step: Step, frame: int) -> None:
        detail = f" — {step.detail}" if step.detail else ""
        self._write(f"\r\033[K{_SPINNER[frame % len(_SPINNER)]} {step.title}{detail} ({step.elapsed:.0f}s)")

    async def _animate(self, step: Step) -> None:
        frame = 0
        while True:
            self._draw(step, frame)
            frame += 1
            await asyncio.sleep(0.1)

    @contextlib.asynccontextmanager
    async def step(self, title: str) -> AsyncIterator[Step]:
        """A step: ``✓ title (1.2s)`` when the block ends, ``✗ title: why`` if it raises."""
        step = Step(title)
        ticker = asyncio.create_task(self._animate(step)) if self._interactive else None
        if ticker is None:
            self._write(f"… {title}\n")
        try:
            yield step
        except BaseException as exc:
            outcome = f"✗ {title}: {exc}" if str(exc) else f"✗ {title}"
            raise
        else:
            outcome = f"✓ {title} ({step.elapsed:.1f}s)"
        finally:
            if ticker is not None:
                ticker.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await ticker
                self._write("\r\033[K")
            self._write(outcome + "\n")

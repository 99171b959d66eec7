"""Progress for the long steps of ``ddbridge run`` / ``dev`` and of installing an extension:
pulls, extraction, compose up, socket wait.

On a terminal a step is one line redrawn in place (spinner, detail, elapsed seconds) and then
replaced by its outcome; elsewhere (CI logs, pipes) each step prints a start line and an outcome
line, nothing in between. Failures are one clear line each; details go to the log (--verbose).

The same progress reaches a web page or a remote terminal as events (``listener``): plain dicts
``{"kind": "info"|"warn"|"fail", "message"}`` and ``{"kind": "step", "state":
"start"|"detail"|"done"|"failed", "title", "detail", "elapsed"}`` and a pull's layers
``{"kind": "layer", "id", "status", "current", "total"}``; ``show`` draws such an event
on this terminal, so the CLI shows a running host's install as it shows its own.
"""

from __future__ import annotations

import asyncio
import contextlib
import sys
import time
from collections.abc import AsyncIterator, Callable
from typing import Any, TextIO

_SPINNER = "⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏"


Listener = Callable[[dict[str, Any]], None]


class Step:
    """A running step; ``detail`` shows what it is doing now."""

    def __init__(self, title: str, listener: Listener | None = None) -> None:
        self.title = title
        self._detail = ""
        self._listener = listener
        self.started = time.monotonic()

    @property
    def detail(self) -> str:
        return self._detail

    @detail.setter
    def detail(self, value: str) -> None:
        if value != self._detail:
            self._detail = value
            self.emit("detail")

    @property
    def elapsed(self) -> float:
        return time.monotonic() - self.started

    def fail(self, why: str) -> None:
        self._detail = why
        self.emit("failed")

    def emit(self, state: str) -> None:
        if self._listener is not None:
            event = {"title": self.title, "detail": self._detail, "elapsed": round(self.elapsed, 1)}
            self._listener({"kind": "step", "state": state, **event})


class Progress:
    def __init__(
        self,
        stream: TextIO | None = None,
        *,
        interactive: bool | None = None,
        listener: Listener | None = None,
    ) -> None:
        self._stream = stream or sys.stderr
        self._interactive = self._stream.isatty() if interactive is None else interactive
        self._listener = listener

    def _write(self, text: str) -> None:
        self._stream.write(text)
        self._stream.flush()

    def _emit(self, kind: str, message: str) -> None:
        if self._listener is not None:
            self._listener({"kind": kind, "message": message})

    def info(self, message: str) -> None:
        self._write(f"  {message}\n")
        self._emit("info", message)

    def warn(self, message: str) -> None:
        self._write(f"! {message}\n")
        self._emit("warn", message)

    def fail(self, message: str) -> None:
        self._write(f"✗ {message}\n")
        self._emit("fail", message)

    def layer(self, ident: str, status: str, current: int = 0, total: int = 0) -> None:
        """A layer of a pull: every change is an event; a terminal that does not redraw prints
        only each layer's end."""
        if self._listener is not None:
            self._listener(
                {"kind": "layer", "id": ident, "status": status, "current": current, "total": total}
            )
        if not self._interactive and status in ("Pull complete", "Already exists"):
            self._write(f"  {ident}: {status}\n")

    def show(self, event: dict[str, Any]) -> None:
        """Draw an event of another process's progress (a running host's) as if it were ours."""
        kind = event.get("kind")
        if kind in ("info", "warn", "fail"):
            getattr(self, kind)(str(event.get("message", "")))
            return
        if kind == "layer":
            self.layer(
                str(event.get("id", "")),
                str(event.get("status", "")),
                int(event.get("current") or 0),
                int(event.get("total") or 0),
            )
            return
        if kind != "step":
            return
        title, state, detail = str(event.get("title", "")), event.get("state"), str(event.get("detail", ""))
        if state == "start" and not self._interactive:
            self._write(f"… {title}\n")
        elif state == "detail" and self._interactive:
            self._write(f"\r\033[K… {title}" + (f" — {detail}" if detail else ""))
        elif state in ("done", "failed"):
            if self._interactive:
                self._write("\r\033[K")
            if state == "done":
                self._write(f"✓ {title} ({float(event.get('elapsed') or 0):.1f}s)\n")
            else:
                self._write(f"✗ {title}" + (f": {detail}" if detail else "") + "\n")

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
        step = Step(title, self._listener)
        step.emit("start")
        ticker = asyncio.create_task(self._animate(step)) if self._interactive else None
        if ticker is None:
            self._write(f"… {title}\n")
        try:
            yield step
        except BaseException as exc:
            outcome = f"✗ {title}: {exc}" if str(exc) else f"✗ {title}"
            step.fail(str(exc))
            raise
        else:
            outcome = f"✓ {title} ({step.elapsed:.1f}s)"
            step.emit("done")
        finally:
            if ticker is not None:
                ticker.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await ticker
                self._write("\r\033[K")
            self._write(outcome + "\n")

"""The two consumers of a running process: ``collect`` (blocking exec) and ``Stream``.

Both decode UTF-8 incrementally per output stream, so a character split across chunks stays
whole and invalid bytes become U+FFFD.
"""

from __future__ import annotations

import asyncio
import codecs
import contextlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from bridge.errors import LimitExceeded
from bridge.processes.base import STDERR, STDOUT, ExitStatus, RunningProcess

log = logging.getLogger("ddbridge.exec")

NAMES = {STDOUT: "stdout", STDERR: "stderr"}


class _Decoders:
    def __init__(self) -> None:
        self._decoders = {fd: codecs.getincrementaldecoder("utf-8")("replace") for fd in NAMES}

    def decode(self, fd: int, data: bytes) -> str:
        return self._decoders[fd].decode(data)

    def flush(self) -> list[tuple[int, str]]:
        tails = [(fd, decoder.decode(b"", final=True)) for fd, decoder in self._decoders.items()]
        return [(fd, text) for fd, text in tails if text]


@dataclass(frozen=True, slots=True)
class ExecResult:
    """What a blocking exec returns: the wire shape of ddClient's RawExecResult."""

    cmd: str
    status: ExitStatus
    killed: bool
    stdout: str
    stderr: str

    def to_wire(self) -> dict[str, Any]:
        return {
            "cmd": self.cmd,
            "code": self.status.code,
            "signal": self.status.signal,
            "killed": self.killed,
            "stdout": self.stdout,
            "stderr": self.stderr,
        }


async def collect(process: RunningProcess, *, cmd: str, max_output: int, grace: float) -> ExecResult:
    """Run a process to its end and keep its output, up to ``max_output`` bytes in all."""
    decoders = _Decoders()
    parts: dict[int, list[str]] = {STDOUT: [], STDERR: []}
    total = 0
    try:
        while chunks := await process.read():
            for fd, data in chunks:
                total += len(data)
                if total > max_output:
                    raise LimitExceeded(
                        f"{cmd!r} wrote more than {max_output} bytes, the cap of a blocking exec "
                        "([exec] max_output); use the streaming form, exec(cmd, args, {stream: {...}})",
                        limit="exec.max_output",
                        value=max_output,
                    )
                parts[fd].append(decoders.decode(fd, data))
        for fd, text in decoders.flush():
            parts[fd].append(text)
        status = await process.wait()
    except BaseException:
        await process.terminate(grace)
        raise
    finally:
        process.close()
    return ExecResult(cmd, status, process.killed, "".join(parts[STDOUT]), "".join(parts[STDERR]))


Notify = Callable[[str, dict[str, Any]], Awaitable[None]]


class Stream:
    """A streaming exec: pumps a process's output to the client as notifications.

    Sends ``exec.output`` for each decoded chunk and ``exec.exit`` at the end, or
    ``exec.error`` if reading fails. Each send is awaited, so a slow client slows the process.
    """

    def __init__(self, stream_id: str, process: RunningProcess, notify: Notify, grace: float) -> None:
        self.id = stream_id
        self._process = process
        self._notify = notify
        self._grace = grace
        self._task: asyncio.Task[None] | None = None
        self.done_callbacks: list[Callable[[], None]] = []

    def start(self) -> None:
        self._task = asyncio.create_task(self._pump(), name=f"stream {self.id}")

    async def _pump(self) -> None:
        decoders = _Decoders()
        try:
            while chunks := await self._process.read():
                for fd, data in chunks:
                    text = decoders.decode(fd, data)
                    if text:
                        await self._notify("exec.output", {"stream": self.id, NAMES[fd]: text})
            for fd, text in decoders.flush():
                await self._notify("exec.output", {"stream": self.id, NAMES[fd]: text})
            status = await self._process.wait()
            await self._notify("exec.exit", {"stream": self.id, "code": status.code, "signal": status.signal})
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            log.warning("stream %s failed: %r", self.id, exc)
            with contextlib.suppress(Exception):
                await self._notify("exec.error", {"stream": self.id, "message": f"stream failed: {exc}"})
            # Nobody reads this process any more (the socket may be gone, and the session no
            # longer lists the stream once it is done): end it rather than leave it running.
            await self._process.terminate(self._grace)
        finally:
            self._process.close()
            for callback in self.done_callbacks:
                callback()

    async def kill(self) -> None:
        """End the process; the pump then reports its exit."""
        await self._process.terminate(self._grace)

    async def abandon(self) -> None:
        """The client is gone: end the process and stop pumping."""
        await self.kill()
        if self._task is None:
            self._process.close()
        else:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

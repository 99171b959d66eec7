"""The two consumers of a running process: ``collect`` (blocking exec) and ``Stream``.

A stream decodes UTF-8 incrementally per output stream, so a character split across chunks
stays whole; ``collect`` decodes each output whole at its end. Invalid bytes become U+FFFD.
``collect`` keeps what it reads within the daemon's memory budget (``bridge.budget``); a stream
holds one chunk at a time.
"""

from __future__ import annotations

import asyncio
import codecs
import contextlib
import logging
import sys
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass
from typing import Any, Protocol

from bridge.budget import Hold, str_size
from bridge.errors import LimitExceeded
from bridge.processes.base import STDERR, STDOUT, ExitStatus, RunningProcess

log = logging.getLogger("ddbridge.exec")

NAMES = {STDOUT: "stdout", STDERR: "stderr"}


class _Decoders:
    """UTF-8 decoders, one per output, that keep a character split across chunks whole."""

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


async def collect(
    process: RunningProcess, *, cmd: str, max_output: int, grace: float, hold: Hold
) -> ExecResult:
    """Run a process to its end and keep its output, up to ``max_output`` bytes in all.

    The bytes kept are taken from ``hold`` as they arrive, so a call past the memory budget
    fails with ``LimitExceeded`` and ends the process; afterwards ``hold`` covers the result's
    two strings and bounds their JSON (on failure it is given back at once). Each output is
    kept in one growing buffer and decoded at the end: one large block that goes back to the
    system when freed, where thousands of chunk-sized strings would leave the heap holding
    their pages."""
    outputs = {STDOUT: _Output(), STDERR: _Output()}
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
                hold.add(len(data))
                outputs[fd].add(data)
        status = await process.wait()
        stdout = outputs.pop(STDOUT).decode(hold)
        stderr = outputs.pop(STDERR).decode(hold)
    except BaseException:
        hold.release()
        await process.terminate(grace)
        raise
    finally:
        process.close()
    return ExecResult(cmd, status, process.killed, stdout, stderr)


_PLAIN, _SHORT, _CONTROL, _HIGH = b"psch"
# Each byte's class in a JSON string: plain; a short escape (\n, \"); \u00XX; past ASCII.
_CLASSES = bytes(
    _HIGH if b >= 0x80 else _SHORT if b in b'\b\t\n\f\r"\\' else _CONTROL if b < 0x20 else _PLAIN
    for b in range(256)
)


class _Output:
    """One output of a blocking exec: its bytes, and what JSON will make of them."""

    def __init__(self) -> None:
        self.buffer = bytearray()
        self.escapes = 0  # bytes the escapes of ASCII characters add
        self.high = 0  # bytes past ASCII

    def add(self, data: bytes) -> None:
        self.buffer += data
        classes = data.translate(_CLASSES)
        self.escapes += classes.count(_SHORT) + 5 * classes.count(_CONTROL)
        self.high += classes.count(_HIGH)

    def decode(self, hold: Hold) -> str:
        """The output as text (invalid UTF-8 becomes U+FFFD), its size taken from ``hold``
        before it is made (``str_size``); then the buffer's bytes and what the text did not
        need are given back, and the bounds of its JSON added: UTF-8 kept (each U+FFFD, 3
        bytes, may stand for 1) or escaped to ASCII (6 bytes at most for each byte past ASCII,
        as ``\\uXXXX`` or half of a surrogate pair)."""
        kept = len(self.buffer)
        reserved = str_size(kept, ascii=self.high == 0)
        hold.add(reserved)
        text = self.buffer.decode("utf-8", "replace")
        self.buffer = bytearray()
        hold.give_back(kept + reserved - sys.getsizeof(text))
        replaced = text.count("\ufffd") if self.high else 0
        hold.json_utf8 += kept + self.escapes + 2 * replaced + 2
        hold.json_ascii += kept + self.escapes + 5 * self.high + 2
        return text


Notify = Callable[[str, dict[str, Any]], Awaitable[None]]


class Sink(Protocol):
    """Where a stream's output goes: the page's socket as notifications (``NotificationSink``),
    or an HTTP answer of its own (``bridge.stream_answer``). Each call is awaited, so a slow
    reader slows the process; a call that raises means the reader is gone."""

    async def output(self, fd: int, data: bytes) -> None:
        """A chunk of ``fd``'s output, as the process wrote it."""
        ...

    async def end(self, method: str, params: dict[str, Any]) -> None:
        """The stream's one end: ``exec.exit`` or ``exec.error`` with their params."""
        ...


class NotificationSink:
    """A stream's output as ``exec.output`` notifications on the page's socket, decoded."""

    def __init__(self, stream_id: str, notify: Notify) -> None:
        self._id = stream_id
        self._notify = notify
        self._decoders = _Decoders()

    async def output(self, fd: int, data: bytes) -> None:
        text = self._decoders.decode(fd, data)
        if text:
            await self._notify("exec.output", {"stream": self._id, NAMES[fd]: text})

    async def end(self, method: str, params: dict[str, Any]) -> None:
        for fd, text in self._decoders.flush():
            await self._notify("exec.output", {"stream": self._id, NAMES[fd]: text})
        await self._notify(method, params)


class _PageGone(Exception):
    """The stream's reader is gone: the page's socket or the stream's answer closed under a
    send, or the page was closed."""


class Stream:
    """A streaming exec: pumps a process's output to a ``Sink`` once started.

    Delivers each chunk, then exactly one end: ``exec.exit``, or ``exec.error`` if reading the
    process fails. A reader that goes away (its sink fails under a send, or the session
    abandons the stream) gets no end at all: nothing could receive it, and the inspector shows
    the stream ended by the page's ``connection.close``. That is routine, not a failure: it is
    logged at debug level only.
    """

    def __init__(self, stream_id: str, process: RunningProcess, grace: float) -> None:
        self.id = stream_id
        self._process = process
        self._grace = grace
        self._task: asyncio.Task[None] | None = None
        self._abandoned = False
        self.done_callbacks: list[Callable[[], None]] = []

    def start(self, sink: Sink) -> asyncio.Task[None]:
        """Pump the output to ``sink``; the task ends with the stream."""
        self._task = asyncio.create_task(self._pump(sink), name=f"stream {self.id}")
        return self._task

    async def _pump(self, sink: Sink) -> None:
        try:
            await self._forward(sink)
        except asyncio.CancelledError:
            raise
        except _PageGone as gone:
            log.debug("stream %s: the page went away (%r); ending its process", self.id, gone.__cause__)
            await self._process.terminate(self._grace)
        except Exception as exc:
            log.warning("stream %s failed: %r", self.id, exc)
            with contextlib.suppress(_PageGone):
                message = f"stream failed: {str(exc) or repr(exc)}"
                await self._deliver(sink.end("exec.error", {"stream": self.id, "message": message}))
            # Nobody reads this process any more (the session no longer lists the stream once
            # it is done): end it rather than leave it running.
            await self._process.terminate(self._grace)
        finally:
            self._done()

    async def _forward(self, sink: Sink) -> None:
        """The process's output, then its exit, to the sink."""
        while chunks := await self._process.read():
            for fd, data in chunks:
                await self._deliver(sink.output(fd, data))
        status = await self._process.wait()
        exit_params = {"stream": self.id, "code": status.code, "signal": status.signal}
        await self._deliver(sink.end("exec.exit", exit_params))

    async def _deliver(self, sending: Coroutine[Any, Any, None]) -> None:
        """One call of the sink; ``_PageGone`` once the reader cannot take it."""
        if self._abandoned:
            sending.close()
            raise _PageGone
        try:
            await sending
        except Exception as exc:
            self._abandoned = True
            raise _PageGone from exc

    def _done(self) -> None:
        self._process.close()
        for callback in self.done_callbacks:
            callback()

    async def kill(self) -> None:
        """End the process; the pump then reports its exit."""
        await self._process.terminate(self._grace)

    async def abandon(self) -> None:
        """The reader is gone: end the process and stop pumping, sending nothing more (the
        process's end, which killing it brings, must not be reported to a closed page)."""
        self._abandoned = True
        try:
            await self.kill()
        finally:  # a kill that failed still lets the stream go, and its place with it
            if self._task is None:  # never started (no reader came): nothing else ends it
                self._done()
            else:
                self._task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await self._task

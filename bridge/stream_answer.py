"""A stream's output as an HTTP answer of its own: what a browser reads fastest.

Chromium hands a page a WebSocket's messages at 50-110 MB/s here, and the body of a ``fetch()``
at 400-600 MB/s (``bench/browser.py``). So the shim asks ``exec.spawn`` for ``output: "http"``
and reads the stream from ``GET /_ddbridge/streams/NAME``, while the call, ``exec.kill`` and
the page's lifetime stay on its socket. The answer is a sequence of records, each a kind byte,
a 4-byte big-endian length and that many bytes:

- ``1`` (stdout) and ``2`` (stderr): output as the process wrote it, which the page decodes;
- ``0``: the stream's end, the JSON of the notification the socket would have carried
  (``{"jsonrpc": "2.0", "method": "exec.exit", "params": {...}}``, or ``exec.error``), the
  answer's last record.

The properties: a name is 128 random bits, read once, only on the origin (extension context)
whose page started the stream and only with an explicit credential (``bridge.access``); a
stream nobody claims within ``[exec] answer_wait`` seconds ends and its page is told on its
socket; an answer whose reader goes away (the fetch aborted, the tab closed) ends the process,
as a closed socket does, and a closed socket ends the answer. The inspector sees the output
and the end as it sees the notifications'.
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from starlette.responses import Response

from bridge.processes.output import NotificationSink, Stream
from bridge.rpc import dumps, notification

if TYPE_CHECKING:
    from starlette.types import Receive, Scope, Send

    from bridge.events import ConnectionEvents

STREAMS_PATH = "/_ddbridge/streams/"
END = 0  # the kinds of output records are their file descriptors: 1 stdout, 2 stderr
HEADERS = [
    (b"content-type", b"application/octet-stream"),
    (b"cache-control", b"no-store"),
    (b"x-content-type-options", b"nosniff"),
]


def header(kind: int, size: int) -> bytes:
    return kind.to_bytes(1, "big") + size.to_bytes(4, "big")


def record(kind: int, payload: bytes) -> bytes:
    return header(kind, len(payload)) + payload


@dataclass(frozen=True, slots=True)
class Waiting:
    """A stream started for an answer, and the inspector's view of its connection."""

    stream: Stream
    events: ConnectionEvents


class WaitingStreams:
    """One extension context's streams that wait for their answer to be asked for, by name."""

    def __init__(self) -> None:
        self._waiting: dict[str, tuple[Waiting, asyncio.TimerHandle]] = {}
        self._expiring: set[asyncio.Task[None]] = set()

    def __len__(self) -> int:
        return len(self._waiting)

    def add(self, waiting: Waiting, seconds: float, unclaimed: Callable[[], Awaitable[None]]) -> str:
        """The name ``waiting`` is claimed by; ``unclaimed`` runs if it is not within
        ``seconds``. A stream that ends first (its page closed, say) is forgotten."""
        name = secrets.token_urlsafe(16)
        timer = asyncio.get_running_loop().call_later(seconds, self._expire, name, unclaimed)
        self._waiting[name] = (waiting, timer)
        waiting.stream.done_callbacks.append(lambda: self._forget(name))
        return name

    def claim(self, name: str) -> Waiting | None:
        entry = self._waiting.pop(name, None)
        if entry is None:
            return None
        waiting, timer = entry
        timer.cancel()
        return waiting

    def _forget(self, name: str) -> None:
        entry = self._waiting.pop(name, None)
        if entry is not None:
            entry[1].cancel()

    def _expire(self, name: str, unclaimed: Callable[[], Awaitable[None]]) -> None:
        if self._waiting.pop(name, None) is None:
            return
        task = asyncio.ensure_future(unclaimed())
        self._expiring.add(task)
        task.add_done_callback(self._expiring.discard)


class _AnswerSink:
    """A stream's ``Sink`` writing records to its answer, and telling the inspector what the
    socket's notifications would have said (decoded only while it looks)."""

    def __init__(self, stream_id: str, send: Send, events: ConnectionEvents) -> None:
        self._send = send
        self._events = events

        async def tell(method: str, params: dict[str, Any]) -> None:
            events.notified(method, params)

        self._inspector = NotificationSink(stream_id, tell)
        self.ended = False

    async def output(self, fd: int, data: bytes) -> None:
        if self._events.bus.active:
            await self._inspector.output(fd, data)
        # The header and the output as two pieces: the server copies each into its chunk once.
        await self._send({"type": "http.response.body", "body": header(fd, len(data)), "more_body": True})
        await self._send({"type": "http.response.body", "body": data, "more_body": True})

    async def end(self, method: str, params: dict[str, Any]) -> None:
        await self._inspector.end(method, params)
        self.ended = True
        body = record(END, dumps(notification(method, params)))
        await self._send({"type": "http.response.body", "body": body, "more_body": False})


class StreamAnswer(Response):
    """The answer a claimed stream's output is pumped into, until the stream or its reader ends."""

    def __init__(self, waiting: Waiting) -> None:
        super().__init__(status_code=200)
        self._waiting = waiting

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        stream = self._waiting.stream
        await send({"type": "http.response.start", "status": 200, "headers": HEADERS})
        sink = _AnswerSink(stream.id, send, self._waiting.events)
        pump = stream.start(sink)
        gone = asyncio.ensure_future(_disconnected(receive))
        try:
            await asyncio.wait((pump, gone), return_when=asyncio.FIRST_COMPLETED)
        finally:
            reader_gone = gone.done()
            gone.cancel()
            if not pump.done():  # the reader went away: as a closed page, the process ends
                await stream.abandon()
        if not sink.ended and not reader_gone:  # the page's socket closed: the answer ends here
            with contextlib.suppress(Exception):
                await send({"type": "http.response.body", "body": b"", "more_body": False})


async def _disconnected(receive: Receive) -> None:
    while (await receive())["type"] != "http.disconnect":
        pass

"""An extension backend that misbehaves on request, for the reliability tests.

It is a plain asyncio server on a unix socket speaking just enough HTTP/1.1 by hand, because the
faults must happen below HTTP, where a framework would not let them: a connection reset, a
response cut off in the middle. It runs in the test's own event loop (the bridge under test is a
separate process), and can be stopped and started again on the same path.

Paths (the query is ignored except by ``/slow`` and ``/big``):

- ``/ok``: ``200`` with the JSON ``{"ok": true}``, keep-alive (to HEAD too, body and all);
- ``/slow?seconds=N``: the same after N seconds (default 30);
- ``/late``: ``100 Continue`` at once, and ``{"late": true}`` ``LATE`` seconds later;
- ``/big?bytes=N``: ``200`` with N bytes of body, written 1 MiB at a time; ``sent`` records how
  many went out before the connection ended;
- ``/switch``: ``101 Switching Protocols`` unasked, bytes of another protocol, a close;
- ``/reset``: the connection is reset (``SO_LINGER`` 0, so the close sends RST) without a byte;
- ``/half-head``: half a status line and headers, then a clean close;
- ``/half-body``: full headers announcing 100 bytes of body, 10 of them, then a clean close.

Like a naive server it honours what a request's headers ask of the connection: ``Expect:
100-continue`` gets a ``100 Continue`` before the body is read, ``Upgrade`` a ``101 Switching
Protocols`` (then bytes of another protocol and a close), ``Connection: close`` a close after the
answer. ``heads`` keeps each request's headers (names in lower case) as they arrived.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import struct
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

OK_BODY = b'{"ok": true}'
LATE = 0.3  # seconds between /late's 100 Continue and its answer
CONTINUE = b"HTTP/1.1 100 Continue\r\n\r\n"
SWITCH = b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: other\r\nConnection: Upgrade\r\n\r\nOTHER PROTOCOL"
MIB = 1 << 20


def _response(status: str, body: bytes, length: int | None = None) -> bytes:
    head = (
        f"HTTP/1.1 {status}\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body) if length is None else length}\r\n\r\n"
    )
    return head.encode() + body


class FaultyBackend:
    """The server on ``path``; ``async with FaultyBackend(path) as backend`` starts it."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.requests: list[str] = []
        self.heads: list[list[tuple[str, str]]] = []
        self.sent: list[int] = []
        self._server: asyncio.Server | None = None
        self._handlers: set[asyncio.Task[None]] = set()

    async def __aenter__(self) -> FaultyBackend:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.stop()

    async def start(self) -> None:
        self.path.unlink(missing_ok=True)
        self._server = await asyncio.start_unix_server(self._serve, path=str(self.path))

    async def stop(self) -> None:
        """Stop listening and drop every connection; the socket file stays (a dead backend's
        socket refuses connections, as after a crash)."""
        server, self._server = self._server, None
        if server is None:
            return
        server.close()
        for task in list(self._handlers):
            task.cancel()
        await asyncio.gather(*self._handlers, return_exceptions=True)
        await server.wait_closed()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._handlers.add(task)
        try:
            while await self._answer(reader, writer):
                pass
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            self._handlers.discard(task)
            writer.close()
            with contextlib.suppress(ConnectionError):
                await writer.wait_closed()

    async def _answer(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> bool:
        """Answer one request; False when the connection is to end."""
        head = await reader.readuntil(b"\r\n\r\n")
        request_line, *header_lines = head.decode("latin-1").split("\r\n")
        _method, target, _version = request_line.split(" ", 2)
        headers: list[tuple[str, str]] = []
        for line in filter(None, header_lines):
            name, _, value = line.partition(":")
            headers.append((name.strip().lower(), value.strip()))
        self.heads.append(headers)
        asked = dict(headers)
        if asked.get("expect", "").lower() == "100-continue":
            writer.write(CONTINUE)
        length = int(asked.get("content-length", "0"))
        if length:
            await reader.readexactly(length)
        url = urlsplit(target)
        self.requests.append(url.path)
        if "upgrade" in asked or url.path == "/switch":
            writer.write(SWITCH)
        elif url.path == "/big":
            return await self._big(writer, int(parse_qs(url.query)["bytes"][0]))
        elif url.path == "/reset":
            sock: socket.socket = writer.get_extra_info("socket")
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            writer.transport.abort()
            return False
        elif url.path == "/half-head":
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Ty")
        elif url.path == "/half-body":
            writer.write(_response("200 OK", b"0123456789", length=100))
        else:
            if url.path == "/slow":
                await asyncio.sleep(float(parse_qs(url.query).get("seconds", ["30"])[0]))
            if url.path == "/late":
                writer.write(CONTINUE)
                await writer.drain()
                await asyncio.sleep(LATE)
                writer.write(_response("200 OK", b'{"late": true}'))
            else:
                writer.write(_response("200 OK", OK_BODY))
            await writer.drain()
            return asked.get("connection", "").lower() != "close"
        await writer.drain()
        return False

    async def _big(self, writer: asyncio.StreamWriter, size: int) -> bool:
        """``size`` bytes of body, 1 MiB a write; what went out is added to ``sent``."""
        self.sent.append(0)
        try:
            writer.write(_response("200 OK", b"", length=size))
            while self.sent[-1] < size:
                part = min(MIB, size - self.sent[-1])
                writer.write(b"x" * part)
                await writer.drain()
                self.sent[-1] += part
        except ConnectionError:
            return False
        return True

"""The stream benchmarks' page: a WebSocket client on a blocking socket that sends one request
and then reads frames into one reused buffer, counting payload bytes and looking only into the
small frames, where the stream's end is.

The baseline's consumer is ``cat > /dev/null``; a general client (``websockets``, or aiohttp's)
spends 0.5-0.6 s of CPU per GiB reassembling and copying messages nobody reads, and on this
2-core machine that CPU comes out of the bridge's share. This one costs about what the socket
reads cost (~0.3 s per GiB), so the figure is the bridge's. It is still a WebSocket client:
RFC 6455 handshake, masked frames out, pings answered, a close frame ends the read.
"""

from __future__ import annotations

import base64
import os
import socket
import struct
from collections.abc import Mapping
from urllib.parse import urlsplit

from bench.wsclient import END_FRAME_MAX, ends_stream

BUFFER = 1 << 20
TEXT, CLOSE, PING, PONG = 0x1, 0x8, 0x9, 0xA


class Closed(ConnectionError):
    """The daemon closed the socket (or sent a close frame) before the stream ended."""


def _frame(opcode: int, payload: bytes) -> bytes:
    """A client frame: FIN set, masked as RFC 6455 requires of clients."""
    mask = os.urandom(4)
    size = len(payload)
    if size < 126:
        head = struct.pack("!BB", 0x80 | opcode, 0x80 | size)
    elif size < 1 << 16:
        head = struct.pack("!BBH", 0x80 | opcode, 0x80 | 126, size)
    else:
        head = struct.pack("!BBQ", 0x80 | opcode, 0x80 | 127, size)
    masked = bytes(byte ^ mask[index % 4] for index, byte in enumerate(payload))  # small payloads only
    return head + mask + masked


class RawReader:
    """One connection to ``url`` (``ws://host:port/path?query``) with extra handshake headers."""

    def __init__(self, url: str, headers: Mapping[str, str]) -> None:
        parts = urlsplit(url)
        self._socket = socket.create_connection((parts.hostname or "127.0.0.1", parts.port or 80))
        target = parts.path + (f"?{parts.query}" if parts.query else "")
        lines = [
            f"GET {target} HTTP/1.1",
            f"Host: {parts.netloc}",
            "Upgrade: websocket",
            "Connection: Upgrade",
            f"Sec-WebSocket-Key: {base64.b64encode(os.urandom(16)).decode()}",
            "Sec-WebSocket-Version: 13",
            *(f"{name}: {value}" for name, value in headers.items()),
        ]
        self._socket.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
        self._buffer = bytearray(BUFFER)
        self._view = memoryview(self._buffer)
        self._pending = bytearray()  # bytes read but not yet parsed
        head = self._read_until(b"\r\n\r\n")
        if not head.startswith(b"HTTP/1.1 101"):
            raise ConnectionError(f"the handshake was refused: {head[:200]!r}")

    def close(self) -> None:
        self._socket.close()

    def send_text(self, payload: bytes) -> None:
        self._socket.sendall(_frame(TEXT, payload))

    def _fill(self) -> None:
        count = self._socket.recv_into(self._view)
        if not count:
            raise Closed("the daemon closed the connection")
        self._pending += self._view[:count]

    def _read_until(self, mark: bytes) -> bytes:
        while (end := self._pending.find(mark)) < 0:
            self._fill()
        head = bytes(self._pending[: end + len(mark)])
        del self._pending[: end + len(mark)]
        return head

    def _take(self, count: int) -> bytes:
        while len(self._pending) < count:
            self._fill()
        taken = bytes(self._pending[:count])
        del self._pending[:count]
        return taken

    def _skip(self, count: int) -> None:
        """Discard ``count`` payload bytes, reading straight into the buffer."""
        kept = min(count, len(self._pending))
        del self._pending[:kept]
        count -= kept
        while count:
            read = self._socket.recv_into(self._view[: min(count, BUFFER)])
            if not read:
                raise Closed("the daemon closed the connection in the middle of a frame")
            count -= read

    def drain(self) -> tuple[int, bytes]:
        """Read frames until the one that ends the stream (``wsclient.ends_stream``): the payload
        bytes received and that last frame."""
        received = 0
        while True:
            first, second = self._take(2)
            opcode, size = first & 0x0F, second & 0x7F
            if size == 126:
                (size,) = struct.unpack("!H", self._take(2))
            elif size == 127:
                (size,) = struct.unpack("!Q", self._take(8))
            received += size
            if size >= END_FRAME_MAX:
                self._skip(size)
                continue
            payload = self._take(size)
            if opcode == PING:
                self._socket.sendall(_frame(PONG, payload))
            elif opcode == CLOSE:
                raise Closed(f"the daemon closed the WebSocket: {payload[2:]!r}")
            elif ends_stream(payload):
                return received, payload

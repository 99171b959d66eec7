"""The RPC WebSocket's direct line: its text frames straight to the session, the session's
frames straight to the socket, without ASGI's messages in between.

Through ASGI every frame crossed an ``asyncio.Queue`` (uvicorn pausing and resuming the socket's
reading around each one), the coroutines of every middleware, a message dict each way, and a
reply's JSON bytes were decoded to a text only for uvicorn to encode it again: a fifth of the
daemon's CPU per service call, and two more copies of a 16 MiB answer. The WebSocket protocol
is the daemon's own (``RpcWebSocketProtocol``, given to uvicorn), so it offers the endpoint a
``DirectLine`` in the connection's scope (``scope["extensions"][DIRECT_LINE]``): once the
endpoint attaches a sink, each whole text frame goes to it as soon as it is parsed, and the
session writes its frames through ``send``. Everything else — the handshake, binary frames,
pings, closing, the disconnect — stays uvicorn's and ASGI's, as would a text frame read before
the sink is attached (the endpoint attaches it right after the handshake's answer, before a
frame can be read).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from uvicorn.protocols.utils import ClientDisconnected
from websockets.protocol import State

from bridge.listener import GuardedWebSocketProtocol
from bridge.ws_reader import gather_big_frames

if TYPE_CHECKING:  # the floor relay of the benchmarks imports this module: it stays light
    from bridge.rpc import JsonText

DIRECT_LINE = "ddbridge.direct_line"
Sink = Callable[[bytes | bytearray], None]  # a whole text frame: UTF-8, checked
# Frames waiting to be written together go out as soon as they are this many bytes.
FLUSH_FROM = 64 * 1024


class DirectLine:
    """One connection's line: ``sink`` (set by the endpoint) takes its text frames, ``send``
    writes one.

    Small frames sent in one pass of the event loop go out in one write: with 64 calls in
    flight, the replies to the answers nginx gave in one poll were 8 writes at the median (12 on
    average, up to 64), each a system call that wakes the page's side. A frame waits at most
    for the loop's next pass, and for no one once the frames waiting reach ``FLUSH_FROM``
    bytes. Whatever uvicorn writes itself (a pong, the close frame) it asks of ``websockets``
    first, and the frames waiting go before it (``RpcWebSocketProtocol``)."""

    __slots__ = ("_pending", "_pending_bytes", "_protocol", "sink")

    def __init__(self, protocol: RpcWebSocketProtocol) -> None:
        self._protocol = protocol
        self._pending: list[JsonText] = []
        self._pending_bytes = 0
        self.sink: Sink | None = None

    async def send(self, pieces: list[JsonText]) -> None:
        """One text frame of the ``pieces`` of a UTF-8 text, once the socket takes more
        (uvicorn's write flow control); ``ClientDisconnected`` when the connection is closing
        or gone. The frame is written here, not by ``websockets``, which would join the pieces
        (a 16 MiB answer copied twice): a server's frame is a header and the payload as it is
        (unmasked, uncompressed: the daemon turns per-message deflate off)."""
        protocol = self._protocol
        if not protocol.writable.is_set():
            await protocol.writable.wait()
        if protocol.disconnected or protocol.conn.state is not State.OPEN:  # gone, or closing
            raise ClientDisconnected()
        size = sum(map(len, pieces))
        first = not self._pending
        self._pending.append(text_frame_header(size))
        self._pending.extend(pieces)
        self._pending_bytes += size
        if self._pending_bytes >= FLUSH_FROM:
            self.flush()
        elif first:
            protocol.loop.call_soon(self.flush)

    def flush(self) -> None:
        """Write the frames waiting (none when the connection went away meanwhile)."""
        if not self._pending:
            return
        pending, self._pending, self._pending_bytes = self._pending, [], 0
        transport = self._protocol.transport
        if not transport.is_closing():
            transport.writelines(pending)


def text_frame_header(length: int) -> bytes:
    """The header of a final, unmasked text frame of ``length`` bytes (RFC 6455, 5.2)."""
    if length < 126:
        return bytes((0x81, length))
    if length < 1 << 16:
        return b"\x81\x7e" + length.to_bytes(2, "big")
    return b"\x81\x7f" + length.to_bytes(8, "big")


class RpcWebSocketProtocol(GuardedWebSocketProtocol):
    """uvicorn's WebSocket protocol (with the listener's guard), offering each upgraded
    connection a ``DirectLine``."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.line = DirectLine(self)
        gather_big_frames(self.conn)  # before it read a byte: see bridge.ws_reader
        # uvicorn writes what websockets has to send (a pong, the close frame, the handshake's
        # answer) right after asking for it: the line's waiting frames go first.
        data_to_send = self.conn.data_to_send

        def after_the_lines_frames() -> list[bytes]:
            self.line.flush()
            return data_to_send()

        self.conn.data_to_send = after_the_lines_frames  # type: ignore[method-assign]

    def handle_connect(self, event: Any) -> None:
        super().handle_connect(event)
        scope = getattr(self, "scope", None)  # made only when the handshake is accepted
        if scope is not None:
            scope["extensions"][DIRECT_LINE] = self.line

    def send_receive_event_to_app(self) -> None:
        sink = self.line.sink
        if sink is None or self.curr_msg_data_type != "text" or self.close_sent:
            super().send_receive_event_to_app()
            return
        data = self.frames[0] if len(self.frames) == 1 else b"".join(self.frames)
        try:
            if not data.isascii():  # checked, not decoded: the session reads the bytes
                data.decode()
        except UnicodeDecodeError:  # uvicorn's own answer: close 1007
            super().send_receive_event_to_app()
            return
        self.frames = []
        sink(data)


def direct_line(scope: Mapping[str, Any]) -> DirectLine:
    """The line ``RpcWebSocketProtocol`` put in an RPC connection's scope."""
    line = scope.get("extensions", {}).get(DIRECT_LINE)
    if not isinstance(line, DirectLine):
        raise RuntimeError("the RPC WebSocket needs ddbridge's WebSocket protocol (bridge.rpc_socket)")
    return line

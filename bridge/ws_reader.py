"""Reading big WebSocket frames for ``websockets``' sans-I/O protocol: each payload once, into a
buffer of its size, unmasked as it lands.

``websockets``' ``StreamReader`` appends each read of the socket to one ``bytearray`` and cuts
what it has read off its front (CPython copies the rest of a ``bytearray`` cut at its front, so a
16 MiB frame arriving in 256 KiB reads was copied about eight times its size), its frame parser
unmasks a client's payload into a new ``bytes`` while the masked one is still held, and its
parser loop keeps the last frame it read until the next one comes: a 16 MiB upload was held two
or three times at its peak, and once more for as long as the page sent nothing else.

Here a client's payload of ``GATHER_FROM`` bytes or more is read into one ``bytearray`` of its
size, each read of the socket unmasked into it as it comes (``apply_mask``, the library's C
function, on that read's bytes), and a server's (unmasked) is its reads joined once:
``read_frame`` reads a frame as ``Frame.parse`` reads and checks it (RFC 6455, 5.2) with its
payload read that way, and ``FrameReading.parse`` is the protocol's frame loop reading with it
and keeping no frame. Smaller payloads, the handshake, the end of the stream
and every error are the library's own reads and words (the tests hold the two side by side).
"""

from __future__ import annotations

from collections.abc import Generator, Sequence

from websockets.client import ClientProtocol
from websockets.exceptions import PayloadTooBig, ProtocolError
from websockets.extensions import Extension
from websockets.frames import CloseCode, Frame, Opcode
from websockets.protocol import SERVER, Protocol
from websockets.server import ServerProtocol
from websockets.speedups import apply_mask
from websockets.streams import StreamReader

# A payload of this many bytes or more is read into a buffer of its own as it comes.
GATHER_FROM = 64 * 1024


class PayloadReader(StreamReader):
    """``StreamReader`` with ``read_payload``: while a big payload is read, the socket's reads
    go to it, and only what comes after it into the library's buffer."""

    def __init__(self) -> None:
        super().__init__()
        self._missing = 0  # bytes of the payload being read still to come
        self._read = 0  # bytes of it read
        self._mask = b""
        self._payload: bytearray | None = None  # a masked one, unmasked into it
        self._parts: list[bytes | bytearray] = []  # an unmasked one's reads, joined once whole

    def feed_data(self, data: bytes | bytearray) -> None:
        if not self._missing or self.eof:
            super().feed_data(data)
            return
        taken = self._take(data)
        if taken < len(data):
            self.buffer += memoryview(data)[taken:]

    def read_payload(
        self, n: int, mask: bytes | bytearray | None
    ) -> Generator[None, None, bytes | bytearray]:
        """``n`` bytes of payload, unmasked with ``mask`` when there is one (as ``Frame.parse``
        reads them). From ``GATHER_FROM`` bytes on, a masked one (a client's, read by a server)
        is unmasked into a buffer of its size as it comes; an unmasked one (a server's, read by
        a client) is its reads joined once into ``bytes``, which the library's messages pass
        on without copying again."""
        if n < GATHER_FROM:
            data = yield from self.read_exact(n)
            return data if mask is None else apply_mask(data, mask)
        self._missing, self._read, self._mask = n, 0, bytes(mask or b"")
        self._payload = bytearray(n) if mask else None
        try:
            if self.buffer:
                del self.buffer[: self._take(self.buffer)]
            while self._missing:
                if self.eof:
                    raise EOFError(f"stream ends after {self._read} bytes, expected {n} bytes")
                yield
            if self._payload is not None:
                return self._payload
            return b"".join(self._parts)
        finally:  # read, failed, or the parser closed: the socket's reads go to the buffer again
            self._missing, self._payload, self._parts = 0, None, []

    def _take(self, data: bytes | bytearray) -> int:
        """Put the start of ``data`` into the payload; how many bytes it took."""
        taken = min(len(data), self._missing)
        with memoryview(data) as view, view[:taken] as piece:
            if self._payload is None:
                whole = isinstance(data, bytes) and taken == len(data)  # bytes cannot change: kept
                self._parts.append(data if whole else bytes(piece))
            else:
                turn = self._read % 4
                unmasked = apply_mask(piece, self._mask[turn:] + self._mask[:turn])
                self._payload[self._read : self._read + taken] = unmasked
        self._read += taken
        self._missing -= taken
        return taken


def read_frame(
    reader: PayloadReader, *, mask: bool, max_size: int | None, extensions: Sequence[Extension]
) -> Generator[None, None, Frame]:
    """One frame, read and checked as ``Frame.parse`` does (its errors, in its words), its
    payload read by ``reader.read_payload``."""
    head1, head2 = yield from reader.read_exact(2)
    try:
        opcode = Opcode(head1 & 0b00001111)
    except ValueError as exc:
        raise ProtocolError("invalid opcode") from exc
    if bool(head2 & 0b10000000) != mask:
        raise ProtocolError("incorrect masking")
    length = head2 & 0b01111111
    if length == 126:
        length = int.from_bytes((yield from reader.read_exact(2)), "big")
    elif length == 127:
        length = int.from_bytes((yield from reader.read_exact(8)), "big")
    if max_size is not None and length > max_size:
        raise PayloadTooBig(length, max_size)
    mask_bytes = (yield from reader.read_exact(4)) if mask else None
    data = yield from reader.read_payload(length, mask_bytes)
    frame = Frame(
        opcode,
        data,
        bool(head1 & 0b10000000),
        bool(head1 & 0b01000000),
        bool(head1 & 0b00100000),
        bool(head1 & 0b00010000),
    )
    for extension in reversed(extensions):
        frame = extension.decode(frame, max_size=max_size)
    frame.check()
    return frame


class FrameReading(Protocol):
    """The protocol's frame loop (``Protocol.parse``: what it reads, the close each error
    makes) with frames read by ``read_frame``. Mixed in after a side's own protocol class, whose
    ``parse`` reads the opening handshake and then this (``ServerReading``, ``ClientReading``)."""

    def parse(self) -> Generator[None]:
        reader = self.reader
        assert isinstance(reader, PayloadReader)
        try:
            while True:
                if (yield from reader.at_eof()):
                    raise EOFError("unexpected end of stream")
                # Not kept in a name: a frame waiting here for the next would be held meanwhile.
                self.recv_frame(
                    (
                        yield from read_frame(
                            reader,
                            mask=self.side is SERVER,
                            max_size=self._room(),
                            extensions=self.extensions,
                        )
                    )
                )
        except ProtocolError as exc:
            self._failed(exc, CloseCode.PROTOCOL_ERROR, str(exc))
        except EOFError as exc:
            self._failed(exc, CloseCode.ABNORMAL_CLOSURE, str(exc))
        except UnicodeDecodeError as exc:
            self._failed(exc, CloseCode.INVALID_DATA, f"{exc.reason} at position {exc.start}")
        except PayloadTooBig as exc:
            exc.set_current_size(self.current_size)
            self._failed(exc, CloseCode.MESSAGE_TOO_BIG, str(exc))
        except Exception as exc:
            self.logger.error("parser failed", exc_info=True)
            self._failed(exc, CloseCode.INTERNAL_ERROR, "")  # no details: they may be sensitive
        yield  # fail() put discard() in this parser's place
        raise AssertionError("parse() stepped after an error")

    def _room(self) -> int | None:
        """The most the next frame's payload may hold: what is left of the message's and the
        fragment's limits."""
        room = self.max_message_size
        if room is not None and self.current_size is not None:
            room -= self.current_size
        if self.max_fragment_size is not None:
            room = self.max_fragment_size if room is None else min(room, self.max_fragment_size)
        return room

    def _failed(self, exc: Exception, code: CloseCode, reason: str) -> None:
        self.fail(code, reason)
        self.parser_exc = exc


class ServerReading(ServerProtocol, FrameReading):
    """``ServerProtocol`` reading its frames by ``FrameReading``: its ``parse`` reads the
    opening handshake and goes on to ``super().parse()``, which is then ``FrameReading``'s."""


class ClientReading(ClientProtocol, FrameReading):
    """``ClientProtocol`` reading its frames by ``FrameReading`` (the benchmarks' clients)."""


def gather_big_frames(conn: Protocol) -> None:
    """Make ``conn``, which has not read a byte yet, read its frames by ``FrameReading`` from a
    ``PayloadReader``, and start its parser again (a generator started on the reader it found)."""
    conn.__class__ = ServerReading if isinstance(conn, ServerProtocol) else ClientReading
    conn.reader = PayloadReader()
    conn.parser = conn.parse()
    next(conn.parser)

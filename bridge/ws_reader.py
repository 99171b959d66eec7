"""A reader for ``websockets``' sans-I/O protocol that joins a big frame's payload once.

``websockets``' ``StreamReader`` appends each read of the socket to one ``bytearray`` and cuts
what it has read off its front. CPython copies the whole of a ``bytearray`` cut at its front
each time it grows, so a 16 MiB frame arriving in 256 KiB reads was copied about eight times its
size: a third of a 16 MiB upload's time in the daemon. ``GatheringReader`` keeps the reads of a
payload it waits for in a list and joins them once, when the payload is whole; small reads, and
everything else (the handshake's lines, the end of the stream), are the library's own.
"""

from __future__ import annotations

from collections.abc import Generator
from typing import Any

from websockets.protocol import Protocol
from websockets.streams import StreamReader

# A read waiting for this many bytes more than are buffered gathers them (``read_exact``).
GATHER_FROM = 64 * 1024


class GatheringReader(StreamReader):
    def __init__(self) -> None:
        super().__init__()
        self._parts: list[bytes] = []
        self._gathered = 0  # bytes in _parts
        self._gathering = False

    def feed_data(self, data: bytes | bytearray) -> None:
        if not self._gathering or self.eof:
            super().feed_data(data)
            return
        self._parts.append(bytes(data))  # the same object when it is bytes: not copied
        self._gathered += len(data)

    def read_exact(self, n: int) -> Generator[None, None, Any]:
        """``n`` bytes, as the library's ``read_exact`` reads them; those still to come, when
        they are many, gathered in a list and joined once."""
        missing = n - len(self.buffer)
        if missing < GATHER_FROM:
            return (yield from super().read_exact(n))
        self._gathering = True
        while self._gathered < missing:
            if self.eof:
                self._give_back()
                raise EOFError(f"stream ends after {len(self.buffer)} bytes, expected {n} bytes")
            try:
                yield
            except BaseException:  # the parser closed: what came stays readable
                self._give_back()
                raise
        self._gathering = False
        whole = b"".join((self.buffer, *self._parts))
        self._parts = []
        self._gathered = 0
        if len(whole) == n:
            self.buffer = bytearray()
            return whole
        self.buffer = bytearray(memoryview(whole)[n:])
        return whole[:n]

    def _give_back(self) -> None:
        """The gathered reads into the buffer, where the library's reads find them."""
        self._gathering = False
        self.buffer += b"".join(self._parts)
        self._parts = []
        self._gathered = 0


def gather_big_frames(conn: Protocol) -> None:
    """Give ``conn``, which has not read a byte yet, a ``GatheringReader``, and start its parser
    again so that it reads from it (the parser is a generator started on the reader it found)."""
    conn.reader = GatheringReader()
    conn.parser = conn.parse()
    next(conn.parser)

"""Buffers for big bodies, and reading them without copying them whole.

From ``OWN_MAPPING_FROM`` bytes on, a body's buffer is an anonymous mapping of its own
(``mmap``), given back to the system as soon as the last view of it is let go. As a
``bytearray`` in glibc's heap, a freed 16 MiB answer stayed resident for the next one, and when
something allocated after it stayed (the inspector history's copy of the answer's head) it was
split, the next answer went beside it, and the daemon held two answers' worth for good. A fresh
mapping costs what the heap saved, its page faults: 10 ms per 16 MiB here with small pages,
0.5 ms with transparent huge pages, which the mapping asks for (``MADV_HUGEPAGE``; a kernel
without them keeps small pages). Below that size the heap's reuse is the cheaper.
"""

from __future__ import annotations

import contextlib
import mmap

OWN_MAPPING_FROM = 2 * 1024 * 1024  # a huge page: below it a mapping of its own gains nothing
# ``is_ascii`` reads a view in pieces of this size, each copied once (they stay in the cache).
_ASCII_PIECE = 64 * 1024


def body_buffer(size: int) -> bytearray | memoryview:
    """A writable, zero-filled buffer of ``size`` bytes: a view of a mapping of its own from
    ``OWN_MAPPING_FROM`` on, else a ``bytearray``."""
    if size < OWN_MAPPING_FROM:
        return bytearray(size)
    mapping = mmap.mmap(-1, size, flags=mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS)
    with contextlib.suppress(AttributeError, OSError):  # no MADV_HUGEPAGE here: small pages
        mapping.madvise(mmap.MADV_HUGEPAGE)
    return memoryview(mapping)


def is_ascii(data: bytes | bytearray | memoryview) -> bool:
    """``data.isascii()``, for a view too (which has no such method)."""
    if not isinstance(data, memoryview):
        return data.isascii()
    return all(
        bytes(data[start : start + _ASCII_PIECE]).isascii() for start in range(0, len(data), _ASCII_PIECE)
    )

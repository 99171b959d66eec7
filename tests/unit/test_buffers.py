"""Big bodies' buffers (bridge/buffers.py): a mapping of its own from ``OWN_MAPPING_FROM`` on, a
``bytearray`` below, and ``is_ascii`` answering for either as ``bytes.isascii`` does."""

from __future__ import annotations

import mmap

import pytest

from bridge.buffers import _ASCII_PIECE, OWN_MAPPING_FROM, body_buffer, is_ascii


@pytest.mark.parametrize("size", [0, 1, OWN_MAPPING_FROM - 1, OWN_MAPPING_FROM, 3 * OWN_MAPPING_FROM + 5])
def test_a_body_buffer_is_writable_zero_filled_and_of_its_size(size: int) -> None:
    buffer = body_buffer(size)
    assert isinstance(buffer, bytearray if size < OWN_MAPPING_FROM else memoryview)
    assert len(buffer) == size and bytes(buffer) == bytes(size)
    if size >= 3:
        buffer[-3:] = b"abc"
        assert bytes(buffer[-3:]) == b"abc"


def test_a_big_body_buffer_is_the_only_holder_of_its_mapping() -> None:
    """Nothing but the view keeps the mapping: letting the view go unmaps it."""
    buffer = body_buffer(OWN_MAPPING_FROM)
    assert isinstance(buffer, memoryview) and isinstance(buffer.obj, mmap.mmap)
    mapping = buffer.obj
    del buffer
    mapping.close()  # refused (BufferError) while any view of it were alive


@pytest.mark.parametrize(
    "where",
    [0, 1, _ASCII_PIECE - 1, _ASCII_PIECE, _ASCII_PIECE + 1, 5 * _ASCII_PIECE - 1, None],
)
@pytest.mark.parametrize("byte", [0x80, 0xC3, 0xFF])
def test_is_ascii_reads_a_view_as_bytes_isascii_reads_bytes(where: int | None, byte: int) -> None:
    """A byte past ASCII anywhere, at the pieces' edges too, or none at all."""
    data = bytearray(b"a" * (5 * _ASCII_PIECE))
    if where is not None:
        data[where] = byte
    for form in (bytes(data), data, memoryview(data)):
        assert is_ascii(form) is bytes(data).isascii() is (where is None)
    assert is_ascii(memoryview(b"")) and is_ascii(b"")

"""The RPC WebSocket's frame header, against the ``websockets`` library's own frames."""

from __future__ import annotations

import pytest
from websockets.frames import Frame, Opcode

from bridge.rpc_socket import text_frame_header


@pytest.mark.parametrize("length", [0, 1, 125, 126, 127, 65535, 65536, 70000])
def test_the_header_is_the_one_websockets_writes(length: int) -> None:
    payload = b"x" * length
    frame = Frame(Opcode.TEXT, payload).serialize(mask=False, extensions=[])
    assert text_frame_header(length) + payload == frame

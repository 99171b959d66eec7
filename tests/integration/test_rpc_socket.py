"""The RPC WebSocket's direct line (``bridge.rpc_socket``): every text frame reaches the session
however it arrives — in fragments, split across writes — and what is not a text of UTF-8 gets
uvicorn's answer, leaving other connections alone."""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest
import websockets
from websockets.frames import Frame, Opcode

from bridge import __version__
from tests.support.handshake import rpc_answers
from tests.support.processes import RunningBridge

pytestmark = pytest.mark.integration

INFO = {"jsonrpc": "2.0", "method": "host.info", "params": {}}


def _masked(payload: bytes) -> bytes:
    return Frame(Opcode.TEXT, payload).serialize(mask=True, extensions=[])


async def test_fragmented_and_split_frames_reach_the_session(bridge: Callable[..., RunningBridge]) -> None:
    running = bridge()
    method = "é" * 5000  # an unknown method's error names it: the whole text came through
    text = json.dumps({"jsonrpc": "2.0", "id": 5, "method": method}, ensure_ascii=False)
    async with websockets.connect(running.ws_url, additional_headers=running.headers) as ws:
        await ws.send([text[:10], text[10:3000], text[3000:]])  # three frames: TEXT, CONT, CONT
        answer = json.loads(await ws.recv())
        assert answer["id"] == 5 and answer["error"]["message"] == f"method not found: {method}"
        await ws.send(json.dumps({**INFO, "id": 7}))
        assert json.loads(await ws.recv())["result"]["version"] == __version__
        # One frame written a byte at a time.
        transport = ws.transport
        for byte in _masked(json.dumps({**INFO, "id": 6}).encode()):
            transport.write(bytes([byte]))
        assert json.loads(await ws.recv())["id"] == 6


async def test_big_frames_one_after_another_in_one_write_reach_the_session_whole(
    bridge: Callable[..., RunningBridge],
) -> None:
    """Frames past the reader's gathering size (``bridge.ws_reader``), the second's start in
    the first's last read, then a small one: each comes through whole and in order."""
    running = bridge()
    methods = ["a" * (3 << 20), "é" * (1 << 20), "b"]
    frames = [
        _masked(json.dumps({"jsonrpc": "2.0", "id": index, "method": method}, ensure_ascii=False).encode())
        for index, method in enumerate(methods)
    ]
    async with websockets.connect(running.ws_url, additional_headers=running.headers, max_size=None) as ws:
        ws.transport.write(b"".join(frames))
        answers = [json.loads(await ws.recv()) for _ in methods]
    assert sorted((answer["id"], answer["error"]["message"]) for answer in answers) == [
        (index, f"method not found: {method}") for index, method in enumerate(methods)
    ]


async def test_a_text_frame_of_bad_utf8_closes_only_its_connection(
    bridge: Callable[..., RunningBridge],
) -> None:
    running = bridge()
    async with websockets.connect(running.ws_url, additional_headers=running.headers) as ws:
        await ws.send(json.dumps({**INFO, "id": 1}))
        await ws.recv()  # the line is attached and working
        await ws.send(b'{"jsonrpc":"2.0","id":2,"method":"host.info","params":{"x":"\xff"}}', text=True)
        with pytest.raises(websockets.ConnectionClosed) as caught:
            await ws.recv()
    assert caught.value.rcvd is not None and caught.value.rcvd.code == 1007
    assert rpc_answers(running.ws_url, additional_headers=running.headers)


async def test_replies_waiting_to_be_written_go_out_before_a_close_frame(
    bridge: Callable[..., RunningBridge],
) -> None:
    """A call's reply waits for the loop's next pass to be written with others
    (``DirectLine``); the close frame the endpoint sends meanwhile for a binary frame (in the
    same write as the call) must not overtake it."""
    running = bridge()
    calls = b"".join(_masked(json.dumps({**INFO, "id": index}).encode()) for index in range(8))
    binary = Frame(Opcode.BINARY, b"\x00").serialize(mask=True, extensions=[])
    async with websockets.connect(running.ws_url, additional_headers=running.headers) as ws:
        await ws.send(json.dumps({**INFO, "id": 99}))
        await ws.recv()  # the line is attached
        ws.transport.write(calls + binary)
        answers = [json.loads(await ws.recv())["id"] for _ in range(8)]
        with pytest.raises(websockets.ConnectionClosed) as caught:
            await ws.recv()
    assert sorted(answers) == list(range(8))
    assert caught.value.rcvd is not None and caught.value.rcvd.code == 1003

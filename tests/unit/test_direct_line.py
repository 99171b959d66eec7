"""``DirectLine``'s writes (``bridge.rpc_socket``): frames sent in one pass of the loop go out in
one write, in order; a big one goes at once; none after the connection went away."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any, cast

from websockets.protocol import State

from bridge.rpc_socket import FLUSH_FROM, DirectLine, RpcWebSocketProtocol, text_frame_header


@dataclass
class Transport:
    writes: list[bytes] = field(default_factory=list)
    closing: bool = False

    def writelines(self, data: list[bytes]) -> None:
        self.writes.append(b"".join(data))

    def is_closing(self) -> bool:
        return self.closing


@dataclass
class Conn:
    state: State = State.OPEN


class Protocol:
    def __init__(self) -> None:
        self.loop = asyncio.get_running_loop()
        self.transport = Transport()
        self.writable = asyncio.Event()
        self.writable.set()
        self.disconnected = False
        self.conn = Conn()


def frame(text: bytes) -> bytes:
    return text_frame_header(len(text)) + text


async def line() -> tuple[DirectLine, Transport]:
    protocol: Any = Protocol()
    return DirectLine(cast(RpcWebSocketProtocol, protocol)), protocol.transport


async def test_frames_sent_in_one_pass_go_out_in_one_write_in_order() -> None:
    direct, transport = await line()
    await direct.send([b'{"id":1}'])  # neither send waits: the socket takes more
    await direct.send([b'{"id":', b"2}"])
    assert transport.writes == []  # not yet: the loop's next pass
    await asyncio.sleep(0)
    assert transport.writes == [frame(b'{"id":1}') + frame(b'{"id":2}')]
    await direct.send([b'{"id":3}'])
    await asyncio.sleep(0)
    assert transport.writes[1:] == [frame(b'{"id":3}')]


async def test_frames_waiting_go_at_once_when_they_reach_the_flush_size() -> None:
    direct, transport = await line()
    await direct.send([b"1"])
    big = b"x" * FLUSH_FROM
    await direct.send([big])
    assert transport.writes == [frame(b"1") + frame(big)]
    await asyncio.sleep(0)
    assert len(transport.writes) == 1  # the pass's flush found nothing left


async def test_nothing_is_written_once_the_connection_is_closing() -> None:
    direct, transport = await line()
    await direct.send([b"1"])
    transport.closing = True
    await asyncio.sleep(0)
    assert transport.writes == []

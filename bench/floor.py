"""The floor under the daemon's service calls: a relay that does only what no WebSocket bridge
to an HTTP backend can skip, measured in the same run.

It takes the WebSocket (the handshake and frames by ``websockets``' sans-I/O protocol, as the
daemon's uvicorn does, with the daemon's reader of big frames, ``bridge.ws_reader``), reads each
text frame with orjson, writes the call's method, URL and ``data`` (a string as its UTF-8, else
its JSON) to nginx on one kept-alive unix socket, reads the answer with httptools (as
``bridge.http1`` does) and sends ``{"jsonrpc":"2.0","id":…,"result":<the body>}`` back, the
frame written in pieces as the daemon writes it; on uvloop, with callbacks only: no tasks, no
validation (the body goes into the reply unchecked), no limits, no inspector. What the daemon
spends past this relay is its own; what the relay spends is the sockets' and the event loop's.

Run as ``python -m bench.floor NGINX_SOCKET``: it prints its port, then serves until killed.
"""

from __future__ import annotations

import asyncio
import functools
import sys
from collections import deque
from collections.abc import Callable
from typing import cast

import httptools
import orjson
import uvloop
from websockets.frames import Frame, Opcode
from websockets.http11 import Request
from websockets.server import ServerProtocol

from bridge.rpc_socket import text_frame_header
from bridge.ws_reader import gather_big_frames

Answered = Callable[[bytes], None]


class Upstream(asyncio.Protocol):
    """nginx over one connection: requests answered in order, each body to its callback."""

    def __init__(self) -> None:
        self.waiting: deque[Answered] = deque()
        self.body: list[bytes] = []
        self.parser = httptools.HttpResponseParser(self)
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's is not a subclass

    def request(self, method: str, url: str, body: bytes, answered: Answered) -> None:
        assert self.transport is not None
        self.waiting.append(answered)
        head = b"%s %s HTTP/1.1\r\nhost: localhost\r\ncontent-length: %d\r\n\r\n" % (
            method.encode(),
            url.encode(),
            len(body),
        )
        self.transport.writelines((head, body))

    def data_received(self, data: bytes) -> None:
        self.parser.feed_data(data)

    def on_body(self, body: bytes) -> None:
        self.body.append(body)

    def on_message_complete(self) -> None:
        body, self.body = b"".join(self.body), []
        self.waiting.popleft()(body)


class Relay(asyncio.Protocol):
    def __init__(self, upstream: Upstream) -> None:
        self.upstream = upstream
        self.ws = ServerProtocol(max_size=None)
        gather_big_frames(self.ws)
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's is not a subclass

    def data_received(self, data: bytes) -> None:
        self.ws.receive_data(data)
        for event in self.ws.events_received():
            if isinstance(event, Request):
                self.ws.send_response(self.ws.accept(event))
            elif isinstance(event, Frame) and event.opcode is Opcode.TEXT:
                call = orjson.loads(event.data)
                params = call["params"]
                data = params.get("data")
                body = b"" if data is None else data.encode() if isinstance(data, str) else orjson.dumps(data)
                answered = functools.partial(self.answer, call["id"])
                self.upstream.request(params["method"], params["url"], body, answered)
        self.flush()

    def answer(self, request_id: int, body: bytes) -> None:
        """The reply as one frame written in pieces (the body is not copied into it)."""
        assert self.transport is not None
        head = b'{"jsonrpc":"2.0","id":%d,"result":' % request_id
        self.transport.writelines((text_frame_header(len(head) + len(body) + 1), head, body, b"}"))

    def flush(self) -> None:
        assert self.transport is not None
        self.transport.write(b"".join(self.ws.data_to_send()))


async def serve(nginx_socket: str) -> None:
    loop = asyncio.get_running_loop()
    _, upstream = await loop.create_unix_connection(Upstream, nginx_socket)
    server = await loop.create_server(lambda: Relay(upstream), "127.0.0.1", 0)
    print(server.sockets[0].getsockname()[1], flush=True)
    await server.serve_forever()


if __name__ == "__main__":
    uvloop.run(serve(sys.argv[1]))

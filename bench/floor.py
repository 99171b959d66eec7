"""The floor under the daemon's CPU per service call: a relay that does only what no WebSocket
bridge to an HTTP backend can skip, measured in the same run.

It takes the WebSocket (the handshake and frames by ``websockets``' sans-I/O protocol, as the
daemon's uvicorn does), reads each text frame's ``id`` (orjson), writes a fixed GET to nginx on
one kept-alive unix socket, reads the answer with httptools (as ``bridge.http1`` does) and sends
``{"jsonrpc":"2.0","id":…,"result":<the body>}`` back, on uvloop, with callbacks only: no
tasks, no validation, no limits, no inspector. What the daemon spends past this relay is its
own; what the relay spends is the sockets' and the event loop's.

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

REQUEST = b"GET /data HTTP/1.1\r\nhost: localhost\r\n\r\n"
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

    def request(self, answered: Answered) -> None:
        assert self.transport is not None
        self.waiting.append(answered)
        self.transport.write(REQUEST)

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
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's is not a subclass

    def data_received(self, data: bytes) -> None:
        self.ws.receive_data(data)
        for event in self.ws.events_received():
            if isinstance(event, Request):
                self.ws.send_response(self.ws.accept(event))
            elif isinstance(event, Frame) and event.opcode is Opcode.TEXT:
                self.upstream.request(functools.partial(self.answer, orjson.loads(event.data)["id"]))
        self.flush()

    def answer(self, request_id: int, body: bytes) -> None:
        self.ws.send_text(b'{"jsonrpc":"2.0","id":%d,"result":%s}' % (request_id, body))
        self.flush()

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

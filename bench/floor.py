"""The floor under the daemon's service calls: a relay that does only what no WebSocket bridge
to an HTTP backend can skip, measured in the same run.

It takes the WebSocket (the handshake and frames by ``websockets``' sans-I/O protocol, as the
daemon's uvicorn does, with the daemon's reader of big frames, ``bridge.ws_reader``), reads each
text frame with orjson, writes the call's method, URL and ``data`` (a string as its UTF-8, else
its JSON) to nginx on a kept-alive unix socket, reads the answer with httptools (as
``bridge.http1`` does) and sends ``{"jsonrpc":"2.0","id":…,"result":<the body>}`` back, the
frame written in pieces as the daemon writes it; on uvloop, with callbacks only: no tasks (but
to open a connection to nginx), no validation (the body goes into the reply unchecked), no
limits, no inspector. A connection carries one request at a time, as the daemon's do (no proxy
can pipeline a page's calls: a slow one would hold up every call behind it); pipelined on one
connection, 64 calls in flight measured the same here, 20-24 µs of the relay's CPU a call
against 21-27. What the daemon spends past this relay is its own; what the relay spends is the
sockets' and the event loop's.

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
    """One connection to nginx, one request at a time; done, it goes back to its pool."""

    def __init__(self, pool: Upstreams) -> None:
        self.pool = pool
        self.answered: Answered | None = None
        self.body: list[bytes] = []
        self.parser = httptools.HttpResponseParser(self)
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's is not a subclass

    def request(self, method: str, url: str, body: bytes, answered: Answered) -> None:
        assert self.transport is not None
        self.answered = answered
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
        answered, self.answered = self.answered, None
        assert answered is not None
        self.pool.ready(self)
        answered(body)


Queued = tuple[str, str, bytes, Answered]


class Upstreams:
    """The relay's connections to nginx: an idle one takes a request, else a new one is opened."""

    def __init__(self, loop: asyncio.AbstractEventLoop, socket: str) -> None:
        self.loop = loop
        self.socket = socket
        self.idle: list[Upstream] = []
        self.queued: deque[Queued] = deque()
        self.opening: set[asyncio.Task[None]] = set()

    def request(self, method: str, url: str, body: bytes, answered: Answered) -> None:
        if self.idle:
            self.idle.pop().request(method, url, body, answered)
            return
        self.queued.append((method, url, body, answered))
        task = self.loop.create_task(self._open())
        self.opening.add(task)
        task.add_done_callback(self.opening.discard)

    async def _open(self) -> None:
        _, upstream = await self.loop.create_unix_connection(lambda: Upstream(self), self.socket)
        self.ready(upstream)

    def ready(self, upstream: Upstream) -> None:
        if self.queued:
            upstream.request(*self.queued.popleft())
        else:
            self.idle.append(upstream)


class Relay(asyncio.Protocol):
    def __init__(self, upstream: Upstreams) -> None:
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
    upstreams = Upstreams(loop, nginx_socket)
    server = await loop.create_server(lambda: Relay(upstreams), "127.0.0.1", 0)
    print(server.sockets[0].getsockname()[1], flush=True)
    await server.serve_forever()


if __name__ == "__main__":
    uvloop.run(serve(sys.argv[1]))

"""The service proxy's HTTP/1.1 transport (bridge/api/http1.py) against a real server in this
test's event loop: keep-alive reuse, connections a server closes while idle or just as a request
goes out, chunked and HEAD answers, timeouts."""

from __future__ import annotations

import asyncio
import contextlib
import re
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import httpx
import pytest

from bridge.api.http1 import Http1Transport, Timeouts

pytestmark = pytest.mark.integration

Handler = Callable[[int, bytes], bytes | None]  # (request number on its connection, request) → answer


def answer(body: bytes, *extra: str) -> bytes:
    head = "\r\n".join(("HTTP/1.1 200 OK", f"Content-Length: {len(body)}", *extra))
    return head.encode() + b"\r\n\r\n" + body


class Server:
    """A unix-socket server answering each request with ``handler``'s bytes; None closes the
    connection without a word. It counts connections."""

    def __init__(self, handler: Handler) -> None:
        self.handler = handler
        self.connections = 0
        self.writers: list[asyncio.StreamWriter] = []

    async def serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        self.writers.append(writer)
        number = 0
        with contextlib.suppress(asyncio.IncompleteReadError, ConnectionError):
            while (reply := self.handler(number := number + 1, await read_request(reader))) is not None:
                writer.write(reply)
                await writer.drain()
        writer.close()

    async def aclose(self) -> None:
        for writer in self.writers:
            writer.close()
            with contextlib.suppress(ConnectionError):
                await writer.wait_closed()


async def read_request(reader: asyncio.StreamReader) -> bytes:
    """A request's head and its Content-Length's worth of body."""
    head = await reader.readuntil(b"\r\n\r\n")
    length = re.search(rb"\r\ncontent-length: *(\d+)", head, re.IGNORECASE)
    return head + (await reader.readexactly(int(length[1])) if length else b"")


Serve = Callable[[Handler], Awaitable[tuple[Server, Http1Transport]]]


@pytest.fixture
async def serve(tmp_path: Path) -> AsyncIterator[Serve]:
    """Starts a ``Server`` for a handler; returns it and a transport pointed at it."""
    listening: list[asyncio.AbstractServer] = []
    servers: list[Server] = []
    transports: list[Http1Transport] = []

    async def start(handler: Handler) -> tuple[Server, Http1Transport]:
        servers.append(Server(handler))
        path = tmp_path / f"s{len(listening)}.sock"
        listening.append(await asyncio.start_unix_server(servers[-1].serve, path))
        transports.append(Http1Transport(uds=str(path)))
        return servers[-1], transports[-1]

    yield start
    for transport in transports:
        await transport.aclose()
    for listener, server in zip(listening, servers, strict=True):
        listener.close()
        await server.aclose()
        await listener.wait_closed()


def get(method: str = "GET", read: float | None = 5) -> httpx.Request:
    return httpx.Request(method, "http://localhost/x", extensions={"timeout": {"connect": 5, "read": read}})


async def test_one_connection_serves_request_after_request(serve: Serve) -> None:
    server, transport = await serve(lambda number, request: answer(b"n%d" % number))
    bodies = [(await transport.handle_async_request(get())).content for _ in range(5)]
    assert bodies == [b"n1", b"n2", b"n3", b"n4", b"n5"] and server.connections == 1


async def test_a_connection_the_server_closed_while_idle_is_not_used(serve: Serve) -> None:
    server, transport = await serve(lambda number, request: answer(b"ok"))
    assert (await transport.handle_async_request(get())).content == b"ok"
    server.writers[0].close()
    await asyncio.sleep(0.1)
    assert (await transport.handle_async_request(get("POST"))).content == b"ok"
    assert server.connections == 2


@pytest.mark.parametrize(("method", "retried"), [("GET", True), ("PUT", True), ("POST", False)])
async def test_a_request_the_server_drops_on_a_reused_connection(
    serve: Serve, method: str, retried: bool
) -> None:
    """The server closes an idle connection just as the next request arrives (keep-alive
    timeouts race like this): an idempotent request goes again on a new connection; a POST,
    which may have had its effect, fails."""
    server, transport = await serve(lambda number, request: answer(b"ok") if number == 1 else None)
    await transport.handle_async_request(get())
    if retried:
        assert (await transport.handle_async_request(get(method))).content == b"ok"
        assert server.connections == 2
    else:
        with pytest.raises(httpx.RemoteProtocolError, match="closed the connection before answering"):
            await transport.handle_async_request(get(method))


async def test_chunked_answers_are_joined_and_connection_close_is_honoured(serve: Serve) -> None:
    chunked = (
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
        b"3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n"
    )
    server, transport = await serve(lambda number, request: chunked)
    for _ in range(2):
        response = await transport.handle_async_request(get())
        assert (response.status_code, response.content) == (200, b"abcde")
    assert server.connections == 2


async def test_a_head_answer_ends_after_its_headers(serve: Serve) -> None:
    _, transport = await serve(
        lambda number, request: answer(b"", "X-Size: 9").replace(b"Length: 0", b"Length: 9")
    )
    response = await transport.handle_async_request(get("HEAD"))
    assert (
        response.status_code == 200 and response.headers["content-length"] == "9" and response.content == b""
    )


async def test_a_silent_server_times_out_and_a_missing_one_cannot_be_reached(
    serve: Serve, tmp_path: Path
) -> None:
    _, transport = await serve(lambda number, request: b"")
    with pytest.raises(httpx.ReadTimeout):
        await transport.handle_async_request(get(read=0.2))
    nowhere = Http1Transport(uds=str(tmp_path / "nobody.sock"))
    with pytest.raises(httpx.ConnectError):
        await nowhere.handle_async_request(get())


async def test_garbage_is_a_protocol_error(serve: Serve) -> None:
    _, transport = await serve(lambda number, request: b"SMTP ready\r\n\r\n")
    with pytest.raises(httpx.RemoteProtocolError, match=r"not HTTP/1\.1"):
        await transport.handle_async_request(get())


async def test_the_body_frames_the_request_whatever_the_caller_says(serve: Serve) -> None:
    """A caller's Content-Length or Transfer-Encoding could disagree with the body and leave the
    rest of it on the pooled connection as the next request: the transport frames requests."""
    requests: list[bytes] = []

    def keep(number: int, request: bytes) -> bytes:
        requests.append(request)
        return answer(b"ok")

    server, transport = await serve(keep)
    lying = [(b"host", b"x"), (b"Content-Length", b"3"), (b"transfer-encoding", b"chunked")]
    timeouts = Timeouts(5, 5)
    for body in (b"GET /smuggled HTTP/1.1", b""):
        sent = await transport.send("POST", b"/x", lying, body, address=("x", 80), timeouts=timeouts)
        assert sent.content == b"ok"
    assert [request.lower().count(b"content-length") for request in requests] == [1, 1]
    assert requests[0].endswith(b"content-length: 22\r\n\r\nGET /smuggled HTTP/1.1")
    assert b"chunked" not in b"".join(requests) and server.connections == 1


async def test_idle_connections_are_pooled_per_address() -> None:
    """Over TCP each request goes to its own host and port, never down a connection kept for
    another (an allowed absolute service URL names another server)."""
    servers = [Server(lambda number, request: answer(b"A")), Server(lambda number, request: answer(b"B"))]
    listening = [await asyncio.start_server(server.serve, "127.0.0.1", 0) for server in servers]
    ports = [listener.sockets[0].getsockname()[1] for listener in listening]
    transport = Http1Transport()
    try:
        bodies = [
            (
                await transport.send(
                    "GET",
                    b"/",
                    [(b"host", b"h")],
                    b"",
                    address=("127.0.0.1", ports[which]),
                    timeouts=Timeouts(5, 5),
                )
            ).content
            for which in (0, 1, 0, 1)
        ]
        assert bodies == [b"A", b"B", b"A", b"B"]
        assert [server.connections for server in servers] == [1, 1]
    finally:
        await transport.aclose()
        for listener, server in zip(listening, servers, strict=True):
            listener.close()
            await server.aclose()
            await listener.wait_closed()

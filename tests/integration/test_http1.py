"""The service proxy's HTTP/1.1 transport (bridge/http1.py) against a real server in this
test's event loop: keep-alive reuse, connections a server closes while idle or just as a request
goes out, chunked and HEAD answers, timeouts."""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import socket
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import httpx
import pytest

from bridge.http1 import Answer, Http1Transport, Timeouts
from tests.support.processes import vm_status

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


def first_then_counted(first: bytes) -> Handler:
    """A handler answering ``first`` to the first request it gets, on whatever connection, then
    ``n1``, ``n2``... numbered by connection."""
    answered: list[bytes] = []

    def handle(number: int, request: bytes) -> bytes:
        answered.append(request)
        return first if len(answered) == 1 else answer(b"n%d" % number)

    return handle


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


async def test_informational_answers_are_skipped_for_the_final_one(serve: Serve) -> None:
    """``100 Continue`` and ``103 Early Hints`` come before the answer; taking one for the answer
    left the real one on the pooled connection for the next caller."""
    informational = (
        b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </a.css>; rel=preload\r\n\r\n"
    )
    server, transport = await serve(lambda number, request: informational + answer(b"n%d" % number))
    for expected in (b"n1", b"n2"):
        response = await transport.handle_async_request(get())
        assert (response.status_code, response.content) == (200, expected)
        assert "link" not in response.headers
    assert server.connections == 1  # the connection's framing held: it is reused


async def test_switching_protocols_fails_the_request_and_drops_the_connection(serve: Serve) -> None:
    switch = (
        b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: x\r\nConnection: Upgrade\r\n\r\nHTTP/1.1 200 OK\r\n"
    )
    server, transport = await serve(first_then_counted(switch))
    with pytest.raises(httpx.RemoteProtocolError, match="101 Switching Protocols"):
        await transport.handle_async_request(get())
    assert (await transport.handle_async_request(get())).content == b"n1"
    assert server.connections == 2


# Answers after which the connection's framing is in doubt: where the next answer begins.
DOUBTFUL = {
    "Content-Length and Transfer-Encoding": answer(b"5\r\nfirst\r\n0\r\n\r\n", "Transfer-Encoding: chunked"),
    "two Content-Lengths": answer(b"first", "Content-Length: 12"),
    "the same Content-Length twice": answer(b"first", "Content-Length: 5"),
    "a second answer after the first": answer(b"first") + answer(b"smuggled", "X-Smuggled: yes"),
    "the head of a second answer": answer(b"first") + b"HTTP/1.1 200 OK\r\nContent-Length: 40\r\n\r\n",
    "bytes after the answer": answer(b"first") + b"junk",
}


@pytest.mark.parametrize("method", ["GET", "HEAD"])
@pytest.mark.parametrize("what", DOUBTFUL)
async def test_an_answer_whose_framing_is_in_doubt_is_the_last_on_its_connection(
    serve: Serve, what: str, method: str
) -> None:
    """The caller gets an error or its own answer and nothing past it (an answer to HEAD has no
    body, whatever the backend sends); the next request goes on a new connection."""
    server, transport = await serve(first_then_counted(DOUBTFUL[what]))
    try:
        first = await transport.handle_async_request(get(method))
    except httpx.RemoteProtocolError:
        pass
    else:
        assert first.content == (b"" if method == "HEAD" else b"first"), what
        assert "x-smuggled" not in first.headers and len(first.headers) == 1, what
    assert (await transport.handle_async_request(get())).content == b"n1", what
    assert server.connections == 2, what


async def test_hop_by_hop_headers_of_the_caller_are_not_sent(serve: Serve) -> None:
    """What the connection does is the transport's: a caller's Expect would draw a 100 Continue,
    Connection or Upgrade end or switch the pooled connection, TE and Trailer ask for trailers."""
    requests: list[bytes] = []

    def keep(number: int, request: bytes) -> bytes:
        requests.append(request)
        return answer(b"ok")

    server, transport = await serve(keep)
    own = [
        (b"Expect", b"100-continue"),
        (b"connection", b"close, x-hidden"),
        (b"Keep-Alive", b"timeout=1"),
        (b"Proxy-Connection", b"close"),
        (b"UPGRADE", b"websocket"),
        (b"te", b"trailers"),
        (b"Trailer", b"X-After"),
        (b"Transfer-Encoding", b"chunked"),
        (b"Content-Length", b"0"),
    ]
    headers = [(b"host", b"x"), *own, (b"x-hidden", b"kept")]
    for method in ("POST", "GET"):
        sent = await transport.send(
            method, b"/x", headers, b"body", address=("x", 80), timeouts=Timeouts(5, 5)
        )
        assert sent.content == b"ok"
    for request in requests:
        names = [line.split(b":")[0].lower() for line in request.split(b"\r\n\r\n")[0].split(b"\r\n")[1:]]
        assert sorted(names) == [b"content-length", b"host", b"x-hidden"]
        assert request.endswith(b"content-length: 4\r\n\r\nbody")
    assert server.connections == 1


class RawBackend:
    """A listening unix socket the test reads and answers by hand (non-blocking), so it can see
    whether a request's bytes have reached the backend at a given point of the loop's pass."""

    def __init__(self, path: Path) -> None:
        self.listener = socket.socket(socket.AF_UNIX)
        self.listener.bind(str(path))
        self.listener.listen()
        self.listener.setblocking(False)
        self.connections: list[socket.socket] = []

    async def accept_with_requests(self, count: int) -> None:
        """``count`` connections, each with the request it came with read."""
        loop = asyncio.get_running_loop()
        for _ in range(count):
            accepted, _ = await loop.sock_accept(self.listener)
            accepted.setblocking(False)
            await loop.sock_recv(accepted, 65536)
            self.connections.append(accepted)

    def arrived(self) -> list[bytes]:
        """What each connection has received since last asked (b"" for nothing)."""
        received = []
        for connection in self.connections:
            try:
                received.append(connection.recv(65536))
            except BlockingIOError:
                received.append(b"")
        return received

    def close(self) -> None:
        for connection in [*self.connections, self.listener]:
            connection.close()


async def test_a_request_sent_while_another_waits_is_written_at_the_end_of_the_pass(tmp_path: Path) -> None:
    """Calls arriving together reach the backend back to back, each write finding it awake: a
    request made while another waits for its answer goes out once the loop's pass has run its
    other callbacks; a request alone goes out at once."""
    backend = RawBackend(tmp_path / "raw.sock")
    transport = Http1Transport(uds=str(tmp_path / "raw.sock"))

    def send(path: bytes) -> asyncio.Task[Answer]:
        return asyncio.create_task(
            transport.send("GET", path, [(b"host", b"x")], b"", address=("x", 80), timeouts=Timeouts(5, 5))
        )

    async def answer_all(tasks: list[asyncio.Task[Answer]]) -> list[bytes]:
        for connection in backend.connections:
            connection.sendall(answer(b"ok"))
        return [bytes((await task).content) for task in tasks]

    try:
        warm = [send(b"/warm1"), send(b"/warm2")]  # two connections, idle once answered
        await backend.accept_with_requests(2)
        assert await answer_all(warm) == [b"ok", b"ok"]

        alone = send(b"/alone")
        await asyncio.sleep(0)  # one pass: the task runs up to waiting for its answer
        assert sorted(backend.arrived())[-1].startswith(b"GET /alone ")
        burst = send(b"/burst")
        await asyncio.sleep(0)
        assert backend.arrived() == [b"", b""]  # its write waits for the end of the pass
        await asyncio.sleep(0)
        assert sorted(backend.arrived())[-1].startswith(b"GET /burst ")
        assert await answer_all([alone, burst]) == [b"ok", b"ok"]
    finally:
        await transport.aclose()
        backend.close()


async def get_taking(transport: Http1Transport, take: Callable[[int], None]) -> Answer:
    """``GET /x``, each piece of the answer told to ``take``."""
    return await transport.send(
        "GET",
        b"/x",
        [(b"host", b"localhost")],
        b"",
        address=("localhost", 80),
        timeouts=Timeouts(5, 5),
        take=take,
    )


async def test_a_long_body_is_read_into_one_buffer_and_the_idle_connection_keeps_none_of_it(
    serve: Serve,
) -> None:
    """A body of a declared length past ``READ_WHOLE_FROM`` is read into one buffer (its parts
    joined at the end held it twice), its length told to ``take`` once as the body starts, and
    the connection back in the pool holds no reference to the answer it carried."""
    body = bytes(range(256)) * 1024
    _, transport = await serve(lambda number, request: answer(body))
    told: list[int] = []
    got = await get_taking(transport, told.append)
    assert got.content == body and isinstance(got.content, bytearray) and got.body == []
    assert len(body) in told and sum(told) < 2 * len(body)
    assert sys.getrefcount(got) == 2  # this test's name and the call's argument: no one else's


async def test_a_declared_length_past_what_take_allows_fails_before_any_buffer_is_made(serve: Serve) -> None:
    """A backend that declares 10 GB and sends three bytes: the length is refused as it is
    read, not given a buffer of its size."""

    def at_most_a_mebibyte(size: int) -> None:
        if size > 1 << 20:
            raise ValueError(f"{size} bytes is too much")

    _, transport = await serve(
        lambda number, request: b"HTTP/1.1 200 OK\r\nContent-Length: 10000000000\r\n\r\nabc"
    )
    with pytest.raises(ValueError, match="10000000000 bytes"):
        await get_taking(transport, at_most_a_mebibyte)


# Answers a 16 MiB body to each request on a unix socket: in a process of its own, so that its
# buffers are not in the memory the test reads.
BIG_SERVER = """
import socket, sys
body = b"x" * (16 << 20)
reply = b"HTTP/1.1 200 OK\\r\\nContent-Length: %d\\r\\n\\r\\n" % len(body) + body
listener = socket.socket(socket.AF_UNIX)
listener.bind(sys.argv[1])
listener.listen()
print("ready", flush=True)
connection, _ = listener.accept()
while connection.recv(65536):
    connection.sendall(reply)
"""


async def test_a_big_answer_is_given_back_to_the_system_once_let_go(tmp_path: Path) -> None:
    """A body from ``OWN_MAPPING_FROM`` on is a mapping of its own: once the answer is let go,
    its pages leave the process. As a ``bytearray`` in glibc's heap, a freed body stayed resident,
    and with something allocated after it that stayed (as the inspector's history keeps a copy
    of each answer's head) the next body went beside it: the process held two bodies for good."""
    path = tmp_path / "big.sock"
    server = await asyncio.create_subprocess_exec(
        sys.executable, "-c", BIG_SERVER, str(path), stdout=asyncio.subprocess.PIPE
    )
    transport = Http1Transport(uds=str(path))
    try:
        assert server.stdout is not None and await server.stdout.readline() == b"ready\n"
        kept = []
        before = vm_status(os.getpid(), "VmRSS")
        for _ in range(4):
            got = await get_taking(transport, lambda size: None)
            assert len(got.content) == 16 << 20 and got.content[-1:] == b"x"
            kept.append(bytes(20_000))  # allocated after the body, and staying
            del got
        left = vm_status(os.getpid(), "VmRSS") - before
    finally:
        await transport.aclose()
        server.kill()
        await server.wait()
    assert left < 8 << 20, f"{left / (1 << 20):.1f} MiB still resident after four 16 MiB answers"

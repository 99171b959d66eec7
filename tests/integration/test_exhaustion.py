"""What a client without the token can hold of a real daemon (issue 12, items 5 and 12): idle
and byte-a-second connections are closed at the handshake deadline, a flood past the cap on
pending connections closes the oldest while /healthz and a page with the token still get in,
the open-files soft limit is raised to the hard one, and repeated wrong tokens are slowed
while the right one is not."""

from __future__ import annotations

import asyncio
import contextlib
import resource
import socket
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
import websockets

from bridge.testing import BridgeClient
from tests.support.processes import RunningBridge

pytestmark = pytest.mark.integration


async def _closed_by_daemon(reader: asyncio.StreamReader) -> None:
    """Read until the daemon closes the connection (what it answers before does not matter)."""
    with contextlib.suppress(ConnectionError):
        while await reader.read(65536):
            pass


async def _refused_websocket(running: RunningBridge) -> str:
    """A WebSocket with a wrong token: the close code the shim reads, and the reason it gives."""
    url = running.websocket_url("rpc").replace(running.token, "wrong-token-0123456789")
    async with websockets.connect(url) as ws:
        with pytest.raises(websockets.ConnectionClosed) as closed:
            await ws.recv()
    assert closed.value.rcvd is not None
    assert closed.value.rcvd.code == 4401
    return closed.value.rcvd.reason


async def _slowloris(writer: asyncio.StreamWriter, at_once: bytes, slowly: bytes) -> None:
    """Send ``at_once``, then ``slowly`` a byte every 0.2 s, until the daemon closes the connection."""
    with contextlib.suppress(ConnectionError):
        writer.write(at_once)
        for byte in slowly:
            await writer.drain()
            await asyncio.sleep(0.2)
            writer.write(bytes([byte]))


async def _keep_asking(writer: asyncio.StreamWriter, request: bytes) -> None:
    """Whole requests, one every 0.3 s, on one keep-alive connection."""
    with contextlib.suppress(ConnectionError):
        while True:
            writer.write(request)
            await writer.drain()
            await asyncio.sleep(0.3)


async def test_idle_and_slow_connections_are_closed_at_the_handshake_deadline(
    bridge: Callable[..., RunningBridge],
) -> None:
    running = bridge(env={"DDBRIDGE_SERVER_HANDSHAKE_TIMEOUT": "1"})
    host = f"Host: 127.0.0.1:{running.port}\r\n".encode()
    padding = b"X-Padding: " + b"x" * 1000
    slow_requests = [
        (b"", b"GET /healthz HTTP/1.1\r\n" + host + padding),
        # The token arriving slowly buys no time either: it is checked once the request is whole.
        (
            b"GET /rpc HTTP/1.1\r\n" + host + b"Upgrade: websocket\r\nConnection: Upgrade\r\n",
            b"Authorization: Bearer " + running.token.encode() + b"\r\n" + padding,
        ),
        # A body that never ends, after the whole headers of a request without the token.
        (b"POST /index.html HTTP/1.1\r\n" + host + b"Content-Length: 100000\r\n\r\n", b"x" * 100000),
    ]
    # Whole requests without the token (a public path, and a refused one) do not renew it.
    repeated = [
        b"GET /healthz HTTP/1.1\r\n" + host + b"\r\n",
        b"GET /_ddbridge/ HTTP/1.1\r\n" + host + b"Authorization: Bearer wrong-token-0123456789\r\n\r\n",
    ]
    connections = [await asyncio.open_connection("127.0.0.1", running.port) for _ in range(20 + 3 * 5 + 2)]
    senders = [
        asyncio.create_task(_slowloris(writer, *slow_requests[i % 3]))
        for i, (_, writer) in enumerate(connections[20:35])
    ]
    senders += [
        asyncio.create_task(_keep_asking(writer, repeated[i]))
        for i, (_, writer) in enumerate(connections[35:])
    ]
    try:
        # Without a deadline they would stay open as long as they like; 1 s is the deadline,
        # 20 s only keeps a failing test from hanging.
        await asyncio.wait_for(asyncio.gather(*(_closed_by_daemon(reader) for reader, _ in connections)), 20)
    finally:
        for task in senders:
            task.cancel()
        for _, writer in connections:
            writer.close()
    async with BridgeClient.connect(running.ws_url) as client:
        assert (await client.call("host.info"))["platform"]


def _closed_count(flood: list[socket.socket]) -> int:
    """How many of ``flood`` the daemon has closed (their read end says so at once)."""
    closed = 0
    for sock in flood:
        try:
            if sock.recv(1) == b"":
                closed += 1
        except BlockingIOError:
            pass
        except ConnectionError:
            closed += 1
    return closed


async def test_a_flood_past_the_pending_cap_closes_the_oldest_and_the_token_gets_in(
    bridge: Callable[..., RunningBridge],
) -> None:
    cap, flood_size = 50, 600
    running = bridge(
        env={"DDBRIDGE_SERVER_PENDING_CONNECTIONS": str(cap), "DDBRIDGE_SERVER_HANDSHAKE_TIMEOUT": "60"}
    )
    flood: list[socket.socket] = []
    try:
        for _ in range(flood_size):
            sock = socket.create_connection(("127.0.0.1", running.port))
            sock.setblocking(False)
            flood.append(sock)
        async with httpx.AsyncClient(timeout=30) as http:
            health = await http.get(running.url + "healthz")
            assert health.status_code == 200 and health.json()["status"] == "ok"
        async with BridgeClient.connect(running.ws_url) as client:
            assert (await client.call("host.info"))["platform"]
            for _ in range(100):  # the closing of the last ones may still be on its way
                if _closed_count(flood) >= flood_size - cap:
                    break
                await asyncio.sleep(0.1)
            assert _closed_count(flood) >= flood_size - cap
            # The page's own WebSocket, signed in, is not one the flood can push out.
            for _ in range(2 * cap):
                socket.create_connection(("127.0.0.1", running.port)).close()
            assert (await client.call("host.info"))["platform"]
    finally:
        for sock in flood:
            sock.close()
    assert "connections that had not presented the token, oldest first" in running.log()


async def test_a_flood_of_idle_connections_does_not_push_out_requests_being_answered(
    bridge: Callable[..., RunningBridge],
) -> None:
    """Idle connections are closed before those whose whole request is in: here refusals held
    back by the throttle, which all still get their answer while the flood comes in."""
    running = bridge(
        env={"DDBRIDGE_SERVER_PENDING_CONNECTIONS": "100", "DDBRIDGE_SERVER_HANDSHAKE_TIMEOUT": "60"}
    )
    wrong = {"Authorization": "Bearer wrong-token-0123456789"}
    flood: list[socket.socket] = []
    async with httpx.AsyncClient(timeout=30, limits=httpx.Limits(max_connections=None)) as http:
        url = running.url + "_ddbridge/"
        guesses = [asyncio.create_task(http.get(url, headers=wrong)) for _ in range(60)]
        for first in asyncio.as_completed(guesses):
            await first  # the throttle's burst is answered at once: the rest wait in turn
            break
        try:
            for _ in range(300):
                flood.append(socket.create_connection(("127.0.0.1", running.port)))
            statuses = [(await guess).status_code for guess in guesses]
        finally:
            for sock in flood:
                sock.close()
    assert set(statuses) == {401, 429}


async def test_refused_websockets_leave_no_count_behind(bridge: Callable[..., RunningBridge]) -> None:
    """A WebSocket refused for its token, once closed, no longer counts against the cap: it
    does not push out the pending connections opened before it."""
    cap = 5
    running = bridge(
        env={"DDBRIDGE_SERVER_PENDING_CONNECTIONS": str(cap), "DDBRIDGE_SERVER_HANDSHAKE_TIMEOUT": "60"}
    )
    earlier = [socket.create_connection(("127.0.0.1", running.port)) for _ in range(cap - 1)]
    try:
        for sock in earlier:
            sock.setblocking(False)
        for _ in range(3 * cap):
            await _refused_websocket(running)
        assert _closed_count(earlier) == 0
    finally:
        for sock in earlier:
            sock.close()


@contextlib.contextmanager
def _open_files_soft_limit(soft: int) -> Iterator[None]:
    """This process's soft limit on open files lowered for a while (children inherit it)."""
    before = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (soft, before[1]))
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_NOFILE, before)


def _open_files_limits(pid: int) -> tuple[str, str]:
    for line in Path(f"/proc/{pid}/limits").read_text().splitlines():
        if line.startswith("Max open files"):
            soft, hard = line.split()[3:5]
            return soft, hard
    raise AssertionError(f"no open files limit in /proc/{pid}/limits")


def test_the_daemon_raises_its_open_files_soft_limit_to_the_hard_one(
    bridge: Callable[..., RunningBridge],
) -> None:
    hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    if hard != resource.RLIM_INFINITY and hard <= 256:
        pytest.skip(f"the hard limit on open files is {hard}: nothing to raise")
    with _open_files_soft_limit(256):
        running = bridge()
    soft, daemon_hard = _open_files_limits(running.process.pid)
    assert soft == daemon_hard != "256"


async def test_repeated_wrong_tokens_are_slowed_and_the_right_token_is_not(
    bridge: Callable[..., RunningBridge],
) -> None:
    running = bridge()
    wrong = {"Authorization": "Bearer wrong-token-0123456789"}
    async with httpx.AsyncClient(timeout=30, limits=httpx.Limits(max_connections=None)) as http:
        url = running.url + "_ddbridge/"
        guesses = [asyncio.create_task(http.get(url, headers=wrong)) for _ in range(100)]
        answered_at_once = []
        for first in asyncio.as_completed(guesses):
            answered_at_once.append(await first)
            if len(answered_at_once) == 3:
                break
        # The right token, while the wrong ones past the allowance still wait.
        right = await http.get(url, headers=running.headers)
        still_waiting = sum(not guess.done() for guess in guesses)
        answers = [await guess for guess in guesses]
    assert right.status_code == 200
    assert still_waiting > 0
    statuses = [answer.status_code for answer in answers]
    assert set(statuses) == {401, 429}
    assert statuses.count(429) >= 50, statuses
    for answer in answers:
        if answer.status_code == 429:
            assert int(answer.headers["retry-after"]) >= 1
            assert "Authorization: Bearer TOKEN" in answer.text
    # WebSockets with a wrong token, a burst of them: the close code the shim reads stays, and
    # those past the allowance say why they waited.
    reasons = await asyncio.gather(*(_refused_websocket(running) for _ in range(40)))
    assert any("too many refused tokens" in reason for reason in reasons), reasons


async def test_asking_without_a_credential_is_no_guess_and_is_not_slowed(
    bridge: Callable[..., RunningBridge],
) -> None:
    """A browser that has not signed in yet presents nothing: it gets the page asking for the
    token at once, however many such requests came before (the throttle slows guesses only)."""
    running = bridge()
    async with httpx.AsyncClient(timeout=30) as http:
        answers = await asyncio.gather(*(http.get(running.url) for _ in range(100)))
        wrong = await asyncio.gather(
            *(
                http.get(running.url, headers={"Authorization": "Bearer wrong-token-0123456789"})
                for _ in range(60)
            )
        )
    assert {answer.status_code for answer in answers} == {401}
    assert 429 in {answer.status_code for answer in wrong}

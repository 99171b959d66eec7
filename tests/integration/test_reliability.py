"""Reliability (issue 6, item 4) without Docker: an extension backend that is down, slow, resets
its connections or cuts its answers off gives ServiceErrors while the bridge stays healthy; one
that honours what a page's headers ask of the connection, or sends informational answers,
never hands one page's answer to another, and one whose answer is too big is cut off (issue 12,
items 9 and 4); and SIGTERM/SIGINT shut ``ddbridge dev --backend-cmd`` down gracefully with
streams running.

The engine's part is in tests/integration/docker/test_reliability_docker.py, the page's (the
daemon restarting under an open page) in tests/browser/test_browser_reliability.py.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import httpx
import pytest
import websockets

from bridge.testing import BridgeClient, RpcFailure
from tests.support.faulty_backend import MIB, FaultyBackend
from tests.support.processes import (
    REPO,
    RunningBridge,
    backend_run_folder,
    descendants,
    running_binary,
    still_running,
    still_running_after,
)

pytestmark = pytest.mark.integration

SERVICE_ERROR = -32001
LIMIT_EXCEEDED = -32005
# [backend] timeout for these tests (DDBRIDGE_BACKEND_TIMEOUT), and what the slow path takes.
BACKEND_TIMEOUT = 1.0
SLOW_SECONDS = 5


# --------------------------------------------------------------------------------------------
# The extension backend misbehaving


@pytest.fixture(scope="module")
def faulty_socket(short_tmp: Path) -> Path:
    """Where the faulty backend listens (a short path: unix socket paths stay under 108 bytes)."""
    return short_tmp / "faulty.sock"


@pytest.fixture(scope="module")
def faulty_bridge(module_bridge: Callable[..., RunningBridge], faulty_socket: Path) -> RunningBridge:
    """One daemon for the module, proxying to the faulty backend with a 1 s backend timeout."""
    return module_bridge(
        "--backend-socket", faulty_socket, env={"DDBRIDGE_BACKEND_TIMEOUT": str(BACKEND_TIMEOUT)}
    )


@pytest.fixture
async def faulty_backend(faulty_socket: Path) -> AsyncIterator[FaultyBackend]:
    async with FaultyBackend(faulty_socket) as backend:
        yield backend


@pytest.fixture
async def client(faulty_bridge: RunningBridge, faulty_backend: FaultyBackend) -> AsyncIterator[BridgeClient]:
    async with BridgeClient.connect(faulty_bridge.ws_url) as connected:
        yield connected


async def get(client: BridgeClient, url: str, method: str = "GET", **extra: object) -> object:
    return await client.call("service.request", {"method": method, "url": url, **extra}, timeout=30)


async def service_error(client: BridgeClient, url: str, method: str = "GET") -> RpcFailure:
    """The ServiceError a request for ``url`` rejects with."""
    with pytest.raises(RpcFailure) as caught:
        await get(client, url, method)
    assert caught.value.code == SERVICE_ERROR, caught.value
    return caught.value


async def assert_healthy(running: RunningBridge, client: BridgeClient) -> None:
    """``/healthz`` answers, and the same connection still proxies and runs other methods."""
    async with httpx.AsyncClient(headers=running.headers, timeout=10) as http:
        health = await http.get(f"{running.url}healthz")
    assert (health.status_code, health.json()["status"]) == (200, "ok")
    assert await get(client, "/ok") == {"ok": True}
    assert (await client.call("host.info", {}, timeout=10))["platform"]


@pytest.mark.parametrize(
    ("path", "what"),
    [
        ("/reset", "a connection reset before any answer"),
        ("/half-head", "half a status line and headers, then a close"),
        ("/half-body", "headers announcing 100 bytes, 10 of them, then a close"),
    ],
)
async def test_broken_answers_are_502_and_the_bridge_stays_healthy(
    faulty_bridge: RunningBridge, faulty_backend: FaultyBackend, client: BridgeClient, path: str, what: str
) -> None:
    for method in ("GET", "POST", "GET"):  # the first fault must not poison the pool for the next
        assert await get(client, "/ok") == {"ok": True}  # a pooled keep-alive connection exists now
        sent = len(faulty_backend.requests)
        error = await service_error(client, path, method)
        assert error.data["statusCode"] == 502, what
        assert error.data["name"] == "Bad Gateway"
        assert str(faulty_backend.path) in error.message
        if method == "POST":  # may not be idempotent: never sent twice (a GET may be retried once)
            assert faulty_backend.requests[sent:] == [path]
    await assert_healthy(faulty_bridge, client)


async def test_slow_backend_is_504_after_the_timeout_and_other_calls_go_on(
    faulty_bridge: RunningBridge, client: BridgeClient
) -> None:
    started = time.monotonic()
    slow = asyncio.create_task(get(client, f"/slow?seconds={SLOW_SECONDS}"))
    # While the slow call waits on the backend, the connection, the proxy and the daemon serve.
    await assert_healthy(faulty_bridge, client)
    assert not slow.done()
    with pytest.raises(RpcFailure) as caught:
        await slow
    elapsed = time.monotonic() - started
    assert caught.value.code == SERVICE_ERROR
    assert caught.value.data["statusCode"] == 504
    assert caught.value.data["name"] == "Gateway Timeout"
    assert f"within {BACKEND_TIMEOUT:g} s" in caught.value.message
    assert BACKEND_TIMEOUT <= elapsed < BACKEND_TIMEOUT + 2, elapsed
    await assert_healthy(faulty_bridge, client)


async def test_backend_down_is_502_and_calls_work_again_once_it_is_back(
    faulty_bridge: RunningBridge, faulty_backend: FaultyBackend, client: BridgeClient
) -> None:
    assert await get(client, "/ok") == {"ok": True}
    await faulty_backend.stop()  # the pooled connection is dropped, the socket refuses
    error = await service_error(client, "/ok")
    assert error.data["statusCode"] == 502
    assert str(faulty_backend.path) in error.message
    faulty_backend.path.unlink()  # and with no socket file at all
    error = await service_error(client, "/ok")
    assert error.data["statusCode"] == 502
    async with httpx.AsyncClient(headers=faulty_bridge.headers, timeout=10) as http:
        assert (await http.get(f"{faulty_bridge.url}healthz")).status_code == 200
    await faulty_backend.start()
    await assert_healthy(faulty_bridge, client)


# --------------------------------------------------------------------------------------------
# One page's answer never reaches another (issue 12, item 9)

# Headers by which a page asks things of the connection, each honoured by some backend.
CONNECTION_HEADERS = {
    "Expect": "100-continue",
    "Connection": "close",
    "Keep-Alive": "timeout=60",
    "Upgrade": "websocket",
    "TE": "trailers",
    "Trailer": "X-After",
    "Transfer-Encoding": "chunked",
    "Content-Length": "0",
    "Host": "admin.internal",
}


async def test_an_answer_after_100_continue_goes_to_its_own_page(
    faulty_bridge: RunningBridge, client: BridgeClient
) -> None:
    """The backend answers ``100 Continue`` at once and the answer later: the page waits for
    its answer, and another page's next call on the same connection gets its own."""
    async with BridgeClient.connect(faulty_bridge.ws_url) as other:
        for _ in range(2):
            assert await get(client, "/late") == {"late": True}
            assert await get(other, "/ok") == {"ok": True}


async def test_a_pages_connection_headers_never_reach_the_backend(
    faulty_bridge: RunningBridge, faulty_backend: FaultyBackend, client: BridgeClient
) -> None:
    """The faulty backend honours Expect, Upgrade and Connection: close as a naive server does;
    none of them (nor framing, nor a Host) gets to it from a page, so a smuggled request in the
    body stays body, and the next page's call is answered for itself."""
    smuggled = "GET /reset HTTP/1.1\r\nHost: x\r\n\r\n"
    async with BridgeClient.connect(faulty_bridge.ws_url) as other:
        for method in ("POST", "GET", "PUT"):
            sent = len(faulty_backend.heads)
            assert await get(client, "/ok", method, headers=CONNECTION_HEADERS, data=smuggled) == {"ok": True}
            assert await get(other, "/ok") == {"ok": True}
            heads = faulty_backend.heads[sent:]
            assert [dict(head)["host"] for head in heads] == ["localhost", "localhost"]
            assert [sorted(dict(head)) for head in heads] == [["content-length", "host"], ["host"]], method
    assert "/reset" not in faulty_backend.requests


async def test_switching_protocols_is_502_and_the_next_call_is_answered(
    faulty_bridge: RunningBridge, client: BridgeClient
) -> None:
    """A backend that switches protocols unasked fails that call only."""
    for method in ("GET", "POST"):
        error = await service_error(client, "/switch", method)
        assert error.data["statusCode"] == 502
        assert "101 Switching Protocols" in error.message
        assert await get(client, "/ok") == {"ok": True}


async def test_a_head_answer_with_a_body_is_empty(client: BridgeClient) -> None:
    """The faulty backend answers HEAD with a body; the page gets none of it, and the next call
    its own answer."""
    for _ in range(2):
        assert await get(client, "/ok", "HEAD") == ""
        assert await get(client, "/ok") == {"ok": True}


# --------------------------------------------------------------------------------------------
# A backend's answer is bounded (issue 12, item 4)


async def test_an_answer_past_max_answer_is_502_and_its_connection_is_dropped(
    bridge: Callable[..., RunningBridge], faulty_socket: Path, faulty_backend: FaultyBackend
) -> None:
    """The answer is refused as its bytes arrive: the daemon stops reading and drops the
    connection, so the backend cannot write the rest; the next call is answered."""
    running = bridge("--backend-socket", faulty_socket, env={"DDBRIDGE_BACKEND_MAX_ANSWER": str(MIB)})
    async with BridgeClient.connect(running.ws_url) as client:
        for size in (64 * MIB, MIB + 1):
            error = await service_error(client, f"/big?bytes={size}")
            assert (error.data["statusCode"], error.data["name"]) == (502, "Bad Gateway")
            assert f"larger than {MIB} bytes ([backend] max_answer)" in error.message
            assert await get(client, "/ok") == {"ok": True}
        assert faulty_backend.sent[0] < 16 * MIB  # what socket buffers hold, not the answer
        assert await get(client, f"/big?bytes={MIB // 2}") == "x" * (MIB // 2)


async def test_answers_take_their_bytes_from_the_memory_budget_and_give_them_back(
    bridge: Callable[..., RunningBridge], faulty_socket: Path, faulty_backend: FaultyBackend
) -> None:
    """With [limits] memory at 1 MiB, a 2 MiB answer does not fit (whatever max_answer says);
    the bytes held for it, and for each answer that fits, are given back. An answer's reply
    holds about three times its size while it is encoded (its JSON twice, its text once): a
    quarter of the budget then needs most of it."""
    running = bridge("--backend-socket", faulty_socket, env={"DDBRIDGE_LIMITS_MEMORY": str(MIB)})
    async with BridgeClient.connect(running.ws_url) as client:
        for _ in range(2):
            with pytest.raises(RpcFailure) as caught:
                await get(client, f"/big?bytes={2 * MIB}")
            assert caught.value.code == LIMIT_EXCEEDED
            assert caught.value.data == {"limit": "limits.memory", "value": MIB}
            assert "the extension backend's answer does not fit" in caught.value.message
            for _ in range(5):  # each needs most of the budget: none may be left held
                assert await get(client, f"/big?bytes={MIB // 4}") == "x" * (MIB // 4)


# --------------------------------------------------------------------------------------------
# Graceful shutdown of ``ddbridge dev --backend-cmd`` with streams running

SAMPLE = REPO / "docker" / "sample-extension"
# The sample backend, plus a child of the backend command that ignores SIGTERM: stopping the
# backend must not leave it behind when the backend itself exits on SIGTERM.
BACKEND_CMD = (
    "sh -c 'trap \"\" TERM; exec sleep 1000' & "
    'exec python3 backend/main.py --socket "$DDBRIDGE_BACKEND_SOCKET"'
)
# What a graceful shutdown may take: uvicorn's 5 s for connections, the kill grace of streams
# (3 s by default, spent in parallel) and the backend's 5 s; a hang would go far past it.
SHUTDOWN_BOUND = 15.0


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
async def test_signal_ends_streams_removes_the_backend_and_exits_0(
    bridge: Callable[..., RunningBridge], host_binaries: Path, signum: signal.Signals
) -> None:
    running = bridge(
        SAMPLE, "--backend-cmd", BACKEND_CMD, "--host-binaries", host_binaries, command="dev", timeout=30
    )
    runtime = backend_run_folder(running)
    async with BridgeClient.connect(running.ws_url) as client:
        assert (await get(client, "/hello"))["message"] == "Hello from the sample backend"  # type: ignore[index]
        ticker = await client.spawn({"target": "host", "cmd": "ticker", "args": ["100000"]})
        # "forever" ignores SIGTERM and leaves a child: only the kill grace's SIGKILL ends it.
        stubborn = await client.spawn({"target": "host", "cmd": "forever"})
        for stream in (ticker, stubborn):
            await asyncio.wait_for(stream.output.get(), 10)
        started = descendants(running.process.pid)
        commands = " | ".join(process.command for process in started)
        assert "backend/main.py" in commands and "sleep 1000" in commands
        tickers = running_binary(host_binaries / "ticker")
        assert tickers and set(tickers) <= set(started)

        signalled = time.monotonic()
        running.process.send_signal(signum)
        code = await asyncio.to_thread(running.process.wait, SHUTDOWN_BOUND)
        took = time.monotonic() - signalled
        print(f"{signum.name}: exit code {code} after {took:.2f} s")  # the figure for the report

        # Each stream ended: an exec.error or exec.exit came, or the connection closed under it.
        with pytest.raises(websockets.ConnectionClosed):
            await client.call("host.info", {}, timeout=5)
        for stream in (ticker, stubborn):
            assert stream.result.code is None, "the stream must not look like a normal exit"
    assert code == 0, running.log()
    assert took < SHUTDOWN_BOUND
    left = still_running_after(started)
    assert left == [], f"processes the daemon started outlive it: {left}"
    assert not runtime.exists()
    log = running.log()
    assert "Stopping the backend" in log and "Traceback" not in log, log


def test_the_process_scan_sees_a_child_and_its_end() -> None:
    """The /proc scan the shutdown tests rely on: it finds a grandchild, and sees it go."""
    with subprocess.Popen(["sh", "-c", "sleep 30 & wait"]) as shell:
        found: list[str] = []
        deadline = time.monotonic() + 10
        while not found and time.monotonic() < deadline:
            found = [p.command for p in descendants(os.getpid()) if p.command.startswith("sleep 30")]
            time.sleep(0.02)
        below = descendants(os.getpid())
        assert found, below
        shell.kill()
        sleep = [p for p in below if p.command.startswith("sleep 30")]
        assert still_running(sleep) == sleep  # the orphan lives on after its parent's death
        os.kill(sleep[0].pid, signal.SIGKILL)
        assert still_running_after(sleep, 10) == []

"""The limits of ``[limits]`` on a real daemon: each trips with a message naming it, and the
connections that kept within them go on working."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from contextlib import AsyncExitStack
from pathlib import Path

import pytest
import websockets

from bridge.testing import BridgeClient, RpcFailure
from tests.support.processes import RunningBridge

pytestmark = pytest.mark.integration


async def test_a_message_past_the_size_limit_closes_that_connection_only(
    bridge: Callable[..., RunningBridge],
) -> None:
    running = bridge(env={"DDBRIDGE_LIMITS_MESSAGE_BYTES": "4096"})
    async with BridgeClient.connect(running.ws_url) as bystander:
        async with websockets.connect(running.ws_url, max_size=None) as ws:
            await ws.send(
                '{"jsonrpc": "2.0", "id": 1, "method": "host.info", "params": {"x": "' + "x" * 5000 + '"}}'
            )
            with pytest.raises(websockets.ConnectionClosed) as closed:
                await ws.recv()
        assert closed.value.rcvd is not None
        assert closed.value.rcvd.code == 1009
        assert "exceeds limit of 4096 bytes" in closed.value.rcvd.reason
        assert (await bystander.call("host.info"))["platform"]


async def test_connections_past_the_limit_are_closed_with_the_reason(
    bridge: Callable[..., RunningBridge],
) -> None:
    running = bridge(env={"DDBRIDGE_LIMITS_CONNECTIONS": "3"})
    async with AsyncExitStack() as stack:
        clients = [await stack.enter_async_context(BridgeClient.connect(running.ws_url)) for _ in range(3)]
        async with websockets.connect(running.ws_url) as extra:
            with pytest.raises(websockets.ConnectionClosed) as closed:
                await extra.recv()
        assert closed.value.rcvd is not None
        assert closed.value.rcvd.code == 1013
        assert closed.value.rcvd.reason == "ddbridge: too many connections (3, [limits] connections)"
        for client in clients:
            assert (await client.call("host.info"))["platform"]
    # The others closed: room again, once the daemon has seen them go.
    for _ in range(50):
        async with BridgeClient.connect(running.ws_url) as later:
            with contextlib.suppress(ConnectionError):
                assert (await later.call("host.info"))["platform"]
                break
        await asyncio.sleep(0.1)
    else:
        pytest.fail("no room for a connection after the others closed")
    assert "refused a connection: 3 are open" in running.log()


async def test_streams_past_the_limits_are_refused_naming_the_setting(
    bridge: Callable[..., RunningBridge], host_binaries: Path
) -> None:
    running = bridge(
        "--host-binaries",
        host_binaries,
        env={"DDBRIDGE_LIMITS_STREAMS_PER_CONNECTION": "2", "DDBRIDGE_LIMITS_STREAMS": "3"},
    )
    ticker = {"target": "host", "cmd": "ticker"}
    async with BridgeClient.connect(running.ws_url) as first, BridgeClient.connect(running.ws_url) as second:
        streams = [await first.spawn(ticker) for _ in range(2)]
        with pytest.raises(RpcFailure) as refused:
            await first.spawn(ticker)
        assert refused.value.code == -32005
        assert (
            "too many streams on this connection (2 running, [limits] streams_per_connection)"
            in refused.value.message
        )
        assert refused.value.data == {"limit": "limits.streams_per_connection", "value": 2}
        await second.spawn(ticker)
        with pytest.raises(RpcFailure, match=r"too many streams on the daemon \(3 running for all pages"):
            await second.spawn(ticker)
        await streams[0].kill()
        await streams[0].finished()
        await first.spawn(ticker)  # room again once one ended


async def test_calls_past_the_in_flight_limit_are_refused_and_the_rest_answered(
    bridge: Callable[..., RunningBridge], host_binaries: Path
) -> None:
    running = bridge("--host-binaries", host_binaries, env={"DDBRIDGE_LIMITS_CALLS_PER_CONNECTION": "2"})
    slow = {"target": "host", "cmd": "ticker", "args": ["10"]}
    async with BridgeClient.connect(running.ws_url) as client:
        running_calls = [asyncio.create_task(client.call("exec.run", slow)) for _ in range(2)]
        await asyncio.sleep(0.2)  # both are running (ticker takes 0.5 s)
        with pytest.raises(RpcFailure) as refused:
            await client.call("host.info")
        assert refused.value.code == -32005
        assert (
            "too many calls in flight on this connection (2, [limits] calls_per_connection)"
            in refused.value.message
        )
        for call in running_calls:
            assert (await call)["code"] == 0
        assert (await client.call("host.info"))["platform"]

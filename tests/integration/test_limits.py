"""The limits of ``[limits]`` on a real daemon: each trips with a message naming it, and the
connections that kept within them go on working."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from contextlib import AsyncExitStack

import pytest
import websockets

from bridge.testing import BridgeClient
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

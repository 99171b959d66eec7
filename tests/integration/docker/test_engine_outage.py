"""No engine, or the engine going away and coming back, while the bridge keeps running.

Docker only: the outage is dockerd's restart (``EngineUnderTest.outage``)."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from bridge.testing import BridgeClient, RpcFailure
from tests.integration.docker.conftest import StartBridge
from tests.support.dockerd import EngineUnderTest
from tests.support.processes import RunningBridge

pytestmark = pytest.mark.integration


async def assert_unavailable(client: BridgeClient, host: str) -> None:
    for method, params in (
        ("docker.listContainers", {}),
        ("docker.listImages", {"options": {"all": True}}),
        ("exec.run", {"target": "vm", "cmd": "true"}),
        ("exec.spawn", {"target": "container:anything", "cmd": "true"}),
    ):
        with pytest.raises(RpcFailure) as failure:
            await client.call(method, params)
        assert failure.value.code == -32004, (method, failure.value)
        assert host in failure.value.message
        assert failure.value.data == {"host": host}


async def test_the_bridge_serves_without_an_engine(bridge: StartBridge, short_tmp: Path) -> None:
    host = f"unix://{short_tmp}/no-engine-here.sock"
    running: RunningBridge = bridge("--docker-host", host, "--vm-container", "backend")
    async with httpx.AsyncClient(headers=running.headers) as http:
        assert (await http.get(f"{running.url}healthz")).json()["status"] == "ok"
    async with BridgeClient.connect(running.ws_url) as client:
        await assert_unavailable(client, host)
        info = await client.call("host.info", {})
        assert info["platform"]


async def test_calls_work_again_once_the_engine_is_back(
    docker_bridge: StartBridge, engine: EngineUnderTest
) -> None:
    running = docker_bridge()
    async with BridgeClient.connect(running.ws_url) as client:
        assert engine.vm in str(await client.call("docker.listContainers", {}))
        with engine.outage():
            await assert_unavailable(client, engine.host)
        listed = await client.call("docker.listContainers", {})
        assert engine.vm in str(listed)
        result = await client.call("exec.run", {"target": "vm", "cmd": "echo", "args": ["back"]})
        assert result["stdout"] == "back\n"

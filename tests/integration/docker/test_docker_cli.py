"""The ``docker`` target: the real docker CLI, pointed at the bridge's engine."""

from __future__ import annotations

import asyncio
import json

import pytest

from bridge.testing import BridgeClient, RpcFailure
from tests.integration.docker.conftest import StartBridge
from tests.support.dockerd import EngineUnderTest

pytestmark = pytest.mark.integration


async def test_blocking_form_strips_one_level_of_quotes(
    client: BridgeClient, engine: EngineUnderTest
) -> None:
    """What minimal-docker-cli and Trivy send: ps --format '"{{json .}}"' (JS quoting)."""
    result = await client.call(
        "exec.run",
        {
            "target": "docker",
            "cmd": "ps",
            "args": ["--filter", f"name={engine.vm}", "--format", '"{{json .}}"'],
        },
    )
    assert result["code"] == 0, result["stderr"]
    rows = [json.loads(line) for line in result["stdout"].splitlines()]
    assert [row["Names"] for row in rows] == [engine.vm]
    single = await client.call(
        "exec.run", {"target": "docker", "cmd": "inspect", "args": ["--format", "'{{.Name}}'", engine.vm]}
    )
    assert single["stdout"] == f"/{engine.vm}\n"


async def test_streaming_form_passes_arguments_as_given(
    client: BridgeClient, engine: EngineUnderTest
) -> None:
    stream = await client.spawn(
        {"target": "docker", "cmd": "inspect", "args": ["--format", '"{{.Name}}"', engine.vm]}
    )
    outcome = await stream.finished()
    assert (outcome.code, outcome.text("stdout")) == (0, f'"/{engine.vm}"\n')


async def test_failures_come_back_as_results(client: BridgeClient) -> None:
    result = await client.call(
        "exec.run", {"target": "docker", "cmd": "inspect", "args": ["no-such-thing-x"]}
    )
    assert result["code"] == 1
    assert "no-such-thing-x" in result["stderr"]


async def test_logs_follow_streams_until_killed(client: BridgeClient, engine: EngineUnderTest) -> None:
    ticker = engine.run_container(
        "ticker", "sh", "-c", "i=0; while true; do echo tick $i; i=$((i+1)); sleep 0.1; done"
    )
    stream = await client.spawn({"target": "docker", "cmd": "logs", "args": ["-f", ticker]})
    seen = ""
    while "tick 3" not in seen:
        _, text = await asyncio.wait_for(stream.output.get(), 10)
        seen += text
    assert seen.startswith("tick 0\ntick 1\n")
    await stream.kill()
    outcome = await stream.finished()
    assert outcome.code == 143  # the CLI exits 128+15 on SIGTERM by itself


async def test_no_docker_binary_is_a_clear_error(bridge: StartBridge, engine: EngineUnderTest) -> None:
    running = bridge("--docker-host", engine.host, env={"PATH": "/nonexistent"})
    async with BridgeClient.connect(running.ws_url) as client:
        for method in ("exec.run", "exec.spawn"):
            with pytest.raises(RpcFailure) as failure:
                await client.call(method, {"target": "docker", "cmd": "ps"})
            assert failure.value.code == -32002
            assert "docker CLI is not installed" in failure.value.message
            assert failure.value.data == {"target": "docker", "cmd": "ps"}

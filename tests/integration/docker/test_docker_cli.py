"""The ``docker`` target: the real docker CLI, pointed at the bridge's engine."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from bridge.testing import BridgeClient, RpcFailure
from tests.integration.docker.conftest import StartBridge
from tests.support.dockerd import LABEL, EngineUnderTest

pytestmark = [pytest.mark.integration, pytest.mark.engines("docker", "podman")]


async def docker_run(client: BridgeClient, cmd: str, *args: str) -> dict[str, Any]:
    """The blocking form, as ``ddClient.docker.cli.exec(cmd, args)`` sends it."""
    result: dict[str, Any] = await client.call(
        "exec.run", {"target": "docker", "cmd": cmd, "args": list(args)}
    )
    return result


@pytest.fixture
def volume(engine: EngineUnderTest) -> Iterator[str]:
    name = f"ddbridge-test-volume-{engine.token}"
    engine.docker("volume", "create", f"--label={LABEL}={engine.token}", name)
    yield name
    engine.docker("volume", "rm", "-f", name, check=False)


async def test_blocking_form_removes_quotes_as_a_shell_does(
    client: BridgeClient, engine: EngineUnderTest
) -> None:
    """What minimal-docker-cli and Trivy send: ps --format '"{{json .}}"' (JS quoting)."""
    result = await docker_run(client, "ps", "--filter", f"name={engine.vm}", "--format", '"{{json .}}"')
    assert result["code"] == 0, result["stderr"]
    rows = [json.loads(line) for line in result["stdout"].splitlines()]
    assert [row["Names"] for row in rows] == [engine.vm]
    single = await docker_run(client, "inspect", "--format", "'{{.Name}}'", engine.vm)
    assert single["stdout"] == f"/{engine.vm}\n"


async def test_a_quoted_part_of_an_argument_loses_its_quotes(client: BridgeClient, volume: str) -> None:
    listed = await docker_run(client, "volume", "ls", "--filter", f"name={volume}", '--format="{{ .Name }}"')
    assert (listed["code"], listed["stdout"]) == (0, f"{volume}\n"), listed["stderr"]


async def test_an_argument_with_spaces_is_several_words(
    client: BridgeClient, engine: EngineUnderTest
) -> None:
    name = f"ddbridge-test-words-{engine.token}"
    created = await docker_run(
        client,
        "create",
        f"--label {LABEL}={engine.token}",
        "--label com.x=true",
        "--label",
        'k="v"',
        "--label",
        "'quoted=\"kept\"'",
        "--name",
        name,
        engine.image,
        "true",
    )
    assert created["code"] == 0, created["stderr"]
    labels = json.loads(engine.docker("inspect", "--format", "{{json .Config.Labels}}", name).stdout)
    assert labels == {LABEL: engine.token, "com.x": "true", "k": "v", "quoted": '"kept"'}


async def test_a_bind_mount_with_a_quoted_source(
    client: BridgeClient, engine: EngineUnderTest, tmp_path: Path
) -> None:
    """The case docker/extensions-sdk #303 reports working in Docker Desktop's blocking form; a
    space in the quoted source stays in it."""
    mounted = tmp_path / "some dir"
    mounted.mkdir()
    (mounted / "seen-through-the-mount").write_text("")
    result = await docker_run(
        client,
        "run",
        "--rm",
        f"--label={LABEL}={engine.token}",
        "--mount",
        f'type=bind,source="{mounted}",target=/x',
        engine.image,
        "ls",
        "/x",
    )
    assert (result["code"], result["stdout"]) == (0, "seen-through-the-mount\n"), result["stderr"]


async def test_an_empty_argument_vanishes_and_cmd_may_be_two_words(
    client: BridgeClient, engine: EngineUnderTest
) -> None:
    ran = await docker_run(client, "run", "--rm", "", f"--label={LABEL}={engine.token}", engine.image, "true")
    assert ran["code"] == 0, ran["stderr"]
    inspected = await docker_run(client, "image inspect", "--format", "{{.Id}}", engine.image)
    assert inspected["code"] == 0, inspected["stderr"]
    assert inspected["stdout"].startswith("sha256:")
    empty_word = await docker_run(client, "run", "--rm", "''", engine.image)
    assert empty_word["code"] != 0 and "invalid reference format" in empty_word["stderr"]


@pytest.mark.parametrize(("cmd", "args"), [("ps", ["--format", "'{{.Names}}"]), ('"ps', ["-a"])])
async def test_an_unclosed_quote_is_invalid_params_naming_the_command(
    client: BridgeClient, cmd: str, args: list[str]
) -> None:
    with pytest.raises(RpcFailure) as failure:
        await docker_run(client, cmd, *args)
    assert failure.value.code == -32602
    assert f"docker {cmd!r}" in failure.value.message and "never closed" in failure.value.message


async def test_streaming_form_passes_arguments_as_given(
    client: BridgeClient, engine: EngineUnderTest
) -> None:
    """docker/extensions-sdk #303: with ``stream`` Docker Desktop does not split or unquote."""
    stream = await client.spawn(
        {"target": "docker", "cmd": "inspect", "args": ["--format", '"{{.Name}}"', engine.vm]}
    )
    outcome = await stream.finished()
    assert (outcome.code, outcome.text("stdout")) == (0, f'"/{engine.vm}"\n')
    spaced = await client.spawn(
        {"target": "docker", "cmd": "run", "args": ["--rm", "--label com.x=true", engine.image, "true"]}
    )
    refused = await spaced.finished()
    assert refused.code != 0 and "unknown flag: --label com.x" in refused.text("stderr")


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

"""Container execs (targets ``vm`` and ``container:NAME``) through a real bridge and engine."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path
from typing import Any

import pytest
import websockets

from bridge.testing import BridgeClient, RpcFailure
from tests.integration.docker.conftest import StartBridge
from tests.support.dockerd import EngineUnderTest

pytestmark = [pytest.mark.integration, pytest.mark.engines("docker", "podman")]


async def run(client: BridgeClient, target: str, script: str, **extra: object) -> dict[str, Any]:
    result: dict[str, Any] = await client.call(
        "exec.run", {"target": target, "cmd": "sh", "args": ["-c", script], **extra}
    )
    return result


def matching(engine: EngineUnderTest, container: str, prefix: str) -> list[str]:
    """The container's processes whose command line starts with ``prefix``."""
    return [line for line in engine.processes(container) if line.startswith(prefix)]


def wait_gone(engine: EngineUnderTest, container: str, prefix: str, timeout: float = 10) -> list[str]:
    """``matching`` once none are left, or what is still there when ``timeout`` runs out."""
    deadline = time.monotonic() + timeout
    while True:
        left = matching(engine, container, prefix)
        if not left or time.monotonic() > deadline:
            return left
        time.sleep(0.1)


async def test_stdout_and_stderr_are_split(client: BridgeClient) -> None:
    result = await run(client, "vm", "echo out; echo err >&2; echo more")
    assert result == {
        "cmd": "sh",
        "code": 0,
        "signal": None,
        "killed": False,
        "stdout": "out\nmore\n",
        "stderr": "err\n",
    }


@pytest.mark.parametrize("code", [0, 1, 3, 255])
async def test_exit_codes(client: BridgeClient, code: int) -> None:
    result = await run(client, "vm", f"echo bye; exit {code}")
    assert (result["code"], result["stdout"]) == (code, "bye\n")


async def test_argv_is_not_a_shell(client: BridgeClient) -> None:
    result = await client.call("exec.run", {"target": "vm", "cmd": "echo", "args": ["$HOME", "a;b", "*"]})
    assert result["stdout"] == "$HOME a;b *\n"


async def test_cwd_and_env(client: BridgeClient) -> None:
    result = await run(client, "vm", 'pwd; echo "$GREETING"', cwd="/work/sub", env={"GREETING": "hé there"})
    assert result["stdout"] == "/work/sub\nhé there\n"


async def test_exec_in_a_named_container(client: BridgeClient, engine: EngineUnderTest) -> None:
    """v0 execInContainer(name, cmd) arrives as sh -c cmd on target container:NAME."""
    other = engine.run_container("named", "sleep", "600")
    result = await run(client, f"container:{other}", "hostname; echo $((6 * 7))")
    assert result["code"] == 0
    assert result["stdout"].endswith("\n42\n")


async def test_unknown_container_is_named(client: BridgeClient) -> None:
    with pytest.raises(RpcFailure) as failure:
        await run(client, "container:no-such-box", "true")
    assert failure.value.code == -32002
    assert "no-such-box" in failure.value.message
    assert failure.value.data == {"target": "container:no-such-box", "cmd": "sh"}


async def test_unknown_command_and_bad_cwd_are_exec_errors(client: BridgeClient) -> None:
    with pytest.raises(RpcFailure) as missing:
        await client.call("exec.run", {"target": "vm", "cmd": "no-such-tool"})
    assert missing.value.code == -32002
    assert "no-such-tool" in missing.value.message
    with pytest.raises(RpcFailure) as bad_cwd:
        await client.call("exec.run", {"target": "vm", "cmd": "pwd", "cwd": "/no/such/dir"})
    assert bad_cwd.value.code == -32002
    assert "/no/such/dir" in bad_cwd.value.message


async def test_vm_target_needs_a_vm_container(bridge: StartBridge, engine: EngineUnderTest) -> None:
    async with BridgeClient.connect(bridge("--docker-host", engine.host).ws_url) as client:
        with pytest.raises(RpcFailure) as failure:
            await run(client, "vm", "true")
    assert failure.value.code == -32007
    assert "--vm-container" in failure.value.message
    assert failure.value.data == {"setting": "docker.vm_container"}


async def test_streamed_output_and_exit(client: BridgeClient) -> None:
    stream = await client.spawn(
        {"target": "vm", "cmd": "sh", "args": ["-c", "echo one; sleep 0.2; echo two >&2; exit 4"]}
    )
    outcome = await stream.finished()
    assert (outcome.text("stdout"), outcome.text("stderr"), outcome.code) == ("one\n", "two\n", 4)
    assert outcome.chunks[0] == ("stdout", "one\n")  # sent before the process went on


async def test_unicode_split_across_chunks_stays_whole(client: BridgeClient) -> None:
    """ "é" (c3 a9) and "😀" (f0 9f 98 80) written a byte at a time, with pauses between."""
    script = 'for b in c3 a9 f0 9f 98 80; do printf "\\\\x$b"; sleep 0.05; done'
    stream = await client.spawn({"target": "vm", "cmd": "sh", "args": ["-c", script]})
    outcome = await stream.finished()
    assert outcome.text("stdout") == "é😀"
    assert all("\ufffd" not in text for _, text in outcome.chunks)
    assert len(outcome.chunks) >= 2  # it really arrived in pieces
    blocking = await run(client, "vm", script)
    assert blocking["stdout"] == "é😀"


async def test_large_output_streams_whole(client: BridgeClient) -> None:
    size = 100 * 1024 * 1024
    started = time.monotonic()
    stream = await client.spawn(
        {"target": "vm", "cmd": "sh", "args": ["-c", f"yes 0123456789abcdef | head -c {size}"]}
    )
    received = 0
    while received < size:
        _, text = await asyncio.wait_for(stream.output.get(), 20)
        received += len(text)
    outcome = await stream.finished()
    assert (received, outcome.code) == (size, 0)
    assert time.monotonic() - started < 20


async def test_blocking_output_cap(docker_bridge: StartBridge, engine: EngineUnderTest) -> None:
    running = docker_bridge(env={"DDBRIDGE_EXEC_MAX_OUTPUT": "100000"})
    async with BridgeClient.connect(running.ws_url) as client:
        with pytest.raises(RpcFailure) as failure:
            await run(client, "vm", "yes ddbridge-cap-test")
        assert failure.value.code == -32005
        assert failure.value.data == {"limit": "exec.max_output", "value": 100000}
        assert "stream" in failure.value.message  # points to the streaming form
        small = await run(client, "vm", "echo fits")
        assert small["stdout"] == "fits\n"
    assert wait_gone(engine, engine.vm, "yes ddbridge-cap-test") == []


async def test_close_ends_the_process_inside_the_container(
    client: BridgeClient, engine: EngineUnderTest
) -> None:
    """The shell ignores SIGTERM and has a background child: both end (TERM, then KILL)."""
    script = "trap '' TERM; sleep 3001 & sleep 3002 & echo started; wait"
    stream = await client.spawn({"target": "vm", "cmd": "sh", "args": ["-c", script]})
    assert await asyncio.wait_for(stream.output.get(), 10) == ("stdout", "started\n")
    assert matching(engine, engine.vm, "sleep 300") == ["sleep 3001", "sleep 3002"]
    await stream.kill()
    outcome = await stream.finished()
    assert outcome.code is not None and outcome.code > 128
    assert outcome.signal in ("SIGTERM", "SIGKILL")
    assert wait_gone(engine, engine.vm, "sleep 300") == []


async def test_close_ends_a_shell_that_restarts_what_is_killed(
    client: BridgeClient, engine: EngineUnderTest
) -> None:
    """A loop that starts its child again as soon as it dies gets no turn to: the kill stops
    every process of the exec before it kills any (in /proc's order the child may come first)."""
    script = "trap '' TERM; echo started; while :; do sleep 3003; done"
    stream = await client.spawn({"target": "vm", "cmd": "sh", "args": ["-c", script]})
    assert await asyncio.wait_for(stream.output.get(), 10) == ("stdout", "started\n")
    await stream.kill()  # the TERM pass and its grace leave the loop's sleep running by the KILL
    outcome = await stream.finished()
    assert (outcome.code, outcome.signal) == (137, "SIGKILL")
    assert wait_gone(engine, engine.vm, "sleep 3003") == []


async def test_close_reaches_processes_that_left_the_session(
    client: BridgeClient, engine: EngineUnderTest
) -> None:
    """A child in a new session, no longer in the exec's process group, still carries the
    exec's marker and ends with it."""
    script = "setsid sleep 3101 & echo started; sleep 3102"
    stream = await client.spawn({"target": "vm", "cmd": "sh", "args": ["-c", script]})
    assert await asyncio.wait_for(stream.output.get(), 10) == ("stdout", "started\n")
    await stream.kill()
    await stream.finished()
    assert wait_gone(engine, engine.vm, "sleep 310") == []


async def test_closing_the_websocket_ends_every_stream(
    docker_bridge: StartBridge, engine: EngineUnderTest
) -> None:
    running = docker_bridge()
    other = engine.run_container("wsclose", "sleep", "600")
    async with BridgeClient.connect(running.ws_url) as client:
        streams = [
            await client.spawn({"target": "vm", "cmd": "sleep", "args": ["3201"]}),
            await client.spawn({"target": "vm", "cmd": "sh", "args": ["-c", "sleep 3202 & sleep 3203"]}),
            await client.spawn({"target": f"container:{other}", "cmd": "sleep", "args": ["3204"]}),
        ]
        assert len(streams) == 3
        deadline = time.monotonic() + 10
        while len(matching(engine, engine.vm, "sleep 320")) < 3:
            assert time.monotonic() < deadline, engine.processes(engine.vm)
            await asyncio.sleep(0.05)
    assert wait_gone(engine, engine.vm, "sleep 320") == []
    assert wait_gone(engine, other, "sleep 320") == []


async def test_slow_reader_does_not_grow_the_daemon(
    docker_bridge: StartBridge, engine: EngineUnderTest
) -> None:
    """A page that stops reading stalls the process; the daemon's memory stays flat.

    A raw WebSocket that never reads (the test client would read everything into a queue):
    once the socket buffers fill, the daemon's awaited sends hold the pump, the engine's copy
    stops and ``yes`` blocks on its pipe.
    """
    running = docker_bridge()
    spawn = {"jsonrpc": "2.0", "id": 1, "method": "exec.spawn", "params": {"target": "vm", "cmd": "yes"}}
    async with websockets.connect(running.ws_url, max_queue=1, max_size=None, close_timeout=0.5) as websocket:
        await websocket.send(json.dumps(spawn))
        await asyncio.sleep(1)
        before = _rss(running.process.pid)
        await asyncio.sleep(2)
        after = _rss(running.process.pid)
    assert after - before < 16 * 1024 * 1024, (before, after)
    assert wait_gone(engine, engine.vm, "yes") == []


def _rss(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise AssertionError(f"no VmRSS for {pid}")


def state(engine: EngineUnderTest, container: str) -> str:
    """The container's status (``running``, ``exited``, ``paused``...), or ``gone``."""
    found = engine.docker("inspect", "-f", "{{.State.Status}}", container, check=False)
    return found.stdout.strip() if found.returncode == 0 else "gone"


# Container names that would climb to, or append, another Engine API endpoint to
# /containers/NAME/exec, written every way the path could carry them.
ATTACKS = [
    "{victim}/pause?x=",
    "{victim}/kill?signal=KILL&x=",
    "{victim}?x=",
    "{victim}#",
    "{victim}%2Fpause%3Fx=",
    "/{victim}/stop?t=0&x=",
    "../../containers/prune?x=",
    "..%2F..%2Fcontainers%2Fprune%3Fx=",
    "../{stopped}?force=1&x=",
    "{victim}/../{stopped}?force=1&x=",
    ".",
    "..",
    "{victim} ",
    "{victim}\n",
    "vi\u0441tim",
]


async def test_container_names_cannot_reach_other_engine_endpoints(
    client: BridgeClient, engine: EngineUnderTest
) -> None:
    """A ``container:`` name outside Docker's grammar is refused as the page's ``target``, for
    blocking and streamed execs alike, and no container is paused, stopped or removed."""
    victim = engine.run_container("victim", "sleep", "600")
    stopped = engine.run_container("stopped", "true", detach=False)
    for attack in ATTACKS:
        target = "container:" + attack.format(victim=victim, stopped=stopped)
        for method in ("exec.run", "exec.spawn"):
            with pytest.raises(RpcFailure) as refused:
                await client.call(method, {"target": target, "cmd": "true"})
            assert refused.value.code == -32602, (target, refused.value.message)
            assert refused.value.data["errors"][0]["field"] == "target"
    assert (state(engine, victim), state(engine, stopped)) == ("running", "exited")
    result = await run(client, f"container:/{victim}", "echo still here")
    assert result["stdout"] == "still here\n"
    engine.docker("rm", "-f", victim, stopped)  # an exited test container would show in other lists


async def test_a_vm_container_outside_the_grammar_is_not_used(
    bridge: StartBridge, engine: EngineUnderTest
) -> None:
    victim = engine.run_container("vm-victim", "sleep", "600")
    running = bridge("--docker-host", engine.host, "--vm-container", f"{victim}/pause?x=")
    async with BridgeClient.connect(running.ws_url) as client:
        with pytest.raises(RpcFailure) as refused:
            await run(client, "vm", "true")
    assert refused.value.code == -32007
    assert refused.value.data == {"setting": "docker.vm_container"}
    assert state(engine, victim) == "running"


async def test_container_execs_count_against_the_process_limit(
    docker_bridge: StartBridge, engine: EngineUnderTest
) -> None:
    running = docker_bridge(env={"DDBRIDGE_LIMITS_PROCESSES_PER_CONNECTION": "2"})
    sleeper = {"target": "vm", "cmd": "sleep", "args": ["31"]}
    async with BridgeClient.connect(running.ws_url) as client:
        stream = await client.spawn(sleeper)
        # One frame of blocking execs: its members start at once, in the container.
        batch = [
            {"jsonrpc": "2.0", "id": n, "method": "exec.run", "params": {**sleeper, "args": ["1"]}}
            for n in range(4)
        ]
        async with websockets.connect(running.ws_url, max_size=None) as ws:
            await ws.send(json.dumps(batch))
            answers = json.loads(await ws.recv())
        assert sum("result" in answer for answer in answers) == 2  # its own connection's limit
        refused = [answer for answer in answers if "error" in answer]
        assert {answer["error"]["data"]["limit"] for answer in refused} == {"limits.processes_per_connection"}
        another = asyncio.create_task(client.call("exec.run", {**sleeper, "args": ["1"]}))
        await asyncio.sleep(0.5)
        with pytest.raises(RpcFailure) as failure:
            await client.call("exec.run", {**sleeper, "args": ["1"]})
        assert failure.value.data == {"limit": "limits.processes_per_connection", "value": 2}
        assert (await another)["code"] == 0
        await stream.kill()
        await stream.finished()
        assert (await client.call("exec.run", {"target": "vm", "cmd": "true"}))["code"] == 0
    assert wait_gone(engine, engine.vm, "sleep 31") == []

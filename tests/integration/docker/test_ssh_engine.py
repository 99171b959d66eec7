"""An engine on another machine over ``ssh://root@ADDR`` (tests/support/remote.py: a network and
mount namespace with its own dockerd and sshd): lists, execs and the docker CLI reach that engine
and not this machine's; ``ddbridge run`` of a compose-backed extension makes its run folder there,
reaches the backend's socket through a forward, survives the connection dropping, and leaves
nothing there; a refused login or forward is one line."""

from __future__ import annotations

import asyncio
import json
import os
import re
import shutil
import subprocess
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

from bridge.errors import DockerUnavailable
from bridge.testing import BridgeClient, RpcFailure
from tests.integration.docker.conftest import StartBridge
from tests.integration.docker.test_container_exec import wait_gone
from tests.integration.docker.test_extension_image import NAME, check_backend, one_error_line, runtime_of
from tests.support.dockerd import EngineUnderTest
from tests.support.images import ExtensionImages, extension_containers
from tests.support.processes import descendants, host_processes, run_ddbridge, still_running
from tests.support.remote import RemoteHost

pytestmark = pytest.mark.integration


@pytest.fixture
def ssh_bridge(bridge: StartBridge, remote: RemoteHost) -> StartBridge:
    """A bridge (``command=`` serve, run...) on the second machine's engine, over ssh."""

    def start(*args: str | Path, command: str = "serve", timeout: float = 20) -> Any:
        return bridge(*args, "--docker-host", remote.url, env=remote.env(), command=command, timeout=timeout)

    return start


async def names(client: BridgeClient) -> set[str]:
    listed = await client.call("docker.listContainers", {"options": {"all": True}})
    return {name.lstrip("/") for container in listed for name in container["Names"]}


async def eventually(check: Callable[[], Awaitable[bool]], what: str, timeout: float = 15) -> None:
    deadline = time.monotonic() + timeout
    while not await check():
        assert time.monotonic() < deadline, f"not within {timeout} s: {what}"
        await asyncio.sleep(0.1)


async def test_lists_execs_and_the_cli_reach_the_remote_engine(
    ssh_bridge: StartBridge, remote: RemoteHost, engine: EngineUnderTest
) -> None:
    vm = remote.docker.vm
    running = ssh_bridge("--vm-container", vm)
    async with BridgeClient.connect(running.ws_url) as client:
        listed = await names(client)
        assert vm in listed and engine.vm not in listed

        stream = await client.spawn({"target": "vm", "cmd": "sleep", "args": ["3301"]})
        deadline = time.monotonic() + 10
        while "sleep 3301" not in remote.docker.processes(vm):
            assert time.monotonic() < deadline, "the exec never ran on the remote engine"
            await asyncio.sleep(0.1)
        await stream.kill()
        await stream.finished()
        assert wait_gone(remote.docker, vm, "sleep 3301") == []

        cli = await client.call(
            "exec.run", {"target": "docker", "cmd": "ps", "args": ["--format", "{{.Names}}"]}
        )
        assert vm in cli["stdout"].split() and engine.vm not in cli["stdout"]
    assert "/tmp/ddbridge-" not in running.log()

    # A daemon killed outright leaves no ssh connection behind (the kernel ends its master).
    masters = [process for process in descendants(running.process.pid) if " -M -N " in process.command]
    assert len(masters) == 1
    running.process.kill()
    running.process.wait()

    async def master_gone() -> bool:
        return not still_running(masters) and not remote.sessions()

    await eventually(master_gone, "the master gone with its daemon", 5)
    # Its folder (control socket, engine forward) is what a killed daemon cannot remove.
    (control,) = re.findall(r" -S (\S+/ctl) ", masters[0].command)
    shutil.rmtree(Path(control).parent)


async def test_run_on_the_remote_engine_survives_a_dropped_connection_and_leaves_nothing(
    ssh_bridge: StartBridge, remote: RemoteHost, remote_images: ExtensionImages, tmp_path: Path
) -> None:
    running = ssh_bridge(remote_images.sample, "--cache-dir", tmp_path, command="run", timeout=120)
    await check_backend(running.ws_url, remote.docker, NAME)
    (container,) = extension_containers(remote.docker, NAME)
    # The folder the backend binds is there, on the remote's own /tmp: the socket the backend made
    # in it is there; here is the forward of it, next to the compose override only this side has.
    runtime = runtime_of(remote.docker, container)
    socket = runtime / "guest-services" / "backend.sock"
    assert remote.run("test", "-S", str(socket)).returncode == 0
    assert socket.is_socket()
    assert (runtime / "compose.ddbridge.yaml").is_file()
    assert remote.run("test", "-e", str(runtime / "compose.ddbridge.yaml")).returncode == 1

    async with BridgeClient.connect(running.ws_url) as client:
        remote.stop_sshd()
        failure: RpcFailure | None = None

        async def fails() -> bool:
            nonlocal failure
            try:
                await client.call("docker.listContainers", {})
            except RpcFailure as exc:
                failure = exc
                return True
            return False

        try:
            await eventually(fails, "a call failing once the connection is gone")
            # Which reason comes first is a race (the forward refusing, or the master seen gone):
            # either way the call is DockerUnavailable naming the ssh address, never the local socket.
            assert failure is not None and failure.code == DockerUnavailable.code
            assert failure.message.startswith(f"cannot reach the Docker engine at {remote.url}: "), failure
            assert "/tmp/ddbridge-" not in failure.message
            with pytest.raises(RpcFailure):
                await client.call("service.request", {"method": "GET", "url": "/hello"})
        finally:
            remote.start_sshd()

        async def backend_answers() -> bool:
            try:
                hello = await client.call("service.request", {"method": "GET", "url": "/hello"})
                await client.call("exec.run", {"target": "vm", "cmd": "true"})
            except RpcFailure:
                return False
            return bool(hello["message"] == "Hello from the sample backend")

        await eventually(backend_answers, "the engine and the backend's forward back after reconnecting")
    log = running.log()
    assert f"lost the ssh connection to {remote.url}" in log and f"reconnected to {remote.url}" in log

    # One connection, made again once: the engine clients of the run and of the pages share it.
    masters = re.findall(rf"connected to {re.escape(remote.url)} over ssh \(pid (\d+)\)", log)
    assert len(masters) == 2
    assert running.stop() == 0
    assert extension_containers(remote.docker, NAME) == []
    assert remote.run("ls", "-A", "/tmp").stdout.split() == []
    assert not runtime.exists()
    assert not [process for process in host_processes() if str(process.pid) in masters]
    deadline = time.monotonic() + 5
    while remote.sessions():
        assert time.monotonic() < deadline, "an ssh connection outlived ddbridge"
        await asyncio.sleep(0.1)


@pytest.mark.parametrize("case", ["bad key", "refused forward"])
def test_a_refused_login_or_forward_is_one_line(remote: RemoteHost, case: str) -> None:
    if case == "bad key":
        url, env, expected = remote.url, remote.env("bad_ssh_config"), "Permission denied (publickey)"
    else:
        remote.start_sshd(2222, forwarding=False)
        url, env, expected = f"{remote.url}:2222", remote.env(), "AllowStreamLocalForwarding yes"
    try:
        argv = ["run", "ddbridge-test/none", "--port", "0", "--docker-host", url]
        result = run_ddbridge(*argv, env={**os.environ, **env})
    finally:
        remote.stop_sshd(2222)
    assert result.returncode == 1
    line = one_error_line(result)
    assert line.startswith(f"ddbridge: cannot reach the Docker engine at {url}: ") and expected in line


async def test_a_context_the_cli_made_names_the_ssh_engine(
    bridge: StartBridge, remote: RemoteHost, engine: EngineUnderTest, tmp_path: Path
) -> None:
    """``docker context create --docker host=ssh://…`` by the real CLI, chosen with ``--context``
    (which beats a DOCKER_HOST, as the CLI's flag does): the lists and the CLI reach the second
    machine's engine, and the start lines say so."""
    config = {"DOCKER_CONFIG": str(tmp_path / "docker-config")}
    made = subprocess.run(
        ["docker", "context", "create", "far", "--docker", f"host={remote.url}"],
        env={**os.environ, **config},
        capture_output=True,
        text=True,
        check=False,
    )
    assert made.returncode == 0, made.stderr
    running = bridge("--context", "far", "--vm-container", remote.docker.vm, env={**remote.env(), **config})
    async with BridgeClient.connect(running.ws_url) as client:
        listed = await names(client)
        assert remote.docker.vm in listed and engine.vm not in listed
        cli = await client.call(
            "exec.run", {"target": "docker", "cmd": "ps", "args": ["--format", "{{.Names}}"]}
        )
        assert remote.docker.vm in cli["stdout"].split()
    assert f"engine: {remote.url} (context 'far' from" in running.log()


def test_doctor_checks_the_ssh_engine_and_its_machine(remote: RemoteHost) -> None:
    """``ddbridge doctor`` on the second machine's engine: every capability there, socket reach in
    a folder made on that machine (and removed after), the docker CLI on the same engine."""
    result = run_ddbridge(
        "doctor",
        "--docker-host",
        remote.url,
        "--image",
        remote.docker.image,
        "--json",
        env={**os.environ, **remote.env()},
    )
    assert result.returncode == 0, result.stdout + result.stderr
    report = json.loads(result.stdout)
    checks = {check["name"]: check for check in report["checks"]}
    wanted = ["engine", "lists", "exec", "exec close", "docker CLI", "compose", "socket reach"]
    assert {name: checks[name]["status"] for name in wanted} == dict.fromkeys(wanted, "pass"), report
    (folder,) = re.findall(r"appeared in (\S+) on the engine's machine", checks["socket reach"]["detail"])
    assert remote.run("test", "-e", folder).returncode != 0  # removed there after
    assert not Path(folder).exists()
    assert remote.run("ls", "-A", "/tmp").stdout.split() == []  # nothing else left there either

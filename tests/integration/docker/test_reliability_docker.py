"""Reliability (issue 6, item 4) with a Docker engine: the engine stopping under a running
container exec stream, and SIGTERM/SIGINT shutting down ``ddbridge dev`` with its backend
container and streams running.

The engine-free part is in tests/integration/test_reliability.py. The shutdown runs on Podman
too; the engine stopping is Docker's only (``EngineUnderTest.outage`` restarts dockerd with
live-restore; Podman's containers do not depend on its service at all).
"""

from __future__ import annotations

import asyncio
import json
import signal
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import websockets

from bridge.testing import BridgeClient
from tests.browser.helpers import wait_for
from tests.integration.docker.conftest import StartBridge
from tests.support.dockerd import EngineUnderTest
from tests.support.images import extension_containers
from tests.support.processes import descendants, running_binary, still_running_after

pytestmark = pytest.mark.integration

# A shell loop that writes a line every 0.1 s until it is ended; its text finds it in `ps`.
TICKS = "i=0; while true; do echo reliability-tick $i; i=$((i+1)); sleep 0.1; done"
# A stream must end this soon after its engine is told to stop (stopping dockerd included); it
# would otherwise hang until the page gives up.
STREAM_END_BOUND = 5.0


def loop_processes(engine: EngineUnderTest) -> list[str]:
    return [line for line in engine.processes(engine.vm) if "reliability-tick" in line]


async def test_engine_stop_mid_stream_ends_it_with_exec_error_and_later_calls_work(
    docker_bridge: StartBridge, engine: EngineUnderTest
) -> None:
    running = docker_bridge()
    async with BridgeClient.connect(running.ws_url) as client:
        stream = await client.spawn({"target": "vm", "cmd": "sh", "args": ["-c", TICKS]})
        await asyncio.wait_for(stream.output.get(), 10)
        stopping = time.monotonic()
        with engine.outage():
            result = await stream.finished(timeout=STREAM_END_BOUND)
            took = time.monotonic() - stopping
            print(f"the stream ended {took:.2f} s after the engine was told to stop: {result.error}")
            assert result.error is not None, f"ended as a normal exit: {result}"
            assert result.code is None
            assert engine.host in result.error
        # Once the engine is back, the same connection runs commands and streams again...
        echoed = await client.call("exec.run", {"target": "vm", "cmd": "echo", "args": ["back"]})
        assert echoed["stdout"] == "back\n"
        again = await client.spawn({"target": "vm", "cmd": "sh", "args": ["-c", "echo one; echo two"]})
        finished = await again.finished(timeout=30)
        assert (finished.code, finished.text("stdout")) == (0, "one\ntwo\n")
    # ...and the command the broken stream ran does not live on in the container: with
    # live-restore it survives the engine's restart, with nobody reading it, until the bridge's
    # background sweep (retried while the engine is away) ends it.
    wait_for(lambda: not loop_processes(engine), 15, "the broken stream's command to be ended")


# --------------------------------------------------------------------------------------------
# Graceful shutdown of ``ddbridge dev`` with a backend container

NAME = "reliable-ext"
# What a graceful shutdown may take: the streams' kill grace (3 s), the backend container's
# stop and removal; a hang would go far past it.
SHUTDOWN_BOUND = 20.0


@pytest.fixture(scope="module")
def backend_image(engine: EngineUnderTest) -> Iterator[str]:
    """The test image with a command that runs until SIGTERM (sh as PID 1 needs a trap)."""
    tag = f"ddbridge-test/reliable-backend:{engine.token}"
    command = ["sh", "-c", "trap 'exit 0' TERM; while :; do sleep 0.2; done"]
    dockerfile = f"FROM {engine.image}\nCMD {json.dumps(command)}\n"
    engine.docker("build", "-t", tag, "-", input=dockerfile.encode())
    yield tag
    engine.docker("rmi", "-f", tag, check=False)


@pytest.fixture
def extension_folder(tmp_path: Path) -> Path:
    """An extension whose backend is one container of ``--image`` (no socket: it is the vm)."""
    folder = tmp_path / NAME
    (folder / "ui").mkdir(parents=True)
    (folder / "ui" / "index.html").write_text("<html><head></head><body>reliable</body></html>")
    metadata = {
        "ui": {"dashboard-tab": {"title": "Reliable", "root": "/ui", "src": "index.html"}},
        "vm": {"image": "${DESKTOP_PLUGIN_IMAGE}"},
    }
    (folder / "metadata.json").write_text(json.dumps(metadata))
    return folder


@pytest.mark.engines("docker", "podman")
@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
async def test_signal_ends_streams_removes_the_backend_container_and_exits_0(
    bridge: StartBridge,
    engine: EngineUnderTest,
    backend_image: str,
    extension_folder: Path,
    host_binaries: Path,
    signum: signal.Signals,
) -> None:
    running = bridge(
        extension_folder,
        "--image",
        backend_image,
        "--host-binaries",
        host_binaries,
        "--docker-host",
        engine.host,
        command="dev",
        timeout=60,
    )
    (container,) = extension_containers(engine, NAME)
    async with BridgeClient.connect(running.ws_url) as client:
        in_vm = await client.spawn({"target": "vm", "cmd": "sh", "args": ["-c", TICKS]})
        on_host = await client.spawn({"target": "host", "cmd": "ticker", "args": ["100000"]})
        for stream in (in_vm, on_host):
            await asyncio.wait_for(stream.output.get(), 10)
        started = descendants(running.process.pid)
        tickers = running_binary(host_binaries / "ticker")
        assert tickers and set(tickers) <= set(started)

        signalled = time.monotonic()
        running.process.send_signal(signum)
        code = await asyncio.to_thread(running.process.wait, SHUTDOWN_BOUND)
        took = time.monotonic() - signalled
        print(f"{signum.name}: exit code {code} after {took:.2f} s")

        with pytest.raises(websockets.ConnectionClosed):
            await client.call("host.info", {}, timeout=5)
        for stream in (in_vm, on_host):
            assert stream.result.code is None, "the stream must not look like a normal exit"
    assert code == 0, running.log()
    assert took < SHUTDOWN_BOUND
    assert still_running_after(started) == []
    assert extension_containers(engine, NAME) == [], f"{container} outlives the daemon"
    log = running.log()
    assert "✓ Stopping the backend" in log and "Traceback" not in log, log

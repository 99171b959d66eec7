"""Soak: thousands of spawn/kill and spawn/drop cycles against one daemon, then a leak check.

A cycle connects, ``exec.spawn``s a command that would run on (``ticker 1000``, or ``forever``,
which ignores SIGTERM and has a child), reads its first output, then either ``exec.kill``s it
(and must see ``exec.exit`` with the signal) or drops the connection abruptly: the TCP socket is
aborted, no close frame. Cycles run a few at a time, the kinds interleaved.

Afterwards nothing may be left: no process carrying this run's marker (an environment variable
given through the exec's ``env``, which children inherit) on the host or in the container, no
child of the daemon, and the daemon's memory (VmRSS) and open descriptors flat between the end
of a warm-up and the end of the run (generous bounds: a leak check, not a benchmark).

``DDBRIDGE_SOAK_CYCLES`` and ``DDBRIDGE_SOAK_CONTAINER_CYCLES`` run longer soaks by hand.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import os
import secrets
import signal
import time
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from websockets.asyncio.client import ClientConnection, connect

from tests.conftest import write_host_tools
from tests.support.dockerd import EngineUnderTest
from tests.support.processes import RunningBridge, host_processes, marked_host_processes

pytestmark = pytest.mark.integration

HOST_CYCLES = int(os.environ.get("DDBRIDGE_SOAK_CYCLES", "4000"))
CONTAINER_CYCLES = int(os.environ.get("DDBRIDGE_SOAK_CONTAINER_CYCLES", "300"))
MARKER = "DDBRIDGE_SOAK_ID"
# SIGTERM to SIGKILL: short, so that ``forever`` (which ignores SIGTERM) does not set the pace.
GRACE = "0.2"
ANSWER_TIMEOUT = 30.0
SETTLE_TIMEOUT = 30.0
RSS_GROWTH_LIMIT_KB = 20 * 1024
FD_GROWTH_LIMIT = 64
# A shell loop like the host tool ``ticker``, and one like ``forever``, for busybox in the container.
CONTAINER_TICKER = 'i=0; while true; do echo "tick $i"; i=$((i+1)); sleep 0.05; done'
CONTAINER_FOREVER = 'trap "" TERM; sleep 1000 & echo "child $!"; wait'


def _timeout(cycles: int, per_cycle: float) -> pytest.MarkDecorator:
    return pytest.mark.timeout(120 + cycles * per_cycle)


@dataclass
class Figures:
    """What the closing note quotes: cycles by kind, what was left, the daemon's memory."""

    cycles: Counter[str] = field(default_factory=Counter)
    rss_kb: list[int] = field(default_factory=list)
    fds: list[int] = field(default_factory=list)

    def line(self, what: str, left: int, seconds: float) -> str:
        kinds = ", ".join(f"{kind} {count}" for kind, count in sorted(self.cycles.items()))
        rss = " -> ".join(f"{kb / 1024:.1f} MiB" for kb in self.rss_kb)
        return (
            f"soak ({what}): {sum(self.cycles.values())} cycles [{kinds}] in {seconds:.1f} s; "
            f"processes left {left}; daemon RSS after warm-up -> after all: {rss}; "
            f"open fds {' -> '.join(map(str, self.fds))}"
        )


def daemon_status(pid: int) -> tuple[int, int]:
    """The daemon's VmRSS (kB) and number of open descriptors."""
    with open(f"/proc/{pid}/status") as status:
        rss = next(int(line.split()[1]) for line in status if line.startswith("VmRSS:"))
    return rss, len(os.listdir(f"/proc/{pid}/fd"))


def kill_marked_host_processes(marker: bytes) -> None:
    """A failed soak must not leave its processes behind: SIGKILL what carries the marker."""
    for process in marked_host_processes(marker):
        with contextlib.suppress(OSError):
            os.kill(process.pid, signal.SIGKILL)


def children_of(pid: int) -> list[str]:
    """Every process whose parent is ``pid`` (zombies included), as ``pid state command``."""
    return [f"{p.pid} {p.state} {p.command}" for p in host_processes(zombies=True) if p.ppid == pid]


def marked_container_processes(engine: EngineUnderTest, container: str, pattern: str) -> list[str]:
    """Processes in the container with an environment entry matching ``pattern`` (an extended
    regular expression), found from inside it."""
    script = (
        'for d in /proc/[0-9]*; do grep -qzE "$1" "$d/environ" 2>/dev/null '
        '&& echo "${d#/proc/}: $(tr "\\0" " " < "$d/cmdline")"; done; true'
    )
    result = engine.docker("exec", container, "sh", "-c", script, "scan", pattern)
    return result.stdout.splitlines()


def settle(left: Callable[[], list[str]], timeout: float = SETTLE_TIMEOUT) -> list[str]:
    """``left()`` once it is empty, or what it still lists when ``timeout`` runs out. Ending a
    dropped connection's processes takes the daemon the grace period and a little more."""
    deadline = time.monotonic() + timeout
    while (found := left()) and time.monotonic() < deadline:
        time.sleep(0.1)
    return found


async def _next(ws: ClientConnection) -> dict[str, Any]:
    message: dict[str, Any] = json.loads(await asyncio.wait_for(ws.recv(), ANSWER_TIMEOUT))
    return message


async def cycle(running: RunningBridge, params: dict[str, Any], kill: bool) -> None:
    """Connect, spawn, read the first output, then kill (and see the exit) or drop."""
    async with connect(running.ws_url, open_timeout=10, close_timeout=5) as ws:
        await ws.send(json.dumps({"jsonrpc": "2.0", "id": 1, "method": "exec.spawn", "params": params}))
        stream, output = None, False
        while stream is None or not output:
            message = await _next(ws)
            if message.get("id") == 1:
                assert "result" in message, message
                stream = message["result"]["stream"]
            elif message.get("method") == "exec.output":
                output = True
            else:
                raise AssertionError(f"unexpected before the first output: {message}")
        if not kill:
            ws.transport.abort()  # no close frame: the page's tab crashed, the network went away
            return
        await ws.send(
            json.dumps({"jsonrpc": "2.0", "id": 2, "method": "exec.kill", "params": {"stream": stream}})
        )
        killed, exit_params = False, None
        while not killed or exit_params is None:
            message = await _next(ws)
            if message.get("id") == 2:
                assert message.get("result", "missing") is None, message
                killed = True
            elif message.get("method") == "exec.exit":
                exit_params = message["params"]
            else:
                assert message.get("method") == "exec.output", message
        assert exit_params["signal"] in ("SIGTERM", "SIGKILL"), exit_params


async def soak(
    running: RunningBridge,
    kinds: Iterable[tuple[str, dict[str, Any]]],
    cycles: int,
    workers: int,
    figures: Figures,
    on_warm: Callable[[], None],
    warm_up: int,
) -> None:
    """``cycles`` cycles, ``workers`` at a time, the kinds (spawn params) and endings taken in
    turn; ``on_warm`` runs once the first ``warm_up`` cycles are done (and nothing else runs)."""
    plan = list(itertools.islice(itertools.cycle(itertools.product(kinds, (True, False))), cycles))

    async def run(chunk: list[tuple[tuple[str, dict[str, Any]], bool]]) -> None:
        queue = iter(chunk)

        async def worker() -> None:
            for (name, params), kill in queue:
                await cycle(running, params, kill)
                figures.cycles[f"{name} {'kill' if kill else 'drop'}"] += 1

        await asyncio.gather(*(worker() for _ in range(workers)))

    await run(plan[:warm_up])
    await asyncio.to_thread(on_warm)
    await run(plan[warm_up:])


@pytest.fixture(scope="module")
def host_soak_bridge(
    module_bridge: Callable[..., RunningBridge],
    backend_socket: Path,
    tmp_path_factory: pytest.TempPathFactory,
) -> RunningBridge:
    tools = write_host_tools(tmp_path_factory.mktemp("soak") / "binaries")
    running: RunningBridge = module_bridge(
        "--host-binaries",
        tools,
        "--backend-socket",
        backend_socket,
        env={"DDBRIDGE_EXEC_KILL_GRACE": GRACE},
    )
    return running


def _measure(running: RunningBridge, figures: Figures, left: Callable[[], list[str]]) -> None:
    found = settle(left)
    assert found == [], (
        f"{len(found)} processes left over after {sum(figures.cycles.values())} cycles: {found[:10]}"
    )
    children = settle(lambda: children_of(running.process.pid))
    assert children == [], f"children of the daemon left over: {children[:10]}"
    rss, fds = daemon_status(running.process.pid)
    figures.rss_kb.append(rss)
    figures.fds.append(fds)


def _report(
    figures: Figures, what: str, left: list[str], seconds: float, capsys: pytest.CaptureFixture[str]
) -> None:
    line = figures.line(what, len(left), seconds)
    with capsys.disabled():
        print(f"\n{line}")
    assert left == [], f"{line}\nleft: {left}"
    growth = figures.rss_kb[-1] - figures.rss_kb[0]
    assert growth < RSS_GROWTH_LIMIT_KB, f"the daemon's memory grew by {growth} kB: {line}"
    assert figures.fds[-1] - figures.fds[0] < FD_GROWTH_LIMIT, f"descriptors leak: {line}"


@_timeout(HOST_CYCLES, 0.1)
async def test_host_spawn_kill_and_drop(
    host_soak_bridge: RunningBridge, capsys: pytest.CaptureFixture[str]
) -> None:
    running = host_soak_bridge
    soak_id = secrets.token_hex(8)
    marker = f"{MARKER}={soak_id}"
    env = {MARKER: soak_id}
    kinds = [
        ("ticker", {"target": "host", "cmd": "ticker", "args": ["1000"], "env": env}),
        ("forever", {"target": "host", "cmd": "forever", "env": env}),
    ]
    figures = Figures()

    def left() -> list[str]:
        return [f"{p.pid}: {p.command}" for p in marked_host_processes(marker.encode())]

    started = time.monotonic()
    warm_up = min(300, HOST_CYCLES // 5)
    try:
        await soak(running, kinds, HOST_CYCLES, 8, figures, lambda: _measure(running, figures, left), warm_up)
        _measure(running, figures, left)
    finally:
        kill_marked_host_processes(marker.encode())
    seconds = time.monotonic() - started
    assert running.process.poll() is None, running.log()[-3000:]
    _report(figures, "host", left(), seconds, capsys)


@pytest.fixture(scope="module")
def container_soak_bridge(
    module_bridge: Callable[..., RunningBridge], engine: EngineUnderTest
) -> RunningBridge:
    running: RunningBridge = module_bridge(
        "--docker-host", engine.host, "--vm-container", engine.vm, env={"DDBRIDGE_EXEC_KILL_GRACE": GRACE}
    )
    return running


@_timeout(CONTAINER_CYCLES, 1.0)
async def test_container_spawn_kill_and_drop(
    container_soak_bridge: RunningBridge, engine: EngineUnderTest, capsys: pytest.CaptureFixture[str]
) -> None:
    running = container_soak_bridge
    soak_id = secrets.token_hex(8)
    marker = f"{MARKER}={soak_id}"
    env = {MARKER: soak_id}
    kinds = [
        ("ticker", {"target": "vm", "cmd": "sh", "args": ["-c", CONTAINER_TICKER], "env": env}),
        ("forever", {"target": "vm", "cmd": "sh", "args": ["-c", CONTAINER_FOREVER], "env": env}),
    ]
    figures = Figures()

    def left() -> list[str]:
        return marked_container_processes(engine, engine.vm, f"^{marker}$")

    started = time.monotonic()
    warm_up = min(50, CONTAINER_CYCLES // 4)
    await soak(
        running, kinds, CONTAINER_CYCLES, 4, figures, lambda: _measure(running, figures, left), warm_up
    )
    _measure(running, figures, left)
    seconds = time.monotonic() - started
    assert running.process.poll() is None, running.log()[-3000:]
    exec_marked = marked_container_processes(engine, engine.vm, "^DDBRIDGE_EXEC_ID=")
    _report(figures, f"container, {len(exec_marked)} DDBRIDGE_EXEC_ID processes", left(), seconds, capsys)

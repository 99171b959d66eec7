"""Blocking calls users make most: ``exec.run`` of a host binary, in a container and of the
docker CLI, and ``docker.listContainers``, each against what the bridge itself has to do for
it (start the same process, run the same CLI line, ask the engine the same question).

Every call is one request with nothing else in flight on one WebSocket (the lean client of
``bench.wsclient``); a repetition's figure is the median of its calls, in milliseconds.
"""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

import aiohttp

from bench import wsclient
from bench.measure import latency_versus
from bench.report import Row

QUICK_EXIT = "quick-exit"


def write_quick_exit(folder: Path) -> Path:
    """The host binary ``quick-exit``: a script that prints a line and exits 0."""
    script = folder / QUICK_EXIT
    script.write_text("#!/bin/sh\necho done\n")
    script.chmod(0o755)
    return script


@dataclass(frozen=True)
class ExecSettings:
    reps: int
    calls: int  # per repetition, one in flight
    containers: int  # for the list


def _exec_params(target: str, cmd: str, args: list[str]) -> bytes:
    return json.dumps({"target": target, "cmd": cmd, "args": args}).encode()


async def _process(argv: list[str], env: dict[str, str] | None = None) -> None:
    """``argv`` run to its end with its output read, as the bridge runs a command."""
    process = await asyncio.create_subprocess_exec(
        *argv,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env=None if env is None else {**os.environ, **env},
    )
    await process.communicate()
    if process.returncode != 0:
        raise RuntimeError(f"{argv[0]} exited with {process.returncode}")


async def _compare(
    endpoint: wsclient.Endpoint,
    settings: ExecSettings,
    bridge_frame: bytes,
    baseline: Callable[[], Awaitable[object]],
) -> dict[str, float]:
    """Median ms of ``bridge_frame``'s call and of ``baseline``, repetitions interleaved."""
    ws = await endpoint.connect()
    try:
        await wsclient.call(ws, bridge_frame)  # warm: imports, the engine's first exec, caches
        await baseline()
        return await latency_versus(
            settings.reps, settings.calls, lambda: wsclient.call(ws, bridge_frame), baseline
        )
    finally:
        await ws.close()


def _row(part: str, name: str, figures: dict[str, float], baseline_name: str, max_ratio: float) -> Row:
    return Row(part, name, "ms", figures["bridge"], figures["baseline"], baseline_name, max_ratio=max_ratio)


async def run_host_exec(endpoint: wsclient.Endpoint, binaries: Path, settings: ExecSettings) -> Row:
    """``host.cli.exec`` of a script that exits vs the bench starting it itself."""
    frame = wsclient.request_frame(1, "exec.run", _exec_params("host", QUICK_EXIT, []))
    figures = await _compare(endpoint, settings, frame, lambda: _process([str(binaries / QUICK_EXIT)]))
    return _row("exec", "host binary, exec.run latency", figures, "create_subprocess_exec", 1.5)


async def run_engine_execs(
    endpoint: wsclient.Endpoint, docker_host: str, vm: str, settings: ExecSettings
) -> list[Row]:
    """``vm.cli.exec('true')`` vs ``docker exec VM true``, and the docker CLI through the bridge
    vs the same CLI line."""
    env = {"DOCKER_HOST": docker_host}
    container = await _compare(
        endpoint,
        settings,
        wsclient.request_frame(1, "exec.run", _exec_params("vm", "true", [])),
        lambda: _process(["docker", "exec", vm, "true"], env),
    )
    version_args = ["--format", "{{json .}}"]
    cli = await _compare(
        endpoint,
        settings,
        wsclient.request_frame(2, "exec.run", _exec_params("docker", "version", version_args)),
        lambda: _process(["docker", "version", *version_args], env),
    )
    return [
        _row("exec", "container exec latency, vm.cli.exec('true')", container, "docker exec C true", 0.5),
        _row("exec", "docker CLI, docker version --format", cli, "the same CLI line", 1.15),
    ]


def _engine_connector(docker_host: str) -> aiohttp.BaseConnector:
    if not docker_host.startswith("unix://"):
        raise ValueError(f"the list part needs an engine on a unix socket, not {docker_host}")
    return aiohttp.UnixConnector(path=docker_host.removeprefix("unix://"), limit=0)


async def _create_containers(session: aiohttp.ClientSession, image: str, label: str, count: int) -> None:
    """``count`` created (never started) containers of ``image`` with ``label``, 16 at a time;
    the engine's clean-up of that label removes them."""
    key, _, value = label.partition("=")
    body = {"Image": image, "Cmd": ["true"], "Labels": {key: value}, "NetworkDisabled": True}
    gate = asyncio.Semaphore(16)

    async def one() -> None:
        async with gate, session.post("http://engine/containers/create", json=body) as answer:
            if answer.status != 201:
                raise RuntimeError(f"container create failed: {answer.status} {await answer.text()}")

    await asyncio.gather(*(one() for _ in range(count)))


async def run_list_containers(
    endpoint: wsclient.Endpoint, docker_host: str, image: str, label: str, settings: ExecSettings
) -> Row:
    """``docker.listContainers({all: true})`` of ``settings.containers`` containers (and the
    engine's own) vs ``GET /containers/json?all=1`` with aiohttp on the engine socket."""
    async with aiohttp.ClientSession(connector=_engine_connector(docker_host)) as session:
        await _create_containers(session, image, label, settings.containers)

        async def direct() -> None:
            async with session.get("http://engine/containers/json?all=1") as answer:
                await answer.read()

        figures = await _compare(
            endpoint,
            settings,
            wsclient.request_frame(1, "docker.listContainers", b'{"options":{"all":true}}'),
            direct,
        )
    name = f"listContainers, {settings.containers:,} containers"
    return _row("engine", name, figures, "aiohttp on the engine socket", 1.2)

"""Streams: a command's output through the bridge to a WebSocket client vs the same command
with its output piped to /dev/null.

The producer writes ``size`` bytes of ``a`` (``head -c N /dev/zero | tr '\\0' a``: printable,
so the bridge's UTF-8 decoding and JSON encoding do their ordinary work, and cheap to make, so
the producer is never the bottleneck). The client, ``bench.rawreader.RawReader``, counts frame
bytes and watches for ``exec.exit``, reading about as cheaply as ``cat`` reads the baseline's
pipe; MB/s is the command's payload over the time from the spawn request to its exit.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from bench import wsclient
from bench.measure import median
from bench.rawreader import RawReader
from bench.report import Row

MB = 1_000_000
GENERATOR = "head -c \"$1\" /dev/zero | tr '\\000' a\n"


def write_generator(folder: Path) -> None:
    """The host binary ``gen SIZE`` in the bridge's host-binaries folder."""
    script = folder / "gen"
    script.write_text("#!/bin/sh\n" + GENERATOR)
    script.chmod(0o755)


@dataclass(frozen=True)
class StreamSettings:
    reps: int
    size: int  # bytes per run


def _bridge_stream(endpoint: wsclient.Endpoint, params: bytes) -> tuple[float, int, bytes]:
    reader = RawReader(endpoint.url, endpoint.headers)
    try:
        started = time.perf_counter()
        reader.send_text(wsclient.spawn_frame(1, params))
        received, last = reader.drain()
        return time.perf_counter() - started, received, last
    finally:
        reader.close()


async def bridge_stream_seconds(endpoint: wsclient.Endpoint, params: bytes, size: int) -> float:
    """Seconds from ``exec.spawn`` to ``exec.exit`` for one stream of ``size`` bytes, read by
    ``RawReader`` (in a thread: it blocks)."""
    elapsed, received, last = await asyncio.to_thread(_bridge_stream, endpoint, params)
    if not wsclient.ended_well(last):
        raise RuntimeError(f"the stream did not end well: {last[:300]!r}")
    if received < size:
        raise RuntimeError(f"the stream delivered {received} bytes of frames, less than {size}")
    return elapsed


def pipe_seconds(command: list[str], env: dict[str, str] | None = None) -> float:
    """Seconds the plain command takes with its output going to /dev/null."""
    started = time.perf_counter()
    subprocess.run(command, stdout=subprocess.DEVNULL, check=True, env={**os.environ, **(env or {})})
    return time.perf_counter() - started


async def _compare(
    endpoint: wsclient.Endpoint,
    name: str,
    baseline_name: str,
    settings: StreamSettings,
    bridge_params: bytes,
    baseline: list[str],
    env: dict[str, str] | None = None,
) -> Row:
    bridge_rates, baseline_rates = [], []
    for _ in range(settings.reps):
        baseline_rates.append(settings.size / MB / pipe_seconds(baseline, env))
        seconds = await bridge_stream_seconds(endpoint, bridge_params, settings.size)
        bridge_rates.append(settings.size / MB / seconds)
    return Row(
        "streams", name, "MB/s", median(bridge_rates), median(baseline_rates), baseline_name, min_ratio=0.8
    )


async def run_host_stream(endpoint: wsclient.Endpoint, binaries: Path, settings: StreamSettings) -> Row:
    """The host binary through the bridge vs ``gen N | cat > /dev/null`` (its output in a pipe,
    as under the bridge, read by a process that discards it)."""
    params = b'{"target":"host","cmd":"gen","args":["%d"]}' % settings.size
    baseline = ["sh", "-c", f"{binaries / 'gen'} {settings.size} | cat > /dev/null"]
    return await _compare(
        endpoint,
        f"host stream, {settings.size / MB:,.0f} MB",
        "gen piped to cat > /dev/null",
        settings,
        params,
        baseline,
    )


async def run_container_stream(
    endpoint: wsclient.Endpoint, docker_host: str, container: str, settings: StreamSettings
) -> Row:
    """A container exec through the bridge vs ``docker exec … > /dev/null`` on the same engine."""
    command = f"head -c {settings.size} /dev/zero | tr '\\000' a"
    params = b'{"target":"container:%s","cmd":"sh","args":["-c","%s"]}' % (
        container.encode(),
        command.replace("\\", "\\\\").encode(),
    )
    baseline = ["docker", "exec", container, "sh", "-c", command]
    name = f"container exec stream, {settings.size / MB:,.0f} MB"
    env = {"DOCKER_HOST": docker_host}
    return await _compare(endpoint, name, "docker exec > /dev/null", settings, params, baseline, env)

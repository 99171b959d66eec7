"""``python -m bench``: start what the parts need (nginx, the daemon, a Docker engine when one
can be had), run the parts, print the table and write the JSON.

Full run: about 5-8 minutes on a 2-core machine. ``--quick``: tiny sizes and one or two
repetitions, a few seconds per part, to check that the suite still runs (not to judge).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime
import os
import platform
import shlex
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench import big, browser, execs, report, scale, service, streams, wsclient
from bench.big import BigSettings, CpuSettings
from bench.browser import BrowserMissing, BrowserSettings
from bench.execs import ExecSettings
from bench.measure import median
from bench.nginx import NginxMissing, PrivateNginx
from bench.report import Row
from bench.scale import ScaleSettings, SlowSettings
from bench.service import ServiceSettings
from bench.streams import StreamSettings
from bridge.testing.launcher import RunningBridge, start_bridge

PARTS = (
    "service",
    "host-stream",
    "container-stream",
    "scale",
    "slow-consumer",
    "startup",
    "browser-service",
    "browser-stream",
    "host-exec",
    "container-exec",
    "list-containers",
    "big",
    "cpu",
)
ENGINE_PARTS = {"container-stream", "container-exec", "list-containers"}
BROWSER_PARTS = {"browser-service", "browser-stream"}
DEFAULT_JSON = Path(__file__).parent / "results" / "latest.json"


@dataclass(frozen=True)
class Settings:
    service: ServiceSettings
    stream: StreamSettings
    container_stream: StreamSettings
    scale: ScaleSettings
    slow: SlowSettings
    startups: int
    browser: BrowserSettings
    execs: ExecSettings
    big: BigSettings
    cpu: CpuSettings


FULL = Settings(
    ServiceSettings(reps=3, latency_calls=1000, duration=2.0, warmup_calls=300),
    StreamSettings(reps=3, size=1 << 30),
    StreamSettings(reps=2, size=1 << 30),
    ScaleSettings(connections=1000, streams=100, stream_size=4 << 20),
    SlowSettings(size=1 << 30, hold=15.0),
    startups=5,
    browser=BrowserSettings(
        reps=3, latency_calls=1000, duration=2.0, warmup_calls=300, stream_size=256 << 20
    ),
    execs=ExecSettings(reps=3, calls=20, containers=1000),
    big=BigSettings(reps=5, calls=6),
    cpu=CpuSettings(reps=3, calls=10_000),
)
QUICK = Settings(
    ServiceSettings(reps=1, latency_calls=100, duration=0.3, warmup_calls=20),
    StreamSettings(reps=1, size=4 << 20),
    StreamSettings(reps=1, size=4 << 20),
    ScaleSettings(connections=50, streams=10, stream_size=256 << 10),
    SlowSettings(size=64 << 20, hold=1.0),
    startups=2,
    browser=BrowserSettings(reps=1, latency_calls=50, duration=0.3, warmup_calls=20, stream_size=4 << 20),
    execs=ExecSettings(reps=1, calls=3, containers=20),
    big=BigSettings(reps=1, calls=1),
    cpu=CpuSettings(reps=1, calls=6000),  # the relay then uses 12-15 clock ticks (10 ms each) at 64 in flight
)


def machine() -> str:
    """What ran the figures: CPU model and count, memory, kernel."""
    model = "unknown CPU"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return f"{os.cpu_count()} x {model}, {memory:.0f} GiB, Linux {platform.release()}"


@contextlib.contextmanager
def bridge(folder: Path, name: str, args: list[str]) -> Iterator[tuple[RunningBridge, wsclient.Endpoint]]:
    """A daemon for some parts, and its RPC endpoint (URL and handshake headers)."""
    running = start_bridge(args, folder / f"{name}.log")
    try:
        yield running, wsclient.Endpoint.of(running)
    finally:
        running.stop()


@contextlib.contextmanager
def engine_or_none(wanted: set[str], skipped: dict[str, str]) -> Iterator[Any]:
    """The tests' engine (``DOCKER_HOST``'s, else a private dockerd; busybox image, a running
    container), or None with the reason in ``skipped`` for each of the ``wanted`` parts."""
    if not wanted:
        yield None
        return
    try:
        from tests.support.dockerd import EngineMissing, provide_engine
    except ImportError as exc:  # run from outside the repository
        skipped.update(
            dict.fromkeys(wanted, f"tests.support.dockerd not importable ({exc}): run from the repo root")
        )
        yield None
        return
    try:
        provided = provide_engine()
        engine = provided.__enter__()
    except (EngineMissing, RuntimeError, subprocess.SubprocessError) as exc:
        skipped.update(dict.fromkeys(wanted, f"no Docker engine: {exc}".splitlines()[0]))
        yield None
        return
    try:
        yield engine
    finally:
        provided.__exit__(None, None, None)


def measure_startup(folder: Path, nginx_socket: Path, count: int) -> Row:
    """Process start to the ready line of ``ddbridge serve``, median of ``count`` starts."""
    seconds = []
    for index in range(count):
        started = time.perf_counter()
        running = start_bridge(["--backend-socket", str(nginx_socket)], folder / f"startup-{index}.log")
        seconds.append(time.perf_counter() - started)
        running.stop()
    note = f"median of {count}, max {max(seconds):.2f} s"
    return Row("start-up", "process start → ready line", "s", median(seconds), max_value=0.5, note=note)


def progress(part: str) -> None:
    print(f"· {part}…", file=sys.stderr, flush=True)


async def run_browser_parts(
    parts: set[str],
    settings: BrowserSettings,
    folder: Path,
    common: list[str],
    nginx: PrivateNginx,
    skipped: dict[str, str],
) -> list[Row]:
    """The page in Chromium on a daemon serving it; skipped with the reason when the browser,
    Playwright, node or the client package is missing."""
    rows: list[Row] = []
    try:
        ui = browser.build_page()
        with bridge(folder, "browser", [*common, "--ui", str(ui)]) as (running, endpoint):
            async with browser.bench_page(running) as page:
                if "browser-service" in parts:
                    progress("browser service calls")
                    fetch_url = f"http://127.0.0.1:{nginx.port}/x"
                    rows += await browser.run_browser_service(page, fetch_url, settings)
                if "browser-stream" in parts:
                    progress("browser stream")
                    rows += await browser.run_browser_stream(page, endpoint, settings)
    except BrowserMissing as exc:
        skipped.update(dict.fromkeys(parts & BROWSER_PARTS, str(exc)))
    return rows


async def run_engine_parts(
    parts: set[str], settings: Settings, folder: Path, common: list[str], engine: Any
) -> list[Row]:
    from tests.support.dockerd import LABEL

    rows: list[Row] = []
    args = [*common, "--docker-host", engine.host, "--vm-container", engine.vm]
    with bridge(folder, "docker", args) as (_, endpoint):
        if "container-stream" in parts:
            progress("container stream")
            rows.append(
                await streams.run_container_stream(
                    endpoint, engine.host, engine.vm, settings.container_stream
                )
            )
        if "container-exec" in parts:
            progress("container exec and docker CLI")
            rows += await execs.run_engine_execs(endpoint, engine.host, engine.vm, settings.execs)
        if "list-containers" in parts:
            progress("list containers")
            label = f"{LABEL}={engine.token}"
            rows.append(
                await execs.run_list_containers(endpoint, engine.host, engine.image, label, settings.execs)
            )
    return rows


async def run_parts(parts: set[str], settings: Settings, folder: Path, skipped: dict[str, str]) -> list[Row]:
    rows: list[Row] = []
    nginx = PrivateNginx(folder)
    binaries = folder / "bin"
    binaries.mkdir()
    streams.write_generator(binaries)
    browser.write_line_generator(binaries)
    execs.write_quick_exit(binaries)
    scale.raise_fd_limit(4 * settings.scale.connections + 1024)
    try:
        nginx.start()
    except NginxMissing as exc:
        skipped["service"] = str(exc)
        parts.discard("service")
    common = ["--backend-socket", str(nginx.socket), "--host-binaries", str(binaries)]
    try:
        if parts & {"service", "host-stream", "host-exec", "cpu"}:
            with bridge(folder, "main", common) as (running, endpoint):
                if "service" in parts:
                    progress("service calls")
                    rows += await service.run_service(endpoint, str(nginx.socket), settings.service)
                if "host-stream" in parts:
                    progress("host stream")
                    rows.append(await streams.run_host_stream(endpoint, binaries, settings.stream))
                if "host-exec" in parts:
                    progress("host exec")
                    rows.append(await execs.run_host_exec(endpoint, binaries, settings.execs))
                if "cpu" in parts:
                    progress("daemon CPU per call")
                    pid = running.process.pid
                    rows.extend(await big.run_cpu(endpoint, pid, str(nginx.socket), settings.cpu))
        if parts & BROWSER_PARTS:
            rows += await run_browser_parts(parts, settings.browser, folder, common, nginx, skipped)
        if "big" in parts:
            progress("big answers")
            with bridge(folder, "big", common) as (running, endpoint):
                rows += await big.run_big(endpoint, str(nginx.socket), running.process.pid, settings.big)
        with engine_or_none(parts & ENGINE_PARTS, skipped) as engine:
            if engine is not None:
                rows += await run_engine_parts(parts, settings, folder, common, engine)
        if "scale" in parts:
            progress("scale")
            with bridge(folder, "scale", common) as (running, endpoint):
                rows += await scale.run_scale(endpoint, running.process.pid, settings.scale)
        if "slow-consumer" in parts:
            progress("slow consumer")
            with bridge(folder, "slow", common) as (running, endpoint):
                rows.append(await scale.run_slow_consumer(endpoint, running.process.pid, settings.slow))
        if "startup" in parts:
            progress("start-up")
            rows.append(measure_startup(folder, nginx.socket, settings.startups))
    finally:
        nginx.stop()
    return rows


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="tiny sizes, seconds: checks the suite runs")
    parser.add_argument("--only", help=f"comma-separated parts, from: {', '.join(PARTS)}")
    parser.add_argument("--no-docker", action="store_true", help="skip the parts that need an engine")
    parser.add_argument(
        "--json", type=Path, default=DEFAULT_JSON, help=f"where to write (default {DEFAULT_JSON})"
    )
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    parts = set(PARTS if args.only is None else args.only.split(","))
    unknown = parts - set(PARTS)
    if unknown:
        print(f"unknown parts: {', '.join(sorted(unknown))} (known: {', '.join(PARTS)})", file=sys.stderr)
        return 2
    skipped: dict[str, str] = {}
    for part in parts & ENGINE_PARTS if args.no_docker else set():
        parts.discard(part)
        skipped[part] = "--no-docker"
    settings = QUICK if args.quick else FULL
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="ddb-bench-", dir="/tmp") as folder:
        rows = asyncio.run(run_parts(parts, settings, Path(folder), skipped))
    meta = {
        "date": datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "machine": machine(),
        "python": platform.python_version(),
        "command": shlex.join(["python", "-m", "bench", *(argv if argv is not None else sys.argv[1:])]),
        "mode": "quick" if args.quick else "full",
        "seconds": round(time.monotonic() - started, 1),
    }
    print(f"\n{meta['date']} · {meta['machine']} · {meta['command']} · {meta['seconds']} s\n")
    print(report.table(rows))
    for part, reason in skipped.items():
        print(f"\nskipped {part}: {reason}")
    report.write_json(args.json, meta, rows, skipped)
    print(f"\nwritten: {args.json}")
    return 0

"""Big service answers and uploads, with the daemon's memory, and the daemon's CPU time per
ordinary service call.

The answer is nginx's ``/big`` (``BIG_SIZE`` bytes of JSON, which the bridge parses and sends
on as JSON, as ``service.request`` always does); the upload is a string body of nearly as many
bytes, POSTed to ``/upload`` — nearly, because the request frame carrying it must stay under the
daemon's ``[limits] message_bytes`` (16 MiB), which stays in force here. The baseline for both
is aiohttp straight to nginx's socket. RSS growth is the daemon's peak (its high-water mark,
``PeakRss``) over its RSS before the part, on a fresh daemon, against twice the body; the floor
relay's is measured the same way.
"""

from __future__ import annotations

import contextlib
import functools
import json
import subprocess
import sys
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass

import aiohttp

from bench import wsclient
from bench.measure import PeakRss, cpu_seconds, interleaved, median_ms
from bench.nginx import BIG_SIZE
from bench.report import Row

MiB = 1024 * 1024
UPLOAD_SIZE = BIG_SIZE - 64 * 1024  # the frame's envelope and JSON escaping fit in the rest


@dataclass(frozen=True)
class BigSettings:
    reps: int
    calls: int  # per repetition


@dataclass(frozen=True)
class CpuSettings:
    reps: int
    calls: int  # per repetition


async def run_big(
    endpoint: wsclient.Endpoint, nginx_socket: str, pid: int, settings: BigSettings
) -> list[Row]:
    """The big answer and the upload through the bridge, straight to nginx with aiohttp, and
    through the floor relay (``bench.floor``), repetitions interleaved: the relay's rows show
    how much of the bridge's time any WebSocket bridge would spend."""
    upload = "u" * UPLOAD_SIZE
    big_frame = wsclient.request_frame(1, "service.request", b'{"method":"GET","url":"/big"}')
    upload_frame = wsclient.request_frame(
        2, "service.request", json.dumps({"method": "POST", "url": "/upload", "data": upload}).encode()
    )
    upload_bytes = upload.encode()
    connector = aiohttp.UnixConnector(path=nginx_socket, limit=0)
    with _floor_relay(nginx_socket) as (floor, floor_pid):
        ws = await endpoint.connect()
        relay = await floor.connect()
        try:
            with PeakRss(pid) as daemon_rss, PeakRss(floor_pid) as floor_rss:
                async with aiohttp.ClientSession(connector=connector) as session:

                    async def direct_get() -> None:
                        async with session.get("http://nginx/big") as answer:
                            if len(await answer.read()) != BIG_SIZE:
                                raise RuntimeError("nginx's /big answer is short")

                    async def direct_post() -> None:
                        async with session.post("http://nginx/upload", data=upload_bytes) as answer:
                            await answer.read()

                    for side in (ws, relay):
                        answer = await wsclient.call(side, big_frame)
                        if len(answer) < BIG_SIZE:
                            raise RuntimeError(f"a /big answer is short: {answer[:300]!r}")

                    async def three_ways(
                        frame: bytes, direct: Callable[[], Awaitable[None]]
                    ) -> dict[str, float]:
                        return await interleaved(
                            settings.reps,
                            {
                                "baseline": lambda: median_ms(settings.calls, direct),
                                "bridge": lambda: median_ms(settings.calls, lambda: wsclient.call(ws, frame)),
                                "floor": lambda: median_ms(
                                    settings.calls, lambda: wsclient.call(relay, frame)
                                ),
                            },
                        )

                    get = await three_ways(big_frame, direct_get)
                    post = await three_ways(upload_frame, direct_post)
        finally:
            await ws.close()
            await relay.close()
    growth = (daemon_rss.peak - daemon_rss.start) / MiB
    floor_growth = (floor_rss.peak - floor_rss.start) / MiB
    size = f"{BIG_SIZE / MiB:g} MiB"
    answer_name = f"service answer of {size} JSON"
    upload_name = f"service upload of {UPLOAD_SIZE / MiB:.2f} MiB"
    return [
        Row("big", answer_name, "ms", get["bridge"], get["baseline"], "aiohttp direct", max_ratio=1.5),
        Row("big", answer_name, "ms", get["bridge"], get["floor"], "floor relay"),
        Row("big", upload_name, "ms", post["bridge"], post["baseline"], "aiohttp direct", max_ratio=1.5),
        Row("big", upload_name, "ms", post["bridge"], post["floor"], "floor relay"),
        Row("big", "daemon RSS growth over both", "MiB", growth, max_value=2 * BIG_SIZE / MiB,
            note=f"from {daemon_rss.start / MiB:.0f} MiB"),
        Row("big", "daemon RSS growth over both", "MiB", growth, floor_growth, "floor relay's"),
    ]  # fmt: skip


async def run_cpu(
    endpoint: wsclient.Endpoint, pid: int, nginx_socket: str, settings: CpuSettings
) -> list[Row]:
    """The daemon's CPU time (/proc: user + system) over ``calls`` service calls, against the
    same calls through the floor relay (``bench.floor``) in the same run: one in flight, where
    each call also pays for waking the process and putting it back to sleep, and 64 in flight,
    where those wake-ups are shared and what is left is each call's own work. Repetitions
    interleaved, medians: one run of either moved by a sixth as the machine's speed did."""
    rows = []
    with _floor_relay(nginx_socket) as (floor, floor_pid):
        for in_flight in (1, 64):
            sides = {
                "bridge": functools.partial(_cpu_per_call, endpoint, pid, settings.calls, in_flight),
                "baseline": functools.partial(_cpu_per_call, floor, floor_pid, settings.calls, in_flight),
            }
            figures = await interleaved(settings.reps, sides)
            name = f"daemon CPU per service call, {settings.reps} x {settings.calls:,}, {in_flight} in flight"
            bridge, baseline = figures["bridge"], figures["baseline"]
            rows.append(Row("cpu", name, "µs", bridge, baseline, "relay floor", max_value=60))
    return rows


async def _cpu_per_call(endpoint: wsclient.Endpoint, pid: int, calls: int, in_flight: int) -> float:
    """CPU µs per call over ``calls`` calls, ``in_flight`` of them sent ahead of the answers."""
    ws = await endpoint.connect()
    try:
        for request_id in range(100):  # warm
            await wsclient.call(ws, wsclient.SERVICE_CALL % request_id)
        before = cpu_seconds(pid)
        sent = 0
        for _ in range(min(in_flight, calls)):
            await ws.send(wsclient.SERVICE_CALL % sent, text=True)
            sent += 1
        for _ in range(calls):
            await wsclient.answer_of(ws)
            if sent < calls:
                await ws.send(wsclient.SERVICE_CALL % sent, text=True)
                sent += 1
        used = cpu_seconds(pid) - before
    finally:
        await ws.close()
    return used / calls * 1e6


@contextlib.contextmanager
def _floor_relay(nginx_socket: str) -> Iterator[tuple[wsclient.Endpoint, int]]:
    relay = subprocess.Popen(
        [sys.executable, "-m", "bench.floor", nginx_socket], stdout=subprocess.PIPE, text=True
    )
    try:
        assert relay.stdout is not None
        port = int(relay.stdout.readline())
        yield wsclient.Endpoint(f"ws://127.0.0.1:{port}/rpc"), relay.pid
    finally:
        relay.kill()
        relay.wait()

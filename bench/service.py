"""Service calls: ``service.request`` through the bridge to nginx vs aiohttp straight to it.

Both sides talk to the same nginx socket, in the same run, repetitions interleaved (direct,
bridge, direct, bridge…) so that drift on a shared machine hits both alike. aiohttp with a
``UnixConnector`` is the baseline: the fastest mainstream async Python HTTP client.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import aiohttp
from websockets.asyncio.client import ClientConnection

from bench import wsclient
from bench.measure import median, percentile
from bench.report import Row


@dataclass(frozen=True)
class ServiceSettings:
    reps: int
    latency_calls: int  # per repetition, one in flight
    duration: float  # seconds per throughput repetition
    warmup_calls: int


async def _direct_latencies(session: aiohttp.ClientSession, count: int) -> list[float]:
    latencies = []
    for _ in range(count):
        started = time.perf_counter()
        async with session.get("http://nginx/data") as answer:
            await answer.read()
        latencies.append(time.perf_counter() - started)
    return latencies


async def _bridge_latencies(endpoint: wsclient.Endpoint, count: int) -> list[float]:
    ws = await endpoint.connect()
    try:
        latencies = []
        for request_id in range(count):
            started = time.perf_counter()
            answer = await wsclient.service_call(ws, request_id)
            latencies.append(time.perf_counter() - started)
            if b'"error"' in answer:
                raise RuntimeError(f"service.request failed: {answer[:300]!r}")
        return latencies
    finally:
        await ws.close()


async def _direct_rate(sessions: list[aiohttp.ClientSession], in_flight: int, duration: float) -> float:
    """Calls/s with ``in_flight`` workers per session, each calling in a loop until the deadline."""
    done = 0
    deadline = time.perf_counter() + duration

    async def worker(session: aiohttp.ClientSession) -> None:
        nonlocal done
        while time.perf_counter() < deadline:
            async with session.get("http://nginx/data") as answer:
                await answer.read()
            done += 1

    started = time.perf_counter()
    await asyncio.gather(*(worker(session) for session in sessions for _ in range(in_flight)))
    return done / (time.perf_counter() - started)


async def _bridge_rate(
    endpoint: wsclient.Endpoint, connections: int, in_flight: int, duration: float
) -> float:
    """Calls/s with a window of ``in_flight`` requests on each of ``connections`` WebSockets:
    every answer sends the next request, until the deadline; then the window drains."""
    sockets = [await endpoint.connect() for _ in range(connections)]
    done = 0
    deadline = time.perf_counter() + duration

    async def pump(ws: ClientConnection) -> None:
        nonlocal done
        next_id = 0
        for _ in range(in_flight):
            await ws.send(wsclient.SERVICE_CALL % next_id, text=True)
            next_id += 1
        outstanding = in_flight
        while outstanding:
            answer = await ws.recv(decode=False)
            assert isinstance(answer, bytes)
            if b'"error"' in answer:
                raise RuntimeError(f"service.request failed: {answer[:300]!r}")
            done += 1
            outstanding -= 1
            if time.perf_counter() < deadline:
                await ws.send(wsclient.SERVICE_CALL % next_id, text=True)
                next_id += 1
                outstanding += 1

    try:
        started = time.perf_counter()
        await asyncio.gather(*(pump(ws) for ws in sockets))
        return done / (time.perf_counter() - started)
    finally:
        await asyncio.gather(*(ws.close() for ws in sockets))


async def run_service(endpoint: wsclient.Endpoint, nginx_socket: str, settings: ServiceSettings) -> list[Row]:
    def session() -> aiohttp.ClientSession:
        return aiohttp.ClientSession(connector=aiohttp.UnixConnector(path=nginx_socket, limit=0))

    sessions = [session() for _ in range(16)]
    try:
        # Warm both paths (connection pools, imports, nginx's worker) before measuring.
        await _direct_latencies(sessions[0], settings.warmup_calls)
        await _bridge_latencies(endpoint, settings.warmup_calls)

        p50: dict[str, list[float]] = {"bridge": [], "direct": []}
        p99: dict[str, list[float]] = {"bridge": [], "direct": []}
        for _ in range(settings.reps):
            for side, latencies in (
                ("direct", await _direct_latencies(sessions[0], settings.latency_calls)),
                ("bridge", await _bridge_latencies(endpoint, settings.latency_calls)),
            ):
                p50[side].append(percentile(latencies, 0.50) * 1e6)
                p99[side].append(percentile(latencies, 0.99) * 1e6)
        rows = [
            Row("service", "latency p50, 1 in flight", "µs", median(p50["bridge"]), median(p50["direct"]),
                "aiohttp direct", max_ratio=1.5),
            Row("service", "latency p99, 1 in flight", "µs", median(p99["bridge"]), median(p99["direct"]),
                "aiohttp direct"),
        ]  # fmt: skip

        Measure = Callable[[], Awaitable[float]]
        cases: list[tuple[str, Measure, Measure, float | None]] = [
            ("calls/s, 1 in flight, 1 connection",
             lambda: _bridge_rate(endpoint, 1, 1, settings.duration),
             lambda: _direct_rate(sessions[:1], 1, settings.duration), None),
            ("calls/s, 64 in flight, 1 connection",
             lambda: _bridge_rate(endpoint, 1, 64, settings.duration),
             lambda: _direct_rate(sessions[:1], 64, settings.duration), 0.9),
            ("calls/s, 16 connections x 1 in flight",
             lambda: _bridge_rate(endpoint, 16, 1, settings.duration),
             lambda: _direct_rate(sessions, 1, settings.duration), None),
        ]  # fmt: skip
        for name, bridge, direct, min_ratio in cases:
            rates: dict[str, list[float]] = {"bridge": [], "direct": []}
            for _ in range(settings.reps):
                rates["direct"].append(await direct())
                rates["bridge"].append(await bridge())
            rows.append(
                Row("service", name, "calls/s", median(rates["bridge"]), median(rates["direct"]),
                    "aiohttp direct", min_ratio=min_ratio)
            )  # fmt: skip
        return rows
    finally:
        await asyncio.gather(*(s.close() for s in sessions))

"""Scale and back-pressure: the daemon's memory with many connections and streams, and with a
client that stops reading. Each runs on a fresh daemon, so earlier parts' allocations (which
CPython keeps in its arenas) do not hide growth; RSS is the daemon's alone (/proc VmRSS)."""

from __future__ import annotations

import asyncio
import resource
from dataclasses import dataclass

from websockets.asyncio.client import ClientConnection

from bench import wsclient
from bench.measure import RssSampler, rss_bytes
from bench.report import Row

MiB = 1024 * 1024


@dataclass(frozen=True)
class ScaleSettings:
    connections: int
    streams: int
    stream_size: int  # bytes per stream


@dataclass(frozen=True)
class SlowSettings:
    size: int  # what the producer would write
    hold: float  # seconds the client does not read


def raise_fd_limit(needed: int) -> None:
    """Soft fd limit up to ``needed`` (bounded by the hard limit). Called before the daemon
    starts, so the daemon — our child — inherits it too."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = needed if hard == resource.RLIM_INFINITY else min(needed, hard)
    if soft != resource.RLIM_INFINITY and soft < wanted:
        resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))


async def _open(endpoint: wsclient.Endpoint, count: int) -> tuple[list[ClientConnection], int]:
    """``count`` connections, 50 handshakes at a time; failures are counted, not raised."""
    sockets: list[ClientConnection] = []
    errors = 0
    gate = asyncio.Semaphore(50)

    async def one() -> None:
        nonlocal errors
        async with gate:
            try:
                sockets.append(await endpoint.connect(open_timeout=30))
            except (OSError, TimeoutError, Exception):
                errors += 1

    await asyncio.gather(*(one() for _ in range(count)))
    return sockets, errors


async def run_scale(endpoint: wsclient.Endpoint, pid: int, settings: ScaleSettings) -> list[Row]:
    """``connections`` open WebSockets, ``streams`` of them running ``gen`` at once, all read."""
    idle = rss_bytes(pid)
    async with RssSampler(pid) as sampler:
        sockets, errors = await _open(endpoint, settings.connections)
        with_connections = sampler.sample()
        params = b'{"target":"host","cmd":"gen","args":["%d"]}' % settings.stream_size

        async def stream(ws: ClientConnection, index: int) -> bool:
            try:
                await ws.send(wsclient.spawn_frame(index, params), text=True)
                received, last = await asyncio.wait_for(wsclient.drain_stream(ws), 300)
            except Exception:
                return False
            ok = wsclient.ended_well(last)
            return ok and received >= settings.stream_size

        outcomes = await asyncio.gather(*(stream(ws, i) for i, ws in enumerate(sockets[: settings.streams])))
        errors += outcomes.count(False) + max(0, settings.streams - len(sockets))
        # Every connection must still answer after the burst.
        alive = await asyncio.gather(*(ws.ping() for ws in sockets), return_exceptions=True)
        errors += sum(isinstance(result, BaseException) for result in alive)
        await asyncio.gather(*(ws.close() for ws in sockets), return_exceptions=True)
    label = f"{settings.connections:,} connections + {settings.streams} streams"
    return [
        Row("scale", f"{label}: peak RSS", "MB", sampler.peak / MiB, idle / MiB, "idle daemon",
            max_value=200, errors=errors,
            note=f"{with_connections / MiB:.0f} MB with the connections open; errors: {errors}"),
    ]  # fmt: skip


async def run_slow_consumer(endpoint: wsclient.Endpoint, pid: int, settings: SlowSettings) -> Row:
    """A client that sends ``exec.spawn`` for ``size`` bytes and then reads nothing for ``hold``
    seconds: the daemon must stop reading the pipe (the producer blocks), not buffer it."""
    # max_queue=1: websockets stops reading the socket after one frame, so TCP buffers fill.
    ws = await endpoint.connect(max_queue=1)
    try:
        async with RssSampler(pid, interval=0.1) as sampler:
            params = b'{"target":"host","cmd":"gen","args":["%d"]}' % settings.size
            await ws.send(wsclient.spawn_frame(1, params), text=True)
            await asyncio.sleep(settings.hold)
    finally:
        await ws.close()
    growth = (sampler.peak - sampler.start) / MiB
    return Row(
        "slow consumer", f"RSS growth, producer of {settings.size / 1e6:,.0f} MB, {settings.hold:g} s unread",
        "MB", growth, max_value=32, note=f"from {sampler.start / MiB:.0f} MB",
    )  # fmt: skip

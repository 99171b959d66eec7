"""Small measuring helpers shared by the parts: medians, percentiles, a process's RSS and CPU
time, interleaved repetitions."""

from __future__ import annotations

import asyncio
import contextlib
import os
import statistics
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from pathlib import Path


def median(values: Sequence[float]) -> float:
    return statistics.median(values) if values else float("nan")


def percentile(values: Sequence[float], fraction: float) -> float:
    """The nearest-rank percentile: no interpolation, so p99 is a latency that really happened."""
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    return ordered[min(len(ordered) - 1, max(0, round(fraction * len(ordered)) - 1))]


def rss_bytes(pid: int, field: str = "VmRSS") -> int:
    """VmRSS of ``pid`` from /proc (the daemon alone: its children are separate processes), or
    another of its memory ``field``s there (``VmHWM``: its peak)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1]) * 1024
    raise RuntimeError(f"no {field} for process {pid}")


class PeakRss:
    """The exact peak RSS of a process over a block: the kernel's high-water mark (VmHWM),
    reset to the current RSS as the block starts (``clear_refs``, Linux 4.0). For peaks too
    short for a sampler: a relay holds a 16 MiB body for a few ms."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.start = 0
        self.peak = 0

    def __enter__(self) -> PeakRss:
        Path(f"/proc/{self.pid}/clear_refs").write_text("5")
        self.start = rss_bytes(self.pid)
        return self

    def __exit__(self, *exc: object) -> None:
        self.peak = rss_bytes(self.pid, "VmHWM")


class RssSampler:
    """The peak RSS of a process, sampled every ``interval`` seconds while the block runs.

    Sampling from the event loop is coarse (a busy loop samples late), but peaks that last
    long enough to matter — buffers growing with a stream — last far longer than the interval.
    """

    def __init__(self, pid: int, interval: float = 0.05) -> None:
        self.pid = pid
        self.interval = interval
        self.start = rss_bytes(pid)
        self.peak = self.start
        self._task: asyncio.Task[None] | None = None

    async def _run(self) -> None:
        while True:
            self.sample()
            await asyncio.sleep(self.interval)

    def sample(self) -> int:
        current = rss_bytes(self.pid)
        self.peak = max(self.peak, current)
        return current

    async def __aenter__(self) -> RssSampler:
        self._task = asyncio.create_task(self._run())
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._task is not None
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task
        self.sample()


def cpu_seconds(pid: int) -> float:
    """User + system CPU time ``pid`` has used, from /proc (its own threads, not its children)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def interleaved(reps: int, sides: Mapping[str, Callable[[], Awaitable[float]]]) -> dict[str, float]:
    """Each side measured once per repetition, in turn (baseline, bridge, baseline…, so that a
    shared machine's drift hits both alike); the median of each side's figures."""
    figures: dict[str, list[float]] = {name: [] for name in sides}
    for _ in range(reps):
        for name, measure in sides.items():
            figures[name].append(await measure())
    return {name: median(values) for name, values in figures.items()}


async def median_ms(count: int, one: Callable[[], Awaitable[object]]) -> float:
    """The median, in ms, of ``count`` awaits of ``one()`` in a row."""
    latencies = []
    for _ in range(count):
        started = time.perf_counter()
        await one()
        latencies.append(time.perf_counter() - started)
    return median(latencies) * 1e3


async def latency_versus(
    reps: int, calls: int, bridge: Callable[[], Awaitable[object]], baseline: Callable[[], Awaitable[object]]
) -> dict[str, float]:
    """The median ms of ``calls`` calls in a row of ``bridge`` and of ``baseline``, as
    ``{"bridge": …, "baseline": …}``, repetitions interleaved."""
    return await interleaved(
        reps, {"baseline": lambda: median_ms(calls, baseline), "bridge": lambda: median_ms(calls, bridge)}
    )

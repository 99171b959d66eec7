"""Host processes read straight into their batches: a fast producer's output goes out in frames
as big as the daemon's batch budget allows, and the running processes share that budget."""

from __future__ import annotations

import asyncio
import errno
import os
import secrets
import time
from pathlib import Path

import pytest

from bridge.processes import local
from bridge.processes.base import STDOUT
from bridge.processes.local import BATCH_BUDGET, BATCH_MAX, HIGH_WATER, LocalProcess, batch_size

pytestmark = pytest.mark.integration


async def start(script: str) -> LocalProcess:
    return await LocalProcess.start(["sh", "-c", script], cwd=None, env=None)


async def read_all(process: LocalProcess) -> tuple[list[int], bytes]:
    """The sizes of the batches ``read`` returned and the stdout they held."""
    sizes, parts = [], []
    while chunks := await process.read():
        sizes.append(sum(len(data) for _, data in chunks))
        parts.extend(data for fd, data in chunks if fd == STDOUT)
    await process.wait()
    process.close()
    return sizes, b"".join(parts)


async def test_a_fast_producer_is_read_in_batches_as_big_as_the_budget() -> None:
    """The pipe holds 1 MiB by the time the first batch is taken: it all goes in one batch, not
    in pieces of the 256 KiB that is buffered as output arrives; the output stays whole and in
    order."""
    process = await start("seq 1 400000")
    assert batch_size() == BATCH_MAX > HIGH_WATER
    await asyncio.sleep(0.5)
    sizes, output = await read_all(process)
    assert sizes[0] == BATCH_MAX
    assert output == "".join(f"{n}\n" for n in range(1, 400001)).encode()


async def test_running_processes_share_the_budget() -> None:
    processes = [await start("head -c 1048576 /dev/zero; sleep 30") for _ in range(32)]
    try:
        assert batch_size() == BATCH_BUDGET // 32
        await asyncio.sleep(0.5)
        firsts = [sum(len(data) for _, data in await process.read()) for process in processes]
        assert max(firsts) <= BATCH_BUDGET // 32 and sum(firsts) > 0
    finally:
        for process in processes:
            await process.terminate(0.1)
            process.close()
    assert batch_size() == BATCH_MAX


async def test_stderr_buffered_before_stdout_keeps_its_place() -> None:
    process = await start("echo first >&2; sleep 0.2; echo second; echo third >&2")
    chunks = []
    while batch := await process.read():
        chunks.extend(batch)
    await process.wait()
    process.close()
    assert [data for _, data in chunks] == [b"first\n", b"second\n", b"third\n"]


def _running_with(word: str) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if word.encode() in (entry / "cmdline").read_bytes():
                    found.append(int(entry.name))
            except OSError:
                pass
    return found


async def test_a_start_that_fails_after_the_spawn_leaves_no_process_and_no_descriptor(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The process runs, with children, when what watches its exit cannot be made (here: out of
    descriptors): it and its children end, and every pipe end is closed."""
    word = f"1000.{secrets.randbelow(10**6)}"

    def out_of_descriptors(*args: object) -> None:
        for _ in range(250):  # the shell and its two sleeps
            if len(_running_with(word)) >= 3:
                break
            time.sleep(0.02)
        raise OSError(errno.EMFILE, "Too many open files")

    monkeypatch.setattr(local, "_Child", out_of_descriptors)
    before = sorted(os.listdir("/proc/self/fd"))
    with pytest.raises(OSError, match="Too many open files"):
        await start(f"sleep {word} & sleep {word}")
    for _ in range(100):
        if not _running_with(word):
            break
        await asyncio.sleep(0.02)
    assert _running_with(word) == []
    assert sorted(os.listdir("/proc/self/fd")) == before

"""Local subprocesses (host binaries, the docker CLI), read through a pausing pipe protocol.

Output is buffered in the protocol, handed over in coalesced batches, and reading from the
pipes pauses above a high-water mark: a slow consumer slows the process instead of growing
memory, and no task is created per chunk.

Each process leads its own process group and carries a marker in its environment,
``DDBRIDGE_EXEC_ID=<random>`` (the name container execs use), which everything it starts
inherits. ``terminate`` signals the group and every process with the marker
(``bridge.processes.sweep``), so children that left the group with ``setsid`` (or a double
fork) end with it too.

Processes are started with ``subprocess.Popen`` (vfork and exec) and their exit is watched on
the loop through a pidfd: uvloop's ``subprocess_exec`` forks the whole daemon, which took 6-20
ms a start at 70 MB RSS against 1-5 ms for Popen, most of a short ``exec.run``.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import fcntl
import os
import secrets
import signal
import subprocess
from collections import deque
from collections.abc import Mapping, Sequence

from bridge.processes.base import STDERR, STDOUT, Chunk, ExitStatus
from bridge.processes.sweep import signal_marked

MARKER = "DDBRIDGE_EXEC_ID"

HIGH_WATER = 256 * 1024  # output buffered as it arrives, above which reading pauses
READ_SIZE = 64 * 1024
STDOUT_PIPE_SIZE = 1024 * 1024
# A batch (one frame to the page) is read when it goes out. Big batches make socket writes and
# wake-ups few (a 1 GiB stream cost the daemon 1.1 s of CPU in 256 KiB frames, 0.75 s in 1 MiB
# ones), but a batch is copied several times on its way out, so the running processes share
# a budget: one stream gets 1 MiB batches, a hundred get 84 KiB (100 streams: 133 MB RSS).
BATCH_BUDGET = 8 * 1024 * 1024
BATCH_MAX = 1024 * 1024


def batch_size() -> int:
    """The most one process's next batch takes, given how many local processes are running."""
    return max(READ_SIZE, min(BATCH_MAX, BATCH_BUDGET // max(1, _PipeReader.running)))


class _PipeProtocol:
    """A process's output as it arrives from its two pipes, and its exit."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.chunks: deque[Chunk] = deque()
        self.buffered = 0
        self.open_pipes = {STDOUT, STDERR}
        self.readable = asyncio.Event()
        self.exited: asyncio.Future[None] = loop.create_future()
        self.pipes: dict[int, _PipeReader] = {}  # paused and resumed together
        self.paused = False

    def add_pipe(self, fd: int, pipe: _PipeReader) -> None:
        """The reader of output ``fd``."""
        self.pipes[fd] = pipe
        if self.paused:
            pipe.pause_reading()

    def pipe_data_received(self, fd: int, data: bytes) -> None:
        self.chunks.append((fd, data))
        self.buffered += len(data)
        self.readable.set()
        if self.buffered >= HIGH_WATER and not self.paused:
            self._set_paused(True)

    def pipe_connection_lost(self, fd: int, exc: Exception | None) -> None:
        self.open_pipes.discard(fd)
        self.readable.set()

    def process_exited(self) -> None:
        if not self.exited.done():
            self.exited.set_result(None)

    def _set_paused(self, paused: bool) -> None:
        self.paused = paused
        for fd in self.open_pipes:
            pipe = self.pipes.get(fd)
            if pipe is not None:
                (pipe.pause_reading if paused else pipe.resume_reading)()

    def take(self) -> list[Chunk]:
        """Up to ``batch_size()`` bytes of output, in order, with neighbouring chunks of one
        stream joined (once: adding them up pairwise copied a batch over and over): what is
        buffered, then what the stdout pipe holds by now, read straight into the batch.

        Reading the pipe here, when the batch goes out, and not only as data arrives, makes
        batches as big as the producer's pace allows: one 64 KiB frame per wake-up took four
        times the socket writes of 256 KiB frames. A chunk that does not fit is split and the
        rest waits for the next call."""
        runs: list[tuple[int, list[bytes]]] = []
        left = batch_size()
        while self.chunks and left > 0:
            fd, data = self.chunks.popleft()
            if len(data) > left:
                self.chunks.appendleft((fd, data[left:]))
                data = data[:left]
            left -= len(data)
            self.buffered -= len(data)
            _add_to_runs(runs, fd, data)
        stdout = self.pipes.get(STDOUT)
        if left > 0 and stdout is not None and (data := stdout.read_now(left)):
            _add_to_runs(runs, STDOUT, data)
        if self.paused and self.buffered < HIGH_WATER:
            self._set_paused(False)
        return [(fd, parts[0] if len(parts) == 1 else b"".join(parts)) for fd, parts in runs]


def _add_to_runs(runs: list[tuple[int, list[bytes]]], fd: int, data: bytes) -> None:
    if runs and runs[-1][0] == fd:
        runs[-1][1].append(data)
    else:
        runs.append((fd, [data]))


class _PipeReader:
    """Reads one output pipe of a process (``channel``: stdout or stderr) on its
    ``_PipeProtocol``'s behalf, ``READ_SIZE`` bytes at a time; the pipe's read end is this
    reader's alone, closed once, by ``close``.

    Not a loop read transport: uvloop's pipe transport reads up to 256 KB at once from a full
    1 MiB pipe (100 running streams then peaked at 261 MB, against 123 MB with one 64 KiB read
    per wake-up; reading on to the high-water mark in one wake-up: 187 MB, for no clear gain in
    speed), and one made from ``Popen``'s file object shares the descriptor with that object,
    so both closed it: the second close hit whatever had been given the number meanwhile (a
    sweep's pidfd in another thread, in the soak). It quacks like one: ``pause_reading``,
    ``resume_reading``, ``close``."""

    running = 0  # stdout readers not yet closed: the processes sharing ``BATCH_BUDGET``

    def __init__(self, loop: asyncio.AbstractEventLoop, fd: int, owner: _PipeProtocol, channel: int) -> None:
        self._loop = loop
        self._fd = fd
        self._owner = owner
        self._channel = channel
        self._reading = False
        self._closed = False
        if channel == STDOUT:
            _PipeReader.running += 1
        os.set_blocking(fd, False)
        self.resume_reading()

    def _readable(self) -> None:
        if data := self.read_now(READ_SIZE):
            self._owner.pipe_data_received(self._channel, data)

    def read_now(self, limit: int) -> bytes:
        """What the pipe holds, up to ``limit`` bytes, without waiting; at its end (or on an
        error) the owner is told the pipe is lost."""
        if self._closed:
            return b""
        try:
            data = os.read(self._fd, limit)
        except (BlockingIOError, InterruptedError):
            return b""
        except OSError as exc:
            self._finish(exc)
            return b""
        if not data:
            self._finish(None)
        return data

    def _finish(self, exc: Exception | None) -> None:
        self.close()
        self._owner.pipe_connection_lost(self._channel, exc)

    def pause_reading(self) -> None:
        if self._reading:
            self._loop.remove_reader(self._fd)
            self._reading = False

    def resume_reading(self) -> None:
        if not self._reading and not self._closed:
            self._loop.add_reader(self._fd, self._readable)
            self._reading = True

    def close(self) -> None:
        if not self._closed:
            self.pause_reading()
            self._closed = True
            if self._channel == STDOUT:
                _PipeReader.running -= 1
            os.close(self._fd)


class _Child:
    """A started ``Popen`` whose exit the loop learns from a pidfd, which becomes readable when
    the process ends; it is reaped then, by pid, so ``bridge.processes.reaper`` never takes it."""

    def __init__(
        self, loop: asyncio.AbstractEventLoop, popen: subprocess.Popen[bytes], owner: _PipeProtocol
    ) -> None:
        self._loop = loop
        self._popen = popen
        self._owner = owner
        self._pidfd: int | None = os.pidfd_open(popen.pid)
        loop.add_reader(self._pidfd, self._readable)

    @property
    def pid(self) -> int:
        return self._popen.pid

    @property
    def returncode(self) -> int | None:
        return self._popen.returncode

    def _readable(self) -> None:
        if self._popen.poll() is not None:
            self._stop_watching()
            self._owner.process_exited()

    def _stop_watching(self) -> None:
        if self._pidfd is not None:
            self._loop.remove_reader(self._pidfd)
            os.close(self._pidfd)
            self._pidfd = None

    def close(self) -> None:
        """Stop watching; a process still running is killed, as an asyncio transport's close
        does (the callers end it first; this only keeps a mistake from leaking one)."""
        if self._popen.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                self._popen.kill()
            self._popen.wait()
        self._stop_watching()


def _output_pipes() -> tuple[tuple[int, int], tuple[int, int]]:
    """(read end, write end) for a process's stdout and for its stderr; stdout's is
    ``STDOUT_PIPE_SIZE`` bytes big where the system allows.

    With 64 KiB the process blocks whenever the daemon is busy encoding and sending a batch,
    and the two take turns instead of working at once. The pages are the kernel's and are
    allocated only as the pipe fills; ``HIGH_WATER`` still bounds what the daemon holds.
    """
    stdout = os.pipe()
    with contextlib.suppress(OSError):  # over /proc/sys/fs/pipe-max-size or the user's quota
        fcntl.fcntl(stdout[0], fcntl.F_SETPIPE_SZ, STDOUT_PIPE_SIZE)
    try:
        return stdout, os.pipe()
    except OSError:
        for fd in stdout:
            os.close(fd)
        raise


def _require_directory(cwd: str) -> None:
    """Name the working directory, and what is wrong with it, before anything is started."""
    if not os.path.isdir(cwd):
        raise NotADirectoryError(errno.ENOTDIR, "not an existing directory", cwd)


def _spawn(
    argv: Sequence[str],
    outputs: tuple[int, int],
    cwd: str | None,
    env: Mapping[str, str],
    pass_fds: Sequence[int],
) -> subprocess.Popen[bytes]:
    """``argv`` started in a new session. Blocking, but only until the child has exec'd
    (vfork): well under a millisecond, where uvloop's fork of the daemon took several."""
    return subprocess.Popen(
        argv,
        stdin=subprocess.DEVNULL,
        stdout=outputs[0],
        stderr=outputs[1],
        cwd=cwd,
        env=env,
        start_new_session=True,
        pass_fds=tuple(pass_fds),
    )


def _signal_tree(pid: int, marker: bytes, signum: signal.Signals) -> None:
    """``signum`` to the process group ``pid`` leads, then to the marked processes outside it."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, signum)
    signal_marked(marker, signum, spare_group=pid)


def _end_unheld(popen: subprocess.Popen[bytes], marker: bytes) -> None:
    """Kill a process nobody will hold, its group and what carries its marker, and reap it."""
    _signal_tree(popen.pid, marker, signal.SIGKILL)
    popen.wait()


class LocalProcess:
    """A subprocess started from an argv, in a new session (its own process group)."""

    def __init__(
        self,
        child: _Child,
        protocol: _PipeProtocol,
        stdout: _PipeReader,
        stderr: _PipeReader,
        marker: str,
    ) -> None:
        self._child = child
        self._protocol = protocol
        self._stdout = stdout
        self._stderr = stderr
        self._marker = marker.encode()
        self._killed = False

    @classmethod
    async def start(
        cls,
        argv: Sequence[str],
        *,
        cwd: str | None,
        env: Mapping[str, str] | None,
        pass_fds: Sequence[int] = (),
    ) -> LocalProcess:
        """Start ``argv`` with ``env`` (the daemon's own when None) plus the marker; the
        descriptors ``pass_fds`` stay open in the process."""
        if cwd is not None:
            _require_directory(cwd)
        marker = secrets.token_hex(16)
        environment = {**(os.environ if env is None else env), MARKER: marker}
        loop = asyncio.get_running_loop()
        (out_read, out_write), (err_read, err_write) = _output_pipes()
        try:
            popen = _spawn(argv, (out_write, err_write), cwd, environment, pass_fds)
        except BaseException:
            os.close(out_read)
            os.close(err_read)
            raise
        finally:
            os.close(out_write)
            os.close(err_write)
        # From here to the return nothing awaits, so no cancellation can come between the
        # spawn and the caller holding the process; a failure (a descriptor limit) ends it.
        protocol = _PipeProtocol(loop)
        readers: list[_PipeReader] = []
        try:
            for fd, channel in ((out_read, STDOUT), (err_read, STDERR)):
                readers.append(_PipeReader(loop, fd, protocol, channel))
                protocol.add_pipe(channel, readers[-1])
            child = _Child(loop, popen, protocol)
        except BaseException:
            _end_unheld(popen, f"{MARKER}={marker}".encode())
            for reader in readers:
                reader.close()
            for fd in (out_read, err_read)[len(readers) :]:
                os.close(fd)
            raise
        stdout, stderr = readers
        return cls(child, protocol, stdout, stderr, f"{MARKER}={marker}")

    @property
    def pid(self) -> int:
        return self._child.pid

    @property
    def killed(self) -> bool:
        return self._killed

    async def read(self) -> list[Chunk]:
        protocol = self._protocol
        while not protocol.chunks and protocol.open_pipes:
            # Cleared before each wait: a set event returns at once without yielding, and a pipe
            # closing (which sets it with nothing to read) must not turn this into a busy loop.
            protocol.readable.clear()
            await protocol.readable.wait()
        return protocol.take()

    async def wait(self) -> ExitStatus:
        await self._protocol.exited
        returncode = self._child.returncode
        assert returncode is not None
        return ExitStatus.from_returncode(returncode)

    async def _signal_all(self, signum: signal.Signals) -> None:
        await asyncio.to_thread(_signal_tree, self.pid, self._marker, signum)

    async def terminate(self, grace: float) -> None:
        self._killed = True
        if not self._protocol.exited.done():
            await self._signal_all(signal.SIGTERM)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(asyncio.shield(self._protocol.exited), grace)
        # Whatever is left (children that ignored SIGTERM, or outlived the leader, in the
        # group or out of it).
        await self._signal_all(signal.SIGKILL)
        await self._protocol.exited

    def close(self) -> None:
        """Release the pipes and the pidfd once the process is done with."""
        self._stdout.close()
        self._stderr.close()
        self._child.close()

"""Container execs through the Engine API: the ``RunningProcess`` of the ``vm`` and ``container:``
targets.

Output. Without a TTY the engine multiplexes stdout and stderr on the hijacked connection;
aiodocker splits it into a flow-controlled queue that stops reading the socket above 128 KiB.
A page that reads slowly therefore stalls the engine's copy and then the process (its pipe
fills) while the bridge holds a bounded amount; what is queued is handed over coalesced.

Ending an exec (``close()``, ``exec.kill``, the page going away). The Engine API has no "kill
exec", and dropping the attached connection (what killing a ``docker exec`` client does) leaves
the process running in the container. So every exec gets a marker in its environment,
``DDBRIDGE_EXEC_ID=<random>``, which all it starts inherits, including children that go to the
background or start a new session. ``terminate`` runs a second exec in the same container, as
root, with a short sh script that signals every process whose ``/proc/PID/environ`` holds the
marker: SIGTERM, up to ``grace`` seconds for the exec to end, then SIGSTOP and SIGKILL for
whatever is left (``_PASSES``).
The signal is sent from inside the container, so this works with any engine the bridge can
reach (local, remote, a VM) and whatever user the bridge runs as; host PIDs (exec inspect's
``Pid``) only mean something when the engine shares the bridge's PID namespace, and signalling
them needs the engine's privileges.

Limits:

- the container needs ``sh``, ``grep`` and ``kill`` (busybox, Alpine and Debian images have
  them, distroless and scratch images do not); without them the bridge logs a warning and only
  drops its end of the stream: the process runs on until it exits by itself;
- output written after ``close()`` reaches a stream only while its reader is waiting for it;
  what arrives in between is drained and dropped, so the engine can finish the exec;
- a process that clears its environment (``env -i ...``) escapes the sweep;
- when the engine cannot be reached (stopped or restarting; with ``live-restore`` its containers
  and their execs run on meanwhile), the sweep is retried in the background, with backoff, for
  up to ``_LATER_FOR`` seconds: once the engine is back, SIGKILL ends what is left (the output
  was lost with the engine, nobody reads it any more);
- the command sees ``DDBRIDGE_EXEC_ID`` in its environment;
- the engine reports a death by signal as exit code 128+N; the signal's name is given only when
  the bridge ended the process (otherwise a plain ``exit 143`` would look the same).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import secrets
import signal
from collections.abc import Coroutine
from typing import Any

import aiodocker
import aiohttp

from bridge.docker_engine import DockerEngine, segment
from bridge.errors import BridgeError, DockerUnavailable, ExecError
from bridge.processes.base import Chunk, ExecSpec, ExitStatus

log = logging.getLogger("ddbridge.exec")

MARKER = "DDBRIDGE_EXEC_ID"
# $1 is the signals, sent one pass each, $2 the marker. Exits 127 when the image lacks what the
# sweep needs.
_SWEEP = (
    "command -v grep >/dev/null && command -v kill >/dev/null || exit 127; "
    'for s in $1; do for d in /proc/[0-9]*; do grep -qzxF "$2" "$d/environ" 2>/dev/null '
    '&& kill -s "$s" "${d#/proc/}" 2>/dev/null; done; done; exit 0'
)
# The passes of each sweep. The kill stops every process first: /proc lists them in no order that
# follows their tree, and a shell whose children were killed before it would exit by itself (with
# its own code, 0 for ``wait``) or start others before its turn came.
_PASSES = {"TERM": "TERM", "KILL": "STOP KILL"}
# How the engine reports, as the exec's first output, a command it could not start: Docker's
# "OCI runtime exec failed: ...", Podman's "Error: runc: exec failed: ...: OCI runtime attempted
# to invoke a command that was not found" (then a line about its attach socket).
_START_FAILED = re.compile(rb"OCI runtime exec failed|Error: [\w-]+: [^\n]*OCI runtime ")
# A sweep that takes longer is given up (and logged): terminate must not hang.
_SWEEP_TIMEOUT = 10.0
# Queued output handed over in one read at most (one notification instead of many).
_COALESCE = 256 * 1024
# How long a sweep the engine could not take is retried in the background, and the retry delays.
_LATER_FOR = 300.0
_LATER_FIRST_DELAY = 0.5
_LATER_MAX_DELAY = 5.0
# Holds the release and later-sweep tasks, so they are not collected before they run.
_background: set[asyncio.Task[None]] = set()


class ContainerProcess:
    """A command running in a container through ``POST /containers/{id}/exec``."""

    def __init__(
        self,
        engine: DockerEngine,
        container: str,
        where: str,
        spec: ExecSpec,
        target: str,
        exec_: aiodocker.execs.Exec,
        stream: aiodocker.stream.Stream,
        marker: str,
    ) -> None:
        self._engine = engine
        self._container = container
        self._where = where
        self._spec = spec
        self._target = target
        self._exec = exec_
        self._stream = stream
        self._marker = marker
        self._started = True
        self._first = True
        self._eof = False
        self._released = False
        self._killed = False
        self._unreachable = False  # the last sweep failed for want of an engine
        # Held while a consumer waits for output: terminate drains only when nobody reads.
        self._read_lock = asyncio.Lock()

    @classmethod
    async def start(
        cls, engine: DockerEngine, container: str, spec: ExecSpec, *, target: str, where: str
    ) -> ContainerProcess:
        """Create and start the exec; ``where`` names the container in error messages."""
        marker = f"{MARKER}={secrets.token_hex(16)}"
        env = [f"{key}={value}" for key, value in spec.env.items()] + [marker]
        try:
            async with engine.translate() as client:
                exec_ = await client.containers.container(segment(container)).exec(
                    [spec.cmd, *spec.args], stdout=True, stderr=True, environment=env, workdir=spec.cwd
                )
                stream = exec_.start(detach=False)
                process = cls(engine, container, where, spec, target, exec_, stream, marker)
                try:
                    await stream.__aenter__()  # the hijack; it lasts until the output ends
                except asyncio.CancelledError:
                    # The page went away while the engine was starting it: it may run already,
                    # and nothing else knows of it to end it. Its output was never attached.
                    process._eof = True
                    await process.terminate(0)
                    raise
        except aiodocker.DockerError as exc:
            raise _exec_error(exc, where, spec.cmd, target, engine.host) from exc
        return process

    @property
    def killed(self) -> bool:
        return self._killed

    async def read(self) -> list[Chunk]:
        async with self._read_lock:
            return await self._read()

    async def _read(self) -> list[Chunk]:
        batch: list[Chunk] = []
        size = 0
        while not self._eof:
            try:
                message = await self._stream.read_out()
            except aiohttp.ClientError as exc:
                if not self._released:
                    await self._release()
                    raise self._engine.unavailable(
                        f"the output of {self._spec.cmd!r} broke off: {exc}"
                    ) from exc
                message = None  # terminate let go of the stream: that is its end
            if message is None:
                self._eof = True
                await self._release()
                break
            fd, data = message
            if self._first:
                self._first = False
                if _START_FAILED.match(data):
                    self._started = False
                    reason = data.decode(errors="replace").strip().splitlines()[0].removeprefix("Error: ")
                    raise ExecError(
                        f"cannot run {self._spec.cmd!r} in {self._where}: {reason}",
                        target=self._target,
                        cmd=self._spec.cmd,
                    )
            if batch and batch[-1][0] == fd:
                batch[-1] = (fd, batch[-1][1] + data)
            else:
                batch.append((fd, data))
            size += len(data)
            if size >= _COALESCE or not self._queued():
                break
        return batch

    def _queued(self) -> int:
        """Messages aiodocker has parsed but not handed over (its Stream does not expose it)."""
        queue: Any = self._stream._queue
        return len(queue) if queue is not None else 0

    async def wait(self) -> ExitStatus:
        code = await self._exit_code(self._exec)
        if self._killed and code > 128:
            try:
                return ExitStatus(code, signal.Signals(code - 128).name)
            except ValueError:
                pass
        return ExitStatus(code)

    async def _inspect(self, exec_: aiodocker.execs.Exec) -> dict[str, Any]:
        try:
            async with self._engine.translate():
                info: dict[str, Any] = await exec_.inspect()
                return info
        except aiodocker.DockerError as exc:
            raise ExecError(
                f"lost track of {self._spec.cmd!r} in {self._where}: {exc.message} "
                "(was the container removed?)",
                target=self._target,
                cmd=self._spec.cmd,
            ) from exc

    async def _exit_code(self, exec_: aiodocker.execs.Exec) -> int:
        """Poll exec inspect until the engine has recorded the exit (it lags the end of output)."""
        delay = 0.005
        while True:
            info = await self._inspect(exec_)
            if not info["Running"] and info["ExitCode"] is not None:
                return int(info["ExitCode"])
            await asyncio.sleep(delay)
            delay = min(delay * 2, 0.25)

    async def _running(self) -> bool:
        try:
            return bool((await self._inspect(self._exec))["Running"])
        except BridgeError as exc:
            log.warning("cannot tell whether %r in %s still runs: %s", self._spec.cmd, self._where, exc)
            return False

    async def _wait_exit(self, timeout: float) -> None:
        with contextlib.suppress(TimeoutError, BridgeError):
            await asyncio.wait_for(self._exit_code(self._exec), timeout)

    async def _sweep(self, signame: str) -> bool:
        """Signal every process in the container that carries this exec's marker."""
        try:
            code = await asyncio.wait_for(self._run_sweep(signame), _SWEEP_TIMEOUT)
        except (BridgeError, aiodocker.DockerError, TimeoutError) as exc:
            log.warning("cannot signal %r in %s: %s", self._spec.cmd, self._where, exc or "timed out")
            self._unreachable = isinstance(exc, DockerUnavailable)
            return False
        if code != 0:
            log.warning(
                "cannot end %r in %s: the image lacks sh, grep or kill (exit %d); it runs on until it exits",
                self._spec.cmd,
                self._where,
                code,
            )
            return False
        return True

    async def _run_sweep(self, signame: str) -> int:
        argv = ["sh", "-c", _SWEEP, "ddbridge-kill", _PASSES[signame], self._marker]
        async with self._engine.translate() as client:
            sweeper = await client.containers.container(segment(self._container)).exec(
                argv, stdout=True, stderr=True, user="0"
            )
            async with sweeper.start(detach=False) as stream:
                while await stream.read_out() is not None:
                    pass
        return await self._exit_code(sweeper)

    async def terminate(self, grace: float) -> None:
        """SIGTERM every process of the exec, SIGKILL what is left after ``grace`` seconds.

        The attached connection stays open and read until the exec's output ends: dockerd
        records exit code 126 for an exec whose output it fails to write (the real code is
        lost, and the bridge would skip the grace period), and while an exec's output goes
        unread it stalls the container's other execs, the sweep among them. The consumer
        reads on if it is reading (a stream then also delivers what the process writes on its
        way out, as with host processes); otherwise a drain task reads and drops it.
        """
        self._killed = True
        if not self._started:
            await self._release()
            return
        drain = None if self._read_lock.locked() else asyncio.create_task(self._drain())
        try:
            if await self._running() and await self._sweep("TERM"):
                await self._wait_exit(grace)
            # Also after the exec ended: children it left in the background carry its marker.
            if await self._sweep("KILL"):
                await self._wait_exit(grace)
            else:
                # The process cannot be ended now: stop listening to it at least (it runs on),
                # and end it once the engine is back if that is what stood in the way.
                await self._release()
                if self._unreachable:
                    _in_background(self._sweep_later())
        finally:
            if drain is not None:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(asyncio.shield(drain), _SWEEP_TIMEOUT)
                if not drain.done():
                    await self._release()
                    await drain

    async def _sweep_later(self) -> None:
        """Retry the SIGKILL sweep until the engine answers (bounded by ``_LATER_FOR``)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + _LATER_FOR
        delay = _LATER_FIRST_DELAY
        while loop.time() + delay < deadline:
            await asyncio.sleep(delay)
            delay = min(delay * 2, _LATER_MAX_DELAY)
            try:
                code = await asyncio.wait_for(self._run_sweep("KILL"), _SWEEP_TIMEOUT)
            except DockerUnavailable:
                continue
            except (BridgeError, aiodocker.DockerError, TimeoutError) as exc:
                log.warning("cannot end %r in %s: %s", self._spec.cmd, self._where, exc or "timed out")
                return
            if code == 0:
                log.info("ended %r in %s now that the engine answers again", self._spec.cmd, self._where)
            return
        log.warning(
            "gave up ending %r in %s: the engine did not answer within %g s",
            self._spec.cmd,
            self._where,
            _LATER_FOR,
        )

    async def _drain(self) -> None:
        with contextlib.suppress(BridgeError, aiohttp.ClientError):
            while await self.read():
                pass

    async def _release(self) -> None:
        if not self._released:
            self._released = True
            await self._stream.close()

    def close(self) -> None:
        """Release the attached connection (already done when the output ended or on terminate)."""
        if not self._released:
            _in_background(self._release())


def _in_background(work: Coroutine[Any, Any, None]) -> None:
    """Run ``work`` in a task nobody awaits, holding a reference until it is done."""
    task = asyncio.get_running_loop().create_task(work)
    _background.add(task)
    task.add_done_callback(_background.discard)


def _exec_error(exc: aiodocker.DockerError, where: str, cmd: str, target: str, host: str) -> ExecError:
    if exc.status == 404:
        message = f"no {where} on the Docker engine at {host} ({exc.message})"
    elif exc.status == 409:
        message = f"cannot run {cmd!r}: {where} is not running ({exc.message})"
    else:
        message = f"cannot run {cmd!r} in {where}: {exc.message}"
    return ExecError(message, target=target, cmd=cmd)

"""Running the extension's backend and waiting for its socket.

A backend listens on a unix socket named by ``vm.exposes.socket`` in a folder that Docker Desktop
mounts at ``/run/guest-services``; the bridge makes that folder, starts the backend, waits for
the socket (bounded, showing progress, with the backend's last output if it dies), and stops it
at the end. This module holds what every kind of backend shares and the engine-free kind:
``--backend-cmd``, a host process told its socket path in ``DDBRIDGE_BACKEND_SOCKET``.

The command is the developer's own command line (not something a page sent), so it runs through
``/bin/sh -c`` like an npm script: ``--backend-cmd 'python3 main.py --socket "$DDBRIDGE_BACKEND_SOCKET"'``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
from collections import deque
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Protocol

from bridge.engine_machine import local_socket_state
from bridge.extension.metadata import ExtensionError
from bridge.progress import Progress, Step

log = logging.getLogger("ddbridge.backend")

SOCKET_ENV = "DDBRIDGE_BACKEND_SOCKET"
# How long a --backend-cmd backend's processes get to exit after SIGTERM, before SIGKILL.
STOP_GRACE = 5.0


class Backend(Protocol):
    """A started backend. ``vm_container`` names where ``extension.vm.cli.exec`` runs."""

    description: str
    vm_container: str | None

    async def start(self, progress: Progress, step: Step) -> None: ...

    async def stop(self) -> None: ...


async def wait_for_socket(
    path: Path,
    *,
    step: Step,
    timeout: float,
    exited: Callable[[], Awaitable[str | None]],
    state: Callable[[Path], Awaitable[str | None]] = local_socket_state,
) -> None:
    """Wait until something accepts connections on ``path``.

    ``exited`` answers why the backend is gone (its last output), or None while it runs;
    ``state`` whether the socket listens, where it is made (this machine, or the engine's).
    """
    step.detail = f"waiting for {path.name}"
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    why_not: str | None = "no socket yet"
    while loop.time() < deadline:
        why_not = await state(path)
        if why_not is None:
            return
        why = await exited()
        if why is not None:
            raise ExtensionError(f"the backend stopped before listening on {path}: {why}")
        await asyncio.sleep(0.1)
    raise ExtensionError(f"the backend did not listen on {path} within {timeout:g} s ({why_not})")


class HostCommandBackend:
    """The backend as a host process, for UI work with no Docker at all (``--backend-cmd``)."""

    vm_container: str | None = None

    def __init__(self, command: str, *, cwd: Path, socket_path: Path, timeout: float) -> None:
        if not command.strip():
            raise ExtensionError("--backend-cmd is empty")
        self._argv = ["/bin/sh", "-c", command]
        self._cwd = cwd
        self._socket = socket_path
        self._timeout = timeout
        self._process: asyncio.subprocess.Process | None = None
        self._output: deque[str] = deque(maxlen=20)
        self._reader: asyncio.Task[None] | None = None
        self.description = f"host process: {command}"

    async def _read_output(self, stream: asyncio.StreamReader) -> None:
        async for raw in stream:
            line = raw.decode(errors="replace").rstrip()
            self._output.append(line)
            log.info("backend | %s", line)

    async def _exited(self) -> str | None:
        assert self._process is not None
        if self._process.returncode is None:
            return None
        if self._reader is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._reader, 1)
        tail = " | ".join(self._output) or "no output"
        return f"it exited with code {self._process.returncode}; last output: {tail}"

    async def start(self, progress: Progress, step: Step) -> None:
        self._socket.unlink(missing_ok=True)
        try:
            self._process = await asyncio.create_subprocess_exec(
                *self._argv,
                cwd=self._cwd,
                env={**os.environ, SOCKET_ENV: str(self._socket)},
                stdin=asyncio.subprocess.DEVNULL,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.STDOUT,
                start_new_session=True,
            )
        except OSError as exc:
            raise ExtensionError(
                f"cannot start the backend command {self._argv[0]!r}: {exc.strerror}"
            ) from exc
        assert self._process.stdout is not None
        self._reader = asyncio.create_task(self._read_output(self._process.stdout))
        await wait_for_socket(self._socket, step=step, timeout=self._timeout, exited=self._exited)

    async def stop(self) -> None:
        """SIGTERM the backend's whole process group, SIGKILL what is left after the grace.

        The group, not only the command: a child the command started (a worker, a ``sleep`` in
        a script) outlives it otherwise, and keeps the output pipe open, so that reading the
        output to its end would never finish.
        """
        process = self._process
        if process is None:
            return
        group = process.pid  # start_new_session: the command leads its own group
        if process.returncode is None or _group_alive(group):
            _signal_group(group, signal.SIGTERM)
            if not await _group_ended(process, STOP_GRACE):
                _signal_group(group, signal.SIGKILL)  # cannot be ignored: no need to watch the group
                await process.wait()
        if self._reader is not None:
            # Bounded all the same: a process that left the group may still hold the pipe.
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._reader, 1)


def _group_alive(group: int) -> bool:
    """True while a process of the process group ``group`` runs (zombies do not count).

    Linux's /proc tells a zombie apart: an orphan that already exited waits there until init
    reaps it, which can take a second or more; ``killpg(group, 0)`` counts it as alive, so it is
    only the fallback where there is no /proc.
    """
    proc = Path("/proc")
    if not (proc / "self" / "stat").exists():
        try:
            os.killpg(group, 0)
        except ProcessLookupError:
            return False
        return True  # PermissionError too: a member that changed its user exists
    for entry in proc.iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue  # gone meanwhile
        # Field 2, the command name, is in parentheses and may hold spaces: split after it.
        state, _ppid, pgrp = stat[stat.rindex(")") + 2 :].split(maxsplit=3)[:3]
        if int(pgrp) == group and state != "Z":
            return True
    return False


def _signal_group(group: int, signum: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(group, signum)


async def _group_ended(process: asyncio.subprocess.Process, timeout: float) -> bool:
    """Wait up to ``timeout`` s for the command and every other process of its group to exit.

    The command's own exit is awaited; the others are not our children (nobody tells us when
    they end), so the group is polled.
    """
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(process.wait(), timeout)
    while _group_alive(process.pid):
        if loop.time() >= deadline:
            return False
        await asyncio.sleep(0.05)
    return process.returncode is not None

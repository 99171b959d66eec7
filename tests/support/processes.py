"""Starting the real daemon (through the package's launcher, ``bridge.testing``) and the real
test backend as subprocesses, and stopping them."""

from __future__ import annotations

import contextlib
import os
import re
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bridge.testing.launcher import RunningBridge, free_port
from bridge.testing.launcher import start_bridge as _start_bridge

__all__ = [
    "REPO",
    "HostProcess",
    "RunningBridge",
    "descendants",
    "free_port",
    "host_processes",
    "marked_host_processes",
    "run_ddbridge",
    "running_binary",
    "start_backend",
    "start_bridge",
    "still_running",
    "still_running_after",
    "vm_status",
    "wait_listening",
]

REPO = Path(__file__).resolve().parents[2]


def run_ddbridge(
    *args: str | Path, env: dict[str, str] | None = None, timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    """``ddbridge ARGS`` (this interpreter's package) run to its end, output captured; ``env``
    replaces the environment when given."""
    return subprocess.run(
        [sys.executable, "-m", "bridge", *map(str, args)],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=timeout,
        env=env,
    )


def start_bridge(
    args: list[str],
    log_path: Path,
    env: dict[str, str] | None = None,
    timeout: float = 20,
    command: str = "serve",
) -> RunningBridge:
    """The package's launcher (``bridge.testing.start_bridge``), run from the repository root."""
    return _start_bridge(args, log_path, env, timeout, command, cwd=REPO)


def wait_listening(
    address: str | tuple[str, int],
    process: subprocess.Popen[Any],
    what: str,
    timeout: float = 20,
    log_path: Path | None = None,
) -> None:
    """Wait until ``what`` (a server the tests started) accepts connections on ``address``
    (a unix socket path or a TCP address); fail with its log if it exits or never listens."""
    deadline = time.monotonic() + timeout
    family = socket.AF_UNIX if isinstance(address, str) else socket.AF_INET
    while process.poll() is None and time.monotonic() < deadline:
        with socket.socket(family, socket.SOCK_STREAM) as probe:
            try:
                probe.connect(address)
                return
            except OSError:
                time.sleep(0.05)
    process.kill()
    process.wait()
    log = f":\n{log_path.read_text(errors='replace')}" if log_path is not None else ""
    raise RuntimeError(f"{what} did not listen on {address} within {timeout} s{log}")


def start_backend(*, uds: Path | None = None, port: int | None = None) -> subprocess.Popen[bytes]:
    """The test backend (tests/support/backend.py) under uvicorn, on a unix socket or TCP port."""
    where = ["--uds", str(uds)] if uds is not None else ["--host", "127.0.0.1", "--port", str(port)]
    process = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "tests.support.backend:app", "--log-level", "warning", *where],
        cwd=REPO,
    )
    wait_listening(str(uds) if uds is not None else ("127.0.0.1", port or 0), process, "the test backend")
    return process


@dataclass(frozen=True)
class HostProcess:
    """A process seen in /proc: its pid and start time (together they name it even after the
    pid is reused), its parent, its command line and its state letter (``Z`` for a zombie). Two
    sightings of one process are equal whatever its state was each time (``S``, then ``D``)."""

    pid: int
    ppid: int
    start: int
    command: str
    state: str = field(compare=False)


def _read_process(pid: int) -> HostProcess | None:
    """The process, or None once it is gone."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        command = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return None
    # The command name (field 2) is in parentheses and may hold spaces: split after the last one.
    fields = stat[stat.rindex(")") + 2 :].split()
    return HostProcess(pid, int(fields[1]), int(fields[19]), command.strip(), fields[0])


def host_processes(*, zombies: bool = False) -> list[HostProcess]:
    """Every living process of this machine (and the zombies, when asked), read from /proc (no
    psutil)."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            read = _read_process(int(entry.name))
            if read is not None and (zombies or read.state != "Z"):
                found.append(read)
    return found


def marked_host_processes(marker: bytes) -> list[HostProcess]:
    """The living processes whose environment holds ``marker`` (``NAME=value``)."""
    found = []
    for process in host_processes():
        with contextlib.suppress(OSError):  # gone meanwhile, or not ours to read
            if marker in Path(f"/proc/{process.pid}/environ").read_bytes().split(b"\0"):
                found.append(process)
    return found


def running_binary(binary: Path) -> list[HostProcess]:
    """The living processes that run ``binary``. The daemon runs a host binary as
    ``/proc/self/fd/D/NAME``, through the descriptor of the folder it checked, which the process
    keeps: a process whose command line names such a path runs ``binary`` if that is its file."""
    found = []
    for process in host_processes():
        for fd, name in re.findall(r"/proc/self/fd/(\d+)/([^\s/]+)", process.command):
            with contextlib.suppress(OSError):  # gone meanwhile, or not ours to look at
                if os.path.samefile(f"/proc/{process.pid}/fd/{fd}/{name}", binary):
                    found.append(process)
                    break
    return found


def descendants(pid: int) -> list[HostProcess]:
    """The living processes below ``pid``: its children, theirs, and so on."""
    children: dict[int, list[HostProcess]] = {}
    for process in host_processes():
        children.setdefault(process.ppid, []).append(process)
    found: list[HostProcess] = []
    parents = [pid]
    while parents:
        below = children.get(parents.pop(), [])
        found.extend(below)
        parents.extend(process.pid for process in below)
    return found


def still_running(processes: list[HostProcess]) -> list[HostProcess]:
    """Those of ``processes`` that still run (a pid reused by a newer process does not count)."""
    alive = []
    for process in processes:
        read = _read_process(process.pid)
        if read is not None and read.state != "Z" and read.start == process.start:
            alive.append(process)
    return alive


def still_running_after(processes: list[HostProcess], seconds: float = 5) -> list[HostProcess]:
    """Those of ``processes`` still running once they had ``seconds`` to end. A killed process
    frees its memory before it is a zombie: meanwhile (0.2 s for 2 GiB here) its state is ``R``
    or ``S``, not ``Z``, and reading its environment fails (ESRCH), so a scan by marker finds
    none left while one of them is still on its way out."""
    deadline = time.monotonic() + seconds
    while (left := still_running(processes)) and time.monotonic() < deadline:
        time.sleep(0.02)
    return left


def vm_status(pid: int, field: str) -> int:
    """A memory figure of a process from /proc/PID/status, in bytes: ``VmRSS`` (resident now),
    ``VmHWM`` (the most it was resident since it started)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        name, _, value = line.partition(":")
        if name == field:
            return int(value.split()[0]) * 1024
    raise AssertionError(f"no {field} for {pid}")


def backend_run_folder(running: RunningBridge) -> Path:
    """The run folder of this bridge's backend, read from its process's environment (other test
    workers make run folders beside it at the same time)."""
    for process in descendants(running.process.pid):
        environ = Path(f"/proc/{process.pid}/environ").read_bytes().split(b"\0")
        for entry in environ:
            if entry.startswith(b"DDBRIDGE_BACKEND_SOCKET="):
                return Path(entry.partition(b"=")[2].decode()).parent.parent
    raise AssertionError(f"no backend process below the bridge {running.process.pid}")

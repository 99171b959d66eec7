"""Starting the real daemon (through the package's launcher, ``bridge.testing``) and the real
test backend as subprocesses, and stopping them."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from pathlib import Path

from bridge.testing.launcher import RunningBridge, free_port
from bridge.testing.launcher import start_bridge as _start_bridge

__all__ = ["REPO", "RunningBridge", "free_port", "start_backend", "start_bridge"]

REPO = Path(__file__).resolve().parents[2]


def start_bridge(
    args: list[str],
    log_path: Path,
    env: dict[str, str] | None = None,
    timeout: float = 20,
    command: str = "serve",
) -> RunningBridge:
    """The package's launcher (``bridge.testing.start_bridge``), run from the repository root."""
    return _start_bridge(args, log_path, env, timeout, command, cwd=REPO)


def _wait_connectable(
    address: str | tuple[str, int], process: subprocess.Popen[bytes], timeout: float
) -> None:
    deadline = time.monotonic() + timeout
    family = socket.AF_UNIX if isinstance(address, str) else socket.AF_INET
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError("test backend exited during start-up")
        with socket.socket(family, socket.SOCK_STREAM) as probe:
            try:
                probe.connect(address)
                return
            except OSError:
                time.sleep(0.05)
    raise RuntimeError(f"test backend did not listen on {address} within {timeout} s")


def start_backend(*, uds: Path | None = None, port: int | None = None) -> subprocess.Popen[bytes]:
    """The test backend (tests/support/backend.py) under uvicorn, on a unix socket or TCP port."""
    where = ["--uds", str(uds)] if uds is not None else ["--host", "127.0.0.1", "--port", str(port)]
    process = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "tests.support.backend:app", "--log-level", "warning", *where],
        cwd=REPO,
    )
    _wait_connectable(str(uds) if uds is not None else ("127.0.0.1", port or 0), process, 20)
    return process

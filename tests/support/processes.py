"""Starting the real daemon (through the package's launcher, ``bridge.testing``) and the real
test backend as subprocesses, and stopping them."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from bridge.testing.launcher import RunningBridge, free_port
from bridge.testing.launcher import start_bridge as _start_bridge

__all__ = ["REPO", "RunningBridge", "free_port", "start_backend", "start_bridge", "wait_listening"]

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

"""Starting the real daemon and the real test backend as subprocesses, and stopping them."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
READY_PREFIX = "ddbridge listening on "


@dataclass
class RunningBridge:
    url: str
    process: subprocess.Popen[str]
    log_path: Path

    @property
    def ws_url(self) -> str:
        return self.url.replace("http://", "ws://", 1) + "rpc"

    @property
    def port(self) -> int:
        return int(self.url.rstrip("/").rsplit(":", 1)[1])

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def stop(self, timeout: float = 15) -> int:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        if self.process.stdout is not None:
            self.process.stdout.close()
        return self.process.returncode


def _read_ready_line(process: subprocess.Popen[str], timeout: float) -> str | None:
    found: list[str] = []

    def read() -> None:
        assert process.stdout is not None
        for line in process.stdout:
            if line.startswith(READY_PREFIX):
                found.append(line[len(READY_PREFIX) :].strip())
                return

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    reader.join(timeout)
    return found[0] if found else None


def start_bridge(
    args: list[str],
    log_path: Path,
    env: dict[str, str] | None = None,
    timeout: float = 20,
    command: str = "serve",
) -> RunningBridge:
    """``ddbridge COMMAND --port 0 ARGS`` (serve, dev, run), waiting for its ready line."""
    log_file = log_path.open("w")
    process = subprocess.Popen(
        [sys.executable, "-m", "bridge", command, "--port", "0", *args],
        stdout=subprocess.PIPE,
        stderr=log_file,
        text=True,
        cwd=REPO,
        env={**os.environ, **(env or {})},
    )
    log_file.close()
    url = _read_ready_line(process, timeout)
    if url is None:
        process.kill()
        process.communicate()
        raise RuntimeError(f"ddbridge did not become ready; its log:\n{log_path.read_text()}")
    return RunningBridge(url, process, log_path)


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


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])

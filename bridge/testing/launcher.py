"""Starting a real ``ddbridge`` daemon as a subprocess for a test, and reading what it did.

    with running_bridge("dev", "my-extension/") as bridge:
        httpx.get(bridge.url)                        # the extension's UI, with the shim
        ...                                          # BridgeClient.connect(bridge.ws_url)
        assert bridge.calls("service.request")       # the inspector's call log

The daemon listens on a free port (``--port 0``); its ready line on stdout says where. Its log
(stderr) goes to a file, so a test can show it when something went wrong.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit, urlunsplit

import httpx

READY_PREFIX = "ddbridge listening on "


@dataclass(frozen=True)
class Call:
    """One RPC call a page (or client) made, from the inspector's event log, with its answer.

    ``answered`` is false while the call is still running; then ``result`` or ``error`` (the
    JSON-RPC error object) says how it ended. ``seq`` orders calls across the whole session.
    """

    seq: int
    method: str
    params: Any
    answered: bool = False
    result: Any = None
    error: dict[str, Any] | None = None


@dataclass
class RunningBridge:
    """A daemon started by ``start_bridge``: where it listens (``url``, without the token), its
    token (empty when it runs without one), its process and its log file."""

    url: str
    process: subprocess.Popen[str]
    log_path: Path
    token: str = ""

    @classmethod
    def from_ready_url(cls, ready_url: str, process: subprocess.Popen[str], log_path: Path) -> RunningBridge:
        """From the URL of the ready line (``http://127.0.0.1:PORT/?token=TOKEN``)."""
        parts = urlsplit(ready_url)
        token = parse_qs(parts.query).get("token", [""])[0]
        return cls(urlunsplit((parts.scheme, parts.netloc, parts.path, "", "")), process, log_path, token)

    @property
    def headers(self) -> dict[str, str]:
        """What an HTTP client sends to be let in: ``Authorization: Bearer TOKEN``."""
        return {"Authorization": f"Bearer {self.token}"} if self.token else {}

    @property
    def ws_url(self) -> str:
        """The RPC WebSocket with the token, for ``BridgeClient.connect``."""
        return self.websocket_url("rpc")

    def websocket_url(self, path: str) -> str:
        """The ``ws://`` URL of ``path`` (relative to ``url``), with the token."""
        return self.url.replace("http://", "ws://", 1) + path + self._query("&" if "?" in path else "?")

    def login_url(self, path: str = "") -> str:
        """``path`` (relative to ``url``) with the token: what a browser opens first (it gets a
        session cookie and is sent on to ``path``)."""
        return self.url + path + self._query("&" if "?" in path else "?")

    def _query(self, separator: str = "?") -> str:
        return f"{separator}{urlencode({'token': self.token})}" if self.token else ""

    @property
    def port(self) -> int:
        return int(self.url.rstrip("/").rsplit(":", 1)[1])

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def events(self) -> list[dict[str, Any]]:
        """The inspector's event history (``GET /_ddbridge/events.json``): calls, results, streams."""
        answer = httpx.get(self.url + "_ddbridge/events.json", headers=self.headers, timeout=30)
        answer.raise_for_status()
        events: list[dict[str, Any]] = answer.json()["events"]
        return events

    def calls(self, method: str | None = None, *, after: int = 0) -> list[Call]:
        """The calls in the event history (of ``method`` only, when given) whose ``seq`` is past
        ``after``, each with its result once answered."""
        events = self.events()
        answers = {event["call"]: event for event in events if event["kind"] == "result"}
        found = []
        for event in events:
            if event["kind"] != "call" or event["seq"] <= after or method not in (None, event["method"]):
                continue
            answer = answers.get(event["seq"])
            found.append(
                Call(
                    event["seq"],
                    event["method"],
                    event.get("params"),
                    answered=answer is not None,
                    result=None if answer is None else answer.get("result"),
                    error=None if answer is None else answer.get("error"),
                )
            )
        return found

    def stop(self, timeout: float = 15) -> int:
        """SIGTERM (then SIGKILL after ``timeout``); returns the exit code. Stopping twice is fine."""
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


class BridgeStartError(RuntimeError):
    """The daemon exited, or did not print its ready line in time; the message holds its log."""


def _read_ready_line(process: subprocess.Popen[str], timeout: float) -> str | None:
    """The URL of the ready line; a thread reads so that a silent daemon cannot block us."""
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
    args: Sequence[str | Path],
    log_path: Path,
    env: dict[str, str] | None = None,
    timeout: float = 20,
    command: str = "serve",
    cwd: Path | None = None,
) -> RunningBridge:
    """``ddbridge COMMAND --port 0 ARGS`` (serve, dev, run), waiting for its ready line.

    It runs as ``python -m bridge`` with this interpreter, so it is the ddbridge the tests
    import. ``env`` adds to the environment; the log (stderr) goes to ``log_path``.
    """
    with log_path.open("w") as log_file:
        process = subprocess.Popen(
            [sys.executable, "-m", "bridge", command, "--port", "0", *map(str, args)],
            stdout=subprocess.PIPE,
            stderr=log_file,
            text=True,
            cwd=cwd,
            env={**os.environ, **(env or {})},
        )
    url = _read_ready_line(process, timeout)
    if url is None:
        process.kill()
        process.communicate()
        raise BridgeStartError(
            f"ddbridge {command} did not become ready within {timeout} s "
            f"(exit code {process.returncode}); its log:\n{log_path.read_text(errors='replace')}"
        )
    return RunningBridge.from_ready_url(url, process, log_path)


@contextmanager
def running_bridge(
    command: str,
    *args: str | Path,
    env: dict[str, str] | None = None,
    timeout: float = 20,
    log_path: Path | None = None,
) -> Iterator[RunningBridge]:
    """``start_bridge`` for a ``with`` block: the daemon is stopped when it ends. Without a
    ``log_path`` the log goes to a temporary file, readable until then."""
    with tempfile.TemporaryDirectory(prefix="ddbridge-log-") as folder:
        running = start_bridge(args, log_path or Path(folder) / "bridge.log", env, timeout, command)
        try:
            yield running
        finally:
            running.stop()


def free_port() -> int:
    """A TCP port free on loopback right now (for servers that cannot pick one themselves)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])

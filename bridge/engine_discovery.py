"""Podman's socket, found by itself when nothing names an engine and Docker's does not answer.

The docker CLI's default is ``/var/run/docker.sock``. Podman serves the same Engine API on a
socket of its own: rootful ``/run/podman/podman.sock`` (``systemctl enable --now
podman.socket``), rootless ``$XDG_RUNTIME_DIR/podman/podman.sock`` (``systemctl --user ...``;
without ``XDG_RUNTIME_DIR``, ``/run/user/UID``). They are tried in that order, each with
``GET /_ping``, after the default socket: the first that answers is the engine, and the reason
goes with it, for the lines a command prints at start. When the default answers, or none does,
the default stays, so the errors of a machine with no engine name the socket users expect.
(Debian's ``podman-docker`` links ``/var/run/docker.sock`` to Podman's socket: then the
default answers, and is Podman.)

This is the last step of ``EngineAddress.resolve``: a host in the settings, a context or
``DOCKER_HOST`` is used as given, without looking here.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

DOCKER_SOCKET = Path("/var/run/docker.sock")
PODMAN_ROOTFUL = Path("/run/podman/podman.sock")
# An engine that accepts the connection but does not answer within this is taken as absent.
_PING_TIMEOUT = 1.0


@dataclass(frozen=True, slots=True)
class FoundEngine:
    """The engine's address (``unix://...``) and how it was chosen, said in a few words."""

    host: str
    source: str


def podman_sockets(environ: Mapping[str, str]) -> list[tuple[str, Path]]:
    """Podman's sockets, in the order they are tried, each with the name of its kind."""
    runtime = environ.get("XDG_RUNTIME_DIR") or f"/run/user/{os.getuid()}"
    return [("rootful Podman", PODMAN_ROOTFUL), ("rootless Podman", Path(runtime) / "podman" / "podman.sock")]


def answers_ping(path: Path, timeout: float = _PING_TIMEOUT) -> bool:
    """Whether an engine answers ``GET /_ping`` with 200 on the unix socket ``path``."""
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as probe:
            probe.settimeout(timeout)
            probe.connect(str(path))
            probe.sendall(b"GET /_ping HTTP/1.0\r\nHost: engine\r\n\r\n")
            status = probe.recv(16)
    except OSError:
        return False
    return status.startswith((b"HTTP/1.0 200", b"HTTP/1.1 200"))


def find_podman(environ: Mapping[str, str] | None = None) -> FoundEngine | None:
    """The first of Podman's sockets that answers while the default socket does not, or None."""
    if answers_ping(DOCKER_SOCKET):
        return None
    silent = [DOCKER_SOCKET]
    for name, path in podman_sockets(os.environ if environ is None else environ):
        if answers_ping(path):
            return FoundEngine(
                f"unix://{path}", f"{name}, found: nothing answered at {', '.join(map(str, silent))}"
            )
        silent.append(path)
    return None

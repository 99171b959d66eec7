"""The engine's machine: where the engine's unix socket and the backends' bind mounts are, as the
bridge reaches them.

``ddbridge run``/``dev`` and the host make a run folder here, bind its guest-services folder into
the backend containers and connect to the socket a backend creates there. Bind mounts name paths
on the engine's machine, so when that machine is another one the folder must exist there too and
the socket must be brought here. ``EngineMachine`` is what the engine client and the backends ask
of it; ``LocalMachine`` is this machine (every step is the identity), ``bridge.ssh_engine``'s
``SshMachine`` a machine reached over ssh (the folder made there, sockets forwarded to the same
paths here). Nothing else needs to know which it is: callers keep using the local paths.
"""

from __future__ import annotations

import asyncio
import os
import socket
import stat
from pathlib import Path
from typing import Protocol

_UNIX = "unix://"
_TMP = Path("/tmp")


class EngineMachine(Protocol):
    """The machine the engine runs on, as one engine client sees it."""

    async def connect(self) -> str:
        """The URL aiohttp reaches the engine at, connecting to the machine first when needed;
        ``DockerUnavailable`` when it cannot."""
        ...

    async def cli_env(self) -> dict[str, str]:
        """The environment that points the docker CLI (and compose) at the same engine."""
        ...

    async def explain(self, reason: str) -> str:
        """What to tell of a failed connection whose own reason (aiohttp's) is ``reason``."""
        ...

    @property
    def hint(self) -> str:
        """What to do when the engine cannot be reached (the end of the one-line error)."""
        ...

    async def engine_socket(self) -> str | None:
        """The engine's unix socket as a path on its machine (what backends bind at
        ``/var/run/docker.sock.raw``), or None when the engine has none (``tcp://``)."""
        ...

    async def mirror(self, folder: Path) -> None:
        """Make ``folder`` (already made here, world-writable) on the engine's machine too."""
        ...

    async def socket_state(self, path: Path) -> str | None:
        """None when a backend listens on ``path`` on the engine's machine, else why not."""
        ...

    async def holds(self, path: Path) -> bool:
        """Whether ``path`` is there on the engine's machine (``ddbridge doctor``'s socket reach)."""
        ...

    async def expose(self, path: Path) -> None:
        """Make the socket at ``path`` on the engine's machine reachable at ``path`` here."""
        ...

    async def discard(self, folder: Path) -> None:
        """Undo ``mirror`` and ``expose`` for ``folder`` and what is in it (the local folder is
        the caller's to remove)."""
        ...

    async def aclose(self) -> None:
        """Let go of the machine (the last client of a shared connection closes it)."""
        ...


async def local_socket_state(path: Path) -> str | None:
    """None when something accepts connections on the unix socket ``path`` here, else why not."""
    return await asyncio.to_thread(_probe, path)


def _probe(path: Path) -> str | None:
    if not path.exists():
        return "no socket yet"
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as probe:
        try:
            probe.connect(str(path))
        except OSError as exc:
            # "Permission denied": the backend made it for its own user only (root, 0755).
            return f"connecting to it: {exc.strerror}"
        return None


def user_folder() -> Path:
    """``/tmp/ddbridge-<uid>``, made when missing: short (unix socket paths must stay under 108
    bytes) and in a folder only this user may enter; ``PermissionError`` when it is not."""
    parent = _TMP / f"ddbridge-{os.getuid()}"
    parent.mkdir(mode=0o700, exist_ok=True)
    info = parent.lstat()
    if not stat.S_ISDIR(info.st_mode) or info.st_uid != os.getuid() or info.st_mode & 0o077:
        raise PermissionError(f"{parent} is not a folder of this user's only: remove it and try again")
    return parent


class LocalMachine:
    """The engine on this machine (a unix socket), or behind ``tcp://`` where the bridge can do
    nothing about the machine: folders and sockets are the local ones."""

    hint = (
        "is it running? --docker-host, --context, DOCKER_HOST or DOCKER_CONTEXT choose another engine; "
        "`ddbridge doctor` checks this one"
    )

    def __init__(self, url: str, cli_env: dict[str, str]) -> None:
        self._url = url
        self._cli_env = cli_env

    async def connect(self) -> str:
        return self._url

    async def cli_env(self) -> dict[str, str]:
        return dict(self._cli_env)

    async def explain(self, reason: str) -> str:
        return reason

    async def engine_socket(self) -> str | None:
        return self._url.removeprefix(_UNIX) if self._url.startswith(_UNIX) else None

    async def mirror(self, folder: Path) -> None:
        return None

    async def socket_state(self, path: Path) -> str | None:
        return await local_socket_state(path)

    async def holds(self, path: Path) -> bool:
        return await asyncio.to_thread(path.exists)

    async def expose(self, path: Path) -> None:
        return None

    async def discard(self, folder: Path) -> None:
        return None

    async def aclose(self) -> None:
        return None

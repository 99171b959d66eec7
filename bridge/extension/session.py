"""One run of an extension: its runtime folder, its host binaries, its backend, and the settings
the daemon serves it with. Everything started here is stopped and removed at the end, unless
``keep`` asks to leave it for inspection."""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import shutil
import socket
import tempfile
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any
from urllib.parse import urlsplit

from bridge.config import Settings, with_overrides
from bridge.docker_engine import EngineAddress
from bridge.extension.backend import Backend
from bridge.extension.metadata import ExtensionError
from bridge.extension.model import Extension
from bridge.progress import Progress
from bridge.ssh_engine import SCHEME as SSH_SCHEME
from bridge.ssh_engine import SshTarget

# Where Docker Desktop's VM guarantees the engine's socket. Extensions bind-mount it in the
# ``docker run`` lines they give docker.cli.exec (``-v /var/run/docker.sock:/var/run/docker.sock``);
# a bind mount names a path on the engine's machine.
DESKTOP_SOCKET = Path("/var/run/docker.sock")
_DESKTOP_SOCKETS = {PurePosixPath("/var/run/docker.sock"), PurePosixPath("/run/docker.sock")}
_UNIX = "unix://"
_TCP = ("tcp://", "http://", "https://")


def _in_real_folder(path: Path) -> Path:
    """``path`` with its folder's links resolved (the socket itself need not exist)."""
    return path.parent.resolve() / path.name


def engine_socket_note(host: str) -> str | None:
    """The warning for an engine that is not the one at ``/var/run/docker.sock``, or None.

    Extensions that bind-mount that path then reach another engine, or none (and dockerd makes
    an empty folder there). A unix socket is checked (a link to the same socket is fine); the
    machine behind ``tcp://`` cannot be, so it is named as a doubt. An ``ssh://`` address names
    its socket on that machine, or leaves it to the docker CLI there, whose default it is. No
    engine answering there is not this note's business (``/run/docker.sock`` is the same path:
    ``/var/run`` leads to ``/run``).
    """
    if host.startswith(SSH_SCHEME):
        target = SshTarget.parse(host)
        if target.socket is None or PurePosixPath(target.socket) in _DESKTOP_SOCKETS:
            return None
        where = f"the Docker engine is at {target.socket} on {target.display}, not {DESKTOP_SOCKET}"
    elif host.startswith(_UNIX):
        path = Path(host.removeprefix(_UNIX))
        if _in_real_folder(path) == _in_real_folder(DESKTOP_SOCKET):
            return None
        with contextlib.suppress(OSError):
            if path.samefile(DESKTOP_SOCKET):
                return None
        where = f"the Docker engine is at {path}, not {DESKTOP_SOCKET}"
    else:
        where = f"the Docker engine is at {host}, whose machine may have no engine at {DESKTOP_SOCKET}"
    return (
        f"{where}: extensions that bind-mount {DESKTOP_SOCKET} in the `docker run` commands they give "
        "docker.cli.exec (Docker Desktop guarantees that path) will reach another engine or none, and "
        f"dockerd creates an empty folder there; to run them, serve them from an engine listening at "
        f"{_UNIX}{DESKTOP_SOCKET} (--docker-host, or dockerd -H)"
    )


async def engine_is_here(host: str) -> bool | None:
    """Whether the engine at ``host`` runs on this machine, so that a run folder here is the one
    its containers bind: yes for a unix socket, and for ``tcp://`` when the address is a
    loopback one or one of this machine's own; None for other schemes (not decided here)."""
    if host.startswith(_UNIX):
        return True
    if not host.startswith(_TCP):
        return None
    name = urlsplit(host).hostname or ""
    try:
        found = await asyncio.get_running_loop().getaddrinfo(name, None, type=socket.SOCK_STREAM)
    except OSError:
        return False
    return any(_is_own_address(str(info[4][0])) for info in found)


def _is_own_address(address: str) -> bool:
    """A loopback address, or one this machine can bind (an address of one of its interfaces)."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if ip.is_loopback:
        return True
    with socket.socket(socket.AF_INET6 if ip.version == 6 else socket.AF_INET, socket.SOCK_DGRAM) as probe:
        try:
            probe.bind((address, 0))
        except OSError:
            return False
    return True


def remote_backend(address: EngineAddress) -> ExtensionError:
    """The refusal of a backend on a tcp:// engine of another machine, saying what works."""
    return ExtensionError(
        f"the Docker engine at {address.shown} is on another machine: an extension's backend "
        "listens on a socket in a folder of that machine, which ddbridge cannot reach over tcp://; "
        "reach the engine over ssh://[user@]HOST (DOCKER_HOST, --docker-host or a context) or run "
        "ddbridge on the engine's machine (extensions without a backend work as they are)"
    )


@dataclass(frozen=True)
class Runtime:
    """The folders of one run: ``guest-services`` (mounted at /run/guest-services in backend
    containers, where the backend's socket appears) and ``host`` (the host binaries)."""

    root: Path

    @property
    def guest_services(self) -> Path:
        return self.root / "guest-services"

    @property
    def host_binaries(self) -> Path:
        return self.root / "host"

    def socket_path(self, extension: Extension) -> Path:
        name = extension.metadata.backend_socket
        if name is None:
            raise ExtensionError(
                "metadata.json declares no vm.exposes.socket: there is no socket to wait for"
            )
        return self.guest_services / name


BackendFactory = Callable[[Runtime], Backend | None]


@asynccontextmanager
async def running_extension(
    extension: Extension,
    settings: Settings,
    backend_for: BackendFactory,
    progress: Progress,
    *,
    keep: bool = False,
) -> AsyncIterator[Settings]:
    """Prepare and start the extension; yield the settings to serve it with; stop it at the end."""
    note = engine_socket_note(EngineAddress.resolve(settings.docker).host)
    if note is not None:
        progress.warn(note)
    # Under /tmp: unix socket paths must stay short (108 bytes).
    runtime = Runtime(Path(tempfile.mkdtemp(prefix=f"ddbridge-{extension.name[:24]}-", dir="/tmp")))
    runtime.guest_services.mkdir()
    runtime.guest_services.chmod(0o777)  # backends often run as a non-root user
    backend: Backend | None = None
    try:
        # A flag (or setting) naming a folder wins over metadata.json: nothing is copied then.
        installed: list[str] = []
        if settings.host_binaries.dir is None:
            installed = extension.install_host_binaries(runtime.host_binaries)
        if installed:
            progress.info(f"host binaries: {', '.join(installed)}")
        overrides: dict[str, dict[str, Any]] = {}
        if settings.ui.dir is None and settings.ui.source is None:
            folder = extension.ui_folder()
            if folder is not None:
                overrides["ui"] = {"dir": folder}
                progress.info(f"UI: {folder}")
        if installed:
            overrides["host_binaries"] = {"dir": runtime.host_binaries}
        backend = backend_for(runtime)
        if backend is not None:
            async with progress.step(f"Starting the backend ({backend.description})") as step:
                await backend.start(progress, step)
            # A backend may expose no socket (it is only there for extension.vm.cli.exec).
            exposed = extension.metadata.backend_socket is not None
            if exposed and settings.backend.socket is None and settings.backend.url is None:
                overrides["backend"] = {"socket": runtime.socket_path(extension)}
            if backend.vm_container is not None and settings.docker.vm_container is None:
                overrides["docker"] = {"vm_container": backend.vm_container}
        yield with_overrides(settings, overrides)
    finally:
        if backend is not None and not keep:
            async with progress.step("Stopping the backend"):
                await backend.stop()
        if keep:
            progress.info(
                f"kept (--keep): {runtime.root}" + (f" and {backend.description}" if backend else "")
            )
        else:
            shutil.rmtree(runtime.root, ignore_errors=True)

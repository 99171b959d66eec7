"""One run of an extension: its runtime folder, its host binaries, its backend, and the settings
the daemon serves it with. Everything started here is stopped and removed at the end, unless
``keep`` asks to leave it for inspection."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bridge.config import Settings, with_overrides
from bridge.extension.backend import Backend
from bridge.extension.metadata import ExtensionError
from bridge.extension.model import Extension
from bridge.progress import Progress


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

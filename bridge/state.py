"""What the daemon holds for its whole life, shared by every connection."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bridge import __version__
from bridge.api import desktop, dialog, docker, exec, host, navigate, service
from bridge.api.dialog import Dialogs
from bridge.api.host import host_info
from bridge.api.service import ServiceProxy
from bridge.budget import MemoryBudget
from bridge.config import Settings
from bridge.docker_engine import DockerEngine, EngineAddress
from bridge.events import EventBus
from bridge.extension.model import Extension
from bridge.extension.ui import inject_shim
from bridge.rpc import Registry, encode

if TYPE_CHECKING:
    from bridge.connection import Session

ROUTERS = (
    service.router,
    exec.router,
    docker.router,
    desktop.router,
    navigate.router,
    dialog.router,
    host.router,
)


@dataclass(frozen=True)
class ExtensionInfo:
    """What the page and the daemon know of the extension being served."""

    id: str = ""
    image: str = ""
    title: str = ""
    icon: Path | None = None
    entry: str = ""  # where the tab opens when not at the UI's "/" (Extension.entry)

    @classmethod
    def of(cls, extension: Extension) -> ExtensionInfo:
        return cls(
            extension.image or extension.name,
            extension.image,
            extension.title,
            extension.icon_file(),
            extension.entry,
        )


@dataclass
class Bridge:
    settings: Settings
    extension: ExtensionInfo = ExtensionInfo()
    registry: Registry[Session] = field(default_factory=lambda: Registry(ROUTERS))
    host_info: dict[str, Any] = field(default_factory=host_info)
    sessions: set[Session] = field(default_factory=set)
    streams_running: int = 0  # for all sessions: [limits] streams
    processes_running: int = 0  # for all sessions, blocking and streamed: [limits] processes

    @cached_property
    def memory(self) -> MemoryBudget:
        """Bytes held for blocking execs' output and service answers, all calls together."""
        return MemoryBudget(self.settings.limits.memory)

    @cached_property
    def service(self) -> ServiceProxy:
        return ServiceProxy(self.settings.backend)

    @cached_property
    def events(self) -> EventBus:
        """What the pages did, for the inspector (``session.events.publish`` adds the page)."""
        return EventBus(self.settings.inspector.history)

    @cached_property
    def dialogs(self) -> Dialogs:
        """The open dialog's roots and scripted answers (the script is read once, here)."""
        return Dialogs(self.settings.dialog)

    @cached_property
    def docker(self) -> DockerEngine:
        """The engine client; it connects on first use, so the daemon starts without an engine."""
        return DockerEngine(EngineAddress.resolve(self.settings.docker))

    @cached_property
    def _shim_source(self) -> bytes:
        return resources.files("bridge").joinpath("static/ddclient.js").read_bytes()

    def shim(self) -> bytes:
        """``/ddclient.js``: the bootstrap line (read synchronously by the shim), then the shim."""
        bootstrap = {
            "version": __version__,
            "rpcPath": "/rpc",
            "host": {key: self.host_info[key] for key in ("platform", "arch", "hostname")},
            "extension": {
                "id": self.extension.id,
                "image": self.extension.image,
                "title": self.extension.title,
            },
        }
        return f"window.__ddbridge = {encode(bootstrap)};\n".encode() + self._shim_source

    def inject(self, html: bytes) -> bytes:
        """The shim (and the extension's title and icon) into an HTML page of the UI."""
        return inject_shim(html, title=self.extension.title, icon=self.extension.icon is not None)

    async def aclose(self) -> None:
        for session in list(self.sessions):
            await session.close()
        await self.service.aclose()
        await self.docker.aclose()

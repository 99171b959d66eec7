"""What the daemon holds for its whole life, shared by every connection."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from importlib import resources
from typing import TYPE_CHECKING, Any

from bridge import __version__
from bridge.api import desktop, docker, exec, host, service
from bridge.api.host import host_info
from bridge.api.service import ServiceProxy
from bridge.config import Settings
from bridge.docker_engine import DockerEngine, EngineAddress
from bridge.rpc import Registry, encode

if TYPE_CHECKING:
    from bridge.connection import Session

ROUTERS = (service.router, exec.router, docker.router, desktop.router, host.router)


@dataclass
class Bridge:
    settings: Settings
    registry: Registry[Session] = field(default_factory=lambda: Registry(ROUTERS))
    host_info: dict[str, Any] = field(default_factory=host_info)
    sessions: set[Session] = field(default_factory=set)

    @cached_property
    def service(self) -> ServiceProxy:
        return ServiceProxy(self.settings.backend)

    @cached_property
    def docker(self) -> DockerEngine:
        """The engine client; it connects on first use, so the daemon starts without an engine."""
        return DockerEngine(EngineAddress.resolve(self.settings.docker))

    @cached_property
    def shim(self) -> bytes:
        """``/ddclient.js``: the bootstrap line (read synchronously by the shim), then the shim."""
        bootstrap = {
            "version": __version__,
            "rpcPath": "/rpc",
            "host": {key: self.host_info[key] for key in ("platform", "arch", "hostname")},
            "extension": {"id": "", "image": "", "title": ""},
        }
        source = resources.files("bridge").joinpath("static/ddclient.js").read_bytes()
        return f"window.__ddbridge = {encode(bootstrap)};\n".encode() + source

    async def aclose(self) -> None:
        for session in list(self.sessions):
            await session.close()
        await self.service.aclose()
        await self.docker.aclose()

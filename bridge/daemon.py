"""What the daemon holds for its whole life, shared by every connection and every extension: the
settings, the engine client, the memory budget, the inspector's event bus, the open dialog's state
and the process counts; and the table of extension contexts (``bridge.context``) it serves."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from importlib import resources
from typing import Any, Protocol

from bridge import __version__
from bridge.budget import MemoryBudget
from bridge.config import Settings
from bridge.context import ContextTable, ExtensionContext
from bridge.dialogs import Dialogs
from bridge.docker_engine import DockerEngine, EngineAddress
from bridge.events import EventBus
from bridge.rpc import encode


class Connection(Protocol):
    """What the daemon needs of a page's connection (``bridge.connection.Session``)."""

    context: ExtensionContext

    async def close(self) -> None: ...


@dataclass
class Daemon:
    settings: Settings
    host_info: dict[str, Any]
    contexts: ContextTable
    sessions: set[Connection] = field(default_factory=set)
    streams_running: int = 0  # for all sessions: [limits] streams
    processes_running: int = 0  # for all sessions, blocking and streamed: [limits] processes

    @cached_property
    def memory(self) -> MemoryBudget:
        """Bytes held for blocking execs' output and service answers, all calls together."""
        return MemoryBudget(self.settings.limits.memory)

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

    def shim(self, context: ExtensionContext) -> bytes:
        """``/ddclient.js``: the bootstrap line (read synchronously by the shim), then the shim."""
        info = context.info
        bootstrap = {
            "version": __version__,
            "rpcPath": "/rpc",
            "host": {key: self.host_info[key] for key in ("platform", "arch", "hostname")},
            "extension": {"id": info.id, "image": info.image, "title": info.title},
            "shells": sorted(context.shell_origins),
        }
        return f"window.__ddbridge = {encode(bootstrap)};\n".encode() + self._shim_source

    async def close_sessions(self, context: ExtensionContext | None = None) -> None:
        """Close every page's connection (of ``context`` only, when given)."""
        for session in list(self.sessions):
            if context is None or session.context is context:
                await session.close()

    async def aclose(self) -> None:
        await self.close_sessions()
        for context in self.contexts:
            await context.aclose()
        await self.docker.aclose()

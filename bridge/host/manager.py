"""The installed extensions of one host daemon: their lifetimes and their contexts.

Every installed extension is served from the moment the host starts, whatever its backend does:
its page shows, and a backend that failed to come up is marked failed with its reason (in the
shell and in ``ls``) while the others serve. Operations on one extension (install, update,
remove, ``dev ui-source``) run one at a time; operations on different ones run side by side.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bridge.auth import TOKEN_QUERY, Credentials
from bridge.config import Settings
from bridge.context import ContextTable, ExtensionContext, ExtensionInfo
from bridge.daemon import Daemon
from bridge.docker_engine import DockerEngine
from bridge.extension.metadata import ExtensionError
from bridge.host import installer
from bridge.host.contexts import extension_context, extension_origin
from bridge.host.shell import ICONS
from bridge.host.store import InstalledExtension, Store, pick_slug
from bridge.progress import Progress
from bridge.rpc import Registry

log = logging.getLogger("ddbridge.host")

STARTING, RUNNING, FAILED, STOPPED = "starting", "running", "failed", "stopped"
WATCH_INTERVAL = 5.0


@dataclass
class Hosted:
    """One installed extension as the host holds it."""

    record: InstalledExtension
    status: str = STOPPED
    error: str = ""
    installed: installer.Installed | None = None
    context: ExtensionContext | None = None


class ExtensionHost:
    def __init__(
        self,
        settings: Settings,
        store: Store,
        credentials: Credentials,
        port: int,
        registry: Callable[[], Registry[Any]],
    ) -> None:
        """``registry`` makes the methods of an extension's pages (a context each)."""
        self.settings = settings
        self.store = store
        self.credentials = credentials
        self.registry = registry
        self.port = port
        self.extensions: dict[str, Hosted] = {record.name: Hosted(record) for record in store.load()}
        self._locks: dict[str, asyncio.Lock] = {}
        self._daemon: Daemon | None = None
        self._closing: set[asyncio.Task[None]] = set()

    def attach(self, daemon: Daemon) -> None:
        """The daemon whose engine and context table the host uses (made after the host: its
        shell's methods are the host's)."""
        self._daemon = daemon

    @property
    def daemon(self) -> Daemon:
        assert self._daemon is not None, "ExtensionHost.attach was not called"
        return self._daemon

    @property
    def engine(self) -> DockerEngine:
        return self.daemon.docker

    @property
    def contexts(self) -> ContextTable:
        return self.daemon.contexts

    def _lock(self, name: str) -> asyncio.Lock:
        return self._locks.setdefault(name, asyncio.Lock())

    def get(self, name: str) -> Hosted:
        hosted = self.extensions.get(name)
        if hosted is None:
            installed = ", ".join(sorted(self.extensions)) or "none"
            raise ExtensionError(f"extension {name!r} is not installed (installed: {installed})")
        return hosted

    # Serving

    def _serve(self, hosted: Hosted) -> None:
        """Serve the extension as it is now. Its context is made once and then changed in place,
        so pages open while its backend comes up (or its UI source changes) go on working."""
        record, installed = hosted.record, hosted.installed
        assert installed is not None
        info = ExtensionInfo(
            id=record.name, image=record.image, title=record.title, icon=installed.icon, entry=installed.entry
        )
        fresh = extension_context(
            self.settings,
            self.registry(),
            info,
            record.slug,
            self.port,
            ui_dir=installed.ui_dir,
            ui_source=record.ui_source,
            socket=installed.socket,
            host_binaries=installed.host_binaries,
            vm_container=installed.vm_container,
        )
        context = self.contexts.by_slug.setdefault(record.slug, fresh)
        hosted.context = context
        if context is fresh:
            return
        replaced = (context.service, context.ui_app)
        context.info, context.service, context.ui_dir, context.ui_app = (
            info,
            fresh.service,
            fresh.ui_dir,
            fresh.ui_app,
        )
        context.host_binaries, context.vm_container = fresh.host_binaries, fresh.vm_container
        closing = [getattr(part, "aclose", None) for part in replaced]
        task = asyncio.get_running_loop().create_task(_close_all(closing))
        self._closing.add(task)
        task.add_done_callback(self._closing.discard)

    async def _unserve(self, hosted: Hosted) -> None:
        """No longer serve the extension: its pages' connections are closed, its origin answers 404."""
        context = self.contexts.by_slug.pop(hosted.record.slug, None)
        hosted.context = None
        if context is not None:
            await self.daemon.close_sessions(context)
            await context.aclose()

    # Lifetimes

    async def start_all(self, progress: Progress) -> None:
        """Bring every installed extension up again, concurrently; one failing does not stop the
        others (it is marked failed, with its reason)."""
        await asyncio.gather(*(self.start(hosted, progress) for hosted in list(self.extensions.values())))

    async def keep_up(self, progress: Progress, every: float = WATCH_INTERVAL) -> None:
        """Bring a running extension's backend up again when its containers went (the engine
        restarted, or someone removed them): checked every ``every`` seconds, as long as the host
        runs. Each one found down is said in the log and shown starting."""
        while True:
            await asyncio.sleep(every)
            for hosted in list(self.extensions.values()):
                if hosted.status != RUNNING or self._lock(hosted.record.name).locked():
                    continue
                states = await installer.container_states(self.engine, hosted.record, hosted.installed)
                if states is not None and "running" not in states:
                    log.warning(
                        "the backend of %s is down (%s): starting it again",
                        hosted.record.name,
                        states or "gone",
                    )
                    await self.start(hosted, progress)

    async def start(self, hosted: Hosted, progress: Progress) -> None:
        record = hosted.record
        async with self._lock(record.name):
            hosted.status, hosted.error = STARTING, ""
            with contextlib.suppress(ExtensionError):  # not extracted yet: start extracts them
                hosted.installed = installer.load(record)
                self._serve(hosted)
            timeout = self.settings.backend.timeout + installer.SOCKET_TIMEOUT
            try:
                async with asyncio.timeout(timeout):
                    hosted.installed = await installer.start(self.engine, record, progress)
            except TimeoutError:
                self._failed(hosted, f"it did not come up within {timeout:g} s")
            except (ExtensionError, OSError) as exc:
                self._failed(hosted, str(exc))
            else:
                hosted.status = RUNNING
                self._serve(hosted)

    def _failed(self, hosted: Hosted, why: str) -> None:
        hosted.status, hosted.error = FAILED, why
        log.warning("extension %s failed: %s", hosted.record.name, why)

    async def stop(self, hosted: Hosted) -> None:
        """Stop its backend (it stays installed: the next start brings it up)."""
        if hosted.installed is not None:
            await installer.stop(hosted.installed)
        else:
            await installer.stop_record(self.engine, hosted.record)
        hosted.status = STOPPED

    async def stop_all(self) -> None:
        async def stop(hosted: Hosted) -> None:
            with contextlib.suppress(ExtensionError, OSError):
                await self.stop(hosted)

        await asyncio.gather(*(stop(hosted) for hosted in list(self.extensions.values())))

    async def install(self, reference: str, progress: Progress, *, pull: bool = True) -> Hosted:
        name = installer.repository(reference)
        async with self._lock(name):
            if name in self.extensions:
                raise ExtensionError(
                    f"extension {name} is already installed ({self.extensions[name].record.image}); "
                    f"to change its version: ddbridge extension update {reference}"
                )
            slug = pick_slug(name, {hosted.record.slug for hosted in self.extensions.values()})
            installed, record = await installer.install(self.engine, reference, slug, progress, pull=pull)
            hosted = Hosted(record, RUNNING, installed=installed)
            self.store.put(record)
            self.extensions[name] = hosted
            self._serve(hosted)
            return hosted

    async def update(self, reference: str, progress: Progress, *, pull: bool = True) -> Hosted:
        hosted = self.get(installer.repository(reference))
        async with self._lock(hosted.record.name):
            installed, record = await installer.update(
                self.engine, hosted.installed, hosted.record, reference, progress, pull=pull
            )
            hosted.record, hosted.installed, hosted.status, hosted.error = record, installed, RUNNING, ""
            self.store.put(record)
            self._serve(hosted)
            return hosted

    async def remove(self, name: str, progress: Progress) -> list[str]:
        """Remove ``name``; returns the named volumes kept."""
        hosted = self.get(name)
        async with self._lock(name):
            await self._unserve(hosted)
            kept = await installer.remove(self.engine, hosted.installed, hosted.record, progress)
            self.store.remove(name)
            self.extensions.pop(name, None)
            return kept

    def set_ui_source(self, name: str, url: str | None) -> Hosted:
        """``dev ui-source`` (a URL) / ``dev reset`` (None): where the extension's UI comes from."""
        hosted = self.get(name)
        hosted.record = hosted.record.with_ui_source(url)
        self.store.put(hosted.record)
        if hosted.installed is not None:
            self._serve(hosted)
        return hosted

    # What the shell and the CLI see

    def icon_of(self, slug: str) -> Path | None:
        """An installed extension's icon file, by its slug (the shell's navigation shows it)."""
        for hosted in self.extensions.values():
            if hosted.record.slug == slug and hosted.installed is not None:
                return hosted.installed.icon
        return None

    def open_url(self, name: str) -> dict[str, str]:
        """Where the shell frames ``name``: its origin, with a credential for that origin only
        (the frame signs in with it, as the printed URL signs the shell in)."""
        hosted = self.get(name)
        origin = extension_origin(hosted.record.slug, self.port)
        credential = self.credentials.issue_session(hosted.record.slug)
        return {"origin": origin, "url": f"{origin}/?{TOKEN_QUERY}={credential}", "credential": credential}

    async def describe(self, hosted: Hosted) -> dict[str, Any]:
        """What the shell and ``ls`` show of an extension; ``containers`` are its backend's
        states as the engine reports them (None without a ``vm``)."""
        record, installed = hosted.record, hosted.installed
        if installed is None:
            with contextlib.suppress(ExtensionError):
                installed = installer.load(record)
        origin = extension_origin(record.slug, self.port)
        return {
            "name": record.name,
            "image": record.image,
            "title": record.title,
            "provider": record.provider,
            "version": record.version,
            "slug": record.slug,
            "origin": origin,
            "status": hosted.status,
            "error": hosted.error,
            "uiSource": record.ui_source,
            "installedAt": record.installed_at,
            "ui": installed.tabs if installed is not None else [],
            "containers": await installer.container_states(self.engine, record, installed),
            "hostBinaries": list(installed.host_binary_names) if installed is not None else [],
            "icon": f"{ICONS}{record.slug}",
        }

    async def listing(self) -> list[dict[str, Any]]:
        return [await self.describe(hosted) for _, hosted in sorted(self.extensions.items())]


async def _close_all(closers: list[Callable[[], Awaitable[None]] | None]) -> None:
    for close in closers:
        if close is not None:
            with contextlib.suppress(Exception):
                await close()

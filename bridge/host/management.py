"""``extensions.*``: the host's management methods (install, update, remove, list, open, dev
ui-source), in the shell's registry only — no installed extension's page can call them, since
its context's registry has none of them (``bridge.host.contexts``).

Long operations report their progress to the caller as ``extensions.progress`` notifications
``{"operation": ID, "event": {...}}`` (``bridge.progress`` events), while the host's own
terminal shows the same steps.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any

from pydantic import Field

from bridge.api.models import Params
from bridge.errors import ConfigError, OperationFailed
from bridge.extension.metadata import ExtensionError
from bridge.host.manager import ExtensionHost
from bridge.progress import Progress
from bridge.rpc import MethodRouter

if TYPE_CHECKING:
    from bridge.connection import Session

PROGRESS = "extensions.progress"


class NoParams(Params):
    pass


class ImageParams(Params):
    image: str = Field(min_length=1, max_length=512)
    pull: bool = True
    operation: str = Field("", max_length=64)


class NameParams(Params):
    name: str = Field(min_length=1, max_length=256)
    operation: str = Field("", max_length=64)


class UiSourceParams(Params):
    name: str = Field(min_length=1, max_length=256)
    url: str | None = Field(None, pattern=r"^https?://", max_length=2048)


@asynccontextmanager
async def reported() -> AsyncIterator[None]:
    """An operation's failure as the client's error, the same one line the CLI prints without a
    host (not an internal error)."""
    try:
        yield
    except (ExtensionError, ConfigError) as exc:
        raise OperationFailed(str(exc)) from exc


@asynccontextmanager
async def relayed_progress(session: Session, operation: str) -> AsyncIterator[Progress]:
    """Progress on the host's terminal that also reaches the caller, in order, every event sent
    before the call's reply."""
    events: asyncio.Queue[dict[str, Any] | None] = asyncio.Queue()

    async def forward() -> None:
        while (event := await events.get()) is not None:
            if not session.closed:
                await session.notify(PROGRESS, {"operation": operation, "event": event})

    forwarding = asyncio.create_task(forward())
    try:
        yield Progress(interactive=False, listener=events.put_nowait)
    finally:
        events.put_nowait(None)
        await forwarding


def management_router(host: ExtensionHost) -> MethodRouter:
    router = MethodRouter("extensions")

    @router.method("list")
    async def listing(params: NoParams, session: Session) -> list[dict[str, Any]]:
        return await host.listing()

    @router.method("install")
    async def install(params: ImageParams, session: Session) -> dict[str, Any]:
        async with (
            reported(),
            relayed_progress(session, params.operation) as progress,
        ):
            return await host.describe(await host.install(params.image, progress, pull=params.pull))

    @router.method("update")
    async def update(params: ImageParams, session: Session) -> dict[str, Any]:
        async with (
            reported(),
            relayed_progress(session, params.operation) as progress,
        ):
            return await host.describe(await host.update(params.image, progress, pull=params.pull))

    @router.method("remove")
    async def remove(params: NameParams, session: Session) -> dict[str, Any]:
        async with reported(), relayed_progress(session, params.operation) as progress:
            return {"name": params.name, "keptVolumes": await host.remove(params.name, progress)}

    @router.method("open")
    async def open_extension(params: NameParams, session: Session) -> dict[str, str]:
        async with reported():
            return host.open_url(params.name)

    @router.method("uiSource")
    async def ui_source(params: UiSourceParams, session: Session) -> dict[str, Any]:
        async with reported():
            return await host.describe(host.set_ui_source(params.name, params.url))

    return router

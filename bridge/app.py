"""The FastAPI application: health, the shim, the RPC WebSocket, the inspector, the docker pages
and the extension's UI, each served in the context (``bridge.context``) the request's Host names.
The app assembles the pieces: the API routers into registries, the contexts into a table."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from contextlib import asynccontextmanager

from fastapi import Depends, FastAPI, HTTPException, WebSocket, WebSocketDisconnect, WebSocketException
from starlette.requests import HTTPConnection
from starlette.responses import JSONResponse, Response

from bridge import __version__
from bridge.access import HANDOFF_PAGE, HANDOFF_PATH, AccessGate, frame_ancestors, rpc_subprotocol
from bridge.api import desktop, dialog, docker, exec, host, navigate, service
from bridge.api.host import host_info
from bridge.auth import Credentials, default_secret_file, load_secret
from bridge.config import Settings
from bridge.connection import Session
from bridge.context import ContextTable, ExtensionContext, ExtensionInfo, context_of
from bridge.daemon import Daemon
from bridge.docker_pages import pages_router
from bridge.extension.devserver import DevServerProxy, origin_of
from bridge.inspector import inspector_router, note_shim_load
from bridge.mock import registry_for
from bridge.redaction import redact
from bridge.rpc import MethodRouter, Registry
from bridge.rpc_socket import direct_line
from bridge.security import POLICY_VIOLATION, admit_websocket
from bridge.service_proxy import ServiceProxy
from bridge.stream_answer import STREAMS_PATH, StreamAnswer
from bridge.ui_routes import ExtensionUi

log = logging.getLogger("ddbridge")

TRY_AGAIN_LATER = 1013

# ddClient's areas: what every extension's pages may call.
ROUTERS: tuple[MethodRouter, ...] = (
    service.router,
    exec.router,
    docker.router,
    desktop.router,
    navigate.router,
    dialog.router,
    host.router,
)


def extension_registry(settings: Settings, extra: Iterable[MethodRouter] = ()) -> Registry[Session]:
    """The methods an extension's pages answer to (``--mock``/``--record`` replace some)."""
    return registry_for(settings, Registry((*ROUTERS, *extra)))


def allowed_origins(settings: Settings) -> frozenset[str]:
    """Origins besides a page's own that may load the shim and open ``/rpc``: ``--allow-origin``
    and the ``--ui-source`` dev server's own (issue #6: a page served by the dev server itself
    may call the bridge; through the proxy the page has the bridge's origin anyway)."""
    source = settings.ui.source
    return frozenset((*settings.server.allow_origins, *((origin_of(source),) if source is not None else ())))


def single_context(settings: Settings, extension: ExtensionInfo | None = None) -> ExtensionContext:
    """The one context of ``serve``, ``run`` and ``dev``, from the settings."""
    info = extension or ExtensionInfo()
    ui_source = settings.ui.source
    if ui_source is not None and settings.ui.dir is not None:
        log.warning(
            "both [ui] dir %s and source %s are set: serving the dev server",
            settings.ui.dir,
            ui_source,
        )
    return ExtensionContext(
        info,
        extension_registry(settings),
        ServiceProxy(settings.backend),
        ui_dir=settings.ui.dir if ui_source is None else None,
        ui_app=DevServerProxy(ui_source, allowed_origins(settings), info.inject) if ui_source else None,
        host_binaries=settings.host_binaries.dir,
        vm_container=settings.docker.vm_container,
    )


def create_app(settings: Settings, extension: ExtensionInfo | None = None) -> FastAPI:
    """``serve``, ``run`` and ``dev``: one extension on every host name."""
    return assemble(Daemon(settings, host_info(), ContextTable(single_context(settings, extension))))


def credentials_for(settings: Settings) -> Credentials:
    """This start's token and the secret browser credentials are signed with."""
    server = settings.server
    return Credentials(
        token=server.token or None, secret=load_secret(server.secret_file or default_secret_file())
    )


async def _admin_only(connection: HTTPConnection) -> None:
    """The inspector shows every page's calls: an installed extension's origin has none of it."""
    if not context_of(connection.scope).admin:
        if connection.scope["type"] == "websocket":
            raise WebSocketException(POLICY_VIOLATION, "ddbridge: the inspector is the shell's only")
        raise HTTPException(404, "not found: the inspector is served on the host's own origin")


def assemble(
    daemon: Daemon,
    credentials: Credentials | None = None,
    *,
    on_start: Callable[[], Awaitable[None]] | None = None,
    on_stop: Callable[[], Awaitable[None]] | None = None,
) -> FastAPI:
    """The app serving ``daemon``'s contexts; ``on_start``/``on_stop`` run in its lifespan."""
    settings = daemon.settings
    origins = allowed_origins(settings)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if on_start is not None:
            await on_start()
        try:
            yield
        finally:
            if on_stop is not None:
                await on_stop()
            await daemon.aclose()

    app = FastAPI(title="ddbridge", version=__version__, lifespan=lifespan, docs_url=None, redoc_url=None)
    app.state.daemon = daemon
    server = settings.server
    credentials = credentials or credentials_for(settings)
    allowed_hosts = frozenset(h.lower() for h in (*server.allow_hosts, server.host))
    app.add_middleware(
        AccessGate, hosts=allowed_hosts, origins=origins, credentials=credentials, contexts=daemon.contexts
    )

    @app.get("/healthz")
    async def healthz() -> JSONResponse:
        return JSONResponse({"status": "ok", "version": __version__})

    @app.get("/ddclient.js")
    async def shim(connection: HTTPConnection) -> Response:
        # No credential in it: the shim reads the page credential from the origin's storage, or
        # on another allowed origin asks the hand-off page below for it.
        body = daemon.shim(context_of(connection.scope))
        note_shim_load(daemon.events, connection)
        return Response(body, media_type="text/javascript", headers={"Cache-Control": "no-store"})

    @app.get(HANDOFF_PATH)
    async def credential_handoff() -> Response:
        return HANDOFF_PAGE.response({"origins": sorted(origins)}, frame_ancestors(origins))

    @app.websocket("/rpc")
    async def rpc(websocket: WebSocket) -> None:
        if not await admit_websocket(websocket, origins, "the RPC WebSocket"):
            return
        await websocket.accept(subprotocol=rpc_subprotocol(websocket))
        limit = settings.limits.connections
        if len(daemon.sessions) >= limit:
            log.warning("refused a connection: %d are open ([limits] connections)", limit)
            reason = f"ddbridge: too many connections ({limit}, [limits] connections)"
            await websocket.close(code=TRY_AGAIN_LATER, reason=reason)
            return
        client = websocket.client
        peer = f"{client.host}:{client.port}" if client else "?"
        line = direct_line(websocket.scope)
        session = Session(
            daemon,
            context_of(websocket.scope),
            line.send,
            peer,
            # The inspector shows it: a page URL may carry a token (a non-browser's, typed by hand).
            redact(websocket.headers.get("referer") or websocket.headers.get("origin") or "") or None,
        )
        daemon.sessions.add(session)
        line.sink = session.receive
        try:
            # Text frames go to the session by the line; through ASGI come binary frames, the
            # disconnect and any text frame read before the line was attached.
            while True:
                message = await websocket.receive()
                if message["type"] == "websocket.disconnect":
                    break
                frame = message.get("text")
                if frame is None:
                    await websocket.close(code=1003, reason="ddbridge speaks JSON-RPC in text frames")
                    break
                session.receive(frame)
        except WebSocketDisconnect:
            pass
        finally:
            line.sink = None
            daemon.sessions.discard(session)
            await session.close()

    @app.get(STREAMS_PATH + "{name}")
    async def stream_output(connection: HTTPConnection) -> Response:
        # The name read from the path, not as a validated parameter (which imports pydantic.v1).
        waiting = context_of(connection.scope).stream_answers.claim(connection.path_params["name"])
        if waiting is None:
            raise HTTPException(
                404,
                "no stream waits under this name: each is read once, on its page's origin, within "
                f"{settings.exec.answer_wait:g} s of the exec.spawn that named it ([exec] answer_wait)",
            )
        return StreamAnswer(waiting)

    # The live inspector (/_ddbridge/): its page, events WebSocket and export.
    inspector = inspector_router(daemon.events, origins, daemon.docker.address)
    app.include_router(inspector, dependencies=[Depends(_admin_only)])

    # The stand-ins for Docker Desktop's screens that navigation opens; before the UI's catch-all.
    app.include_router(pages_router())

    # Mounted last, so the routes above win; it takes HTTP and WebSocket alike.
    app.mount("/", ExtensionUi(), name="ui")
    return app

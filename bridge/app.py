"""The FastAPI application: health, the shim, the RPC WebSocket and the extension's UI (a folder,
or a dev server reverse-proxied at the bridge's origin)."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from functools import partial

from fastapi import FastAPI, WebSocket, WebSocketDisconnect
from starlette.responses import FileResponse, JSONResponse, RedirectResponse, Response

from bridge import __version__, favicon
from bridge.access import HANDOFF_PAGE, HANDOFF_PATH, AccessGate, frame_ancestors, rpc_subprotocol
from bridge.auth import Credentials, default_secret_file, load_secret
from bridge.config import Settings
from bridge.connection import Session
from bridge.docker_pages import pages_router
from bridge.extension.devserver import DevServerProxy, origin_of
from bridge.extension.ui import ui_response
from bridge.inspector import inspector_router
from bridge.mock import registry_for
from bridge.redaction import redact
from bridge.security import admit_websocket
from bridge.state import Bridge, ExtensionInfo

log = logging.getLogger("ddbridge")

TRY_AGAIN_LATER = 1013


def create_app(settings: Settings, extension: ExtensionInfo | None = None) -> FastAPI:
    bridge = Bridge(settings, extension or ExtensionInfo())
    bridge.registry = registry_for(settings, bridge.registry)  # --mock / --record replace some methods
    ui_source = settings.ui.source
    # A page served by the dev server itself may load /ddclient.js from the bridge and call it
    # (issue #6); through the proxy the page has the bridge's own origin anyway.
    allowed_origins = frozenset(
        (*settings.server.allow_origins, *((origin_of(ui_source),) if ui_source is not None else ()))
    )
    dev_server = DevServerProxy(ui_source, allowed_origins, bridge.inject) if ui_source is not None else None

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        yield
        if dev_server is not None:
            await dev_server.aclose()
        await bridge.aclose()

    app = FastAPI(title="ddbridge", version=__version__, lifespan=lifespan, docs_url=None, redoc_url=None)
    app.state.bridge = bridge
    server = settings.server
    credentials = Credentials(
        token=server.token or None,
        secret=load_secret(server.secret_file or default_secret_file()),
    )
    allowed_hosts = frozenset(h.lower() for h in (*server.allow_hosts, server.host))
    app.add_middleware(AccessGate, hosts=allowed_hosts, origins=allowed_origins, credentials=credentials)

    @app.get("/healthz")
    async def healthz() -> JSONResponse:
        return JSONResponse({"status": "ok", "version": __version__})

    @app.get("/ddclient.js")
    async def shim() -> Response:
        # No credential in it: the shim reads the page credential from the origin's storage, or
        # on another allowed origin asks the hand-off page below for it.
        return Response(bridge.shim(), media_type="text/javascript", headers={"Cache-Control": "no-store"})

    @app.get(HANDOFF_PATH)
    async def credential_handoff() -> Response:
        return HANDOFF_PAGE.response({"origins": sorted(allowed_origins)}, frame_ancestors(allowed_origins))

    @app.websocket("/rpc")
    async def rpc(websocket: WebSocket) -> None:
        if not await admit_websocket(websocket, allowed_origins, "the RPC WebSocket"):
            return
        await websocket.accept(subprotocol=rpc_subprotocol(websocket))
        limit = settings.limits.connections
        if len(bridge.sessions) >= limit:
            log.warning("refused a connection: %d are open ([limits] connections)", limit)
            reason = f"ddbridge: too many connections ({limit}, [limits] connections)"
            await websocket.close(code=TRY_AGAIN_LATER, reason=reason)
            return
        client = websocket.client
        peer = f"{client.host}:{client.port}" if client else "?"
        session = Session(
            bridge,
            websocket.send_text,
            peer,
            # The inspector shows it: a page URL may carry a token (a non-browser's, typed by hand).
            redact(websocket.headers.get("referer") or websocket.headers.get("origin") or "") or None,
        )
        bridge.sessions.add(session)
        try:
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
            bridge.sessions.discard(session)
            await session.close()

    # The live inspector (/_ddbridge/): its page, events WebSocket and export.
    app.include_router(inspector_router(bridge.events, allowed_origins))

    # The stand-ins for Docker Desktop's screens that navigation opens; before the UI's catch-all.
    app.include_router(pages_router())

    icon = bridge.extension.icon
    if icon is not None:

        @app.api_route("/_ddbridge/icon", methods=["GET", "HEAD"])
        def extension_icon() -> Response:
            return FileResponse(icon)

    ui_dir = settings.ui.dir
    icon_response = partial(favicon.icon_response, icon)
    if dev_server is None:  # (the dev server's own favicon wins: DevServerFavicon below)

        @app.api_route(favicon.PATH, methods=["GET", "HEAD"])
        def favicon_ico() -> Response:  # sync: file reads run in the threadpool
            if ui_dir is not None:
                own = ui_response(ui_dir, favicon.PATH, bridge.inject)
                if own.status_code == 200:
                    return own
            return icon_response()

    entry = bridge.extension.entry
    # The tab's page, when it is not the folder's index: a URL the tab shows instead of a folder
    # (as Docker Desktop opens it), or a page with its query kept. A --ui/--ui-source flag wins.
    if dev_server is None and entry and (ui_dir is not None) == entry.startswith("/"):

        @app.api_route("/", methods=["GET", "HEAD"])
        def tab() -> Response:
            return RedirectResponse(entry, status_code=307)

    if dev_server is not None:
        if ui_dir is not None:
            log.warning("both [ui] dir %s and source %s are set: serving the dev server", ui_dir, ui_source)
        # Mounted last, so the routes above win; it takes HTTP and WebSocket alike.
        app.mount("/", favicon.DevServerFavicon(dev_server, icon_response), name="ui-source")
    elif ui_dir is not None:

        @app.get("/{path:path}")
        def ui(path: str) -> Response:  # sync: file reads run in the threadpool
            return ui_response(ui_dir, path, bridge.inject)

    return app

"""The extension's UI at ``/``, for whichever context the request is in: its folder's files
(every HTML page with the shim injected), or its dev server proxied (HTTP and WebSocket), its
icon at ``/_ddbridge/icon`` and as the favicon, and its tab's entry page."""

from __future__ import annotations

from functools import partial

from starlette.concurrency import run_in_threadpool
from starlette.responses import FileResponse, PlainTextResponse, RedirectResponse, Response
from starlette.types import Receive, Scope, Send

from bridge import favicon
from bridge.context import ExtensionContext, context_of
from bridge.extension.ui import ui_response

ICON_PATH = "/_ddbridge/icon"
CLOSE_NOT_FOUND = 4404
ALLOW = {"Allow": "GET, HEAD"}


class ExtensionUi:
    """The ASGI app mounted last at ``/``: the routes before it win."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        context = context_of(scope)
        if context.ui_app is not None and scope["path"] != ICON_PATH:
            fallback = partial(favicon.icon_response, context.info.icon)
            await favicon.DevServerFavicon(context.ui_app, fallback)(scope, receive, send)
            return
        if scope["type"] == "websocket":
            await send({"type": "websocket.close", "code": CLOSE_NOT_FOUND})
            return
        response: Response
        if scope["method"] not in ("GET", "HEAD"):
            response = PlainTextResponse("method not allowed", status_code=405, headers=ALLOW)
        else:
            # File reads run in the threadpool, as a sync route's would.
            response = await run_in_threadpool(_file, context, scope["path"])
        await response(scope, receive, send)


def _file(context: ExtensionContext, path: str) -> Response:
    info, ui_dir = context.info, context.ui_dir
    if path == ICON_PATH:
        if info.icon is None:
            return PlainTextResponse("this extension has no icon", status_code=404)
        return FileResponse(info.icon)
    if path == favicon.PATH:
        if ui_dir is not None:
            own = ui_response(ui_dir, favicon.PATH, info.inject)
            if own.status_code == 200:
                return own
        return favicon.icon_response(info.icon)
    # The tab's page, when it is not the folder's index: a URL the tab shows instead of a folder
    # (as Docker Desktop opens it), or a page with its query kept.
    if path == "/" and info.entry and (ui_dir is not None) == info.entry.startswith("/"):
        return RedirectResponse(info.entry, status_code=307)
    if ui_dir is None:
        return PlainTextResponse(f"not found: {path} (no UI folder is served)", status_code=404)
    return ui_response(ui_dir, path, info.inject)

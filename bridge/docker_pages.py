"""The pages that stand in for Docker Desktop's own screens, opened by ``desktop.navigate``.

Containers, a container (details, live logs, inspect, stats), images, an image, volumes and a
volume, under ``/_ddbridge/docker/…``. Every view is one static shell page
(``static/docker-pages/index.html``, the shim injected as in the extension's UI) whose script
reads the path and draws the view with ``window.ddClient``: the pages are clients of the same
RPC as the extension, over the same-origin WebSocket, so they need no HTTP API of their own.
"""

from __future__ import annotations

import re
from importlib import resources

from fastapi import APIRouter
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response

from bridge.extension.ui import inject_shim

PAGES = "/_ddbridge/docker"
ASSETS = "/_ddbridge/docker-pages"

# The views the shell's script knows; anything else under PAGES is a 404, not an empty page.
_VIEWS = re.compile(r"containers(/[^/]+(/(logs|inspect|stats|terminal))?)?|(images|volumes)(/[^/]+)?")
# The assets under ASSETS: name -> (path under static/, media type). dom.js is the helpers the
# pages share with the extensions host's page.
_ASSETS = {
    "app.js": ("docker-pages/app.js", "text/javascript"),
    "dom.js": ("dom.js", "text/javascript"),
    "style.css": ("docker-pages/style.css", "text/css"),
}
_NO_CACHE = {"Cache-Control": "no-cache"}
# The pages show what containers print: should something slip through as markup, it still may not
# run a script nor load anything from elsewhere. ('self' covers the same-origin WebSocket.) Only
# a page of their own origin may frame them: the extensions host's, which shows them.
_PAGE_HEADERS = {
    **_NO_CACHE,
    "Content-Security-Policy": (
        "default-src 'self'; img-src 'self' data:; object-src 'none'; base-uri 'none'; frame-ancestors 'self'"
    ),
}


def _read(path: str) -> bytes:
    return resources.files("bridge").joinpath(f"static/{path}").read_bytes()


def pages_router() -> APIRouter:
    """The routes of the pages and of their assets (read once, when the app is made).

    The routes read their path's parts from ``request.path_params``: a parameter of its own makes
    FastAPI build a pydantic field for it and, to check it is no pydantic v1 model, import
    ``pydantic.v1``, 20-30 ms of the daemon's start-up (the inspector's route does the same)."""
    shell = inject_shim(_read("docker-pages/index.html"))
    assets = {name: (_read(path), media_type) for name, (path, media_type) in _ASSETS.items()}
    router = APIRouter()

    @router.get(PAGES + "/{view:path}")
    async def page(request: Request) -> Response:
        view = request.path_params["view"]
        if not _VIEWS.fullmatch(view):
            return PlainTextResponse(f"not found: {PAGES}/{view}", status_code=404)
        return Response(shell, media_type="text/html", headers=_PAGE_HEADERS)

    @router.get(ASSETS + "/{name}")
    async def asset(request: Request) -> Response:
        name = request.path_params["name"]
        found = assets.get(name)
        if found is None:
            return PlainTextResponse(f"not found: {ASSETS}/{name}", status_code=404)
        body, media_type = found
        return Response(body, media_type=media_type, headers=_NO_CACHE)

    return router

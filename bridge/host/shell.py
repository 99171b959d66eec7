"""The shell's own pages: ``static/shell/`` (Docker Desktop's window, in a page) at the host's
``/``, under a strict CSP that lets it frame the extensions' origins and nothing else, and the
installed extensions' icons for its navigation (``/_ddbridge/icons/<slug>``: an icon is no
secret, and an image the shell loads from an extension's origin would carry no credential)."""

from __future__ import annotations

from collections.abc import Callable
from importlib import resources
from pathlib import Path

from starlette.concurrency import run_in_threadpool
from starlette.responses import FileResponse, PlainTextResponse, Response
from starlette.types import Receive, Scope, Send

from bridge.context import EXTENSION_DOMAIN

# Paths under static/: the page's own files, and the helpers it shares with the Docker pages.
_FILES = {
    "/": ("shell/index.html", "text/html"),
    "/dom.js": ("dom.js", "text/javascript"),
    "/shell.js": ("shell/shell.js", "text/javascript"),
    "/shell.css": ("shell/shell.css", "text/css"),
}


ICONS = "/_ddbridge/icons/"


class ShellPages:
    """The ASGI app the shell's context serves its UI with; ``icon_of(slug)`` is an installed
    extension's icon file."""

    def __init__(self, port: int, icon_of: Callable[[str], Path | None]) -> None:
        self.icon_of = icon_of
        extensions = f"http://*{EXTENSION_DOMAIN}:{port}"
        self.headers = {
            "Cache-Control": "no-cache",
            "Content-Security-Policy": (
                "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
                f"frame-src 'self' {extensions}; connect-src 'self'; "
                "base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
            ),
            "Referrer-Policy": "no-referrer",
            "X-Content-Type-Options": "nosniff",
        }

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await send({"type": "websocket.close", "code": 4404})
            return
        path = scope["path"]
        found = _FILES.get(path)
        response: Response
        if path.startswith(ICONS) and scope["method"] in ("GET", "HEAD"):
            icon = self.icon_of(path.removeprefix(ICONS))
            response = (
                FileResponse(icon) if icon is not None else PlainTextResponse("no icon", status_code=404)
            )
        elif found is None or scope["method"] not in ("GET", "HEAD"):
            response = PlainTextResponse(f"not found: {scope['path']}", status_code=404)
        else:
            name, media_type = found
            body = await run_in_threadpool(resources.files("bridge").joinpath("static", name).read_bytes)
            response = Response(body, media_type=media_type, headers=self.headers)
        await response(scope, receive, send)

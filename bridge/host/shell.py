"""The shell's own pages: ``static/shell/`` (Docker Desktop's window, in a page) at the host's
``/``, under a strict CSP that lets it frame the extensions' origins and nothing else."""

from __future__ import annotations

from importlib import resources

from starlette.responses import PlainTextResponse, Response
from starlette.types import Receive, Scope, Send

from bridge.context import EXTENSION_DOMAIN

_FILES = {
    "/": ("index.html", "text/html"),
    "/shell.js": ("shell.js", "text/javascript"),
    "/shell.css": ("shell.css", "text/css"),
}


class ShellPages:
    """The ASGI app the shell's context serves its UI with."""

    def __init__(self, port: int) -> None:
        extensions = f"http://*{EXTENSION_DOMAIN}:{port}"
        self.headers = {
            "Cache-Control": "no-cache",
            "Content-Security-Policy": (
                "default-src 'none'; script-src 'self'; style-src 'self'; "
                f"img-src 'self' data: {extensions}; frame-src 'self' {extensions}; connect-src 'self'; "
                "base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
            ),
            "Referrer-Policy": "no-referrer",
            "X-Content-Type-Options": "nosniff",
        }

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await send({"type": "websocket.close", "code": 4404})
            return
        found = _FILES.get(scope["path"])
        response: Response
        if found is None or scope["method"] not in ("GET", "HEAD"):
            response = PlainTextResponse(f"not found: {scope['path']}", status_code=404)
        else:
            name, media_type = found
            body = resources.files("bridge").joinpath("static", "shell", name).read_bytes()
            response = Response(body, media_type=media_type, headers=self.headers)
        await response(scope, receive, send)

"""``/favicon.ico``, which a browser asks for on every page that names no icon: a 404 there is a
console error in each of them.

The answer is the first there is of: the UI's own (a ``favicon.ico`` in the UI folder, or what
the dev server answers for it), the extension's icon (metadata.json ``icon``), the bridge's own
(``static/favicon.svg``).
"""

from __future__ import annotations

from collections.abc import Callable
from importlib import resources
from pathlib import Path

from starlette.responses import FileResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

PATH = "/favicon.ico"


def icon_response(extension_icon: Path | None) -> Response:
    """The extension's icon, else the bridge's."""
    if extension_icon is not None:
        return FileResponse(extension_icon)
    svg = resources.files("bridge").joinpath("static", "favicon.svg").read_bytes()
    return Response(svg, media_type="image/svg+xml", headers={"Cache-Control": "no-cache"})


class DevServerFavicon:
    """Wraps the dev server proxy: its answer for ``/favicon.ico`` when it has one (a status
    below 400), else ``fallback``'s; every other request goes to it untouched."""

    def __init__(self, app: ASGIApp, fallback: Callable[[], Response]) -> None:
        self.app = app
        self.fallback = fallback

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] != PATH or scope["method"] not in ("GET", "HEAD"):
            await self.app(scope, receive, send)
            return
        missing = False

        async def relay_unless_missing(message: Message) -> None:
            nonlocal missing
            if message["type"] == "http.response.start" and message["status"] >= 400:
                missing = True
            if not missing:
                await send(message)

        await self.app(scope, receive, relay_unless_missing)
        if missing:
            await self.fallback()(scope, receive, send)

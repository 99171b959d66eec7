"""Serving the extension's UI folder, with the shim injected into every HTML page.

The shim must run before any extension bundle, so ``<script src="/ddclient.js"></script>`` goes
in as the first element of ``<head>`` (a ``<head>`` is made when the page has none).
"""

from __future__ import annotations

import mimetypes
import re
from pathlib import Path

from starlette.responses import FileResponse, PlainTextResponse, Response

SHIM_TAG = b'<script src="/ddclient.js"></script>'

_HEAD = re.compile(rb"<head(\s[^>]*)?>", re.IGNORECASE)
_HTML = re.compile(rb"<html(\s[^>]*)?>", re.IGNORECASE)
_DOCTYPE = re.compile(rb"^\s*<!doctype[^>]*>", re.IGNORECASE)


def inject_shim(html: bytes) -> bytes:
    """Put the shim's script tag first in ``<head>``."""
    for pattern, wrap in ((_HEAD, False), (_HTML, True), (_DOCTYPE, True)):
        match = pattern.search(html)
        if match:
            tag = b"<head>" + SHIM_TAG + b"</head>" if wrap else SHIM_TAG
            return html[: match.end()] + tag + html[match.end() :]
    return b"<head>" + SHIM_TAG + b"</head>" + html


def _is_html(path: Path) -> bool:
    return path.suffix.lower() in (".html", ".htm")


def ui_response(root: Path, url_path: str, index: str = "index.html") -> Response:
    """The file ``url_path`` names under ``root`` (a folder's ``index``), shim injected in HTML."""
    base = root.resolve()
    target = (base / url_path.lstrip("/")).resolve()
    if not target.is_relative_to(base):
        return PlainTextResponse("not found", status_code=404)
    if target.is_dir():
        target = target / index
    if not target.is_file():
        return PlainTextResponse(f"not found: /{url_path.lstrip('/')}", status_code=404)
    if _is_html(target):
        return Response(
            inject_shim(target.read_bytes()),
            media_type="text/html",
            headers={"Cache-Control": "no-cache"},
        )
    media_type, _ = mimetypes.guess_type(target.name)
    return FileResponse(target, media_type=media_type)

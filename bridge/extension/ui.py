"""Serving the extension's UI folder, with the shim injected into every HTML page.

The shim must run before any extension bundle, so ``<script src="/ddclient.js"></script>`` goes
in as the first element of ``<head>`` (a ``<head>`` is made when the page has none).

Scripts are served as JavaScript whatever their extension says to the system's MIME table
(``.ts`` is MPEG transport stream there, ``.tsx``/``.jsx`` are unknown): a browser refuses to run
a module script served as anything else.
"""

from __future__ import annotations

import mimetypes
import re
from collections.abc import Callable
from html import escape
from pathlib import Path

from starlette.responses import FileResponse, PlainTextResponse, Response

SHIM_TAG = b'<script src="/ddclient.js"></script>'

_HEAD = re.compile(rb"<head(\s[^>]*)?>", re.IGNORECASE)
_HTML = re.compile(rb"<html(\s[^>]*)?>", re.IGNORECASE)
_DOCTYPE = re.compile(rb"^\s*<!doctype[^>]*>", re.IGNORECASE)


ICON_TAG = b'<link rel="icon" href="/_ddbridge/icon">'
_JAVASCRIPT = {".js", ".mjs", ".cjs", ".jsx", ".ts", ".mts", ".cts", ".tsx"}
# A page whose scripts are TypeScript or JSX is a bundler's source (Vite's index.html), not a build.
_SOURCE_SCRIPT = re.compile(
    rb"""<script\b[^>]*\bsrc\s*=\s*["']?([^"'\s>]+\.(?:tsx?|jsx|mts))(?:[?#][^"'\s>]*)?["'\s>]""",
    re.IGNORECASE,
)
_TITLE = re.compile(rb"<title[\s>]", re.IGNORECASE)


def inject_shim(html: bytes, *, title: str = "", icon: bool = False) -> bytes:
    """Put the shim's script tag first in ``<head>``; with ``icon``, the extension's icon as the
    favicon, and ``title`` as the page title when the page has none."""
    tags = SHIM_TAG
    if icon:
        tags += ICON_TAG
    if title and not _TITLE.search(html):
        tags += b"<title>" + escape(title).encode() + b"</title>"
    for pattern, wrap in ((_HEAD, False), (_HTML, True), (_DOCTYPE, True)):
        match = pattern.search(html)
        if match:
            tag = b"<head>" + tags + b"</head>" if wrap else tags
            return html[: match.end()] + tag + html[match.end() :]
    return b"<head>" + tags + b"</head>" + html


def source_script(html: bytes) -> str | None:
    """The first script the page loads from sources (``/src/main.tsx``), None for a built page."""
    match = _SOURCE_SCRIPT.search(html)
    return match.group(1).decode("utf-8", "replace") if match else None


def media_type_of(path: Path) -> str | None:
    if path.suffix.lower() in _JAVASCRIPT:
        return "text/javascript"
    return mimetypes.guess_type(path.name)[0]


def _is_html(path: Path) -> bool:
    return path.suffix.lower() in (".html", ".htm")


def ui_response(
    root: Path, url_path: str, inject: Callable[[bytes], bytes] = inject_shim, index: str = "index.html"
) -> Response:
    """The file ``url_path`` names under ``root`` (a folder's ``index``), ``inject`` applied to HTML."""
    base = root.resolve()
    if "\0" in url_path:  # no file has one in its name (the OS would refuse it: a 500)
        return PlainTextResponse("not found", status_code=404)
    target = (base / url_path.lstrip("/")).resolve()
    if not target.is_relative_to(base):
        return PlainTextResponse("not found", status_code=404)
    if target.is_dir():
        target = target / index
    if not target.is_file():
        return PlainTextResponse(f"not found: /{url_path.lstrip('/')}", status_code=404)
    if _is_html(target):
        return Response(
            inject(target.read_bytes()),
            media_type="text/html",
            headers={"Cache-Control": "no-cache"},
        )
    return FileResponse(target, media_type=media_type_of(target))

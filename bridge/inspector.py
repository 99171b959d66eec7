"""The live inspector at ``/_ddbridge/``: its page, its events WebSocket and the JSON export.

The page (``static/inspector/``: plain HTML, JS and CSS, no build step) is served as it is,
without the shim: it never uses ``window.ddClient`` nor opens ``/rpc``, so it never shows up in
its own log. It reads ``/_ddbridge/events``, which sends ``{"kind": "hello", ...}`` (with the
Docker engine the daemon uses: ``engine: {host, context, source}``), the history,
then live events (see ``bridge.events``), one JSON object per text frame, with
``{"kind": "missed", "count": N}`` before the events that follow a gap when the page fell
behind. The page may send ``{"op": "clear"}`` to clear the history (every inspector then gets
``{"kind": "cleared"}``). The WebSocket takes the same Origin check as ``/rpc``; the export, a
GET, refuses requests a browser marks as not same-origin. The Host check applies to everything.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from importlib import resources

from fastapi import APIRouter, WebSocket
from starlette.requests import HTTPConnection, Request
from starlette.responses import PlainTextResponse, RedirectResponse, Response

from bridge import __version__
from bridge.access import rpc_subprotocol
from bridge.docker_engine import EngineAddress
from bridge.events import EventBus, Subscription
from bridge.redaction import redact
from bridge.rpc import encode, plain
from bridge.security import admit_websocket

log = logging.getLogger("ddbridge.inspector")

# Seconds between two batches sent to an inspector. Meanwhile a stream's output coalesces into
# one entry (its last 64 KiB), so a fast stream costs the daemon and the page little, and the
# page still gets events well within a second.
PACE = 0.05
ASSETS = {"inspector.js": "text/javascript", "inspector.css": "text/css"}
# The page loads nothing but its own files and talks only to its own origin.
PAGE_HEADERS = {
    "Cache-Control": "no-cache",
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
    ),
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
}


def _asset(name: str) -> bytes:
    return resources.files("bridge").joinpath("static", "inspector", name).read_bytes()


def _export_body(events: list[dict[str, object]], history: int) -> bytes:
    document = {"ddbridge": __version__, "exported": time.time(), "history": history, "events": events}
    # An answer an event keeps as its JSON text (``RawJson``, see ``bridge.events.clip``) is
    # read back into objects; everything else in an event is JSON already.
    return json.dumps(document, ensure_ascii=False, indent=1, default=plain).encode()


def note_shim_load(bus: EventBus, connection: HTTPConnection) -> None:
    """A ``GET /ddclient.js``: a page's ``<script>`` (``Sec-Fetch-Dest: script``) is listed in the
    inspector from now, before its first call opens its WebSocket; other fetches (curl, a
    prefetch) are no page. Its URL is the Referer, redacted of tokens as a connection's is."""
    if connection.headers.get("sec-fetch-dest") != "script":
        return
    client = connection.client
    peer = f"{client.host}:{client.port}" if client else "?"
    page = redact(connection.headers.get("referer") or connection.headers.get("origin") or "") or None
    bus.page_loaded(peer, page)


async def _send_events(
    websocket: WebSocket, bus: EventBus, subscription: Subscription, engine: dict[str, str | None] | None
) -> None:
    hello = {"kind": "hello", "version": __version__, "history": bus.history_limit}
    await websocket.send_text(encode(hello if engine is None else {**hello, "engine": engine}))
    while True:
        events, missed = await subscription.next()
        if missed:
            await websocket.send_text(encode({"kind": "missed", "count": missed}))
        for event in events:
            await websocket.send_text(encode(event.to_wire()))
        await asyncio.sleep(PACE)


async def _read_commands(websocket: WebSocket, bus: EventBus) -> None:
    while True:
        message = await websocket.receive()
        if message["type"] == "websocket.disconnect":
            return
        try:
            command = json.loads(message.get("text") or "null")
        except ValueError:
            command = None
        if isinstance(command, dict) and command.get("op") == "clear":
            log.info("inspector cleared the event history")
            bus.clear()
        else:
            log.debug("inspector sent an unknown command: %.200r", message.get("text"))


def inspector_router(
    bus: EventBus, allowed_origins: frozenset[str], engine: EngineAddress | None = None
) -> APIRouter:
    """The inspector's routes; its hello names ``engine`` (the daemon's, with its context)."""
    router = APIRouter()
    shown = (
        None if engine is None else {"host": engine.host, "context": engine.context, "source": engine.source}
    )

    @router.get("/_ddbridge", include_in_schema=False)
    def to_page() -> Response:
        return RedirectResponse("/_ddbridge/")

    @router.get("/_ddbridge/")
    def page() -> Response:
        return Response(_asset("index.html"), media_type="text/html", headers=PAGE_HEADERS)

    @router.get("/_ddbridge/inspector/{name}")
    def asset(request: Request) -> Response:
        name = request.path_params["name"]
        media_type = ASSETS.get(name)
        if media_type is None:
            return PlainTextResponse(f"not found: /_ddbridge/inspector/{name}", status_code=404)
        return Response(_asset(name), media_type=media_type, headers={"Cache-Control": "no-cache"})

    @router.get("/_ddbridge/events.json")
    async def export() -> Response:
        # Encoding a full history takes a while: off the event loop (the wire objects are copies).
        body = await asyncio.to_thread(_export_body, bus.history(), bus.history_limit)
        stamp = time.strftime("%Y%m%d-%H%M%S")
        return Response(
            body,
            media_type="application/json",
            headers={
                "Content-Disposition": f'attachment; filename="ddbridge-events-{stamp}.json"',
                "Cache-Control": "no-store",
            },
        )

    @router.websocket("/_ddbridge/events")
    async def events(websocket: WebSocket) -> None:
        if not await admit_websocket(websocket, allowed_origins, "the inspector's WebSocket"):
            return
        await websocket.accept(subprotocol=rpc_subprotocol(websocket))
        subscription = bus.subscribe()
        tasks = {
            asyncio.create_task(_send_events(websocket, bus, subscription, shown)),
            asyncio.create_task(_read_commands(websocket, bus)),
        }
        try:
            # Whichever ends first (the page went away, or a send failed) ends both.
            done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
            for task in done:
                if not task.cancelled() and task.exception() is not None:
                    log.debug("inspector WebSocket ended: %r", task.exception())
        finally:
            bus.unsubscribe(subscription)
            for task in tasks:
                task.cancel()
            with contextlib.suppress(Exception):
                await asyncio.gather(*tasks, return_exceptions=True)

    return router

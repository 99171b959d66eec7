"""A small real "UI dev server" for the ``--ui-source`` proxy tests: run it under uvicorn.

python -m uvicorn tests.support.devserver_app:app --port 5173

It serves what a dev server serves (an HTML page, a script, a large asset, redirects, an event
stream that waits, a gzip-compressed page) and reports what reached it (``/echo``, the WebSocket's
``headers`` command, ``/ws-closes``, ``/event-streams``), so the tests see both sides of the proxy.
"""

from __future__ import annotations

import asyncio
import gzip
import hashlib
from collections.abc import AsyncIterator

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, RedirectResponse, Response, StreamingResponse
from starlette.routing import Route, WebSocketRoute
from starlette.websockets import WebSocket, WebSocketDisconnect

METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]

PAGE = (
    b'<!doctype html><html lang="en"><head><meta charset="utf-8"><title>dev page</title>'
    b'<script type="module" src="/app.js"></script></head><body><p>dev server page</p></body></html>'
)
FAVICON = b'<svg xmlns="http://www.w3.org/2000/svg"><title>dev server icon</title></svg>'
SCRIPT = b'document.body.dataset.app = "loaded"; // <head> in a script is not HTML\n'
BIG_CHUNK = 64 * 1024
BIG_CHUNKS = 128  # 8 MiB


def big_chunk(index: int) -> bytes:
    """Chunk ``index`` of ``/big.bin``: deterministic, different per chunk."""
    return hashlib.sha256(str(index).encode()).digest() * (BIG_CHUNK // 32)


released = asyncio.Event()
open_event_streams = 0
closes: list[dict[str, object]] = []


async def page(request: Request) -> Response:
    return Response(PAGE, media_type="text/html", headers={"X-Dev-Server": "yes"})


async def favicon(request: Request) -> Response:
    return Response(FAVICON, media_type="image/svg+xml")


async def script(request: Request) -> Response:
    return Response(SCRIPT, media_type="text/javascript")


async def gzipped_page(request: Request) -> Response:
    """Compressed although the proxy asks for ``identity``: some servers do."""
    return Response(
        gzip.compress(PAGE), media_type="text/html; charset=utf-8", headers={"Content-Encoding": "gzip"}
    )


async def echo(request: Request) -> Response:
    body = await request.body()
    response = JSONResponse(
        {
            "method": request.method,
            "path": request.url.path,
            "raw_path": request.scope["raw_path"].decode(),
            "query": request.url.query,
            "headers": [[name.decode(), value.decode()] for name, value in request.headers.raw],
            "body": body.decode(errors="replace"),
        }
    )
    response.raw_headers += [(b"set-cookie", b"a=1; Path=/"), (b"set-cookie", b"b=2; Path=/")]
    return response


async def status(request: Request) -> Response:
    code = int(request.path_params["code"])
    return PlainTextResponse(f"status {code} from the dev server", status_code=code)


async def redirect(request: Request) -> Response:
    return RedirectResponse("/target?from=redirect", status_code=302)


async def redirect_absolute(request: Request) -> Response:
    return RedirectResponse(f"{request.url.scheme}://{request.url.netloc}/target", status_code=301)


async def redirect_away(request: Request) -> Response:
    return RedirectResponse("https://docs.docker.com/extensions/", status_code=302)


async def big(request: Request) -> Response:
    async def chunks() -> AsyncIterator[bytes]:
        for index in range(BIG_CHUNKS):
            yield big_chunk(index)

    return StreamingResponse(chunks(), media_type="application/octet-stream")


async def waiting(request: Request) -> Response:
    """An event stream: one event now, the next once ``/release`` is called (or after 30 s)."""

    async def events() -> AsyncIterator[bytes]:
        global open_event_streams
        open_event_streams += 1
        try:
            yield b"data: first\n\n"
            released.clear()
            try:
                await asyncio.wait_for(released.wait(), 30)
            except TimeoutError:
                yield b"data: timed out\n\n"
                return
            yield b"data: released\n\n"
        finally:
            open_event_streams -= 1

    return StreamingResponse(events(), media_type="text/event-stream")


async def release(request: Request) -> Response:
    released.set()
    return PlainTextResponse("released")


async def event_streams(request: Request) -> Response:
    """How many ``/events`` answers are still being sent."""
    return JSONResponse(open_event_streams)


async def ws_closes(request: Request) -> Response:
    return JSONResponse(closes)


async def ws_echo(websocket: WebSocket) -> None:
    """Echoes text and binary frames. Commands (text): ``headers`` answers what the handshake
    carried; ``close CODE REASON`` closes with that code; ``drop`` ends the connection without a
    close frame (uvicorn does so when the app fails), as a dev server that stops does."""
    offered = websocket.scope.get("subprotocols", [])
    await websocket.accept(subprotocol="echo-v2" if "echo-v2" in offered else None)
    try:
        while True:
            message = await websocket.receive()
            if message["type"] == "websocket.disconnect":
                closes.append({"path": websocket.url.path, "code": message.get("code")})
                return
            text = message.get("text")
            if text == "headers":
                await websocket.send_json(
                    {
                        "path": websocket.url.path,
                        "query": websocket.url.query,
                        "headers": [[n.decode(), v.decode()] for n, v in websocket.headers.raw],
                        "subprotocols": offered,
                    }
                )
            elif text == "drop":
                raise ConnectionAbortedError("dropped on purpose")
            elif text is not None and text.startswith("close "):
                _, code, reason = text.split(" ", 2)
                await websocket.close(int(code), reason)
                return
            elif text is not None:
                await websocket.send_text(text)
            else:
                await websocket.send_bytes(message["bytes"])
    except WebSocketDisconnect:
        return


app = Starlette(
    routes=[
        Route("/", page),
        Route("/app.js", script),
        Route("/favicon.ico", favicon),
        Route("/gzipped.html", gzipped_page),
        Route("/echo", echo, methods=METHODS),
        Route("/echo/{rest:path}", echo, methods=METHODS),
        Route("/status/{code:int}", status, methods=METHODS),
        Route("/redirect", redirect),
        Route("/redirect-absolute", redirect_absolute),
        Route("/redirect-away", redirect_away),
        Route("/big.bin", big),
        Route("/events", waiting),
        Route("/release", release, methods=["POST"]),
        Route("/event-streams", event_streams),
        Route("/ws-closes", ws_closes),
        WebSocketRoute("/", ws_echo),
        WebSocketRoute("/ws", ws_echo),
    ]
)

"""A real HTTP backend for the tests: run with uvicorn on a unix socket or a TCP port.

python -m uvicorn tests.support.backend:app --uds /tmp/x.sock
"""

from __future__ import annotations

import asyncio

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"]


async def echo(request: Request) -> Response:
    body = await request.body()
    return JSONResponse(
        {
            "method": request.method,
            "path": request.url.path,
            "query": request.url.query,
            "headers": dict(request.headers),
            "body": body.decode(errors="replace"),
        },
        headers={"X-Backend": "test"},
    )


async def text(request: Request) -> Response:
    return PlainTextResponse("plain words, not JSON")


async def reflect(request: Request) -> Response:
    """The request's body as the answer's, byte for byte, labelled JSON."""
    return Response(await request.body(), media_type="application/json")


async def status(request: Request) -> Response:
    code = int(request.path_params["code"])
    return PlainTextResponse(f"status {code} body", status_code=code)


async def slow(request: Request) -> Response:
    await asyncio.sleep(float(request.query_params.get("seconds", "5")))
    return PlainTextResponse("finally")


app = Starlette(
    routes=[
        Route("/echo", echo, methods=METHODS),
        Route("/echo/{rest:path}", echo, methods=METHODS),
        Route("/text", text),
        Route("/reflect", reflect, methods=["POST"]),
        Route("/status/{code:int}", status, methods=METHODS),
        Route("/slow", slow),
    ]
)

"""Serving the UI from a dev server (Vite, webpack / CRA): a reverse proxy at the bridge's origin.

``ddbridge serve --ui-source http://127.0.0.1:5173`` is the bridge's ``docker extension dev
ui-source``. The page is opened on the bridge, not on the dev server, so that the shim, the
``/rpc`` WebSocket and the extension's code share one origin, exactly as with ``--ui DIR``:

- every HTTP request outside the bridge's own paths is forwarded with its method, path, query,
  body and headers (hop-by-hop ones dropped; ``Host`` becomes the dev server's, so dev servers
  that check it — Vite's ``server.allowedHosts``, webpack's ``allowedHosts`` — accept it);
- HTML answers get the shim injected first in ``<head>``; everything else streams back
  untouched, chunk by chunk, so large assets and event streams are never held in memory;
- WebSocket upgrades (Vite's HMR socket on ``/?token=…`` with subprotocol ``vite-hmr``, CRA's
  ``/ws`` or ``/sockjs-node``) are relayed frame by frame, so hot reload keeps working;
- an unreachable dev server is a readable 502 naming its URL, not a bare connection error.

The proxied WebSockets pass the same Origin check as ``/rpc``: without it any web page could
open the dev server's sockets through the bridge, with the bridge's loopback Host header.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from collections.abc import Callable, Collection
from urllib.parse import quote, urlsplit

import httpx
from starlette.requests import ClientDisconnect, Request
from starlette.responses import PlainTextResponse, RedirectResponse, Response
from starlette.types import Message, Receive, Scope, Send
from starlette.websockets import WebSocket, WebSocketDisconnect, WebSocketState
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidStatus, WebSocketException
from websockets.frames import EXTERNAL_CLOSE_CODES, CloseCode
from websockets.typing import Origin, Subprotocol

from bridge.security import admit_websocket

log = logging.getLogger("ddbridge.ui")

# Paths the bridge answers itself; they never reach the dev server, whatever the method.
BRIDGE_PATHS = frozenset({"/rpc", "/ddclient.js", "/healthz", "/_ddbridge"})
BRIDGE_PREFIX = "/_ddbridge/"

# RFC 9110 §7.6.1: meaningful for one connection only, never forwarded (plus the headers a
# Connection header names, and the legacy Proxy-Connection).
HOP_BY_HOP = frozenset(
    {
        b"connection",
        b"keep-alive",
        b"proxy-authenticate",
        b"proxy-authorization",
        b"proxy-connection",
        b"te",
        b"trailer",
        b"transfer-encoding",
        b"upgrade",
    }
)
# Set by the WebSocket client library itself when it opens the upstream socket.
WEBSOCKET_HANDSHAKE = frozenset({b"host", b"origin", b"user-agent", b"content-length"})

CONNECT_TIMEOUT = 10.0
KEEPALIVE_EXPIRY = 2.0
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
# Same bound as uvicorn's default for frames coming from the browser.
MAX_MESSAGE = 16 * 1024 * 1024


def origin_of(url: str) -> str:
    """``scheme://host[:port]`` of ``url`` as a browser writes it in an Origin header (lower-case,
    IPv6 in brackets, default ports left out), so it compares exactly with ``check_origin``."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    port = parts.port
    default = 443 if parts.scheme == "https" else 80
    return f"{parts.scheme}://{host}" + (f":{port}" if port is not None and port != default else "")


def is_bridge_path(path: str) -> bool:
    return path in BRIDGE_PATHS or path.startswith(BRIDGE_PREFIX)


def _connection_listed(headers: list[tuple[bytes, bytes]]) -> set[bytes]:
    """Header names a ``Connection`` header declares hop-by-hop (``Connection: close, X-Foo``)."""
    return {
        token.strip().lower()
        for name, value in headers
        if name.lower() == b"connection"
        for token in value.split(b",")
        if token.strip()
    }


def _end_to_end(
    headers: list[tuple[bytes, bytes]], also_drop: Collection[bytes] = ()
) -> list[tuple[bytes, bytes]]:
    """``headers`` (lower-cased names) without hop-by-hop ones and without ``also_drop``."""
    dropped = HOP_BY_HOP | _connection_listed(headers) | set(also_drop)
    return [(name.lower(), value) for name, value in headers if name.lower() not in dropped]


def _websocket_close_code(code: int) -> int:
    """A code that may go in a close frame: 1005 (no code) and 1006 (no close frame) may not."""
    if code in EXTERNAL_CLOSE_CODES or 3000 <= code < 5000:
        return code
    return CloseCode.GOING_AWAY if code == CloseCode.ABNORMAL_CLOSURE else CloseCode.NORMAL_CLOSURE


def _describe(exc: BaseException) -> str:
    """The most telling words for a failure: the OS error under the libraries' wrappers (httpx
    says "All connection attempts failed" for a refused connection), else the exception's own."""
    cause: BaseException | None = exc
    while cause is not None:
        if isinstance(cause, OSError) and cause.errno is not None:
            return os.strerror(cause.errno)
        cause = cause.__cause__ or cause.__context__
    return str(exc) or type(exc).__name__


async def _until_disconnected(receive: Receive) -> None:
    """Returns when the HTTP client goes away. uvicorn (ASGI 2.3) drops writes to a closed
    connection silently, so a stream nobody reads any more would otherwise go on forever."""
    while (await receive())["type"] != "http.disconnect":
        pass


class DevServerProxy:
    """The ASGI app mounted at ``/`` (after the bridge's routes) when ``[ui] source`` is set.

    ``allowed_origins`` are the origins besides the bridge's own that may open proxied
    WebSockets (the same set ``/rpc`` accepts); ``inject`` puts the shim into an HTML page (as
    for a UI folder). ``aclose()`` closes the pooled HTTP client.
    """

    def __init__(
        self, source: str, allowed_origins: Collection[str], inject: Callable[[bytes], bytes]
    ) -> None:
        self.source = source
        self.origin = origin_of(source)
        self.allowed_origins = allowed_origins
        self.inject = inject
        # A source with a path (http://localhost:3000/ui) names the page to open: the bridge's
        # "/" leads there. Paths are forwarded unchanged, since dev servers emit absolute ones.
        self.entry = urlsplit(source).path or "/"
        self.client = httpx.AsyncClient(
            # Dev servers hold some requests open for long (lazy compiles, event streams for hot
            # reload): only connecting is timed.
            timeout=httpx.Timeout(CONNECT_TIMEOUT, read=None),
            # Node's and uvicorn's servers close an idle connection after 5 s, httpx's default
            # expiry: a request sent on one as it closes fails (a 502 for no reason). Idle
            # connections are dropped well before a dev server would.
            limits=httpx.Limits(keepalive_expiry=KEEPALIVE_EXPIRY),
            follow_redirects=False,  # the browser follows them, at the bridge's origin
            trust_env=False,  # the dev server is addressed directly, never through HTTP_PROXY
        )

    async def aclose(self) -> None:
        await self.client.aclose()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            await self._http(scope, receive, send)
        elif scope["type"] == "websocket":
            await self._websocket(scope, receive, send)

    def _target(self, scope: Scope) -> str:
        """The dev server's URL for this request: its origin, then the path and query as sent."""
        raw_path = scope.get("raw_path")
        path = raw_path.decode("latin-1") if raw_path else quote(scope["path"])
        query = scope["query_string"].decode("latin-1")
        return f"{self.origin}{path}" + (f"?{query}" if query else "")

    # ----------------------------------------------------------------------------------------
    # HTTP

    async def _http(self, scope: Scope, receive: Receive, send: Send) -> None:
        request = Request(scope, receive)
        path = scope["path"]
        if is_bridge_path(path):
            message = f"not found: {path} belongs to ddbridge and is not forwarded to the UI dev server"
            await PlainTextResponse(message, status_code=404)(scope, receive, send)
            return
        if path == "/" and self.entry != "/" and request.method in ("GET", "HEAD"):
            await RedirectResponse(self.entry, status_code=307)(scope, receive, send)
            return
        # Origin goes as it came: the dev server's own CORS rules keep other sites from reading
        # its answers (Vite allows only loopback origins by default).
        headers = _end_to_end(scope["headers"], also_drop=(b"host", b"accept-encoding"))
        # Uncompressed answers, so HTML can be rewritten; the dev server is on a fast link anyway.
        headers.append((b"accept-encoding", b"identity"))
        has_body = any(name in (b"content-length", b"transfer-encoding") for name, _ in scope["headers"])
        outgoing = self.client.build_request(
            request.method,
            self._target(scope),
            headers=headers,
            content=request.stream() if has_body else None,
        )
        try:
            upstream = await self._send(outgoing, retry=not has_body and request.method in SAFE_METHODS)
        except ClientDisconnect:
            return
        except httpx.RequestError as exc:
            await self._unreachable(exc, request.method, path)(scope, receive, send)
            return
        try:
            await self._relay_response(upstream, scope, receive, send)
        finally:
            await upstream.aclose()

    async def _send(self, outgoing: httpx.Request, *, retry: bool) -> httpx.Response:
        """The dev server's answer. A request without a body and without side effects is sent
        once more on a new connection when its connection broke before any answer came: a
        kept-alive connection the server closes just as a request goes out on it (the server's
        idle timeout, or its answer to the previous request ending it) fails through no fault
        of the page, and browsers retry those the same way."""
        try:
            return await self.client.send(outgoing, stream=True)
        except (httpx.RemoteProtocolError, httpx.ReadError, httpx.WriteError) as exc:
            if not retry:
                raise
            log.debug("UI dev server %s: the connection broke (%s); sending again", self.source, exc)
            return await self.client.send(outgoing, stream=True)

    def _unreachable(self, exc: httpx.RequestError, method: str, path: str) -> Response:
        reason = _describe(exc)
        log.warning("UI dev server %s did not answer %s %s: %s", self.source, method, path, reason)
        return PlainTextResponse(
            f"ddbridge: the UI dev server at {self.source} is not reachable ({reason}).\n"
            "Start the dev server (for example `npm run dev` in the extension's UI folder), "
            "then reload this page.\n",
            status_code=502,
        )

    def _response_headers(self, upstream: httpx.Response) -> list[tuple[bytes, bytes]]:
        # uvicorn adds its own Date and Server to every answer: the dev server's would be doubles.
        headers = _end_to_end(upstream.headers.raw, also_drop=(b"date", b"server"))
        origin = self.origin.encode()
        for index, (name, value) in enumerate(headers):
            # A redirect to the dev server's own origin would take the browser off the bridge.
            if name == b"location" and value.lower().startswith(origin):
                rest = value[len(origin) :]
                if not rest or rest.startswith((b"/", b"?")):
                    headers[index] = (name, rest if rest.startswith(b"/") else b"/" + rest)
        return headers

    async def _relay_response(
        self, upstream: httpx.Response, scope: Scope, receive: Receive, send: Send
    ) -> None:
        headers = self._response_headers(upstream)
        is_html = upstream.headers.get("content-type", "").lower().startswith("text/html")
        has_body = scope["method"] != "HEAD" and upstream.status_code not in (204, 304)
        if is_html:
            # The body changes length (and is decoded if the dev server compressed it anyway).
            headers = [(n, v) for n, v in headers if n not in (b"content-length", b"content-encoding")]
        if is_html and has_body:
            try:
                body = self.inject(await upstream.aread())
            except httpx.RequestError as exc:
                await self._unreachable(exc, scope["method"], scope["path"])(scope, receive, send)
                return
            headers.append((b"content-length", str(len(body)).encode()))
            await send({"type": "http.response.start", "status": upstream.status_code, "headers": headers})
            await send({"type": "http.response.body", "body": body})
            return
        await send({"type": "http.response.start", "status": upstream.status_code, "headers": headers})
        body_sent = asyncio.create_task(self._stream_body(upstream, scope, send))
        client_gone = asyncio.create_task(_until_disconnected(receive))
        try:
            await asyncio.wait((body_sent, client_gone), return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in (body_sent, client_gone):
                task.cancel()
            await asyncio.gather(body_sent, client_gone, return_exceptions=True)

    async def _stream_body(self, upstream: httpx.Response, scope: Scope, send: Send) -> None:
        try:
            async for chunk in upstream.aiter_raw():
                await send({"type": "http.response.body", "body": chunk, "more_body": True})
        except httpx.RequestError as exc:
            # Too late for a 502: the status went out. Leaving the body incomplete makes uvicorn
            # close the connection, which is how the browser learns the answer broke off.
            method, path = scope["method"], scope["path"]
            reason = _describe(exc)
            log.warning(
                "UI dev server %s broke off its answer to %s %s: %s", self.source, method, path, reason
            )
            return
        await send({"type": "http.response.body", "body": b"", "more_body": False})

    # ----------------------------------------------------------------------------------------
    # WebSocket

    async def _websocket(self, scope: Scope, receive: Receive, send: Send) -> None:
        browser = WebSocket(scope, receive, send)
        path = scope["path"]
        origin = browser.headers.get("origin")
        if is_bridge_path(path):
            await browser.close(CloseCode.POLICY_VIOLATION)  # before accepting: an HTTP 403
            return
        if not await admit_websocket(browser, self.allowed_origins, f"the dev server WebSocket {path}"):
            return
        target = "ws" + self._target(scope).removeprefix("http")  # http→ws, https→wss
        headers = _end_to_end(scope["headers"], also_drop=WEBSOCKET_HANDSHAKE)
        try:
            upstream = await connect(
                target,
                subprotocols=[Subprotocol(name) for name in scope.get("subprotocols", [])] or None,
                # The bridge checked the page's origin; the dev server sees a same-origin client
                # (webpack-dev-server refuses origins that do not match its host).
                origin=Origin(self.origin) if origin is not None else None,
                additional_headers=[
                    (name.decode("latin-1"), value.decode("latin-1"))
                    for name, value in headers
                    if not name.startswith(b"sec-websocket-")
                ],
                user_agent_header=browser.headers.get("user-agent"),
                compression=None,  # a loopback link: compressing costs CPU and saves nothing
                proxy=None,
                open_timeout=CONNECT_TIMEOUT,
                ping_interval=None,  # the browser's side keeps the pair alive or closes it
                max_size=MAX_MESSAGE,
            )
        except InvalidStatus as exc:
            status = exc.response.status_code
            log.warning("the UI dev server %s refused the WebSocket %s: HTTP %s", self.source, path, status)
            await browser.close(CloseCode.INTERNAL_ERROR)  # before accepting: an HTTP 403
            return
        except (OSError, TimeoutError, WebSocketException) as exc:
            log.warning(
                "the UI dev server at %s is not reachable for the WebSocket %s (%s); start the dev server",
                self.source,
                path,
                _describe(exc),
            )
            await browser.close(CloseCode.INTERNAL_ERROR)
            return
        try:
            await browser.accept(subprotocol=upstream.subprotocol)
            await self._relay_websocket(browser, upstream)
        finally:
            await upstream.close()

    async def _relay_websocket(self, browser: WebSocket, upstream: ClientConnection) -> None:
        """Pump frames both ways until one side closes, then close the other side alike.

        The dev server's side decides the end: when the browser leaves, ``_from_browser``
        closes the upstream socket, which ends ``_from_upstream``.
        """
        from_browser = asyncio.create_task(self._from_browser(browser, upstream))
        try:
            await self._from_upstream(upstream, browser)
        finally:
            from_browser.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await from_browser

    @staticmethod
    async def _from_browser(browser: WebSocket, upstream: ClientConnection) -> None:
        code, reason = CloseCode.GOING_AWAY, ""
        try:
            while True:
                message: Message = await browser.receive()
                if message["type"] == "websocket.disconnect":
                    code, reason = message.get("code", CloseCode.NORMAL_CLOSURE), message.get("reason") or ""
                    return
                text = message.get("text")
                await upstream.send(text if text is not None else message["bytes"])
        except ConnectionClosed:
            return  # the dev server closed: _from_upstream tells the browser
        finally:
            await upstream.close(_websocket_close_code(code), reason)

    @staticmethod
    async def _from_upstream(upstream: ClientConnection, browser: WebSocket) -> None:
        try:
            while True:
                data = await upstream.recv()
                if isinstance(data, str):
                    await browser.send_text(data)
                else:
                    await browser.send_bytes(data)
        except WebSocketDisconnect:
            return  # the browser left: _from_browser closes the upstream socket
        except ConnectionClosed as closed:
            received = closed.rcvd
        browser_open = (
            browser.client_state == WebSocketState.CONNECTED
            and browser.application_state == WebSocketState.CONNECTED
        )
        if not browser_open:
            return
        if received is None:
            # The dev server dropped the connection without a close frame (it stopped or
            # restarted). Returning without closing makes uvicorn drop the browser's connection
            # too: an unclean close is what Vite's client answers by polling, then reloading.
            return
        with contextlib.suppress(WebSocketDisconnect):
            await browser.close(_websocket_close_code(received.code), received.reason)

"""The door every HTTP request and WebSocket passes first: Host, then the token, then Origin.

- Host: a loopback name or address, or one given with ``--allow-host`` (DNS rebinding).
- Token (``bridge.auth``): ``Authorization: Bearer``, ``?token=`` or the session cookie. A browser
  opening a URL with the token gets the cookie and is sent on to the URL without it; a browser
  page without one gets a page asking for the token; anything else a 401 saying what to send.
  A WebSocket without it is accepted and closed at once with code 4401 and that reason, so the
  shim can say why.
- Origin (``check_request_origin``) for HTTP; each WebSocket route checks its own with
  ``admit_websocket`` before accepting.

Only ``/healthz`` is public: it says the daemon is up and its version, nothing more.
"""

from __future__ import annotations

import logging
from importlib import resources
from urllib.parse import unquote_plus, urlencode

from starlette.requests import HTTPConnection
from starlette.responses import PlainTextResponse, RedirectResponse, Response
from starlette.types import ASGIApp, Receive, Scope, Send
from starlette.websockets import WebSocket

from bridge import listener
from bridge.auth import SESSION_LIFETIME, TOKEN_QUERY, Credentials, bearer
from bridge.security import POLICY_VIOLATION, check_host, check_request_origin

log = logging.getLogger("ddbridge.access")

PUBLIC_PATHS = frozenset({"/healthz"})
UNAUTHENTICATED = 4401
TOKEN_HELP = (
    "ddbridge: this needs the token ddbridge printed when it started: open the printed URL "
    "(…?token=…) in the browser, or send 'Authorization: Bearer TOKEN'"
)
LOGIN_HEADERS = {
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'",
    "Cache-Control": "no-store",
    "WWW-Authenticate": 'Bearer realm="ddbridge"',
}


def cookie_name(scope: Scope) -> str:
    """Cookies ignore ports: each daemon's cookie carries its own port in its name."""
    server = scope.get("server")
    return f"ddbridge-{server[1] if server else 0}"


class AccessGate:
    def __init__(
        self, app: ASGIApp, hosts: frozenset[str], origins: frozenset[str], credentials: Credentials
    ) -> None:
        self.app = app
        self.hosts = hosts
        self.origins = origins
        self.credentials = credentials

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        hosts = [value.decode("latin-1") for key, value in scope["headers"] if key == b"host"]
        host = hosts[0] if len(hosts) == 1 else None  # none, or ambiguous: refused
        if not check_host(host, self.hosts):
            await self._refuse_host(scope, receive, send, hosts)
            return
        if scope["path"] in PUBLIC_PATHS:
            await self.app(scope, receive, send)
            return
        connection = HTTPConnection(scope)
        query_token = connection.query_params.get(TOKEN_QUERY)
        if self.credentials.required and not self._authenticated(connection, query_token):
            await self._refuse_token(connection, receive, send)
            return
        listener.credentialed(scope)
        if self.credentials.required:
            scope = self._without_credentials(connection)
        if scope["type"] == "websocket":
            await self.app(scope, receive, send)
            return
        headers = connection.headers
        if not check_request_origin(
            scope["method"],
            headers.get("sec-fetch-site"),
            headers.get("sec-fetch-mode"),
            headers.get("origin"),
            headers.get("referer"),
            host,
            self.origins,
        ):
            source = headers.get("origin") or headers.get("referer") or "(not said)"
            log.warning(
                "refused %s %s from %s (add the origin with --allow-origin)",
                scope["method"],
                scope["path"],
                source,
            )
            message = f"ddbridge: requests from {source} are not allowed; add its origin with --allow-origin"
            await PlainTextResponse(message, status_code=403)(scope, receive, send)
            return
        if query_token is not None and self.credentials.required and _is_navigation(connection):
            await self._log_in(connection)(scope, receive, send)
            return
        await self.app(scope, receive, send)

    def _authenticated(self, connection: HTTPConnection, query_token: str | None) -> bool:
        presented = (
            bearer(connection.headers.get("authorization")),
            query_token,
            connection.cookies.get(cookie_name(connection.scope)),
        )
        return self.credentials.accepts_any(value for value in presented if value)

    def _without_credentials(self, connection: HTTPConnection) -> Scope:
        """The request as the routes see it: the bridge's token and cookie taken out, so that
        nothing passes them on (the dev server proxy forwards headers and query strings)."""
        scope = connection.scope
        name = cookie_name(scope)
        headers = []
        for key, value in scope["headers"]:
            if key == b"authorization" and self.credentials.accepts(bearer(value.decode("latin-1")) or ""):
                continue
            if key == b"cookie":
                kept = [
                    part
                    for part in value.split(b";")
                    if part.strip().partition(b"=")[0].decode("latin-1") != name
                ]
                if not kept:
                    continue
                value = b";".join(kept).strip()
            headers.append((key, value))
        query = b"&".join(
            part for part in scope["query_string"].split(b"&") if not self._is_token_parameter(part)
        )
        return {**scope, "headers": headers, "query_string": query}

    def _is_token_parameter(self, part: bytes) -> bool:
        key, _, value = part.partition(b"=")
        return key == TOKEN_QUERY.encode() and self.credentials.accepts(unquote_plus(value.decode("latin-1")))

    def _log_in(self, connection: HTTPConnection) -> Response:
        """The printed URL was opened: a session cookie, and on to the same URL without the token."""
        rest = [(key, value) for key, value in connection.query_params.multi_items() if key != TOKEN_QUERY]
        target = connection.url.path + (f"?{urlencode(rest)}" if rest else "")
        response = RedirectResponse(target, status_code=303, headers={"Cache-Control": "no-store"})
        response.set_cookie(
            cookie_name(connection.scope),
            self.credentials.issue_session(),
            max_age=SESSION_LIFETIME,
            httponly=True,
            samesite="lax",
        )
        return response

    async def _refuse_token(self, connection: HTTPConnection, receive: Receive, send: Send) -> None:
        scope = connection.scope
        log.info("refused %s %s: no valid token", scope.get("method", "WebSocket"), scope["path"])
        send = await listener.refused(scope, send)
        if scope["type"] == "websocket":
            websocket = WebSocket(scope, receive, send)
            await websocket.accept()
            await websocket.close(code=UNAUTHENTICATED, reason="ddbridge: missing or wrong token")
            return
        response: Response
        if _is_navigation(connection):
            page = resources.files("bridge").joinpath("static/login.html").read_bytes()
            response = Response(page, status_code=401, media_type="text/html", headers=LOGIN_HEADERS)
        else:
            response = PlainTextResponse(TOKEN_HELP, status_code=401, headers=LOGIN_HEADERS)
        await response(scope, receive, send)

    async def _refuse_host(self, scope: Scope, receive: Receive, send: Send, hosts: list[str]) -> None:
        log.warning("refused request with Host %s (not loopback or allowed)", hosts)
        if scope["type"] == "websocket":
            await send({"type": "websocket.close", "code": POLICY_VIOLATION})
            return
        message = (
            f"ddbridge: Host {', '.join(hosts) or '(none)'} is not allowed; use a loopback address "
            "or add the name with --allow-host"
        )
        await PlainTextResponse(message, status_code=403)(scope, receive, send)


def _is_navigation(connection: HTTPConnection) -> bool:
    """A page the user opens (not a script's request): a GET whose Sec-Fetch-Mode says so, or
    (older browsers) that asks for HTML."""
    if connection.scope.get("method") not in ("GET", "HEAD"):
        return False
    mode = connection.headers.get("sec-fetch-mode")
    if mode is not None:
        return mode == "navigate"
    return "text/html" in connection.headers.get("accept", "")

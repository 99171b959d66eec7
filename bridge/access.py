"""The door every HTTP request and WebSocket passes first: Host, then a credential, then Origin.

- Host: a well-formed loopback name or address, or one given with ``--allow-host`` (DNS
  rebinding).
- Credentials (``bridge.auth``) come in two strengths:

  * **explicit** ones, which a browser never sends by itself: the token or a page credential in
    ``Authorization: Bearer``, in ``?token=``, or in a WebSocket subprotocol
    ``ddbridge.credential.<value>`` (what the shim and the bridge's pages send, read from the
    origin's ``localStorage``). They open everything;
  * the **view cookie**, which the browser sends to every port of the host name, so anything that
    can listen on another port may replay it. It opens only the pages and files of the UI, the
    shim and the bridge's pages, none of which carries a credential; never ``EXPLICIT_PATHS``
    nor what is under ``EXPLICIT_PREFIXES`` (a stream's output answer).

  A browser opening a URL with the token gets the login page, which stores a page credential in
  ``localStorage``, sets the view cookie and goes on to the URL without the token. A browser page
  without a credential gets a page asking for the token; anything else a 401 saying what to send;
  a WebSocket is accepted and closed at once with code 4401 and that reason, so the shim can say
  why.
- Origin (``check_request_origin``) for HTTP; each WebSocket route checks its own with
  ``admit_websocket`` before accepting. Every HTTP answer says which origins may frame it.

Only ``PUBLIC_PATHS`` need nothing: ``/healthz`` (the daemon is up, and its version) and the
credential hand-off page, which itself gives the credential only to allowed origins.
"""

from __future__ import annotations

import json
import logging
from base64 import b64encode
from collections.abc import Collection
from functools import cached_property
from hashlib import sha256
from importlib import resources
from urllib.parse import parse_qsl, unquote_plus, urlencode

from starlette.requests import HTTPConnection
from starlette.responses import PlainTextResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from starlette.websockets import WebSocket

from bridge import listener
from bridge.auth import SESSION_LIFETIME, TOKEN_QUERY, Credentials, bearer
from bridge.context import SCOPE_KEY, ContextTable, ExtensionContext
from bridge.security import POLICY_VIOLATION, admit_websocket, check_host, check_request_origin
from bridge.stream_answer import STREAMS_PATH

log = logging.getLogger("ddbridge.access")

HANDOFF_PATH = "/_ddbridge/credential"
PUBLIC_PATHS = frozenset({"/healthz", HANDOFF_PATH})
# What only an explicit credential opens: everything that runs commands or shows what ran.
EXPLICIT_PATHS = frozenset({"/rpc", "/_ddbridge/events", "/_ddbridge/events.json"})
EXPLICIT_PREFIXES = (STREAMS_PATH,)
RPC_SUBPROTOCOL = "ddbridge"
CREDENTIAL_SUBPROTOCOL = "ddbridge.credential."
COOKIE_PREFIX = "ddbridge-"
UNAUTHENTICATED = 4401
TOKEN_HELP = (
    "ddbridge: this needs the token ddbridge printed when it started: open the printed URL "
    "(…?token=…) in the browser, or send 'Authorization: Bearer TOKEN'"
)
EXPLICIT_HELP = (
    "ddbridge: this needs the token sent explicitly ('Authorization: Bearer TOKEN', ?token=, or a page "
    "credential in the WebSocket subprotocol ddbridge.credential.*); the browser's cookie only shows pages"
)
TOKEN_REASON = "ddbridge: missing or wrong token"
EXPLICIT_REASON = "ddbridge: a cookie is not enough here; send the token or a page credential"
LOGIN_HEADERS = {
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'",
    "Cache-Control": "no-store",
    "WWW-Authenticate": 'Bearer realm="ddbridge"',
}


def _needs_explicit(path: str) -> bool:
    return path in EXPLICIT_PATHS or path.startswith(EXPLICIT_PREFIXES)


def cookie_name(scope: Scope) -> str:
    """Cookies ignore ports: each daemon's view cookie carries its own port in its name."""
    server = scope.get("server")
    return f"{COOKIE_PREFIX}view-{server[1] if server else 0}"


def rpc_subprotocol(websocket: WebSocket) -> str | None:
    """The subprotocol to accept a bridge WebSocket with: ``ddbridge`` when the client offered it
    (a browser that offers subprotocols fails a handshake that picks none)."""
    return RPC_SUBPROTOCOL if RPC_SUBPROTOCOL in websocket.scope.get("subprotocols", ()) else None


def frame_ancestors(origins: Collection[str]) -> str:
    """The CSP of every answer: only the bridge's own pages and the allowed origins may frame it
    (clickjacking: a foreign page framing the UI would click with the page's credential)."""
    return " ".join(("frame-ancestors", "'self'", *sorted(origins)))


class AccessGate:
    def __init__(
        self,
        app: ASGIApp,
        hosts: frozenset[str],
        origins: frozenset[str],
        credentials: Credentials,
        contexts: ContextTable,
    ) -> None:
        self.app = app
        self.hosts = hosts
        self.origins = origins
        self.credentials = credentials
        self.contexts = contexts

    def frame_policy(self, context: ExtensionContext) -> str:
        return frame_ancestors(self.origins | context.shell_origins)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        hosts = [value.decode("latin-1") for key, value in scope["headers"] if key == b"host"]
        host = hosts[0] if len(hosts) == 1 else None  # none, or ambiguous: refused
        if not check_host(host, self.hosts):
            await self._refuse_host(scope, receive, send, hosts)
            return
        context = self.contexts.for_host(host)
        if context is None:
            await self._refuse_host(scope, receive, send, hosts, why="no extension is installed under")
            return
        scope[SCOPE_KEY] = context
        if scope["type"] == "http":
            send = self._with_frame_policy(send, self.frame_policy(context).encode())
        if scope["path"] in PUBLIC_PATHS:
            await self.app(scope, receive, send)
            return
        connection = HTTPConnection(scope)
        if scope["type"] == "websocket" and not await admit_websocket(
            WebSocket(scope, receive, send), self.origins, _websocket_name(scope["path"])
        ):
            return  # another page's: refused at the handshake, before anything else is said
        query_tokens = self._query_tokens(scope)
        key = context.key
        if self.credentials.required:
            presented = self._presented(connection, query_tokens)
            explicit = self.credentials.accepts_any(presented, key)
            cookie = self._cookie(connection)
            if not explicit and not self.credentials.accepts_view(cookie, key):
                guess = bool(presented or cookie)
                await self._refuse(connection, receive, send, TOKEN_HELP, TOKEN_REASON, guess=guess)
                return
            if not explicit and _needs_explicit(scope["path"]):
                guess = bool(presented)
                await self._refuse(connection, receive, send, EXPLICIT_HELP, EXPLICIT_REASON, guess=guess)
                return
            scope = self._without_credentials(scope, key)
        listener.credentialed(scope)
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
        if (
            self.credentials.required
            and self.credentials.accepts_any(query_tokens, key)
            and _is_navigation(connection)
        ):
            await self._log_in(connection, context)(scope, receive, send)
            return
        await self.app(scope, receive, send)

    @staticmethod
    def _with_frame_policy(send: Send, policy: bytes) -> Send:
        async def send_framed(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", ()), (b"content-security-policy", policy)]
            await send(message)

        return send_framed

    @staticmethod
    def _query_tokens(scope: Scope) -> list[str]:
        """The ``token`` query parameters, their names compared decoded (``to%6Ben=`` is
        ``token=``). There may be several: Vite's HMR socket has a ``token`` of its own."""
        query = scope["query_string"].decode("latin-1")
        return [value for key, value in parse_qsl(query, keep_blank_values=True) if key == TOKEN_QUERY]

    @staticmethod
    def _presented(connection: HTTPConnection, query_tokens: list[str]) -> list[str]:
        """The explicit credentials the request presents: ``Authorization: Bearer``, ``?token=``,
        and on a WebSocket the ``ddbridge.credential.*`` subprotocols."""
        presented = [bearer(connection.headers.get("authorization")), *query_tokens]
        if connection.scope["type"] == "websocket":
            presented += [
                protocol.removeprefix(CREDENTIAL_SUBPROTOCOL)
                for protocol in connection.scope.get("subprotocols", ())
                if protocol.startswith(CREDENTIAL_SUBPROTOCOL)
            ]
        return [value for value in presented if value]

    @staticmethod
    def _cookie(connection: HTTPConnection) -> str:
        return connection.cookies.get(cookie_name(connection.scope), "")

    def _without_credentials(self, scope: Scope, key: str) -> Scope:
        """The request as the routes see it, without any ddbridge credential: the token, page
        credentials, and every ``ddbridge-*`` cookie (this daemon's and any other's), so that
        nothing passes them on (the dev server proxy forwards headers and query strings)."""
        headers = []
        for name, value in scope["headers"]:
            presented = bearer(value.decode("latin-1")) if name == b"authorization" else None
            if presented is not None and self.credentials.accepts(presented, key):
                continue
            if name == b"cookie":
                kept = [
                    part
                    for part in value.split(b";")
                    if not part.strip().lower().startswith(COOKIE_PREFIX.encode())
                ]
                if not kept:
                    continue
                value = b";".join(kept).strip()
            headers.append((name, value))
        query = b"&".join(
            part for part in scope["query_string"].split(b"&") if not self._is_token_parameter(part, key)
        )
        scope = {**scope, "headers": headers, "query_string": query}
        if "subprotocols" in scope:
            scope["subprotocols"] = [
                protocol
                for protocol in scope["subprotocols"]
                if not protocol.startswith(CREDENTIAL_SUBPROTOCOL)
            ]
        return scope

    def _is_token_parameter(self, part: bytes, key: str) -> bool:
        """A ``token`` parameter holding a credential of ours, name and value compared decoded
        (anything else named ``token``, such as Vite's, is the dev server's own)."""
        name, _, value = part.partition(b"=")
        return unquote_plus(name.decode("latin-1")) == TOKEN_QUERY and self.credentials.accepts(
            unquote_plus(value.decode("latin-1")), key
        )

    def _log_in(self, connection: HTTPConnection, context: ExtensionContext) -> Response:
        """The printed URL was opened: the login page stores a page credential in this origin's
        ``localStorage``, the view cookie is set, and the page goes on to the same URL without
        the token (always a path on the bridge: ``//evil/?token=…`` goes to ``/evil/``)."""
        rest = [
            (key, value)
            for key, value in connection.query_params.multi_items()
            if key != TOKEN_QUERY or not self.credentials.accepts(value, context.key)
        ]
        path = "/" + connection.url.path.lstrip("/\\")
        target = path + (f"?{urlencode(rest)}" if rest else "")
        response = LOGIN_PAGE.response(
            {"credential": self.credentials.issue_session(context.key), "next": target},
            self.frame_policy(context),  # an extension's page logs in inside the host's shell
        )
        cookie = f"{cookie_name(connection.scope)}={self.credentials.issue_view(context.key)}"
        attributes = [f"Max-Age={SESSION_LIFETIME}", "Path=/", "HttpOnly"]
        if context.shell_origins:
            # An installed extension's pages live in the shell's frame, a third party there: only
            # a partitioned cookie (which must be Secure; loopback names count as secure) is kept.
            # (Written out: Python's cookie module knows Partitioned from 3.14 only.)
            attributes += ["SameSite=None", "Secure", "Partitioned"]
        else:
            attributes.append("SameSite=Lax")
        response.headers.append("set-cookie", "; ".join([cookie, *attributes]))
        return response

    async def _refuse(
        self, connection: HTTPConnection, receive: Receive, send: Send, why: str, reason: str, *, guess: bool
    ) -> None:
        """401 with ``why`` (the login page for a browser's navigation); a WebSocket is closed
        with 4401 and ``reason`` (a close frame has room for 123 bytes). A ``guess`` (something
        was presented, and it was wrong) counts against the throttle of refused tokens and may
        wait its turn; asking without any credential is no guess, and is answered at once."""
        scope = connection.scope
        log.info("refused %s %s: no valid credential", scope.get("method", "WebSocket"), scope["path"])
        if guess:
            send = await listener.refused(scope, send)
        if scope["type"] == "websocket":
            websocket = WebSocket(scope, receive, send)
            await websocket.accept(subprotocol=rpc_subprotocol(websocket))
            await websocket.close(code=UNAUTHENTICATED, reason=reason)
            return
        response: Response
        if _is_navigation(connection):
            page = resources.files("bridge").joinpath("static/login.html").read_bytes()
            response = Response(page, status_code=401, media_type="text/html", headers=LOGIN_HEADERS)
        else:
            response = PlainTextResponse(why, status_code=401, headers=LOGIN_HEADERS)
        await response(scope, receive, send)

    async def _refuse_host(
        self, scope: Scope, receive: Receive, send: Send, hosts: list[str], why: str = ""
    ) -> None:
        if why:
            log.warning("refused request with Host %s: %s it", hosts, why)
            if scope["type"] == "http":
                message = f"ddbridge: {why} {hosts[0]}"
                await PlainTextResponse(message, status_code=404)(scope, receive, send)
                return
        else:
            log.warning("refused request with Host %s (not loopback or allowed)", hosts)
        if scope["type"] == "websocket":
            await send({"type": "websocket.close", "code": POLICY_VIOLATION})
            return
        message = (
            f"ddbridge: Host {', '.join(hosts) or '(none)'} is not allowed; use a loopback address "
            "or add the name with --allow-host"
        )
        await PlainTextResponse(message, status_code=403)(scope, receive, send)


def _websocket_name(path: str) -> str:
    """What a WebSocket is, for the log (the routes check the Origin again, naming it alike)."""
    names = {"/rpc": "the RPC WebSocket", "/_ddbridge/events": "the inspector's WebSocket"}
    return names.get(path, f"the dev server WebSocket {path}")


def _is_navigation(connection: HTTPConnection) -> bool:
    """A page the user opens (not a script's request): a GET whose Sec-Fetch-Mode says so, or
    (older browsers) that asks for HTML."""
    if connection.scope.get("method") not in ("GET", "HEAD"):
        return False
    mode = connection.headers.get("sec-fetch-mode")
    if mode is not None:
        return mode == "navigate"
    return "text/html" in connection.headers.get("accept", "")


class InlinePage:
    """One of the bridge's own small pages (``static/NAME``): its one inline script never changes,
    so a CSP hash allows exactly it, and reads what changes from a JSON block beside it."""

    PLACEHOLDER = "__PAGE_DATA__"

    def __init__(self, name: str) -> None:
        self.name = name

    @cached_property
    def template(self) -> str:
        return resources.files("bridge").joinpath("static", self.name).read_text()

    @cached_property
    def script_hash(self) -> str:
        start = self.template.index("<script>") + len("<script>")
        script = self.template[start : self.template.index("</script>", start)]
        return "sha256-" + b64encode(sha256(script.encode()).digest()).decode()

    def render(self, data: object) -> bytes:
        block = json.dumps(data).replace("<", "\\u003c")
        return self.template.replace(self.PLACEHOLDER, block).encode()

    def response(self, data: object, frame_ancestors: str = "frame-ancestors 'none'") -> Response:
        return Response(
            self.render(data),
            media_type="text/html",
            headers={
                "Cache-Control": "no-store",
                "Referrer-Policy": "no-referrer",
                "Content-Security-Policy": (
                    f"default-src 'none'; script-src '{self.script_hash}'; base-uri 'none'; "
                    f"form-action 'none'; {frame_ancestors}"
                ),
            },
        )


LOGIN_PAGE = InlinePage("signed-in.html")
HANDOFF_PAGE = InlinePage("credential.html")

"""Who may talk to the daemon: Host header and Origin checks (see the README's SECURITY).

``check_host`` defeats DNS rebinding: a hostile name that resolves to 127.0.0.1 still arrives
with its own Host header. ``check_origin`` keeps other web pages' scripts off the WebSocket
(browsers always send Origin on a WebSocket upgrade, and CORS does not apply to WebSockets);
``check_request_origin`` does the same for plain HTTP requests. They compare whole values,
never prefixes. The token (``bridge.auth``) is checked besides, by ``bridge.access``.
"""

from __future__ import annotations

import ipaddress
import logging
import re
from collections.abc import Collection

from starlette.websockets import WebSocket

log = logging.getLogger("ddbridge.security")

POLICY_VIOLATION = 1008

LOOPBACK_NAMES = frozenset({"localhost"})


# RFC 3986 authority as a Host header carries it: a bracketed IPv6 literal, or a name / IPv4
# address of letters, digits, "-", "." and "_", then at most a port of digits. Nothing else:
# "[::1]evil.com" or "evil.com#.localhost" are no hosts, whatever a lenient split would make of them.
_HOST = re.compile(r"(?:\[(?P<ipv6>[0-9a-f:.]+)\]|(?P<name>[a-z0-9_.-]+))(?::(?P<port>[0-9]{1,5}))?")


def split_host(host_header: str) -> str | None:
    """The host part of a Host header, without port or IPv6 brackets, lower-cased; None when the
    header is not a well-formed ``host[:port]``."""
    match = _HOST.fullmatch(host_header.strip().lower())
    if match is None:
        return None
    if match["ipv6"] is not None:
        try:
            return str(ipaddress.IPv6Address(match["ipv6"]))
        except ValueError:
            return None
    name = match["name"].rstrip(".")
    return name if name and ".." not in name else None


def is_loopback(host: str) -> bool:
    if host in LOOPBACK_NAMES or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_host(host_header: str | None, allowed: Collection[str]) -> bool:
    """True when the Host header names a loopback address/name or one of ``allowed``."""
    if not host_header:
        return False
    host = split_host(host_header)
    return host is not None and (is_loopback(host) or host in allowed)


def check_origin(origin: str | None, host_header: str | None, allowed: Collection[str]) -> bool:
    """True when a WebSocket's Origin is the bridge's own (same host and port as the request)
    or exactly one of ``allowed``. No Origin means a non-browser client, which is allowed."""
    if origin is None:
        return True
    origin = origin.strip().lower()
    if origin in allowed:
        return True
    scheme, sep, netloc = origin.partition("://")
    return (
        bool(sep)
        and scheme in ("http", "https")
        and host_header is not None
        and netloc == host_header.strip().lower()
    )


def origin_of_referer(referer: str | None) -> str | None:
    """``scheme://host:port`` of a Referer header (what a browser sends on ``<script src>``)."""
    if not referer:
        return None
    scheme, sep, rest = referer.strip().partition("://")
    netloc = rest.split("/", 1)[0].split("?", 1)[0].split("#", 1)[0]
    return f"{scheme}://{netloc}".lower() if sep and netloc else None


def check_request_origin(
    method: str,
    fetch_site: str | None,
    fetch_mode: str | None,
    origin: str | None,
    referer: str | None,
    host_header: str | None,
    allowed: Collection[str],
) -> bool:
    """True for an HTTP request the bridge's own pages, an allowed origin or a non-browser made.

    CORS keeps other pages from reading answers, but not from *using* some of them: a foreign
    page may run ``<script src=/ddclient.js>`` or aim a ``no-cors`` request at the daemon.
    Browsers say where a request comes from in ``Sec-Fetch-Site``: ``same-origin`` and ``none``
    (typed in the address bar) pass, as does a plain link followed to a page (a GET navigation,
    which only shows it); anything else must name an allowed origin in Origin, or else in
    Referer. Without ``Sec-Fetch-Site`` (a non-browser, or a browser on an origin it does not
    count as secure, which never sends it) an Origin or Referer that is there must name an
    allowed origin too; with neither, nothing is known, which is why no cookie-authenticated
    answer carries a credential (``bridge.access``).
    """
    site = fetch_site.strip().lower() if fetch_site is not None else None
    if site in ("same-origin", "none"):
        return check_origin(origin, host_header, allowed)
    if site is not None and fetch_mode == "navigate" and method in ("GET", "HEAD"):
        return True
    source = origin if origin is not None else origin_of_referer(referer)
    if source is None:
        return site is None
    return check_origin(source, host_header, allowed)


async def admit_websocket(websocket: WebSocket, allowed: Collection[str], what: str) -> bool:
    """The Origin gate of every WebSocket the daemon serves (``/rpc``, the inspector's events, the
    dev server's sockets): a foreign origin is refused before the handshake completes (the browser
    sees HTTP 403) and logged; True when the socket may be accepted."""
    origin = websocket.headers.get("origin")
    if check_origin(origin, websocket.headers.get("host"), allowed):
        return True
    log.warning("refused %s from origin %r (add it with --allow-origin)", what, origin)
    await websocket.close(code=POLICY_VIOLATION)
    return False

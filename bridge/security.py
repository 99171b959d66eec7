"""Who may talk to the daemon: Host header and Origin checks (see the README's SECURITY).

``check_host`` defeats DNS rebinding: a hostile name that resolves to 127.0.0.1 still arrives
with its own Host header. ``check_origin`` keeps other web pages' scripts off the WebSocket
(browsers always send Origin on a WebSocket upgrade, and CORS does not apply to WebSockets).
Both compare whole values, never prefixes.
"""

from __future__ import annotations

import ipaddress
import logging
from collections.abc import Collection

from starlette.websockets import WebSocket

log = logging.getLogger("ddbridge.security")

POLICY_VIOLATION = 1008

LOOPBACK_NAMES = frozenset({"localhost"})


def split_host(host_header: str) -> str:
    """The host part of a Host header, without port or IPv6 brackets, lower-cased."""
    host = host_header.strip().lower()
    if host.startswith("["):
        return host[1 : host.find("]")] if "]" in host else host
    if host.count(":") == 1:
        host = host.partition(":")[0]
    return host.rstrip(".")


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
    return is_loopback(host) or host in allowed


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


def check_same_origin_get(
    fetch_site: str | None, origin: str | None, host_header: str | None, allowed: Collection[str]
) -> bool:
    """True for a request the bridge's own pages (or a non-browser client) made.

    For reads that CORS does not fully cover (a cross-site ``<a download>`` or ``no-cors`` fetch
    still reaches the server): browsers send ``Sec-Fetch-Site``, which must say ``same-origin``
    (or ``none``, the user typing the URL), and an Origin, when sent, must pass ``check_origin``.
    """
    if fetch_site is not None and fetch_site.strip().lower() not in ("same-origin", "none"):
        return False
    return check_origin(origin, host_header, allowed)


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

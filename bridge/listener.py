"""Connection-level defences: what a client without the token can hold of the daemon.

Every accepted TCP connection is *pending* until the access gate accepts a credential on it
(``credentialed``); an HTTP connection is pending again after each response, so an idle
keep-alive connection of a signed-in page does not stay exempt either. While pending:

- it is closed ``[server] handshake_timeout`` seconds after it became pending: an idle or
  byte-a-second (slowloris) connection cannot stay, whatever it sends;
- at most ``[server] pending_connections`` are pending at once: one more closes the oldest,
  those that have not sent a whole request first, so that a page arriving during a flood (it
  sends its request at once) still gets in, and the descriptors stay free for the
  connections that did present the token.

Refusals for a missing or wrong token past a few a second (``FailureThrottle``) wait their
turn and are answered 429 with ``Retry-After``; the right token is never slowed. A waiting
refusal sits on a pending connection, so the waits are bounded by the same cap and deadline,
and a wait ends as soon as its connection is closed.

uvicorn has no header-read deadline, hence ``GuardedHttpProtocol`` (and, for a connection
upgraded to a WebSocket, ``GuardedWebSocketProtocol``): its protocols, telling the ``Listener``
(found in the server's app state, which uvicorn copies into every ASGI scope) when a connection
opens, answers and closes. The gate reaches the same ``Listener`` through the scope, and a
connection is named by its (server, client) addresses on both sides.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import resource
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any

from starlette.types import Message, Scope, Send
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol

log = logging.getLogger("ddbridge.listener")

STATE_KEY = "ddbridge.listener"
TOO_MANY_REQUESTS = 429

Address = tuple[Any, ...] | None  # (host, port); (path, None) on a unix socket
ConnectionKey = tuple[Address, Address]


@dataclass
class FailureThrottle:
    """How long a refusal waits before it is answered: a bucket of ``burst`` refusals answered
    at once, refilled at ``rate`` a second; past it each refusal queues behind the ones before
    (``1 / rate`` seconds each), so that all clients together get ``rate`` answers a second,
    and waits ``longest`` seconds at most. No I/O: ``now`` is given."""

    rate: float = 10.0
    burst: float = 30.0
    longest: float = 5.0
    _free: float = field(init=False)
    _last: float | None = field(default=None, init=False)

    def __post_init__(self) -> None:
        self._free = self.burst

    def refuse(self, now: float) -> float:
        """Count one refusal at ``now``; the seconds it waits (0: answered at once)."""
        if self._last is not None:
            self._free = min(self.burst, self._free + (now - self._last) * self.rate)
        self._last = now
        self._free = max(self._free - 1, -self.longest * self.rate)
        return 0.0 if self._free >= 0 else -self._free / self.rate

    def retry_after(self) -> int:
        """Whole seconds until a refusal is answered at once again (what ``Retry-After`` says)."""
        return max(1, math.ceil((1 - self._free) / self.rate))


@dataclass
class _Pending:
    transport: asyncio.BaseTransport
    deadline: asyncio.TimerHandle
    closed: asyncio.Event = field(default_factory=asyncio.Event)

    def close(self) -> None:
        self.deadline.cancel()
        self.closed.set()
        if not self.transport.is_closing():
            self.transport.close()


class Listener:
    """The pending connections of one server, their deadlines, and the refusal throttle."""

    def __init__(self, handshake_timeout: float, pending_limit: int) -> None:
        self.handshake_timeout = handshake_timeout
        self.pending_limit = pending_limit
        self.throttle = FailureThrottle()
        self.evicted = 0
        # Pending connections, oldest first, in two queues: when there is no room, those that
        # have not sent a whole request (idle, slow) are closed before those being answered, so
        # that a flood of the first kind cannot push out a page's request on its way to the gate.
        self._quiet: OrderedDict[ConnectionKey, _Pending] = OrderedDict()
        self._asking: OrderedDict[ConnectionKey, _Pending] = OrderedDict()

    def opened(self, key: ConnectionKey, transport: asyncio.BaseTransport) -> None:
        """A connection is pending from now: close the oldest pending one if there is no room."""
        stale = self._pop(key)
        if stale is not None:  # its address is reused: the old connection is gone
            stale.close()
        while len(self._quiet) + len(self._asking) >= self.pending_limit:
            _, oldest = (self._quiet or self._asking).popitem(last=False)
            oldest.close()
            self.evicted += 1
            if self.evicted == 1 or self.evicted % 1000 == 0:
                log.warning(
                    "closed %d connections that had not presented the token, oldest first "
                    "([server] pending_connections = %d)",
                    self.evicted,
                    self.pending_limit,
                )
        deadline = asyncio.get_running_loop().call_later(self.handshake_timeout, self._expire, key)
        self._quiet[key] = _Pending(transport, deadline)

    def asking(self, key: ConnectionKey) -> None:
        """A whole request (or WebSocket upgrade) arrived on a pending connection."""
        entry = self._quiet.pop(key, None)
        if entry is not None:
            self._asking[key] = entry

    def answered(self, key: ConnectionKey, transport: asyncio.BaseTransport) -> None:
        """An HTTP response went out: a credentialed connection is pending again (a fresh
        deadline for its next request); one that never was is idle again, its first deadline
        kept."""
        entry = self._asking.pop(key, None)
        if entry is not None:
            self._quiet[key] = entry
        elif key not in self._quiet:
            self.opened(key, transport)

    def closed(self, key: ConnectionKey, transport: asyncio.BaseTransport) -> None:
        entry = self._find(key)
        if entry is not None and entry.transport is transport:
            self._pop(key)
            entry.close()

    def credentialed(self, key: ConnectionKey) -> None:
        """The gate accepted a credential on this connection: no deadline, not counted."""
        entry = self._pop(key)
        if entry is not None:
            entry.deadline.cancel()

    async def refused(self, key: ConnectionKey, send: Send) -> Send:
        """Count a refusal; past the throttle's allowance wait (until the connection closes at
        most) and answer it 429 with ``Retry-After`` (a WebSocket: the close reason says so)."""
        wait = self.throttle.refuse(asyncio.get_running_loop().time())
        if not wait:
            return send
        retry_after = self.throttle.retry_after()
        entry = self._find(key)
        # A connection not pending has been signed in: it holds the token, no need to wait.
        if entry is not None:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(entry.closed.wait(), wait)
        return _throttled(send, retry_after)

    def _find(self, key: ConnectionKey) -> _Pending | None:
        entry = self._quiet.get(key)
        return entry if entry is not None else self._asking.get(key)

    def _pop(self, key: ConnectionKey) -> _Pending | None:
        entry = self._quiet.pop(key, None)
        return entry if entry is not None else self._asking.pop(key, None)

    def _expire(self, key: ConnectionKey) -> None:
        entry = self._pop(key)
        if entry is not None:
            entry.close()


def _throttled(send: Send, retry_after: int) -> Send:
    """``send`` with a refusal's answer turned into 429 + Retry-After (HTTP) or its close
    reason saying to wait (WebSocket, whose close code the shim reads stays)."""

    async def throttled(message: Message) -> None:
        if message["type"] == "http.response.start":
            headers = [*message.get("headers", ()), (b"retry-after", str(retry_after).encode())]
            message = {**message, "status": TOO_MANY_REQUESTS, "headers": headers}
        elif message["type"] == "websocket.close":
            reason = f"ddbridge: too many refused tokens; retry after {retry_after} s"
            message = {**message, "reason": reason}
        await send(message)

    return throttled


def _in_state(state: object) -> Listener | None:
    """The ``Listener`` the server put in its app state (uvicorn copies it into each scope)."""
    listener = state.get(STATE_KEY) if isinstance(state, dict) else None
    return listener if isinstance(listener, Listener) else None


def _key(scope: Scope) -> ConnectionKey:
    server, client = scope.get("server"), scope.get("client")
    return (tuple(server) if server else None, tuple(client) if client else None)


def credentialed(scope: Scope) -> None:
    """The gate let this request or WebSocket in on its credential (or none is needed)."""
    listener = _in_state(scope.get("state"))
    if listener is not None:
        listener.credentialed(_key(scope))


async def refused(scope: Scope, send: Send) -> Send:
    """The gate refuses this request or WebSocket for its credential: the ``send`` to answer
    it with, after the throttle's wait (see ``Listener.refused``)."""
    listener = _in_state(scope.get("state"))
    if listener is None:
        return send
    return await listener.refused(_key(scope), send)


class GuardedHttpProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol, reporting each connection to the server's ``Listener``."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.listener = _in_state(self.app_state)

    @property
    def _connection_key(self) -> ConnectionKey:
        return (self.server, self.client)

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        if self.listener is not None:
            self.listener.opened(self._connection_key, transport)

    def connection_lost(self, exc: Exception | None) -> None:
        if self.listener is not None:
            self.listener.closed(self._connection_key, self.transport)
        super().connection_lost(exc)

    def on_headers_complete(self) -> None:
        super().on_headers_complete()
        if self.listener is not None:
            self.listener.asking(self._connection_key)

    def on_response_complete(self) -> None:
        super().on_response_complete()
        if self.listener is not None and not self.transport.is_closing():
            self.listener.answered(self._connection_key, self.transport)


class GuardedWebSocketProtocol(WebSocketsSansIOProtocol):
    """uvicorn's WebSocket protocol, telling the ``Listener`` when an upgraded connection that
    never presented the token (refused, or gone before the gate saw it) closes."""

    def connection_lost(self, exc: Exception | None) -> None:
        listener = _in_state(self.app_state)
        if listener is not None:
            listener.closed((self.server, self.client), self.transport)
        super().connection_lost(exc)


def raise_descriptor_limit() -> None:
    """The soft limit on open files raised to the hard one: the caps above, not the default
    1024, should decide how many connections the daemon holds."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft == hard:
        log.debug("open files limit: %d (the hard limit already)", soft)
        return
    try:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    except (ValueError, OSError) as exc:  # an unlimited hard limit past the kernel's nr_open
        log.debug("open files limit stays %d: cannot raise it to %d (%s)", soft, hard, exc)
        return
    log.debug("open files limit raised from %d to %d", soft, hard)

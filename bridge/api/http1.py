"""A lean HTTP/1.1 transport for httpx: keep-alive connections over asyncio protocols, parsed by
httptools (llhttp, the parser uvicorn uses).

The service proxy sends small requests to one backend, one at a time per connection, and wants
each whole answer. httpcore's pool checks every pooled socket on every request and parses in
pure Python; aiohttp's client costs more per call than the whole exchange with nginx. This does
only what the proxy needs: a pool of idle connections (LIFO), one request in flight on each,
whole bodies, no redirects, no compression, no proxies, no TLS to a backend (http only).

A connection found closed while idle is dropped; a request whose reused connection closes before
any byte of an answer is sent again on a new one when its method is idempotent (the server may
have closed the idle connection just as the request went out, as keep-alive timeouts do).
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass, field
from typing import cast

import httptools
import httpx

IDEMPOTENT = frozenset({"GET", "HEAD", "PUT", "DELETE", "OPTIONS", "TRACE"})
MAX_IDLE = 64


class _ClosedBeforeAnswer(httpx.RemoteProtocolError):
    """The connection closed before any byte of the answer: on a reused connection, the server
    may have closed it as idle just as the request went out."""


@dataclass
class _Answer:
    status: int = 0
    reason: bytes = b""
    headers: list[tuple[bytes, bytes]] = field(default_factory=list)
    body: list[bytes] = field(default_factory=list)
    started: bool = False
    keep_alive: bool = False


class _Connection(asyncio.Protocol):
    """One keep-alive connection; ``exchange`` sends a request and waits for its whole answer."""

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.closed = False
        self._answer = _Answer()
        self._parser = httptools.HttpResponseParser(self)
        self._done: asyncio.Future[None] | None = None
        self._head_only = False

    # asyncio.Protocol

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's are not subclasses

    def data_received(self, data: bytes) -> None:
        if self._done is None or self._done.done():
            self._fail(httpx.RemoteProtocolError("the backend sent data no request asked for"))
            return
        self._answer.started = True
        try:
            self._parser.feed_data(data)
        except httptools.HttpParserUpgrade:
            self._fail(httpx.RemoteProtocolError("the backend switched protocols"))
        except httptools.HttpParserError as exc:
            self._fail(httpx.RemoteProtocolError(f"the backend's answer is not HTTP/1.1: {exc}"))

    def eof_received(self) -> bool | None:
        return False  # close: an answer must have ended by now

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        if self._done is not None and not self._done.done():
            if self._answer.started:
                self._done.set_exception(
                    httpx.RemoteProtocolError("the backend closed the connection in the middle of its answer")
                )
            else:
                self._done.set_exception(
                    _ClosedBeforeAnswer("the backend closed the connection before answering")
                )

    # httptools callbacks

    def on_status(self, status: bytes) -> None:
        self._answer.reason += status

    def on_header(self, name: bytes, value: bytes) -> None:
        self._answer.headers.append((name, value))

    def on_headers_complete(self) -> None:
        self._answer.status = self._parser.get_status_code()
        # Asked here: once the message is complete, the parser has moved on and says no.
        self._answer.keep_alive = self._parser.should_keep_alive()
        if self._head_only:  # the parser cannot know that a HEAD answer has no body
            self._finish()

    def on_body(self, body: bytes) -> None:
        self._answer.body.append(body)

    def on_message_complete(self) -> None:
        self._finish()

    # the exchange

    def _finish(self) -> None:
        if self._done is not None and not self._done.done():
            self._done.set_result(None)

    def _fail(self, error: Exception) -> None:
        if self._done is not None and not self._done.done():
            self._done.set_exception(error)
        self.close()

    async def exchange(self, head: bytes, body: bytes, head_only: bool) -> _Answer:
        assert self.transport is not None
        self._answer = _Answer()
        self._parser = httptools.HttpResponseParser(self)
        self._head_only = head_only
        self._done = asyncio.get_running_loop().create_future()
        self.transport.writelines((head, body))
        await self._done
        if not self._answer.keep_alive or head_only:
            self.close()
        return self._answer

    def close(self) -> None:
        self.closed = True
        if self.transport is not None:
            self.transport.close()


class Http1Transport(httpx.AsyncBaseTransport):
    """Sends httpx requests over HTTP/1.1 keep-alive connections to one backend: a unix socket
    when ``uds`` is set, else the request URL's host and port."""

    def __init__(self, uds: str | None = None) -> None:
        self._uds = uds
        self._idle: list[_Connection] = []

    async def _connect(self, url: httpx.URL, timeout: float | None) -> _Connection:
        loop = asyncio.get_running_loop()
        async with asyncio.timeout(timeout):
            if self._uds is not None:
                _, connection = await loop.create_unix_connection(_Connection, self._uds)
            else:
                port = url.port or (443 if url.scheme == "https" else 80)
                _, connection = await loop.create_connection(_Connection, url.host, port)
        return connection

    def _idle_connection(self) -> _Connection | None:
        while self._idle:
            connection = self._idle.pop()
            if not connection.closed:
                return connection
        return None

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if request.url.scheme != "http":
            raise httpx.UnsupportedProtocol(f"only http:// backends are supported, not {request.url}")
        timeout = request.extensions.get("timeout", {})
        body = await request.aread()
        head = _request_head(request)
        reused = self._idle_connection()
        try:
            answer, connection = await self._send(request, head, body, reused, timeout)
        except _ClosedBeforeAnswer:
            if reused is None or request.method not in IDEMPOTENT:
                raise
            answer, connection = await self._send(request, head, body, None, timeout)
        if not connection.closed and len(self._idle) < MAX_IDLE:
            self._idle.append(connection)
        elif not connection.closed:
            connection.close()
        return httpx.Response(
            answer.status,
            headers=answer.headers,
            content=b"".join(answer.body),
            request=request,
            extensions={"http_version": b"HTTP/1.1", "reason_phrase": answer.reason},
        )

    async def _send(
        self,
        request: httpx.Request,
        head: bytes,
        body: bytes,
        connection: _Connection | None,
        timeout: dict[str, float | None],
    ) -> tuple[_Answer, _Connection]:
        try:
            if connection is None:
                connection = await self._connect(request.url, timeout.get("connect"))
        except TimeoutError as exc:
            raise httpx.ConnectTimeout("timed out connecting to the backend", request=request) from exc
        except OSError as exc:
            raise httpx.ConnectError(exc.strerror or str(exc), request=request) from exc
        try:
            async with asyncio.timeout(timeout.get("read")):
                answer = await connection.exchange(head, body, request.method == "HEAD")
        except TimeoutError as exc:
            connection.close()
            raise httpx.ReadTimeout("timed out waiting for the backend's answer", request=request) from exc
        except httpx.RemoteProtocolError as exc:
            connection.close()
            exc.request = request
            raise
        except BaseException:
            connection.close()
            raise
        return answer, connection

    async def aclose(self) -> None:
        for connection in self._idle:
            with contextlib.suppress(Exception):
                connection.close()
        self._idle.clear()


def _request_head(request: httpx.Request) -> bytes:
    """The request line and headers (httpx has set Host and Content-Length)."""
    lines = [b"%s %s HTTP/1.1" % (request.method.encode("ascii"), request.url.raw_path)]
    lines.extend(name + b": " + value for name, value in request.headers.raw)
    return b"\r\n".join(lines) + b"\r\n\r\n"

"""A lean HTTP/1.1 client transport: keep-alive connections over asyncio protocols, parsed by
httptools (llhttp, the parser uvicorn uses).

The service proxy sends small requests to one backend, one at a time per connection, and wants
each whole answer. httpcore's pool checks every pooled socket on every request and parses in
pure Python; aiohttp's client costs more per call than the whole exchange with nginx; and
building ``httpx.URL``/``httpx.Request``/``httpx.Response`` for each call took a third of its
time. So the proxy calls ``Http1Transport.send`` with the request line's parts and gets an
``Answer``; ``handle_async_request`` makes the same transport an httpx transport
(``httpx.AsyncClient(transport=Http1Transport(uds=...))``). It does only what the proxy needs:
a pool of idle connections per address (LIFO), one request in flight on each, whole bodies, no
redirects, no compression, no proxies, no TLS to a backend (http only).

A connection found closed while idle is dropped; a request whose reused connection closes before
any byte of an answer is sent again on a new one when its method is idempotent (the server may
have closed the idle connection just as the request went out, as keep-alive timeouts do).

A pooled connection carries one caller's request after another's, so its framing must never be
in doubt, or one caller's answer becomes the next one's (request smuggling). The transport frames
requests itself and drops a caller's hop-by-hop and framing headers (``HOP_BY_HOP``);
informational answers (``100 Continue``, ``103 Early Hints``) are skipped on the way to the final
one, ``101 Switching Protocols`` fails the request; and a connection is closed rather than
reused when its answer's framing is ambiguous (llhttp refuses Content-Length with
Transfer-Encoding, and duplicate Content-Lengths), when an answer to HEAD may carry a body, or
when any byte comes past the end of an answer.
"""

from __future__ import annotations

import asyncio
import codecs
import contextlib
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import cast

import httptools
import httpx

from bridge.buffers import body_buffer

IDEMPOTENT = frozenset({"GET", "HEAD", "PUT", "DELETE", "OPTIONS", "TRACE"})
MAX_IDLE = 64  # idle connections kept per backend address
# Framing and the connection are the transport's: a caller's own Content-Length or
# Transfer-Encoding could disagree with the body, "Connection: close" or "Upgrade" would end or
# switch the pooled connection, "Expect: 100-continue" draws an extra answer, TE and Trailer ask
# for trailers after a chunked body. None of them is sent (RFC 9110 7.6.1: a proxy drops
# hop-by-hop fields); the body is always sent at once with its length.
HOP_BY_HOP = frozenset(
    {
        b"content-length",
        b"transfer-encoding",
        b"connection",
        b"keep-alive",
        b"proxy-connection",
        b"upgrade",
        b"te",
        b"trailer",
        b"expect",
    }
)
# With a body, or a method that normally has one, the length goes out even when zero.
LENGTH_ALWAYS = frozenset({"POST", "PUT", "PATCH"})

# A body from this size on is written after the head, not joined to it (one write either way).
JOIN_BELOW = 64 * 1024
# An answer's body of a declared length from this size on is read into one buffer.
READ_WHOLE_FROM = 64 * 1024
Address = tuple[str, int]  # host and port (unused with a unix socket)
Body = bytes | bytearray | memoryview  # a request's body: a long one may view the frame it came in
# Told the size of each piece of an answer (status line, headers, body, as received) before it
# is parsed and kept; whatever it raises ends the exchange and drops the connection.
Take = Callable[[int], None]


class _ClosedBeforeAnswer(httpx.RemoteProtocolError):
    """The connection closed before any byte of the answer: on a reused connection, the server
    may have closed it as idle just as the request went out."""


@dataclass(frozen=True, slots=True)
class Timeouts:
    connect: float | None
    read: float | None


@dataclass(slots=True)
class Answer:
    """A backend's answer as it is parsed: status, reason phrase, raw headers, body parts."""

    status: int = 0
    reason: bytes = b""
    headers: list[tuple[bytes, bytes]] = field(default_factory=list)
    body: list[bytes] = field(default_factory=list)
    started: bool = False
    keep_alive: bool = False
    whole: bytearray | memoryview | None = None  # a long body of a declared length (``expect``)
    filled: int = 0  # bytes of it read

    @property
    def is_success(self) -> bool:
        return 200 <= self.status < 300

    def expect(self, length: int) -> None:
        """Read the body, of ``length`` bytes, into one buffer of that size as it comes: its
        parts joined at the end held a 16 MiB answer twice. A big one is a mapping of its own
        (``bridge.buffers``)."""
        self.whole = body_buffer(length)

    def add_body(self, piece: bytes) -> None:
        if self.whole is None:
            self.body.append(piece)
            return
        end = self.filled + len(piece)  # never past the length: the parser frames the body by it
        self.whole[self.filled : end] = piece
        self.filled = end

    @property
    def content(self) -> Body:
        """The body in one piece, joined once: the parts are let go (a big answer is not held
        twice, nor joined again for ``text``)."""
        if self.whole is not None:
            return self.whole
        if len(self.body) != 1:
            self.body[:] = [b"".join(self.body)]
        return self.body[0]

    @property
    def reason_phrase(self) -> str:
        if self.reason:
            return self.reason.decode("latin-1")
        try:
            return HTTPStatus(self.status).phrase
        except ValueError:
            return ""

    def header(self, name: bytes) -> bytes | None:
        """The first value of header ``name`` (lower case)."""
        return next((value for key, value in self.headers if key.lower() == name), None)

    @property
    def text(self) -> str:
        """The body decoded with the Content-Type's charset, else UTF-8 (as httpx does)."""
        encoding = "utf-8"
        content_type = self.header(b"content-type")
        if content_type is not None:
            charset = re.search(rb";\s*charset=[\"']?([\w.:-]+)", content_type, re.IGNORECASE)
            if charset is not None:
                with contextlib.suppress(LookupError):
                    encoding = codecs.lookup(charset[1].decode("ascii")).name
        return str(self.content, encoding, "replace")


# What an idle connection's parser would fill: nothing, as a byte an idle connection receives
# fails it before the parser sees it (``data_received``), and an answer's end replaces it.
_IDLE = Answer()


class _Connection(asyncio.Protocol):
    """One keep-alive connection; ``exchange`` sends a request and waits for its whole answer."""

    def __init__(self) -> None:
        # Asked once: asyncio.get_running_loop() checks getpid(), a system call, each time
        # (three of them a call were 6% of the daemon's CPU per service call).
        self._loop = asyncio.get_running_loop()
        self.transport: asyncio.Transport | None = None
        self.closed = False
        self._answer = Answer()
        self._parser = httptools.HttpResponseParser(self)
        self._done: asyncio.Future[None] | None = None
        self._head_only = False
        self._take: Take | None = None

    # asyncio.Protocol

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's are not subclasses

    def data_received(self, data: bytes) -> None:
        if self._done is None or self._done.done():
            self._fail(httpx.RemoteProtocolError("the backend sent data no request asked for"))
            return
        self._answer.started = True
        if self._take is not None and self._answer.whole is None:  # a whole one was taken at once
            try:
                self._take(len(data))
            except Exception as exc:
                self._fail(exc)
                return
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

    def on_message_begin(self) -> None:
        if self._done is not None and self._done.done():
            # A second answer to one request, in the bytes that ended the first: where the
            # backend's answers begin and end is in doubt, and none of it is the caller's.
            self._answer = Answer()
            self.close()

    def on_status(self, status: bytes) -> None:
        self._answer.reason += status

    def on_header(self, name: bytes, value: bytes) -> None:
        self._answer.headers.append((name, value))

    def on_headers_complete(self) -> None:
        status = self._answer.status = self._parser.get_status_code()
        if status == 101:
            self._fail(
                httpx.RemoteProtocolError(
                    "the backend answered 101 Switching Protocols; a service call takes an HTTP answer"
                )
            )
            return
        # Asked here: once the message is complete, the parser has moved on and says no.
        self._answer.keep_alive = self._parser.should_keep_alive()
        if self._head_only and status >= 200:  # the parser cannot know that a HEAD answer has no body
            self._finish()
            self._answer = Answer()  # a body the backend may send anyway goes nowhere
            return
        length = self._answer.header(b"content-length")  # the parser refused a doubtful one
        if length is not None and int(length) >= READ_WHOLE_FROM and status >= 200:
            self._expect(int(length))

    def _expect(self, length: int) -> None:
        """Take the whole body's ``length`` from ``take`` before its buffer is made (its bytes
        are not told again as they come), so that no buffer is made for more than ``take``
        lets the answer hold."""
        if self._take is not None:
            try:
                self._take(length)
            except Exception as exc:
                self._fail(exc)
                return
        self._answer.expect(length)

    def on_body(self, body: bytes) -> None:
        self._answer.add_body(body)

    def on_message_complete(self) -> None:
        answer = self._answer
        if 100 <= answer.status < 200:  # informational: the final answer is still to come
            answer.status, answer.reason, answer.headers = 0, b"", []
            return
        self._finish()

    # the exchange

    def _finish(self) -> None:
        if self._done is not None and not self._done.done():
            self._done.set_result(None)

    def _fail(self, error: Exception) -> None:
        if self._done is not None and not self._done.done():
            self._done.set_exception(error)
        self.close()

    async def exchange(
        self,
        head: bytes,
        body: Body,
        head_only: bool,
        take: Take | None,
        timeout: float | None,
        *,
        burst: bool = False,
    ) -> Answer:
        """Send a request and wait for its whole answer, at most ``timeout`` seconds
        (``TimeoutError``). With ``burst`` the request is written at the end of this pass of
        the loop, with the other requests the pass makes (``Http1Transport.send``)."""
        assert self.transport is not None
        answer = self._answer = Answer()
        self._parser = httptools.HttpResponseParser(self)
        self._head_only = head_only
        self._take = take
        done = self._done = self._loop.create_future()
        if burst:
            self._loop.call_soon(self._write, head, body)
        else:
            self._write(head, body)
        timer = None if timeout is None else self._loop.call_later(timeout, self._fail, TimeoutError())
        try:
            await done
        finally:
            if timer is not None:
                timer.cancel()
            # Let go of the answer: a pooled connection held the last one it carried, a 16 MiB
            # body for as long as the connection stayed idle.
            self._answer, self._take = _IDLE, None
        if not answer.keep_alive or head_only:
            self.close()
        return answer

    def _write(self, head: bytes, body: Body) -> None:
        if self.closed or self.transport is None:  # closed while a burst's write waited: it failed
            return
        if len(body) < JOIN_BELOW:
            self.transport.write(head + body)
        else:  # not copied into one more buffer of its size
            self.transport.writelines((head, body))

    def close(self) -> None:
        self.closed = True
        if self.transport is not None:
            self.transport.close()


class Http1Transport(httpx.AsyncBaseTransport):
    """HTTP/1.1 keep-alive connections to a unix socket when ``uds`` is set, else to each
    request's host and port (idle connections are pooled per address).

    A request sent while others wait for their answers is written at the end of the loop's
    pass, with the rest of the burst: a page's calls come many to a frame or a read, and each
    write that finds the backend asleep pays for waking it (the kernel's wake-up, charged to the
    writer). Written as each call was handled, ~30 µs of Python apart, every one of 64 calls in
    flight woke nginx, and that write was a fifth of the daemon's CPU per call (py-spy with
    native frames); back to back, the first wakes it and the rest find it working. A request
    alone is written at once: waiting for the pass would only add to its latency."""

    def __init__(self, uds: str | None = None) -> None:
        self._uds = uds
        self._idle: dict[Address | None, list[_Connection]] = {}
        self._in_flight = 0  # requests sent and not yet answered

    async def send(
        self,
        method: str,
        target: bytes,
        headers: Iterable[tuple[bytes, bytes]],
        body: Body,
        *,
        address: Address,
        timeouts: Timeouts,
        take: Take | None = None,
    ) -> Answer:
        """Send ``method target`` with ``headers`` (Host among them; the ``HOP_BY_HOP`` ones are
        dropped and the body's length is sent) and return the whole answer. ``take`` is told the
        size of each piece of the answer before it is kept (``Take``).

        Raises httpx's errors: ``ConnectError``, ``ConnectTimeout``, ``ReadTimeout``,
        ``RemoteProtocolError``; and whatever ``take`` raises."""
        head = _request_head(method, target, headers, body)
        key = None if self._uds is not None else address
        reused = self._idle_connection(key)
        burst = self._in_flight > 0
        self._in_flight += 1
        try:
            answer, connection = await self._send(method, head, body, reused, address, timeouts, take, burst)
        except _ClosedBeforeAnswer:
            if reused is None or method not in IDEMPOTENT:
                raise
            answer, connection = await self._send(method, head, body, None, address, timeouts, take, burst)
        finally:
            self._in_flight -= 1
        idle = self._idle.setdefault(key, [])
        if not connection.closed and len(idle) < MAX_IDLE:
            idle.append(connection)
        elif not connection.closed:
            connection.close()
        return answer

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        """The httpx face of ``send``."""
        url = request.url
        if url.scheme != "http":
            raise httpx.UnsupportedProtocol(f"only http:// backends are supported, not {url}")
        timeout = request.extensions.get("timeout", {})
        try:
            answer = await self.send(
                request.method,
                url.raw_path,
                request.headers.raw,
                await request.aread(),
                address=(url.host, url.port or 80),
                timeouts=Timeouts(timeout.get("connect"), timeout.get("read")),
            )
        except httpx.RequestError as exc:
            exc.request = request
            raise
        return httpx.Response(
            answer.status,
            headers=answer.headers,
            content=bytes(answer.content),
            request=request,
            extensions={"http_version": b"HTTP/1.1", "reason_phrase": answer.reason},
        )

    def _idle_connection(self, key: Address | None) -> _Connection | None:
        idle = self._idle.get(key)
        while idle:
            connection = idle.pop()
            if not connection.closed:
                return connection
        return None

    async def _connect(self, address: Address, timeout: float | None) -> _Connection:
        loop = asyncio.get_running_loop()
        async with asyncio.timeout(timeout):
            if self._uds is not None:
                _, connection = await loop.create_unix_connection(_Connection, self._uds)
            else:
                _, connection = await loop.create_connection(_Connection, *address)
        return connection

    async def _send(
        self,
        method: str,
        head: bytes,
        body: Body,
        connection: _Connection | None,
        address: Address,
        timeouts: Timeouts,
        take: Take | None,
        burst: bool,
    ) -> tuple[Answer, _Connection]:
        try:
            if connection is None:
                connection = await self._connect(address, timeouts.connect)
        except TimeoutError as exc:
            raise httpx.ConnectTimeout("timed out connecting to the backend") from exc
        except OSError as exc:
            raise httpx.ConnectError(exc.strerror or str(exc)) from exc
        try:
            answer = await connection.exchange(head, body, method == "HEAD", take, timeouts.read, burst=burst)
        except TimeoutError as exc:
            connection.close()
            raise httpx.ReadTimeout("timed out waiting for the backend's answer") from exc
        except BaseException:
            connection.close()
            raise
        return answer, connection

    async def aclose(self) -> None:
        for idle in self._idle.values():
            for connection in idle:
                with contextlib.suppress(Exception):
                    connection.close()
        self._idle.clear()


def _request_head(method: str, target: bytes, headers: Iterable[tuple[bytes, bytes]], body: Body) -> bytes:
    """The request line and headers, without the hop-by-hop ones, framed by the body's length."""
    lines = [b"%s %s HTTP/1.1" % (method.encode("ascii"), target)]
    lines.extend(name + b": " + value for name, value in headers if name.lower() not in HOP_BY_HOP)
    if body or method in LENGTH_ALWAYS:
        lines.append(b"content-length: %d" % len(body))
    lines.append(b"\r\n")
    return b"\r\n".join(lines)

"""The extension backend's HTTP side of ``service.request``: where a page's URL goes, and the
exchange with the backend through a lean HTTP/1.1 transport (``bridge.http1``).

A page's path stays below the backend's base path (``--backend-url http://host/api/``): its dot
segments are resolved as if the base were the root, and a path holding a dot segment that some
server would still see (percent-encoded, behind a backslash or an encoded slash, with ``;``
parameters) is refused. The Host header is the proxy's; framing and hop-by-hop headers are the
transport's. An answer's bytes count against ``[backend] max_answer`` and the daemon's memory
budget as they arrive. Object data goes as JSON, string data as is; a 2xx body comes back parsed
when it is JSON (UTF-8, as RFC 8259 has it), else as text; anything else is a ServiceError
carrying the status, the reason phrase and the body.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote_to_bytes

import httpx

from bridge.budget import Hold
from bridge.config import BackendSettings
from bridge.errors import Forbidden, InvalidParams, NotConfigured, ServiceError
from bridge.http1 import Address, Answer, Body, Http1Transport, Timeouts
from bridge.rpc import RawJson, dumps, loads, raw_json

# A path (and query) that goes on the request line as it is: what httpx.URL would leave
# untouched, with no segment that begins with a dot however a server splits and decodes it
# (no "/.", no %2E, %2F, %5C or %25). Anything else (dot segments, characters to
# percent-encode, "//host", a scheme) is parsed by httpx.URL and checked by _dot_segment.
PLAIN_PATH = re.compile(
    r"/(?!/)(?:[A-Za-z0-9\-_~!$&'()*+,;=:@/?]|\.(?<!/\.)|%(?!2[5EeFf]|5[Cc])[0-9A-Fa-f]{2})*"
)
# Where some server ends a path segment, once it has percent-decoded the path (nginx decodes
# before it resolves dot segments, IIS decodes twice): "/" and a backslash (Windows, WHATWG URLs).
SEGMENT_END = re.compile(rb"[/\\]")
# What some servers cut off a segment before reading it: ";" parameters (Tomcat reads "..;x" as
# ".."), and a NUL (C strings).
SEGMENT_TAIL = re.compile(rb"[;\x00].*", re.DOTALL)
DOT_SEGMENTS = frozenset({b".", b".."})
ROOT = "http://localhost/"  # where a page's relative URL is resolved before it goes below the base
ANSWER_JSON_SLACK = 64  # quotes and a few escapes beyond the body's own bytes


@dataclass(frozen=True, slots=True)
class Target:
    """Where a service call goes: the address to connect to, the request line's target and the
    Host header; ``shown`` is how messages name it."""

    address: Address
    path: bytes
    host: bytes
    shown: str


class ServiceProxy:
    """Requests to the extension backend (unix socket or base URL) through a pooled HTTP/1.1
    transport, built from the call's parts.

    Not through ``httpx.AsyncClient``: its layer (URL merging, cookie jar, auth and redirect
    loops) cost more per call than the whole HTTP exchange, and a proxy wants none of it —
    redirects and cookies are the page's business, as they are in Docker Desktop. Nor through
    ``httpx.Request``/``httpx.Response``: parsing the URL and building the two took a third of
    a call's time; a plain path is joined to the base path as it is.
    """

    def __init__(self, settings: BackendSettings) -> None:
        self._settings = settings
        self._transport: Http1Transport | None = None
        self._timeouts = Timeouts(settings.timeout, settings.timeout)
        if settings.socket is not None:
            self.where = f"unix socket {settings.socket}"
            self._transport = Http1Transport(uds=str(settings.socket))
            base = httpx.URL("http://localhost/")
        elif settings.url is not None:
            self.where = settings.url
            self._transport = Http1Transport()
            base = httpx.URL(settings.url.rstrip("/") + "/")
        else:
            self.where = "(none)"
            base = httpx.URL("http://localhost/")
        self._base_path = base.raw_path.split(b"?")[0]
        self._backend = _address(base), base.netloc

    async def aclose(self) -> None:
        if self._transport is not None:
            await self._transport.aclose()

    def target(self, url: str) -> Target:
        """Where a service call's ``url`` (a path and query below the backend's base) goes."""
        address, host = self._backend
        if PLAIN_PATH.fullmatch(url):
            return Target(address, self._base_path + url[1:].encode("ascii"), host, url)
        try:
            parsed = httpx.URL(url)
            if parsed.scheme or parsed.host:
                if not self._settings.allow_absolute_urls:
                    raise Forbidden(
                        f"service URL {url!r} is absolute; service calls go to the extension backend "
                        "with a path like '/items' (set [backend] allow_absolute_urls to allow others)"
                    )
                if parsed.scheme != "http":
                    raise InvalidParams(
                        f"service URL {url!r} is not http://: only http backends are supported", field="url"
                    )
                return Target(_address(parsed), parsed.raw_path, parsed.netloc, url)
            resolved = httpx.URL(ROOT + url.lstrip("/")).raw_path
        except httpx.InvalidURL as exc:
            raise InvalidParams(f"service URL {url!r} is not a URL: {exc}", field="url") from exc
        if _dot_segment(resolved.split(b"?", 1)[0]):
            raise InvalidParams(
                f"service URL {url!r} holds a dot segment in disguise (percent-encoded, after a "
                "backslash or an encoded slash, or with ';' parameters), which a server could "
                f"resolve above the backend's base path {self._base_path.decode('ascii')}",
                field="url",
            )
        return Target(address, self._base_path + resolved[1:], host, "/" + url.lstrip("/"))

    async def request(
        self, method: str, url: str, page_headers: dict[str, str], data: Any, hold: Hold
    ) -> Any:
        """The backend's answer to a page's call (``url`` below the base, its ``page_headers``
        and ``data``), its bytes taken from ``hold`` (the daemon's memory budget) as they arrive;
        the caller gives them back once the reply has gone out."""
        if self._transport is None:
            raise NotConfigured(
                "no extension backend is configured: start ddbridge with --backend-socket PATH "
                "or --backend-url URL",
                setting="backend",
            )
        method = method.upper()
        target = self.target(url)
        # The Host is the backend's: a page's own could pick another virtual host of the
        # server behind the base URL.
        headers = [(b"host", target.host)]
        headers.extend(
            (name.lower().encode("latin-1"), value.encode("latin-1"))
            for name, value in page_headers.items()
            if name.lower() != "host"
        )
        body, is_json = _request_body(data)
        if is_json and b"content-type" not in {name for name, _ in headers}:
            headers.append((b"content-type", b"application/json"))
        answer = await self._send(method, target, headers, body, hold)
        if not answer.is_success:
            raise ServiceError(answer.status, answer.reason_phrase, answer.text)
        # What the reply's JSON will take, for the connection to reserve before it encodes:
        # about the body's size (JSON re-encoded, or text with few escapes), three times it
        # escaped to ASCII; an answer past that is taken when it shows (Session._encode).
        hold.json_utf8 += len(answer.content) + ANSWER_JSON_SLACK
        hold.json_ascii += 3 * len(answer.content) + ANSWER_JSON_SLACK
        return _body(answer)

    async def _send(
        self, method: str, target: Target, headers: list[tuple[bytes, bytes]], body: Body, hold: Hold
    ) -> Answer:
        """The backend's answer, its bytes held in ``hold`` as they arrive and refused past
        ``[backend] max_answer`` (the transport then drops the connection)."""
        assert self._transport is not None
        limit = self._settings.max_answer

        def take(size: int) -> None:
            if hold.size + size > limit:
                raise ServiceError(
                    502,
                    "Bad Gateway",
                    f"the extension backend's answer to {method} {target.shown} is larger than "
                    f"{limit} bytes ([backend] max_answer); it was dropped",
                )
            hold.add(size)

        try:
            return await self._transport.send(
                method, target.path, headers, body, address=target.address, timeouts=self._timeouts, take=take
            )
        except httpx.TimeoutException as exc:
            raise ServiceError(
                504,
                "Gateway Timeout",
                f"the extension backend at {self.where} did not answer {method} {target.shown} "
                f"within {self._settings.timeout:g} s",
            ) from exc
        except httpx.HTTPError as exc:
            raise ServiceError(
                502, "Bad Gateway", f"cannot reach the extension backend at {self.where}: {exc}"
            ) from exc


def _request_body(data: Any) -> tuple[Body, bool]:
    """A page's ``data`` as the request's body, and whether it is JSON: a string as its UTF-8,
    anything else as JSON. A long value comes as the frame's text (``RawJson``) and goes as it
    came: a string's own bytes when it holds no escape, JSON as the page wrote it; neither is
    copied."""
    if isinstance(data, RawJson):
        utf8 = data.string_utf8()
        if utf8 is not None:
            return utf8, False
        if data.text[:1] != b'"':
            return data.text, True
        data = data.value()
    if isinstance(data, str):
        return data.encode(), False
    if data is None:
        return b"", False
    return dumps(data), True


def _dot_segment(path: bytes) -> bool:
    """Whether some server would read a dot segment in ``path`` (a raw path whose plain dot
    segments are already resolved): after percent-decoding it as often as it decodes, splitting
    it at slashes and backslashes and cutting each segment's tail (``SEGMENT_TAIL``)."""
    while (decoded := unquote_to_bytes(path)) != path:
        path = decoded
    return any(SEGMENT_TAIL.sub(b"", segment) in DOT_SEGMENTS for segment in SEGMENT_END.split(path))


def _address(url: httpx.URL) -> Address:
    return url.host, url.port or 80


def _body(answer: Answer) -> RawJson | Any:
    """A 2xx body: JSON when it is JSON (as its own text when it is strict JSON), else text."""
    checked = raw_json(answer.content)
    if checked is not None:
        return checked
    try:
        return loads(answer.content)
    except ValueError:
        return answer.text

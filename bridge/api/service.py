"""``service.request``: ddClient's HTTP calls to the extension backend, as ``httpx.Request``s
sent through a lean HTTP/1.1 transport (``bridge.api.http1``).

Serves v0 ``backend.get/post/put/patch/delete/head/request`` and v1
``extension.vm.service.*``. Semantics follow Docker Desktop: object data goes as JSON, string
data as is; a 2xx body comes back parsed when it is JSON (UTF-8, as RFC 8259 has it), else as
text; anything else rejects with a ServiceError carrying the status, the reason phrase and the
body.
"""

from __future__ import annotations

import logging
import re
from typing import TYPE_CHECKING, Any

import httpx
from pydantic import Field, field_validator

from bridge.api.http1 import Http1Transport
from bridge.api.models import Params
from bridge.config import BackendSettings
from bridge.errors import Forbidden, InvalidParams, NotConfigured, ServiceError
from bridge.rpc import MethodRouter, loads

if TYPE_CHECKING:
    from bridge.connection import Session

log = logging.getLogger("ddbridge.service")

router = MethodRouter("service")


# RFC 9110: a field name is a token; a value has no control characters but tab, and its
# surrounding whitespace is not part of it.
HEADER_NAME = re.compile(r"^[!#$%&'*+.^_`|~0-9A-Za-z-]+$")
CONTROL = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")


class ServiceRequest(Params):
    method: str = Field(pattern=r"^[A-Za-z]+$")
    url: str
    headers: dict[str, str] = Field(default_factory=dict)
    data: Any = None

    @field_validator("url")
    @classmethod
    def _url_is_text(cls, url: str) -> str:
        if CONTROL.search(url):
            raise ValueError("the URL holds control characters")
        return url

    @field_validator("headers")
    @classmethod
    def _headers_are_http(cls, headers: dict[str, str]) -> dict[str, str]:
        for name, value in headers.items():
            if not HEADER_NAME.match(name):
                raise ValueError(f"{name!r} is not an HTTP header name")
            if CONTROL.search(value):
                raise ValueError(f"the value of header {name!r} holds control characters")
        return {name: value.strip(" \t") for name, value in headers.items()}


class ServiceProxy:
    """Requests to the extension backend (unix socket or base URL), as ``httpx.Request``s sent
    straight through a pooled transport.

    Not through ``httpx.AsyncClient``: its layer (URL merging, cookie jar, auth and redirect
    loops) cost more per call than the whole HTTP exchange, and a proxy wants none of it —
    redirects and cookies are the page's business, as they are in Docker Desktop.
    """

    def __init__(self, settings: BackendSettings) -> None:
        self._settings = settings
        self._transport: httpx.AsyncBaseTransport | None = None
        self._timeout = httpx.Timeout(settings.timeout).as_dict()
        if settings.socket is not None:
            self.where = f"unix socket {settings.socket}"
            self._transport = Http1Transport(uds=str(settings.socket))
            self._base = "http://localhost/"
        elif settings.url is not None:
            self.where = settings.url
            self._transport = Http1Transport()
            self._base = settings.url.rstrip("/") + "/"
        else:
            self.where = "(none)"
            self._base = ""

    async def aclose(self) -> None:
        if self._transport is not None:
            await self._transport.aclose()

    def _target(self, url: str) -> tuple[httpx.URL, str]:
        """The URL a service call's ``url`` names (a path and query below the backend's base),
        and how messages show it."""
        try:
            parsed = httpx.URL(url)
            if parsed.scheme or parsed.host:
                if not self._settings.allow_absolute_urls:
                    raise Forbidden(
                        f"service URL {url!r} is absolute; service calls go to the extension backend "
                        "with a path like '/items' (set [backend] allow_absolute_urls to allow others)"
                    )
                return parsed, url
            return httpx.URL(self._base + url.lstrip("/")), "/" + url.lstrip("/")
        except httpx.InvalidURL as exc:
            raise InvalidParams(f"service URL {url!r} is not a URL: {exc}", field="url") from exc

    async def request(self, params: ServiceRequest) -> Any:
        if self._transport is None:
            raise NotConfigured(
                "no extension backend is configured: start ddbridge with --backend-socket PATH "
                "or --backend-url URL",
                setting="backend",
            )
        method = params.method.upper()
        url, target = self._target(params.url)
        body: dict[str, Any] = {}
        if isinstance(params.data, str):
            body["content"] = params.data.encode()
        elif params.data is not None:
            body["json"] = params.data
        request = httpx.Request(
            method, url, headers=params.headers, extensions={"timeout": self._timeout}, **body
        )
        try:
            response = await self._transport.handle_async_request(request)
        except httpx.TimeoutException as exc:
            raise ServiceError(
                504,
                "Gateway Timeout",
                f"the extension backend at {self.where} did not answer {method} {target} "
                f"within {self._settings.timeout:g} s",
            ) from exc
        except httpx.HTTPError as exc:
            raise ServiceError(
                502, "Bad Gateway", f"cannot reach the extension backend at {self.where}: {exc}"
            ) from exc
        if not response.is_success:
            raise ServiceError(response.status_code, response.reason_phrase, response.text)
        try:
            return loads(response.content)
        except ValueError:
            return response.text


@router.method("request")
async def request(params: ServiceRequest, session: Session) -> Any:
    return await session.bridge.service.request(params)

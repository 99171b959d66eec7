"""``service.request``: ddClient's HTTP calls to the extension backend, proxied with httpx
over aiohttp (``AiohttpTransport``: httpcore's pool and parser cost three times as much).

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

from bridge.api.aiohttp_transport import AiohttpTransport
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
    """A pooled httpx client bound to the extension backend (unix socket or base URL)."""

    def __init__(self, settings: BackendSettings) -> None:
        self._settings = settings
        self._client: httpx.AsyncClient | None = None
        timeout = httpx.Timeout(settings.timeout)
        if settings.socket is not None:
            self.where = f"unix socket {settings.socket}"
            transport = AiohttpTransport(uds=str(settings.socket))
            self._client = httpx.AsyncClient(
                transport=transport, base_url="http://localhost", timeout=timeout
            )
        elif settings.url is not None:
            self.where = settings.url
            self._client = httpx.AsyncClient(
                transport=AiohttpTransport(), base_url=settings.url, timeout=timeout
            )
        else:
            self.where = "(none)"

    async def aclose(self) -> None:
        if self._client is not None:
            await self._client.aclose()

    def _target(self, url: str) -> str:
        try:
            parsed = httpx.URL(url)
        except httpx.InvalidURL as exc:
            raise InvalidParams(f"service URL {url!r} is not a URL: {exc}", field="url") from exc
        if parsed.scheme or parsed.host:
            if not self._settings.allow_absolute_urls:
                raise Forbidden(
                    f"service URL {url!r} is absolute; service calls go to the extension backend "
                    "with a path like '/items' (set [backend] allow_absolute_urls to allow others)"
                )
            return url
        return url if url.startswith("/") else f"/{url}"

    async def request(self, params: ServiceRequest) -> Any:
        if self._client is None:
            raise NotConfigured(
                "no extension backend is configured: start ddbridge with --backend-socket PATH "
                "or --backend-url URL",
                setting="backend",
            )
        method = params.method.upper()
        target = self._target(params.url)
        body: dict[str, Any] = {}
        if isinstance(params.data, str):
            body["content"] = params.data.encode()
        elif params.data is not None:
            body["json"] = params.data
        try:
            response = await self._client.request(method, target, headers=params.headers, **body)
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

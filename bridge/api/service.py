"""``service.request``: ddClient's HTTP calls to the extension backend (``bridge.service_proxy``
sends them).

Serves v0 ``backend.get/post/put/patch/delete/head/request`` and v1
``extension.vm.service.*``. Semantics follow Docker Desktop: object data goes as JSON, string
data as is; a 2xx body comes back parsed when it is JSON, else as text; anything else rejects
with a ServiceError carrying the status, the reason phrase and the body.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any, ClassVar

from pydantic import Field, field_validator

from bridge.api.models import Params
from bridge.rpc import MethodRouter

if TYPE_CHECKING:
    from bridge.connection import Session

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
    # A long body comes as the frame's own JSON text (bridge.rpc.dispatch), sent on as it is.
    json_text_fields: ClassVar[frozenset[str]] = frozenset({"data"})

    @field_validator("method")
    @classmethod
    def _method_is_not_connect(cls, method: str) -> str:
        # After a 2xx to CONNECT the backend's connection is a tunnel, and the pooled
        # connection would carry the next page's request into it.
        if method.upper() == "CONNECT":
            raise ValueError("CONNECT opens a tunnel; a service call is one HTTP request")
        return method

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
            if not value.isascii() and max(value) > "\xff":
                raise ValueError(
                    f"the value of header {name!r} holds characters past U+00FF, which HTTP cannot carry"
                )
        return {name: value.strip(" \t") for name, value in headers.items()}


@router.method("request")
async def request(params: ServiceRequest, session: Session) -> Any:
    hold = session.reply_hold("the extension backend's answer")
    return await session.context.service.request(params.method, params.url, params.headers, params.data, hold)

"""service.request's params: what cannot go into an HTTP request is refused naming the field."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from bridge.api.service import ServiceRequest


@pytest.mark.parametrize(
    ("params", "problem"),
    [
        ({"url": "/a\nb"}, "the URL holds control characters"),
        ({"url": "/\x7f"}, "the URL holds control characters"),
        ({"url": "/", "headers": {"Bad Name": "x"}}, "'Bad Name' is not an HTTP header name"),
        ({"url": "/", "headers": {"": "x"}}, "'' is not an HTTP header name"),
        ({"url": "/", "headers": {"X-A": "one\r\nX-Injected: two"}}, "header 'X-A' holds control characters"),
        ({"url": "/", "headers": {"X-A": "5 €"}}, "header 'X-A' holds characters past U\\+00FF"),
        ({"url": "/", "method": "connect"}, "CONNECT opens a tunnel"),
    ],
)
def test_what_http_cannot_carry_is_refused(params: dict[str, object], problem: str) -> None:
    with pytest.raises(ValidationError, match=problem):
        ServiceRequest.model_validate({"method": "GET", **params})


def test_header_values_lose_their_surrounding_blanks_and_keep_tabs_inside() -> None:
    request = ServiceRequest.model_validate(
        {"method": "GET", "url": "/", "headers": {"X-A": " a\tb ", "X-B": " "}}
    )
    assert request.headers == {"X-A": "a\tb", "X-B": ""}

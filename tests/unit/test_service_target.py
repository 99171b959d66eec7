"""Where a service call goes: the proxy's fast path for plain paths must put on the request line
exactly what httpx.URL makes of the same URL, and everything else goes through httpx.URL."""

from __future__ import annotations

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st

from bridge.api.service import PLAIN_PATH, ServiceProxy
from bridge.budget import MemoryBudget
from bridge.config import BackendSettings
from bridge.errors import Forbidden, InvalidParams

BASES = ["http://127.0.0.1:9/", "http://backend:8080/api/v1/"]
# Characters that matter to URL parsing, percent-encoding and dot segments.
URL_TEXT = st.text(alphabet="/./..?#%:@!$&'()*+,;=~-_aZ09 é\"<>[]{}|\\^`2F", max_size=24)


def proxy(url: str, **settings: object) -> ServiceProxy:
    return ServiceProxy(BackendSettings(url=url, **settings), MemoryBudget(1 << 20))


@pytest.mark.parametrize("base", BASES)
@given(url=URL_TEXT)
def test_each_relative_url_goes_where_httpx_would_send_it(base: str, url: str) -> None:
    try:
        parsed = httpx.URL(url)
        if parsed.scheme or parsed.host:
            return  # refused or sent as it is: the tests below
        expected = httpx.URL(base.rstrip("/") + "/" + url.lstrip("/"))
    except httpx.InvalidURL:
        with pytest.raises(InvalidParams, match="is not a URL"):
            proxy(base).target(url)
        return
    target = proxy(base).target(url)
    assert target.path == expected.raw_path
    assert target.host == expected.netloc
    assert target.address == (expected.host, expected.port or 80)


@pytest.mark.parametrize(
    ("url", "plain"),
    [
        ("/items", True),
        ("/items/v1.2/x?y=1&z=/a:b@c", True),
        ("/a%2Fb", True),
        ("/a/../b", False),
        ("/.well-known", False),
        ("/a b", False),
        ("/a%zz", False),
        ("//evil.test/x", False),
        ("items", False),
        ("/é", False),
        ("/a#frag", False),
    ],
)
def test_only_urls_httpx_leaves_alone_take_the_fast_path(url: str, plain: bool) -> None:
    assert bool(PLAIN_PATH.fullmatch(url)) is plain


@pytest.mark.parametrize("url", ["http://elsewhere.test/x", "//elsewhere.test/x"])
def test_absolute_urls_are_refused_unless_allowed(url: str) -> None:
    with pytest.raises(Forbidden, match="absolute"):
        proxy(BASES[0]).target(url)


def test_an_allowed_absolute_url_goes_to_its_own_host() -> None:
    allowed = proxy(BASES[1], allow_absolute_urls=True)
    target = allowed.target("http://other.test:81/p?q=1")
    assert (target.address, target.path, target.host) == (("other.test", 81), b"/p?q=1", b"other.test:81")
    with pytest.raises(InvalidParams, match="only http backends"):
        allowed.target("https://other.test/")

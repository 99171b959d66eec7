"""Where a service call goes: below the backend's base path, whatever the page's URL holds, as
the most lenient server would read the request line; the proxy's fast path for plain paths puts
on the request line exactly what httpx.URL makes of the same URL below the base."""

from __future__ import annotations

import re
from urllib.parse import unquote_to_bytes

import httpx
import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from bridge.config import BackendSettings
from bridge.errors import Forbidden, InvalidParams
from bridge.service_proxy import PLAIN_PATH, ServiceProxy

BASES = ["http://127.0.0.1:9/", "http://backend:8080/api/v1/"]
# Characters that matter to URL parsing, percent-encoding and dot segments.
URL_TEXT = st.text(alphabet="/./..?#%:@!$&'()*+,;=~-_aZ09 é\"<>[]{}|\\^`2F5cE\x00", max_size=24)
# What attackers send to climb out of a base path, each read as ".." by some server.
CLIMBS = [
    "/../admin",
    "../admin",
    "/a/../../admin",
    "/./../admin",
    "/%2e%2e/admin",
    "/%2E%2E/admin",
    "/%2E./admin",
    "/.%2e/admin",
    "/a/..%2fadmin",
    "/a%2f..%2f..%2fadmin",
    "/..%2Fadmin",
    "/..\\admin",
    "/a\\..\\..\\admin",
    "/..%5cadmin",
    "/..;/admin",
    "/a/..;x/..;/admin",
    "/%2e%2e;/admin",
    "/%252e%252e/admin",
    "/%25252e%25252e/admin",
    "/..%00/admin",
    "/x/%2e%2e%2f%2e%2e%2fadmin?q=1",
]


def proxy(url: str, **settings: object) -> ServiceProxy:
    return ServiceProxy(BackendSettings(url=url, **settings))


def lenient_server_path(raw: bytes) -> bytes:
    """The path the most lenient server serves for a request line's target: it decodes the path
    until nothing is left to decode, takes backslashes for slashes, cuts ';' parameters and NULs
    off segments, then resolves dot segments (RFC 3986 5.2.4, as nginx does after decoding)."""
    path = raw.split(b"?", 1)[0]
    while (decoded := unquote_to_bytes(path)) != path:
        path = decoded
    segments: list[bytes] = []
    for segment in re.split(rb"[/\\]", path)[1:]:
        segment = re.sub(rb"[;\x00].*", b"", segment, flags=re.DOTALL)
        if segment == b"..":
            if segments:
                segments.pop()
        elif segment != b".":
            segments.append(segment)
    return b"/" + b"/".join(segments)


@pytest.mark.parametrize("base", BASES)
@given(url=URL_TEXT)
@example(url="/../x")
@example(url="/%2e%2e/x")
def test_no_relative_url_leaves_the_base_path(base: str, url: str) -> None:
    """Each URL is refused, or reaches a path below the base however a server reads it."""
    try:
        target = proxy(base).target(url)
    except (InvalidParams, Forbidden):
        return
    if target.address != proxy(base).target("/").address:
        return  # an absolute URL, refused unless allowed: the tests below
    base_path = httpx.URL(base).raw_path
    assert target.path.startswith(base_path)
    assert (lenient_server_path(target.path) + b"/").startswith(base_path)


@pytest.mark.parametrize("base", BASES)
@given(url=URL_TEXT)
def test_each_relative_url_goes_where_httpx_would_send_it_below_the_base(base: str, url: str) -> None:
    """As httpx resolves it from the root, then below the base path; or refused."""
    try:
        parsed = httpx.URL(url)
        if parsed.scheme or parsed.host:
            return  # refused or sent as it is: the tests below
        expected = httpx.URL("http://x/" + url.lstrip("/")).raw_path
    except httpx.InvalidURL:
        with pytest.raises(InvalidParams, match="is not a URL"):
            proxy(base).target(url)
        return
    try:
        target = proxy(base).target(url)
    except InvalidParams as exc:
        assert "dot segment in disguise" in exc.message
        return
    base_url = httpx.URL(base)
    assert target.path == base_url.raw_path + expected[1:]
    assert target.host == base_url.netloc
    assert target.address == (base_url.host, base_url.port or 80)


@pytest.mark.parametrize("url", CLIMBS)
@pytest.mark.parametrize("base", BASES)
def test_climbing_out_of_the_base_path_is_resolved_below_it_or_refused(base: str, url: str) -> None:
    base_path = httpx.URL(base).raw_path
    try:
        target = proxy(base).target(url)
    except InvalidParams as exc:
        assert exc.field == "url" and repr(url) in exc.message
        return
    assert target.path.startswith(base_path)
    assert lenient_server_path(target.path).startswith(base_path.rstrip(b"/"))
    assert b".." not in target.path


@pytest.mark.parametrize(
    "url", ["/items", "/v1.2/x", "/a/./b", "/a/../b", "/files/a..b", "/...", "/x?path=../../etc", "/a%2Fb"]
)
def test_urls_that_stay_inside_are_not_refused(url: str) -> None:
    target = proxy(BASES[1]).target(url)
    assert target.path.startswith(b"/api/v1/")


@pytest.mark.parametrize(
    ("url", "plain"),
    [
        ("/items", True),
        ("/items/v1.2/x?y=1&z=/a:b@c", True),
        ("/a%2Fb", False),
        ("/%2e%2e/x", False),
        ("/a%5C..", False),
        ("/%252e", False),
        ("/..;/x", False),
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

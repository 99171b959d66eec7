from __future__ import annotations

import pytest

from bridge.security import check_host, check_origin, check_request_origin, origin_of_referer, split_host


@pytest.mark.parametrize(
    ("header", "host"),
    [
        ("localhost:7700", "localhost"),
        ("LOCALHOST", "localhost"),
        ("127.0.0.1:80", "127.0.0.1"),
        ("[::1]:7700", "::1"),
        ("[::1]", "::1"),
        ("example.com.", "example.com"),
        ("[0:0:0:0:0:0:0:1]:1", "::1"),
    ],
)
def test_split_host(header: str, host: str) -> None:
    assert split_host(header) == host


@pytest.mark.parametrize(
    "header",
    [
        "[::1]evil.com",
        "[::1]evil.com:7700",
        "evil.com#.localhost",
        "evil.com/.localhost",
        "evil.com?.localhost",
        "evil.com@localhost",
        "user@localhost",
        "localhost:7700:1",
        "localhost:",
        "localhost:abc",
        "[::1",
        "[not-ip]",
        "local host",
        "localhost\x00",
        "..localhost",
        "a..localhost",
        "localhost:123456",
    ],
)
def test_malformed_hosts_are_no_hosts(header: str) -> None:
    assert split_host(header) is None
    assert not check_host(header, ("evil.com",))


@pytest.mark.parametrize(
    "header", ["localhost", "localhost:7700", "127.0.0.1:7700", "127.8.9.1", "[::1]:7700", "app.localhost:1"]
)
def test_loopback_hosts_pass(header: str) -> None:
    assert check_host(header, ())


@pytest.mark.parametrize(
    "header",
    [
        None,
        "",
        "evil.com",
        "evil.com:7700",
        "localhost.evil.com",
        "127.0.0.1.nip.io",
        "10.0.0.5:7700",
        "[::2]:7700",
        "localhostx",
    ],
)
def test_rebinding_hosts_are_refused(header: str | None) -> None:
    assert not check_host(header, ())


def test_configured_hosts_pass() -> None:
    assert check_host("devbox.lan:7700", {"devbox.lan"})
    assert not check_host("devbox.lan.evil.com", {"devbox.lan"})


def test_same_origin_passes() -> None:
    assert check_origin("http://127.0.0.1:7700", "127.0.0.1:7700", ())
    assert check_origin("http://LOCALHOST:7700", "localhost:7700", ())


def test_missing_origin_is_a_non_browser_client() -> None:
    assert check_origin(None, "127.0.0.1:7700", ())


@pytest.mark.parametrize(
    "origin",
    [
        "http://evil.com",
        "http://127.0.0.1:9999",
        "null",
        "http://127.0.0.1:7700.evil.com",
        "file://",
        "ftp://127.0.0.1:7700",
        "http://localhost:3000/",
    ],
)
def test_foreign_origins_are_refused(origin: str) -> None:
    assert not check_origin(origin, "127.0.0.1:7700", ("http://localhost:3000",))


def test_allowed_origins_match_exactly_not_by_prefix() -> None:
    allowed = ("http://localhost:3000",)
    assert check_origin("http://localhost:3000", "127.0.0.1:7700", allowed)
    assert not check_origin("http://localhost:30000", "127.0.0.1:7700", allowed)
    assert not check_origin("http://localhost:3000.evil.com", "127.0.0.1:7700", allowed)


@pytest.mark.parametrize(
    ("method", "site", "mode", "origin", "referer", "allowed"),
    [
        ("GET", "same-origin", "cors", "http://127.0.0.1:7700", None, True),
        ("GET", "same-origin", "no-cors", None, "http://127.0.0.1:7700/x", True),
        ("GET", "none", "navigate", None, None, True),  # typed in the address bar
        ("GET", None, None, None, None, True),  # not a browser
        ("GET", "Same-Origin", None, None, None, True),
        ("GET", "cross-site", "navigate", None, "https://evil.com/", True),  # a link: shows a page
        ("POST", "cross-site", "navigate", "https://evil.com", None, False),  # a form post
        ("GET", "cross-site", "no-cors", None, "https://evil.com/page", False),  # <script src>
        ("GET", "cross-site", "no-cors", None, None, False),  # referrerpolicy=no-referrer
        ("GET", "same-site", "no-cors", None, "http://localhost:3000/", True),  # the allowed origin
        ("GET", "same-site", "no-cors", None, "http://localhost:4000/", False),  # another port
        ("GET", "same-site", "cors", "http://localhost:3000", None, True),
        ("GET", None, None, "http://evil.com", None, False),
        ("GET", "same-origin", None, "http://evil.com", None, False),
        ("GET", None, None, "null", None, False),
        # No Sec-Fetch-Site (an origin the browser does not count as secure): a foreign Referer
        # or Origin is refused, not waved through as a non-browser.
        ("GET", None, None, None, "http://victim.test:7902/page", False),
        ("GET", None, None, None, "http://localhost:3000/page", True),
        ("GET", None, None, None, "http://127.0.0.1:7700/page", True),
    ],
)
def test_request_origin(
    method: str, site: str | None, mode: str | None, origin: str | None, referer: str | None, allowed: bool
) -> None:
    verdict = check_request_origin(
        method, site, mode, origin, referer, "127.0.0.1:7700", ("http://localhost:3000",)
    )
    assert verdict is allowed


@pytest.mark.parametrize(
    ("referer", "origin"),
    [
        ("http://localhost:3000/a/b?c#d", "http://localhost:3000"),
        ("HTTP://Localhost:3000", "http://localhost:3000"),
        ("", None),
        (None, None),
        ("not a url", None),
    ],
)
def test_origin_of_referer(referer: str | None, origin: str | None) -> None:
    assert origin_of_referer(referer) == origin

from __future__ import annotations

import pytest

from bridge.security import check_host, check_origin, check_same_origin_get, split_host


@pytest.mark.parametrize(
    ("header", "host"),
    [
        ("localhost:7700", "localhost"),
        ("LOCALHOST", "localhost"),
        ("127.0.0.1:80", "127.0.0.1"),
        ("[::1]:7700", "::1"),
        ("[::1]", "::1"),
        ("example.com.", "example.com"),
    ],
)
def test_split_host(header: str, host: str) -> None:
    assert split_host(header) == host


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
    ("fetch_site", "origin", "allowed"),
    [
        ("same-origin", "http://127.0.0.1:7700", True),
        ("same-origin", None, True),
        ("none", None, True),  # typed in the address bar
        (None, None, True),  # not a browser
        ("Same-Origin", None, True),
        ("same-site", None, False),  # another port of localhost
        ("cross-site", None, False),
        (None, "http://evil.com", False),
        ("same-origin", "http://evil.com", False),
        (None, "null", False),
    ],
)
def test_same_origin_get(fetch_site: str | None, origin: str | None, allowed: bool) -> None:
    assert check_same_origin_get(fetch_site, origin, "127.0.0.1:7700", ()) is allowed

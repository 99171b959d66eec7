"""The token and the browser session credentials (bridge.auth), and the session secret file."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from bridge.auth import SESSION_LIFETIME, Credentials, bearer, load_secret, new_token
from bridge.errors import ConfigError

SECRET = b"s" * 32


def test_tokens_are_long_and_new_each_time() -> None:
    tokens = {new_token() for _ in range(100)}
    assert len(tokens) == 100
    assert all(len(token) >= 32 and token.isascii() for token in tokens)


def test_the_token_is_accepted_and_nothing_like_it() -> None:
    credentials = Credentials("abcdefghijklmnop", SECRET)
    assert credentials.accepts("abcdefghijklmnop")
    for wrong in ("", "abcdefghijklmno", "abcdefghijklmnopq", "ABCDEFGHIJKLMNOP", "s1.", "é"):
        assert not credentials.accepts(wrong)


@pytest.mark.parametrize(
    ("issue", "accepts", "prefix"),
    [("issue_session", "accepts", "s2."), ("issue_view", "accepts_view", "v2.")],
)
def test_page_credentials_and_view_cookies_are_signed_and_expire(
    issue: str, accepts: str, prefix: str
) -> None:
    credentials = Credentials("abcdefghijklmnop", SECRET)
    value = getattr(credentials, issue)(now=1000)
    check = getattr(credentials, accepts)
    assert value.startswith(prefix)
    assert check(value, now=1000 + SESSION_LIFETIME - 1)
    assert not check(value, now=1000 + SESSION_LIFETIME)
    expiry, _, signature = value[3:].partition(".")
    assert not check(f"{prefix}{int(expiry) + 10**9}.{signature}", now=1000)
    assert not check(value[:-1] + ("0" if value[-1] != "0" else "1"), now=1000)
    assert not check(f"{prefix}x.y", now=1000)


def test_a_view_cookie_is_no_page_credential_and_the_reverse() -> None:
    """The cookie every port of the host receives must never open what the page credential opens,
    not even with its prefix changed (each kind is signed under its own label)."""
    credentials = Credentials("abcdefghijklmnop", SECRET)
    view = credentials.issue_view(now=1000)
    session = credentials.issue_session(now=1000)
    assert not credentials.accepts(view, now=1000)
    assert not credentials.accepts("s2." + view[3:], now=1000)
    assert not credentials.accepts_view(session, now=1000)
    assert not credentials.accepts_view("v2." + session[3:], now=1000)
    assert not credentials.accepts_view("abcdefghijklmnop", now=1000)


def test_version_one_sessions_are_no_longer_accepted() -> None:
    """Version-1 sessions were cookies, which other ports received: one captured before the
    upgrade opens nothing after it."""
    import hashlib
    import hmac

    expiry = "9999999999"
    signature = hmac.new(SECRET, f"ddbridge-session:{expiry}".encode(), hashlib.sha256).hexdigest()
    credentials = Credentials("abcdefghijklmnop", SECRET)
    assert not credentials.accepts(f"s1.{expiry}.{signature}")
    assert not credentials.accepts_view(f"s1.{expiry}.{signature}")


def test_a_session_survives_a_new_token_but_not_a_new_secret() -> None:
    session = Credentials("first-token-aaaaaaaa", SECRET).issue_session()
    assert Credentials("second-token-bbbbbbb", SECRET).accepts(session)
    assert not Credentials("second-token-bbbbbbb", b"t" * 32).accepts(session)


def test_without_a_token_everything_is_accepted() -> None:
    credentials = Credentials(None, SECRET)
    assert not credentials.required
    assert credentials.accepts("")


@pytest.mark.parametrize(
    ("header", "token"),
    [
        ("Bearer abc", "abc"),
        ("bearer  abc ", "abc"),
        ("token abc", "abc"),
        ("Basic abc", None),
        ("Bearer", None),
        ("Bearer ", None),
        (None, None),
    ],
)
def test_bearer(header: str | None, token: str | None) -> None:
    assert bearer(header) == token


def test_the_secret_file_is_made_private_and_reused(tmp_path: Path) -> None:
    path = tmp_path / "state" / "ddbridge" / "session-secret"
    first = load_secret(path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert load_secret(path) == first and len(first) == 32


def test_a_secret_others_can_read_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "session-secret"
    load_secret(path)
    path.chmod(0o644)
    with pytest.raises(ConfigError, match="readable by other users; run: chmod 600"):
        load_secret(path)


def test_an_unwritable_place_gives_a_secret_for_this_run(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    assert len(load_secret(blocker / "sub" / "session-secret")) == 32
    assert "browser sessions end when the daemon stops" in caplog.text


@pytest.mark.parametrize(("issue", "accepts"), [("issue_session", "accepts"), ("issue_view", "accepts_view")])
def test_a_credential_opens_only_the_origin_it_was_issued_for(issue: str, accepts: str) -> None:
    """The extensions host signs each extension's credentials under its slug: one extension's
    page credential (or view cookie) is nothing at another's origin, nor at the shell's."""
    credentials = Credentials("abcdefghijklmnop", SECRET)
    check = getattr(credentials, accepts)
    for key in ("", "alpha", "beta"):
        value = getattr(credentials, issue)(key, now=1000)
        assert check(value, key, now=1000)
        assert not [
            other
            for other in ("", "alpha", "beta", "alph", "alpha/")
            if other != key and check(value, other, now=1000)
        ]
    # The token is the owner's: it opens every origin.
    assert credentials.accepts("abcdefghijklmnop", "alpha")

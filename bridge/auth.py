"""Who holds the key: the per-start token, and the two credentials a browser is given (see
README, SECURITY).

Jupyter's scheme, hardened for browsers. The daemon prints a URL with a token when it starts (a
random one per start, or a fixed one from the settings, for CI). Non-browser clients send it as
``Authorization: Bearer TOKEN`` (or ``?token=TOKEN``). A browser that opens the printed URL gets
two credentials, both signed with a secret kept in a file only the user can read, so that a
page open in the browser keeps working when the daemon restarts with a new token:

- a **page credential** (``s2.<expiry>.<signature>``), which opens everything the token opens.
  The login page puts it in the origin's ``localStorage`` (per scheme, host *and port*), and the
  shim and the bridge's own pages send it explicitly: no browser ever sends it by itself, so no
  other port or site can receive it;
- a **view cookie** (``v2.<expiry>.<signature>``), which a browser does send by itself, to every
  port of the host name. It therefore opens only what any local process could read anyway: the
  UI's files and pages. It is never accepted where the page credential is needed.

Every comparison is constant-time. No I/O here but ``load_secret``: the ASGI side is
``bridge.access``.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import os
import secrets
import stat
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from bridge.errors import ConfigError

log = logging.getLogger("ddbridge.auth")

TOKEN_QUERY = "token"
# Version 2: the version-1 session was a cookie, which every port of the host received; its
# values are no longer accepted anywhere.
SESSION_PREFIX = "s2."
VIEW_PREFIX = "v2."
SESSION_LIFETIME = 7 * 24 * 3600
SECRET_BYTES = 32


def new_token() -> str:
    """A token for one start of the daemon: 192 random bits, URL-safe."""
    return secrets.token_urlsafe(24)


def default_secret_file() -> Path:
    data_home = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(data_home) / "ddbridge" / "session-secret"


def load_secret(path: Path) -> bytes:
    """The session signing secret from ``path`` (``~`` expanded), created (mode 0600) on first use.

    A secret other users can read is refused: with it they could sign sessions. When the file
    cannot be created (a read-only home), an in-memory secret is used and browser sessions end
    with the daemon; that is said once, as a warning.
    """
    try:
        info = path.stat()
    except (FileNotFoundError, NotADirectoryError):
        return _create_secret(path)
    if info.st_mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise ConfigError(f"session secret {path} is readable by other users; run: chmod 600 {path}")
    secret = path.read_bytes()
    if len(secret) < SECRET_BYTES:
        raise ConfigError(f"session secret {path} is too short; delete it and a new one is made")
    return secret


def _create_secret(path: Path) -> bytes:
    secret = secrets.token_bytes(SECRET_BYTES)
    try:
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return load_secret(path)  # another daemon made it first
    except OSError as exc:
        log.warning(
            "cannot create the session secret %s (%s): browser sessions end when the daemon stops",
            path,
            exc.strerror,
        )
        return secret
    with os.fdopen(descriptor, "wb") as file:
        file.write(secret)
    return secret


@dataclass(frozen=True)
class Credentials:
    """The token of this start and the secret browser sessions are signed with.

    ``token`` None means authentication is off (``token = ""`` in the settings, loopback only).
    """

    token: str | None
    secret: bytes

    @property
    def required(self) -> bool:
        return self.token is not None

    def issue_session(self, key: str = "", now: float | None = None) -> str:
        """A page credential for the origin ``key`` names: ``s2.<expiry>.<signature>``, valid
        for a week."""
        return self._issue(SESSION_PREFIX, key, now)

    def issue_view(self, key: str = "", now: float | None = None) -> str:
        """A view cookie's value for the origin ``key`` names: ``v2.<expiry>.<signature>``."""
        return self._issue(VIEW_PREFIX, key, now)

    def accepts(self, presented: str, key: str = "", now: float | None = None) -> bool:
        """True for this start's token (which opens every origin), or for an unexpired page
        credential signed here for ``key``'s origin."""
        if self.token is None:
            return True
        if not presented.startswith(SESSION_PREFIX):
            return hmac.compare_digest(presented.encode(), self.token.encode())
        return self._valid(SESSION_PREFIX, key, presented, now)

    def accepts_any(self, presented: Iterable[str], key: str = "") -> bool:
        return any(self.accepts(candidate, key) for candidate in presented)

    def accepts_view(self, presented: str, key: str = "", now: float | None = None) -> bool:
        """True for an unexpired view cookie signed here for ``key``'s origin (only that: a view
        cookie is no token)."""
        return self.token is None or self._valid(VIEW_PREFIX, key, presented, now)

    def _issue(self, prefix: str, key: str, now: float | None) -> str:
        expiry = str(int((time.time() if now is None else now) + SESSION_LIFETIME))
        return f"{prefix}{expiry}.{self._sign(prefix, key, expiry)}"

    def _valid(self, prefix: str, key: str, presented: str, now: float | None) -> bool:
        if not presented.startswith(prefix):
            return False
        expiry, _, signature = presented[len(prefix) :].partition(".")
        if not expiry.isdigit() or not hmac.compare_digest(
            signature.encode(), self._sign(prefix, key, expiry).encode()
        ):
            return False
        return int(expiry) > (time.time() if now is None else now)

    def _sign(self, prefix: str, key: str, value: str) -> str:
        """Each kind signs under its own label, and each origin's under its own key (an installed
        extension's slug; none for the one origin of ``serve``), so that one kind's or one
        origin's signature never passes for another's. ``value`` is digits: no two (key, value)
        pairs make one message."""
        scoped = f"{key}/{value}" if key else value
        message = f"ddbridge-{prefix}{scoped}".encode()
        return hmac.new(self.secret, message, hashlib.sha256).hexdigest()


def bearer(authorization: str | None) -> str | None:
    """The token of an ``Authorization: Bearer TOKEN`` (or ``token TOKEN``, as Jupyter) header."""
    if authorization is None:
        return None
    scheme, _, value = authorization.strip().partition(" ")
    return value.strip() if scheme.lower() in ("bearer", "token") and value.strip() else None

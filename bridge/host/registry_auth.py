"""Registry credentials as the docker CLI finds them, encoded as the Engine API takes them.

The docker CLI's config is ``$DOCKER_CONFIG/config.json`` (default ``~/.docker/config.json``).
For a registry (its key: the reference's domain, ``https://index.docker.io/v1/`` for Docker Hub)
the CLI asks, in this order, and so does ddbridge:

1. ``credHelpers[key]``, else ``credsStore``: the program ``docker-credential-<name>``, run as
   ``docker-credential-<name> get`` with the key on stdin; it answers
   ``{"ServerURL", "Username", "Secret"}`` (``Username`` ``<token>``: the secret is an identity
   token) or exits non-zero saying "credentials not found". With a helper configured, the
   config's ``auths`` are not consulted for the secret (as in the CLI's native store).
2. ``auths[key]``: ``auth`` (base64 of ``user:password``), or ``username``/``password``, or
   ``identitytoken``. A key written as a URL (``https://host/v1/``) matches its host name.

The Engine API takes them as ``X-Registry-Auth``: base64url of the JSON
``{"username", "password", "serveraddress"}`` or ``{"identitytoken", "serveraddress"}``.

Secrets never reach a log line, an error or a ``repr``: errors name the file, the entry or the
helper, never what it holds.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import json
import logging
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bridge.extension.metadata import ExtensionError

log = logging.getLogger("ddbridge.pull")

# A helper asks a keychain, which may prompt; the CLI waits for ever, ddbridge this long.
HELPER_TIMEOUT = 30.0
HELPER_PREFIX = "docker-credential-"
# A helper's own answer to a key it has nothing for (docker-credential-helpers' ErrCredentialsNotFound).
_NOT_FOUND = "credentials not found in native keychain"
# How much of a failing helper's output an error quotes.
_QUOTED = 200
TOKEN_USERNAME = "<token>"


@dataclass(frozen=True, slots=True)
class Credentials:
    """What to log in to ``server`` with, and where it came from (for messages, never the secret)."""

    server: str
    source: str
    username: str = ""
    password: str = field(default="", repr=False)
    identity_token: str = field(default="", repr=False)

    def header(self) -> str:
        """The ``X-Registry-Auth`` value: base64url JSON, empty fields left out (as the CLI sends it)."""
        fields = {
            "username": self.username,
            "password": self.password,
            "identitytoken": self.identity_token,
            "serveraddress": self.server,
        }
        encoded = json.dumps({name: value for name, value in fields.items() if value})
        return base64.urlsafe_b64encode(encoded.encode()).decode()


def docker_config_dir(environ: Mapping[str, str] | None = None) -> Path:
    """``$DOCKER_CONFIG``, else ``~/.docker``: the docker CLI's configuration folder."""
    env = os.environ if environ is None else environ
    return Path(env["DOCKER_CONFIG"]) if env.get("DOCKER_CONFIG") else Path.home() / ".docker"


def read_config(folder: Path) -> dict[str, Any]:
    """``folder/config.json`` as an object; ``{}`` when there is none (no credentials at all).

    A file that is there but cannot be read or is not a JSON object fails: pulling as if it
    were empty would turn a typo into a confusing "authentication required".
    """
    path = folder / "config.json"
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return {}
    except (OSError, UnicodeDecodeError) as exc:
        raise ExtensionError(f"cannot read the docker CLI config {path}: {exc}") from exc
    try:
        config = json.loads(text)
    except ValueError as exc:
        raise ExtensionError(f"the docker CLI config {path} is not JSON: {exc}") from exc
    if not isinstance(config, dict):
        raise ExtensionError(f"the docker CLI config {path} is not a JSON object")
    return config


def _section(config: Mapping[str, Any], name: str, path: Path) -> dict[str, Any]:
    value = config.get(name) or {}
    if not isinstance(value, dict):
        raise ExtensionError(f"{path}: {name} is not an object")
    return value


def helper_for(config: Mapping[str, Any], key: str, path: Path) -> str | None:
    """The credential helper's name for ``key``: ``credHelpers[key]``, else ``credsStore``."""
    helper = _section(config, "credHelpers", path).get(key) or config.get("credsStore")
    if helper is None or helper == "":
        return None
    if not isinstance(helper, str) or "/" in helper or helper.startswith("."):
        raise ExtensionError(f"{path}: the credential helper for {key} is not a helper name: {helper!r}")
    return helper


def _hostname(key: str) -> str:
    """A config key as the CLI compares it: ``https://host:5000/v1/`` is ``host:5000``."""
    for scheme in ("http://", "https://"):
        key = key.removeprefix(scheme)
    return key.partition("/")[0]


def from_auths(config: Mapping[str, Any], key: str, path: Path) -> Credentials | None:
    """The ``auths`` entry for ``key`` (exactly, else by host name), or None when it holds none."""
    auths = _section(config, "auths", path)
    name = key if key in auths else next((found for found in auths if _hostname(found) == key), None)
    if name is None:
        return None
    entry = auths[name]
    where = f"{path}: auths[{name!r}]"
    if not isinstance(entry, dict) or not all(isinstance(value, str) for value in entry.values()):
        raise ExtensionError(f"{where} is not an object of strings")
    username, password = entry.get("username", ""), entry.get("password", "")
    if entry.get("auth"):
        try:
            decoded = base64.b64decode(entry["auth"], validate=True).decode()
        except (binascii.Error, UnicodeDecodeError):
            raise ExtensionError(f"{where}.auth is not base64 of user:password") from None
        username, colon, password = decoded.partition(":")
        if not colon:
            raise ExtensionError(f"{where}.auth is not base64 of user:password (no ':')")
    token = entry.get("identitytoken", "")
    if not (username or password or token):
        return None
    return Credentials(key, where, username, password, token)


def parse_helper_answer(helper: str, key: str, answer: bytes) -> Credentials:
    """A helper's ``get`` answer; ``Username`` ``<token>`` makes the secret an identity token."""
    program = HELPER_PREFIX + helper
    try:
        found = json.loads(answer)
    except ValueError:
        raise ExtensionError(f"{program} get {key}: the answer is not JSON") from None
    if not (
        isinstance(found, dict)
        and isinstance(found.get("Username"), str)
        and isinstance(found.get("Secret"), str)
    ):
        raise ExtensionError(f"{program} get {key}: the answer has no string Username and Secret")
    username, secret = found["Username"], found["Secret"]
    if username == TOKEN_USERNAME:
        return Credentials(key, program, identity_token=secret)
    return Credentials(key, program, username, secret)


async def run_helper(helper: str, key: str, *, timeout: float = HELPER_TIMEOUT) -> Credentials | None:
    """``docker-credential-<helper> get`` with ``key`` on stdin; None when it has nothing for it."""
    program = HELPER_PREFIX + helper
    try:
        process = await asyncio.create_subprocess_exec(
            program,
            "get",
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
    except OSError as exc:
        raise ExtensionError(
            f"cannot run the credential helper {program} (the docker CLI config names it for {key}): "
            f"{exc.strerror}"
        ) from exc
    try:
        async with asyncio.timeout(timeout):
            stdout, stderr = await process.communicate(key.encode())
    except TimeoutError:
        raise ExtensionError(f"{program} get {key} did not answer within {timeout:g} s") from None
    finally:
        if process.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                process.kill()
            await process.wait()
    if process.returncode != 0:
        said = (stdout or stderr).decode(errors="replace").strip()
        if _NOT_FOUND in said:
            return None
        quoted = " ".join(said.split())[:_QUOTED] or "no output"
        raise ExtensionError(f"{program} get {key} failed (exit code {process.returncode}): {quoted}")
    return parse_helper_answer(helper, key, stdout)


async def find_credentials(key: str, folder: Path | None = None) -> Credentials | None:
    """The credentials the docker CLI would use for the registry ``key``, or None."""
    folder = docker_config_dir() if folder is None else folder
    path = folder / "config.json"
    config = read_config(folder)
    helper = helper_for(config, key, path)
    found = await run_helper(helper, key) if helper is not None else from_auths(config, key, path)
    if found is None:
        log.debug("no credentials for %s (%s)", key, f"{HELPER_PREFIX}{helper}" if helper else path)
    else:
        log.debug("credentials for %s from %s", key, found.source)
    return found

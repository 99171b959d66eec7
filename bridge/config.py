"""One settings object for the daemon: defaults < TOML file < environment < command-line flags.

Every key lives in a section (``[server]``, ``[backend]``, ...); ``config.example.toml`` documents
each one. The environment variable for a key is ``DDBRIDGE_<SECTION>_<KEY>`` in upper case
(``DDBRIDGE_SERVER_PORT=7800``); list values are comma-separated there.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from bridge.errors import ConfigError
from bridge.ssh_engine import SCHEME as SSH_SCHEME
from bridge.ssh_engine import SshTarget


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ServerSettings(_Section):
    """Where the daemon listens and who may talk to it.

    ``token``: None (the default) makes a new random token at every start; ``""`` turns
    authentication off, which only a loopback address allows. ``secret_file`` holds the key
    browser sessions are signed with (default ``$XDG_DATA_HOME/ddbridge/session-secret``).
    """

    host: str = "127.0.0.1"
    port: int = Field(7700, ge=0, le=65535)
    allow_origins: tuple[str, ...] = ()
    allow_hosts: tuple[str, ...] = ()
    token: str | None = None
    secret_file: Path | None = None
    # A connection that has not presented the token is closed this many seconds after it opened
    # (or after its last answer); at most pending_connections such are held, oldest closed
    # first (bridge.listener).
    handshake_timeout: float = Field(10.0, gt=0, le=3600)
    pending_connections: int = Field(512, ge=1)

    @field_validator("token")
    @classmethod
    def _token_is_usable(cls, token: str | None) -> str | None:
        if token and (len(token) < 16 or not token.isprintable() or any(c.isspace() for c in token)):
            raise ValueError('a token needs at least 16 characters, no spaces (or "" for none)')
        return token

    @field_validator("allow_origins")
    @classmethod
    def _origins_are_exact(cls, origins: tuple[str, ...]) -> tuple[str, ...]:
        for origin in origins:
            scheme, sep, rest = origin.partition("://")
            if scheme not in ("http", "https") or not sep or not rest or "/" in rest:
                raise ValueError(f"{origin!r} is not an origin like http://localhost:3000")
        return tuple(origin.lower() for origin in origins)


class UISettings(_Section):
    dir: Path | None = None
    source: str | None = None

    @field_validator("source")
    @classmethod
    def _dev_server_url(cls, url: str | None) -> str | None:
        if url is not None:
            scheme, sep, rest = url.partition("://")
            if scheme not in ("http", "https") or not sep or not rest.strip("/"):
                raise ValueError(f"{url!r} is not a dev server URL like http://localhost:3000")
            return url.rstrip("/")
        return url


class BackendSettings(_Section):
    socket: Path | None = None
    url: str | None = None
    timeout: float = Field(60.0, gt=0)
    allow_absolute_urls: bool = False
    max_answer: int = Field(64 * 1024 * 1024, gt=0)


class HostBinariesSettings(_Section):
    dir: Path | None = None


class ExecSettings(_Section):
    kill_grace: float = Field(3.0, ge=0)
    max_output: int = Field(64 * 1024 * 1024, gt=0)
    # Seconds a stream read as an HTTP answer (``bridge.stream_answer``) waits to be read.
    answer_wait: float = Field(10.0, gt=0)


class DockerSettings(_Section):
    """The Docker engine the bridge talks to, and the extension's backend ("VM") container.

    ``host`` or ``context`` (a docker CLI context, one or the other) name the engine; unset, it
    is the docker CLI's (``bridge.docker_engine.EngineAddress.resolve``). ``tls_verify`` and
    ``cert_path`` go with ``host`` and fall back to ``DOCKER_TLS_VERIFY`` and ``DOCKER_CERT_PATH``;
    a context brings its own TLS material.
    ``ssh_options``: extra arguments for every ``ssh`` an ``ssh://`` host runs (``["-F", "file"]``).
    """

    host: str | None = None
    context: str | None = Field(default=None, min_length=1)
    vm_container: str | None = Field(default=None, min_length=1)
    tls_verify: bool | None = None
    cert_path: Path | None = None
    ssh_options: tuple[str, ...] = ()

    @field_validator("host")
    @classmethod
    def _host_has_scheme(cls, host: str | None) -> str | None:
        if host is not None and host.startswith(SSH_SCHEME):
            SshTarget.parse(host)
        elif host is not None and not host.startswith(("unix://", "tcp://", "http://", "https://")):
            raise ValueError(
                f"{host!r} is not an engine address like unix:///var/run/docker.sock, tcp://host:2376 "
                "or ssh://user@host"
            )
        return host

    @model_validator(mode="after")
    def _one_engine(self) -> DockerSettings:
        if self.host is not None and self.context is not None:
            raise ValueError(
                f"both host ({self.host}) and context ({self.context}) name the engine: keep one"
            )
        return self


class LimitsSettings(_Section):
    """What the pages may hold at once, so that a runaway page cannot exhaust the daemon. Past a
    limit the call is refused with LimitExceeded (-32005) naming it; a connection past
    ``connections`` is closed with 1013, a message past ``message_bytes`` with 1009."""

    message_bytes: int = Field(16 * 1024 * 1024, ge=1024)
    connections: int = Field(2048, ge=1)
    calls_per_connection: int = Field(512, ge=1)
    # Processes running at once (blocking exec and streams alike); streams alone have the
    # narrower limits below.
    processes_per_connection: int = Field(256, ge=1)
    processes: int = Field(1024, ge=1)
    streams_per_connection: int = Field(128, ge=1)
    streams: int = Field(1024, ge=1)
    # Bytes of blocking-exec output and service answers held at once, for all calls together
    # (bridge.budget).
    memory: int = Field(256 * 1024 * 1024, ge=1024 * 1024)


class InspectorSettings(_Section):
    """The live inspector at ``/_ddbridge/``: how many events it still shows when opened later."""

    history: int = Field(2000, ge=0)


class MockSettings(_Section):
    """Mock mode answers the scripted calls from ``file``; record mode writes what the real
    session answered to ``record`` in the same format (docs/mock.md)."""

    file: Path | None = None
    record: Path | None = None


class DialogSettings(_Section):
    """``showOpenDialog``: the folders the shim's dialog may browse (symlinks leading out of them
    are refused), and an optional file of scripted answers for tests."""

    roots: tuple[Path, ...] = Field(default_factory=lambda: (Path.home(),), min_length=1)
    script: Path | None = None

    @field_validator("roots")
    @classmethod
    def _absolute_roots(cls, roots: tuple[Path, ...]) -> tuple[Path, ...]:
        return tuple(root.expanduser().absolute() for root in roots)


class ExtensionSettings(_Section):
    """What extracting an extension image (``ddbridge run IMAGE``) may write, all its files
    together: past either cap the extraction stops with an error naming the setting."""

    max_bytes: int = Field(2 * 1024**3, ge=1024 * 1024)
    max_members: int = Field(100_000, ge=1)


class Settings(_Section):
    server: ServerSettings = ServerSettings()
    ui: UISettings = UISettings()
    backend: BackendSettings = BackendSettings()
    host_binaries: HostBinariesSettings = HostBinariesSettings()
    exec: ExecSettings = ExecSettings()
    limits: LimitsSettings = LimitsSettings()
    docker: DockerSettings = DockerSettings()
    inspector: InspectorSettings = InspectorSettings()
    dialog: DialogSettings = Field(default_factory=DialogSettings)
    mock: MockSettings = MockSettings()
    extension: ExtensionSettings = ExtensionSettings()


def _from_environment(environ: Mapping[str, str]) -> dict[str, dict[str, Any]]:
    found: dict[str, dict[str, Any]] = {}
    for section, field in Settings.model_fields.items():
        model = field.annotation
        assert isinstance(model, type) and issubclass(model, BaseModel)
        for key, key_field in model.model_fields.items():
            value = environ.get(f"DDBRIDGE_{section}_{key}".upper())
            if value is None:
                continue
            is_list = "tuple" in str(key_field.annotation)
            found.setdefault(section, {})[key] = (
                [item.strip() for item in value.split(",") if item.strip()] if is_list else value
            )
    return found


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as file:
            return tomllib.load(file)
    except OSError as exc:
        raise ConfigError(f"cannot read config file {path}: {exc.strerror}") from exc
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"config file {path} is not valid TOML: {exc}") from exc


def _merge(*layers: Mapping[str, Mapping[str, Any]]) -> dict[str, dict[str, Any]]:
    merged: dict[str, dict[str, Any]] = {}
    for layer in layers:
        for section, values in layer.items():
            if not isinstance(values, Mapping):
                raise ConfigError(f"config: [{section}] must be a table of keys")
            merged.setdefault(section, {}).update(values)
    return merged


def _describe(exc: ValidationError) -> str:
    first = exc.errors(include_url=False)[0]
    where = ".".join(str(part) for part in first["loc"])
    if first["type"] == "extra_forbidden":
        return f"unknown setting {where}"
    return f"setting {where}: {first['msg']}"


def load_settings(
    config_file: Path | None = None,
    flags: Mapping[str, Mapping[str, Any]] | None = None,
    environ: Mapping[str, str] | None = None,
) -> Settings:
    """Build the settings from the layers, raising ``ConfigError`` with a one-line message."""
    file_layer = _read_toml(config_file) if config_file is not None else {}
    env_layer = _from_environment(os.environ if environ is None else environ)
    try:
        return Settings.model_validate(_merge(file_layer, env_layer, flags or {}))
    except ValidationError as exc:
        raise ConfigError(_describe(exc)) from exc


def with_overrides(settings: Settings, overrides: Mapping[str, Mapping[str, Any]]) -> Settings:
    """``settings`` with some keys replaced (what ``run``/``dev`` derive from the extension)."""
    return Settings.model_validate(_merge(settings.model_dump(), overrides))

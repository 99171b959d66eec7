"""The mock file: scripted answers for service calls, execs, lists and dialogs (docs/mock.md).

``--mock FILE`` replays one and ``--record FILE`` writes one, so this module is the single
definition of the format: pydantic models to validate a file at start-up (a bad file is a
one-line ``ConfigError`` naming the entry and field), the matching rules, and the keys
(``"GET /hello"``, ``"host tool a b"``) an unmatched call is compared with.
"""

from __future__ import annotations

import difflib
import json
import shlex
import tomllib
from collections.abc import Iterable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from bridge.errors import ConfigError

CLOSEST = 3


class _Entry(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def service_key(method: str, url: str) -> str:
    return f"{method.upper()} {normalize_url(url)}"


def normalize_url(url: str) -> str:
    """A relative URL gets its leading slash, as the real proxy adds it."""
    return url if url.startswith("/") or "://" in url else f"/{url}"


class ServiceAnswer(_Entry):
    """An answer to ``service.request``: matched by method and URL (and ``data`` when given)."""

    method: str = Field(pattern=r"^[A-Za-z]+$")
    url: str = Field(min_length=1)
    data: Any = None
    status: int = Field(200, ge=100, le=599)
    reason: str | None = None
    body: Any = None

    @property
    def key(self) -> str:
        return service_key(self.method, self.url)

    def matches(self, method: str, url: str, data: Any) -> bool:
        if method.upper() != self.method.upper():
            return False
        wanted, asked = normalize_url(self.url), normalize_url(url)
        # An entry without a query answers the path whatever the query; with one, only that URL.
        if "?" not in wanted:
            asked = urlsplit(asked).path if "://" not in asked else asked.split("?", 1)[0]
        if wanted != asked:
            return False
        return "data" not in self.model_fields_set or self.data == data


class ExecChunk(_Entry):
    """One ``exec.output`` of a streamed exec, sent ``delay`` seconds after the one before."""

    stdout: str | None = None
    stderr: str | None = None
    delay: float = Field(0.0, ge=0)

    @model_validator(mode="after")
    def _one_stream(self) -> ExecChunk:
        if (self.stdout is None) == (self.stderr is None):
            raise ValueError("a chunk has exactly one of stdout or stderr")
        return self


def exec_key(target: str, cmd: str, args: Iterable[str]) -> str:
    return " ".join([target, shlex.quote(cmd), *(shlex.quote(arg) for arg in args)])


class ExecAnswer(_Entry):
    """An answer to ``exec.run`` and ``exec.spawn``: matched by target, command and arguments.

    ``exec.run`` answers ``stdout``/``stderr``, or the chunks joined when those are not given;
    ``exec.spawn`` streams ``chunks``, or ``stdout`` then ``stderr`` when there are none.
    """

    target: str = Field(pattern=r"^(host|vm|docker|container:.+)$")
    cmd: str = Field(min_length=1)
    args: list[str] = Field(default_factory=list)
    stdout: str | None = None
    stderr: str | None = None
    code: int = 0
    signal: str | None = None
    chunks: list[ExecChunk] | None = None

    @property
    def key(self) -> str:
        return exec_key(self.target, self.cmd, self.args)

    def matches(self, target: str, cmd: str, args: list[str]) -> bool:
        return (self.target, self.cmd, self.args) == (target, cmd, args)

    def output(self, name: str) -> str:
        given: str | None = getattr(self, name)
        if given is not None or self.chunks is None:
            return given or ""
        return "".join(getattr(chunk, name) or "" for chunk in self.chunks)

    def stream(self) -> list[ExecChunk]:
        if self.chunks is not None:
            return self.chunks
        return [
            ExecChunk.model_validate({name: getattr(self, name)})
            for name in ("stdout", "stderr")
            if getattr(self, name)
        ]


class DockerLists(_Entry):
    """The engine's JSON for the list calls, answered whatever the options."""

    listContainers: list[Any] | None = None
    listImages: list[Any] | None = None


class DialogAnswer(BaseModel):
    """What ``showOpenDialog`` resolves with; extra fields are passed on as they are."""

    model_config = ConfigDict(extra="allow", frozen=True)

    canceled: bool = False
    filePaths: list[str] = Field(default_factory=list)


class Script(_Entry):
    service: list[ServiceAnswer] = Field(default_factory=list)
    exec: list[ExecAnswer] = Field(default_factory=list)
    docker: DockerLists = DockerLists()
    dialog: list[DialogAnswer] = Field(default_factory=list)

    @field_validator("service", "exec", "dialog", mode="before")
    @classmethod
    def _a_list(cls, value: Any) -> Any:
        if not isinstance(value, list):
            raise ValueError("must be a list of entries")
        return value

    def to_json(self) -> str:
        return (
            json.dumps(self.model_dump(mode="json", exclude_unset=True), indent=2, ensure_ascii=False) + "\n"
        )


def closest(key: str, keys: Iterable[str]) -> list[str]:
    """The scripted keys most like ``key``, best first (an unmatched call's hint)."""
    unique = list(dict.fromkeys(keys))
    return difflib.get_close_matches(key, unique, n=CLOSEST, cutoff=0.0)


def _label(raw: Any, loc: tuple[int | str, ...]) -> str:
    """``exec[2] (host tool a)``: the entry an error is in, named by its key when readable."""
    if len(loc) < 2 or not isinstance(loc[1], int):
        return str(loc[0]) if loc else "file"
    section, index = str(loc[0]), loc[1]
    where = f"{section}[{index}]"
    try:
        entry = raw[section][index]
        if section == "service":
            return f"{where} ({entry['method'].upper()} {entry['url']})"
        if section == "exec":
            return f"{where} ({exec_key(entry['target'], entry['cmd'], entry.get('args', []))})"
    except (KeyError, TypeError, IndexError, AttributeError):
        pass
    return where


def _describe(path: Path, raw: Any, exc: ValidationError) -> str:
    first = exc.errors(include_url=False)[0]
    loc = tuple(first["loc"])
    rest = loc[2:] if len(loc) >= 2 and isinstance(loc[1], int) else loc[1:]
    field = ".".join(str(part) if isinstance(part, str) else f"[{part}]" for part in rest).replace(".[", "[")
    entry = _label(raw, loc)
    what = f"{entry}: {field}" if field else entry
    message = "unknown field" if first["type"] == "extra_forbidden" else first["msg"]
    return f"mock file {path}: {what}: {message}"


def load_script(path: Path) -> Script:
    """Read and validate a mock file (TOML when it ends in .toml, else JSON)."""
    try:
        raw_bytes = path.read_bytes()
    except OSError as exc:
        raise ConfigError(f"cannot read mock file {path}: {exc.strerror}") from exc
    try:
        raw: Any = (
            tomllib.loads(raw_bytes.decode()) if path.suffix == ".toml" else json.loads(raw_bytes or b"{}")
        )
    except (ValueError, UnicodeDecodeError) as exc:
        kind = "TOML" if path.suffix == ".toml" else "JSON"
        raise ConfigError(f"mock file {path} is not valid {kind}: {exc}") from exc
    if not isinstance(raw, dict):
        raise ConfigError(f"mock file {path}: the top level must be an object of sections")
    try:
        return Script.model_validate(raw)
    except ValidationError as exc:
        raise ConfigError(_describe(path, raw, exc)) from exc

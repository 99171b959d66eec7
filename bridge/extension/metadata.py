"""``metadata.json``: the extension's manifest, read and checked with errors that say what is wrong.

The format is Docker Desktop's (docs.docker.com, "Extension metadata")::

    {"icon": "docker.svg",
     "ui": {"dashboard-tab": {"title": "T", "root": "/ui", "src": "index.html",
                              "backend": {"socket": "backend.sock"}}},
     "vm": {"image": "${DESKTOP_PLUGIN_IMAGE}" | "composefile": "compose.yaml",
            "exposes": {"socket": "backend.sock"}},
     "host": {"binaries": [{"linux": [{"path": "/linux/tool"}], "darwin": [...], "windows": [...]}]}}

Paths are inside the extension (its folder or image filesystem): a leading ``/`` means its root,
and ``..`` may not leave it. As published extensions rely on, the tab's ``src`` may also be an
http(s) URL (the tab then shows that page, and ``root`` is not used), and a file ``src`` may carry a query
(``index.html?v0.4.0``), kept on the page's URL. The early ``backend: {"tcp": ...}`` form of the
tab is reported as an unused field. Fields Docker Desktop knows but ddbridge does not use, and unknown
fields, are reported as warnings, never silently dropped.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any
from urllib.parse import urlsplit

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

PLUGIN_IMAGE = "${DESKTOP_PLUGIN_IMAGE}"
PLATFORM = {"linux": "linux", "darwin": "darwin", "win32": "windows"}.get(sys.platform, sys.platform)


class ExtensionError(Exception):
    """The extension cannot be loaded or run; the message says what is wrong, on one line."""


class MetadataError(ExtensionError):
    """metadata.json is missing, unreadable or wrong; the message names the file and the field."""


def inside_path(value: str, what: str) -> str:
    """A path inside the extension, normalised to a relative POSIX path ('' for its root)."""
    path = PurePosixPath(value)
    if ".." in path.parts:
        raise ValueError(f"{what} {value!r} leaves the extension ('..' is not allowed)")
    if "\\" in value or "\x00" in value:
        raise ValueError(f"{what} {value!r} is not a POSIX path")
    return str(PurePosixPath(*path.parts[1:] if path.is_absolute() else path.parts)).lstrip(".")


class _Part(BaseModel):
    # Unknown fields are kept so that they can be reported as warnings.
    model_config = ConfigDict(extra="allow", frozen=True, populate_by_name=True)


def _socket_name(socket: str) -> str:
    if "/" in socket or socket in (".", ".."):
        raise ValueError(f"socket {socket!r} must be a file name (it lives in /run/guest-services)")
    return socket


class Socket(_Part):
    socket: str = Field(min_length=1)

    @field_validator("socket")
    @classmethod
    def _plain_name(cls, value: str) -> str:
        return _socket_name(value)


class TabBackend(_Part):
    """The tab's backend: a socket, or in early extensions ``{"tcp": "9000"}``, which ddbridge
    does not use (a warning names the field, as for any field it does not use)."""

    socket: str | None = Field(default=None, min_length=1)

    @field_validator("socket")
    @classmethod
    def _plain_name(cls, value: str | None) -> str | None:
        return None if value is None else _socket_name(value)


def tab_url(src: str) -> str | None:
    """``src`` when it is a URL (http or https), None when it is a path; other schemes are refused."""
    scheme = urlsplit(src).scheme
    if not scheme:
        return None
    if scheme.lower() not in ("http", "https") or not urlsplit(src).netloc:
        raise ValueError(f"ui src {src!r} is neither a file in ui root nor an http(s) URL")
    return src


def _src_parts(src: str) -> tuple[str, str]:
    """A file ``src`` split into its path and its ``?query`` (``''`` when it has none)."""
    path, mark, query = src.split("#", 1)[0].partition("?")
    return path, mark + query


class DashboardTab(_Part):
    title: str = Field(min_length=1)
    root: str = "/ui"
    src: str = "index.html"
    backend: TabBackend | None = None

    @field_validator("root")
    @classmethod
    def _inside(cls, value: str, info: ValidationInfo) -> str:
        inside_path(value, f"ui {info.field_name}")
        return value

    @field_validator("src")
    @classmethod
    def _file_or_url(cls, value: str) -> str:
        if tab_url(value) is None:
            inside_path(_src_parts(value)[0], "ui src")
        return value


class UI(_Part):
    dashboard_tab: DashboardTab = Field(alias="dashboard-tab")


class VM(_Part):
    image: str | None = None
    composefile: str | None = None
    exposes: Socket | None = None

    @model_validator(mode="after")
    def _one_backend(self) -> VM:
        if (self.image is None) == (self.composefile is None):
            raise ValueError("vm needs exactly one of 'image' and 'composefile'")
        return self

    @field_validator("composefile")
    @classmethod
    def _inside(cls, value: str | None) -> str | None:
        if value is not None:
            inside_path(value, "vm composefile")
        return value


class BinaryPath(_Part):
    path: str = Field(min_length=1)


class HostSection(_Part):
    binaries: list[dict[str, list[BinaryPath]]] = Field(default_factory=list)


class Manifest(_Part):
    icon: str | None = None
    ui: UI | None = None
    vm: VM | None = None
    host: HostSection | None = None


@dataclass(frozen=True)
class Metadata:
    """A checked metadata.json: the manifest, plus what of it this bridge will not use."""

    manifest: Manifest
    warnings: list[str] = field(default_factory=list)

    @property
    def title(self) -> str | None:
        return self.manifest.ui.dashboard_tab.title if self.manifest.ui else None

    @property
    def ui_url(self) -> str | None:
        """The page the tab shows when ``src`` is an http(s) URL: no UI folder is used then."""
        return tab_url(self.manifest.ui.dashboard_tab.src) if self.manifest.ui else None

    @property
    def ui_root(self) -> str | None:
        """The UI folder, None when there is no tab or the tab is a URL."""
        if self.manifest.ui is None or self.ui_url is not None:
            return None
        return inside_path(self.manifest.ui.dashboard_tab.root, "ui root")

    @property
    def ui_src(self) -> str:
        """The tab's page, a file in ``ui_root``, without its query."""
        if self.manifest.ui is None or self.ui_url is not None:
            return "index.html"
        return inside_path(_src_parts(self.manifest.ui.dashboard_tab.src)[0], "ui src") or "index.html"

    @property
    def ui_query(self) -> str:
        """The query of a file ``src`` (``?v0.4.0``), kept on the page's URL; ``''`` for none."""
        if self.manifest.ui is None or self.ui_url is not None:
            return ""
        return _src_parts(self.manifest.ui.dashboard_tab.src)[1]

    @property
    def icon(self) -> str | None:
        return inside_path(self.manifest.icon, "icon") if self.manifest.icon else None

    @property
    def backend_socket(self) -> str | None:
        """The socket name the backend listens on (vm.exposes, else the tab's backend)."""
        vm, ui = self.manifest.vm, self.manifest.ui
        if vm is not None and vm.exposes is not None:
            return vm.exposes.socket
        if ui is not None and ui.dashboard_tab.backend is not None:
            return ui.dashboard_tab.backend.socket
        return None

    @property
    def composefile(self) -> str | None:
        vm = self.manifest.vm
        return inside_path(vm.composefile, "vm composefile") if vm and vm.composefile else None

    def host_binaries(self, platform: str = PLATFORM) -> list[str]:
        """This platform's host binaries, as paths inside the extension."""
        found = []
        if self.manifest.host is not None:
            for entry in self.manifest.host.binaries:
                for binary in entry.get(platform, []):
                    found.append(inside_path(binary.path, f"host binary for {platform}"))
        return found


def _extras(value: Any, where: str) -> Iterator[str]:
    """The dotted names of every unknown field, however deep."""
    if isinstance(value, BaseModel):
        yield from (f"{where}{name}" for name in value.model_extra or {})
        for name, info in type(value).model_fields.items():
            yield from _extras(getattr(value, name), f"{where}{info.alias or name}.")
    elif isinstance(value, list):
        for item in value:
            yield from _extras(item, where)
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from _extras(item, f"{where}{key}.")


def _describe(source: str, exc: ValidationError) -> str:
    problems = []
    for err in exc.errors(include_url=False):
        where = ".".join(str(part) for part in err["loc"])
        message = err["msg"].removeprefix("Value error, ")
        problems.append(f"{where}: {message}" if where else message)
    return f"{source}: " + "; ".join(problems)


def parse_metadata(text: str | bytes, source: str = "metadata.json") -> Metadata:
    """Check a metadata.json document; ``MetadataError`` names the source and the fields."""
    try:
        raw: Any = json.loads(text)
    except ValueError as exc:
        raise MetadataError(f"{source} is not valid JSON: {exc}") from exc
    if not isinstance(raw, dict):
        raise MetadataError(f"{source} must hold a JSON object")
    try:
        manifest = Manifest.model_validate(raw)
    except ValidationError as exc:
        raise MetadataError(_describe(source, exc)) from exc
    warnings = [
        f"{source}: {name} is not supported by ddbridge and is ignored" for name in _extras(manifest, "")
    ]
    platforms = {name for entry in (manifest.host.binaries if manifest.host else []) for name in entry}
    unknown = platforms - {"linux", "darwin", "windows"}
    warnings.extend(
        f"{source}: host.binaries platform {name!r} is unknown and is ignored" for name in sorted(unknown)
    )
    if manifest.ui is None:
        warnings.append(f"{source}: no ui.dashboard-tab: the extension has no UI to serve")
    return Metadata(manifest, warnings)


def load_metadata(folder: Path) -> Metadata:
    """metadata.json at the root of an extension folder."""
    path = folder / "metadata.json"
    try:
        text = path.read_bytes()
    except FileNotFoundError as exc:
        raise MetadataError(f"{folder} has no metadata.json: is it an extension folder?") from exc
    except OSError as exc:
        raise MetadataError(f"cannot read {path}: {exc.strerror}") from exc
    return parse_metadata(text, str(path))

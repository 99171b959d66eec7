"""``desktop.openDialog``, ``desktop.listDirectory``, ``desktop.resolveDialog``: the open dialog.

Docker Desktop answers ``showOpenDialog`` with Electron's native dialog. A browser has none that
returns host paths, so the shim draws its own and browses the host through the daemon. The
daemon is the one that enforces the rules: every path a page sends is resolved first (symlinks
and ``..``, as the kernel follows them), then checked to lie inside the configured roots
(``[dialog] roots``), and only the resolved path is used and handed back. A path outside and
a path that does not exist get the same error, and a symlink leading out is listed without its
target's metadata, so a page learns nothing of the host outside the roots whatever it sends.

With ``[dialog] script`` set, ``openDialog`` answers from that file instead, one answer per call
in order, so that tests of an extension need no clicking. Those answers are the operator's,
returned as written (they may name paths that exist only where the extension will look).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import stat
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError

from bridge.api.models import Params
from bridge.errors import ConfigError, Forbidden, InvalidParams, LimitExceeded, NotConfigured
from bridge.rpc import MethodRouter

if TYPE_CHECKING:
    from bridge.config import DialogSettings
    from bridge.connection import Session

log = logging.getLogger("ddbridge.desktop")

router = MethodRouter("desktop")

# A folder with more entries than this is listed in part (``truncated``): the page stays usable.
MAX_ENTRIES = 5000

# Electron's OpenDialogOptions.properties. The macOS/Windows-only ones are accepted and ignored,
# so an extension written for Docker Desktop is not refused for asking.
Property = Literal[
    "openFile",
    "openDirectory",
    "multiSelections",
    "showHiddenFiles",
    "createDirectory",
    "promptToCreate",
    "noResolveAliases",
    "treatPackageAsDirectory",
    "dontAddToRecent",
]


class FileFilter(Params):
    name: str
    extensions: tuple[str, ...]


class DialogProps(Params):
    """Electron's OpenDialogOptions (``message`` and ``securityScopedBookmarks`` are macOS's)."""

    title: str | None = None
    defaultPath: str | None = None
    buttonLabel: str | None = None
    message: str | None = None
    filters: tuple[FileFilter, ...] = ()
    properties: tuple[Property, ...] = ()
    securityScopedBookmarks: bool = False

    @property
    def files(self) -> bool:
        """Whether files can be chosen: Electron's default when neither kind is named."""
        return "openFile" in self.properties or "openDirectory" not in self.properties

    @property
    def directories(self) -> bool:
        return "openDirectory" in self.properties


class Answer(BaseModel):
    """One scripted answer, as ``showOpenDialog`` resolves."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    canceled: bool
    filePaths: tuple[str, ...] = ()


_SCRIPT = TypeAdapter(list[Answer])


def load_script(path: Path) -> list[Answer]:
    """The answers of a ``[dialog] script`` file, or a ``ConfigError`` saying what is wrong."""
    try:
        return _SCRIPT.validate_json(path.read_bytes())
    except OSError as exc:
        raise ConfigError(f"cannot read the dialog script {path}: {exc.strerror}") from exc
    except ValidationError as exc:
        first = exc.errors(include_url=False)[0]
        where = ".".join(str(part) for part in first["loc"])
        raise ConfigError(
            f"dialog script {path} must be a JSON list of {{canceled, filePaths}}: {where}: {first['msg']}"
        ) from exc


def _resolve(path: Path) -> Path | None:
    """The real location of an existing ``path`` (every symlink and ``..`` resolved), or None.

    Resolution is strict: a ``..`` after a symlink climbs from the symlink's target, as the
    kernel does, never lexically from the name the page wrote.
    """
    try:
        return Path(os.path.realpath(path, strict=True))
    except (OSError, ValueError):  # missing, a loop, too long, a NUL byte
        return None


@dataclass(frozen=True, slots=True)
class Place:
    """A path the dialog may use: its real location, and the root it lies in."""

    path: Path
    root: Path


@dataclass
class Dialogs:
    """The roots the dialog may browse, and the scripted answers not used yet."""

    settings: DialogSettings
    answers: deque[Answer] = field(init=False)
    used: int = 0

    def __post_init__(self) -> None:
        script = self.settings.script
        self.answers = deque(load_script(script) if script is not None else ())

    @property
    def roots(self) -> list[Path]:
        """The roots that exist, symlinks resolved (on each call: a root may come or go).

        A missing root is not a startup error: the default, the home folder, may not exist in
        a container, and the daemon has more to do than the dialog.
        """
        roots = [Path(os.path.realpath(root)) for root in self.settings.roots]
        found = [root for root in roots if root.is_dir()]
        if not found:
            raise NotConfigured(
                f"none of the open dialog's folders exists ({', '.join(map(str, roots))}); "
                "give one with --dialog-root DIR",
                setting="dialog.roots",
            )
        return found

    def next_answer(self) -> Answer | None:
        """The next scripted answer; None when no script is configured."""
        if self.settings.script is None:
            return None
        if not self.answers:
            raise LimitExceeded(
                f"the dialog script {self.settings.script} has no answer left ({self.used} used)",
                limit="dialog.script",
                value=self.used,
            )
        self.used += 1
        return self.answers.popleft()

    def root_of(self, real: Path) -> Path | None:
        """The root that ``real`` (a resolved path) lies in, if any."""
        return next((root for root in self.roots if real.is_relative_to(root)), None)

    def confine(self, raw: str, where: str) -> Place:
        """``raw`` resolved, once it exists and its real location lies inside a root.

        What the page gets back, and what is listed or stat'ed, is the resolved path, never
        ``raw``: a check on one path and a use of another is how ``deep/../../..`` (``deep`` a
        symlink) once reached ``/etc``. A path outside the roots and one that does not exist get
        the same error, so the page learns nothing of what lies outside.
        """
        path = Path(raw)
        if not path.is_absolute():
            raise InvalidParams(f"{where}: {raw!r} is not an absolute path", field=where)
        real = _resolve(path)
        root = self.root_of(real) if real is not None else None
        if real is None or root is None:
            raise Forbidden(
                f"{where}: {raw} is outside the folders the open dialog may show, or does not exist "
                f"({', '.join(map(str, self.roots))}; add one with --dialog-root DIR)"
            )
        return Place(real, root)

    def start(self, default_path: str | None) -> Path:
        """The folder the dialog opens in: ``defaultPath`` (its folder when it names a file or
        nothing yet) when inside the roots, else the first root."""
        if default_path:
            for candidate in (default_path, str(Path(default_path).parent)):
                try:
                    place = self.confine(candidate, "props.defaultPath")
                except (Forbidden, InvalidParams) as exc:
                    log.debug("open dialog: defaultPath ignored: %s", exc.message)
                    continue
                return place.path if place.path.is_dir() else place.path.parent
        return self.roots[0]


def _kind(mode: int) -> str | None:
    if stat.S_ISDIR(mode):
        return "dir"
    if stat.S_ISREG(mode):
        return "file"
    return None


def _entry(dialogs: Dialogs, folder: Path, entry: os.DirEntry[str]) -> dict[str, Any] | None:
    """One listed entry, or None for sockets, devices and the like.

    A symlink whose target lies inside the roots shows as that target (its kind, size and
    mtime, ``link: true``). One leading out, or nowhere, is a ``link``: its own mtime, no size,
    and its target is never stat'ed, so a listing tells nothing of what lies outside.
    """
    try:
        own = entry.stat(follow_symlinks=False)
    except OSError:
        return None
    info: dict[str, Any] = {"name": entry.name, "path": str(folder / entry.name)}
    shown = own
    if stat.S_ISLNK(own.st_mode):
        info["link"] = True
        target = _resolve(folder / entry.name)
        if target is not None and dialogs.root_of(target) is not None:
            with contextlib.suppress(OSError):  # gone meanwhile: shown as the link it is
                shown = target.stat()
    kind = _kind(shown.st_mode)
    if kind is None and not stat.S_ISLNK(shown.st_mode):
        return None
    info.update(kind=kind or "link", size=shown.st_size if kind == "file" else None, mtime=shown.st_mtime)
    return info


def _crumbs(folder: Path, root: Path) -> list[dict[str, str]]:
    """The path bar: the root, then each folder down to ``folder`` (both resolved); the shim
    shows each full path on hover."""
    chain = [root]
    for part in folder.relative_to(root).parts:
        chain.append(chain[-1] / part)
    return [{"name": path.name or str(path), "path": str(path)} for path in chain]


def list_directory(dialogs: Dialogs, raw: str, show_hidden: bool) -> dict[str, Any]:
    """The folder's entries, folders first, then by name ignoring case."""
    place = dialogs.confine(raw, "path")
    folder, root = place.path, place.root
    if not folder.is_dir():
        raise InvalidParams(f"path: {raw} is not a folder", field="path")
    try:
        with os.scandir(folder) as scan:
            listed = [_entry(dialogs, folder, item) for item in scan if show_hidden or item.name[:1] != "."]
    except OSError as exc:
        raise Forbidden(f"cannot list {folder}: {exc.strerror}") from exc
    found = [entry for entry in listed if entry is not None]
    found.sort(key=lambda entry: (entry["kind"] != "dir", entry["name"].casefold(), entry["name"]))
    return {
        "path": str(folder),
        "parent": None if folder == root else str(folder.parent),
        "root": str(root),
        "crumbs": _crumbs(folder, root),
        "entries": found[:MAX_ENTRIES],
        "truncated": len(found) > MAX_ENTRIES,
    }


def resolve_selection(dialogs: Dialogs, props: DialogProps, paths: tuple[str, ...]) -> list[str]:
    """The chosen paths, resolved, once each is inside the roots, exists, and is of a kind
    ``props`` allow."""
    if not paths:
        raise InvalidParams("filePaths: choose at least one item (or cancel)", field="filePaths")
    if len(paths) > 1 and "multiSelections" not in props.properties:
        raise InvalidParams("filePaths: one item only (no multiSelections)", field="filePaths")
    chosen = []
    for index, raw in enumerate(paths):
        where = f"filePaths.{index}"
        path = dialogs.confine(raw, where).path
        if path.is_dir() and not props.directories:
            raise InvalidParams(f"{where}: {raw} is a folder; this dialog opens files", field=where)
        if path.is_file() and not props.files:
            raise InvalidParams(f"{where}: {raw} is a file; this dialog opens folders", field=where)
        if not (path.is_dir() or path.is_file()):
            raise InvalidParams(f"{where}: {raw} is neither a file nor a folder", field=where)
        chosen.append(str(path))
    return chosen


class OpenDialogParams(Params):
    props: DialogProps = DialogProps()


class ListDirectoryParams(Params):
    path: str = Field(min_length=1)
    showHidden: bool = False


class ResolveDialogParams(Params):
    props: DialogProps = DialogProps()
    filePaths: tuple[str, ...]


@router.method("openDialog")
async def open_dialog(params: OpenDialogParams, session: Session) -> dict[str, Any]:
    """The scripted answer when there is a script; else tells the shim to draw the dialog,
    where to open it and which roots it may browse."""
    answer = session.bridge.dialogs.next_answer()
    if answer is not None:
        return answer.model_dump(mode="json")
    dialogs = session.bridge.dialogs
    return {
        "interactive": True,
        "roots": [str(root) for root in dialogs.roots],
        "start": str(dialogs.start(params.props.defaultPath)),
    }


@router.method("listDirectory")
async def list_directory_method(params: ListDirectoryParams, session: Session) -> dict[str, Any]:
    return await asyncio.to_thread(list_directory, session.bridge.dialogs, params.path, params.showHidden)


@router.method("resolveDialog")
async def resolve_dialog(params: ResolveDialogParams, session: Session) -> dict[str, Any]:
    """The shim's final check of what the user chose: only paths inside the roots come back."""
    chosen = await asyncio.to_thread(
        resolve_selection, session.bridge.dialogs, params.props, params.filePaths
    )
    log.info("open dialog from %s chose %s", session.peer, chosen)
    return {"canceled": False, "filePaths": chosen}

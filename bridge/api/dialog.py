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
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from pydantic import Field

from bridge.api.models import Params
from bridge.dialogs import Dialogs, resolve_existing
from bridge.errors import Forbidden, InvalidParams
from bridge.rpc import MethodRouter

if TYPE_CHECKING:
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
        target = resolve_existing(folder / entry.name)
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
    answer = session.daemon.dialogs.next_answer()
    if answer is not None:
        return answer.model_dump(mode="json")
    dialogs = session.daemon.dialogs
    return {
        "interactive": True,
        "roots": [str(root) for root in dialogs.roots],
        "start": str(dialogs.start(params.props.defaultPath)),
    }


@router.method("listDirectory")
async def list_directory_method(params: ListDirectoryParams, session: Session) -> dict[str, Any]:
    return await asyncio.to_thread(list_directory, session.daemon.dialogs, params.path, params.showHidden)


@router.method("resolveDialog")
async def resolve_dialog(params: ResolveDialogParams, session: Session) -> dict[str, Any]:
    """The shim's final check of what the user chose: only paths inside the roots come back."""
    chosen = await asyncio.to_thread(
        resolve_selection, session.daemon.dialogs, params.props, params.filePaths
    )
    log.info("open dialog from %s chose %s", session.peer, chosen)
    return {"canceled": False, "filePaths": chosen}

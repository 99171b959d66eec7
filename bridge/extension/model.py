"""An extension ready to be served: its files on disk (a folder, or what was extracted from its
image) and its checked metadata."""

from __future__ import annotations

import re
import shutil
import stat
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from bridge.errors import ConfigError
from bridge.extension.metadata import ExtensionError, Metadata, load_metadata
from bridge.extension.ui import source_script

# Where a source checkout keeps the built UI when ui.root holds the UI's sources.
_BUILD_FOLDERS = ("build", "dist")


@dataclass(frozen=True)
class Extension:
    root: Path
    metadata: Metadata
    image: str = ""
    image_id: str = ""

    @classmethod
    def from_folder(cls, folder: Path, image: str = "") -> Extension:
        if not folder.is_dir():
            raise ConfigError(f"extension folder {folder} does not exist or is not a folder")
        return cls(folder.resolve(), load_metadata(folder), image)

    @property
    def name(self) -> str:
        """A name fit for compose projects and container names: lower-case, [a-z0-9-]."""
        base = self.image.rsplit("/", 1)[-1].split("@")[0].split(":")[0] if self.image else self.root.name
        slug = re.sub(r"[^a-z0-9]+", "-", base.lower()).strip("-")
        return slug or "extension"

    @property
    def title(self) -> str:
        return self.metadata.title or self.name

    def _inside(self, relative: str, what: str) -> Path:
        path = (self.root / relative).resolve()
        if not path.is_relative_to(self.root):
            raise ExtensionError(f"{what} {relative!r} resolves outside the extension {self.root}")
        return path

    @property
    def entry(self) -> str:
        """Where the extension's tab opens: its URL, or its page's path with the query kept;
        ``''`` when that is the served folder's ``/`` (index.html, no query)."""
        metadata = self.metadata
        if metadata.ui_url is not None:
            return metadata.ui_url
        if metadata.ui_root is None or (metadata.ui_src == "index.html" and not metadata.ui_query):
            return ""
        return f"/{metadata.ui_src}{metadata.ui_query}"

    def ui_folder(self) -> Path | None:
        """The folder to serve: ui.root, or its build output (build/, dist/) when ui.root holds
        the UI's sources: no page there, or a page whose scripts are sources (``/src/main.tsx``)."""
        if self.metadata.ui_root is None:
            return None
        folder = self._inside(self.metadata.ui_root, "ui root")
        page = folder / self.metadata.ui_src
        sources = source_script(page.read_bytes()) if page.is_file() else None
        if page.is_file() and sources is None:
            return folder
        for name in _BUILD_FOLDERS:
            build = self._inside(str(PurePosixPath(self.metadata.ui_root, name)), "ui build folder")
            if (build / self.metadata.ui_src).is_file():
                return build
        found = f"{page} loads the sources {sources!r}" if sources else f"{page.name!r} is not in {folder}"
        raise ExtensionError(
            f"the UI entry point: {found} (and no {' or '.join(_BUILD_FOLDERS)} folder holds "
            f"{self.metadata.ui_src!r}): build the UI first, or serve a dev server with --ui-source URL"
        )

    def missing(self, *, ui: bool = True, host_binaries: bool = True, composefile: bool = True) -> list[str]:
        """What metadata.json names that this folder does not hold, of the parts asked for."""
        absent = []
        if ui:
            try:
                self.ui_folder()
            except ExtensionError:
                page = "/".join(part for part in (self.metadata.ui_root, self.metadata.ui_src) if part)
                absent.append(f"the UI /{page}")
        if host_binaries:
            absent.extend(
                f"the host binary /{binary}"
                for binary in self.metadata.host_binaries()
                if not self._inside(binary, "host binary").is_file()
            )
        composed = self.metadata.composefile
        if composefile and composed is not None and not self._inside(composed, "vm composefile").is_file():
            absent.append(f"the compose file /{composed}")
        return absent

    def icon_file(self) -> Path | None:
        if self.metadata.icon is None:
            return None
        icon = self._inside(self.metadata.icon, "icon")
        return icon if icon.is_file() else None

    def install_host_binaries(self, destination: Path) -> list[str]:
        """Copy this platform's host binaries into ``destination`` by file name, executable.

        ``extension.host.cli.exec("tool")`` names a binary by its file name, as in Docker Desktop,
        which copies them out of the image the same way.
        """
        installed = []
        for relative in self.metadata.host_binaries():
            source = self._inside(relative, "host binary")
            if not source.is_file():
                raise ExtensionError(f"host binary {relative!r} named in metadata.json is not in {self.root}")
            destination.mkdir(parents=True, exist_ok=True)
            target = destination / source.name
            shutil.copyfile(source, target)
            target.chmod(target.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
            installed.append(source.name)
        return installed

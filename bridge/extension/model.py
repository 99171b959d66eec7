"""An extension ready to be served: its files on disk (a folder, or what was extracted from its
image) and its checked metadata."""

from __future__ import annotations

import re
import shutil
import stat
from dataclasses import dataclass
from pathlib import Path

from bridge.errors import ConfigError
from bridge.extension.metadata import ExtensionError, Metadata, load_metadata

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

    def ui_folder(self) -> Path | None:
        """The folder to serve (ui.root), or its build output when ui.root holds sources."""
        if self.metadata.ui_root is None:
            return None
        folder = self._inside(self.metadata.ui_root, "ui root")
        if (folder / self.metadata.ui_src).is_file():
            return folder
        for build in _BUILD_FOLDERS:
            if (folder / build / self.metadata.ui_src).is_file():
                return folder / build
        raise ExtensionError(
            f"the UI entry point {self.metadata.ui_src!r} is not in {folder} (nor in its "
            f"{' or '.join(_BUILD_FOLDERS)} folder): build the UI first, or serve a dev server "
            "with --ui-source URL"
        )

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

"""What is installed: one small JSON file, ``$XDG_DATA_HOME/ddbridge/extensions.json``.

What is in it is what ``ddbridge extension ls`` prints. It is written atomically (a temporary
file beside it, flushed to disk, renamed over it), under an advisory lock the CLI and a running
host share, and it carries a version. A store that exists but cannot be read, does not parse or
has a version this ddbridge does not know is refused with one line naming it and is never
overwritten: what was installed must not be forgotten because of a bad write elsewhere.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import re
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass, fields, replace
from pathlib import Path
from typing import Any

from bridge.errors import ConfigError

VERSION = 1
FILE = "extensions.json"
_SLUG_LENGTH = 63  # a DNS label
_NOT_IN_SLUG = re.compile(r"[^a-z0-9]+")


class StoreError(ConfigError):
    """The store cannot be used; the message names the file and what is wrong with it."""


def data_root(environ: dict[str, str] | None = None) -> Path:
    """``$XDG_DATA_HOME/ddbridge`` (``~/.local/share/ddbridge``)."""
    env = os.environ if environ is None else environ
    return Path(env.get("XDG_DATA_HOME") or Path.home() / ".local" / "share") / "ddbridge"


@dataclass(frozen=True)
class InstalledExtension:
    """One installed extension as the store keeps it; ``name`` (the image's repository, as
    ``docker extension`` names extensions) is its key, ``slug`` names its origin."""

    name: str
    image: str
    image_id: str
    title: str
    slug: str
    provider: str = ""
    version: str = ""
    ui_source: str | None = None
    installed_at: float = 0.0

    def with_ui_source(self, url: str | None) -> InstalledExtension:
        return replace(self, ui_source=url)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> InstalledExtension:
        known = {field.name for field in fields(cls)}
        return cls(**{key: value for key, value in data.items() if key in known})


def pick_slug(name: str, taken: set[str]) -> str:
    """A DNS label for ``name``'s origin (``docker/logs-explorer-extension`` →
    ``docker-logs-explorer-extension``), not one of ``taken``."""
    base = _NOT_IN_SLUG.sub("-", name.lower()).strip("-")[:_SLUG_LENGTH].strip("-") or "extension"
    slug, number = base, 1
    while slug in taken:
        number += 1
        suffix = f"-{number}"
        slug = base[: _SLUG_LENGTH - len(suffix)].rstrip("-") + suffix
    return slug


class Store:
    """The store in folder ``root`` (made, mode 0700, on the first write)."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.path = root / FILE

    def load(self) -> list[InstalledExtension]:
        with self._locked():
            return list(self._read().values())

    def get(self, name: str) -> InstalledExtension | None:
        with self._locked():
            return self._read().get(name)

    def put(self, entry: InstalledExtension) -> None:
        with self._locked():
            entries = self._read()
            entries[entry.name] = entry if entry.installed_at else replace(entry, installed_at=time.time())
            self._write(entries)

    def remove(self, name: str) -> None:
        with self._locked():
            entries = self._read()
            if entries.pop(name, None) is not None:
                self._write(entries)

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        try:
            self.root.mkdir(parents=True, exist_ok=True, mode=0o700)
            lock = (self.root / f"{FILE}.lock").open("a")
        except OSError as exc:
            raise StoreError(f"cannot use the extensions store {self.path}: {exc.strerror}") from exc
        with lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            yield

    def _read(self) -> dict[str, InstalledExtension]:
        try:
            text = self.path.read_text()
        except FileNotFoundError:
            return {}
        except (OSError, UnicodeDecodeError) as exc:
            raise StoreError(f"cannot read the extensions store {self.path}: {exc}") from exc
        try:
            data = json.loads(text)
            if not isinstance(data, dict) or data.get("version") != VERSION:
                version = data.get("version") if isinstance(data, dict) else None
                raise StoreError(
                    f"the extensions store {self.path} has version {version!r}, not {VERSION}: it was "
                    "written by another ddbridge; it was left as it is"
                )
            entries = [InstalledExtension.from_json(item) for item in data["extensions"]]
        except (ValueError, KeyError, TypeError) as exc:
            raise StoreError(
                f"the extensions store {self.path} is damaged ({exc}); it was left as it is: repair "
                "or move it away"
            ) from exc
        return {entry.name: entry for entry in entries}

    def _write(self, entries: dict[str, InstalledExtension]) -> None:
        data = {"version": VERSION, "extensions": [asdict(entry) for _, entry in sorted(entries.items())]}
        partial = self.path.with_name(f".{FILE}.partial")
        descriptor = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(descriptor, "w") as file:
            json.dump(data, file, indent=2)
            file.flush()
            os.fsync(file.fileno())
        os.replace(partial, self.path)

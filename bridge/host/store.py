"""What is installed: one small JSON file, ``$XDG_DATA_HOME/ddbridge/extensions.json``.

What is in it is what ``ddbridge extension ls`` prints and what the host brings up when it
starts. The file carries a version (``{"version": 1, "extensions": [...]}``) and is written
atomically: a temporary file in the same folder, flushed to disk, renamed over the old one, so a
crash mid-write leaves the old file whole. The CLI and a running host may both write it: every
read-modify-write holds an exclusive ``flock`` on ``extensions.json.lock`` beside it. Readers
take no lock (a rename is atomic). The folder is the user's own (0700), the file 0600.

A store that exists but cannot be read, does not parse, holds a damaged entry or carries a
version this ddbridge does not know is refused (``StoreError``, one line naming the file and the
problem) and never written over: what was installed must not be forgotten because the file was
damaged or written by another ddbridge.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import re
import stat
import tempfile
from collections.abc import Collection, Iterator, Mapping
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pydantic import TypeAdapter, ValidationError

from bridge.errors import ConfigError

VERSION = 1
FILE = "extensions.json"
LOCK = f"{FILE}.lock"
# A slug names the extension's origin, <slug>.localhost: it is one DNS label (RFC 1035).
SLUG_LENGTH = 63
_SLUG = re.compile(r"[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?", re.ASCII)
_NOT_IN_SLUG = re.compile(r"[^a-z0-9]+", re.ASCII)


class StoreError(ConfigError):
    """The store cannot be used; the message names the file and what is wrong with it."""


def data_root(environ: Mapping[str, str] | None = None) -> Path:
    """``$XDG_DATA_HOME/ddbridge``, else ``~/.local/share/ddbridge``: the store's folder."""
    env = os.environ if environ is None else environ
    base = Path(env["XDG_DATA_HOME"]) if env.get("XDG_DATA_HOME") else Path.home() / ".local" / "share"
    return base / "ddbridge"


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


@dataclass(frozen=True)
class InstalledExtension:
    """One installed extension, as the store keeps it.

    ``name`` is the image's repository (``docker/logs-explorer-extension``), the key, as
    ``docker extension`` names extensions; ``image`` the reference as installed (with its tag),
    ``version`` that tag; ``provider`` the image's ``org.opencontainers.image.vendor``;
    ``slug`` the DNS label of its origin ``<slug>.localhost`` (``pick_slug``); ``ui_source`` the
    dev server its UI comes from (``dev ui-source``), None for its own; ``installed_at`` when it
    was installed (ISO 8601, UTC).
    """

    name: str
    image: str
    image_id: str
    title: str
    slug: str
    provider: str = ""
    version: str = ""
    ui_source: str | None = None
    installed_at: str = field(default_factory=_now)

    def __post_init__(self) -> None:
        if not self.name:
            raise ValueError("an installed extension needs a name")
        if _SLUG.fullmatch(self.slug) is None:
            raise ValueError(
                f"slug {self.slug!r} of {self.name} is not a DNS label "
                f"(lower-case a-z, 0-9 and '-', at most {SLUG_LENGTH} characters, no '-' at either end)"
            )

    def with_ui_source(self, url: str | None) -> InstalledExtension:
        """This entry with its UI from ``url`` (a dev server), or its own UI for None."""
        return replace(self, ui_source=url)


_ENTRIES = TypeAdapter(list[InstalledExtension])


def _slug_base(name: str) -> str:
    """``name`` as a DNS label, without its registry: the origin shows in the address bar, where
    ``docker-logs-explorer-extension`` says more than ``localhost-5000-docker-logs-...``."""
    first, _, rest = name.partition("/")
    if rest and ("." in first or ":" in first or first == "localhost"):
        name = rest  # a registry host, as the docker CLI tells them from a repository's path
    return _NOT_IN_SLUG.sub("-", name.lower()).strip("-")[:SLUG_LENGTH].rstrip("-") or "extension"


def pick_slug(name: str, taken: Collection[str]) -> str:
    """A slug for the extension ``name`` that none of ``taken`` has: its repository in lower case
    with runs of other characters (``/``, ``_``, ``.``) as ``-``, then ``-2``, ``-3``... on a clash
    (``docker/logs-explorer-extension`` → ``docker-logs-explorer-extension``)."""
    base = _slug_base(name)
    slug, number = base, 1
    while slug in taken:
        number += 1
        suffix = f"-{number}"
        slug = base[: SLUG_LENGTH - len(suffix)].rstrip("-") + suffix
    return slug


def _problem(exc: ValidationError) -> str:
    """The first thing wrong with the entries, located: ``entry 2 (x/y): image: Field required``."""
    error = exc.errors(include_url=False)[0]
    index, *where = error["loc"]
    message = error["msg"].removeprefix("Value error, ")
    located = f"{'.'.join(map(str, where))}: {message}" if where else message
    return f"entry {int(index) + 1}: {located}"


class Store:
    """The store in the folder ``root`` (``data_root()``); made, mode 0700, at the first write."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.path = root / FILE

    def load(self) -> list[InstalledExtension]:
        """Every installed extension, by name; none when there is no store yet."""
        return list(self._read().values())

    def get(self, name: str) -> InstalledExtension | None:
        return self._read().get(name)

    def put(self, entry: InstalledExtension) -> None:
        """Add ``entry``, or replace the one of its name. Its slug must be its own."""
        with self._locked():
            entries = self._read()
            for other in entries.values():
                if other.slug == entry.slug and other.name != entry.name:
                    raise StoreError(
                        f"cannot store {entry.name} in {self.path}: its slug {entry.slug!r} is "
                        f"{other.name}'s (pick_slug gives a free one)"
                    )
            entries[entry.name] = entry
            self._write(entries)

    def remove(self, name: str) -> bool:
        """Forget ``name``; False when it was not installed."""
        with self._locked():
            entries = self._read()
            if entries.pop(name, None) is None:
                return False
            self._write(entries)
            return True

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        """The folder made private, and the exclusive lock every writer takes."""
        try:
            self.root.mkdir(parents=True, exist_ok=True, mode=0o700)
            if stat.S_IMODE(self.root.stat().st_mode) & 0o077:
                self.root.chmod(0o700)
            descriptor = os.open(self.root / LOCK, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        except OSError as exc:
            raise StoreError(f"cannot lock the extensions store {self.path}: {exc.strerror}") from exc
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX)
            yield
        finally:
            os.close(descriptor)  # closing it releases the lock

    def _refuse(self, problem: str) -> StoreError:
        return StoreError(
            f"the extensions store {self.path} {problem}; "
            "ddbridge leaves it as it is: repair it or move it away"
        )

    def _read(self) -> dict[str, InstalledExtension]:
        try:
            text = self.path.read_bytes()
        except FileNotFoundError:
            return {}
        except OSError as exc:
            raise self._refuse(f"cannot be read ({exc.strerror})") from exc
        try:
            document: Any = json.loads(text)
        except ValueError as exc:
            raise self._refuse(f"is not valid JSON ({exc})") from exc
        if not isinstance(document, dict):
            raise self._refuse("does not hold a JSON object")
        if "version" not in document:
            raise self._refuse("has no version")
        if document["version"] != VERSION:
            raise self._refuse(
                f"has version {document['version']!r}, and this ddbridge knows version {VERSION} "
                "(was it written by a newer ddbridge?)"
            )
        if not isinstance(document.get("extensions"), list):
            raise self._refuse("has no list of extensions")
        try:
            entries = _ENTRIES.validate_python(document["extensions"])
        except ValidationError as exc:
            raise self._refuse(f"has a damaged entry ({_problem(exc)})") from exc
        found: dict[str, InstalledExtension] = {}
        slugs: dict[str, str] = {}
        for entry in entries:
            if entry.name in found:
                raise self._refuse(f"names {entry.name} twice")
            if entry.slug in slugs:
                raise self._refuse(f"gives {slugs[entry.slug]} and {entry.name} the same slug {entry.slug!r}")
            found[entry.name] = entry
            slugs[entry.slug] = entry.name
        return found

    def _write(self, entries: dict[str, InstalledExtension]) -> None:
        document = {"version": VERSION, "extensions": [asdict(entries[name]) for name in sorted(entries)]}
        data = (json.dumps(document, indent=2) + "\n").encode()
        descriptor, partial = tempfile.mkstemp(prefix=f".{FILE}.", suffix=".partial", dir=self.root)
        try:
            with os.fdopen(descriptor, "wb") as file:  # mkstemp made it 0600
                file.write(data)
                file.flush()
                os.fsync(file.fileno())
            os.replace(partial, self.path)
        except OSError as exc:
            with contextlib.suppress(OSError):
                os.unlink(partial)
            raise StoreError(f"cannot write the extensions store {self.path}: {exc.strerror or exc}") from exc
        # The rename itself must reach the disk for the new file to survive a power cut.
        folder = os.open(self.root, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        try:
            os.fsync(folder)
        finally:
            os.close(folder)

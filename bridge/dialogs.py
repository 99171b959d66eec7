"""The open dialog's state on the daemon: the folders it may browse (``[dialog] roots``), every
path a page sends confined to them, and the scripted answers (``[dialog] script``) not used yet.
The RPC methods are ``bridge.api.dialog``'s."""

from __future__ import annotations

import logging
import os
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from pydantic import BaseModel, ConfigDict, TypeAdapter, ValidationError

from bridge.errors import ConfigError, Forbidden, InvalidParams, LimitExceeded, NotConfigured

if TYPE_CHECKING:
    from bridge.config import DialogSettings

log = logging.getLogger("ddbridge.desktop")


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


def resolve_existing(path: Path) -> Path | None:
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
        real = resolve_existing(path)
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

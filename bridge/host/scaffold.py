"""``ddbridge extension init NAME``: a new extension's folder, as ``docker extension init`` makes one.

The folder is ``bridge/host/template`` with the extension's name put in: ``__EXTENSION_TITLE__``
(``my_extension`` → ``My Extension``) and ``__EXTENSION_NAME__``, the name as an image repository
(``my-extension``). What it holds, and how it is built, installed and developed, is in its
README.md. It is written into a temporary folder beside ``NAME`` and renamed into place, so an
``init`` that fails leaves nothing half made (an empty ``NAME`` that exists is kept, and filled).
"""

from __future__ import annotations

import re
import secrets
import shutil
from collections.abc import Iterator
from importlib.resources import files
from importlib.resources.abc import Traversable
from pathlib import Path, PurePosixPath

from bridge.errors import ConfigError
from bridge.host.store import pick_slug

TEMPLATE = files("bridge.host") / "template"
_WORDS = re.compile(r"[^\W_]+")


def _template_files(folder: Traversable, relative: PurePosixPath) -> Iterator[tuple[PurePosixPath, str]]:
    for entry in sorted(folder.iterdir(), key=lambda entry: entry.name):
        if entry.name == "__pycache__":
            continue  # left by running the template's backend where it is
        if entry.is_dir():
            yield from _template_files(entry, relative / entry.name)
        else:
            yield relative / entry.name, entry.read_text(encoding="utf-8")


def template() -> dict[PurePosixPath, str]:
    """The template's files: their paths in the new folder, and their text."""
    return dict(_template_files(TEMPLATE, PurePosixPath()))


def names(name: str) -> dict[str, str]:
    """The placeholders of the template and their values for the extension ``name``."""
    words = _WORDS.findall(name)
    return {
        "__EXTENSION_TITLE__": " ".join(word[:1].upper() + word[1:] for word in words) or "My Extension",
        "__EXTENSION_NAME__": pick_slug(name, ()),
    }


def _fill(text: str, values: dict[str, str]) -> str:
    for placeholder, value in values.items():
        text = text.replace(placeholder, value)
    return text


def create(folder: Path) -> Path:
    """Write a new extension into ``folder`` (made, or empty; ``ConfigError`` when it holds
    anything) and return it, absolute."""
    folder = folder.resolve()
    if folder.exists() and not folder.is_dir():
        raise ConfigError(f"{folder} exists and is not a folder: give init the name of a new folder")
    if folder.is_dir() and any(folder.iterdir()):
        raise ConfigError(f"{folder} is not empty: init writes a new extension into a new or empty folder")
    values = names(folder.name)
    partial = folder.with_name(f".{folder.name}.init-{secrets.token_hex(4)}")
    try:
        partial.mkdir(parents=True)
        for relative, text in template().items():
            path = partial.joinpath(*relative.parts)
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(_fill(text, values), encoding="utf-8")
        if folder.is_dir():
            # An empty folder that exists stays (it may be the shell's working folder): fill it.
            for entry in partial.iterdir():
                entry.rename(folder / entry.name)
        else:
            partial.rename(folder)
    except OSError as exc:
        raise ConfigError(f"cannot create {folder}: {exc.strerror}") from exc
    finally:
        shutil.rmtree(partial, ignore_errors=True)
    return folder

"""Extracting the tars of an image's paths into one folder, member by member, as they stream in.

``GET /containers/{id}/archive`` answers a tar of one path of the image; the extension's files
are several such tars extracted into one folder (an ``Extraction``). The image is not trusted,
so every rule holds whatever the archive holds:

- the archive is read in stream mode (``r|``) and each file is copied to disk as it arrives:
  memory does not grow with the archive, and the headers read are not kept either;
- what an extraction may write is capped, in bytes (a sparse member counts by its real size,
  which is what gets written) and in members, both checked before anything is written;
- a member's name stays under the requested path (no absolute names, no ``..``), and no member
  is written beneath a link: its folders are checked, on disk, to be real folders inside;
- a link is created only when its target, resolved on disk from the link's own location, lies
  inside, and it is written in its normal form: ``..`` only at its start, climbing from a real
  folder, then names going down. So a later link cannot turn an earlier one outwards: where an
  earlier one meets it, the rest of the earlier one only goes down from where the later one
  (itself checked) leads;
- files are opened with ``O_NOFOLLOW | O_EXCL``; devices and pipes are refused.
"""

from __future__ import annotations

import os
import shutil
import stat
import tarfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import IO, Protocol

from bridge.extension.metadata import ExtensionError

# Bytes read from the archive at a time, and copied to disk at a time.
CHUNK = 1024 * 1024


class Readable(Protocol):
    """What the tar is read from: a blocking ``read`` (the engine's answer, through a thread)."""

    def read(self, size: int, /) -> bytes: ...


@dataclass
class Extraction:
    """One extraction of an image's files into ``root``: what it may still write, and its links."""

    root: Path
    image: str
    max_bytes: int
    max_members: int
    written: int = 0
    members: int = 0

    def __post_init__(self) -> None:
        self.root = Path(os.path.realpath(self.root))

    def count_member(self, name: str) -> None:
        self.members += 1
        if self.members > self.max_members:
            raise ExtensionError(
                f"{self.image}: its files hold more than [extension] max_members = {self.max_members:,} "
                f"entries (at {name!r}): refused; raise the limit for an image you trust"
            )

    def reserve(self, size: int, name: str) -> None:
        """Count ``size`` bytes about to be written for ``name``, refusing them past the cap."""
        if self.written + size > self.max_bytes:
            raise ExtensionError(
                f"{self.image}: its files take more than [extension] max_bytes = {self.max_bytes:,} bytes "
                f"({name!r} is {size:,} bytes, after {self.written:,}): refused; "
                "raise the limit for an image you trust"
            )
        self.written += size


def _real(path: Path) -> Path:
    return Path(os.path.realpath(path))


def extract_archive(source: Readable, extraction: Extraction, path: str) -> None:
    """Extract the tar of the image's ``/path``, read from ``source``, into ``root/path``.

    The archive names its members from the last part of ``path`` (``GET …/archive?path=/ui``
    gives ``ui``, ``ui/index.html``...), so ``root/<parent of path>`` is where they go. Absolute
    symlink targets are paths in the image and become relative links inside the extension.
    """
    relative = PurePosixPath(path)
    base = extraction.root / relative.parent
    try:
        with tarfile.open(fileobj=source, mode="r|", bufsize=CHUNK) as archive:  # type: ignore[call-overload]
            while (member := archive.next()) is not None:
                archive.members.clear()  # stream mode keeps every header read; 100,000 add up
                extraction.count_member(member.name)
                _extract_member(archive, member, extraction, base, relative)
    except tarfile.TarError as exc:
        raise ExtensionError(f"{extraction.image}: the archive of /{path} cannot be read: {exc}") from exc


def _extract_member(
    archive: tarfile.TarFile,
    member: tarfile.TarInfo,
    extraction: Extraction,
    base: Path,
    relative: PurePosixPath,
) -> None:
    image, shown = extraction.image, f"/{relative.parent / member.name}"
    name = PurePosixPath(member.name)
    if name.is_absolute() or ".." in name.parts or not name.parts or name.parts[0] != relative.name:
        raise ExtensionError(f"{image}: the archive of /{relative} holds {member.name!r}: refused")
    target = base / name
    try:
        _make_folders(extraction, target.parent, shown)
        if target.is_symlink() or (target.exists() and not target.is_dir()):
            target.unlink()  # a later member of the same name replaces the earlier one
        _create(archive, member, extraction, base, target, relative)
    except OSError as exc:
        raise ExtensionError(f"{image}: cannot write {shown}: {exc.strerror}") from exc


def _create(
    archive: tarfile.TarFile,
    member: tarfile.TarInfo,
    extraction: Extraction,
    base: Path,
    target: Path,
    relative: PurePosixPath,
) -> None:
    shown = f"/{relative.parent / member.name}"
    if member.isdir():
        target.mkdir(exist_ok=True)
        target.chmod(0o755)
    elif member.isfile():
        extraction.reserve(member.size, member.name)
        content = archive.extractfile(member)
        assert content is not None
        _write(target, content, 0o755 if member.mode & 0o111 else 0o644)
    elif member.issym():
        _symlink(extraction, member, target, relative)
    elif member.islnk():
        _hard_link(extraction, member, base, target, relative)
    else:
        raise ExtensionError(f"{extraction.image}: {shown} is a device or pipe: refused")


def _make_folders(extraction: Extraction, folder: Path, shown: str) -> None:
    """Create ``folder`` and its parents, each a real folder inside (never a link to one)."""
    current = extraction.root
    for part in folder.relative_to(extraction.root).parts:
        current = current / part
        try:
            mode = current.lstat().st_mode
        except FileNotFoundError:
            current.mkdir()
            continue
        if not stat.S_ISDIR(mode):
            through = current.relative_to(extraction.root)
            raise ExtensionError(
                f"{extraction.image}: {shown} would be written through /{through}, "
                "which is not a folder: refused"
            )


def _write(target: Path, content: IO[bytes], mode: int) -> None:
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
    with os.fdopen(os.open(target, flags, mode), "wb") as out:
        shutil.copyfileobj(content, out, CHUNK)
    target.chmod(mode)


def _refuse_link(extraction: Extraction, member: tarfile.TarInfo, relative: PurePosixPath) -> ExtensionError:
    return ExtensionError(
        f"{extraction.image}: the link {member.name!r} in /{relative} points to {member.linkname!r}, "
        "outside the extension: refused"
    )


def _symlink(extraction: Extraction, member: tarfile.TarInfo, target: Path, relative: PurePosixPath) -> None:
    """A symlink, once its target, resolved on disk from where the link is, lies inside; written
    in normal form (see the module's docstring). An absolute target is a path in the image, so it
    is taken from the extension's root."""
    link = PurePosixPath(member.linkname)
    pointed = extraction.root / link.relative_to("/") if link.is_absolute() else target.parent / link
    lexical = Path(os.path.normpath(pointed))
    if not lexical.is_relative_to(extraction.root) or not _real(pointed).is_relative_to(extraction.root):
        raise _refuse_link(extraction, member, relative)
    target.symlink_to(os.path.relpath(lexical, target.parent))


def _hard_link(
    extraction: Extraction, member: tarfile.TarInfo, base: Path, target: Path, relative: PurePosixPath
) -> None:
    """A copy of the earlier regular file the hard link names, reached through no link."""
    source = Path(os.path.normpath(base / member.linkname))
    if not source.is_relative_to(extraction.root) or _real(source) != source:
        raise _refuse_link(extraction, member, relative)
    try:
        info = source.lstat()
    except FileNotFoundError:
        info = None
    if info is None or not stat.S_ISREG(info.st_mode):
        raise ExtensionError(
            f"{extraction.image}: the hard link {member.name!r} in /{relative} names no earlier file"
        )
    extraction.reserve(info.st_size, member.name)
    with source.open("rb") as content:
        _write(target, content, stat.S_IMODE(info.st_mode))

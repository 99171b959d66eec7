"""Extracting an image's archives safely, and where the extraction cache lives."""

from __future__ import annotations

import io
import tarfile
from pathlib import Path

import pytest

from bridge.extension.image import default_cache_dir, extract_archive
from bridge.extension.metadata import ExtensionError


def archive(*members: tuple[str, str | bytes | tarfile.TarInfo]) -> tarfile.TarFile:
    """A tar as the Engine API sends it: (name, content) files, or ready-made TarInfo entries."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        for name, content in members:
            if isinstance(content, tarfile.TarInfo):
                tar.addfile(content)
                continue
            data = content.encode() if isinstance(content, str) else content
            info = tarfile.TarInfo(name)
            info.size, info.mode = len(data), 0o755 if name.endswith(".sh") else 0o644
            tar.addfile(info, io.BytesIO(data))
    buffer.seek(0)
    return tarfile.open(fileobj=buffer)


def entry(name: str, kind: bytes, linkname: str = "") -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type, info.linkname = kind, linkname
    info.mode = 0o755
    return info


def test_members_go_under_the_requested_path(tmp_path: Path) -> None:
    tar = archive(
        ("ui", entry("ui", tarfile.DIRTYPE)),
        ("ui/index.html", "<html></html>"),
        ("ui/assets/run.sh", "#!/bin/sh\n"),
    )
    extract_archive(tar, tmp_path, "ui", "img")
    assert (tmp_path / "ui" / "index.html").read_text() == "<html></html>"
    assert (tmp_path / "ui" / "assets" / "run.sh").stat().st_mode & 0o777 == 0o755
    assert (tmp_path / "ui" / "index.html").stat().st_mode & 0o777 == 0o644


def test_a_nested_file_keeps_its_folders(tmp_path: Path) -> None:
    extract_archive(archive(("sample-cli", "#!/bin/sh\n")), tmp_path, "binaries/linux/sample-cli", "img")
    assert (tmp_path / "binaries" / "linux" / "sample-cli").is_file()


@pytest.mark.parametrize("name", ["/etc/passwd", "ui/../../evil", "other/file", "../ui/x"])
def test_names_outside_the_path_are_refused(tmp_path: Path, name: str) -> None:
    root = tmp_path / "ext"
    with pytest.raises(ExtensionError, match=r"the archive of /ui holds .*: refused"):
        extract_archive(archive((name, "x")), root, "ui", "img")
    assert not (tmp_path / "evil").exists()


@pytest.mark.parametrize("target", ["../../outside", "/../../outside", "../.."])
def test_links_leading_out_are_refused(tmp_path: Path, target: str) -> None:
    tar = archive(("ui/link", entry("ui/link", tarfile.SYMTYPE, target)))
    with pytest.raises(ExtensionError, match="outside the extension: refused"):
        extract_archive(tar, tmp_path / "ext", "ui", "img")


def test_a_file_written_through_a_link_leading_out_is_refused(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    root = tmp_path / "ext"
    (root / "ui").mkdir(parents=True)
    (root / "ui" / "sneaky").symlink_to(outside)  # left by an earlier, unchecked writer
    with pytest.raises(ExtensionError, match="leads out of the extension: refused"):
        extract_archive(archive(("ui/sneaky/file", "x")), root, "ui", "img")
    assert list(outside.iterdir()) == []


def test_links_inside_are_kept_and_absolute_ones_made_relative(tmp_path: Path) -> None:
    tar = archive(
        ("ui/index.html", "page"),
        ("ui/same", entry("ui/same", tarfile.SYMTYPE, "index.html")),
        ("ui/abs", entry("ui/abs", tarfile.SYMTYPE, "/ui/index.html")),
        ("ui/hard", entry("ui/hard", tarfile.LNKTYPE, "ui/index.html")),
    )
    extract_archive(tar, tmp_path, "ui", "img")
    assert (tmp_path / "ui" / "same").read_text() == "page"
    assert str((tmp_path / "ui" / "abs").readlink()) == "index.html"
    assert (tmp_path / "ui" / "hard").read_text() == "page"
    assert not (tmp_path / "ui" / "hard").is_symlink()


def test_devices_are_refused(tmp_path: Path) -> None:
    with pytest.raises(ExtensionError, match="is a device or pipe: refused"):
        extract_archive(archive(("ui/fifo", entry("ui/fifo", tarfile.FIFOTYPE))), tmp_path, "ui", "img")


def test_cache_folder_follows_xdg() -> None:
    assert default_cache_dir({"XDG_CACHE_HOME": "/c"}) == Path("/c/ddbridge/extensions")
    assert default_cache_dir({}) == Path.home() / ".cache" / "ddbridge" / "extensions"

"""Extracting an image's archives safely (as streams, within the caps), and where the
extraction cache lives."""

from __future__ import annotations

import io
import os
import subprocess
import tarfile
import tracemalloc
from pathlib import Path

import pytest

from bridge.config import ExtensionSettings
from bridge.extension.archive import Extraction, Readable, extract_archive
from bridge.extension.image import default_cache_dir
from bridge.extension.metadata import ExtensionError

LIMITS = ExtensionSettings()


def extract(
    source: bytes | Readable, root: Path, path: str, limits: ExtensionSettings = LIMITS
) -> Extraction:
    """Extract one archive into ``root`` (made if need be), as the image code does."""
    root.mkdir(parents=True, exist_ok=True)
    extraction = Extraction(root, "img", limits.max_bytes, limits.max_members)
    extract_archive(io.BytesIO(source) if isinstance(source, bytes) else source, extraction, path)
    return extraction


def archive(*members: tuple[str, str | bytes | tarfile.TarInfo]) -> bytes:
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
    return buffer.getvalue()


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
    extract(tar, tmp_path, "ui")
    assert (tmp_path / "ui" / "index.html").read_text() == "<html></html>"
    assert (tmp_path / "ui" / "assets" / "run.sh").stat().st_mode & 0o777 == 0o755
    assert (tmp_path / "ui" / "index.html").stat().st_mode & 0o777 == 0o644


def test_a_nested_file_keeps_its_folders(tmp_path: Path) -> None:
    extract(archive(("sample-cli", "#!/bin/sh\n")), tmp_path, "binaries/linux/sample-cli")
    assert (tmp_path / "binaries" / "linux" / "sample-cli").is_file()


@pytest.mark.parametrize("name", ["/etc/passwd", "ui/../../evil", "other/file", "../ui/x"])
def test_names_outside_the_path_are_refused(tmp_path: Path, name: str) -> None:
    root = tmp_path / "ext"
    with pytest.raises(ExtensionError, match=r"the archive of /ui holds .*: refused"):
        extract(archive((name, "x")), root, "ui")
    assert not (tmp_path / "evil").exists()


@pytest.mark.parametrize("target", ["../../outside", "/../../outside", "../.."])
def test_links_leading_out_are_refused(tmp_path: Path, target: str) -> None:
    tar = archive(("ui/link", entry("ui/link", tarfile.SYMTYPE, target)))
    with pytest.raises(ExtensionError, match="outside the extension: refused"):
        extract(tar, tmp_path / "ext", "ui")


def test_a_file_written_through_a_link_leading_out_is_refused(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    root = tmp_path / "ext"
    (root / "ui").mkdir(parents=True)
    (root / "ui" / "sneaky").symlink_to(outside)  # left by an earlier, unchecked writer
    with pytest.raises(ExtensionError, match="written through /ui/sneaky, which is not a folder: refused"):
        extract(archive(("ui/sneaky/file", "x")), root, "ui")
    assert list(outside.iterdir()) == []


def test_links_inside_are_kept_and_absolute_ones_made_relative(tmp_path: Path) -> None:
    tar = archive(
        ("ui/index.html", "page"),
        ("ui/same", entry("ui/same", tarfile.SYMTYPE, "index.html")),
        ("ui/abs", entry("ui/abs", tarfile.SYMTYPE, "/ui/index.html")),
        ("ui/hard", entry("ui/hard", tarfile.LNKTYPE, "ui/index.html")),
    )
    extract(tar, tmp_path, "ui")
    assert (tmp_path / "ui" / "same").read_text() == "page"
    assert str((tmp_path / "ui" / "abs").readlink()) == "index.html"
    assert (tmp_path / "ui" / "hard").read_text() == "page"
    assert not (tmp_path / "ui" / "hard").is_symlink()


def test_devices_are_refused(tmp_path: Path) -> None:
    with pytest.raises(ExtensionError, match="is a device or pipe: refused"):
        extract(archive(("ui/fifo", entry("ui/fifo", tarfile.FIFOTYPE))), tmp_path, "ui")


def test_cache_folder_follows_xdg() -> None:
    assert default_cache_dir({"XDG_CACHE_HOME": "/c"}) == Path("/c/ddbridge/extensions")
    assert default_cache_dir({}) == Path.home() / ".cache" / "ddbridge" / "extensions"


def links_leading_out(root: Path) -> list[Path]:
    """Every symlink under ``root`` whose resolution, on disk now, lies outside it."""
    real_root = Path(os.path.realpath(root))
    found = []
    for folder, dirs, files in os.walk(root):
        for name in dirs + files:
            path = Path(folder) / name
            if path.is_symlink() and not Path(os.path.realpath(path)).is_relative_to(real_root):
                found.append(path)
    return found


def test_chained_links_cannot_lead_out(tmp_path: Path) -> None:
    """The report's chain: a link to an ancestor, then a member written beneath it."""
    root = tmp_path / "ext"
    tar = archive(
        ("ui", entry("ui", tarfile.DIRTYPE)),
        ("ui/d1", entry("ui/d1", tarfile.DIRTYPE)),
        ("ui/d1/c", entry("ui/d1/c", tarfile.SYMTYPE, "../..")),
        ("ui/d1/c/L", entry("ui/d1/c/L", tarfile.SYMTYPE, "../../../etc/passwd")),
    )
    with pytest.raises(ExtensionError, match=r"/ui/d1/c/L would be written through /ui/d1/c"):
        extract(tar, root, "ui")
    assert links_leading_out(tmp_path) == []


@pytest.mark.parametrize("kind", [tarfile.SYMTYPE, tarfile.LNKTYPE, tarfile.REGTYPE, tarfile.DIRTYPE])
def test_nothing_is_written_beneath_a_link_even_one_inside(tmp_path: Path, kind: bytes) -> None:
    tar = archive(
        ("ui/index.html", "page"),
        ("ui/self", entry("ui/self", tarfile.SYMTYPE, ".")),
        ("ui/self/x", entry("ui/self/x", kind, "ui/index.html")),
    )
    with pytest.raises(ExtensionError, match="written through /ui/self, which is not a folder"):
        extract(tar, tmp_path / "ext", "ui")
    assert not (tmp_path / "ext" / "ui" / "x").exists()


def test_a_later_link_cannot_turn_an_earlier_one_outwards(tmp_path: Path) -> None:
    """``x`` resolves inside while ``z`` is missing; ``z -> .`` would then make each ``z/`` stay
    put and x's ``..`` climb out, had x been kept as written rather than in normal form."""
    climb = "z/" * 10 + "../" * 11 + "etc/passwd"
    tar = archive(
        ("ui/index.html", "page"),
        ("ui/x", entry("ui/x", tarfile.SYMTYPE, climb)),
        ("ui/z", entry("ui/z", tarfile.SYMTYPE, ".")),
    )
    extract(tar, tmp_path / "ext", "ui")
    assert links_leading_out(tmp_path / "ext") == []
    assert str((tmp_path / "ext" / "ui" / "x").readlink()) == "../etc/passwd"


def test_a_hard_link_through_a_link_is_refused(tmp_path: Path) -> None:
    tar = archive(
        ("ui/index.html", "page"),
        ("ui/self", entry("ui/self", tarfile.SYMTYPE, ".")),
        ("ui/copy", entry("ui/copy", tarfile.LNKTYPE, "ui/self/index.html")),
    )
    with pytest.raises(ExtensionError, match=r"points to 'ui/self/index\.html', outside the extension"):
        extract(tar, tmp_path / "ext", "ui")


def test_a_sparse_member_counts_by_its_real_size(tmp_path: Path) -> None:
    """A 1 GiB sparse file fits in a few KiB of tar; it is refused before a byte is written."""
    source = tmp_path / "src" / "ui"
    source.mkdir(parents=True)
    with (source / "big.bin").open("wb") as big:
        big.truncate(1024**3)
    tar = subprocess.run(
        ["tar", "--sparse", "--format=gnu", "-C", source.parent, "-cf", "-", "ui"],
        capture_output=True,
        check=True,
    ).stdout
    assert len(tar) < 64 * 1024
    limits = ExtensionSettings(max_bytes=64 * 1024**2)
    with pytest.raises(ExtensionError, match=r"max_bytes = 67,108,864 bytes \('ui/big.bin' is 1,073,741,824"):
        extract(tar, tmp_path / "ext", "ui", limits)
    assert not (tmp_path / "ext" / "ui" / "big.bin").exists()


def test_the_byte_cap_counts_every_archive_and_hard_link(tmp_path: Path) -> None:
    root = tmp_path / "ext"
    root.mkdir()
    extraction = Extraction(root, "img", max_bytes=1024**2, max_members=100)
    extract_archive(io.BytesIO(archive(("icon.svg", b"i" * 400_000))), extraction, "icon.svg")
    tar = archive(("ui/a", b"a" * 400_000), ("ui/b", entry("ui/b", tarfile.LNKTYPE, "ui/a")))
    with pytest.raises(ExtensionError, match="max_bytes = 1,048,576 bytes"):
        extract_archive(io.BytesIO(tar), extraction, "ui")
    assert not (root / "ui" / "b").exists()


def test_the_member_cap(tmp_path: Path) -> None:
    tar = archive(*((f"ui/{index}", "x") for index in range(50)))
    with pytest.raises(
        ExtensionError, match=r"more than \[extension\] max_members = 10 entries \(at 'ui/10'\)"
    ):
        extract(tar, tmp_path / "ext", "ui", ExtensionSettings(max_members=10))
    assert len(list((tmp_path / "ext" / "ui").iterdir())) == 10


class GeneratedTar:
    """A tar of one file of ``size`` zero bytes, made as it is read, so never held whole."""

    def __init__(self, name: str, size: int) -> None:
        info = tarfile.TarInfo(name)
        info.size, info.mode = size, 0o644
        self._pieces = iter([info.tobuf(), *self._zeros(size), bytes(-size % 512 + 1024)])
        self._left = b""

    @staticmethod
    def _zeros(size: int) -> list[int]:
        return [min(1024**2, size - start) for start in range(0, size, 1024**2)]

    def read(self, size: int, /) -> bytes:
        out = self._left
        while len(out) < size:
            piece = next(self._pieces, None)
            if piece is None:
                break
            out += bytes(piece) if isinstance(piece, int) else piece
        self._left = out[size:]
        return out[:size]


def test_memory_stays_bounded_whatever_the_archive_size(tmp_path: Path) -> None:
    """A 64 MiB member streams to disk holding a few chunks at a time, never the archive."""
    size = 64 * 1024**2
    tracemalloc.start()
    try:
        extract(GeneratedTar("ui/big.bin", size), tmp_path / "ext", "ui")
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert (tmp_path / "ext" / "ui" / "big.bin").stat().st_size == size
    assert peak < 16 * 1024**2, f"peak {peak:,} bytes"  # about 7 MiB: a few chunks of 1 MiB

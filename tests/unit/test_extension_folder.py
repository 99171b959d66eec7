"""Which files of an extension's source folder ``ddbridge dev`` serves and what it finds missing:
the UI's build output when ``ui.root`` holds a bundler's sources, the tab's entry, and the parts
metadata.json names that the folder lacks (``bridge.extension.model``)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from bridge.extension.metadata import ExtensionError
from bridge.extension.model import Extension

VITE_SOURCE = b'<!doctype html><html><head></head><body><div id="root"></div>%s</body></html>'
BUILT = b'<html><head><script type="module" crossorigin src="/assets/index-3f2a.js"></script></head></html>'


def folder_with(tmp_path: Path, files: dict[str, bytes], **tab: Any) -> Extension:
    folder = tmp_path / "ext"
    folder.mkdir()
    document = {
        "ui": {"dashboard-tab": {"title": "T", "root": "/ui", "src": "index.html", **tab}},
        "host": {"binaries": [{"linux": [{"path": "/linux/tool"}]}]},
    }
    (folder / "metadata.json").write_text(json.dumps(document))
    for name, content in files.items():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_bytes(content)
    return Extension.from_folder(folder)


@pytest.mark.parametrize(
    "script",
    [
        b'<script type="module" src="/src/main.tsx"></script>',
        b"<script type='module' src='./src/index.ts?t=1'></script>",
        b"<SCRIPT src=/src/main.jsx type=module></SCRIPT>",
        b'<script\n  type="module"\n  src="src/app.mts#x"></script>',
    ],
)
@pytest.mark.parametrize("build", ["build", "dist"])
def test_a_source_page_gives_way_to_the_build(tmp_path: Path, script: bytes, build: str) -> None:
    files = {"ui/index.html": VITE_SOURCE % script, f"ui/{build}/index.html": BUILT}
    extension = folder_with(tmp_path, files)
    assert extension.ui_folder() == extension.root / "ui" / build
    assert extension.missing() == ["the host binary /linux/tool"]


@pytest.mark.parametrize(
    "page",
    [
        BUILT,
        b'<html><script src="/app.js"></script><a href="/src/main.tsx">source</a></html>',
        b'<html><script src="/main.tsx.js"></script></html>',
    ],
)
def test_a_built_page_is_served_where_it_is(tmp_path: Path, page: bytes) -> None:
    extension = folder_with(tmp_path, {"ui/index.html": page, "ui/build/index.html": b"<html>other</html>"})
    assert extension.ui_folder() == extension.root / "ui"


def test_sources_without_a_build_say_so(tmp_path: Path) -> None:
    script = b'<script type="module" src="/src/main.tsx"></script>'
    extension = folder_with(tmp_path, {"ui/index.html": VITE_SOURCE % script})
    with pytest.raises(ExtensionError, match=r"loads the sources '/src/main\.tsx'.*build the UI first"):
        extension.ui_folder()
    assert extension.missing(host_binaries=False) == ["the UI /ui/index.html"]


def test_a_build_folder_leading_out_is_refused(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "index.html").write_bytes(BUILT)
    extension = folder_with(tmp_path, {"ui/index.html": VITE_SOURCE % b'<script src="/src/a.ts"></script>'})
    (extension.root / "ui" / "build").symlink_to(outside)
    with pytest.raises(ExtensionError, match="ui build folder 'ui/build' resolves outside the extension"):
        extension.ui_folder()


def test_missing_names_every_part_the_folder_lacks(tmp_path: Path) -> None:
    extension = folder_with(tmp_path, {})
    assert extension.missing() == ["the UI /ui/index.html", "the host binary /linux/tool"]
    assert extension.missing(ui=False, host_binaries=False) == []
    (extension.root / "linux").mkdir()
    (extension.root / "linux" / "tool").write_text("#!/bin/sh\n")
    assert extension.missing() == ["the UI /ui/index.html"]


@pytest.mark.parametrize(
    ("tab", "entry"),
    [
        ({}, ""),
        ({"src": "index.html?v0.4.0"}, "/index.html?v0.4.0"),
        ({"src": "/app/page.html"}, "/app/page.html"),
        ({"src": "http://localhost:49000"}, "http://localhost:49000"),
    ],
)
def test_entry_is_where_the_tab_opens(tmp_path: Path, tab: dict[str, str], entry: str) -> None:
    extension = folder_with(tmp_path, {"ui/index.html": BUILT, "ui/app/page.html": BUILT}, **tab)
    assert extension.entry == entry


def test_a_url_tab_needs_no_ui_folder(tmp_path: Path) -> None:
    extension = folder_with(tmp_path, {"linux/tool": b"#!/bin/sh\n"}, src="http://localhost:49000")
    assert extension.ui_folder() is None
    assert extension.missing() == []

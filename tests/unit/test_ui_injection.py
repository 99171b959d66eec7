from __future__ import annotations

from pathlib import Path

import pytest

from bridge.extension.ui import SHIM_TAG, inject_shim, ui_response


@pytest.mark.parametrize(
    ("page", "expected"),
    [
        (b"<html><head><title>t</title></head></html>", b"<html><head>" + SHIM_TAG + b"<title>t</title>"),
        (
            b'<HTML><HEAD lang="en"><script src="app.js">',
            b'<HEAD lang="en">' + SHIM_TAG + b'<script src="app.js">',
        ),
        (b"<!doctype html><html><body>x</body></html>", b"<html><head>" + SHIM_TAG + b"</head><body>"),
        (b"<!DOCTYPE html><body>x</body>", b"<!DOCTYPE html><head>" + SHIM_TAG + b"</head><body>"),
        (b"<p>fragment</p>", b"<head>" + SHIM_TAG + b"</head><p>fragment</p>"),
    ],
)
def test_shim_goes_first_in_head(page: bytes, expected: bytes) -> None:
    injected = inject_shim(page)
    assert expected in injected
    assert injected.count(SHIM_TAG) == 1


def test_header_is_not_mistaken_for_head() -> None:
    page = b"<html><header>x</header><head><title>t</title></head></html>"
    assert inject_shim(page).index(SHIM_TAG) > page.index(b"<head>")


def test_ui_response_serves_injected_html_and_plain_assets(tmp_path: Path) -> None:
    (tmp_path / "index.html").write_text("<html><head></head><body>ui</body></html>")
    (tmp_path / "app.js").write_text("console.log(1)")
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "index.html").write_text("<html><head></head></html>")
    assert SHIM_TAG in ui_response(tmp_path, "").body
    assert SHIM_TAG in ui_response(tmp_path, "sub/").body
    asset = ui_response(tmp_path, "app.js")
    assert asset.status_code == 200 and "javascript" in asset.media_type
    assert ui_response(tmp_path, "missing.js").status_code == 404


def test_ui_response_stays_inside_the_folder(tmp_path: Path) -> None:
    root = tmp_path / "ui"
    root.mkdir()
    (tmp_path / "secret.txt").write_text("secret")
    (root / "link").symlink_to(tmp_path / "secret.txt")
    assert ui_response(root, "../secret.txt").status_code == 404
    assert ui_response(root, "link").status_code == 404


@pytest.mark.parametrize("name", ["main.ts", "App.tsx", "view.jsx", "chunk.mjs", "lib.mts", "index.js"])
def test_scripts_are_javascript_whatever_their_extension(tmp_path: Path, name: str) -> None:
    (tmp_path / name).write_text("export {}")
    response = ui_response(tmp_path, name)
    assert response.media_type == "text/javascript"

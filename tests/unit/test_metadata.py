from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from bridge.extension.metadata import MetadataError, inside_path, load_metadata, parse_metadata

FULL = {
    "icon": "docker.svg",
    "ui": {"dashboard-tab": {"title": "Sample", "root": "/ui", "src": "index.html"}},
    "vm": {"composefile": "docker-compose.yaml", "exposes": {"socket": "backend.sock"}},
    "host": {
        "binaries": [
            {
                "darwin": [{"path": "/darwin/sample-cli"}],
                "windows": [{"path": "/windows/sample-cli.exe"}],
                "linux": [{"path": "/linux/sample-cli"}],
            }
        ]
    },
}


def parse(document: Any) -> Any:
    return parse_metadata(json.dumps(document))


def test_full_metadata() -> None:
    metadata = parse(FULL)
    assert metadata.warnings == []
    assert metadata.title == "Sample"
    assert (metadata.ui_root, metadata.ui_src, metadata.icon) == ("ui", "index.html", "docker.svg")
    assert metadata.backend_socket == "backend.sock"
    assert metadata.composefile == "docker-compose.yaml"
    assert metadata.host_binaries("linux") == ["linux/sample-cli"]
    assert metadata.host_binaries("windows") == ["windows/sample-cli.exe"]


def test_image_backend_and_tab_socket() -> None:
    metadata = parse(
        {
            "vm": {"image": "${DESKTOP_PLUGIN_IMAGE}"},
            "ui": {
                "dashboard-tab": {
                    "title": "T",
                    "root": "/",
                    "src": "a/b.html",
                    "backend": {"socket": "x.sock"},
                }
            },
        }
    )
    assert metadata.manifest.vm is not None and metadata.manifest.vm.image == "${DESKTOP_PLUGIN_IMAGE}"
    assert metadata.backend_socket == "x.sock"
    assert (metadata.ui_root, metadata.ui_src) == ("", "a/b.html")


def test_unknown_fields_are_warnings_naming_the_field() -> None:
    document = json.loads(json.dumps(FULL))
    document["publisher"] = "me"
    document["ui"]["dashboard-tab"]["colour"] = "red"
    document["host"]["binaries"][0]["linux"][0]["arch"] = "arm64"
    document["host"]["binaries"][0]["plan9"] = [{"path": "/p"}]
    warnings = parse(document).warnings
    assert any("publisher is not supported" in w for w in warnings)
    assert any("ui.dashboard-tab.colour" in w for w in warnings)
    assert any("host.binaries.linux.arch" in w for w in warnings)
    assert any("platform 'plan9' is unknown" in w for w in warnings)


def test_no_ui_is_a_warning() -> None:
    assert any("no ui.dashboard-tab" in w for w in parse({"vm": {"image": "x"}}).warnings)


@pytest.mark.parametrize(
    ("document", "message"),
    [
        ({"vm": {"image": "a", "composefile": "b"}}, "exactly one of 'image' and 'composefile'"),
        ({"vm": {}}, "exactly one of"),
        ({"ui": {"dashboard-tab": {"root": "/ui"}}}, "ui.dashboard-tab.title: Field required"),
        (
            {"ui": {"dashboard-tab": {"title": "T", "root": "../outside"}}},
            "ui root '../outside' leaves the extension",
        ),
        ({"ui": {"dashboard-tab": {"title": "T", "src": "/ui/../../x"}}}, "leaves the extension"),
        ({"vm": {"composefile": "../c.yaml"}}, "vm composefile '../c.yaml' leaves"),
        ({"vm": {"image": "x", "exposes": {"socket": "/run/x.sock"}}}, "must be a file name"),
        ({"host": {"binaries": [{"linux": [{"path": ""}]}]}}, "host.binaries.0.linux.0.path"),
        ({"ui": "nope"}, "ui: Input should be"),
    ],
)
def test_errors_name_the_field(document: Any, message: str) -> None:
    with pytest.raises(MetadataError) as caught:
        parse(document)
    assert message in str(caught.value)
    assert str(caught.value).startswith("metadata.json: ")


def test_host_binary_traversal_is_refused_when_read() -> None:
    metadata = parse({"host": {"binaries": [{"linux": [{"path": "/../../etc/passwd"}]}]}})
    with pytest.raises(ValueError, match="leaves the extension"):
        metadata.host_binaries("linux")


@pytest.mark.parametrize(("text", "message"), [("{", "not valid JSON"), ("[1]", "must hold a JSON object")])
def test_not_json(text: str, message: str) -> None:
    with pytest.raises(MetadataError, match=message):
        parse_metadata(text)


def test_load_from_folder(tmp_path: Path) -> None:
    with pytest.raises(MetadataError, match=r"has no metadata\.json"):
        load_metadata(tmp_path)
    (tmp_path / "metadata.json").write_text(json.dumps(FULL))
    assert load_metadata(tmp_path).title == "Sample"
    (tmp_path / "metadata.json").write_text("{")
    with pytest.raises(MetadataError, match=re.escape(str(tmp_path / "metadata.json"))):
        load_metadata(tmp_path)


@pytest.mark.parametrize(
    ("value", "inside"), [("/ui", "ui"), ("ui/", "ui"), ("/", ""), ("./a/b", "a/b"), ("a", "a")]
)
def test_inside_path(value: str, inside: str) -> None:
    assert inside_path(value, "x") == inside


def tab(**fields: Any) -> Any:
    return parse({"ui": {"dashboard-tab": {"title": "T", **fields}}})


@pytest.mark.parametrize("url", ["http://localhost:49000", "https://example.com/app/?x=1#top"])
def test_tab_given_as_a_url_needs_no_folder(url: str) -> None:
    metadata = tab(root="/ui", src=url)
    assert metadata.warnings == []
    assert (metadata.ui_url, metadata.ui_root, metadata.ui_query) == (url, None, "")


@pytest.mark.parametrize(
    "src",
    [
        "javascript:alert(1)",
        "file:///etc/passwd",
        "ftp://example.com/x",
        "data:text/html,<script>1</script>",
        "localhost:49000",
        "http:/localhost:49000",
        "HTTP:localhost",
    ],
)
def test_tab_urls_other_than_http_are_refused(src: str) -> None:
    with pytest.raises(MetadataError) as caught:
        tab(src=src)
    assert f"ui.dashboard-tab.src: ui src {src!r} is neither a file in ui root nor an http(s) URL" in str(
        caught.value
    )


@pytest.mark.parametrize(
    ("src", "page", "query"),
    [
        ("index.html?v0.4.0", "index.html", "?v0.4.0"),
        ("/app/main.html?a=1&b=2#frag", "app/main.html", "?a=1&b=2"),
        ("main.html#frag", "main.html", ""),
        ("?v1", "index.html", "?v1"),
    ],
)
def test_src_query_is_kept_apart_from_the_file(src: str, page: str, query: str) -> None:
    metadata = tab(src=src)
    assert (metadata.ui_root, metadata.ui_src, metadata.ui_query) == ("ui", page, query)
    assert metadata.ui_url is None


def test_src_query_does_not_hide_a_traversal() -> None:
    with pytest.raises(MetadataError, match=r"ui src '\.\./\.\./etc/passwd' leaves the extension"):
        tab(src="../../etc/passwd?index.html")


def test_early_tcp_backend_of_the_tab_is_a_warning() -> None:
    metadata = tab(backend={"tcp": "9000"})
    assert metadata.backend_socket is None
    assert metadata.warnings == [
        "metadata.json: ui.dashboard-tab.backend.tcp is not supported by ddbridge and is ignored"
    ]
    message = "ui.dashboard-tab.backend.socket: socket '../x' must be a file"
    with pytest.raises(MetadataError, match=re.escape(message)):
        tab(backend={"socket": "../x"})

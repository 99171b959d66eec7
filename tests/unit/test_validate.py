"""``validate``'s checks without an engine: metadata.json's problems (the loader's errors and
warnings) and the labels Docker Desktop requires of an extension image."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bridge.errors import ConfigError
from bridge.extension.metadata import parse_metadata
from bridge.host.validate import (
    ADDITIONAL_URLS_LABEL,
    CATEGORIES_LABEL,
    REQUIRED,
    SCREENSHOTS_LABEL,
    is_file_target,
    label_problems,
    problems,
    validate_file,
)
from tests.support.processes import REPO

IMAGE = "acme/tool:1.0.0"
# Labels as a published extension sets them (docs.docker.com, "Extension image labels").
GOOD = {
    "org.opencontainers.image.title": "Tool",
    "org.opencontainers.image.description": "Does things.",
    "org.opencontainers.image.vendor": "Acme, Inc.",
    "com.docker.desktop.extension.api.version": ">= 0.3.4",
    "com.docker.desktop.extension.icon": "https://example.com/assets/tool.svg",
    "com.docker.extension.screenshots": json.dumps(
        [
            {"alt": "the main page", "url": "https://example.com/1.png"},
            {"alt": "", "url": "http://x.test/2.jpg"},
        ]
    ),
    "com.docker.extension.detailed-description": "<h1>Tool</h1><p>Does things.</p>",
    "com.docker.extension.publisher-url": "https://example.com",
    "com.docker.extension.additional-urls": '[{"title":"Documentation","url":"https://example.com/docs"}]',
    "com.docker.extension.changelog": "<ul><li>First release</li></ul>",
    "com.docker.extension.categories": "utility-tools, volumes",
    "com.docker.extension.account-info": "required",
}
METADATA = parse_metadata((REPO / "docker" / "sample-extension" / "metadata.json").read_bytes())


def test_a_valid_extension_has_no_problem() -> None:
    assert problems(METADATA, GOOD, IMAGE) == []
    assert problems(METADATA) == []  # a metadata.json alone: no labels to check
    optional = {key: value for key, value in GOOD.items() if key in REQUIRED}
    assert label_problems(optional, IMAGE) == []


def test_every_required_label_missing_is_a_line() -> None:
    found = label_problems({}, IMAGE)
    assert len(found) == len(REQUIRED) == 9
    assert found[0] == (
        f"{IMAGE}: the label org.opencontainers.image.title is missing "
        "(the extension's title; Docker Desktop requires it)"
    )
    assert {line.split()[3] for line in found} == set(REQUIRED)


def test_an_empty_required_label_is_a_problem() -> None:
    found = label_problems({**GOOD, "com.docker.extension.changelog": " "}, IMAGE)
    assert found == [
        f"{IMAGE}: the label com.docker.extension.changelog is empty "
        "(this version's changes; Docker Desktop requires it)"
    ]


@pytest.mark.parametrize(
    "constraint",
    ["0.1.0", ">= 0.1.0", ">=0.3.0", ">= 1.4.7, < 2.0", ">= 1.4.7 < 2.0", "^1.2 || ~2.0.x", "1.2 - 1.4"],
)
def test_api_version_constraints(constraint: str) -> None:
    assert label_problems({**GOOD, "com.docker.desktop.extension.api.version": constraint}, IMAGE) == []


@pytest.mark.parametrize("constraint", ["latest", ">= ", "0.3.0 ||", "> = 1", "1.2.3.4", "=> one"])
def test_api_version_that_is_not_semver(constraint: str) -> None:
    (found,) = label_problems({**GOOD, "com.docker.desktop.extension.api.version": constraint}, IMAGE)
    assert found == (
        f"{IMAGE}: the label com.docker.desktop.extension.api.version {constraint!r} is not a semantic "
        "version or constraint (such as 0.3.4 or >= 0.3.0)"
    )


@pytest.mark.parametrize(
    ("label", "value", "problem"),
    [
        (SCREENSHOTS_LABEL, "[{alt: 1}]", "is not valid JSON"),
        (SCREENSHOTS_LABEL, '{"alt": "a", "url": "https://x"}', "must be a JSON array of"),
        (SCREENSHOTS_LABEL, '[{"url": "https://x/1.png"}]', 'item 1 must be an object with a string "alt"'),
        (SCREENSHOTS_LABEL, '[{"alt": "a", "url": "https://x/1.png"}, {"alt": "b", "url": "/2.png"}]',
         "item 2 has no http(s) url: '/2.png'"),
        (ADDITIONAL_URLS_LABEL, '[{"title": "Docs"}]', "item 1 has no http(s) url: None"),
        (ADDITIONAL_URLS_LABEL, "about.psibase.io", "is not valid JSON"),
        ("com.docker.extension.publisher-url", "github.com/acme", "'github.com/acme' is not an http(s) URL"),
        ("com.docker.desktop.extension.icon", "docker.svg", "must be the URL of the icon"),
        ("com.docker.desktop.extension.icon", "file:///icon.svg", "must be the URL of the icon"),
        (CATEGORIES_LABEL, "Database,Utility tools", "unknown categories ['Database', 'Utility tools']"),
        ("com.docker.extension.account-info", "yes", "must be 'required' or empty, not 'yes'"),
    ],
)  # fmt: skip
def test_label_values_are_checked(label: str, value: str, problem: str) -> None:
    (found,) = label_problems({**GOOD, label: value}, IMAGE)
    assert found.startswith(f"{IMAGE}: the label {label} ")
    assert problem in found and "\n" not in found


def test_data_urls_are_icons_and_optional_labels_may_be_empty() -> None:
    labels = {**GOOD, "com.docker.desktop.extension.icon": "data:image/svg+xml;base64,PHN2Zy8+"}
    labels.update({ADDITIONAL_URLS_LABEL: "", CATEGORIES_LABEL: "", "com.docker.extension.account-info": ""})
    assert label_problems(labels, IMAGE) == []


def test_metadata_warnings_are_problems() -> None:
    metadata = parse_metadata(
        json.dumps({"name": "old", "icon": "x.svg", "ui": {"dashboard-tab": {"title": "T", "root": "/ui"}}}),
        "ext/metadata.json",
    )
    assert problems(metadata, GOOD, IMAGE) == [
        "ext/metadata.json: name is not supported by ddbridge and is ignored"
    ]


def test_validate_file(tmp_path: Path) -> None:
    path = tmp_path / "metadata.json"
    path.write_text('{"ui": {"dashboard-tab": {"title": "T"}}, "vm": {"image": "a", "composefile": "b"}}')
    assert validate_file(path) == [f"{path}: vm: vm needs exactly one of 'image' and 'composefile'"]
    assert validate_file(tmp_path) == validate_file(path)  # the folder's metadata.json
    path.write_text('{"host": {"binaries": [{"plan9": [{"path": "/x"}]}]}}')
    assert validate_file(path) == [
        f"{path}: host.binaries platform 'plan9' is unknown and is ignored",
        f"{path}: no ui.dashboard-tab: the extension has no UI to serve",
    ]
    assert validate_file(REPO / "docker" / "sample-extension") == []
    (tmp_path / "empty").mkdir()
    assert validate_file(tmp_path / "empty") == [
        f"{tmp_path / 'empty'} has no metadata.json: is it an extension folder?"
    ]
    with pytest.raises(ConfigError, match=r"cannot read .*nowhere\.json: No such file or directory"):
        validate_file(tmp_path / "nowhere.json")


def test_what_names_a_file_and_what_an_image(tmp_path: Path) -> None:
    assert is_file_target(str(tmp_path))
    assert is_file_target("no/such/metadata.json")
    assert not is_file_target("acme/tool:1.0.0")
    assert not is_file_target("localhost:5000/acme/tool")

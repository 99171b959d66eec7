"""``desktopUI.dialog.showOpenDialog`` from the bundled client in Chromium: the shim's dialog over a
folder tree given to the daemon as its only root. Choosing files and folders, cancelling,
filters, hidden files, multiple selection, defaultPath, the keyboard, and nothing outside the root.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Locator

from tests.browser.helpers import ClientPage
from tests.support.processes import RunningBridge

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def tree(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """workspace/{docs/{a.txt,b.png,c.PNG,.hidden.txt},projects/{app/,scripts/,compose*,readme.md},
    notes.md,.cache/,out -> ../outside}, and outside/secret.txt next to it."""
    base = tmp_path_factory.mktemp("dialog")
    root = base / "workspace"
    for folder in ("docs", "projects/app", "projects/scripts", ".cache"):
        (root / folder).mkdir(parents=True)
    for name, size in (
        ("docs/a.txt", 120),
        ("docs/b.png", 48_000),
        ("docs/c.PNG", 2_400_000),
        ("docs/.hidden.txt", 1),
        ("projects/readme.md", 900),
        ("projects/compose.yaml", 300),
        ("projects/compose.override.yml", 2_100),
        ("notes.md", 10),
    ):
        (root / name).write_bytes(b"x" * size)
    (base / "outside").mkdir()
    (base / "outside" / "secret.txt").write_text("s")
    (root / "out").symlink_to(base / "outside")
    return root


@pytest.fixture(scope="module")
def dialog_bridge(
    module_bridge: Callable[..., RunningBridge], test_page_build: Path, tree: Path
) -> RunningBridge:
    return module_bridge("--ui", test_page_build, "--dialog-root", tree)


@pytest.fixture
def page(shared_page: Callable[..., ClientPage], dialog_bridge: RunningBridge) -> Iterator[ClientPage]:
    """The shared test page; a dialog a failed test left open is cancelled after it."""
    client_page = shared_page(dialog_bridge.login_url())
    yield client_page
    while client_page.page.locator("[data-ddbridge-dialog]").count() > 0:
        client_page.page.locator("[data-ddbridge-dialog-cancel]").last.click()


class Dialog:
    """One showOpenDialog call in the page, and its dialog."""

    def __init__(self, page: ClientPage, props: dict[str, Any]) -> None:
        self.page = page
        page.page.evaluate(
            "(props) => { window.dialogAnswer = window.testApi.call("
            "'desktopUI.dialog.showOpenDialog', props); }",
            props,
        )
        self.element = page.page.locator("[data-ddbridge-dialog]")
        self.element.wait_for()
        self.page.page.locator(
            "[data-ddbridge-dialog-list] [role=option], [data-ddbridge-dialog-list] .empty"
        ).first.wait_for()

    def entry(self, name: str) -> Locator:
        return self.element.locator(f'[data-ddbridge-entry="{name}"]')

    def names(self) -> list[str]:
        names: list[str] = self.element.locator("[data-ddbridge-entry]").evaluate_all(
            "(rows) => rows.map((row) => row.getAttribute('data-ddbridge-entry'))"
        )
        return names

    def enter(self, name: str) -> None:
        self.entry(name).dblclick()
        self.element.locator(f'[data-ddbridge-crumb][aria-current="location"]:text-is("{name}")').wait_for()

    def ok(self) -> None:
        self.element.locator("[data-ddbridge-dialog-ok]").click()

    def answer(self) -> Any:
        outcome: dict[str, Any] = self.page.page.evaluate("() => window.dialogAnswer")
        assert outcome["ok"], outcome
        assert self.page.page.locator("[data-ddbridge-dialog]").count() == 0
        return outcome["value"]


def test_choose_a_file_in_a_subfolder(page: ClientPage, tree: Path, artifacts: Path) -> None:
    dialog = Dialog(
        page,
        {
            "title": "Import a compose file",
            "buttonLabel": "Import",
            "message": "Pick the file to import",
            "properties": ["openFile"],
            "filters": [
                {"name": "Compose files", "extensions": ["yaml", "yml"]},
                {"name": "All files", "extensions": ["*"]},
            ],
        },
    )
    assert dialog.element.get_attribute("role") == "dialog"
    assert dialog.element.get_attribute("aria-modal") == "true"
    assert dialog.element.locator("h2").text_content() == "Import a compose file"
    assert dialog.names() == ["docs", "projects", "out"]  # folders first, no hidden ones, filtered
    dialog.enter("projects")
    assert dialog.names() == ["app", "scripts", "compose.override.yml", "compose.yaml"]
    dialog.entry("compose.yaml").click()
    assert dialog.entry("compose.yaml").get_attribute("aria-selected") == "true"
    dialog.element.screenshot(path=str(artifacts / "open-dialog.png"))
    box = dialog.element.bounding_box()
    assert box is not None
    margin = 24
    page.page.screenshot(
        path=str(artifacts / "open-dialog-page.png"),
        clip={
            "x": box["x"] - margin,
            "y": box["y"] - margin,
            "width": box["width"] + 2 * margin,
            "height": box["height"] + 2 * margin,
        },
    )
    assert dialog.element.locator("[data-ddbridge-dialog-ok]").text_content() == "Import"
    dialog.ok()
    assert dialog.answer() == {"canceled": False, "filePaths": [str(tree / "projects" / "compose.yaml")]}


def test_cancel_and_escape(page: ClientPage) -> None:
    dialog = Dialog(page, {"properties": ["openFile"]})
    dialog.entry("notes.md").click()
    dialog.element.locator("[data-ddbridge-dialog-cancel]").click()
    assert dialog.answer() == {"canceled": True, "filePaths": []}
    dialog = Dialog(page, {})
    page.page.keyboard.press("Escape")
    assert dialog.answer() == {"canceled": True, "filePaths": []}


def test_filters_hide_other_files(page: ClientPage, tree: Path) -> None:
    dialog = Dialog(
        page,
        {
            "defaultPath": str(tree / "docs"),
            "filters": [{"name": "Images", "extensions": ["png"]}, {"name": "Text", "extensions": [".TXT"]}],
        },
    )
    assert dialog.names() == ["b.png", "c.PNG"]
    dialog.element.locator("[data-ddbridge-dialog-filter]").select_option(label="Text (*..TXT)")
    assert dialog.names() == ["a.txt"]
    dialog.entry("a.txt").dblclick()  # a double-click on a file chooses it
    assert dialog.answer() == {"canceled": False, "filePaths": [str(tree / "docs" / "a.txt")]}


def test_hidden_files_only_when_asked(page: ClientPage, tree: Path) -> None:
    dialog = Dialog(page, {"defaultPath": str(tree / "docs")})
    assert ".hidden.txt" not in dialog.names()
    page.page.keyboard.press("Escape")
    dialog.answer()
    dialog = Dialog(page, {"defaultPath": str(tree / "docs"), "properties": ["openFile", "showHiddenFiles"]})
    assert dialog.names()[0] == ".hidden.txt"
    page.page.keyboard.press("Escape")
    dialog.answer()


def test_open_directory(page: ClientPage, tree: Path) -> None:
    dialog = Dialog(page, {"properties": ["openDirectory"], "buttonLabel": "Use folder"})
    assert dialog.element.locator("h2").text_content() == "Choose a folder"
    assert dialog.entry("notes.md").get_attribute("aria-disabled") == "true"
    dialog.entry("notes.md").click(force=True)  # force: Playwright itself refuses aria-disabled
    assert dialog.entry("notes.md").get_attribute("aria-selected") == "false"
    dialog.entry("projects").click()
    dialog.ok()
    assert dialog.answer() == {"canceled": False, "filePaths": [str(tree / "projects")]}
    # With nothing chosen, OK takes the folder shown, as native folder pickers do.
    dialog = Dialog(page, {"properties": ["openDirectory"]})
    dialog.enter("docs")
    dialog.ok()
    assert dialog.answer() == {"canceled": False, "filePaths": [str(tree / "docs")]}


def test_multi_selections(page: ClientPage, tree: Path) -> None:
    dialog = Dialog(page, {"properties": ["openFile", "multiSelections"], "defaultPath": str(tree / "docs")})
    dialog.entry("a.txt").click()
    dialog.entry("c.PNG").click(modifiers=["Control"])
    dialog.entry("b.png").click(modifiers=["Control"])
    dialog.entry("c.PNG").click(modifiers=["Control"])
    assert dialog.element.locator(".spacer").text_content() == "2 selected"
    dialog.ok()
    docs = tree / "docs"
    assert dialog.answer() == {"canceled": False, "filePaths": [str(docs / "a.txt"), str(docs / "b.png")]}
    # Without multiSelections a Ctrl-click replaces the choice.
    dialog = Dialog(page, {"defaultPath": str(tree / "docs")})
    dialog.entry("a.txt").click()
    dialog.entry("b.png").click(modifiers=["Control"])
    dialog.ok()
    assert dialog.answer() == {"canceled": False, "filePaths": [str(docs / "b.png")]}


def test_default_path_opens_there(page: ClientPage, tree: Path) -> None:
    dialog = Dialog(page, {"defaultPath": str(tree / "projects" / "readme.md")})
    assert dialog.names() == ["app", "scripts", "compose.override.yml", "compose.yaml", "readme.md"]
    crumbs = dialog.element.locator("[data-ddbridge-crumb]")
    assert crumbs.evaluate_all("(c) => c.map((e) => e.textContent)") == ["workspace", "projects"]
    crumbs.first.click()
    dialog.entry("docs").wait_for()
    page.page.keyboard.press("Escape")
    dialog.answer()


def test_keyboard(page: ClientPage, tree: Path) -> None:
    dialog = Dialog(page, {"defaultPath": str(tree / "docs")})
    focused = "() => document.activeElement?.shadowRoot?.activeElement?.getAttribute('data-ddbridge-entry')"
    page.page.wait_for_function(f"({focused})() === 'a.txt'")
    page.page.keyboard.press("ArrowDown")
    assert page.page.evaluate(focused) == "b.png"
    page.page.keyboard.press("Space")
    for _ in range(8):  # Tab stays inside the dialog
        page.page.keyboard.press("Tab")
    assert page.page.evaluate("() => document.activeElement?.hasAttribute('data-ddbridge-dialog-host')")
    dialog.entry("b.png").focus()
    page.page.keyboard.press("Enter")
    assert dialog.answer() == {"canceled": False, "filePaths": [str(tree / "docs" / "b.png")]}


def test_nothing_outside_the_root(page: ClientPage, tree: Path) -> None:
    dialog = Dialog(page, {"defaultPath": "/etc"})
    assert dialog.element.locator('[data-ddbridge-crumb][aria-current="location"]').get_attribute(
        "data-ddbridge-crumb"
    ) == str(tree)
    assert dialog.element.locator("[data-ddbridge-dialog-up]").is_disabled()
    out = dialog.entry("out")
    assert out.get_attribute("data-kind") == "link"
    assert out.get_attribute("aria-disabled") == "true"
    out.dblclick(force=True)
    out.click(force=True)
    assert out.get_attribute("aria-selected") == "false"
    assert dialog.element.locator('[data-ddbridge-crumb][aria-current="location"]').get_attribute(
        "data-ddbridge-crumb"
    ) == str(tree)
    page.page.keyboard.press("Escape")
    dialog.answer()


def test_invalid_props_reject_naming_the_field(page: ClientPage) -> None:
    error = page.error("desktopUI.dialog.showOpenDialog", {"properties": ["openFiles"]})
    assert error["code"] == -32602, error
    assert "props.properties.0" in error["message"]
    assert page.page.locator("[data-ddbridge-dialog]").count() == 0


def test_dark_screenshot(page: ClientPage, tree: Path, artifacts: Path) -> None:
    page.page.emulate_media(color_scheme="dark")
    try:
        dialog = Dialog(
            page, {"defaultPath": str(tree / "docs"), "properties": ["openFile", "multiSelections"]}
        )
        dialog.entry("a.txt").click()
        dialog.entry("b.png").click(modifiers=["Control"])
        dialog.element.screenshot(path=str(artifacts / "open-dialog-dark.png"))
        page.page.keyboard.press("Escape")
        dialog.answer()
    finally:
        page.page.emulate_media(color_scheme="light")

"""The open dialog's daemon side: root confinement (symlinks, ``..``), listing, the final check of
a selection, props validation and scripted answers."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from pydantic import ValidationError

from bridge.api.dialog import (
    DialogProps,
    Dialogs,
    ListDirectoryParams,
    OpenDialogParams,
    list_directory,
    resolve_selection,
)
from bridge.config import DialogSettings, load_settings
from bridge.errors import ConfigError, Forbidden, InvalidParams, LimitExceeded, NotConfigured


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    """root/{docs/{a.txt,b.png,.hidden},.config/,notes.md,out -> outside,back -> docs}, outside/secret."""
    root = tmp_path / "root"
    (root / "docs").mkdir(parents=True)
    (root / ".config").mkdir()
    (root / "docs" / "a.txt").write_text("a")
    (root / "docs" / "b.png").write_bytes(b"png")
    (root / "docs" / ".hidden").write_text("h")
    (root / "notes.md").write_text("n")
    (tmp_path / "outside").mkdir()
    (tmp_path / "outside" / "secret").write_text("s")
    (root / "out").symlink_to(tmp_path / "outside")
    (root / "back").symlink_to(root / "docs")
    return root


@pytest.fixture
def dialogs(tree: Path) -> Dialogs:
    return Dialogs(DialogSettings(roots=(tree,)))


def test_default_root_is_home() -> None:
    assert load_settings(environ={}).dialog.roots == (Path.home(),)
    settings = load_settings(environ={"DDBRIDGE_DIALOG_ROOTS": "/a, /b"})
    assert settings.dialog.roots == (Path("/a"), Path("/b"))


def test_confine_accepts_inside_and_refuses_escapes(dialogs: Dialogs, tree: Path) -> None:
    assert dialogs.confine(str(tree / "docs" / ".." / "notes.md"), "path").path == tree / "notes.md"
    assert dialogs.confine(str(tree / "back" / "a.txt"), "path").path == tree / "docs" / "a.txt"
    for escape in (
        tree / ".." / "outside",
        tree / "docs" / ".." / ".." / "outside" / "secret",
        tree / "out",
        tree / "out" / "secret",
        Path("/etc"),
    ):
        with pytest.raises(Forbidden, match="outside the folders the open dialog may show"):
            dialogs.confine(str(escape), "path")
    with pytest.raises(InvalidParams, match="not an absolute path") as caught:
        dialogs.confine("docs", "path")
    assert caught.value.field == "path"


def test_a_root_that_is_a_symlink_is_followed(tmp_path: Path, tree: Path) -> None:
    link = tmp_path / "link-to-root"
    link.symlink_to(tree)
    dialogs = Dialogs(DialogSettings(roots=(link,)))
    assert dialogs.roots == [Path(os.path.realpath(tree))]
    listed = list_directory(dialogs, str(link), show_hidden=False)
    assert listed["parent"] is None


def test_no_existing_root_is_not_configured(tmp_path: Path) -> None:
    dialogs = Dialogs(DialogSettings(roots=(tmp_path / "missing",)))
    with pytest.raises(NotConfigured, match="--dialog-root"):
        dialogs.start(None)


def test_list_directory(dialogs: Dialogs, tree: Path) -> None:
    listed = list_directory(dialogs, str(tree), show_hidden=False)
    assert listed["path"] == str(tree)
    assert listed["parent"] is None
    assert listed["root"] == str(tree)
    entries = {entry["name"]: entry for entry in listed["entries"]}
    assert [entry["name"] for entry in listed["entries"]] == ["back", "docs", "notes.md", "out"]
    assert entries["docs"]["kind"] == "dir"
    assert entries["back"] == {**entries["back"], "kind": "dir", "link": True}
    assert entries["out"]["kind"] == "link"  # leads out: shown, but neither entered nor chosen
    assert entries["notes.md"]["kind"] == "file"
    assert entries["notes.md"]["size"] == 1
    assert entries["notes.md"]["path"] == str(tree / "notes.md")
    hidden = list_directory(dialogs, str(tree), show_hidden=True)
    assert ".config" in [entry["name"] for entry in hidden["entries"]]
    docs = list_directory(dialogs, str(tree / "docs"), show_hidden=False)
    assert docs["parent"] == str(tree)
    assert [entry["name"] for entry in docs["entries"]] == ["a.txt", "b.png"]
    assert docs["crumbs"] == [
        {"name": "root", "path": str(tree)},
        {"name": "docs", "path": str(tree / "docs")},
    ]
    through_link = list_directory(dialogs, str(tree / "back"), show_hidden=False)
    assert through_link["path"] == str(tree / "docs")  # the resolved path, never the name given
    assert through_link["crumbs"] == docs["crumbs"]


def test_list_directory_refuses_escapes_and_files(dialogs: Dialogs, tree: Path) -> None:
    for escape in (tree / "out", tree / "..", tree / "docs" / ".." / ".."):
        with pytest.raises(Forbidden):
            list_directory(dialogs, str(escape), show_hidden=False)
    with pytest.raises(InvalidParams, match="is not a folder"):
        list_directory(dialogs, str(tree / "notes.md"), show_hidden=False)


def test_start_folder(dialogs: Dialogs, tree: Path) -> None:
    assert dialogs.start(None) == tree
    assert dialogs.start(str(tree / "docs")) == tree / "docs"
    assert dialogs.start(str(tree / "docs" / "a.txt")) == tree / "docs"
    assert dialogs.start(str(tree / "docs" / "new-name.txt")) == tree / "docs"
    assert dialogs.start("/etc") == tree
    assert dialogs.start(str(tree / "out")) == tree
    assert dialogs.start("relative") == tree


def test_resolve_selection_rules(dialogs: Dialogs, tree: Path) -> None:
    files = DialogProps(properties=("openFile",))
    a, png = str(tree / "docs" / "a.txt"), str(tree / "docs" / "b.png")
    assert resolve_selection(dialogs, files, (a,)) == [a]
    assert resolve_selection(dialogs, DialogProps(), (a,)) == [a]  # openFile is the default
    with pytest.raises(InvalidParams, match="one item only"):
        resolve_selection(dialogs, files, (a, png))
    multi = DialogProps(properties=("openFile", "multiSelections"))
    assert resolve_selection(dialogs, multi, (a, png)) == [a, png]
    with pytest.raises(InvalidParams, match="is a folder"):
        resolve_selection(dialogs, files, (str(tree / "docs"),))
    folders = DialogProps(properties=("openDirectory",))
    assert resolve_selection(dialogs, folders, (str(tree / "docs"),)) == [str(tree / "docs")]
    with pytest.raises(InvalidParams, match="is a file") as caught:
        resolve_selection(dialogs, folders, (a,))
    assert caught.value.field == "filePaths.0"
    with pytest.raises(Forbidden, match="outside the folders the open dialog may show, or does not exist"):
        resolve_selection(dialogs, files, (str(tree / "gone"),))
    with pytest.raises(InvalidParams, match="at least one"):
        resolve_selection(dialogs, files, ())
    with pytest.raises(Forbidden):
        resolve_selection(dialogs, files, (str(tree / "out" / "secret"),))


@pytest.mark.parametrize(
    ("props", "field"),
    [
        ({"properties": ["openFiles"]}, "props.properties.0"),
        ({"filters": [{"name": "Images"}]}, "props.filters.0.extensions"),
        ({"title": 3}, "props.title"),
        ({"colour": "red"}, "props.colour"),
    ],
)
def test_invalid_props_name_the_field(props: dict[str, object], field: str) -> None:
    with pytest.raises(ValidationError) as caught:
        OpenDialogParams.model_validate({"props": props})
    assert ".".join(map(str, caught.value.errors()[0]["loc"])) == field


def test_electron_props_are_accepted() -> None:
    params = OpenDialogParams.model_validate(
        {
            "props": {
                "title": "Pick",
                "defaultPath": "/tmp",
                "buttonLabel": "Use",
                "message": "m",
                "filters": [
                    {"name": "Images", "extensions": ["png", "jpg"]},
                    {"name": "All", "extensions": ["*"]},
                ],
                "properties": [
                    "openFile",
                    "openDirectory",
                    "multiSelections",
                    "showHiddenFiles",
                    "createDirectory",
                ],
            }
        }
    )
    assert params.props.files and params.props.directories
    assert not DialogProps(properties=("openDirectory",)).files
    with pytest.raises(ValidationError):
        ListDirectoryParams.model_validate({"path": ""})


def test_scripted_answers_in_order(tmp_path: Path, tree: Path) -> None:
    script = tmp_path / "answers.json"
    script.write_text('[{"canceled": false, "filePaths": ["/x/a"]}, {"canceled": true}]')
    dialogs = Dialogs(DialogSettings(roots=(tree,), script=script))
    first, second = dialogs.next_answer(), dialogs.next_answer()
    assert first is not None and first.model_dump() == {"canceled": False, "filePaths": ("/x/a",)}
    assert second is not None and second.model_dump() == {"canceled": True, "filePaths": ()}
    with pytest.raises(LimitExceeded, match="no answer left \\(2 used\\)"):
        dialogs.next_answer()
    assert Dialogs(DialogSettings(roots=(tree,))).next_answer() is None


@pytest.mark.parametrize(
    ("content", "message"),
    [("{}", "must be a JSON list"), ('[{"filePaths": []}]', "0.canceled"), ("[", "must be a JSON list")],
)
def test_bad_scripts_name_the_problem(tmp_path: Path, tree: Path, content: str, message: str) -> None:
    script = tmp_path / "answers.json"
    script.write_text(content)
    with pytest.raises(ConfigError, match=message):
        Dialogs(DialogSettings(roots=(tree,), script=script))
    with pytest.raises(ConfigError, match="cannot read the dialog script"):
        Dialogs(DialogSettings(roots=(tree,), script=tmp_path / "missing.json"))

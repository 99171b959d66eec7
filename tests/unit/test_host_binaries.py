from __future__ import annotations

from pathlib import Path

import pytest

from bridge.errors import ExecError
from bridge.processes.base import ExitStatus
from bridge.processes.host_binaries import resolve_host_binary
from tests.conftest import write_script


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    root = tmp_path / "bins"
    write_script(root, "tool", "echo hi\n")
    write_script(root, "sub/nested", "echo nested\n")
    write_script(tmp_path, "outside", "echo outside\n")
    (root / "escape").symlink_to(tmp_path / "outside")
    (root / "inner-link").symlink_to(root / "tool")
    (root / "data.txt").write_text("not executable")
    return root


def test_names_resolve_inside_the_folder(folder: Path) -> None:
    assert resolve_host_binary(folder, "tool") == (folder / "tool").resolve()
    assert resolve_host_binary(folder, "sub/nested") == (folder / "sub/nested").resolve()
    assert resolve_host_binary(folder, "inner-link") == (folder / "tool").resolve()


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("../outside", "'..' is not allowed"),
        ("sub/../tool", "'..' is not allowed"),
        ("/bin/sh", "absolute paths are not allowed"),
        ("escape", "outside the host binaries folder"),
        ("missing", "not found"),
        ("data.txt", "not executable"),
        ("", "empty or malformed"),
        ("to\x00ol", "empty or malformed"),
    ],
)
def test_refusals_say_why(folder: Path, name: str, message: str) -> None:
    with pytest.raises(ExecError, match=message) as caught:
        resolve_host_binary(folder, name)
    assert caught.value.data == {"target": "host", "cmd": name}


@pytest.mark.parametrize(
    ("returncode", "status"),
    [
        (0, ExitStatus(0)),
        (3, ExitStatus(3)),
        (-15, ExitStatus(143, "SIGTERM")),
        (-9, ExitStatus(137, "SIGKILL")),
    ],
)
def test_exit_status_follows_shell_conventions(returncode: int, status: ExitStatus) -> None:
    assert ExitStatus.from_returncode(returncode) == status

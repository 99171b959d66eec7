from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from bridge.errors import ExecError
from bridge.processes.base import ExitStatus
from bridge.processes.host_binaries import open_host_binary
from tests.conftest import write_script


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    root = tmp_path / "bins"
    write_script(root, "tool", "echo hi\n")
    write_script(root, "sub/nested", "echo nested\n")
    write_script(tmp_path, "outside", "echo outside\n")
    (root / "escape").symlink_to(tmp_path / "outside")
    (root / "inner-link").symlink_to(root / "tool")
    (root / "sub/up-link").symlink_to("../tool")
    (root / "sub-link").symlink_to("sub")
    (root / "climb").symlink_to("sub/../../outside")
    (root / "absolute-climb").symlink_to(f"{root}/../outside")
    (root / "loop").symlink_to("loop")
    (root / "dir-link").symlink_to(tmp_path)
    (root / "data.txt").write_text("not executable")
    return root


@contextmanager
def opened(folder: Path, name: str) -> Iterator[os.stat_result]:
    """The stat of the file ``open_host_binary`` opened, through its descriptor."""
    binary = open_host_binary(folder, name)
    try:
        yield os.stat(binary.executable)
    finally:
        binary.close()


@pytest.mark.parametrize(
    ("name", "file"),
    [
        ("tool", "tool"),
        ("sub/nested", "sub/nested"),
        ("inner-link", "tool"),
        ("sub/up-link", "tool"),
        ("sub-link/nested", "sub/nested"),
        ("sub-link/up-link", "tool"),
        ("./sub//nested", "sub/nested"),
    ],
)
def test_names_resolve_inside_the_folder(folder: Path, name: str, file: str) -> None:
    with opened(folder, name) as found:
        assert os.path.samestat(found, (folder / file).stat())


def test_the_descriptor_is_closed(folder: Path) -> None:
    binary = open_host_binary(folder, "tool")
    binary.close()
    with pytest.raises(OSError):
        os.fstat(binary.folder_fd)


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("../outside", "'..' is not allowed"),
        ("sub/../tool", "'..' is not allowed"),
        ("/bin/sh", "absolute paths are not allowed"),
        ("escape", "outside the host binaries folder"),
        ("dir-link/outside", "outside the host binaries folder"),
        ("climb", "climbs out of the host binaries folder"),
        ("absolute-climb", "climbs out of the host binaries folder"),
        ("loop", "more than 40 symlinks"),
        ("missing", "not found"),
        ("sub", "not a regular file"),
        ("tool/x", "not found"),
        ("data.txt", "not executable"),
        ("", "empty or malformed"),
        ("to\x00ol", "empty or malformed"),
    ],
)
def test_refusals_say_why(folder: Path, name: str, message: str) -> None:
    descriptors = os.listdir("/proc/self/fd")
    with pytest.raises(ExecError, match=message) as caught:
        open_host_binary(folder, name)
    assert caught.value.data == {"target": "host", "cmd": name}
    assert os.listdir("/proc/self/fd") == descriptors, "a refusal leaves no descriptor open"


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

"""Waiting for a backend's socket: what the error says when it never answers."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from bridge.extension.backend import wait_for_socket
from bridge.extension.metadata import ExtensionError
from bridge.progress import Step


async def still_running() -> str | None:
    return None


async def test_a_socket_nobody_listens_on_is_named(tmp_path: Path) -> None:
    path = tmp_path / "stale.sock"
    with socket.socket(socket.AF_UNIX) as leftover:
        leftover.bind(str(path))  # the file exists, nothing accepts: as after a crash
    with pytest.raises(ExtensionError, match=r"within 0.2 s \(connecting to it: Connection refused\)"):
        await wait_for_socket(path, step=Step("wait"), timeout=0.2, exited=still_running)


async def test_a_missing_socket_is_named(tmp_path: Path) -> None:
    with pytest.raises(ExtensionError, match=r"within 0.2 s \(no socket yet\)"):
        await wait_for_socket(tmp_path / "none.sock", step=Step("wait"), timeout=0.2, exited=still_running)


async def test_a_listening_socket_ends_the_wait(tmp_path: Path) -> None:
    path = tmp_path / "live.sock"
    with socket.socket(socket.AF_UNIX) as server:
        server.bind(str(path))
        server.listen()
        step = Step("wait")
        await wait_for_socket(path, step=step, timeout=5, exited=still_running)
    assert step.detail == "waiting for live.sock"

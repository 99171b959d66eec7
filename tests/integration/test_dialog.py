"""The open dialog's methods on a real daemon: listing inside and outside the roots, hidden files,
the final check of a selection, invalid props, and scripted answers in order."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from bridge.testing import BridgeClient, RpcFailure
from tests.support.processes import RunningBridge

pytestmark = pytest.mark.integration

FORBIDDEN = -32003
INVALID_PARAMS = -32602
LIMIT_EXCEEDED = -32005


@pytest.fixture
def root(tmp_path: Path) -> Path:
    folder = tmp_path / "root"
    (folder / "docs").mkdir(parents=True)
    (folder / "docs" / "a.txt").write_text("a")
    (folder / ".hidden").write_text("h")
    (tmp_path / "outside").mkdir()
    (folder / "out").symlink_to(tmp_path / "outside")
    return folder


async def test_interactive_dialog_lists_only_inside_the_roots(
    bridge: Callable[..., RunningBridge], root: Path, tmp_path: Path
) -> None:
    running = bridge("--dialog-root", root)
    async with BridgeClient.connect(running.ws_url) as client:
        opened = await client.call("desktop.openDialog", {"props": {"defaultPath": str(root / "docs")}})
        assert opened == {"interactive": True, "roots": [str(root)], "start": str(root / "docs")}
        listed = await client.call("desktop.listDirectory", {"path": str(root)})
        assert [entry["name"] for entry in listed["entries"]] == ["docs", "out"]
        hidden = await client.call("desktop.listDirectory", {"path": str(root), "showHidden": True})
        assert [entry["name"] for entry in hidden["entries"]] == ["docs", ".hidden", "out"]
        for outside in (str(tmp_path / "outside"), str(root / "out"), f"{root}/docs/../..", "/"):
            with pytest.raises(RpcFailure) as caught:
                await client.call("desktop.listDirectory", {"path": outside})
            assert caught.value.code == FORBIDDEN
            assert "outside the folders the open dialog may show" in caught.value.message
        chosen = await client.call(
            "desktop.resolveDialog", {"props": {}, "filePaths": [str(root / "docs" / "a.txt")]}
        )
        assert chosen == {"canceled": False, "filePaths": [str(root / "docs" / "a.txt")]}
        with pytest.raises(RpcFailure) as caught:
            await client.call("desktop.resolveDialog", {"props": {}, "filePaths": [str(root / "out")]})
        assert caught.value.code == FORBIDDEN


async def test_invalid_props_name_the_field(bridge: Callable[..., RunningBridge], root: Path) -> None:
    running = bridge("--dialog-root", root)
    async with BridgeClient.connect(running.ws_url) as client:
        with pytest.raises(RpcFailure) as caught:
            await client.call("desktop.openDialog", {"props": {"properties": ["openFiles"]}})
        assert caught.value.code == INVALID_PARAMS
        assert "props.properties.0" in caught.value.message


async def test_scripted_answers_in_order(
    bridge: Callable[..., RunningBridge], root: Path, tmp_path: Path
) -> None:
    script = tmp_path / "answers.json"
    answers = [{"canceled": False, "filePaths": ["/data/a.txt", "/data/b.txt"]}, {"canceled": True}]
    script.write_text(json.dumps(answers))
    running = bridge("--dialog-root", root, "--dialog-script", script)
    async with BridgeClient.connect(running.ws_url) as client:
        assert await client.call("desktop.openDialog", {"props": {}}) == answers[0]
        assert await client.call("desktop.openDialog", {"props": {"properties": ["openDirectory"]}}) == {
            "canceled": True,
            "filePaths": [],
        }
        with pytest.raises(RpcFailure) as caught:
            await client.call("desktop.openDialog", {"props": {}})
        assert caught.value.code == LIMIT_EXCEEDED
        assert "no answer left (2 used)" in caught.value.message


def test_a_bad_script_stops_the_start(bridge: Callable[..., RunningBridge], tmp_path: Path) -> None:
    script = tmp_path / "answers.json"
    script.write_text("{}")
    with pytest.raises(RuntimeError, match="must be a JSON list"):
        bridge("--dialog-script", script)

"""The open dialog's methods on a real daemon: listing inside and outside the roots, hidden files,
the final check of a selection, invalid props, and scripted answers in order."""

from __future__ import annotations

import json
import os
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


@pytest.fixture
def deep_root(tmp_path: Path) -> Path:
    """root/{a/b/c/d/, deep -> a/b/c/d, a/out -> outside}, outside/secret: the attacker's tree."""
    folder = tmp_path / "deep-root"
    (folder / "a" / "b" / "c" / "d").mkdir(parents=True)
    (folder / "deep").symlink_to(folder / "a" / "b" / "c" / "d")
    (tmp_path / "outside").mkdir()
    (tmp_path / "outside" / "secret").write_text("s" * 1234)
    os.utime(tmp_path / "outside" / "secret", (1_000_000, 1_000_000))
    (folder / "a" / "out").symlink_to(tmp_path / "outside" / "secret")
    os.utime(folder / "a" / "out", (2_000_000, 2_000_000), follow_symlinks=False)
    return folder


def climbs(root: Path, tail: str) -> list[str]:
    """``root/deep/..*N/tail`` for N from back at the root (the kernel's reading) to far past
    ``/`` (a lexical reading of the same string)."""
    return [str(root / "deep" / Path(*[".."] * ups) / tail) for ups in range(4, len(root.parts) + 6)]


def same_refusal(failure: RpcFailure, raw: str) -> tuple[int, str]:
    """The refusal with the path given taken out: what could tell one path from another."""
    return failure.code, failure.message.replace(raw, "<path>")


async def test_no_dialog_method_reaches_outside_through_a_symlink_and_dots(
    bridge: Callable[..., RunningBridge], deep_root: Path, tmp_path: Path
) -> None:
    """Whatever path a page sends, listDirectory lists, resolveDialog returns and openDialog
    starts in only resolved paths inside the roots, and every call answers."""
    running = bridge("--dialog-root", deep_root)
    props = {"properties": ["openFile", "openDirectory", "multiSelections"]}
    tails = [
        "etc/shadow",
        "etc/passwd",
        "root",
        "tmp",
        "",
        str(tmp_path.relative_to("/") / "outside" / "secret"),
    ]
    attacks = [path for tail in tails for path in climbs(deep_root, tail)]
    async with BridgeClient.connect(running.ws_url) as client:
        for raw in attacks:
            for method, params in (
                ("desktop.resolveDialog", {"props": props, "filePaths": [raw]}),
                ("desktop.listDirectory", {"path": raw}),
            ):
                try:
                    answer = await client.call(method, params, timeout=15)
                except RpcFailure as failure:
                    assert failure.code == FORBIDDEN, (method, raw, failure.message)
                    continue
                for path in answer.get("filePaths", [answer.get("path")]):
                    assert Path(path).is_relative_to(deep_root), (method, raw, answer)
                    assert os.path.realpath(path) == path, (method, raw, answer)
            opened = await client.call("desktop.openDialog", {"props": {"defaultPath": raw}}, timeout=15)
            assert Path(opened["start"]).is_relative_to(deep_root), (raw, opened)
        listed = await client.call("desktop.listDirectory", {"path": climbs(deep_root, "")[0]}, timeout=15)
        assert listed["path"] == str(deep_root)
        assert listed["crumbs"] == [{"name": deep_root.name, "path": str(deep_root)}]


async def test_refusals_do_not_tell_what_exists_outside(
    bridge: Callable[..., RunningBridge], deep_root: Path, tmp_path: Path
) -> None:
    """An existing path outside, a missing one outside and a missing one inside (reached any
    way, NUL bytes and huge paths too) get the same refusal, from every method."""
    running = bridge("--dialog-root", deep_root)
    outside = tmp_path / "outside"
    probes = [
        "/etc/shadow",
        "/etc/no-such-file",
        "/root",
        "/no-such-folder",
        str(outside / "secret"),
        str(outside / "missing"),
        str(deep_root / "missing"),
        str(deep_root / "a" / "out"),
        climbs(deep_root, "etc/shadow")[-1],
        climbs(deep_root, "etc/no-such-file")[-1],
        str(deep_root / "a" / "nul\0byte"),
        str(deep_root / "a" / ("x" * 100_000)),
    ]
    async with BridgeClient.connect(running.ws_url) as client:
        for method, params in (
            ("desktop.resolveDialog", lambda raw: {"props": {}, "filePaths": [raw]}),
            ("desktop.listDirectory", lambda raw: {"path": raw}),
        ):
            refusals = set()
            for raw in probes:
                with pytest.raises(RpcFailure) as caught:
                    await client.call(method, params(raw), timeout=15)
                refusals.add(same_refusal(caught.value, raw))
            assert len(refusals) == 1, (method, refusals)
            assert next(iter(refusals))[0] == FORBIDDEN


async def test_a_symlink_leading_out_is_listed_without_its_targets_metadata(
    bridge: Callable[..., RunningBridge], deep_root: Path
) -> None:
    running = bridge("--dialog-root", deep_root)
    async with BridgeClient.connect(running.ws_url) as client:
        listed = await client.call("desktop.listDirectory", {"path": str(deep_root / "a")})
        entries = {entry["name"]: entry for entry in listed["entries"]}
        assert entries["out"] == {
            "name": "out",
            "path": str(deep_root / "a" / "out"),
            "kind": "link",
            "link": True,
            "size": None,
            "mtime": 2_000_000,  # the link's own, not its target's 1,000,000
        }
        with pytest.raises(RpcFailure) as caught:
            await client.call("desktop.resolveDialog", {"props": {}, "filePaths": [entries["out"]["path"]]})
        assert caught.value.code == FORBIDDEN

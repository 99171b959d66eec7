"""``--mock FILE`` and ``--record FILE`` through the real daemon: scripted answers with no backend
and no engine, and a recording of the sample extension's real session replayed identically."""

from __future__ import annotations

import json
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from bridge.testing import BridgeClient, RpcFailure
from tests.support.processes import REPO, RunningBridge, descendants, run_ddbridge

pytestmark = pytest.mark.integration

SAMPLE = REPO / "docker" / "sample-extension"
SAMPLE_BACKEND = 'exec python3 backend/main.py --socket "$DDBRIDGE_BACKEND_SOCKET"'
NO_ENGINE = "unix:///nonexistent/docker.sock"

SCRIPT = {
    "service": [
        {"method": "GET", "url": "/hello", "body": {"message": "hi"}},
        {"method": "GET", "url": "/help", "body": "help text"},
        {"method": "POST", "url": "/items", "status": 404, "body": {"error": "no items"}},
    ],
    "exec": [
        {"target": "host", "cmd": "tool", "args": ["a"], "stdout": "out\n", "stderr": "err\n", "code": 3},
        {
            "target": "host",
            "cmd": "tick",
            "chunks": [
                {"stdout": "one\n"},
                {"stderr": "two\n", "delay": 0.3},
                {"stdout": "three\n", "delay": 0.3},
            ],
        },
        {"target": "host", "cmd": "slow", "chunks": [{"stdout": "never\n", "delay": 30}]},
    ],
    "docker": {"listContainers": [{"Id": "c1", "Names": ["/web"]}], "listImages": [{"Id": "sha256:i1"}]},
    "dialog": [{"canceled": False, "filePaths": ["/tmp/a"]}, {"canceled": True, "filePaths": []}],
}


@pytest.fixture
def mock_file(tmp_path: Path) -> Path:
    path = tmp_path / "mock.json"
    path.write_text(json.dumps(SCRIPT))
    return path


async def test_mock_answers_from_the_file(bridge: Callable[..., RunningBridge], mock_file: Path) -> None:
    running = bridge("--mock", mock_file, "--docker-host", NO_ENGINE)
    async with BridgeClient.connect(running.ws_url) as client:
        assert await client.call("service.request", {"method": "get", "url": "/hello?x=1"}) == {
            "message": "hi"
        }
        with pytest.raises(RpcFailure) as failed:
            await client.call("service.request", {"method": "POST", "url": "/items", "data": {}})
        assert failed.value.code == -32001
        assert failed.value.data == {
            "name": "Not Found",
            "message": '{"error": "no items"}',
            "statusCode": 404,
        }
        with pytest.raises(RpcFailure) as failed:
            await client.call("service.request", {"method": "GET", "url": "/helo"})
        assert failed.value.code == -32009
        assert (
            failed.value.message
            == "no mock answer for GET /helo; closest: GET /hello, GET /help, POST /items"
        )

        result = await client.call("exec.run", {"target": "host", "cmd": "tool", "args": ["a"]})
        assert result == {
            "cmd": "tool",
            "code": 3,
            "signal": None,
            "killed": False,
            "stdout": "out\n",
            "stderr": "err\n",
        }
        with pytest.raises(RpcFailure, match=r"no mock answer for host tool b; closest: host tool a"):
            await client.call("exec.run", {"target": "host", "cmd": "tool", "args": ["b"]})

        start = time.monotonic()
        stream = await client.spawn({"target": "host", "cmd": "tick"})
        arrivals = []
        for _ in range(3):
            arrivals.append((await stream.output.get(), time.monotonic() - start))
        outcome = await stream.finished()
        assert [chunk for chunk, _ in arrivals] == [
            ("stdout", "one\n"),
            ("stderr", "two\n"),
            ("stdout", "three\n"),
        ]
        assert arrivals[0][1] < 0.25 and 0.25 < arrivals[1][1] < 0.55 and 0.55 < arrivals[2][1] < 1.2
        assert outcome.code == 0

        slow = await client.spawn({"target": "host", "cmd": "slow"})
        await slow.kill()
        ended = await slow.finished(timeout=5)
        assert (ended.code, ended.signal, ended.chunks) == (143, "SIGTERM", [])

        containers = await client.call("docker.listContainers", {"options": {"all": True}})
        assert containers == [{"Id": "c1", "Names": ["/web"]}]
        assert await client.call("docker.listImages") == [{"Id": "sha256:i1"}]

        dialogs = [await client.call("desktop.openDialog", {"props": {}}) for _ in range(3)]
        assert dialogs == [
            {"canceled": False, "filePaths": ["/tmp/a"]},
            {"canceled": True, "filePaths": []},
            {"canceled": True, "filePaths": []},
        ]
        # What the file does not script is the real daemon's.
        assert (await client.call("host.info"))["version"]
        assert await client.call("desktop.toast", {"level": "success", "message": "ok"}) is None


def ddbridge(*args: str | Path) -> subprocess.CompletedProcess[str]:
    return run_ddbridge(*args, "--port", "0")


def test_bad_mock_file_is_a_usage_error(tmp_path: Path) -> None:
    path = tmp_path / "bad.json"
    path.write_text(
        json.dumps({"exec": [{"target": "host", "cmd": "t", "chunks": [{"stdout": "x", "delay": "soon"}]}]})
    )
    result = ddbridge("serve", "--mock", path)
    assert result.returncode == 2
    assert result.stderr.strip() == (
        f"ddbridge: mock file {path}: exec[0] (host t): chunks[0].delay: "
        "Input should be a valid number, unable to parse string as a number"
    )


def test_record_into_a_missing_folder_is_refused(tmp_path: Path) -> None:
    result = ddbridge("dev", SAMPLE, "--backend-cmd", "true", "--record", tmp_path / "nowhere" / "r.json")
    assert result.returncode == 2
    assert result.stderr.strip() == (
        f"ddbridge: cannot record to {tmp_path / 'nowhere' / 'r.json'}: "
        f"the folder {tmp_path / 'nowhere'} does not exist"
    )
    assert not (tmp_path / "nowhere").exists()


async def _session(url: str) -> dict[str, Any]:
    """The calls a user of the sample UI makes, and what came back."""
    answers: dict[str, Any] = {}
    async with BridgeClient.connect(url) as client:
        answers["hello"] = await client.call("service.request", {"method": "GET", "url": "/hello"})
        answers["echo"] = await client.call(
            "service.request", {"method": "POST", "url": "/echo", "data": {"note": "hi"}}
        )
        # Data long enough to come as the frame's text (bridge.rpc.dispatch): recorded and
        # matched as its value.
        answers["big_echo"] = await client.call(
            "service.request", {"method": "POST", "url": "/echo", "data": {"note": "x" * 100_000}}
        )
        with pytest.raises(RpcFailure) as failed:
            await client.call("service.request", {"method": "GET", "url": "/missing"})
        answers["missing"] = (failed.value.code, failed.value.data)
        answers["cli"] = await client.call(
            "exec.run", {"target": "host", "cmd": "sample-cli", "args": ["hello", "Moby"]}
        )
        start = time.monotonic()
        stream = await client.spawn({"target": "host", "cmd": "sample-cli", "args": ["count", "3", "0.2"]})
        outcome = await stream.finished()
        answers["count"] = (outcome.text("stdout"), outcome.text("stderr"), outcome.code, outcome.signal)
        answers["count_seconds"] = time.monotonic() - start
    return answers


async def test_recording_replays_identically(bridge: Callable[..., RunningBridge], tmp_path: Path) -> None:
    recording = tmp_path / "session.json"
    real = bridge(SAMPLE, "--backend-cmd", SAMPLE_BACKEND, "--record", recording, command="dev", timeout=30)
    recorded = await _session(real.ws_url)
    assert recorded["hello"]["message"] == "Hello from the sample backend"
    assert recorded["missing"][1]["statusCode"] == 404
    assert recorded["count"][0] == "count 1/3\ncount 2/3\ncount 3/3\n"
    await _session(real.ws_url)  # the same calls again: recorded once
    assert real.stop() == 0

    script = json.loads(recording.read_text())
    assert [(entry["method"], entry["url"]) for entry in script["service"]] == [
        ("GET", "/hello"),
        ("POST", "/echo"),
        ("POST", "/echo"),
        ("GET", "/missing"),
    ]
    assert script["service"][2]["data"] == {"note": "x" * 100_000}
    assert [entry["args"] for entry in script["exec"]] == [["hello", "Moby"], ["count", "3", "0.2"]]
    assert sum(chunk["delay"] for chunk in script["exec"][1]["chunks"]) > 0.3

    # No backend, no binaries, no engine: only the recording answers.
    replay = bridge("--mock", recording, "--docker-host", NO_ENGINE)
    replayed = await _session(replay.ws_url)
    for key in ("hello", "echo", "big_echo", "missing", "cli", "count"):
        assert replayed[key] == recorded[key], key
    assert replayed["count_seconds"] > 0.3


async def test_dev_with_a_mock_starts_no_backend(
    bridge: Callable[..., RunningBridge], mock_file: Path
) -> None:
    running = bridge(SAMPLE, "--mock", mock_file, "--docker-host", NO_ENGINE, command="dev")
    async with BridgeClient.connect(running.ws_url) as client:
        assert await client.call("service.request", {"method": "GET", "url": "/hello"}) == {"message": "hi"}
    assert descendants(running.process.pid) == []
    assert running.stop() == 0
    assert "Starting the backend" not in running.log() and "/tmp/ddbridge-" not in running.log()

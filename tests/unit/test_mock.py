"""The mock file: validation messages, matching, closest entries, the scripted process and the
recorder's file."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path
from typing import Any

import pytest

from bridge.api.exec import ExecParams
from bridge.api.service import ServiceRequest
from bridge.app import ROUTERS
from bridge.config import load_settings
from bridge.errors import ConfigError, NoMockAnswer
from bridge.mock import LayeredRegistry, check_mock_settings, registry_for
from bridge.mock.record import Recorder
from bridge.mock.replay import ScriptedProcess
from bridge.mock.script import ExecChunk, Script, closest, load_script
from bridge.processes.base import STDERR, STDOUT, ExitStatus
from bridge.rpc import Registry


def write(tmp_path: Path, content: Any, name: str = "mock.json") -> Path:
    path = tmp_path / name
    path.write_text(content if isinstance(content, str) else json.dumps(content))
    return path


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ({"service": [{"method": "GET", "url": "/a"}, {"method": "GET"}]}, "service[1]: url: Field required"),
        (
            {"exec": [{"target": "host", "cmd": "tool", "args": ["a"], "code": "x"}]},
            "exec[0] (host tool a): code: Input should be a valid integer",
        ),
        (
            {"exec": [{"target": "host", "cmd": "t", "chunks": [{"stdout": "x", "delay": -1}]}]},
            "exec[0] (host t): chunks[0].delay: Input should be greater than or equal to 0",
        ),
        (
            {"exec": [{"target": "host", "cmd": "t", "chunks": [{"delay": 1}]}]},
            "exec[0] (host t): chunks[0]: Value error, a chunk has exactly one of stdout or stderr",
        ),
        ({"exec": [{"target": "moon", "cmd": "t"}]}, "exec[0] (moon t): target: String should match"),
        (
            {"service": [{"method": "GET", "url": "/a", "stauts": 404}]},
            "service[0] (GET /a): stauts: unknown",
        ),
        ({"servce": []}, "servce: unknown field"),
        ({"docker": {"listImages": {}}}, "docker: listImages: Input should be a valid list"),
        ({"service": {}}, "service: Value error, must be a list of entries"),
        ("{nope", "is not valid JSON"),
        ("[]", "the top level must be an object"),
    ],
)
def test_bad_files_name_the_entry_and_field(tmp_path: Path, content: Any, message: str) -> None:
    path = write(tmp_path, content)
    with pytest.raises(ConfigError) as raised:
        load_script(path)
    text = str(raised.value)
    assert text.startswith(f"mock file {path}") and message in text and "\n" not in text


def test_toml_files_are_read(tmp_path: Path) -> None:
    path = write(tmp_path, '[[service]]\nmethod = "get"\nurl = "/a"\nbody = {x = 1}\n', "mock.toml")
    (entry,) = load_script(path).service
    assert entry.key == "GET /a" and entry.body == {"x": 1}


def test_service_matching() -> None:
    script = Script.model_validate(
        {
            "service": [
                {"method": "POST", "url": "/echo", "data": {"a": 1}, "body": "one"},
                {"method": "POST", "url": "echo", "body": "any"},
                {"method": "GET", "url": "/items?page=2", "body": "page 2"},
                {"method": "GET", "url": "/items", "body": "items"},
            ]
        }
    )

    def answer(method: str, url: str, data: Any = None) -> Any:
        return next((e.body for e in script.service if e.matches(method, url, data)), None)

    assert answer("post", "/echo", {"a": 1}) == "one"
    assert answer("POST", "/echo", {"a": 2}) == "any"
    assert answer("GET", "/items?page=2") == "page 2"
    assert answer("GET", "/items?page=3") == "items"
    assert answer("GET", "items") == "items"
    assert answer("PUT", "/items") is None


def test_exec_matching_and_defaults() -> None:
    script = Script.model_validate(
        {
            "exec": [
                {"target": "host", "cmd": "t", "args": ["a"], "stdout": "out", "stderr": "err", "code": 2},
                {"target": "host", "cmd": "t", "chunks": [{"stdout": "x"}, {"stderr": "y"}, {"stdout": "z"}]},
            ]
        }
    )
    first, second = script.exec
    assert (
        first.matches("host", "t", ["a"])
        and not first.matches("host", "t", [])
        and second.matches("host", "t", [])
    )
    assert [c.model_dump(exclude_unset=True) for c in first.stream()] == [
        {"stdout": "out"},
        {"stderr": "err"},
    ]
    assert (second.output("stdout"), second.output("stderr")) == ("xz", "y")


def test_closest_entries() -> None:
    keys = ["GET /hello", "GET /help", "POST /echo", "GET /hello"]
    assert closest("GET /helo", keys)[:2] == ["GET /hello", "GET /help"]
    assert len(closest("DELETE /x", keys)) == 3
    error = NoMockAnswer("GET /helo", ["GET /hello", "GET /help"], "service answers")
    assert error.message == "no mock answer for GET /helo; closest: GET /hello, GET /help"
    assert NoMockAnswer("x", [], "execs").message == "no mock answer for x; the mock file scripts no execs"


async def test_scripted_process_plays_chunks_with_delays() -> None:
    process = ScriptedProcess(
        [ExecChunk(stdout="a"), ExecChunk(stderr="b", delay=0.2), ExecChunk(stdout="c", delay=0.1)],
        ExitStatus(3),
    )
    start = time.monotonic()
    assert await process.read() == [(STDOUT, b"a")]
    assert await process.read() == [(STDERR, b"b")]
    assert 0.18 < time.monotonic() - start < 0.5
    assert await process.read() == [(STDOUT, b"c")]
    assert await process.read() == []
    assert await process.wait() == ExitStatus(3)


async def test_scripted_process_ends_when_terminated() -> None:
    process = ScriptedProcess([ExecChunk(stdout="a", delay=30)], ExitStatus(0))
    reading = asyncio.create_task(process.read())
    await asyncio.sleep(0.05)
    await process.terminate(1)
    assert await asyncio.wait_for(reading, 2) == []
    assert process.killed and await process.wait() == ExitStatus(143, "SIGTERM")


def test_recorder_writes_a_mock_file_that_loads(tmp_path: Path) -> None:
    path = tmp_path / "rec.json"
    recorder = Recorder(path)
    assert load_script(path) == Script()
    hello = ServiceRequest(method="get", url="/hello")
    recorder.service(hello, 200, None, {"time": 1})
    recorder.service(hello, 200, None, {"time": 2})  # the same call: kept once, the first answer
    recorder.service(ServiceRequest(method="GET", url="/nope"), 404, "Not Found", '{"error": "no"}')
    params = ExecParams(target="host", cmd="t", args=["a"])
    recorder.exec_stream(params, [ExecChunk(stdout="x\n", delay=0.25)], ExitStatus(0))
    recorder.exec_run(params, {"stdout": "x\n", "stderr": "", "code": 0, "signal": None})
    recorder.docker_list("listImages", [{"Id": "sha256:1"}])
    recorder.dialog({"interactive": True, "roots": ["/"]})
    recorder.dialog({"canceled": False, "filePaths": ["/x"]})
    recorder.dialog({"canceled": False, "filePaths": ["/x"]})
    script = load_script(path)
    assert [(e.key, e.status, e.body) for e in script.service] == [
        ("GET /hello", 200, {"time": 1}),
        ("GET /nope", 404, '{"error": "no"}'),
    ]
    (entry,) = script.exec
    assert entry.stdout == "x\n" and entry.chunks == [ExecChunk(stdout="x\n", delay=0.25)]
    assert script.docker.listImages == [{"Id": "sha256:1"}] and script.docker.listContainers is None
    assert [d.filePaths for d in script.dialog] == [["/x"]]
    assert [p.name for p in tmp_path.iterdir()] == ["rec.json"]  # no temporary file left


def test_record_and_mock_paths_are_checked(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"the folder .*missing does not exist"):
        check_mock_settings(load_settings(flags={"mock": {"record": tmp_path / "missing" / "r.json"}}))
    with pytest.raises(ConfigError, match="not both"):
        check_mock_settings(load_settings(flags={"mock": {"record": tmp_path / "r", "file": tmp_path / "f"}}))
    with pytest.raises(ConfigError, match="cannot read mock file"):
        check_mock_settings(load_settings(flags={"mock": {"file": tmp_path / "none.json"}}))
    assert not (tmp_path / "missing").exists()


def test_registry_layers(tmp_path: Path) -> None:
    base: Registry[Any] = Registry(ROUTERS)
    assert registry_for(load_settings(environ={}), base) is base
    mocked = registry_for(load_settings(flags={"mock": {"file": write(tmp_path, {})}}, environ={}), base)
    assert isinstance(mocked, LayeredRegistry)
    assert mocked.get("service.request") is not base.get("service.request")
    assert mocked.get("host.info") is base.get("host.info")
    assert "desktop.openDialog" in mocked and mocked.names() == sorted([*base.names(), "mock.set"])


async def test_mock_set_answers_before_the_file_until_replaced(tmp_path: Path) -> None:
    file = {
        "service": [{"method": "GET", "url": "/hello", "body": "file"}],
        "docker": {"listContainers": [{"Id": "file"}]},
        "dialog": [{"filePaths": ["/file"]}],
    }
    settings = load_settings(flags={"mock": {"file": write(tmp_path, file)}}, environ={})
    registry = registry_for(settings, Registry(ROUTERS))

    async def call(name: str, params: dict[str, Any]) -> Any:
        method = registry.get(name)
        assert method is not None
        return await method.handler(method.params.model_validate(params), None)

    hello = {"method": "GET", "url": "/hello"}
    await call(
        "mock.set",
        {
            "service": [{"method": "GET", "url": "/hello", "body": "test"}],
            "exec": [{"target": "host", "cmd": "t", "stdout": "out"}],
            "docker": {"listImages": [{"Id": "test"}]},
            "dialog": [{"filePaths": ["/a"]}, {"filePaths": ["/b"]}],
        },
    )
    assert await call("service.request", hello) == "test"
    assert (await call("exec.run", {"target": "host", "cmd": "t"}))["stdout"] == "out"
    assert await call("docker.listImages", {}) == [{"Id": "test"}]
    assert await call("docker.listContainers", {}) == [{"Id": "file"}]  # the test set no list: the file's
    dialogs = [(await call("desktop.openDialog", {}))["filePaths"] for _ in range(3)]
    assert dialogs == [["/a"], ["/b"], ["/b"]]
    with pytest.raises(NoMockAnswer, match="closest: GET /hello"):
        await call("service.request", {"method": "GET", "url": "/helo"})

    await call("mock.set", {})
    assert await call("service.request", hello) == "file"
    assert (await call("desktop.openDialog", {}))["filePaths"] == ["/file"]
    with pytest.raises(NoMockAnswer, match="the mock file scripts no execs"):
        await call("exec.run", {"target": "host", "cmd": "t"})

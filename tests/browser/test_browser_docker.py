"""The Docker side of the bundled client in Chromium, against a real engine (the private dockerd of
tests/support/dockerd.py): ``extension.vm.cli.exec`` blocking and streaming, the v0 container
execs, ``docker.cli.exec`` / ``execDockerCmd`` / ``spawnDockerCmd`` on the real docker CLI, the
list calls, and ``close()`` from the page ending processes in the container and on the host."""

from __future__ import annotations

import subprocess
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from tests.browser.helpers import ClientPage, wait_for
from tests.support.dockerd import EngineUnderTest
from tests.support.processes import RunningBridge

pytestmark = [pytest.mark.browser, pytest.mark.engines("docker", "podman")]

VM_EXEC = "extension.vm.cli.exec"
DOCKER_EXEC = "docker.cli.exec"
JSON_FORMAT = '"{{json .}}"'  # as extensions write it in JS: the blocking form removes the quotes


@pytest.fixture
def page(shared_page: Callable[..., ClientPage], docker_page_bridge: RunningBridge) -> ClientPage:
    return shared_page(docker_page_bridge.login_url())


@pytest.fixture(scope="module")
def ticker(engine: EngineUnderTest) -> Iterator[str]:
    """A container printing ``tick N`` every 0.1 s; removed after the module."""
    name = engine.run_container(
        "browser-ticker", "sh", "-c", "i=0; while true; do echo tick $i; i=$((i+1)); sleep 0.1; done"
    )
    yield name
    engine.docker("rm", "-f", name, check=False)


def parsed(page: ClientPage, parser: str, path: str, *args: Any) -> Any:
    """``client.<path>(*args).<parser>()`` in the page, e.g. ``parseJsonLines``."""
    outcome: dict[str, Any] = page.page.evaluate(
        "([path, parser, args]) => window.testApi.callAndParse(path, parser, ...args)",
        [path, parser, list(args)],
    )
    assert outcome["ok"], f"{path}{args!r}.{parser}() failed: {outcome['error']}"
    return outcome["value"]


def of_kind(events: list[dict[str, str]], kind: str) -> list[str]:
    return [event[kind] for event in events if kind in event]


def in_container(engine: EngineUnderTest, container: str, marker: str) -> list[str]:
    """The command lines in the container containing ``marker`` (its own ``ps``, via docker exec)."""
    return [line for line in engine.processes(container) if marker in line]


def on_host(pattern: str) -> list[str]:
    """PIDs of host processes whose command line matches ``pattern`` (``pgrep -f``)."""
    done = subprocess.run(["pgrep", "-f", pattern], capture_output=True, text=True, check=False)
    return done.stdout.split()


def container_names(listed: list[dict[str, Any]]) -> set[str]:
    return {name for container in listed for name in container["Names"]}


# --------------------------------------------------------------------------------------------
# extension.vm.cli.exec and the v0 container execs


def test_vm_exec_resolves_with_the_exec_result(page: ClientPage) -> None:
    result = page.value(VM_EXEC, "sh", ["-c", "echo out; echo err >&2"])
    assert result["isExecResult"]
    assert (result["stdout"], result["stderr"], result["code"]) == ("out\n", "err\n", 0)
    assert result["lines"] == ["out"]
    assert result["cmd"] == "sh"


def test_vm_exec_arguments_are_argv_not_a_shell(page: ClientPage) -> None:
    result = page.value(VM_EXEC, "echo", ["$HOME", "a;b", "*"])
    assert result["lines"] == ["$HOME a;b *"]


def test_vm_exec_non_zero_exit_rejects_with_the_exec_result(page: ClientPage) -> None:
    error = page.error(VM_EXEC, "sh", ["-c", "echo partial; echo it broke >&2; exit 3"])
    assert not error["isError"], "Docker Desktop rejects with the ExecResult itself, not an Error"
    assert error["isExecResult"]
    assert (error["code"], error["stderr"], error["stdout"]) == (3, "it broke\n", "partial\n")


def test_vm_stream_delivers_lines_then_the_exit_code(page: ClientPage) -> None:
    script = "for i in 1 2 3; do echo line $i; sleep 0.05; done; echo oops >&2; exit 5"
    state = page.wait_done(page.stream(VM_EXEC, "sh", ["-c", script], splitOutputLines=True))
    assert state["closed"] and "error" not in state, state
    assert state["exitCode"] == 5
    assert of_kind(state["events"], "stdout") == ["line 1", "line 2", "line 3"]
    assert of_kind(state["events"], "stderr") == ["oops"]


def test_vm_stream_close_ends_the_process_in_the_container(page: ClientPage, engine: EngineUnderTest) -> None:
    marker = "ddb-browser-vm-loop"
    script = f"while true; do echo {marker}; sleep 0.1; done"
    assert in_container(engine, engine.vm, marker) == []
    handle = page.stream(VM_EXEC, "sh", ["-c", script], splitOutputLines=True)
    state = page.wait_until(handle, "s.events.length >= 3")
    assert state["hasClose"]
    assert of_kind(state["events"], "stdout")[:3] == [marker] * 3
    assert in_container(engine, engine.vm, marker), "the loop should run in the vm container"
    page.close_stream(handle)
    state = page.wait_done(handle)
    assert state["closed"] and "error" not in state, f"onClose was not called: {state}"
    assert state["exitCode"] == 143, "ended by SIGTERM: 128 + 15, as a shell reports it"
    wait_for(lambda: in_container(engine, engine.vm, marker) == [], timeout=10, what="the loop to be gone")
    seen = len(state["events"])
    page.page.wait_for_timeout(300)
    assert len(page.state(handle)["events"]) == seen, "no output after close"


def test_vm_stream_close_reports_the_exit_code_of_a_term_handler(page: ClientPage) -> None:
    """A process that handles SIGTERM by saying goodbye and exiting 7: the goodbye arrives and
    onClose(7), as for host binaries (the bridge keeps reading while it signals)."""
    script = "trap 'echo bye; exit 7' TERM; echo ready; while true; do sleep 0.1; done"
    handle = page.stream(VM_EXEC, "sh", ["-c", script], splitOutputLines=True)
    page.wait_until(handle, "s.events.length >= 1")
    page.close_stream(handle)
    state = page.wait_done(handle)
    assert state["closed"], state
    assert state["exitCode"] == 7
    assert of_kind(state["events"], "stdout") == ["ready", "bye"]


def test_v0_exec_in_vm_extension(page: ClientPage) -> None:
    result = page.value("backend.execInVMExtension", "echo hi")
    assert (result["stdout"], result["code"], result["lines"]) == ("hi\n", 0, ["hi"])
    error = page.error("backend.execInVMExtension", "echo no >&2; exit 2")
    assert (error["code"], error["stderr"]) == (2, "no\n")


def test_v0_spawn_in_vm_extension_callback(page: ClientPage) -> None:
    # A second apart: a loaded machine's daemon may batch output that comes 0.2 s apart (seen in CI).
    script = "echo first; sleep 1; echo second"
    state = page.wait_done(page.spawn_v0("backend.spawnInVMExtension", "sh", ["-c", script]))
    assert all(event["error"] is None for event in state["events"]), state
    data = [event["data"] for event in state["events"]]
    chunks = [item["stdout"] for item in data[:-1]]
    assert len(chunks) >= 2 and all(set(item) == {"stdout"} for item in data[:-1]), data
    assert "".join(chunks) == "first\nsecond\n"
    assert data[-1] == {"code": 0}, "the last callback carries the exit code"


def test_v0_exec_in_container(page: ClientPage, engine: EngineUnderTest, ticker: str) -> None:
    container_id = engine.docker("inspect", "-f", "{{.Id}}", ticker).stdout.strip()
    result = page.value("backend.execInContainer", ticker, "echo in-container; hostname")
    assert result["code"] == 0
    assert result["lines"] == ["in-container", container_id[:12]], "ran in that container, not the vm"


def test_v0_exec_in_an_unknown_container_names_it(page: ClientPage) -> None:
    error = page.error("backend.execInContainer", "no-such-box-ddb", "echo in-container")
    assert error["isError"]
    assert "no-such-box-ddb" in error["message"]
    assert error["code"] == -32002


# --------------------------------------------------------------------------------------------
# docker.cli.exec, execDockerCmd, spawnDockerCmd


def test_docker_cli_ps_parses_json_lines(page: ClientPage, engine: EngineUnderTest) -> None:
    rows = parsed(page, "parseJsonLines", DOCKER_EXEC, "ps", ["--all", "--format", JSON_FORMAT])
    assert all(isinstance(row, dict) and {"Names", "ID"} <= set(row) for row in rows), rows
    (vm,) = [row for row in rows if row["Names"] == engine.vm]
    full_id = engine.docker("inspect", "-f", "{{.Id}}", engine.vm).stdout.strip()
    assert full_id.startswith(vm["ID"])


def test_v0_exec_docker_cmd(page: ClientPage, engine: EngineUnderTest) -> None:
    result = page.value("execDockerCmd", "ps", "--format", JSON_FORMAT)
    assert result["code"] == 0, result["stderr"]
    assert result["lines"][0].startswith("{"), "the quotes around the format were removed"
    rows = parsed(page, "parseJsonLines", "execDockerCmd", "ps", "--format", JSON_FORMAT)
    assert engine.vm in {row["Names"] for row in rows}


def test_docker_cli_blocking_splits_like_a_shell_streaming_passes_args_as_given(
    page: ClientPage, engine: EngineUnderTest
) -> None:
    """docker/extensions-sdk #303: the same call, without and with ``stream``, as Docker Desktop
    runs it. Blocking (and v0 ``execDockerCmd``): the line ``inspect --format "{{ .Name }}" VM``
    split as a shell would; streaming: argv as given, quotes included."""
    args = ["--format", '"{{ .Name }}"', engine.vm]
    blocking = page.value(DOCKER_EXEC, "inspect", args)
    assert blocking["stdout"] == f"/{engine.vm}\n"
    assert page.value("execDockerCmd", "inspect", *args)["stdout"] == f"/{engine.vm}\n"
    streamed = page.wait_done(page.stream(DOCKER_EXEC, "inspect", args, splitOutputLines=True))
    assert streamed["exitCode"] == 0 and "error" not in streamed, streamed
    assert of_kind(streamed["events"], "stdout") == [f'"/{engine.vm}"']
    two_words = page.value(DOCKER_EXEC, "image inspect", ["--format", "{{.Id}}", engine.image])
    assert two_words["stdout"].startswith("sha256:")


def test_docker_cli_unclosed_quote_rejects_naming_the_command(page: ClientPage) -> None:
    error = page.error(DOCKER_EXEC, "ps", ["--format", "'{{.Names}}"])
    assert error["isError"] and error["code"] == -32602
    assert "docker 'ps'" in error["message"] and "never closed" in error["message"]


def test_docker_cli_failure_rejects_with_the_exec_result(page: ClientPage) -> None:
    error = page.error(DOCKER_EXEC, "inspect", ["no-such-thing-ddb"])
    assert error["isExecResult"]
    assert error["code"] == 1
    assert "no-such-thing-ddb" in error["stderr"]


def test_docker_logs_stream_and_close(page: ClientPage, ticker: str) -> None:
    pattern = f"docker logs -f {ticker}"
    assert on_host(pattern) == []
    handle = page.stream(DOCKER_EXEC, "logs", ["-f", ticker], splitOutputLines=True)
    state = page.wait_until(handle, "s.events.filter((e) => 'stdout' in e).length >= 3")
    assert state["hasClose"]
    lines = of_kind(state["events"], "stdout")
    assert lines[:3] == ["tick 0", "tick 1", "tick 2"], "docker logs -f starts at the first line"
    assert on_host(pattern), "docker logs -f should be running on the host"
    page.close_stream(handle)
    state = page.wait_done(handle)
    assert state["closed"] and "error" not in state, f"onClose was not called: {state}"
    assert state["exitCode"] == 143, "the CLI exits 128 + 15 on SIGTERM"
    wait_for(lambda: on_host(pattern) == [], timeout=10, what="docker logs -f to end")
    seen = len(state["events"])
    page.page.wait_for_timeout(300)
    assert len(page.state(handle)["events"]) == seen, "no output after close"


def test_v0_spawn_docker_cmd_callback(page: ClientPage, engine: EngineUnderTest) -> None:
    state = page.wait_done(page.spawn_v0("spawnDockerCmd", "inspect", ["--format", "{{.Name}}", engine.vm]))
    assert all(event["error"] is None for event in state["events"]), state
    data = [event["data"] for event in state["events"]]
    assert "".join(item["stdout"] for item in data if "stdout" in item) == f"/{engine.vm}\n"
    assert data[-1] == {"code": 0}, "the last callback carries the exit code"
    failed = page.wait_done(page.spawn_v0("spawnDockerCmd", "inspect", ["no-such-thing-ddb"]))
    data = [event["data"] for event in failed["events"]]
    assert "no-such-thing-ddb" in "".join(item["stderr"] for item in data if "stderr" in item)
    assert data[-1] == {"code": 1}


# --------------------------------------------------------------------------------------------
# The list calls


@pytest.mark.parametrize("path", ["docker.listContainers", "listContainers"])
def test_list_containers(page: ClientPage, engine: EngineUnderTest, ticker: str, path: str) -> None:
    listed = page.value(path, {"all": True})
    assert isinstance(listed, list)
    (vm,) = [container for container in listed if f"/{engine.vm}" in container["Names"]]
    assert {"Id", "Names", "Image", "State", "Status", "Labels"} <= set(vm), "the Engine API's JSON"
    assert (vm["State"], vm["Image"]) == ("running", engine.image)
    assert f"/{ticker}" in container_names(listed)


@pytest.mark.parametrize("path", ["docker.listImages", "listImages"])
def test_list_images(page: ClientPage, engine: EngineUnderTest, path: str) -> None:
    listed = page.value(path)
    (image,) = [image for image in listed if engine.image in (image["RepoTags"] or [])]
    assert {"Id", "RepoTags", "Created", "Size"} <= set(image)


def test_list_calls_take_docker_desktops_options(
    page: ClientPage, engine: EngineUnderTest, ticker: str
) -> None:
    """What published extensions pass: ``format: "json"`` is no Engine API parameter."""
    listed = page.value("docker.listContainers", {"all": True, "format": "json"})
    assert {f"/{engine.vm}", f"/{ticker}"} <= container_names(listed)
    images = page.value("docker.listImages", {"format": "json"})
    assert engine.image in {tag for image in images for tag in image["RepoTags"] or []}
    error = page.error("docker.listContainers", {"all": "yes", "format": "json"})
    assert error["code"] == -32602 and "options.all" in error["message"]


def test_list_containers_bad_option_names_the_field(page: ClientPage) -> None:
    error = page.error("docker.listContainers", {"limit": "x"})
    assert error["isError"]
    assert "options.limit" in error["message"]
    assert error["code"] == -32602

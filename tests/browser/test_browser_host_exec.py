"""Host binaries from the bundled client: ``extension.host.cli.exec`` blocking and streaming, the
v0 ``execHostCmd`` / ``spawnHostCmd``, ``close()`` ending the process, and confinement."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from tests.browser.helpers import ClientPage, wait_for
from tests.support.processes import RunningBridge, running_binary

pytestmark = pytest.mark.browser

EXEC = "extension.host.cli.exec"


@pytest.fixture
def page(shared_page: Callable[..., ClientPage], page_bridge: RunningBridge) -> ClientPage:
    return shared_page(page_bridge.login_url())


def running(binary: Path) -> list[str]:
    """PIDs of the processes that run the binary."""
    return [str(process.pid) for process in running_binary(binary)]


def joined(events: list[dict[str, str]], kind: str) -> str:
    return "".join(event[kind] for event in events if kind in event)


def test_exec_resolves_with_the_exec_result(page: ClientPage) -> None:
    result = page.value(EXEC, "greet", ["a", "b c"])
    assert result["isExecResult"]
    assert result["stdout"] == "hello a b c\n"
    assert result["stderr"] == "to stderr\n"
    assert result["code"] == 0
    assert result["lines"] == ["hello a b c"]


def test_arguments_are_argv_not_a_shell(page: ClientPage) -> None:
    result = page.value(EXEC, "greet", ["$HOME", "; echo pwned", "`id`"])
    assert result["lines"] == ["hello $HOME ; echo pwned `id`"]


def test_exec_passes_cwd_and_env(page: ClientPage, tmp_path: Path) -> None:
    result = page.value(EXEC, "where", [], {"cwd": str(tmp_path), "env": {"DDB_VAR": "from the page"}})
    assert result["lines"] == [str(tmp_path), "DDB_VAR=from the page"]


def test_non_zero_exit_rejects_with_the_exec_result(page: ClientPage) -> None:
    error = page.error(EXEC, "fail", [])
    assert not error["isError"], "Docker Desktop rejects with the ExecResult itself, not an Error"
    assert error["isExecResult"]
    assert error["code"] == 3
    assert error["stderr"] == "it broke\n"
    assert error["stdout"] == "partial\n"


def test_stream_reports_output_and_close(page: ClientPage) -> None:
    handle = page.stream(EXEC, "greet", ["streamed"])
    state = page.wait_done(handle)
    assert state["closed"] and "error" not in state
    assert state["exitCode"] == 0
    assert joined(state["events"], "stdout") == "hello streamed\n"
    assert joined(state["events"], "stderr") == "to stderr\n"
    assert all(len(event) == 1 for event in state["events"]), "each event is {stdout} or {stderr}"


def test_stream_reports_a_non_zero_exit_code(page: ClientPage) -> None:
    state = page.wait_done(page.stream(EXEC, "fail", []))
    assert state["closed"] and state["exitCode"] == 3
    assert joined(state["events"], "stderr") == "it broke\n"


def test_split_output_lines_joins_lines_split_across_chunks(page: ClientPage) -> None:
    # chunks prints "a\nb", sleeps, prints "c\nd" (no final newline), and "x\ny" on stderr.
    state = page.wait_done(page.stream(EXEC, "chunks", [], splitOutputLines=True))
    assert state["exitCode"] == 0
    stdout = [event["stdout"] for event in state["events"] if "stdout" in event]
    stderr = [event["stderr"] for event in state["events"] if "stderr" in event]
    assert stdout == ["a", "bc", "d"]
    assert stderr == ["x", "y"]


def test_without_split_output_lines_chunks_arrive_raw(page: ClientPage) -> None:
    state = page.wait_done(page.stream(EXEC, "chunks", []))
    assert joined(state["events"], "stdout") == "a\nbc\nd"
    assert joined(state["events"], "stderr") == "x\ny"
    stdout_events = [event["stdout"] for event in state["events"] if "stdout" in event]
    assert len(stdout_events) >= 2, "the 0.2 s pause splits stdout into separate chunks"


def answers_read(page: ClientPage) -> int:
    """How many stream answers (``/_ddbridge/streams/…``) the page has fetched so far."""
    # An entry is listed once its answer has ended.
    count: int = page.page.evaluate(
        "() => performance.getEntriesByType('resource')"
        ".filter((entry) => entry.name.includes('/_ddbridge/streams/')).length"
    )
    return count


def test_a_stream_on_the_daemons_origin_is_read_as_an_answer(page: ClientPage) -> None:
    """Many lines, each with a character of three bytes, come whole and in order, read from the
    stream's HTTP answer (what Chromium delivers fastest), not from the socket."""
    before = answers_read(page)
    word = "x" * 100  # 5.6 MB in all: many reads of the answer, records and characters cut across them
    state = page.wait_done(page.stream(EXEC, "lines", ["50000", word], splitOutputLines=True), timeout=30)
    assert state["exitCode"] == 0
    stdout = [event["stdout"] for event in state["events"] if "stdout" in event]
    assert len(stdout) == 50000 and set(stdout) == {f"line € {word}"}
    assert answers_read(page) == before + 1


def test_streams_past_two_at_once_come_on_the_socket(page: ClientPage) -> None:
    """A browser opens 6 connections to a host: answers take at most two of them, and the
    streams past those are the socket's, each as whole as the others."""
    before = answers_read(page)
    handles = [page.stream(EXEC, "ticker", ["100000"], splitOutputLines=True) for _ in range(3)]
    for handle in handles:
        page.wait_until(handle, "s.events.length >= 3")
    for handle in handles:
        page.close_stream(handle)
    for handle in handles:
        state = page.wait_done(handle)
        assert state["exitCode"] == 143
        assert [event["stdout"] for event in state["events"][:3]] == ["tick 0", "tick 1", "tick 2"]
    wait_for(lambda: answers_read(page) >= before + 2, what="the two answers to end", page=page.page)
    page.page.wait_for_timeout(300)
    assert answers_read(page) == before + 2


def test_close_ends_the_process(page: ClientPage, module_binaries: Path) -> None:
    ticker = module_binaries / "ticker"
    assert running(ticker) == []
    handle = page.stream(EXEC, "ticker", ["100000"], splitOutputLines=True)
    state = page.wait_until(handle, "s.events.length >= 3")
    assert state["hasClose"]
    assert [event["stdout"] for event in state["events"][:3]] == ["tick 0", "tick 1", "tick 2"]
    assert running(ticker), "the ticker should be running before close()"
    page.close_stream(handle)
    state = page.wait_done(handle)
    assert state["closed"], f"onClose was not called: {state}"
    assert state["exitCode"] == 143, "ended by SIGTERM: 128 + 15, as a shell reports it"
    wait_for(lambda: running(ticker) == [], timeout=5, what="the ticker process to be gone")
    ticks = len(state["events"])
    page.page.wait_for_timeout(300)
    assert len(page.state(handle)["events"]) == ticks, "no output after close"


def test_closing_the_page_ends_its_processes(
    open_page: Callable[..., ClientPage], page_bridge: RunningBridge, module_binaries: Path
) -> None:
    ticker = module_binaries / "ticker"
    page = open_page(page_bridge.login_url())
    handle = page.stream(EXEC, "ticker", ["100000"])
    page.wait_until(handle, "s.events.length >= 1")
    assert running(ticker)
    page.page.close()
    wait_for(lambda: running(ticker) == [], timeout=10, what="the ticker to end with its page")


def test_v0_exec_host_cmd_splits_the_command_line(page: ClientPage) -> None:
    result = page.value("execHostCmd", "greet a b")
    assert result["stdout"] == "hello a b\n"
    assert result["lines"] == ["hello a b"]
    assert result["code"] == 0


def test_v0_exec_host_cmd_rejects_on_failure(page: ClientPage) -> None:
    error = page.error("execHostCmd", "fail")
    assert error["code"] == 3 and error["stderr"] == "it broke\n"


def test_v0_spawn_host_cmd_callback(page: ClientPage) -> None:
    state = page.wait_done(page.spawn_v0("spawnHostCmd", "greet", ["v0"]))
    events = state["events"]
    assert all(event["error"] is None for event in events)
    data = [event["data"] for event in events]
    assert "".join(item["stdout"] for item in data if "stdout" in item) == "hello v0\n"
    assert "".join(item["stderr"] for item in data if "stderr" in item) == "to stderr\n"
    assert data[-1] == {"code": 0}, "the last callback carries the exit code"


@pytest.mark.parametrize(
    ("name", "problem"),
    [
        ("../x", "'..' is not allowed"),
        ("/bin/sh", "absolute paths are not allowed"),
        ("missing-tool", "not found in the host binaries folder"),
    ],
)
def test_refused_binaries_reject_with_the_reason(page: ClientPage, name: str, problem: str) -> None:
    error = page.error(EXEC, name, [])
    assert error["isError"]
    assert problem in error["message"]
    assert repr(name) in error["message"]
    assert error["code"] == -32002


def test_refused_binary_in_a_stream_calls_on_error(page: ClientPage) -> None:
    state = page.wait_done(page.stream(EXEC, "../x", []))
    assert not state["closed"]
    assert "'..' is not allowed" in state["error"]["message"]
    v0 = page.wait_done(page.spawn_v0("spawnHostCmd", "../x", []))
    assert "'..' is not allowed" in v0["error"]["message"]

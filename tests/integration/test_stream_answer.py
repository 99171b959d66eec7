"""A stream's output read as an HTTP answer (``exec.spawn`` with ``output: "http"``), through a
real daemon: what it carries, who may read it, and what ends when either side goes away."""

from __future__ import annotations

import asyncio
import contextlib
import json
import signal
import uuid
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from bridge.testing import BridgeClient
from tests.conftest import write_script
from tests.support.processes import RunningBridge, marked_host_processes, still_running_after, vm_status

pytestmark = pytest.mark.integration

END, STDOUT, STDERR = 0, 1, 2


@pytest.fixture
def running(bridge: Callable[..., RunningBridge], host_binaries: Path, tmp_path: Path) -> RunningBridge:
    write_script(
        host_binaries,
        "mixed",
        'printf "out 1\\n"; printf "err 1\\n" >&2; printf "\\342\\202"; printf "\\254\\n"; exit 3',
    )
    write_script(host_binaries, "lots", 'yes abcdefghijklmnopqrstuvwxyz | head -c "$1"')
    write_script(host_binaries, "forever", "while :; do echo tick; sleep 0.05; done")
    config = tmp_path / "exec.toml"
    config.write_text("[exec]\nkill_grace = 0.5\nanswer_wait = 1.0\n")
    return bridge("--config", config, "--host-binaries", host_binaries)


@pytest.fixture
async def client(running: RunningBridge) -> AsyncIterator[BridgeClient]:
    async with BridgeClient.connect(running.ws_url) as connected:
        yield connected


@pytest.fixture
async def http(running: RunningBridge) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=running.url, headers=running.headers, timeout=30) as client:
        yield client


def records(body: bytes) -> list[tuple[int, bytes]]:
    """The records of an answer: a kind byte, a 4-byte big-endian length, the payload."""
    out = []
    at = 0
    while at < len(body):
        kind, size = body[at], int.from_bytes(body[at + 1 : at + 5], "big")
        out.append((kind, body[at + 5 : at + 5 + size]))
        at += 5 + size
    assert at == len(body), "the answer ends inside a record"
    return out


def output(found: list[tuple[int, bytes]], kind: int) -> bytes:
    return b"".join(payload for which, payload in found if which == kind)


def end_of(found: list[tuple[int, bytes]]) -> dict[str, Any]:
    assert found[-1][0] == END and all(kind != END for kind, _ in found[:-1]), "the end is the last record"
    end: dict[str, Any] = json.loads(found[-1][1])
    return end


def host(cmd: str, *args: str, tag: str | None = None) -> dict[str, Any]:
    params: dict[str, Any] = {"target": "host", "cmd": cmd, "args": list(args), "output": "http"}
    if tag is not None:
        params["env"] = {"DDB_TAG": tag}
    return params


def tagged_running(tag: str) -> list[Any]:
    return marked_host_processes(f"DDB_TAG={tag}".encode())


async def test_the_answer_carries_both_outputs_as_written_then_the_exit(
    client: BridgeClient, http: httpx.AsyncClient
) -> None:
    spawned = await client.call("exec.spawn", host("mixed"))
    assert spawned["output"].startswith("/_ddbridge/streams/")
    answer = await http.get(spawned["output"])
    assert answer.status_code == 200
    assert answer.headers["content-type"] == "application/octet-stream"
    assert answer.headers["cache-control"] == "no-store"
    found = records(answer.content)
    # Bytes as the process wrote them: the euro sign split across two writes is the page's to join.
    assert output(found, STDOUT) == "out 1\n€\n".encode()
    assert output(found, STDERR) == b"err 1\n"
    assert end_of(found) == {
        "jsonrpc": "2.0",
        "method": "exec.exit",
        "params": {"stream": spawned["stream"], "code": 3, "signal": None},
    }


async def test_a_big_output_arrives_whole_and_in_order(client: BridgeClient, http: httpx.AsyncClient) -> None:
    size = 24 * 1024 * 1024
    spawned = await client.call("exec.spawn", host("lots", str(size)))
    answer = await http.get(spawned["output"])
    found = records(answer.content)
    body = output(found, STDOUT)
    line = b"abcdefghijklmnopqrstuvwxyz\n"
    assert len(body) == size and body == (line * (size // len(line) + 1))[:size]
    assert end_of(found)["params"]["code"] == 0


async def test_a_name_is_read_once(client: BridgeClient, http: httpx.AsyncClient) -> None:
    spawned = await client.call("exec.spawn", host("mixed"))
    first = await http.get(spawned["output"])
    second = await http.get(spawned["output"])
    assert first.status_code == 200
    assert second.status_code == 404 and "read once" in second.json()["detail"]
    guessed = await http.get("/_ddbridge/streams/" + uuid.uuid4().hex)
    assert guessed.status_code == 404


async def test_nothing_without_an_explicit_credential_opens_an_answer(
    running: RunningBridge, client: BridgeClient
) -> None:
    """Neither nothing, a wrong token, nor the browser's view cookie (which every port of the
    host name receives) opens it; and a refused try does not spend the name."""
    spawned = await client.call("exec.spawn", host("mixed"))
    url = running.url.rstrip("/") + spawned["output"]
    async with httpx.AsyncClient(timeout=30) as anonymous:
        assert (await anonymous.get(url)).status_code == 401
        assert (await anonymous.get(url, headers={"Authorization": "Bearer wrong"})).status_code == 401
        login = await anonymous.get(running.login_url(), headers={"Sec-Fetch-Mode": "navigate"})
        assert login.status_code == 200 and anonymous.cookies, "the login page set the view cookie"
        refused = await anonymous.get(url)
        assert refused.status_code == 401 and "cookie only shows pages" in refused.text
    async with httpx.AsyncClient(headers=running.headers, timeout=30) as signed:
        assert (await signed.get(url)).status_code == 200


async def test_an_answer_nobody_reads_ends_its_process_and_tells_the_page(client: BridgeClient) -> None:
    tag = uuid.uuid4().hex
    stream = await client.spawn(host("forever", tag=tag))
    outcome = await stream.finished(timeout=15)
    assert outcome.error is not None and "was not read within 1 s" in outcome.error
    assert "[exec] answer_wait" in outcome.error
    assert not still_running_after(tagged_running(tag))


async def test_a_reader_that_goes_away_ends_the_process(running: RunningBridge, client: BridgeClient) -> None:
    tag = uuid.uuid4().hex
    spawned = await client.call("exec.spawn", host("forever", tag=tag))
    http = httpx.AsyncClient(base_url=running.url, headers=running.headers, timeout=30)
    async with http, http.stream("GET", spawned["output"]) as answer:
        async for chunk in answer.aiter_bytes():
            if b"tick" in chunk:
                break
        assert tagged_running(tag), "the process runs while its answer is read"
    assert not still_running_after(tagged_running(tag))


async def test_kill_on_the_socket_ends_the_answer_with_the_exit(
    client: BridgeClient, http: httpx.AsyncClient
) -> None:
    spawned = await client.call("exec.spawn", host("forever"))

    async def read() -> bytes:
        return (await http.get(spawned["output"])).content

    reading = asyncio.create_task(read())
    await asyncio.sleep(0.3)
    await client.call("exec.kill", {"stream": spawned["stream"]})
    found = records(await asyncio.wait_for(reading, 15))
    assert b"tick\n" in output(found, STDOUT)
    assert end_of(found)["params"] == {"stream": spawned["stream"], "code": 143, "signal": "SIGTERM"}


async def test_the_page_going_away_ends_the_answer_and_the_process(
    running: RunningBridge, http: httpx.AsyncClient
) -> None:
    tag = uuid.uuid4().hex
    async with BridgeClient.connect(running.ws_url) as client:
        spawned = await client.call("exec.spawn", host("forever", tag=tag))
        async with http.stream("GET", spawned["output"]) as answer:
            pieces = answer.aiter_bytes()
            first = await anext(pieces)
            await client.close()
            rest = b"".join([piece async for piece in pieces])
    found = records(first + rest)
    assert all(kind == STDOUT for kind, _ in found), "no end: nobody could have received it"
    assert not still_running_after(tagged_running(tag))


async def test_a_name_spawned_then_abandoned_is_gone(running: RunningBridge, http: httpx.AsyncClient) -> None:
    """A page that closes before reading its answer leaves no name behind."""
    async with BridgeClient.connect(running.ws_url) as client:
        spawned = await client.call("exec.spawn", host("forever"))
    await asyncio.sleep(0.3)
    assert (await http.get(spawned["output"])).status_code == 404


async def test_the_inspector_sees_the_answer_stream(client: BridgeClient, http: httpx.AsyncClient) -> None:
    spawned = await client.call("exec.spawn", host("mixed"))
    await http.get(spawned["output"])
    events = (await http.get("/_ddbridge/events.json")).json()["events"]
    ours = {event["kind"]: event for event in events if event.get("stream") == spawned["stream"]}
    assert ours["stream.exit"]["code"] == 3
    runs = ours["stream.output"]["output"]
    assert "".join(text for name, text in runs if name == "stdout") == "out 1\n€\n"
    assert "".join(text for name, text in runs if name == "stderr") == "err 1\n"


async def test_a_stream_without_output_http_still_notifies(client: BridgeClient) -> None:
    stream = await client.spawn({"target": "host", "cmd": "mixed"})
    outcome = await stream.finished()
    assert outcome.text("stdout") == "out 1\n€\n" and outcome.code == 3


async def test_an_unknown_output_is_refused(client: BridgeClient) -> None:
    with pytest.raises(Exception, match="output"):
        await client.call("exec.spawn", {**host("mixed"), "output": "carrier-pigeon"})


async def test_stopping_the_daemon_ends_an_answer_being_read(
    running: RunningBridge, http: httpx.AsyncClient
) -> None:
    """uvicorn's graceful stop waits for every HTTP answer to end: an answer ends with its page's
    socket, which the stop closes, so a daemon reading out a stream that never ends still stops."""
    tag = uuid.uuid4().hex
    async with BridgeClient.connect(running.ws_url) as client:
        spawned = await client.call("exec.spawn", host("forever", tag=tag))
        async with http.stream("GET", spawned["output"]) as answer:
            pieces = answer.aiter_bytes()
            await anext(pieces)
            running.process.send_signal(signal.SIGTERM)
            code = await asyncio.to_thread(running.process.wait, 15)
            async for _ in pieces:  # the answer ends, with the daemon
                pass
    assert code == 0, running.log()
    assert not still_running_after(tagged_running(tag))


async def test_answers_read_slowly_hold_little_of_the_daemon(
    running: RunningBridge, client: BridgeClient
) -> None:
    """Eight answers of 256 MiB each, their readers stopped after a first piece: each process is
    held back by its answer's socket (backpressure), not buffered in the daemon. What a stream
    holds meanwhile is a read of its pipes (1 MiB at most) and its copy in the server's write
    buffer: 32-35 MiB for the eight here, where eight stalled sockets' notifications held 41."""
    before = vm_status(running.process.pid, "VmRSS")
    http = httpx.AsyncClient(base_url=running.url, headers=running.headers, timeout=60)
    async with http, contextlib.AsyncExitStack() as answers:
        readers = []
        for _ in range(8):
            spawned = await client.call("exec.spawn", host("lots", str(256 << 20)))
            answer = await answers.enter_async_context(http.stream("GET", spawned["output"]))
            readers.append(answer.aiter_raw())
            await anext(readers[-1])
        await asyncio.sleep(3)
        grown = vm_status(running.process.pid, "VmHWM") - before
        for reader in readers:  # and the answers still flow once read
            assert len(await anext(reader)) > 0
    assert grown < 8 * (6 << 20), f"the daemon grew by {grown >> 20} MiB"

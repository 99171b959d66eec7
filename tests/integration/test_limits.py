"""The limits of ``[limits]`` on a real daemon: each trips with a message naming it, and the
connections that kept within them go on working."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Callable
from contextlib import AsyncExitStack
from pathlib import Path
from typing import Any

import pytest
import websockets

from bridge.testing import BridgeClient, RpcFailure
from tests.conftest import write_script
from tests.support.processes import RunningBridge, vm_status

pytestmark = pytest.mark.integration


async def test_a_message_past_the_size_limit_closes_that_connection_only(
    bridge: Callable[..., RunningBridge],
) -> None:
    running = bridge(env={"DDBRIDGE_LIMITS_MESSAGE_BYTES": "4096"})
    async with BridgeClient.connect(running.ws_url) as bystander:
        async with websockets.connect(running.ws_url, max_size=None) as ws:
            await ws.send(
                '{"jsonrpc": "2.0", "id": 1, "method": "host.info", "params": {"x": "' + "x" * 5000 + '"}}'
            )
            with pytest.raises(websockets.ConnectionClosed) as closed:
                await ws.recv()
        assert closed.value.rcvd is not None
        assert closed.value.rcvd.code == 1009
        assert "exceeds limit of 4096 bytes" in closed.value.rcvd.reason
        assert (await bystander.call("host.info"))["platform"]


async def test_connections_past_the_limit_are_closed_with_the_reason(
    bridge: Callable[..., RunningBridge],
) -> None:
    running = bridge(env={"DDBRIDGE_LIMITS_CONNECTIONS": "3"})
    async with AsyncExitStack() as stack:
        clients = [await stack.enter_async_context(BridgeClient.connect(running.ws_url)) for _ in range(3)]
        async with websockets.connect(running.ws_url) as extra:
            with pytest.raises(websockets.ConnectionClosed) as closed:
                await extra.recv()
        assert closed.value.rcvd is not None
        assert closed.value.rcvd.code == 1013
        assert closed.value.rcvd.reason == "ddbridge: too many connections (3, [limits] connections)"
        for client in clients:
            assert (await client.call("host.info"))["platform"]
    # The others closed: room again, once the daemon has seen them go.
    for _ in range(50):
        async with BridgeClient.connect(running.ws_url) as later:
            with contextlib.suppress(ConnectionError):
                assert (await later.call("host.info"))["platform"]
                break
        await asyncio.sleep(0.1)
    else:
        pytest.fail("no room for a connection after the others closed")
    assert "refused a connection: 3 are open" in running.log()


async def test_streams_past_the_limits_are_refused_naming_the_setting(
    bridge: Callable[..., RunningBridge], host_binaries: Path
) -> None:
    running = bridge(
        "--host-binaries",
        host_binaries,
        env={"DDBRIDGE_LIMITS_STREAMS_PER_CONNECTION": "2", "DDBRIDGE_LIMITS_STREAMS": "3"},
    )
    ticker = {"target": "host", "cmd": "ticker"}
    async with BridgeClient.connect(running.ws_url) as first, BridgeClient.connect(running.ws_url) as second:
        streams = [await first.spawn(ticker) for _ in range(2)]
        with pytest.raises(RpcFailure) as refused:
            await first.spawn(ticker)
        assert refused.value.code == -32005
        assert (
            "too many streams on this connection (2 running, [limits] streams_per_connection)"
            in refused.value.message
        )
        assert refused.value.data == {"limit": "limits.streams_per_connection", "value": 2}
        await second.spawn(ticker)
        with pytest.raises(RpcFailure, match=r"too many streams on the daemon \(3 running for all pages"):
            await second.spawn(ticker)
        await streams[0].kill()
        await streams[0].finished()
        await first.spawn(ticker)  # room again once one ended


async def test_calls_past_the_in_flight_limit_are_refused_and_the_rest_answered(
    bridge: Callable[..., RunningBridge], host_binaries: Path
) -> None:
    running = bridge("--host-binaries", host_binaries, env={"DDBRIDGE_LIMITS_CALLS_PER_CONNECTION": "2"})
    slow = {"target": "host", "cmd": "ticker", "args": ["10"]}
    async with BridgeClient.connect(running.ws_url) as client:
        running_calls = [asyncio.create_task(client.call("exec.run", slow)) for _ in range(2)]
        await asyncio.sleep(0.2)  # both are running (ticker takes 0.5 s)
        with pytest.raises(RpcFailure) as refused:
            await client.call("host.info")
        assert refused.value.code == -32005
        assert (
            "too many calls in flight on this connection (2, [limits] calls_per_connection)"
            in refused.value.message
        )
        for call in running_calls:
            assert (await call)["code"] == 0
        assert (await client.call("host.info"))["platform"]


def _exec(cmd: str, *args: str) -> dict[str, object]:
    return {"target": "host", "cmd": cmd, "args": list(args)}


def _batch(calls: list[dict[str, object]]) -> str:
    return json.dumps(
        [
            {"jsonrpc": "2.0", "id": n, "method": "exec.run", "params": params}
            for n, params in enumerate(calls)
        ]
    )


async def _answers(ws: websockets.ClientConnection) -> list[dict[str, Any]]:
    answers: list[dict[str, Any]] = json.loads(await ws.recv())
    return answers


async def test_batch_members_count_as_calls_in_flight(
    bridge: Callable[..., RunningBridge], host_binaries: Path
) -> None:
    running = bridge("--host-binaries", host_binaries, env={"DDBRIDGE_LIMITS_CALLS_PER_CONNECTION": "4"})
    async with websockets.connect(running.ws_url, max_size=None) as ws:
        await ws.send(_batch([_exec("greet", str(n)) for n in range(700)]))
        answers = await _answers(ws)
    assert [answer["id"] for answer in answers] == list(range(700))
    assert [answer["result"]["stdout"] for answer in answers[:4]] == [f"hello {n}\n" for n in range(4)]
    for answer in answers[4:]:
        assert answer["error"]["code"] == -32005
        assert answer["error"]["data"] == {"limit": "limits.calls_per_connection", "value": 4}
    assert len(running.calls("exec.run")) == 4  # the others never ran


async def test_running_processes_are_limited_blocking_and_streamed_alike(
    bridge: Callable[..., RunningBridge], host_binaries: Path
) -> None:
    running = bridge(
        "--host-binaries",
        host_binaries,
        env={"DDBRIDGE_LIMITS_PROCESSES_PER_CONNECTION": "3", "DDBRIDGE_LIMITS_PROCESSES": "4"},
    )
    async with BridgeClient.connect(running.ws_url) as first, BridgeClient.connect(running.ws_url) as second:
        stream = await first.spawn(_exec("ticker"))
        # One frame: its members start at once, so only counting from before the start holds them.
        async with websockets.connect(running.ws_url, max_size=None) as ws:
            await ws.send(_batch([_exec("ticker", "4")] * 5))
            answers = await _answers(ws)
        assert sum("result" in answer for answer in answers) == 3  # the others fit in limits.processes
        assert {answer["error"]["data"]["limit"] for answer in answers if "error" in answer} == {
            "limits.processes_per_connection"
        }
        blocking = asyncio.create_task(first.call("exec.run", _exec("ticker", "20")))
        await asyncio.sleep(0.3)  # the blocking exec runs: two processes on `first`
        await first.spawn(_exec("ticker"))
        with pytest.raises(RpcFailure) as refused:
            await first.call("exec.run", _exec("greet"))
        assert refused.value.data == {"limit": "limits.processes_per_connection", "value": 3}
        assert "too many processes on this connection (3 running" in refused.value.message
        await second.spawn(_exec("ticker"))
        with pytest.raises(RpcFailure) as refused:
            await second.call("exec.run", _exec("greet"))
        assert refused.value.data == {"limit": "limits.processes", "value": 4}
        assert (await blocking)["code"] == 0
        await stream.kill()
        await stream.finished()
        assert (await second.call("exec.run", _exec("greet")))["stdout"] == "hello \n"  # room again


BUDGET = 16 * 1024 * 1024
SLACK = 48 * 1024 * 1024  # the daemon's own allocations meanwhile; no copy of an output fits in it


@pytest.mark.parametrize(
    ("kind", "body", "size"),
    [
        ("ascii", "head -c $1 /dev/zero | tr '\\0' a", 4 * 1024 * 1024),
        # JSON escapes each control character as \u0001: the reply is 6 times the output.
        ("control", "head -c $1 /dev/zero | tr '\\0' '\\001'", 768 * 1024),
        # One character past U+FFFF makes a string 4 bytes a character.
        ("astral", "head -c $1 /dev/zero | tr '\\0' a; printf '\\360\\237\\230\\200'", 1024 * 1024),
    ],
)
async def test_outputs_held_at_once_stay_within_the_memory_budget(
    bridge: Callable[..., RunningBridge], host_binaries: Path, kind: str, body: str, size: int
) -> None:
    # Each process waits a while after writing: the calls' outputs are all held at once.
    write_script(host_binaries, "big", body + "; sleep 1\n")
    running = bridge("--host-binaries", host_binaries, env={"DDBRIDGE_LIMITS_MEMORY": str(BUDGET)})
    async with BridgeClient.connect(running.ws_url) as client, BridgeClient.connect(running.ws_url) as other:
        await client.call("host.info")
        before = vm_status(running.process.pid, "VmRSS")
        calls = [c.call("exec.run", _exec("big", str(size)), timeout=120) for c in (client, other) * 8]
        outcomes = await asyncio.gather(*calls, return_exceptions=True)
        grown = vm_status(running.process.pid, "VmHWM") - before
        answered = [outcome for outcome in outcomes if isinstance(outcome, dict)]
        refused = [outcome for outcome in outcomes if isinstance(outcome, RpcFailure)]
        assert answered and refused and len(answered) + len(refused) == len(calls), outcomes
        assert all(len(outcome["stdout"]) == size + (kind == "astral") for outcome in answered)
        for failure in refused:
            assert failure.code == -32005
            assert failure.data == {"limit": "limits.memory", "value": BUDGET}
            assert "[limits] memory" in failure.message
        assert grown < BUDGET + SLACK, f"the daemon grew by {grown >> 20} MiB"
        # Everything was given back: one call alone fits again.
        assert len((await client.call("exec.run", _exec("big", str(size))))["stdout"]) >= size


async def test_a_batch_reply_past_the_memory_budget_is_refused_as_a_whole(
    bridge: Callable[..., RunningBridge], host_binaries: Path
) -> None:
    write_script(host_binaries, "big", "head -c $1 /dev/zero | tr '\\0' a\n")
    running = bridge("--host-binaries", host_binaries, env={"DDBRIDGE_LIMITS_MEMORY": str(BUDGET)})
    async with websockets.connect(running.ws_url, max_size=None) as ws:
        # Each output fits alone; the one frame carrying all of them does not.
        await ws.send(_batch([_exec("big", str(2 * 1024 * 1024))] * 4))
        answers = await _answers(ws)
    assert [answer["id"] for answer in answers] == [0, 1, 2, 3]
    assert {answer["error"]["data"]["limit"] for answer in answers} == {"limits.memory"}
    assert "the reply does not fit" in answers[0]["error"]["message"]


def _big_id(n: int) -> list[dict[str, Any]]:
    return [{"jsonrpc": "2.0", "id": 2**70 + n, "method": "exec.run", "params": _exec("big", "400000")}]


def _lone_surrogate_beside(n: int) -> list[dict[str, Any]]:
    # Its "method not found" error names the method: the whole batch reply goes to the stdlib.
    return [
        {"jsonrpc": "2.0", "id": n, "method": "exec.run", "params": _exec("big", "400000")},
        {"jsonrpc": "2.0", "id": -n - 1, "method": "\ud800"},
    ]


@pytest.mark.parametrize("requests", [_big_id, _lone_surrogate_beside])
async def test_replies_escaped_to_ascii_stay_within_the_memory_budget(
    bridge: Callable[..., RunningBridge],
    host_binaries: Path,
    requests: Callable[[int], list[dict[str, Any]]],
) -> None:
    # What orjson refuses goes to the stdlib encoder, which writes each "é" as \u00e9.
    write_script(
        host_binaries, "big", "head -c $1 /dev/zero | tr '\\0' a | sed 's/a/\\xc3\\xa9/g'; sleep 1\n"
    )
    running = bridge("--host-binaries", host_binaries, env={"DDBRIDGE_LIMITS_MEMORY": str(BUDGET)})
    async with websockets.connect(running.ws_url, max_size=None) as ws:
        before = vm_status(running.process.pid, "VmRSS")
        for n in range(12):
            frame = requests(n)
            await ws.send(json.dumps(frame if len(frame) > 1 else frame[0]))
        replies = [json.loads(await ws.recv()) for _ in range(12)]
        grown = vm_status(running.process.pid, "VmHWM") - before
    answers = [answer for reply in replies for answer in (reply if isinstance(reply, list) else [reply])]
    execs = [
        answer
        for answer in answers
        if answer["id"] in (2**70 + n for n in range(12)) or answer["id"] in range(12)
    ]
    assert len(execs) == 12
    answered = [answer["result"]["stdout"] for answer in execs if "result" in answer]
    assert answered and all(stdout == "é" * 400000 for stdout in answered)
    refused = [answer["error"]["data"] for answer in execs if "error" in answer]
    assert refused and all(data == {"limit": "limits.memory", "value": BUDGET} for data in refused)
    assert grown < BUDGET + SLACK, f"the daemon grew by {grown >> 20} MiB"

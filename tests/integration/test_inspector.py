"""The inspector on a real daemon: its page, the events WebSocket (history, then live events;
clear), the JSON export, and the Host / Origin / cross-site checks on all of them."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
import websockets

from bridge.testing import BridgeClient, RpcFailure
from tests.support.handshake import upgrade_status
from tests.support.processes import RunningBridge

pytestmark = pytest.mark.integration


def events_url(running: RunningBridge) -> str:
    return running.websocket_url("_ddbridge/events")


class Inspector:
    """A client of /_ddbridge/events that remembers everything it received."""

    def __init__(self, ws: websockets.ClientConnection) -> None:
        self.ws = ws
        self.received: list[dict[str, Any]] = []

    async def until(self, condition: Callable[[dict[str, Any]], bool], timeout: float = 5) -> dict[str, Any]:
        """Reads events until one satisfies ``condition``; returns it."""
        async with asyncio.timeout(timeout):
            while True:
                event = json.loads(await self.ws.recv())
                self.received.append(event)
                if condition(event):
                    return event

    async def quiet(self, wait: float = 0.3) -> list[dict[str, Any]]:
        """Whatever arrives within ``wait`` seconds."""
        got: list[dict[str, Any]] = []
        try:
            async with asyncio.timeout(wait):
                while True:
                    got.append(json.loads(await self.ws.recv()))
        except TimeoutError:
            pass
        self.received.extend(got)
        return got

    def kinds(self) -> list[str]:
        return [event["kind"] for event in self.received]


@asynccontextmanager
async def inspector(running: RunningBridge, **kwargs: Any) -> AsyncIterator[Inspector]:
    async with websockets.connect(events_url(running), **kwargs) as ws:
        yield Inspector(ws)


def kind_is(kind: str, **fields: Any) -> Callable[[dict[str, Any]], bool]:
    return lambda event: event["kind"] == kind and all(event.get(k) == v for k, v in fields.items())


@pytest.fixture(scope="module")
def shared(module_bridge: Callable[..., RunningBridge]) -> RunningBridge:
    """A daemon for the tests that only read: its history does not matter to them."""
    return module_bridge()


@pytest.fixture
def running(bridge: Callable[..., RunningBridge], host_binaries: Path, backend_socket: Path) -> RunningBridge:
    return bridge("--host-binaries", host_binaries, "--backend-socket", backend_socket)


async def test_history_then_live_events(running: RunningBridge) -> None:
    origin = f"http://127.0.0.1:{running.port}"
    async with BridgeClient.connect(running.ws_url, origin=origin) as client:
        await client.call("exec.run", {"target": "host", "cmd": "greet", "args": ["before"]})
        async with inspector(running, origin=origin) as watching:
            hello = await watching.until(kind_is("hello"))
            assert hello["history"] == 2000 and hello["version"]
            result = await watching.until(kind_is("result"))
            assert watching.kinds() == ["hello", "connection.open", "call", "result"]
            opened, call = watching.received[1:3]
            assert opened["peer"].startswith("127.0.0.1:") and opened["page"] == origin
            assert call == {
                **call,
                "conn": opened["conn"],
                "method": "exec.run",
                "params": {"target": "host", "cmd": "greet", "args": ["before"]},
                "page": origin,
            }
            assert result["call"] == call["seq"] and result["durationMs"] > 0
            assert result["result"]["stdout"] == "hello before\n"

            # Live: a call made now arrives within a second, with its result.
            with pytest.raises(RpcFailure, match="status 503"):
                await client.call("service.request", {"method": "GET", "url": "/status/503"})
            live_call = await watching.until(kind_is("call", method="service.request"), timeout=1)
            live_result = await watching.until(kind_is("result", call=live_call["seq"]), timeout=1)
            assert live_result["error"]["code"] == -32001
            assert live_result["error"]["data"]["statusCode"] == 503
    async with inspector(running) as later:
        await later.until(kind_is("connection.close"))


async def test_streams_toasts_and_closing_connections(running: RunningBridge) -> None:
    async with inspector(running) as watching, BridgeClient.connect(running.ws_url) as client:
        await watching.until(kind_is("hello"))
        stream = await client.spawn({"target": "host", "cmd": "chunks"})
        await stream.finished()
        await client.call("desktop.toast", {"level": "warning", "message": "disk almost full"})
        exit_event = await watching.until(kind_is("stream.exit", stream=stream.id))
        assert exit_event == {**exit_event, "code": 0, "signal": None}
        toast = await watching.until(kind_is("toast"))
        assert toast == {**toast, "level": "warning", "message": "disk almost full"}
        outputs = [event for event in watching.received if event["kind"] == "stream.output"]
        text = {"stdout": "", "stderr": ""}
        for event in outputs:
            assert event["stream"] == stream.id and event["conn"] == exit_event["conn"]
            for name, chunk in event["output"]:
                text[name] += chunk
        assert text == {"stdout": "a\nbc\nd", "stderr": "x\ny"}
    async with inspector(running) as later:
        closed = await later.until(kind_is("connection.close"))
        assert closed["conn"] == exit_event["conn"]
        # The history holds the stream's output once, coalesced: not one event per chunk.
        assert later.kinds().count("stream.output") == 1


@pytest.mark.parametrize("how", ["close", "drop"])
async def test_a_page_closed_under_running_streams_ends_each_once_without_a_warning(
    running: RunningBridge, how: str
) -> None:
    """Closing a page whose streams are writing (several at once, so a send, a read and the
    kill race), with a close frame or by dropping the connection, ends each stream with one
    event at most, never a ``stream.error``: the page's ``connection.close`` is their end. A
    page going away is no failure: no WARNING."""
    count = 6
    async with websockets.connect(running.ws_url) as ws:
        for index in range(count):
            spawn = {"target": "host", "cmd": "ticker"}
            frame = {"jsonrpc": "2.0", "id": index, "method": "exec.spawn", "params": spawn}
            await ws.send(json.dumps(frame))
        writing: set[str] = set()
        async with asyncio.timeout(10):
            while len(writing) < count:
                message = json.loads(await ws.recv())
                if message.get("method") == "exec.output":
                    writing.add(message["params"]["stream"])
        if how == "drop":
            ws.transport.abort()
    async with inspector(running) as later:
        closed = await later.until(kind_is("connection.close"))
    ends = [
        (event["stream"], event["kind"])
        for event in running.events()
        if event["kind"] in ("stream.exit", "stream.error") and event["conn"] == closed["conn"]
    ]
    assert [kind for _, kind in ends if kind == "stream.error"] == []
    assert len(ends) == len({stream for stream, _ in ends})
    assert "WARNING" not in running.log()


async def test_clear_empties_the_history_for_every_inspector(running: RunningBridge) -> None:
    async with BridgeClient.connect(running.ws_url) as client:
        await client.call("host.info")
    async with inspector(running) as first, inspector(running) as second:
        await first.until(kind_is("connection.close"))
        await second.until(kind_is("connection.close"))
        await first.ws.send(json.dumps({"op": "clear"}))
        await first.until(kind_is("cleared"))
        await second.until(kind_is("cleared"))
        await first.ws.send("not json")  # ignored, the socket stays open
        assert await first.quiet() == []
    assert httpx.get(running.url + "_ddbridge/events.json", headers=running.headers).json()["events"] == []
    async with inspector(running) as fresh:
        await fresh.until(kind_is("hello"))
        assert await fresh.quiet() == []


async def test_export_is_the_history_as_a_download(running: RunningBridge) -> None:
    await _one_call(running)
    answer = httpx.get(
        running.url + "_ddbridge/events.json", headers={**running.headers, "Sec-Fetch-Site": "same-origin"}
    )
    assert answer.status_code == 200
    assert answer.headers["content-type"] == "application/json"
    assert answer.headers["content-disposition"].startswith('attachment; filename="ddbridge-events-')
    document = answer.json()
    assert document["history"] == 2000 and document["ddbridge"]
    assert [event["kind"] for event in document["events"]] == [
        "connection.open",
        "call",
        "result",
        "connection.close",
    ]
    assert document["events"][1]["method"] == "host.info"


async def test_a_json_answer_shows_as_its_objects_live_and_in_the_export(running: RunningBridge) -> None:
    """The daemon keeps a small answer as the backend's text (``clip``); both views read it as JSON."""
    answer = {"n": 123456789012345678901234567890, "words": ["ü", "x"]}
    call = {"method": "POST", "url": "/reflect", "data": json.dumps(answer)}
    async with inspector(running) as watching:
        async with BridgeClient.connect(running.ws_url) as client:
            assert await client.call("service.request", call) == answer
        live = await watching.until(kind_is("result"))
        assert live["result"] == answer
    exported = httpx.get(running.url + "_ddbridge/events.json", headers=running.headers).json()["events"]
    assert [event["result"] for event in exported if event["kind"] == "result"] == [answer]


async def _one_call(running: RunningBridge) -> None:
    async with BridgeClient.connect(running.ws_url) as client:
        await client.call("host.info")


@pytest.mark.parametrize(
    "headers",
    [
        {"Sec-Fetch-Site": "cross-site"},
        {"Sec-Fetch-Site": "same-site"},
        {"Origin": "http://evil.example"},
        {"Origin": "null"},
        {"Host": "evil.example"},
    ],
)
def test_export_refuses_other_sites(shared: RunningBridge, headers: dict[str, str]) -> None:
    answer = httpx.get(shared.url + "_ddbridge/events.json", headers={**shared.headers, **headers})
    assert answer.status_code == 403


def test_export_needs_the_token(shared: RunningBridge) -> None:
    answer = httpx.get(shared.url + "_ddbridge/events.json", headers={"Sec-Fetch-Site": "same-origin"})
    assert answer.status_code == 401
    assert "Authorization: Bearer" in answer.text


def test_export_passes_for_the_bridges_own_page(shared: RunningBridge) -> None:
    own = f"http://127.0.0.1:{shared.port}"
    for headers in ({"Sec-Fetch-Site": "same-origin", "Origin": own}, {"Sec-Fetch-Site": "none"}, {}):
        answer = httpx.get(shared.url + "_ddbridge/events.json", headers={**shared.headers, **headers})
        assert answer.status_code == 200


def test_events_socket_takes_the_rpc_origin_and_host_checks(bridge: Callable[..., RunningBridge]) -> None:
    running = bridge("--allow-origin", "http://localhost:3000")
    host = f"127.0.0.1:{running.port}"
    path = "/_ddbridge/events"
    for origin in ("http://evil.example", "null", f"http://{host}.evil.example"):
        assert upgrade_status(running, {"Host": host, "Origin": origin}, path) == 403
    assert upgrade_status(running, {"Host": "evil.example", "Origin": f"http://{host}"}, path) == 403
    for origin in (f"http://{host}", "http://localhost:3000"):
        assert upgrade_status(running, {"Host": host, "Origin": origin}, path) == 101
    assert "refused the inspector's WebSocket" in running.log()


def test_page_is_served_without_the_shim(running: RunningBridge) -> None:
    page = httpx.get(running.url + "_ddbridge/", headers=running.headers)
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert "ddclient.js" not in page.text and "/_ddbridge/inspector/inspector.js" in page.text
    policy = page.headers["content-security-policy"]
    assert "connect-src 'self'" in policy and "frame-ancestors 'none'" in policy
    redirect = httpx.get(running.url + "_ddbridge", headers=running.headers)
    assert redirect.status_code == 307 and redirect.headers["location"] == "/_ddbridge/"
    script = httpx.get(running.url + "_ddbridge/inspector/inspector.js", headers=running.headers)
    assert script.status_code == 200 and "javascript" in script.headers["content-type"]
    assert "ddClient." not in script.text  # the page never uses the client API
    assert (
        httpx.get(running.url + "_ddbridge/inspector/inspector.css", headers=running.headers)
        .headers["content-type"]
        .startswith("text/css")
    )
    assert (
        httpx.get(running.url + "_ddbridge/inspector/index.html", headers=running.headers).status_code == 404
    )
    assert httpx.get(running.url + "_ddbridge/", headers={"Host": "evil.example"}).status_code == 403
    assert f"inspector: {running.login_url('_ddbridge/')}" in running.log()


def test_page_wins_over_a_ui_dev_server(bridge: Callable[..., RunningBridge]) -> None:
    running = bridge("--ui-source", "http://127.0.0.1:9")  # nothing listens there
    assert httpx.get(running.url + "_ddbridge/", headers=running.headers).status_code == 200
    assert httpx.get(running.url + "_ddbridge/events.json", headers=running.headers).status_code == 200
    assert httpx.get(running.url + "elsewhere", headers=running.headers).status_code == 502


async def test_history_zero_keeps_nothing_but_live_events_flow(bridge: Callable[..., RunningBridge]) -> None:
    running = bridge(env={"DDBRIDGE_INSPECTOR_HISTORY": "0"})
    await _one_call(running)
    assert httpx.get(running.url + "_ddbridge/events.json", headers=running.headers).json()["events"] == []
    async with inspector(running) as watching:
        assert (await watching.until(kind_is("hello")))["history"] == 0
        await _one_call(running)
        await watching.until(kind_is("connection.close"))
        assert watching.kinds() == ["hello", "connection.open", "call", "result", "connection.close"]


async def test_an_open_inspector_does_not_keep_the_daemon_from_stopping(running: RunningBridge) -> None:
    async with inspector(running) as watching:
        await watching.until(kind_is("hello"))
        code = await asyncio.to_thread(running.stop, 10)
        assert code == 0


def test_a_pages_script_fetch_of_the_shim_is_a_page_load(bridge: Callable[..., RunningBridge]) -> None:
    """Only a ``<script>``'s fetch (Sec-Fetch-Dest: script) lists a page, its URL redacted;
    curl or a prefetch of /ddclient.js is none."""
    running = bridge()
    assert httpx.get(running.url + "ddclient.js", headers=running.headers).status_code == 200
    page = running.url + "index.html?token=" + running.token
    script = {**running.headers, "Sec-Fetch-Dest": "script", "Referer": page}
    assert httpx.get(running.url + "ddclient.js", headers=script).status_code == 200
    events = httpx.get(running.url + "_ddbridge/events.json", headers=running.headers).json()["events"]
    assert [(event["kind"], event["page"]) for event in events] == [
        ("page.load", running.url + "index.html?token=[redacted]")
    ]

"""The inspector's event bus alone: clipping, bounded history, subscribers that fall behind,
stream output coalescing, and the dispatch observer hook."""

from __future__ import annotations

import asyncio
import json
import tracemalloc
from typing import Any

import pytest
from pydantic import BaseModel, ConfigDict

from bridge.api.models import Params
from bridge.errors import ServiceError
from bridge.events import EVENT_BUDGET, EventBus, OutputTail, clip
from bridge.rpc import (
    AfterReply,
    Frame,
    MethodRouter,
    RawJson,
    Registry,
    Request,
    RpcError,
    dispatch,
    dumps,
    parse_frame,
)

# --------------------------------------------------------------------------------------------
# clip


def test_clip_keeps_small_values_as_they_are() -> None:
    value = {"target": "host", "cmd": "greet", "args": ["a", 1, 2.5, True, None], "env": {}}
    copied, size = clip(value)
    assert copied == value and copied is not value
    assert 0 < size < 200


def test_clip_cuts_long_strings_and_says_how_much() -> None:
    copied, size = clip({"stdout": "x" * 100_000}, budget=1000)
    assert copied["stdout"].startswith("x" * 900)
    assert copied["stdout"].endswith("more characters]")
    assert len(copied["stdout"]) < 1100
    assert size < 1200


def test_clip_cuts_long_containers_with_a_marker() -> None:
    copied, _ = clip({"items": list(range(10_000)), "more": {str(n): n for n in range(10_000)}}, budget=500)
    assert copied["items"][-1].startswith("…[") and copied["items"][-1].endswith("more items]")
    assert len(copied["items"]) < 100
    # The budget was spent on the list: the key after it is left out, and said so.
    assert copied["…"] == "1 more keys" and "more" not in copied


def test_clip_is_bounded_for_deep_and_strange_values() -> None:
    deep: Any = "bottom"
    for _ in range(200):
        deep = [deep]
    copied, _ = clip({"deep": deep, "odd": {1, 2}, "obj": object()})
    text = json.dumps(copied, ensure_ascii=False)  # always encodable
    assert '[[["…"]]]' in text
    assert copied["odd"] == "{1, 2}"


def test_clip_keeps_a_json_answer_within_the_budget_as_its_text() -> None:
    answer = RawJson(b'{"a": [1, "x"], "big": 123456789012345678901234567890}')
    shown, size = clip({"result": answer})
    assert shown["result"] is answer  # never parsed
    assert size >= len(answer.text)
    assert json.loads(dumps(shown)) == {"result": {"a": [1, "x"], "big": 123456789012345678901234567890}}


def test_clip_shows_a_json_answer_a_few_budgets_long_as_its_objects_cut() -> None:
    answer = RawJson(b'{"items": [' + b",".join(b'"%d"' % i for i in range(500)) + b"]}")
    shown, size = clip(answer, 1000)
    assert shown["items"][:2] == ["0", "1"] and shown["items"][-1].endswith("more items]")
    assert size < 1200


def test_clip_shows_a_big_json_answer_as_the_head_of_its_text() -> None:
    text = b"[" + b'{"id":"abc"},' * 100_000 + b"{}]"
    shown, size = clip(RawJson(text), 1000)
    assert shown.startswith('[{"id":"abc"},') and shown.endswith(f"…[{len(text) - 1000} more bytes of JSON]")
    assert size < 2000


def test_clip_of_a_huge_result_stays_within_the_budget() -> None:
    huge = {"cmd": "cat", "stdout": "a" * (64 * 1024 * 1024), "lines": ["b" * 100] * 100_000}
    copied, size = clip(huge)
    assert len(json.dumps(copied)) < EVENT_BUDGET * 1.2
    assert size < EVENT_BUDGET * 1.2


# --------------------------------------------------------------------------------------------
# history


def kinds(events: list[dict[str, Any]]) -> list[str]:
    return [event["kind"] for event in events]


def test_history_keeps_the_last_events_by_count() -> None:
    bus = EventBus(history=5)
    for n in range(12):
        bus.publish("toast", {"message": f"m{n}"})
    history = bus.history()
    assert [event["message"] for event in history] == [f"m{n}" for n in range(7, 12)]
    assert [event["seq"] for event in history] == list(range(8, 13))
    assert all(isinstance(event["time"], float) for event in history)


def test_history_is_bounded_by_size_too() -> None:
    bus = EventBus(history=1000, history_bytes=200_000)
    for _ in range(100):
        bus.publish("toast", {"message": "z" * 50_000})  # each is clipped to about EVENT_BUDGET
    assert 5 <= len(bus.history()) <= 200_000 // EVENT_BUDGET


async def test_a_small_call_and_answer_are_kept_as_they_are_and_cut_when_read() -> None:
    """A call from a frame within the budget keeps its params, and a short answer itself: a
    call's path copies neither. What the view shows is what clipping them shows (params nested
    past the depth limit are cut there too)."""
    bus = EventBus(history=10)
    subscription = bus.subscribe()
    conn = bus.connect("peer", PAGE)
    deep: Any = "bottom"
    for _ in range(40):
        deep = [deep]
    text = json.dumps(
        {"jsonrpc": "2.0", "id": 1, "method": "service.request", "params": {"url": "/x", "d": deep}}
    )
    frame = parse_frame(text)
    request = frame.items[0]
    assert isinstance(request, Request) and isinstance(request.params, dict)
    answer = RawJson(b'{"ok": true}')
    conn.finished(conn.started(request, ["d"], frame), answer, None)
    events, _ = await subscription.next()
    call, result = events[-2:]
    assert call.data["params"] is request.params and result.data["result"] is answer
    wire = [event["params"] if event["kind"] == "call" else event["result"] for event in bus.history()[-2:]]
    assert wire == [clip({"params": request.params})[0]["params"], answer]  # as clipped on entry
    assert "…" in str(wire[0]) and "bottom" not in str(wire[0])
    assert bus.history()[-2]["ignored"] == ["d"]


async def test_a_big_call_and_answer_are_cut_when_they_enter() -> None:
    """Past the budget, the call's params and the answer are clipped as the events are made: a
    view of them holds no more than the budget."""
    bus = EventBus(history=10)
    subscription = bus.subscribe()
    conn = bus.connect("peer", PAGE)
    big = "b" * (2 * EVENT_BUDGET)
    text = json.dumps({"jsonrpc": "2.0", "id": 1, "method": "service.request", "params": {"data": big}})
    frame = parse_frame(text)
    request = frame.items[0]
    assert isinstance(request, Request) and isinstance(request.params, dict)
    conn.finished(conn.started(request, [], frame), RawJson(json.dumps(big).encode()), None)
    events, _ = await subscription.next()
    call, result = events[-2:]
    assert call.data["params"] is not request.params
    assert len(call.data["params"]["data"]) < EVENT_BUDGET + 100
    assert isinstance(result.data["result"], str) and len(result.data["result"]) < EVENT_BUDGET + 100


def _service_call(conn: Any, n: int, *, notification: bool = False) -> None:
    """One small service call and its short answer through ``conn``'s observer hooks."""
    message: dict[str, Any] = {"jsonrpc": "2.0", "method": "service.request", "params": {"url": f"/x{n}"}}
    if not notification:
        message["id"] = n
    frame = parse_frame(json.dumps(message))
    request = frame.items[0]
    assert isinstance(request, Request)
    conn.finished(conn.started(request, ["extra"], frame), RawJson(b'{"n": %d}' % n), None)


async def test_calls_only_the_history_sees_are_records_shown_as_the_events_an_inspector_gets() -> None:
    """While nobody is subscribed, a small call and its answer are kept as tuples, not events;
    the history shows them as it shows the same calls made while an inspector watched, and an
    inspector that subscribes later gets them as events."""
    kept, watched = EventBus(history=10), EventBus(history=10)
    watching = watched.subscribe()
    for bus in (kept, watched):
        conn = bus.connect("peer", PAGE)
        _service_call(conn, 1)
        _service_call(conn, 2, notification=True)
    assert [type(item) for item in kept._history.events][-4:] == [tuple] * 4
    assert not any(isinstance(item, tuple) for item in watched._history.events)
    kept_text = kept._history.events[-4][4][2]  # the call's fields: (conn, page, text, ignored)
    assert isinstance(kept_text, str) and json.loads(kept_text)["params"] == {"url": "/x1"}

    def shown(wire: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return [{k: v for k, v in event.items() if k not in ("time", "durationMs")} for event in wire]

    assert shown(kept.history()) == shown(watched.history())
    call = shown(kept.history())[-2]
    assert call["id"] is None and call["notification"] is True and call["params"] == {"url": "/x2"}
    assert call["ignored"] == ["extra"] and call["method"] == "service.request"
    assert isinstance(kept.history()[-1]["durationMs"], float)
    events, _ = await kept.subscribe().next()
    live, _ = await watching.next()
    assert shown([event.to_wire() for event in events]) == shown([event.to_wire() for event in live])
    assert [event.kind for event in events][-4:] == ["call", "result", "call", "result"]


async def test_the_calls_of_a_batch_are_kept_as_events_with_their_own_params() -> None:
    """A batch's text holds all its requests: each call of one is kept as an event of its own."""
    bus = EventBus(history=10)
    conn = bus.connect("peer", PAGE)
    text = json.dumps(
        [{"jsonrpc": "2.0", "id": n, "method": "t.echo", "params": {"value": n}} for n in (1, 2)]
    )
    await dispatch(registry, parse_frame(text), None, conn)
    calls = [event for event in bus.history() if event["kind"] == "call"]
    assert [(call["id"], call["params"]) for call in calls] == [(1, {"value": 1}), (2, {"value": 2})]
    assert not any(
        isinstance(item, tuple) and item[0].__name__ == "_call_event" for item in bus._history.events
    )


def test_records_are_bounded_with_the_events_by_count_and_by_size() -> None:
    """Records count toward the history's bounds as events do: the oldest go first, whatever
    they are, and what the history holds adds up to its bytes."""
    bus = EventBus(history=5)
    conn = bus.connect("peer", PAGE)
    for n in range(6):
        bus.publish("toast", {"message": f"m{n}"})
        _service_call(conn, n)
    history = bus.history()
    assert kinds(history) == ["call", "result", "toast", "call", "result"]
    assert [history[0]["id"], history[2]["message"], history[3]["id"]] == [4, "m5", 5]
    log = bus._history
    assert log.bytes == sum(item[3] if isinstance(item, tuple) else item.size for item in log.events)
    sized = EventBus(history=1000, history_bytes=1)  # the floor: about one budget's worth
    conn = sized.connect("peer", PAGE)
    for n in range(2000):
        _service_call(conn, n)
    assert 0 < len(sized.history()) < 1000 and sized._history.bytes <= sized._history.max_bytes
    sized.clear()
    assert sized.history() == [] and sized._history.bytes == 0


def test_nothing_is_done_when_nothing_keeps_or_watches() -> None:
    bus = EventBus(history=0)
    assert not bus.active
    assert bus.publish("toast", {"message": "lost"}) is None
    conn = bus.connect("peer", None)
    token = conn.started(Request("host.info", {}, 1), [], Frame(size=60))
    assert token is None
    conn.finished(token, {"ok": True}, None)
    conn.notified("exec.output", {"stream": "1", "stdout": "x"})
    assert bus.history() == []


# --------------------------------------------------------------------------------------------
# subscribers


async def test_subscriber_gets_the_history_then_live_events() -> None:
    bus = EventBus(history=10)
    bus.publish("toast", {"message": "before"})
    subscription = bus.subscribe()
    events, missed = await subscription.next()
    assert [event.data["message"] for event in events] == ["before"] and missed == 0
    waiting = asyncio.create_task(subscription.next())
    await asyncio.sleep(0)
    assert not waiting.done()
    bus.publish("toast", {"message": "live"})
    events, missed = await asyncio.wait_for(waiting, 1)
    assert [event.data["message"] for event in events] == ["live"] and missed == 0
    bus.unsubscribe(subscription)
    bus.publish("toast", {"message": "after"})
    assert len(subscription.log) == 0


async def test_a_slow_subscriber_drops_its_oldest_events_and_is_told_how_many() -> None:
    bus = EventBus(history=0, queue=3)
    subscription = bus.subscribe()
    for n in range(10):
        bus.publish("toast", {"message": f"m{n}"})
    events, missed = await subscription.next()
    assert [event.data["message"] for event in events] == ["m7", "m8", "m9"]
    assert missed == 7
    bus.publish("toast", {"message": "m10"})
    events, missed = await subscription.next()
    assert len(events) == 1 and missed == 0


async def test_live_events_reach_subscribers_without_history() -> None:
    bus = EventBus(history=0)
    subscription = bus.subscribe()
    assert bus.active
    bus.publish("toast", {"message": "seen"})
    events, _ = await subscription.next()
    assert events[0].data["message"] == "seen"
    assert bus.history() == []


async def test_clear_empties_the_history_and_tells_subscribers() -> None:
    bus = EventBus()
    bus.publish("toast", {"message": "old"})
    subscription = bus.subscribe()
    bus.clear()
    events, missed = await subscription.next()
    assert kinds([event.to_wire() for event in events]) == ["cleared"] and missed == 0
    assert bus.history() == []


# --------------------------------------------------------------------------------------------
# streams


def test_output_tail_keeps_the_last_characters_in_runs() -> None:
    tail = OutputTail(limit=10)
    tail.add("stdout", "abc")
    tail.add("stdout", "def")
    tail.add("stderr", "ERR")
    assert list(tail.runs) == [("stdout", "abcdef"), ("stderr", "ERR")] and tail.truncated == 0
    tail.add("stdout", "ghij")
    assert "".join(text for _, text in tail.runs) == "defERRghij"
    assert tail.size == 10 and tail.truncated == 3
    tail.add("stdout", "0123456789abcdef")
    assert list(tail.runs) == [("stdout", "6789abcdef")] and tail.truncated == 19


def test_output_tail_bounds_its_runs_when_outputs_alternate() -> None:
    tail = OutputTail(limit=1_000_000)
    for n in range(5000):
        tail.add("stdout" if n % 2 else "stderr", "x")
    assert len(tail.runs) <= 1024


def test_stream_output_is_coalesced_into_one_bounded_entry_per_stream() -> None:
    bus = EventBus(history=100, output_tail=1000)
    conn = bus.connect("peer", "http://127.0.0.1:7700/")
    written = 0
    for n in range(500):
        conn.notified("exec.output", {"stream": "1", "stdout": f"line {n}\n"})
        written += len(f"line {n}\n")
        if n % 100 == 0:
            conn.notified("exec.output", {"stream": "1", "stderr": f"warn {n}\n"})
            written += len(f"warn {n}\n")
    conn.notified("exec.output", {"stream": "2", "stdout": "other\n"})
    conn.notified("exec.exit", {"stream": "1", "code": 0, "signal": None})
    history = bus.history()
    assert kinds(history) == ["connection.open", "stream.output", "stream.output", "stream.exit"]
    first = history[1]
    assert first["conn"] == conn.conn and first["stream"] == "1"
    text = "".join(chunk for _, chunk in first["output"])
    assert len(text) == 1000 and text.endswith("line 499\n")
    assert first["truncated"] == written - 1000
    assert history[2]["output"] == [["stdout", "other\n"]]
    assert history[3] == {**history[3], "stream": "1", "code": 0, "signal": None}


def test_output_after_an_exit_or_an_evicted_entry_starts_a_new_entry() -> None:
    bus = EventBus(history=3)
    conn = bus.connect("peer", None)
    conn.notified("exec.output", {"stream": "1", "stdout": "a"})
    for n in range(3):
        bus.publish("toast", {"message": f"m{n}"})  # pushes the output entry out
    conn.notified("exec.output", {"stream": "1", "stdout": "b"})
    assert kinds(bus.history()) == ["toast", "toast", "stream.output"]
    assert bus.history()[-1]["output"] == [["stdout", "b"]]


async def test_subscribers_get_a_copy_of_the_history_tail_then_coalesced_output() -> None:
    bus = EventBus(history=100)
    conn = bus.connect("peer", None)
    conn.notified("exec.output", {"stream": "1", "stdout": "early "})
    subscription = bus.subscribe()
    conn.notified("exec.output", {"stream": "1", "stdout": "late "})
    # Not sent yet: the subscriber's copy of the entry takes the new output too.
    events, _ = await subscription.next()
    wire = [event.to_wire() for event in events]
    assert kinds(wire) == ["connection.open", "stream.output"]
    assert wire[1]["output"] == [["stdout", "early late "]]
    conn.notified("exec.output", {"stream": "1", "stdout": "later"})
    conn.notified("exec.output", {"stream": "1", "stderr": "!"})
    events, _ = await subscription.next()
    # What was sent is not grown afterwards; the next entry holds only what came since.
    assert events[0].to_wire()["output"] == [["stdout", "later"], ["stderr", "!"]]
    assert wire[1]["output"] == [["stdout", "early late "]]
    assert bus.history()[1]["output"] == [["stdout", "early late later"], ["stderr", "!"]]


def test_connection_close_is_published_once() -> None:
    bus = EventBus()
    conn = bus.connect("127.0.0.1:5000", "http://127.0.0.1:7700/app")
    conn.closed()
    conn.closed()
    history = bus.history()
    assert kinds(history) == ["connection.open", "connection.close"]
    assert history[0] == {
        **history[0],
        "conn": "c1",
        "peer": "127.0.0.1:5000",
        "page": "http://127.0.0.1:7700/app",
    }


def test_toasts_and_navigation_name_their_connection() -> None:
    bus = EventBus()
    conn = bus.connect("peer", None)
    conn.publish("toast", {"level": "success", "message": "saved"})
    bus.publish("navigate", {"target": "containers", "url": "/_ddbridge/docker/containers"})
    toast, navigate = bus.history()[1:]
    assert toast == {**toast, "kind": "toast", "conn": "c1", "level": "success", "message": "saved"}
    assert navigate["kind"] == "navigate" and "conn" not in navigate


# --------------------------------------------------------------------------------------------
# the dispatch observer hook

router = MethodRouter("t")


class EchoParams(Params):
    value: Any = None


@router.method("echo")
async def echo(params: EchoParams, ctx: None) -> Any:
    return params.value


@router.method("fail")
async def fail(params: EchoParams, ctx: None) -> None:
    raise ServiceError(404, "Not Found", "nope")


@router.method("later")
async def later(params: EchoParams, ctx: None) -> AfterReply:
    return AfterReply({"stream": "1"}, lambda: None)


class LenientOptions(BaseModel):
    model_config = ConfigDict(extra="allow")
    used: bool = False


class LenientParams(Params):
    options: LenientOptions = LenientOptions()
    more: LenientOptions | None = None
    data: Any = None


@router.method("lenient")
async def lenient(params: LenientParams, ctx: None) -> bool:
    return params.options.used


registry: Registry[None] = Registry([router])


class Recorder:
    def __init__(self) -> None:
        self.seen: list[tuple[str, Any]] = []

    def started(self, request: Request, ignored: list[str], frame: Frame) -> str:
        self.seen.append(("started", request.method))
        return f"token-{request.id}"

    def finished(self, token: str, result: Any, error: RpcError | None) -> None:
        self.seen.append(("finished", (token, result, None if error is None else error.code)))


async def test_observer_sees_each_request_start_and_finish() -> None:
    recorder = Recorder()
    frame = parse_frame(
        json.dumps(
            [
                {"jsonrpc": "2.0", "id": 1, "method": "t.echo", "params": {"value": 5}},
                {"jsonrpc": "2.0", "id": 2, "method": "t.fail"},
                {"jsonrpc": "2.0", "id": 3, "method": "t.later"},
                {"jsonrpc": "2.0", "method": "t.echo", "params": {"value": "note"}},
                {"jsonrpc": "2.0", "id": 4, "method": "t.missing"},
                {"foo": "not a request"},
            ]
        )
    )
    reply = await dispatch(registry, frame, None, recorder)
    assert reply.text is not None and len(json.loads(reply.text)) == 5
    started = [what for kind, what in recorder.seen if kind == "started"]
    finished = sorted((what for kind, what in recorder.seen if kind == "finished"), key=str)
    assert sorted(started) == ["t.echo", "t.echo", "t.fail", "t.later", "t.missing"]
    assert finished == sorted(
        [
            ("token-1", 5, None),
            ("token-2", None, -32001),
            ("token-3", {"stream": "1"}, None),  # unwrapped from AfterReply
            ("token-None", "note", None),
            ("token-4", None, -32601),
        ],
        key=str,
    )


class Broken(Recorder):
    """An observer with a bug in one of its hooks."""

    def __init__(self, where: str) -> None:
        super().__init__()
        self.where = where

    def started(self, request: Request, ignored: list[str], frame: Frame) -> str:
        if self.where == "started":
            raise KeyError("a bug in started")
        return super().started(request, ignored, frame)

    def finished(self, token: str, result: Any, error: RpcError | None) -> None:
        if self.where == "finished":
            raise KeyError("a bug in finished")
        super().finished(token, result, error)


@pytest.mark.parametrize("where", ["started", "finished"])
async def test_an_observer_that_raises_leaves_no_call_unanswered(
    where: str, caplog: pytest.LogCaptureFixture
) -> None:
    observer = Broken(where)
    frame = parse_frame('{"jsonrpc": "2.0", "id": 1, "method": "t.echo", "params": {"value": 5}}')
    reply = await dispatch(registry, frame, None, observer)
    assert json.loads(reply.text or "") == {"jsonrpc": "2.0", "id": 1, "result": 5}
    assert f"the call observer failed as t.echo {where}" in caplog.text and f"a bug in {where}" in caplog.text
    if where == "started":
        assert observer.seen == [], "no finished without its started"


async def test_dispatch_without_an_observer_is_unchanged() -> None:
    frame = parse_frame('{"jsonrpc": "2.0", "id": 1, "method": "t.echo", "params": {"value": 5}}')
    reply = await dispatch(registry, frame, None)
    assert json.loads(reply.text or "") == {"jsonrpc": "2.0", "id": 1, "result": 5}


async def test_connection_events_as_observer_publish_calls_and_results() -> None:
    bus = EventBus()
    conn = bus.connect("peer", "http://127.0.0.1:7700/")
    for text in (
        '{"jsonrpc": "2.0", "id": "a", "method": "t.echo", "params": {"value": {"big": "'
        + "y" * 50_000
        + '"}}}',
        '{"jsonrpc": "2.0", "id": "b", "method": "t.fail"}',
        '{"jsonrpc": "2.0", "method": "t.echo"}',
    ):
        await dispatch(registry, parse_frame(text), None, conn)
    history = bus.history()
    assert kinds(history) == ["connection.open", "call", "result", "call", "result", "call", "result"]
    call, result = history[1], history[2]
    assert call == {**call, "conn": "c1", "page": "http://127.0.0.1:7700/", "id": "a", "method": "t.echo"}
    assert call["params"]["value"]["big"].endswith("more characters]")
    assert result["call"] == call["seq"] and result["durationMs"] >= 0
    assert result["result"]["big"].startswith("yyy")
    assert history[4]["error"] == {
        "code": -32001,
        "message": "nope",
        "data": {"name": "Not Found", "message": "nope", "statusCode": 404},
    }
    assert history[5]["notification"] is True and history[6]["result"] is None


async def test_the_call_event_names_the_keys_its_method_ignores() -> None:
    bus = EventBus()
    conn = bus.connect("peer", None)
    for options in ({"used": True, "format": "json", "namespace": "x"}, {"used": True}):
        text = json.dumps({"jsonrpc": "2.0", "id": 1, "method": "t.lenient", "params": {"options": options}})
        reply = await dispatch(registry, parse_frame(text), None, conn)
        assert json.loads(reply.text or "")["result"] is True
    noted, plain = [event for event in bus.history() if event["kind"] == "call"]
    assert noted["ignored"] == ["options.format", "options.namespace"]
    assert "ignored" not in plain


async def test_ignored_keys_are_found_in_optional_models_and_not_in_free_values() -> None:
    """A field typed ``Model | None`` is looked into; one typed ``Any`` holds the page's value as
    it came (a dict, never a model), whose keys are the handler's to read."""
    bus = EventBus()
    conn = bus.connect("peer", None)
    params = {"more": {"used": True, "extra": 1}, "data": {"free": 2}}
    text = json.dumps({"jsonrpc": "2.0", "id": 1, "method": "t.lenient", "params": params})
    await dispatch(registry, parse_frame(text), None, conn)
    (call,) = [event for event in bus.history() if event["kind"] == "call"]
    assert call["ignored"] == ["more.extra"]


@pytest.mark.parametrize("history", [2000, 0])
def test_publishing_copies_no_whole_value(history: int) -> None:
    """A guard against an accidental encode or copy of whole values, counted in bytes allocated
    (not timed): no observed call with a 16 MiB answer allocates anything near one copy."""
    bus = EventBus(history=history)
    conn = bus.connect("peer", None)
    request = Request("exec.run", {"target": "host", "cmd": "greet", "args": ["a"]}, 1)
    result = {"cmd": "greet", "code": 0, "stdout": "s" * (16 * 1024 * 1024), "stderr": ""}
    most = 0
    tracemalloc.start()
    try:
        for _ in range(1000):
            before, _ = tracemalloc.get_traced_memory()
            tracemalloc.reset_peak()
            conn.finished(conn.started(request, [], Frame([request], size=80)), result, None)
            most = max(most, tracemalloc.get_traced_memory()[1] - before)
    finally:
        tracemalloc.stop()
    assert most < 1024 * 1024, f"{most / 2**20:.1f} MiB allocated by one observed call"


PAGE = "http://127.0.0.1:7700/index.html"


def opened(bus: EventBus) -> dict[str, Any]:
    return next(event for event in reversed(bus.history()) if event["kind"] == "connection.open")


def test_a_connection_joins_the_load_of_its_page() -> None:
    """The shim's fetch and the WebSocket come from two ports of one address; the WebSocket
    names only the origin (no Referer): the connection takes the load's URL, calls carry it."""
    bus = EventBus()
    bus.page_loaded("127.0.0.1:50001", PAGE)
    load = bus.history()[-1]
    assert (load["kind"], load["page"], load["peer"]) == ("page.load", PAGE, "127.0.0.1:50001")
    conn = bus.connect("127.0.0.1:50002", "http://127.0.0.1:7700")
    assert opened(bus)["load"] == load["seq"]
    assert opened(bus)["page"] == PAGE
    assert conn.page == PAGE
    # A load joins one connection: the page's reconnection is a connection of its own.
    bus.connect("127.0.0.1:50003", "http://127.0.0.1:7700")
    assert "load" not in opened(bus)


def test_the_same_url_wins_then_the_newest_load_of_the_origin() -> None:
    bus = EventBus()
    bus.page_loaded("10.0.0.5:1", "http://127.0.0.1:7700/a")
    first = bus.history()[-1]["seq"]
    bus.page_loaded("10.0.0.5:2", "http://127.0.0.1:7700/b")
    second = bus.history()[-1]["seq"]
    bus.page_loaded("10.0.0.5:3", "http://127.0.0.1:7700/c")
    third = bus.history()[-1]["seq"]
    bus.connect("10.0.0.5:4", "http://127.0.0.1:7700/a")
    assert opened(bus)["load"] == first
    bus.connect("10.0.0.5:5", "http://127.0.0.1:7700")
    assert opened(bus)["load"] == third
    bus.connect("10.0.0.5:6", "http://127.0.0.1:7700")
    assert opened(bus)["load"] == second


def test_a_load_from_another_address_or_origin_is_not_joined() -> None:
    bus = EventBus()
    bus.page_loaded("10.0.0.5:1", PAGE)
    bus.connect("10.0.0.6:2", PAGE)
    assert "load" not in opened(bus)
    bus.connect("10.0.0.5:3", "http://localhost:7700")
    assert "load" not in opened(bus)
    assert opened(bus)["page"] == "http://localhost:7700"


def test_loads_are_neither_kept_nor_joined_when_nobody_watches() -> None:
    bus = EventBus(history=0)
    bus.page_loaded("10.0.0.5:1", PAGE)
    subscription = bus.subscribe()
    bus.connect("10.0.0.5:2", PAGE)
    events = [event.to_wire() for event in subscription.log.events]
    assert [event["kind"] for event in events] == ["connection.open"]
    assert "load" not in events[0]

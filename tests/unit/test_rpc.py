"""The JSON-RPC layer alone: every example of the JSON-RPC 2.0 specification, and dispatch."""

from __future__ import annotations

import asyncio
import gc
import json
from typing import Any, ClassVar

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bridge.api.models import Params
from bridge.errors import LimitExceeded, ServiceError
from bridge.rpc import AfterReply, MethodRouter, Registry, dispatch, dumps, dumps_pieces, encode, parse_frame
from bridge.rpc.dispatch import admit, refuse
from bridge.rpc.protocol import (
    _FRAME_DECODER,
    PAUSE_COLLECTOR_FROM,
    PIECE_FROM,
    Invalid,
    RawJson,
    Request,
    decode_frame,
    loads,
    plain,
    raw_json,
)

router = MethodRouter("t")


class SubtractParams(Params):
    minuend: int
    subtrahend: int


class NoParams(Params):
    pass


class GetDataParams(Params):
    pass


@router.method("subtract")
async def subtract(params: SubtractParams, ctx: list[str]) -> int:
    return params.minuend - params.subtrahend


@router.method("notify_hello")
async def notify_hello(params: NoParams, ctx: list[str]) -> None:
    ctx.append("hello")


@router.method("get_data")
async def get_data(params: GetDataParams, ctx: list[str]) -> list[Any]:
    return ["hello", 5]


@router.method("fail")
async def fail(params: NoParams, ctx: list[str]) -> None:
    raise ServiceError(404, "Not Found", "no such thing")


@router.method("crash")
async def crash(params: NoParams, ctx: list[str]) -> None:
    raise RuntimeError("secret internal detail")


@router.method("later")
async def later(params: NoParams, ctx: list[str]) -> AfterReply:
    return AfterReply({"stream": "1"}, lambda: ctx.append("after"))


class TextParams(Params):
    text: Any = None
    words: tuple[str, ...] = ()
    json_text_fields: ClassVar[frozenset[str]] = frozenset({"text"})


class ValueParams(Params):
    text: Any = None
    words: tuple[str, ...] = ()


@router.method("keep_text")
async def keep_text(params: TextParams, ctx: list[Any]) -> None:
    ctx.append(params)


@router.method("take_values")
async def take_values(params: ValueParams, ctx: list[Any]) -> None:
    ctx.append(params)


REGISTRY: Registry[list[str]] = Registry([router])


def run(frame: str, ctx: list[str] | None = None) -> Any:
    reply = asyncio.run(dispatch(REGISTRY, parse_frame(frame), ctx if ctx is not None else []))
    return None if reply.text is None else json.loads(reply.text)


# The specification's examples, section 7, with its method names under our "t." prefix.


def test_positional_params_are_refused_with_a_clear_message() -> None:
    answer = run('{"jsonrpc": "2.0", "method": "t.subtract", "params": [42, 23], "id": 1}')
    assert answer["id"] == 1
    assert answer["error"]["code"] == -32602
    assert "named params" in answer["error"]["message"]


def test_named_parameters() -> None:
    assert run(
        '{"jsonrpc": "2.0", "method": "t.subtract", "params": {"subtrahend": 23, "minuend": 42}, "id": 3}'
    ) == {
        "jsonrpc": "2.0",
        "result": 19,
        "id": 3,
    }
    assert run(
        '{"jsonrpc": "2.0", "method": "t.subtract", "params": {"minuend": 42, "subtrahend": 23}, "id": 4}'
    ) == {
        "jsonrpc": "2.0",
        "result": 19,
        "id": 4,
    }


def test_notification_gets_no_reply_but_runs() -> None:
    ctx: list[str] = []
    assert run('{"jsonrpc": "2.0", "method": "t.notify_hello"}', ctx) is None
    assert ctx == ["hello"]


def test_notification_to_unknown_method_gets_no_reply() -> None:
    assert run('{"jsonrpc": "2.0", "method": "foobar"}') is None


def test_non_existent_method() -> None:
    assert run('{"jsonrpc": "2.0", "method": "foobar", "id": "1"}') == {
        "jsonrpc": "2.0",
        "error": {"code": -32601, "message": "method not found: foobar"},
        "id": "1",
    }


def test_invalid_json() -> None:
    answer = run('{"jsonrpc": "2.0", "method": "foobar, "params": "bar", "baz]')
    assert answer["error"]["code"] == -32700
    assert answer["id"] is None


def test_invalid_request_object() -> None:
    answer = run('{"jsonrpc": "2.0", "method": 1, "params": "bar"}')
    assert answer["error"]["code"] == -32600
    assert answer["id"] is None


def test_batch_invalid_json() -> None:
    answer = run(
        '[{"jsonrpc": "2.0", "method": "sum", "params": [1,2,4], "id": "1"}, {"jsonrpc": "2.0", "method"]'
    )
    assert answer["error"]["code"] == -32700
    assert answer["id"] is None


def test_empty_array() -> None:
    answer = run("[]")
    assert isinstance(answer, dict)
    assert answer["error"]["code"] == -32600
    assert answer["id"] is None


def test_invalid_batch_but_not_empty() -> None:
    answer = run("[1]")
    assert isinstance(answer, list) and len(answer) == 1
    assert answer[0]["error"]["code"] == -32600 and answer[0]["id"] is None


def test_invalid_batch() -> None:
    answer = run("[1,2,3]")
    assert [item["error"]["code"] for item in answer] == [-32600] * 3
    assert all(item["id"] is None for item in answer)


def test_mixed_batch_keeps_order_and_drops_notifications() -> None:
    answer = run(
        """[
        {"jsonrpc": "2.0", "method": "t.subtract", "params": {"minuend": 7, "subtrahend": 3}, "id": "1"},
        {"jsonrpc": "2.0", "method": "t.notify_hello", "params": {}},
        {"jsonrpc": "2.0", "method": "t.subtract", "params": {"minuend": 42, "subtrahend": 23}, "id": "2"},
        {"foo": "boo"},
        {"jsonrpc": "2.0", "method": "foo.get", "params": {"name": "myself"}, "id": "5"},
        {"jsonrpc": "2.0", "method": "t.get_data", "id": "9"}
    ]"""
    )
    assert [item.get("id") for item in answer] == ["1", "2", None, "5", "9"]
    assert answer[0]["result"] == 4
    assert answer[1]["result"] == 19
    assert answer[2]["error"]["code"] == -32600
    assert answer[3]["error"]["code"] == -32601
    assert answer[4]["result"] == ["hello", 5]


def test_batch_of_notifications_gets_no_reply() -> None:
    ctx: list[str] = []
    frame = '[{"jsonrpc": "2.0", "method": "t.notify_hello"}, {"jsonrpc": "2.0", "method": "t.notify_hello"}]'
    assert run(frame, ctx) is None
    assert ctx == ["hello", "hello"]


# Beyond the examples.


@pytest.mark.parametrize(
    ("frame", "problem"),
    [
        ('{"method": "t.get_data", "id": 1}', "'jsonrpc'"),
        ('{"jsonrpc": "1.0", "method": "t.get_data", "id": 1}', "'jsonrpc'"),
        ('{"jsonrpc": "2.0", "id": 1}', "'method'"),
        ('{"jsonrpc": "2.0", "method": "t.get_data", "params": 5, "id": 1}', "'params'"),
    ],
)
def test_invalid_request_keeps_a_readable_id(frame: str, problem: str) -> None:
    answer = run(frame)
    assert answer["error"]["code"] == -32600
    assert problem in answer["error"]["message"]
    assert answer["id"] == 1


@pytest.mark.parametrize("bad_id", ["true", "{}", "[1]"])
def test_ids_must_be_string_number_or_null(bad_id: str) -> None:
    answer = run(f'{{"jsonrpc": "2.0", "method": "t.get_data", "id": {bad_id}}}')
    assert answer["error"]["code"] == -32600
    assert answer["id"] is None


def test_null_id_is_a_request_not_a_notification() -> None:
    assert run('{"jsonrpc": "2.0", "method": "t.get_data", "id": null}') == {
        "jsonrpc": "2.0",
        "id": None,
        "result": ["hello", 5],
    }


def test_invalid_params_name_the_field() -> None:
    answer = run('{"jsonrpc": "2.0", "method": "t.subtract", "params": {"minuend": "x"}, "id": 7}')
    error = answer["error"]
    assert error["code"] == -32602
    assert "minuend" in error["message"] and "subtrahend" in error["message"]
    assert {item["field"] for item in error["data"]["errors"]} == {"minuend", "subtrahend"}


def test_unknown_params_are_named() -> None:
    answer = run('{"jsonrpc": "2.0", "method": "t.get_data", "params": {"colour": 1}, "id": 8}')
    assert answer["error"]["code"] == -32602
    assert "colour" in answer["error"]["message"]


def test_bridge_errors_carry_their_code_and_data() -> None:
    answer = run('{"jsonrpc": "2.0", "method": "t.fail", "id": 1}')
    assert answer["error"] == {
        "code": -32001,
        "message": "no such thing",
        "data": {"name": "Not Found", "message": "no such thing", "statusCode": 404},
    }


def test_unexpected_errors_do_not_leak_internals(caplog: pytest.LogCaptureFixture) -> None:
    answer = run('{"jsonrpc": "2.0", "method": "t.crash", "id": 1}')
    assert answer["error"]["code"] == -32603
    assert "secret" not in answer["error"]["message"]
    assert "secret internal detail" in caplog.text


def test_after_reply_callbacks_are_returned_not_run() -> None:
    ctx: list[str] = []
    reply = asyncio.run(dispatch(REGISTRY, parse_frame('{"jsonrpc":"2.0","method":"t.later","id":1}'), ctx))
    assert json.loads(reply.text or "")["result"] == {"stream": "1"}
    assert ctx == []
    for callback in reply.then:
        callback()
    assert ctx == ["after"]


def test_parse_frame_shapes() -> None:
    frame = parse_frame(b'{"jsonrpc":"2.0","method":"m","params":{"a":1},"id":"x"}')
    assert frame.items == [Request("m", {"a": 1}, "x", False)] and not frame.batch
    frame = parse_frame('[{"jsonrpc":"2.0","method":"m"}, 5]')
    assert frame.batch and frame.items[0] == Request("m", None, None, True)
    assert isinstance(frame.items[1], Invalid)


def _read(decode: Any, data: str | bytes) -> str:
    """What ``decode`` makes of a frame: the objects' repr (-0.0 is not 0), or its error."""
    try:
        return repr(decode(data))
    except (ValueError, RecursionError) as exc:
        return f"refused: {exc}"


def _stdlib(data: str | bytes) -> Any:
    return _FRAME_DECODER.decode(data if isinstance(data, str) else data.decode())


# What the two parsers could read differently: numbers at the edges of ints and floats, escapes
# (lone surrogates among them), UTF-8 in and out of strings, whitespace, near-JSON, depth.
JSON_EDGES = [
    b'{"jsonrpc":"2.0","id":1,"method":"m","params":{"v":%s}}' % value
    for value in (
        b"123456789012345678901234567890", b"-9223372036854775809", b"18446744073709551616", b"-0", b"-0.0",
        b"1e400", b"-1e400", b"1e-400", b"2.2250738585072011e-308", b"4.9e-324", b"1.7976931348623157e308",
        b"0.1", b"1E+2", b"123456789.123456789e-5", b"01", b"1.", b".5", b"+1", b"NaN", b"-Infinity",
        b'"\\ud800"', b'"\\uDFFF\\uD800"', b'"\\ud83d\\ude00"', b'"\\u0000"', b'"\\/"', b'"\\x"',
        b'"\xc3\xa9"', b'"\xed\xa0\x80"', b'"\xc0\x80"', b'"\xf4\x90\x80\x80"', b'"\xff"', b'"\x01"',
        b'"\t"', b'"\x7f"', b"[1,]", b'{"a":1,"a":2}', b"\r\n true \t", b"\x0c1", b"nul",
        b"[" * 600 + b"]" * 600,
    )
]  # fmt: skip

_scalars = st.none() | st.booleans() | st.integers() | st.floats() | st.text()
_values = st.recursive(
    _scalars, lambda inner: st.lists(inner) | st.dictionaries(st.text(), inner), max_leaves=12
)


def _reads_as_the_stdlib(data: bytes) -> None:
    expected = _read(_stdlib, data)
    assert _read(decode_frame, data) == expected
    if not expected.startswith("refused: 'utf-8' codec"):
        assert _read(decode_frame, data.decode()) == expected


@pytest.mark.parametrize("frame", JSON_EDGES)
def test_frames_read_as_the_stdlib_reads_them(frame: bytes) -> None:
    """The fast reader (msgspec) decides nothing the stdlib would decide otherwise: the same
    objects and the same errors, from bytes and from text alike."""
    _reads_as_the_stdlib(frame)


@settings(max_examples=300, deadline=None)
@given(_values, st.booleans(), st.integers(0, 40), st.binary(max_size=3))
def test_any_json_or_near_json_reads_as_the_stdlib_reads_it(
    value: Any, ascii_only: bool, cut: int, noise: bytes
) -> None:
    request = {"jsonrpc": "2.0", "id": 1, "method": "m", "params": {"v": value}}
    text = json.dumps(request, ensure_ascii=ascii_only)
    encoded = text.encode("utf-8", "surrogatepass")
    _reads_as_the_stdlib(encoded)
    _reads_as_the_stdlib(encoded[: max(len(encoded) - cut, 0)] + noise)


def test_deeply_nested_json_is_a_parse_error_not_a_crash() -> None:
    answer = run("[" * 100_000 + "]" * 100_000)
    assert answer["error"]["code"] == -32700


def test_registry_refuses_duplicates_and_non_model_params() -> None:
    with pytest.raises(ValueError, match="twice"):
        Registry([router, router])
    other = MethodRouter("x")
    with pytest.raises(TypeError, match="pydantic model"):

        @other.method("m")
        async def handler(params: int, ctx: object) -> None:
            return None


def test_a_refused_frame_answers_each_request_with_the_error_and_nothing_to_notifications() -> None:
    error = LimitExceeded("too many calls", limit="limits.calls_per_connection", value=2)
    wire = {
        "code": -32005,
        "message": "too many calls",
        "data": {"limit": "limits.calls_per_connection", "value": 2},
    }
    single = refuse(parse_frame('{"jsonrpc": "2.0", "id": 7, "method": "host.info"}'), error)
    assert single.text is not None and json.loads(single.text) == {"jsonrpc": "2.0", "id": 7, "error": wire}
    assert refuse(parse_frame('{"jsonrpc": "2.0", "method": "host.info"}'), error).text is None
    batch = refuse(
        parse_frame('[{"jsonrpc": "2.0", "id": "a", "method": "x"}, {"jsonrpc": "2.0", "method": "y"}, 5]'),
        error,
    )
    assert batch.text is not None
    answers = json.loads(batch.text)
    assert [answer["id"] for answer in answers] == ["a", None]
    assert answers[0]["error"] == wire and answers[1]["error"]["code"] == -32600


@pytest.mark.parametrize(
    ("value", "wire"),
    [
        ({"text": "é", "n": 1}, '{"text":"é","n":1}'),  # orjson: UTF-8 kept
        ({"id": 2**70, "text": "é"}, '{"id":1180591620717411303424,"text":"\\u00e9"}'),  # past 64 bits
        ({"text": "a\ud800b"}, '{"text":"a\\ud800b"}'),  # a lone surrogate has no UTF-8 form
    ],
)
def test_what_orjson_refuses_is_still_valid_utf8_json(value: dict[str, object], wire: str) -> None:
    assert encode(value) == wire
    assert dumps(value) == wire.encode()
    assert json.loads(wire) == value


def test_admit_counts_every_request_of_a_batch_and_refuses_those_past_the_room() -> None:
    error = LimitExceeded("too many calls", limit="limits.calls_per_connection", value=3)
    members = [{"jsonrpc": "2.0", "id": n, "method": "t.subtract", "params": [n, 1]} for n in range(700)]
    members.insert(1, {"jsonrpc": "2.0", "method": "t.notify_hello"})  # a notification runs too
    members.append({"jsonrpc": "2.0", "method": "t.notify_hello"})  # past the room: dropped
    members.append(5)  # invalid: answered with its own error, whatever the room
    frame, admitted = admit(parse_frame(json.dumps(members)), 3, lambda: error)
    assert admitted == 3
    running = [item for item in frame.items if isinstance(item, Request)]
    assert [item.id for item in running] == [0, None, 1]
    refused = [item for item in frame.items if isinstance(item, Invalid)]
    assert [item.id for item in refused[:-1]] == list(range(2, 700))
    assert {item.error.code for item in refused[:-1]} == {-32005}
    assert refused[-1].error.code == -32600
    assert admit(parse_frame(json.dumps(members)), 0, lambda: error)[1] == 0


def test_a_batch_past_the_room_runs_only_the_admitted_members() -> None:
    error = LimitExceeded("too many calls", limit="limits.calls_per_connection", value=2)
    ctx: list[str] = []
    text = json.dumps([{"jsonrpc": "2.0", "id": n, "method": "t.notify_hello"} for n in range(5)])
    frame, _ = admit(parse_frame(text), 2, lambda: error)
    reply = asyncio.run(dispatch(REGISTRY, frame, ctx))
    assert ctx == ["hello", "hello"]
    assert reply.text is not None
    answers = json.loads(reply.text)
    assert [answer["id"] for answer in answers] == [0, 1, 2, 3, 4]
    assert [answer.get("error", {}).get("data") for answer in answers[2:]] == [
        {"limit": "limits.calls_per_connection", "value": 2}
    ] * 3


BIG_BODY = b"[" + b'{"a":[1,2]},' * 20_000 + b"{}]"


def test_a_big_body_is_parsed_with_the_collector_paused_and_then_resumed() -> None:
    assert len(BIG_BODY) >= PAUSE_COLLECTOR_FROM and gc.isenabled()
    assert len(loads(BIG_BODY)) == 20_001
    assert gc.isenabled()
    with pytest.raises(ValueError):  # refused by orjson, then by the stdlib
        loads(BIG_BODY[:-1])
    assert gc.isenabled()


def test_a_body_parsed_while_the_collector_is_off_leaves_it_off() -> None:
    gc.disable()
    try:
        assert len(loads(BIG_BODY)) == 20_001
        assert not gc.isenabled()
    finally:
        gc.enable()


@pytest.mark.parametrize(
    "text",
    [
        b'{"b": 1, "a": [1.0, 2e3]}',
        b' "\xc3\xa9" ',
        b"18446744073709551615",
        b"123456789012345678901234567890",  # past 64 bits: exactly as the backend wrote it
        b'"\\ud83d\\ude00"',
        b"null",
        b"[" * 500 + b"]" * 500,
    ],
)
def test_strict_json_is_kept_as_its_text_and_encoded_as_it_came(text: bytes) -> None:
    checked = raw_json(text)
    assert checked == RawJson(text)
    assert dumps({"id": 1, "result": checked}) == b'{"id":1,"result":' + text + b"}"
    # By orjson (the stdlib would escape the é): the fast path takes it.
    assert dumps({"id": "é", "result": checked}) == '{"id":"é","result":'.encode() + text + b"}"
    assert plain(checked) == json.loads(text)


@pytest.mark.parametrize(
    "text",
    [
        b"",
        b"[1,2",
        b"NaN",
        b"1 2",
        b'"\\ud800"',  # a lone surrogate
        b"1e",
        b"-01",
        b'{"a" 1}',
        b"[1,]",
        b"\xef\xbb\xbf[1]",  # a byte order mark would end up inside the frame
        b'"\xff"',
        b'"\xc0\x80"',  # an overlong NUL
        b'"\xed\xa0\x80"',  # a surrogate encoded in UTF-8
        b'["\xc3\xa9", "\xe9"]',  # bad UTF-8 after good
        b'"\x01"',
        b"[" * 2000 + b"]" * 2000,
    ],
)
def test_what_is_not_strict_json_is_not_kept_as_text(text: bytes) -> None:
    assert raw_json(text) is None


def test_raw_json_goes_in_as_its_text_when_the_stdlib_encodes() -> None:
    # An id past 64 bits sends the reply to the stdlib; a string shaped like the marker stays.
    text = b'{"x": "\xc3\xa9"}'
    reply = [
        {"id": 2**70, "result": RawJson(text)},
        {"id": 2, "result": "\u0000raw-json-0000000000000000-0"},
        {"id": 3, "result": [RawJson(b"[1]"), RawJson(b"2")]},
    ]
    encoded = dumps(reply)
    assert text in encoded
    assert json.loads(encoded) == [
        {"id": 2**70, "result": {"x": "\u00e9"}},
        {"id": 2, "result": "\u0000raw-json-0000000000000000-0"},
        {"id": 3, "result": [[1], 2]},
    ]


def test_plain_leaves_other_values_alone() -> None:
    value = {"a": [1]}
    assert plain(value) is value


@pytest.mark.parametrize("size", [0, PIECE_FROM - 1, PIECE_FROM, 3 * PIECE_FROM])
def test_pieces_join_to_the_json_and_keep_big_texts_uncopied(size: int) -> None:
    text = b'["' + b"x" * size + b'"]'
    small = RawJson(b'{"a":"\\u0000"}')  # an escaped NUL in a small text: not a split
    value = [{"id": 1, "result": RawJson(text)}, {"s": "\x00", "r": small}, RawJson(text)]
    pieces = dumps_pieces(value)
    assert b"".join(pieces) == dumps(value)
    big = [piece for piece in pieces if piece is text]
    assert len(big) == (2 if len(text) >= PIECE_FROM else 0)
    assert dumps_pieces({"n": 1}) == [b'{"n":1}']
    assert dumps_pieces({"id": 2**70, "r": RawJson(text)}) == [dumps({"id": 2**70, "r": RawJson(text)})]


def _params_seen(frame: bytes | bytearray) -> Any:
    seen: list[Any] = []
    reply = asyncio.run(dispatch(REGISTRY, parse_frame(frame), seen))
    assert reply.text is None or "error" not in json.loads(reply.text), reply.text
    return seen[0]


def test_a_big_frames_long_values_are_its_text_where_the_method_asks_and_values_elsewhere() -> None:
    """A frame of ``PIECE_FROM`` bytes or more keeps each long params value as its text, a
    view of the frame (not a ``str`` and then ``bytes``); a method that does not name the field
    in ``json_text_fields`` gets the value, as from any other frame."""
    long = "x" * PIECE_FROM
    words = ["w" * 100] * (PIECE_FROM // 100)
    frame = bytearray(
        json.dumps(
            {"jsonrpc": "2.0", "method": "t.keep_text", "params": {"text": long, "words": words}}
        ).encode()
    )
    kept = _params_seen(frame)
    assert type(kept.text) is RawJson and isinstance(kept.text.text, memoryview)
    assert kept.text.text.obj is not None and bytes(kept.text.string_utf8()) == long.encode()
    assert kept.words == tuple(words)  # a long value of a field not named: its value
    frame = frame.replace(b"t.keep_text", b"t.take_values")
    assert _params_seen(frame) == ValueParams(text=long, words=tuple(words))


@pytest.mark.parametrize(
    "text",
    ['é"\\' * PIECE_FROM, {"a": ["x" * PIECE_FROM, 2**70]}, ["x" * PIECE_FROM]],
    ids=["escaped string", "object", "array"],
)
def test_a_long_text_reads_as_the_value_the_frame_holds(text: Any) -> None:
    frame = json.dumps(
        {"jsonrpc": "2.0", "id": 1, "method": "t.keep_text", "params": {"text": text}}
    ).encode()
    kept = _params_seen(frame)
    assert type(kept.text) is RawJson and kept.text.value() == text
    assert kept.text.string_utf8() is None  # escaped, or not a string: read by value()


@pytest.mark.parametrize(
    "frame",
    [
        [{"jsonrpc": "2.0", "id": 1, "method": "t.keep_text", "params": {"text": "x" * PIECE_FROM}}],
        {"jsonrpc": "2.0", "id": 1, "method": "t.keep_text", "params": {"text": "x" * PIECE_FROM + "\ud800"}},
    ],
    ids=["batch", "lone surrogate"],
)
def test_big_frames_that_are_not_one_plain_call_take_the_usual_path(frame: Any) -> None:
    kept = _params_seen(json.dumps(frame).encode())
    assert isinstance(kept.text, str)

"""Fuzzing the RPC WebSocket: garbage, near-valid and valid JSON-RPC frames at one real daemon.

Every frame is judged against the JSON-RPC 2.0 specification (sections 4 to 6), not against the
daemon's code: this module has its own small oracle (``expect``) that says, from the frame's
text alone, whether it is a parse error, an invalid request, a notification (no answer), a
request (an answer with its id) or a batch (an array of answers, or none when it held only
notifications). A frame the daemon answers wrongly, twice, or not at all fails the property;
so does a connection it closes without a close code, and a daemon that stops answering
``/healthz`` or a fresh connection's ``host.info``.

How "no answer" is told from "a late answer": after each frame's expected answers a sentinel
``host.info`` goes out on the same connection and everything read until its answer must be
accounted for. An answer arriving after that is caught on the next read as one too many.

The daemon has host binaries (the suite's tools) and the test backend, so calls that validate do
real work; ``exec.spawn`` and every other ``exec.run`` than the harmless tools' are filtered out
(``_harmless``), and the engine address leads nowhere, so nothing outside the daemon changes.

``DDBRIDGE_FUZZ_EXAMPLES`` scales the number of examples (CI default: about a minute in all).
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import secrets
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import ClientConnection, connect

from bridge.api.exec import ExecParams
from bridge.app import ROUTERS
from bridge.rpc import Registry
from tests.conftest import write_host_tools
from tests.support.processes import RunningBridge

pytestmark = pytest.mark.integration

EXAMPLES = int(os.environ.get("DDBRIDGE_FUZZ_EXAMPLES", "0")) or None
METHODS = Registry(ROUTERS).names()
MODELS = {name: method.params for name in METHODS if (method := Registry(ROUTERS).get(name)) is not None}
SAFE_TOOLS = ("greet", "fail", "where", "chunks")
# How long one answer may take: the slowest harmless call is a host tool run (milliseconds).
ANSWER_TIMEOUT = 15.0
# A frame nested deeper than this may be refused as a parse error (the parsers' depth limit).
DEEP = 500


def _settings(default_examples: int) -> settings:
    return settings(
        max_examples=EXAMPLES or default_examples,
        deadline=None,
        database=None,  # nothing left in the shared working tree; failures print their blob
        print_blob=True,
        suppress_health_check=[
            HealthCheck.too_slow,
            HealthCheck.data_too_large,
            HealthCheck.large_base_example,
        ],
    )


# --------------------------------------------------------------------------------------------
# The oracle: what the specification says a frame must get back


ANY = object()  # any conformant answer id / code


@dataclass(frozen=True)
class Answer:
    """One expected response object: the ids it may carry, the error codes it may have
    (``None``: a result or any error; a set: an error with one of those codes)."""

    ids: tuple[Any, ...]
    codes: frozenset[int] | None = None


@dataclass(frozen=True)
class Expect:
    """What a frame must get: ``kind`` is ``single`` (one response object), ``batch`` (an array
    of ``answers``, in any order), ``none`` (nothing), ``close`` (the daemon closes with
    ``close_code``) or ``deep`` (as the parsed frame says, or a parse error: a depth limit)."""

    kind: str
    answers: tuple[Answer, ...] = ()
    close_code: int | None = None
    fallback: Expect | None = None


def _is_id(value: Any) -> bool:
    return value is None or (isinstance(value, str | int | float) and not isinstance(value, bool))


def _expect_item(item: Any) -> Answer | None:
    """Spec section 4 and 5.1 for one request object; ``None`` for a notification."""
    if not isinstance(item, dict):
        return Answer((None,), frozenset({-32600}))
    has_id = "id" in item
    request_id = item.get("id")
    valid = (
        _is_id(request_id)
        and item.get("jsonrpc") == "2.0"
        and isinstance(item.get("jsonrpc"), str)
        and isinstance(item.get("method"), str)
        and ("params" not in item or isinstance(item["params"], dict | list))
    )
    if not valid:
        # "If there was an error in detecting the id in the Request object (e.g. Parse
        # error/Invalid Request), it MUST be Null": a readable id may be echoed or not.
        ids = (None, request_id) if has_id and _is_id(request_id) else (None,)
        return Answer(ids, frozenset({-32600}))
    if not has_id:
        return None
    codes = None if item["method"] in MODELS else frozenset({-32601})
    return Answer((request_id,), codes)


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def expect(text: str) -> Expect:
    """Spec sections 5 and 6 for one text frame."""
    try:
        decoded = json.loads(text, parse_constant=_reject_constant)
    except RecursionError:
        return Expect("deep", (Answer((None,)),))
    except ValueError:
        return Expect("single", (Answer((None,), frozenset({-32700})),))
    return expect_value(decoded)


def expect_value(decoded: Any) -> Expect:
    if isinstance(decoded, list):
        if not decoded:
            return Expect("single", (Answer((None,), frozenset({-32600})),))
        answers = tuple(answer for item in decoded if (answer := _expect_item(item)) is not None)
        return Expect("batch", answers) if answers else Expect("none")
    answer = _expect_item(decoded)
    return Expect("single", (answer,)) if answer is not None else Expect("none")


def _same_id(got: Any, want: Any) -> bool:
    if want is None or isinstance(want, str):
        return type(got) is type(want) and got == want
    return isinstance(got, int | float) and not isinstance(got, bool) and got == want


def check_response(response: Any) -> None:
    """Spec section 5: the shape of every response object."""
    assert isinstance(response, dict), f"a response must be an object: {response!r:.300}"
    assert response.get("jsonrpc") == "2.0", f"jsonrpc must be '2.0': {response!r:.300}"
    assert "id" in response and _is_id(response["id"]), f"bad or missing id: {response!r:.300}"
    assert ("result" in response) != ("error" in response), f"result xor error: {response!r:.300}"
    assert set(response) <= {"jsonrpc", "id", "result", "error"}, f"extra members: {response!r:.300}"
    if "error" in response:
        error = response["error"]
        assert isinstance(error, dict), f"error must be an object: {response!r:.300}"
        assert isinstance(error.get("code"), int) and not isinstance(error["code"], bool), response
        assert isinstance(error.get("message"), str), f"error.message must be a string: {response!r:.300}"
        assert set(error) <= {"code", "message", "data"}, f"extra error members: {response!r:.300}"


def _fits(response: dict[str, Any], answer: Answer) -> bool:
    if not any(_same_id(response["id"], want) for want in answer.ids):
        return False
    if answer.codes is None:
        return True
    return "error" in response and response["error"]["code"] in answer.codes


def match(received: Any, expected: Expect) -> None:
    """The answer to one frame against what the oracle expects of it."""
    if expected.kind == "single":
        check_response(received)
        assert _fits(received, expected.answers[0]), f"expected {expected.answers[0]}, got {received!r:.500}"
        return
    assert expected.kind == "batch", expected
    assert isinstance(received, list), f"a batch is answered with an array: {received!r:.500}"
    assert len(received) == len(expected.answers), (
        f"{len(expected.answers)} answers expected, {len(received)} came: {received!r:.500}"
    )
    for response in received:
        check_response(response)
    # Answers may come in any order, and several may fit one expectation (null ids): a perfect
    # matching of answers to expectations must exist (Kuhn's augmenting paths; batches are small).
    fits = [[_fits(response, answer) for answer in expected.answers] for response in received]
    owner: dict[int, int] = {}

    def assign(response: int, seen: set[int]) -> bool:
        for answer, fit in enumerate(fits[response]):
            if fit and answer not in seen:
                seen.add(answer)
                if answer not in owner or assign(owner[answer], seen):
                    owner[answer] = response
                    return True
        return False

    for index, response in enumerate(received):
        assert assign(index, set()), f"no expected answer fits {response!r:.300}; expected {expected.answers}"


# --------------------------------------------------------------------------------------------
# Talking to the daemon


@dataclass
class Tally:
    """Frames sent, by kind: the figure the issue's closing note quotes."""

    frames: Counter[str] = field(default_factory=Counter)

    @property
    def total(self) -> int:
        return sum(self.frames.values())

    def line(self, what: str) -> str:
        parts = ", ".join(f"{kind} {count}" for kind, count in sorted(self.frames.items()))
        return f"frames fuzzed ({what}): {self.total} [{parts}]"


def _is_server_notification(message: Any) -> bool:
    return isinstance(message, dict) and "method" in message and "id" not in message


class Wire:
    """One WebSocket to the daemon, reopened after the daemon closes it."""

    def __init__(self, running: RunningBridge) -> None:
        self.running = running
        self.ws: ClientConnection | None = None
        self._opened = contextlib.ExitStack()

    def socket(self) -> ClientConnection:
        if self.ws is None:
            opening = connect(self.running.ws_url, max_size=None, open_timeout=10, close_timeout=5)
            self.ws = self._opened.enter_context(opening)
        return self.ws

    def close(self) -> None:
        self.ws = None
        self._opened.close()

    def receive(self) -> Any:
        """The next answer (server notifications, which exec streams send, are skipped)."""
        while True:
            text = self.socket().recv(timeout=ANSWER_TIMEOUT)
            assert isinstance(text, str), "the daemon answers in text frames"
            message = json.loads(text)
            if not _is_server_notification(message):
                return message
            assert str(message["method"]).startswith("exec."), message

    def sentinel(self) -> None:
        """A ``host.info`` whose answer must be the next one: anything before it is one too many."""
        sentinel_id = f"sentinel-{secrets.token_hex(8)}"
        self.socket().send(json.dumps({"jsonrpc": "2.0", "id": sentinel_id, "method": "host.info"}))
        answer = self.receive()
        assert isinstance(answer, dict) and answer.get("id") == sentinel_id, (
            f"an answer nobody asked for: {answer!r:.500}"
        )
        assert "result" in answer, answer

    def exchange(self, frame: str | bytes, expected: Expect) -> None:
        """Send one frame and check what comes back, or that the daemon closes cleanly."""
        ws = self.socket()
        ws.send(frame)
        if expected.kind == "close":
            with pytest.raises(ConnectionClosed):
                while True:
                    ws.recv(timeout=ANSWER_TIMEOUT)
            assert ws.close_code == expected.close_code, (ws.close_code, ws.close_reason)
            assert ws.close_reason, "the daemon says why it closes"
            self.ws = None
            return
        try:
            if expected.kind == "deep":
                # Deeper than the oracle's own parser goes: a parse error, or a real answer.
                answer = self.receive()
                check_response(answer)
                assert _fits(answer, expected.answers[0]), answer
            elif expected.kind != "none":
                match(self.receive(), expected)
            self.sentinel()
        except ConnectionClosed:
            # Closing is a conformant way out (a limit), if it is clean and says why.
            assert ws.close_code not in (None, 1006, 1011), (ws.close_code, ws.close_reason)
            assert ws.close_reason, f"closed with {ws.close_code} and no reason"
            self.ws = None


def assert_alive(running: RunningBridge) -> None:
    """The daemon still serves: ``/healthz`` and a fresh connection's ``host.info``."""
    assert running.process.poll() is None, f"the daemon died:\n{running.log()[-3000:]}"
    health = httpx.get(running.url + "healthz", headers=running.headers, timeout=10)
    assert health.status_code == 200 and health.json()["status"] == "ok"
    with connect(running.ws_url, open_timeout=10) as ws:
        ws.send(json.dumps({"jsonrpc": "2.0", "id": 1, "method": "host.info"}))
        answer = json.loads(ws.recv(timeout=10))
    assert answer["id"] == 1 and "platform" in answer["result"], answer


@pytest.fixture(scope="module")
def fuzz_bridge(
    module_bridge: Any, backend_socket: Path, tmp_path_factory: pytest.TempPathFactory
) -> RunningBridge:
    """One daemon for the module, with host tools, the test backend, an empty dialog root and
    an engine address where no engine listens (docker calls fail fast, touching nothing)."""
    folder = tmp_path_factory.mktemp("fuzz")
    tools = write_host_tools(folder / "binaries")
    (folder / "dialog").mkdir()
    running: RunningBridge = module_bridge(
        "--host-binaries",
        tools,
        "--backend-socket",
        backend_socket,
        "--dialog-root",
        folder / "dialog",
        "--docker-host",
        f"unix://{folder / 'no-engine.sock'}",
    )
    return running


@pytest.fixture(scope="module")
def tally() -> Iterator[Tally]:
    counted = Tally()
    yield counted


def run_frames(
    running: RunningBridge, wire: Wire, tally: Tally, frames: list[tuple[str, str | bytes, Expect]]
) -> None:
    """One example: its frames on one connection (reopened after a close), then the daemon must
    still be alive."""
    for kind, frame, expected in frames:
        tally.frames[kind] += 1
        wire.exchange(frame, expected)
    wire.close()
    assert_alive(running)


# --------------------------------------------------------------------------------------------
# Strategies


ids = st.one_of(
    st.none(),
    st.integers(),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=20),
    st.just(""),
)
wrong_ids = st.one_of(
    st.booleans(),
    st.lists(st.integers(), max_size=3),
    st.dictionaries(st.text(max_size=5), st.integers(), max_size=3),
)
scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=30),
)
json_values = st.recursive(
    scalars,
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=16,
)
huge_strings = st.builds(
    lambda char, size: char * size, st.sampled_from('xé😀\\"\x01'), st.integers(10_000, 400_000)
)


@st.composite
def mutated_names(draw: st.DrawFn) -> str:
    """A real method name, changed a little: what a typo or a confused client sends."""
    name = draw(st.sampled_from(METHODS))
    how = draw(st.sampled_from(["drop", "insert", "case", "affix", "space", "prefix", "empty", "dots"]))
    at = draw(st.integers(0, len(name)))
    if how == "drop":
        return name[:at] + name[at + 1 :]
    if how == "insert":
        return name[:at] + draw(st.characters(codec="utf-8")) + name[at:]
    if how == "case":
        return name.swapcase()
    if how == "affix":
        return name + draw(st.sampled_from(["()", "\x00", "/", ".", "s", "\u200b"]))
    if how == "space":
        return f" {name} "
    if how == "prefix":
        return draw(st.sampled_from(["rpc.", "__", "constructor.", "bridge."])) + name
    if how == "empty":
        return ""
    return name.replace(".", draw(st.sampled_from(["", "..", "/", "_", ":"])))


def _wrong_type(value: Any) -> st.SearchStrategy[Any]:
    """Values of another JSON type than ``value``'s."""
    options: list[st.SearchStrategy[Any]] = [st.none(), st.booleans(), st.integers(), st.text(max_size=10)]
    options += [st.lists(scalars, max_size=3), st.dictionaries(st.text(max_size=5), scalars, max_size=3)]
    return st.one_of(*options).filter(lambda other: type(other) is not type(value))


# A plausible value per field of every method: "wrong types for real fields" change one of them.
PLAUSIBLE: dict[str, dict[str, Any]] = {
    "service.request": {"method": "GET", "url": "/echo", "headers": {"X-A": "b"}, "data": None},
    "exec.run": {"target": "host", "cmd": "greet", "args": ["a"], "cwd": None, "env": {"DDB_VAR": "1"}},
    "exec.spawn": {"target": "host", "cmd": "greet", "args": [], "cwd": None, "env": {}},
    "exec.kill": {"stream": "1"},
    "docker.listContainers": {"options": {"all": True, "limit": 1, "size": False, "filters": {}}},
    "docker.listImages": {"options": {"all": True, "digests": False, "filters": {}}},
    "desktop.toast": {"level": "success", "message": "hi"},
    "desktop.navigate": {"target": "containers", "id": "x", "tag": ""},
    "desktop.openDialog": {"props": {"title": "t", "properties": ["openFile"], "filters": []}},
    "desktop.listDirectory": {"path": "/", "showHidden": False},
    "desktop.resolveDialog": {"props": {"properties": ["openFile"]}, "filePaths": ["/x"]},
    "host.openExternal": {"url": "https://example.com/"},
    "host.info": {},
}


@st.composite
def real_params(draw: st.DrawFn, method: str) -> Any:
    """Params for a real method: plausible ones with a field retyped, dropped or added, or random
    JSON, deep nesting, a huge string, a list instead of an object."""
    plausible = dict(PLAUSIBLE.get(method, {}))
    how = draw(st.sampled_from(["retype", "drop", "extra", "random", "list", "huge", "plausible"]))
    if how == "retype" and plausible:
        name = draw(st.sampled_from(sorted(plausible)))
        plausible[name] = draw(_wrong_type(plausible[name]))
    elif how == "drop" and plausible:
        plausible.pop(draw(st.sampled_from(sorted(plausible))))
    elif how == "extra":
        plausible[draw(st.text(max_size=10))] = draw(json_values)
    elif how == "random":
        return draw(json_values)
    elif how == "list":
        return draw(st.lists(json_values, max_size=3))
    elif how == "huge" and plausible:
        plausible[draw(st.sampled_from(sorted(plausible)))] = draw(huge_strings)
    return plausible


def _harmless(item: Any) -> bool:
    """False for an item that would start a process other than a short harmless tool: no
    ``exec.spawn`` (a stream outlives its frame), ``exec.run`` of the short tools only."""
    if not isinstance(item, dict) or not isinstance(params := item.get("params"), dict):
        return True
    if item.get("method") not in ("exec.run", "exec.spawn"):
        return True
    try:
        spec = ExecParams.model_validate(params)
    except ValidationError:
        return True
    return item.get("method") == "exec.run" and spec.target == "host" and spec.cmd in SAFE_TOOLS


@st.composite
def envelopes(draw: st.DrawFn) -> dict[str, Any]:
    """A request object, each member present or not, right or wrong."""
    item: dict[str, Any] = {}
    if draw(st.integers(0, 9)):
        item["jsonrpc"] = draw(st.sampled_from(["2.0"] * 6 + ["2", "1.0", "2.0 ", "", 2.0, 2, None]))
    id_kind = draw(st.integers(0, 9))
    if id_kind < 6:
        item["id"] = draw(ids)
    elif id_kind < 8:
        item["id"] = draw(st.one_of(wrong_ids, st.integers().filter(lambda n: abs(n) > 2**64)))
        if isinstance(item["id"], int) and not isinstance(item["id"], bool):
            item["id"] = [item["id"]]  # huge ints as ids are the known bug above: wrapped, still wrong
    method_kind = draw(st.integers(0, 9))
    method: Any
    if method_kind < 5:
        method = draw(st.sampled_from(METHODS))
    elif method_kind < 8:
        method = draw(mutated_names())
    else:
        method = draw(st.one_of(json_values, huge_strings))
    if draw(st.integers(0, 19)):
        item["method"] = method
    params_kind = draw(st.integers(0, 9))
    if params_kind < 6 and isinstance(method, str):
        item["params"] = draw(real_params(method))
    elif params_kind < 8:
        item["params"] = draw(json_values)
    if not draw(st.integers(0, 9)):
        item[draw(st.text(max_size=8))] = draw(json_values)
    return item


def _encode(value: Any) -> str:
    return json.dumps(value, allow_nan=False, ensure_ascii=False)


@st.composite
def near_valid_frames(draw: st.DrawFn) -> tuple[str, str, Expect]:
    """An envelope, a batch (empty, mixed, nested, of notifications) or a deeply nested one."""
    shape = draw(st.sampled_from(["single"] * 6 + ["batch", "batch", "empty", "nested", "deep", "scalar"]))
    value: Any
    if shape == "single":
        value = draw(envelopes())
    elif shape == "batch":
        value = draw(st.lists(st.one_of(envelopes(), json_values), min_size=1, max_size=6))
    elif shape == "empty":
        value = []
    elif shape == "nested":
        value = [draw(st.lists(envelopes(), max_size=2)), draw(envelopes())]
    elif shape == "scalar":
        value = draw(scalars)
    else:
        depth = draw(st.integers(DEEP, 3000))
        inner = draw(st.sampled_from([("[", "]"), ('{"a":', "}")]))
        request_id = draw(st.integers(1, 10**6))
        text = (
            f'{{"jsonrpc":"2.0","id":{request_id},"method":"host.info","params":{{"p":'
            + inner[0] * depth
            + "1"
            + inner[1] * depth
            + "}}"
        )
        return "deep", text, Expect("deep", (Answer((request_id, None)),))
    items = value if isinstance(value, list) else [value]
    if not all(_harmless(item) for item in items):
        value = {"jsonrpc": "2.0", "id": "replaced", "method": "host.info"}
    return shape, _encode(value), expect_value(value)


def garbage_frame(kind: str, data: Any) -> tuple[str, str | bytes, Expect]:
    if kind == "binary":
        return "binary", data, Expect("close", close_code=1003)
    text = data if kind == "text" else data.decode("utf-8", errors="replace")
    return kind, text, expect(text)


garbage_frames = st.one_of(
    st.builds(garbage_frame, st.just("text"), st.text(max_size=200)),
    st.builds(
        garbage_frame,
        st.just("text"),
        st.sampled_from(["{", "[", "]", "{}", "[{}]", "null", "1", '"x"', "[1,2,3]", "[[]]", "[null]"]),
    ),
    st.builds(garbage_frame, st.just("bytes-as-text"), st.binary(max_size=200)),
    st.builds(garbage_frame, st.just("binary"), st.binary(max_size=200)),
)


PRINTABLE = st.characters(min_codepoint=32, max_codepoint=126)
# Header values: a value that starts or ends with a blank is refused by the HTTP client (-32001).
TOKEN_CHARS = st.characters(codec="ascii", categories=("L", "N"))


def _dot_segment_in(path: str) -> bool:
    """Whether a segment of ``path`` (between slashes or backslashes) is "." or ".." once cut
    at a ";"."""
    return any(segment.split(";")[0] in {".", ".."} for segment in re.split(r"[/\\]", path))


@st.composite
def harmless_calls(draw: st.DrawFn) -> tuple[str, str, Expect, str]:
    """A valid call of a harmless method, and what its result must look like."""
    request_id = draw(st.one_of(st.integers(), st.text(max_size=20)))
    which = draw(st.sampled_from(["host.info", "service.request", "exec.run"]))
    params: dict[str, Any]
    if which == "host.info":
        params = {}
    elif which == "service.request":
        # Printable: a URL with control characters is refused (test_fuzz_findings.py); with no
        # dot segment, which would leave /echo or be refused (test_service_target.py).
        path = draw(
            st.text(PRINTABLE.filter(lambda char: char not in "?#%"), max_size=30).filter(
                lambda path: not _dot_segment_in(path)
            )
        )
        params = {
            "method": "GET",
            "url": "/echo/" + path.lstrip("/"),
            "headers": {"X-Fuzz": draw(st.text(TOKEN_CHARS, max_size=20))},
        }
    else:
        params = {
            "target": "host",
            "cmd": "greet",
            "args": draw(
                st.lists(
                    st.text(st.characters(codec="utf-8", exclude_characters="\x00"), max_size=20), max_size=4
                )
            ),
        }
    frame = _encode({"jsonrpc": "2.0", "id": request_id, "method": which, "params": params})
    return which, frame, Expect("single", (Answer((request_id,)),)), which


# --------------------------------------------------------------------------------------------
# The properties


@_settings(400)
@given(frames=st.lists(garbage_frames, min_size=1, max_size=4))
def test_garbage_frames(
    fuzz_bridge: RunningBridge, tally: Tally, frames: list[tuple[str, str | bytes, Expect]]
) -> None:
    wire = Wire(fuzz_bridge)
    run_frames(fuzz_bridge, wire, tally, frames)


@_settings(600)
@given(frames=st.lists(near_valid_frames(), min_size=1, max_size=4))
def test_near_valid_frames(
    fuzz_bridge: RunningBridge, tally: Tally, frames: list[tuple[str, str, Expect]]
) -> None:
    wire = Wire(fuzz_bridge)
    run_frames(fuzz_bridge, wire, tally, list(frames))


@_settings(300)
@given(calls=st.lists(harmless_calls(), min_size=1, max_size=4))
def test_valid_harmless_calls(
    fuzz_bridge: RunningBridge, tally: Tally, calls: list[tuple[str, str, Expect, str]]
) -> None:
    """Valid calls get their real results (not only a conformant shape)."""
    wire = Wire(fuzz_bridge)
    try:
        for kind, frame, expected, method in calls:
            tally.frames[f"valid {kind}"] += 1
            wire.socket().send(frame)
            answer = wire.receive()
            match(answer, expected)
            assert "result" in answer, answer
            result = answer["result"]
            if method == "host.info":
                assert {"platform", "arch", "hostname", "version"} <= set(result)
            elif method == "service.request":
                assert result["method"] == "GET" and result["path"].startswith("/echo")
            else:
                assert result["code"] == 0 and result["stdout"].startswith("hello"), result
            wire.sentinel()
    finally:
        wire.close()
    assert_alive(fuzz_bridge)


def test_fuzz_summary(fuzz_bridge: RunningBridge, tally: Tally, capsys: pytest.CaptureFixture[str]) -> None:
    """Runs last in the module: the daemon is alive after everything, and the figures are shown."""
    assert_alive(fuzz_bridge)
    with capsys.disabled():
        print(f"\n{tally.line('all kinds')}")
    assert tally.total > 0 or EXAMPLES == 0

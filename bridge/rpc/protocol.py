"""JSON-RPC 2.0 framing: text in, request objects out; response objects in, text out.

Follows https://www.jsonrpc.org/specification section by section: a frame is one request, one
notification or a batch; anything malformed becomes an ``Invalid`` item that answers with the
spec's error and, where the id could be read, that id.
"""

from __future__ import annotations

import contextlib
import gc
import json
import secrets
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import msgspec
import orjson

from bridge.buffers import is_ascii

RequestId = str | int | float | None
# A JSON text as it is held: bytes, a backend's answer read into its buffer, a view of a frame's.
JsonText = bytes | bytearray | memoryview

# Bodies from this size on are parsed with the cyclic collector paused (``loads``).
PAUSE_COLLECTOR_FROM = 64 * 1024
UTF8_BOM = b"\xef\xbb\xbf"
# A ``RawJson`` from this size on stays a piece of its own (``dumps_pieces``).
PIECE_FROM = 64 * 1024
_PIECE_MARK = orjson.Fragment(b"\x00")
PARSE_ERROR = -32700
INVALID_REQUEST = -32600
METHOD_NOT_FOUND = -32601
INVALID_PARAMS = -32602
INTERNAL_ERROR = -32603


@dataclass(frozen=True, slots=True)
class RpcError:
    """An error object as it goes on the wire."""

    code: int
    message: str
    data: Any = None

    def to_wire(self) -> dict[str, Any]:
        wire: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.data is not None:
            wire["data"] = self.data
        return wire


@dataclass(frozen=True, slots=True)
class Request:
    """A well-formed request, or a notification when ``notification`` is true (no reply)."""

    method: str
    params: dict[str, Any] | list[Any] | None = None
    id: RequestId = None
    notification: bool = False


@dataclass(frozen=True, slots=True)
class Invalid:
    """A frame item that is not a valid request; it is answered with ``error``."""

    error: RpcError
    id: RequestId = None


@dataclass(frozen=True, slots=True)
class Frame:
    """What one incoming text frame held: its items, whether it was a batch, its length (bytes
    or characters as it came: what any of its requests' params can hold at most) and its text,
    from which a request alone in the frame can be read again (``decode_frame``)."""

    items: list[Request | Invalid] = field(default_factory=list)
    batch: bool = False
    size: int = 0
    text: str | bytes | bytearray = b""


def _valid_id(value: Any) -> bool:
    return value is None or (isinstance(value, str | int | float) and not isinstance(value, bool))


def _invalid(problem: str, request_id: RequestId = None) -> Invalid:
    return Invalid(RpcError(INVALID_REQUEST, f"invalid request: {problem}"), request_id)


def _parse_item(item: Any) -> Request | Invalid:
    if not isinstance(item, dict):
        return _invalid("expected a JSON object")
    has_id = "id" in item
    request_id = item.get("id")
    if has_id and not _valid_id(request_id):
        return _invalid("'id' must be a string, number or null")
    reply_id = request_id if has_id else None
    if item.get("jsonrpc") != "2.0":
        return _invalid("'jsonrpc' must be \"2.0\"", reply_id)
    method = item.get("method")
    if not isinstance(method, str):
        return _invalid("'method' must be a string", reply_id)
    params = item.get("params")
    if "params" in item and not isinstance(params, dict | list):
        return _invalid("'params' must be an object or an array", reply_id)
    return Request(method=method, params=params, id=request_id, notification=not has_id)


def _not_json(word: str) -> Any:
    raise ValueError(f"{word} is not JSON")


# One decoder for every frame: ``json.loads`` with an argument builds a new one each call.
_FRAME_DECODER = json.JSONDecoder(parse_constant=_not_json)
_FAST_FRAME_DECODER = msgspec.json.Decoder()


def decode_frame(data: str | bytes | bytearray) -> Any:
    """A frame's JSON as objects; ``ValueError`` (or ``RecursionError``) saying what is wrong.

    msgspec reads it first: from the bytes (no text made of them), four times as fast as the
    stdlib (a 16 MiB upload: 4 ms against 18), integers past 64 bits exactly, ``NaN`` and
    ``Infinity`` refused, UTF-8 checked. What it refuses goes to the stdlib, which decides:
    it accepts what msgspec does not but JSON allows (lone surrogate escapes, a number past a
    float's range) and words the errors for people. (A request's id must come back exactly:
    orjson would read integers past 64 bits as floats.)"""
    try:
        return _FAST_FRAME_DECODER.decode(data)
    except (msgspec.DecodeError, msgspec.ValidationError, RecursionError):
        return _FRAME_DECODER.decode(data if isinstance(data, str) else data.decode())


class _Call(msgspec.Struct):
    """A request alone in a frame, its params' values as their texts (``_big_call``)."""

    jsonrpc: Any = msgspec.UNSET
    id: Any = msgspec.UNSET
    method: Any = msgspec.UNSET
    params: dict[str, msgspec.Raw] | msgspec.UnsetType = msgspec.UNSET


_BIG_CALL = msgspec.json.Decoder(_Call)


def _big_call(data: bytes | bytearray) -> dict[str, Any] | None:
    """The request a big frame is, each of its params' values of ``PIECE_FROM`` bytes or more
    kept as its text (a ``RawJson`` viewing the frame's bytes: a 16 MiB upload is not made a
    ``str`` and then ``bytes`` for the backend, two more copies of it), the others decoded; None
    when the frame is not one request with named params, or msgspec refuses it: the frame then
    takes the usual path, which decides. A handler sees such texts only where its params model
    asks for them (``dispatch``); the others get the values."""
    try:
        call = _BIG_CALL.decode(data)
        item = {
            name: value
            for name in ("jsonrpc", "id", "method")
            if (value := getattr(call, name)) is not msgspec.UNSET
        }
        if not isinstance(call.params, msgspec.UnsetType):
            unescaped = b"\\" not in data
            item["params"] = {
                key: RawJson(memoryview(raw), unescaped)
                if len(raw) >= PIECE_FROM
                else _FAST_FRAME_DECODER.decode(raw)
                for key, raw in call.params.items()
            }
    except (msgspec.DecodeError, msgspec.ValidationError, RecursionError):
        return None
    return item


def parse_frame(data: str | bytes | bytearray) -> Frame:
    """Parse one WebSocket text frame into requests and invalid items."""
    size = len(data)
    if size >= PIECE_FROM and not isinstance(data, str):
        item = _big_call(data)
        if item is not None:
            return Frame([_parse_item(item)], size=size, text=data)
    try:
        decoded = decode_frame(data)
    except (ValueError, RecursionError) as exc:
        return Frame([Invalid(RpcError(PARSE_ERROR, f"parse error: {exc}"))], size=size, text=data)
    if isinstance(decoded, list):
        if not decoded:
            return Frame([_invalid("empty batch")], size=size, text=data)
        return Frame([_parse_item(item) for item in decoded], batch=True, size=size, text=data)
    return Frame([_parse_item(decoded)], size=size, text=data)


def result_response(request_id: RequestId, result: Any) -> dict[str, Any]:
    return {"jsonrpc": "2.0", "id": request_id, "result": result}


def error_response(request_id: RequestId, error: RpcError) -> dict[str, Any]:
    return {"jsonrpc": "2.0", "id": request_id, "error": error.to_wire()}


def notification(method: str, params: dict[str, Any]) -> dict[str, Any]:
    return {"jsonrpc": "2.0", "method": method, "params": params}


class RawJson:
    """One JSON value as its text (bytes, or a view of a frame's), checked (``raw_json``, or
    msgspec reading the frame); ``dumps`` writes the text as it is. ``unescaped``: the text is
    known to hold no backslash, so a string's value is the text between its quotes.

    Not a dataclass: orjson would encode one as an object of its fields."""

    __slots__ = ("text", "unescaped")

    def __init__(self, text: JsonText, unescaped: bool = False) -> None:
        self.text = text
        self.unescaped = unescaped

    def __eq__(self, other: object) -> bool:
        return isinstance(other, RawJson) and other.text == self.text

    def __hash__(self) -> int:
        return hash(bytes(self.text))

    def __repr__(self) -> str:
        return f"RawJson({bytes(self.text[:60])!r}{'…' if len(self.text) > 60 else ''})"

    def value(self) -> Any:
        """The objects, by the stdlib: it reads integers past 64 bits exactly (orjson makes
        floats of them), and the text is strict JSON."""
        with _collector_paused(len(self.text) >= PAUSE_COLLECTOR_FROM):
            return _FRAME_DECODER.decode(str(self.text, "utf-8"))

    def string_utf8(self) -> memoryview | None:
        """When the text is a string known to hold no escape, its value's UTF-8: the text
        between the quotes, not copied. Else None (``value`` reads it)."""
        if not self.unescaped or self.text[:1] != b'"':
            return None
        return memoryview(self.text)[1:-1]


# Decoding into ``Raw`` checks the text's grammar and makes nothing (the value stays its bytes).
_GRAMMAR = msgspec.json.Decoder(msgspec.Raw)


def raw_json(data: JsonText) -> RawJson | None:
    """``data`` as a ``RawJson`` when it is one strict JSON text (RFC 8259: UTF-8, no ``NaN``,
    no lone surrogates), else None.

    A backend's answer goes to the page as JSON; parsing it into objects to encode them again
    cost a 16 MiB answer 0.5 s and 200+ MiB of objects (300,000 small ones), where msgspec reads
    its grammar in C in 15-20 ms and makes no object (simdjson, before it, built a tape four
    times the text's size: 60 ms and 64 MiB more): the answer's bytes go into the reply as they
    came, integers past 64 bits too. msgspec leaves the UTF-8 of strings unchecked, hence the
    decode of a text that is not ASCII. A byte order mark, which would end up inside the frame,
    is left to ``loads``, as is all that is refused here."""
    if data[: len(UTF8_BOM)] == UTF8_BOM:
        return None
    try:
        _GRAMMAR.decode(data)
        if not is_ascii(data):
            str(data, "utf-8")
    except (msgspec.DecodeError, UnicodeDecodeError, RecursionError):
        return None
    return RawJson(data)


def plain(value: Any) -> Any:
    """``value`` with a ``RawJson`` made objects, for code that looks inside answers."""
    return value.value() if isinstance(value, RawJson) else value


def loads(data: str | JsonText) -> Any:
    """JSON text to objects with orjson (for bodies: large ones are common); what orjson refuses
    goes to the stdlib, which accepts a little more (lone surrogates) and words its errors
    (``ValueError``) for people.

    A big body's parse makes hundreds of thousands of containers, and the cyclic collector,
    run every few hundred allocations over ever more of them, took 3-5 times the parse itself
    (16 MiB of small objects: 0.6-1.2 s against 0.2 s). What a parse makes cannot hold a cycle,
    so the collector waits until it is done."""
    with _collector_paused(len(data) >= PAUSE_COLLECTOR_FROM):
        try:
            return orjson.loads(data)
        except orjson.JSONDecodeError:
            return json.loads(bytes(data) if isinstance(data, memoryview) else data)


@contextlib.contextmanager
def _collector_paused(pause: bool) -> Iterator[None]:
    if not pause or not gc.isenabled():
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


def dumps(value: Any) -> bytes:
    """Compact UTF-8 JSON, with orjson: it escapes a stream's output ten times as fast as the
    stdlib (0.5 GB/s), which was a third of a streaming daemon's time. Values orjson refuses
    (integers past 64 bits, lone surrogates) are encoded by the stdlib instead, with non-ASCII
    characters escaped: a lone surrogate has no UTF-8 form, and as ``\\udXXX`` it stays valid
    JSON for a backend and a valid text frame for a page. A ``RawJson`` is written as its text
    either way. (The join of one piece, the usual case, is that piece: no copy.)"""
    return b"".join(dumps_pieces(value))


def dumps_pieces(value: Any) -> list[JsonText]:
    """``dumps(value)`` as pieces whose join is that JSON, each ``RawJson`` of ``PIECE_FROM``
    bytes or more one of them, its own bytes: a 16 MiB answer is sent without being copied
    into a reply (the WebSocket writes the pieces one after another).

    Each big text is written by orjson as a NUL byte, which splits its output: orjson escapes a
    NUL in a string, and strict JSON (every ``RawJson``) holds none, so each NUL it writes is
    one of these, in order. The stdlib's encoding (the fallback) comes as one piece."""
    big: list[JsonText] = []

    def fragment(item: Any) -> orjson.Fragment:
        text = _raw_text(item)
        if len(text) < PIECE_FROM:
            return orjson.Fragment(text)
        big.append(text)
        return _PIECE_MARK

    try:
        encoded = orjson.dumps(value, default=fragment, option=orjson.OPT_NON_STR_KEYS)
    except TypeError:
        return [_stdlib_dumps(value)]
    if not big:
        return [encoded]
    pieces: list[JsonText] = []
    for between, text in zip(encoded.split(b"\x00"), [*big, b""], strict=True):
        pieces += [between, text]
    return [piece for piece in pieces if piece]


def _raw_text(value: Any) -> JsonText:
    """A ``RawJson``'s text; any other value neither encoder knows is refused (TypeError)."""
    if type(value) is not RawJson:
        raise TypeError(f"{type(value).__name__} is not JSON")
    return value.text


def _stdlib_dumps(value: Any) -> bytes:
    """The stdlib's encoding, each ``RawJson`` put in as its text where a marker string stood:
    the marker is random, so no string of the value can be mistaken for it."""
    texts: list[JsonText] = []
    marker = f"\u0000raw-json-{secrets.token_hex(8)}-"

    def mark(item: Any) -> str:
        texts.append(_raw_text(item))
        return f"{marker}{len(texts) - 1}"

    encoded = json.dumps(value, separators=(",", ":"), default=mark).encode("ascii")
    for index, text in enumerate(texts):
        encoded = encoded.replace(json.dumps(f"{marker}{index}").encode(), text, 1)
    return encoded


def encode(message: dict[str, Any] | list[dict[str, Any]]) -> str:
    """One JSON encode per frame: compact, UTF-8 kept as is."""
    return dumps(message).decode()

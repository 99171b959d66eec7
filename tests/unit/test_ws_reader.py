"""The frame reading of ``bridge.ws_reader`` against ``websockets``' own: the same bytes, cut
anywhere, good frames and bad, make the same events, the same answers and the same errors; and
a big payload is read into one buffer, not kept once read."""

from __future__ import annotations

import tracemalloc
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from websockets.client import ClientProtocol
from websockets.frames import Close, CloseCode
from websockets.server import ServerProtocol
from websockets.speedups import apply_mask
from websockets.uri import parse_uri

from bridge.ws_reader import GATHER_FROM, PayloadReader, gather_big_frames

BIG = 3 * GATHER_FROM + 17
MASK = b"\x11\x22\x33\x44"
# Frames a browser would not send, each as (first header byte, masked, payload size or None for
# the message's size): a reserved opcode, a reserved bit, no mask, a ping past 125 bytes, a
# fragmented ping, a close frame with a code no one may send.
BAD_FRAMES = {
    "bad-opcode": (0x83, True, None),
    "reserved-bit": (0xC1, True, None),
    "unmasked": (0x81, False, None),
    "long-ping": (0x89, True, 126),
    "fragmented-ping": (0x09, True, 4),
    "bad-close": (0x88, True, 2),
}


def _raw_frame(head1: int, masked: bool, payload: bytes) -> bytes:
    size = len(payload)
    mask_bit = 0x80 if masked else 0
    if size < 126:
        head = bytes((head1, mask_bit | size))
    elif size < 1 << 16:
        head = bytes((head1, mask_bit | 126)) + size.to_bytes(2, "big")
    else:
        head = bytes((head1, mask_bit | 127)) + size.to_bytes(8, "big")
    return head + (MASK + apply_mask(payload, MASK) if masked else payload)


def _client_bytes(messages: list[tuple[str, int]]) -> bytes:
    """What a browser would send: the handshake, then each message (masked frames)."""
    client = ClientProtocol(parse_uri("ws://localhost/rpc"))
    request = client.connect()
    client.send_request(request)
    sent = b"".join(client.data_to_send())
    server = ServerProtocol()
    server.receive_data(sent)
    server.send_response(server.accept(server.events_received()[0]))
    client.receive_data(b"".join(server.data_to_send()))
    raw = b""
    for kind, size in messages:
        payload = b"x" * size
        if kind in BAD_FRAMES:  # after it, the server reads nothing more
            head1, masked, fixed = BAD_FRAMES[kind]
            raw = _raw_frame(head1, masked, b"\x03\xed" if kind == "bad-close" else b"y" * (fixed or size))
            break
        if kind == "text":
            client.send_text(payload)
        elif kind == "fragments":
            half = len(payload) // 2
            client.send_text(payload[:half], fin=False)
            client.send_continuation(payload[half:], fin=True)
        elif kind == "ping":
            client.send_ping(payload[:125])  # a control frame's most
        elif kind == "close":
            client.send_close(CloseCode.NORMAL_CLOSURE, "bye")
    return sent + b"".join(client.data_to_send()) + raw


def _serve(
    data: bytes, cuts: list[int], gather: bool, eof: bool, max_size: int | None = None
) -> dict[str, Any]:
    """A server reading ``data`` in the pieces ``cuts`` make; what it did."""
    server = ServerProtocol(max_size=max_size)
    if gather:
        gather_big_frames(server)
        assert isinstance(server.reader, PayloadReader)
    events: list[Any] = []
    answers: list[bytes] = []
    start = 0
    for end in [*sorted(cuts), len(data)]:
        server.receive_data(data[start:end])
        start = end
        for event in server.events_received():
            if hasattr(event, "opcode"):
                events.append((event.opcode, bytes(event.data), event.fin))
            else:
                events.append(("request", event.path))
                server.send_response(server.accept(event))
        answers += server.data_to_send()
    if eof:
        server.receive_eof()
        answers += server.data_to_send()
    return {
        "events": events,
        "answers": b"".join(answers),
        "state": server.state,
        "error": repr(server.parser_exc),
        "close": server.close_rcvd
        if server.close_rcvd is None
        else (server.close_rcvd.code, server.close_rcvd.reason),
    }


def _same(data: bytes, cuts: list[int], eof: bool = False, max_size: int | None = None) -> dict[str, Any]:
    ours = _serve(data, cuts, gather=True, eof=eof, max_size=max_size)
    assert ours == _serve(data, cuts, gather=False, eof=eof, max_size=max_size)
    return ours


MESSAGES = st.lists(
    st.tuples(
        st.sampled_from(["text", "fragments", "ping", "text", "fragments", *BAD_FRAMES]),
        st.sampled_from([0, 1, 125, 70_000, BIG, GATHER_FROM]),
    ),
    max_size=4,
)


@settings(max_examples=100, deadline=None)
@given(
    MESSAGES,
    st.lists(st.integers(0, 4 * BIG), max_size=12),
    st.booleans(),
    st.booleans(),
    st.integers(0, 9),
    st.sampled_from([None, 100_000, GATHER_FROM + 5]),
)
def test_any_stream_cut_anywhere_reads_as_the_library_reads_it(
    messages: list[tuple[str, int]], cuts: list[int], closed: bool, eof: bool, lose: int, max_size: int | None
) -> None:
    data = _client_bytes([*messages, *([("close", 0)] if closed else [])])
    if lose:  # the stream ends early, maybe in a big frame's middle
        data = data[: max(len(data) - lose * 997, 0)]
    _same(data, [cut for cut in cuts if cut < len(data)], eof=eof, max_size=max_size)


@pytest.mark.parametrize("kind", sorted(BAD_FRAMES))
@pytest.mark.parametrize("size", [5, BIG])
def test_each_bad_frame_fails_the_connection_as_the_library_fails_it(kind: str, size: int) -> None:
    seen = _same(_client_bytes([("text", BIG), (kind, size)]), [300, 5000])
    assert seen["error"] != "None"


def test_a_message_past_the_limit_fails_as_the_library_fails_it() -> None:
    seen = _same(_client_bytes([("fragments", BIG)]), [1000], max_size=BIG - 10)
    assert "PayloadTooBig" in seen["error"]


def test_a_big_frame_and_the_next_in_one_read_are_both_read_whole() -> None:
    data = _client_bytes([("text", BIG), ("text", 5), ("text", BIG)])
    seen = _same(data, [200, 300])  # the handshake, a little of the first frame, then all the rest
    assert [len(payload) for _, payload, _ in seen["events"][1:]] == [BIG, 5, BIG]


def test_a_stream_ending_inside_a_big_frame_fails_as_the_library_fails() -> None:
    data = _client_bytes([("text", BIG)])
    seen = _same(data[:-1000], list(range(300, len(data), 4096)), eof=True)
    assert "EOFError" in seen["error"] and seen["events"] == [("request", "/rpc")]


def test_closing_after_a_big_frame_answers_the_close() -> None:
    seen = _same(_client_bytes([("text", BIG), ("close", 0)]), [400, 100_000])
    assert seen["close"] == (CloseCode.NORMAL_CLOSURE, "bye")
    assert Close(CloseCode.NORMAL_CLOSURE, "bye").serialize() in seen["answers"]


def test_a_big_payload_is_held_once_while_read_and_not_at_all_once_handed_on() -> None:
    """A 4 MiB masked frame read in 64 KiB pieces: the server's memory peaks at about the
    payload (the library's read held the pieces, the joined payload and its unmasked copy), and
    once the frame's event is let go the server keeps nothing of it (the library's parser kept
    the last frame until the next one came)."""
    size = 4 << 20
    data = _client_bytes([("text", size)])
    pieces = [data[start : start + GATHER_FROM] for start in range(0, len(data), GATHER_FROM)]
    server = ServerProtocol(max_size=None)
    gather_big_frames(server)
    server.receive_data(pieces[0])
    server.send_response(server.accept(server.events_received()[0]))
    tracemalloc.start()
    try:
        for piece in pieces[1:]:
            server.receive_data(piece)
        _, peak = tracemalloc.get_traced_memory()
        (frame,) = server.events_received()
        assert frame.data.count(b"x") == size
        del frame
        held, _ = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 1.2 * size
    assert held < size / 10

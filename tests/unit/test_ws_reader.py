"""The gathering reader (``bridge.ws_reader``) against ``websockets``' own: the same bytes,
cut anywhere, make the same events, the same answers and the same errors."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st
from websockets.client import ClientProtocol
from websockets.frames import Close, CloseCode
from websockets.server import ServerProtocol
from websockets.uri import parse_uri

from bridge.ws_reader import GATHER_FROM, GatheringReader, gather_big_frames

BIG = 3 * GATHER_FROM + 17


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
    for kind, size in messages:
        payload = b"x" * size
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
    return sent + b"".join(client.data_to_send())


def _serve(data: bytes, cuts: list[int], gather: bool, eof: bool) -> dict[str, Any]:
    """A server reading ``data`` in the pieces ``cuts`` make; what it did."""
    server = ServerProtocol(max_size=None)
    if gather:
        gather_big_frames(server)
        assert isinstance(server.reader, GatheringReader)
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


def _same(data: bytes, cuts: list[int], eof: bool = False) -> dict[str, Any]:
    ours = _serve(data, cuts, gather=True, eof=eof)
    assert ours == _serve(data, cuts, gather=False, eof=eof)
    return ours


MESSAGES = st.lists(
    st.tuples(
        st.sampled_from(["text", "fragments", "ping"]),
        st.sampled_from([0, 1, 125, 70_000, BIG, GATHER_FROM]),
    ),
    max_size=4,
)


@settings(max_examples=60, deadline=None)
@given(
    MESSAGES, st.lists(st.integers(0, 4 * BIG), max_size=12), st.booleans(), st.booleans(), st.integers(0, 9)
)
def test_any_stream_cut_anywhere_reads_as_the_library_reads_it(
    messages: list[tuple[str, int]], cuts: list[int], closed: bool, eof: bool, lose: int
) -> None:
    data = _client_bytes([*messages, *([("close", 0)] if closed else [])])
    if lose:  # the stream ends early, maybe in a big frame's middle
        data = data[: max(len(data) - lose * 997, 0)]
    _same(data, [cut for cut in cuts if cut < len(data)], eof=eof)


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

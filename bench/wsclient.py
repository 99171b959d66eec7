"""A lean RPC client for the benchmarks: raw ``websockets`` frames, pre-encoded requests, and
answers recognised by a byte search instead of a full JSON decode, so that the client spends as
little of the machine's two cores as possible and the figures measure the bridge.

``bridge.testing.client.BridgeClient`` is the complete client; this one knows just enough.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import websockets
from websockets.asyncio.client import ClientConnection

from bridge.ws_reader import gather_big_frames

if TYPE_CHECKING:
    from bridge.testing.launcher import RunningBridge

SERVICE_CALL = b'{"jsonrpc":"2.0","id":%d,"method":"service.request","params":{"method":"GET","url":"/data"}}'
EXIT_MARK = b'"exec.exit"'
ERROR_MARK = b'"exec.error"'
# A failed request's answer (the spawn itself failed): no stream follows.
FAILED_MARK = b'"error":{'
# The frames that end a stream (exit, error, failed spawn) are small; a big output frame is
# never one of them, so readers need not look into those.
END_FRAME_MAX = 4096


def ends_stream(frame: bytes) -> bool:
    return len(frame) < END_FRAME_MAX and any(mark in frame for mark in (EXIT_MARK, ERROR_MARK, FAILED_MARK))


def ended_well(last: bytes) -> bool:
    """The stream's last frame is its ``exec.exit`` with code 0."""
    return EXIT_MARK in last and b'"code":0' in last.replace(b" ", b"")


@dataclass(frozen=True)
class Endpoint:
    """A daemon's ``/rpc`` and the headers its handshake needs (the token)."""

    url: str
    headers: Mapping[str, str] = field(default_factory=dict)

    @classmethod
    def of(cls, running: RunningBridge) -> Endpoint:
        return cls(running.ws_url, running.headers)

    async def connect(self, **kwargs: Any) -> ClientConnection:
        """A WebSocket without compression (the payloads are tiny or synthetic) and no frame size
        limit; ``kwargs`` go to ``websockets.connect``.

        Its frames are read by the daemon's reader (``bridge.ws_reader``): websockets' own copies
        a big frame's growing buffer about eight times, which was 12 of the 33 ms the big answer
        took through the bridge, the client's time and not the bridge's (a page's browser reads
        a frame without that)."""
        options: dict[str, Any] = {
            "max_size": None,
            "compression": None,
            "ping_interval": None,
            "additional_headers": dict(self.headers),
        }
        ws = await websockets.connect(self.url, **{**options, **kwargs})
        if ws.protocol.reader.buffer:  # the server spoke first: a new reader would lose it
            raise RuntimeError(f"{self.url} sent data before any request")
        gather_big_frames(ws.protocol)
        return ws


def request_frame(request_id: int, method: str, params: bytes) -> bytes:
    """A request for ``method``; ``params`` is the already encoded JSON object."""
    return b'{"jsonrpc":"2.0","id":%d,"method":"%s","params":%s}' % (request_id, method.encode(), params)


def spawn_frame(request_id: int, params: bytes) -> bytes:
    """An ``exec.spawn`` request; ``params`` is the already encoded JSON object."""
    return request_frame(request_id, "exec.spawn", params)


async def call(ws: ClientConnection, frame: bytes) -> bytes:
    """One request with nothing else in flight; the raw answer frame, which must not be an error."""
    await ws.send(frame, text=True)
    return await answer_of(ws)


async def answer_of(ws: ClientConnection) -> bytes:
    """The next answer frame, which must not be an error."""
    answer = await ws.recv(decode=False)
    assert isinstance(answer, bytes)
    if answer.startswith(b'{"jsonrpc":"2.0","id"') and FAILED_MARK in answer[:200]:
        raise RuntimeError(f"the call failed: {answer[:300]!r}")
    return answer


async def service_call(ws: ClientConnection, request_id: int) -> bytes:
    """One ``service.request`` with nothing else in flight; the raw answer frame."""
    await ws.send(SERVICE_CALL % request_id, text=True)
    answer = await ws.recv(decode=False)
    assert isinstance(answer, bytes)
    return answer


async def drain_stream(ws: ClientConnection) -> tuple[int, bytes]:
    """Read frames until the stream's ``exec.exit`` (or ``exec.error``, or an error answer to
    the spawn): the bytes of frames received and the last frame. One stream per connection, so
    no stream id matching."""
    received = 0
    while True:
        frame = await ws.recv(decode=False)
        assert isinstance(frame, bytes)
        received += len(frame)
        if ends_stream(frame):
            return received, frame

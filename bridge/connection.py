"""One WebSocket connection: its in-flight requests, its streams and its outgoing frames.

The WebSocket endpoint feeds each text frame to ``Session.receive`` and calls ``close`` when
the socket goes away. Every frame is handled in its own task (a long ``exec.run`` must not hold
up a service call); the tasks are kept so that closing cancels them, and closing ends every
process the page started.

The limits of ``[limits]`` are counted here: calls in flight (each request of a frame, batch
members too, until its reply is sent), processes running (blocking and streamed alike, from
before each starts until it ended) and, with the daemon's memory budget, the bytes of every
reply: a call's buffers are held until its reply is encoded, the reply's frame until it is sent.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import re
from collections.abc import Awaitable, Callable
from contextvars import ContextVar
from typing import TYPE_CHECKING, Any, TypeVar

from bridge.budget import Hold
from bridge.config import LimitsSettings
from bridge.errors import LimitExceeded, UnknownStream
from bridge.processes.base import RunningProcess
from bridge.processes.output import Stream
from bridge.rpc import Frame, JsonText, Reply, dispatch, dumps, notification, parse_frame
from bridge.rpc.dispatch import admit, refuse

if TYPE_CHECKING:
    from bridge.context import ExtensionContext
    from bridge.daemon import Daemon

log = logging.getLogger("ddbridge.connection")

SendFrame = Callable[[list[JsonText]], Awaitable[None]]
StartProcess = Callable[[], Awaitable[RunningProcess]]
T = TypeVar("T")

# The holds of the frame being handled (batch members run in tasks that share the list).
_frame_holds: ContextVar[list[Hold]] = ContextVar("frame_holds")
# A response's JSON besides the buffers its call held, taken before encoding; a reply that
# comes out bigger takes the rest once it is made.
RESPONSE_BYTES = 4096


# What in a frame could reach its reply and make orjson refuse it, sending it to the stdlib
# encoder, which escapes everything past ASCII (``rpc.dumps``): a surrogate escape (a lone one
# has no UTF-8 form) or an integer that may be past 64 bits (19 digits in a row). Ids, methods
# and names in error messages come back; be conservative. A frame can be 16 MiB: the escape is
# found by its literal start, the digits in a copy where each digit is "0" (4 and 14 ms for
# such a frame, where one regex of both, trying [0-9]{19} at every byte, took 350).
_SURROGATE_ESCAPE = re.compile(rb"\\u[dD][89a-fA-F]")
_DIGITS_AS_ZERO = bytes(0x30 if 0x30 <= byte <= 0x39 else 0x2E for byte in range(256))
_LONG_NUMBER = b"0" * 19


def _may_escape_to_ascii(data: str | bytes | bytearray) -> bool:
    raw = data.encode(errors="surrogatepass") if isinstance(data, str) else data
    return _SURROGATE_ESCAPE.search(raw) is not None or _LONG_NUMBER in raw.translate(_DIGITS_AS_ZERO)


class Session:
    def __init__(
        self,
        daemon: Daemon,
        context: ExtensionContext,
        send_frame: SendFrame,
        peer: str,
        page: str | None = None,
    ) -> None:
        self.daemon = daemon
        self.context = context  # the extension whose page this is: its backend, binaries, methods
        self.peer = peer
        # The inspector's view of this connection: its calls, streams and toasts.
        self.events = daemon.events.connect(peer, page)
        self._send_frame = send_frame
        self._send_lock = asyncio.Lock()
        self._loop = asyncio.get_running_loop()  # asked once: each ask is a getpid() (bridge.http1)
        self._tasks: set[asyncio.Task[None]] = set()
        self._streams: dict[str, Stream] = {}
        self._calls = 0  # requests admitted and not yet answered
        self._processes = 0  # processes starting or running, blocking and streamed
        self._stream_places = 0  # streams starting or running
        self._stream_ids = itertools.count(1)
        self.closed = False

    async def send(self, pieces: list[JsonText]) -> None:
        """One text frame: the pieces of its UTF-8 JSON."""
        async with self._send_lock:
            await self._send_frame(pieces)

    async def notify(self, method: str, params: dict[str, Any]) -> None:
        self.events.notified(method, params)
        await self.send([dumps(notification(method, params))])

    def receive(self, frame: str | bytes | bytearray) -> None:
        task = self._loop.create_task(self._handle(frame))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _handle(self, data: str | bytes | bytearray) -> None:
        # Counted before the first await: frames handled at once cannot slip past the limit.
        frame, admitted = admit(
            parse_frame(data), self.daemon.settings.limits.calls_per_connection - self._calls, self._no_room
        )
        self._calls += admitted
        holds: list[Hold] = []
        _frame_holds.set(holds)  # this task's own context
        try:
            reply = await dispatch(self.context.registry, frame, self, self.events)
            held = self.daemon.memory.hold("the reply")
            holds.append(held)  # given back in the end, with the calls' own
            encoded = self._encode(frame, reply, holds[:-1], held, data)
            if encoded is not None:
                try:
                    await self.send(encoded)
                except Exception as exc:  # the socket closed under us: close() cleans up
                    log.debug("reply to %s not sent: %s", self.peer, exc)
                    return
                del encoded  # gone before its bytes are given back
        finally:
            self._calls -= admitted
            for hold in holds:
                hold.release()
        for callback in reply.then:
            callback()

    def _no_room(self) -> LimitExceeded:
        limit = self.daemon.settings.limits.calls_per_connection
        return LimitExceeded(
            f"too many calls in flight on this connection ({limit}, [limits] calls_per_connection); "
            "wait for some to answer",
            limit="limits.calls_per_connection",
            value=limit,
        )

    def _encode(
        self, frame: Frame, reply: Reply, holds: list[Hold], held: Hold, data: str | bytes | bytearray
    ) -> list[JsonText] | None:
        """The JSON of ``reply`` in pieces (``Reply.pieces``), what it takes on its way to the
        socket taken from ``held`` before it is made: twice its size, for the JSON and the
        frame's copy of it (a big answer's own bytes are a piece and go out uncopied, but stay
        alive until sent: counted the same). The calls' ``holds`` are given back first:
        encoding drops their buffers with the responses, and bound the JSON (escaped to ASCII
        when something in the request ``data`` may send the reply to the stdlib's encoder). A
        reply that does not fit becomes the budget's error for each request. A reply foreseen
        within ``RESPONSE_BYTES`` a response is part of the small constant the budget leaves
        out: it is made first, and counted only if it came out bigger (an answer of unknown
        size)."""
        if not reply.responses:
            return None
        small = RESPONSE_BYTES * len(reply.responses)
        foreseen = small + sum(hold.json_utf8 for hold in holds)
        if holds and foreseen > 2 * small and _may_escape_to_ascii(data):
            foreseen = small + sum(hold.json_ascii for hold in holds)
        for hold in holds:
            hold.release()
        try:
            if foreseen > 2 * small:
                held.add(2 * foreseen)
            pieces = reply.pieces()
            reply.responses = []
            size = sum(map(len, pieces))
            if size <= small and foreseen <= 2 * small:
                return pieces
            if foreseen <= 2 * small:
                held.add(2 * size)
            elif size > foreseen:
                held.add(2 * (size - foreseen))
            else:
                held.give_back(2 * (foreseen - size))
        except LimitExceeded as exc:
            reply.responses = []
            held.release()
            pieces = refuse(frame, exc).pieces()
        return pieces

    def reply_hold(self, what: str) -> Hold:
        """A hold on the daemon's memory budget for buffers that go into the reply of the call
        being handled (``what`` names them in the error): given back once that reply is encoded,
        or the call ended without one."""
        hold = self.daemon.memory.hold(what)
        _frame_holds.get().append(hold)
        return hold

    async def run_process(self, start: StartProcess, use: Callable[[RunningProcess], Awaitable[T]]) -> T:
        """``use`` the process ``start`` starts (a blocking exec), within the process limits; it
        counts until ``use`` returned, which ends it."""
        release = self._take_process(stream=False)
        try:
            return await use(await start())
        finally:
            release()

    async def open_stream(self, start: StartProcess) -> Stream:
        """A process ``start`` starts, as a stream of this connection, within the process and
        stream limits; it counts until the stream is done."""
        release = self._take_process(stream=True)
        try:
            process = await start()
        except BaseException:
            release()
            raise
        stream_id = str(next(self._stream_ids))
        stream = Stream(stream_id, process, self.daemon.settings.exec.kill_grace)
        self._streams[stream_id] = stream

        def forget() -> None:
            self._streams.pop(stream_id, None)
            release()

        stream.done_callbacks.append(forget)
        return stream

    def _take_process(self, *, stream: bool) -> Callable[[], None]:
        """Count one more process (and stream) from before it starts, so that concurrent starts
        cannot slip past the limits; returns what gives the place back (once)."""
        self._check_room(stream=stream)
        daemon = self.daemon
        self._processes += 1
        daemon.processes_running += 1
        if stream:
            self._stream_places += 1
            daemon.streams_running += 1
        released = False

        def release() -> None:
            nonlocal released
            if released:
                return
            released = True
            self._processes -= 1
            daemon.processes_running -= 1
            if stream:
                self._stream_places -= 1
                daemon.streams_running -= 1

        return release

    def _check_room(self, *, stream: bool) -> None:
        daemon = self.daemon
        limits = daemon.settings.limits
        on_all = "running for all pages"
        _within(
            limits,
            "processes_per_connection",
            self._processes,
            "processes on this connection",
            advice="; wait for some to end or kill some streams",
        )
        _within(limits, "processes", daemon.processes_running, "processes on the daemon", running=on_all)
        if stream:
            _within(
                limits,
                "streams_per_connection",
                self._stream_places,
                "streams on this connection",
                advice="; kill some first",
            )
            _within(limits, "streams", daemon.streams_running, "streams on the daemon", running=on_all)

    def stream(self, stream_id: str) -> Stream:
        try:
            return self._streams[stream_id]
        except KeyError:
            raise UnknownStream(stream_id) from None

    async def close(self) -> None:
        """The page went away: cancel its requests and end every process it started."""
        self.closed = True
        for task in list(self._tasks):
            task.cancel()
        with contextlib.suppress(Exception):
            await asyncio.gather(*self._tasks, return_exceptions=True)
        streams = list(self._streams.values())
        ended = await asyncio.gather(*(stream.abandon() for stream in streams), return_exceptions=True)
        for stream, outcome in zip(streams, ended, strict=True):
            if isinstance(outcome, Exception):
                log.error("could not end stream %s of a closed page", stream.id, exc_info=outcome)
        self.events.closed()


def _within(
    limits: LimitsSettings, setting: str, count: int, what: str, *, running: str = "running", advice: str = ""
) -> None:
    """LimitExceeded naming ``[limits] setting`` when one more would pass it."""
    limit: int = getattr(limits, setting)
    if count >= limit:
        raise LimitExceeded(
            f"too many {what} ({limit} {running}, [limits] {setting}){advice}",
            limit=f"limits.{setting}",
            value=limit,
        )

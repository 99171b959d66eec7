"""One WebSocket connection: its in-flight requests, its streams and its outgoing frames.

The WebSocket endpoint feeds each text frame to ``Session.receive`` and calls ``close`` when
the socket goes away. Every frame is handled in its own task (a long ``exec.run`` must not hold
up a service call); the tasks are kept so that closing cancels them, and closing ends every
process the page started.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from bridge.errors import LimitExceeded, UnknownStream
from bridge.processes.base import RunningProcess
from bridge.processes.output import Stream
from bridge.rpc import dispatch, encode, notification, parse_frame
from bridge.rpc.dispatch import refuse

if TYPE_CHECKING:
    from bridge.state import Bridge

log = logging.getLogger("ddbridge.connection")

SendText = Callable[[str], Awaitable[None]]
StartProcess = Callable[[], Awaitable[RunningProcess]]


class Session:
    def __init__(self, bridge: Bridge, send_text: SendText, peer: str, page: str | None = None) -> None:
        self.bridge = bridge
        self.peer = peer
        # The inspector's view of this connection: its calls, streams and toasts.
        self.events = bridge.events.connect(peer, page)
        self._send_text = send_text
        self._send_lock = asyncio.Lock()
        self._tasks: set[asyncio.Task[None]] = set()
        self._streams: dict[str, Stream] = {}
        self._starting = 0  # streams whose process is being started
        self._stream_ids = itertools.count(1)
        self.closed = False

    async def send(self, text: str) -> None:
        async with self._send_lock:
            await self._send_text(text)

    async def notify(self, method: str, params: dict[str, Any]) -> None:
        self.events.notified(method, params)
        await self.send(encode(notification(method, params)))

    def receive(self, frame: str | bytes) -> None:
        task = asyncio.create_task(self._handle(frame, len(self._tasks)))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _handle(self, frame: str | bytes, in_flight: int) -> None:
        limit = self.bridge.settings.limits.calls_per_connection
        if in_flight >= limit:
            reply = refuse(
                parse_frame(frame),
                LimitExceeded(
                    f"too many calls in flight on this connection ({limit}, [limits] calls_per_connection); "
                    "wait for some to answer",
                    limit="limits.calls_per_connection",
                    value=limit,
                ),
            )
        else:
            reply = await dispatch(self.bridge.registry, parse_frame(frame), self, self.events)
        if reply.text is not None:
            try:
                await self.send(reply.text)
            except Exception as exc:  # the socket closed under us: close() cleans up
                log.debug("reply to %s not sent: %s", self.peer, exc)
                return
        for callback in reply.then:
            callback()

    async def open_stream(self, start: StartProcess) -> Stream:
        """A process ``start`` starts, as a stream of this connection, within the stream limits
        (counted from before the start, so concurrent spawns cannot slip past them)."""
        self._check_stream_room()
        self._starting += 1
        self.bridge.streams_running += 1
        try:
            process = await start()
        except BaseException:
            self.bridge.streams_running -= 1
            raise
        finally:
            self._starting -= 1
        stream_id = str(next(self._stream_ids))
        stream = Stream(stream_id, process, self.notify, self.bridge.settings.exec.kill_grace)
        self._streams[stream_id] = stream

        def forget() -> None:
            if self._streams.pop(stream_id, None) is not None:
                self.bridge.streams_running -= 1

        stream.done_callbacks.append(forget)
        return stream

    def _check_stream_room(self) -> None:
        limits = self.bridge.settings.limits
        if len(self._streams) + self._starting >= limits.streams_per_connection:
            raise LimitExceeded(
                f"too many streams on this connection ({limits.streams_per_connection} running, "
                "[limits] streams_per_connection); kill some first",
                limit="limits.streams_per_connection",
                value=limits.streams_per_connection,
            )
        if self.bridge.streams_running >= limits.streams:
            raise LimitExceeded(
                f"too many streams on the daemon ({limits.streams} running for all pages, [limits] streams)",
                limit="limits.streams",
                value=limits.streams,
            )

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
        await asyncio.gather(*(stream.abandon() for stream in list(self._streams.values())))
        self.events.closed()

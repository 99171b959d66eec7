"""The inspector's event bus: what every connected page asked of the daemon, and what came back.

Sessions publish here (calls and their results through the dispatch observer hook, their
streams' output and exits, toasts, navigation intents); the inspector at ``/_ddbridge/``
subscribes. The RPC path must not pay for a view nobody opened, nor slow down because an
inspector reads slowly, so:

- publishing only appends to in-memory logs: no JSON encoding, no awaiting, no task. Subscribers
  encode in their own sender task. With no history kept and nobody subscribed it returns at once;
- every value is cut to a budget (``clip``), so an event never holds on to a 64 MiB
  ``exec.run`` result: when it enters, or, for a value known to be small that nothing changes
  (a call's params from a frame within the budget, a short answer), when the event is read:
  cutting a service call's params and answer was half of what its events cost;
- a call and its answer that only the history sees are kept as tuples (``Record``), made into
  events when the history is read or an inspector subscribes;
- the history and every subscriber's queue are bounded by count and by (estimated) size: a slow
  subscriber loses its oldest events, and is told how many;
- a stream's output is never kept chunk by chunk: while a stream has an entry in a log, new
  output goes into that entry, which keeps only the stream's last ``OUTPUT_TAIL`` characters.

Wire shape of an event (one JSON object per WebSocket frame): ``{"seq", "kind", "time", ...}``
with ``time`` in seconds since the epoch; docs/protocol.md lists the kinds and their fields.
"""

from __future__ import annotations

import asyncio
import itertools
import time
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, cast
from urllib.parse import urlsplit

from bridge.rpc import Frame, RawJson, Request, RpcError, parse_frame

HISTORY = 2000
HISTORY_BYTES = 32 * 1024 * 1024
QUEUE_MIN = 1000
EVENT_BUDGET = 16 * 1024
OUTPUT_TAIL = 64 * 1024
OUTPUT_RUNS = 1024
# Pages that loaded the shim and have not connected yet, kept to join their connection to.
PENDING_LOADS = 256
_MAX_DEPTH = 24
_OVERHEAD = 64

StreamKey = tuple[str, str]


@dataclass(frozen=True, slots=True)
class PageLoad:
    """A ``page.load`` waiting for the connection its page opens on its first call."""

    seq: int
    page: str | None
    origin: str | None
    host: str


def _origin(page: str | None) -> str | None:
    if not page:
        return None
    parts = urlsplit(page)
    return f"{parts.scheme}://{parts.netloc}" if parts.scheme and parts.netloc else page


def _host(peer: str) -> str:
    """``peer``'s address without its port (a page's script fetch and WebSocket use two)."""
    return peer.rpartition(":")[0] or peer


def clip(value: Any, budget: int = EVENT_BUDGET) -> tuple[Any, int]:
    """A copy of a JSON-like value cut to about ``budget`` characters, and its estimated size.

    Long strings keep their head and say how much was cut; containers past the budget end with
    a marker naming what was left out; values that are not JSON become their ``repr``; a
    ``RawJson`` within the budget stays itself (it never changes). The walk stops when the
    budget is spent, so its cost is bounded whatever the value's size.
    """
    left = [budget]
    copied = _walk(value, 0, left)
    return copied, budget - left[0] + _OVERHEAD


_SCALARS = (type(None), bool, int, float)


def _cut(text: str, left: list[int]) -> str:
    if len(text) <= left[0]:
        left[0] -= len(text) + 2
        return text
    keep = max(left[0], 0)
    left[0] = 0
    return f"{text[:keep]}…[{len(text) - keep} more characters]"


def _walk(item: Any, depth: int, left: list[int]) -> Any:
    """``clip``'s walk; ``left`` is the budget still to spend (a one-item list, shared)."""
    kind = type(item)
    if kind is str:
        return _cut(item, left)
    if kind in _SCALARS:
        left[0] -= 8
        return item
    if depth >= _MAX_DEPTH:
        left[0] -= 8
        return "…"
    if isinstance(item, dict):
        copy: dict[str, Any] = {}
        for key, member in item.items():
            if left[0] <= 0:
                copy["…"] = f"{len(item) - len(copy)} more keys"
                break
            name = key if type(key) is str else str(key)
            left[0] -= len(name) + 4
            copy[name] = _walk(member, depth + 1, left)
        return copy
    if isinstance(item, list | tuple):
        items: list[Any] = []
        for index, member in enumerate(item):
            if left[0] <= 0:
                items.append(f"…[{len(item) - index} more items]")
                break
            left[0] -= 2
            items.append(_walk(member, depth + 1, left))
        return items
    if kind is RawJson:
        # A text within the budget is kept as it is: the view's JSON writes it as it came, and
        # a call's event made no object of a backend's answer (parsing and walking the small
        # answer of a service call was a tenth of the daemon's CPU for that call). One that
        # fits the budget a few times over is made objects and cut; a bigger one is shown as
        # the head of its text, as a long string is.
        size = len(item.text)
        if size <= left[0]:
            left[0] -= size
            return item
        if size <= 4 * max(left[0], 0):
            return _walk(item.value(), depth, left)
        keep = max(left[0], 0)
        left[0] = 0
        return f"{bytes(item.text[:keep]).decode(errors='replace')}…[{size - keep} more bytes of JSON]"
    if isinstance(item, str):
        return _cut(str(item), left)
    if isinstance(item, bool | int | float):
        left[0] -= 8
        return item
    return _cut(repr(item), left)


@dataclass(slots=True)
class Event:
    """One event; ``data`` never changes once published. It is already clipped, unless
    ``clipped`` is false: then it is small (``size`` bounds it) and cut when read."""

    seq: int
    kind: str
    time: float
    data: dict[str, Any]
    size: int
    clipped: bool = True

    def to_wire(self) -> dict[str, Any]:
        data = self.data if self.clipped else clip(self.data)[0]
        return {"seq": self.seq, "kind": self.kind, "time": self.time, **data}


# A call or a result while only the history holds it: ``(make, seq, time, size, fields)``, made
# into its ``Event`` by ``make`` when the history is read. A tuple is the cheapest thing Python
# keeps: made as objects and dicts on the call's path, a service call's two events were a third
# to a half of what the history cost the daemon at 64 calls in flight (10 µs a call, alternated
# runs with ``[inspector] history = 0``); as records, a call's path pays 2.5 µs for them, not 4.
Record = tuple[Any, ...]
_SIZE = 3  # where a record holds its size


def _event(item: Event | Record) -> Event:
    if isinstance(item, tuple):
        made: Event = item[0](item)
        return made
    return item


def _call_event(record: Record) -> Event:
    _, seq, when, size, (conn, page, text, ignored) = record
    request = cast(Request, parse_frame(text).items[0])  # the text of a frame of one request
    return Event(seq, "call", when, _call_data(conn, page, request, ignored), size, clipped=False)


def _result_event(record: Record) -> Event:
    _, seq, when, size, (conn, call, seconds, result) = record
    data = {"conn": conn, "call": call, "durationMs": _milliseconds(seconds), "result": result}
    return Event(seq, "result", when, data, size, clipped=False)


def _milliseconds(seconds: float) -> float:
    # Rounding was a quarter of what keeping a result's record cost: done when it is read.
    return round(seconds * 1000, 3)


def _call_data(conn: str, page: str | None, request: Request, ignored: list[str]) -> dict[str, Any]:
    data: dict[str, Any] = {
        "conn": conn,
        "page": page,
        "id": request.id,
        "method": request.method,
        "params": request.params,
    }
    if request.notification:
        data["notification"] = True
    if ignored:
        data["ignored"] = ignored
    return data


class OutputTail:
    """The last ``limit`` characters a stream wrote, as ``[name, text]`` runs in order.

    Adding is O(len(text)) whatever the tail holds: small runs of the same output stream are
    joined, others appended, and old runs dropped from the front; ``truncated`` counts the
    characters dropped.
    """

    __slots__ = ("limit", "runs", "size", "truncated")

    def __init__(self, limit: int = OUTPUT_TAIL) -> None:
        self.limit = limit
        self.runs: deque[tuple[str, str]] = deque()
        self.size = 0
        self.truncated = 0

    def add(self, name: str, text: str) -> int:
        """Append ``text`` of output stream ``name``; returns the change in size."""
        before = self.size
        if len(text) > self.limit:
            self.truncated += len(text) - self.limit
            text = text[-self.limit :]
        if self.runs and self.runs[-1][0] == name and len(self.runs[-1][1]) < 4096:
            self.runs[-1] = (name, self.runs[-1][1] + text)
        else:
            self.runs.append((name, text))
        self.size += len(text)
        while self.size > self.limit or len(self.runs) > OUTPUT_RUNS:
            first_name, first = self.runs[0]
            excess = max(self.size - self.limit, 0)
            if excess == 0 or len(first) <= excess:
                self.runs.popleft()
                self.size -= len(first)
                self.truncated += len(first)
            else:
                self.runs[0] = (first_name, first[excess:])
                self.size -= excess
                self.truncated += excess
        return self.size - before

    def copy(self) -> OutputTail:
        other = OutputTail(self.limit)
        other.runs = deque(self.runs)
        other.size = self.size
        other.truncated = self.truncated
        return other


class OutputEvent(Event):
    """``stream.output``: one entry per stream and log, grown in place while it is in the log."""

    __slots__ = ("key", "tail")

    def __init__(self, seq: int, when: float, key: StreamKey, tail: OutputTail) -> None:
        super().__init__(seq, "stream.output", when, {"conn": key[0], "stream": key[1]}, _OVERHEAD)
        self.key = key
        self.tail = tail

    def current_size(self) -> int:
        return self.size + self.tail.size

    def copy(self) -> OutputEvent:
        return OutputEvent(self.seq, self.time, self.key, self.tail.copy())

    def to_wire(self) -> dict[str, Any]:
        return {
            **Event.to_wire(self),
            "output": [list(run) for run in self.tail.runs],
            "truncated": self.tail.truncated,
        }


class EventLog:
    """Events in order, bounded by count and by estimated size; the oldest go first.

    The history and each subscriber's queue are one of these; only the history holds
    ``Record``s (``keep``). ``dropped`` counts the events that were pushed out.
    """

    def __init__(self, max_events: int, max_bytes: int, output_tail: int) -> None:
        self.events: deque[Event | Record] = deque()
        self.max_events = max_events
        self.max_bytes = max(max_bytes, EVENT_BUDGET + output_tail + 4 * _OVERHEAD)
        self.output_tail = output_tail
        self.bytes = 0
        self.dropped = 0
        self._outputs: dict[StreamKey, OutputEvent] = {}

    def __len__(self) -> int:
        return len(self.events)

    def append(self, event: Event) -> None:
        self.events.append(event)
        self.bytes += event.size
        if isinstance(event, OutputEvent):
            self._outputs[event.key] = event
            self.bytes += event.tail.size
        self._trim()

    def keep(self, record: Record) -> None:
        """A record (``EventBus.keep``): only the history holds them."""
        self.events.append(record)
        self.bytes += record[_SIZE]
        self._trim()

    def read(self) -> Iterator[Event]:
        """The events in order, records made into events."""
        return map(_event, self.events)

    def add_output(self, key: StreamKey, name: str, text: str, seqs: Iterator[int]) -> None:
        """``text`` into the stream's entry, made (with the next seq) if the log has none."""
        entry = self._outputs.get(key)
        if entry is None:
            entry = OutputEvent(next(seqs), time.time(), key, OutputTail(self.output_tail))
            self.append(entry)
        self.bytes += entry.tail.add(name, text)
        self._trim()

    def end_output(self, key: StreamKey) -> None:
        """The stream ended: later output (there is none) would start a new entry."""
        self._outputs.pop(key, None)

    def take(self) -> list[Event]:
        events = list(self.read())
        self.clear()
        return events

    def clear(self) -> None:
        self.events.clear()
        self._outputs.clear()
        self.bytes = 0

    def _trim(self) -> None:
        while self.events and (len(self.events) > self.max_events or self.bytes > self.max_bytes):
            old = self.events.popleft()
            self.dropped += 1
            if isinstance(old, tuple):
                self.bytes -= old[_SIZE]
            elif isinstance(old, OutputEvent):
                self.bytes -= old.current_size()
                if self._outputs.get(old.key) is old:
                    del self._outputs[old.key]
            else:
                self.bytes -= old.size


class Subscription:
    """One inspector's queue: the history at the time it subscribed, then live events.

    ``next`` waits for events and returns them all, with the number of events that were dropped
    since the last call because the subscriber fell behind.
    """

    def __init__(self, log: EventLog) -> None:
        self.log = log
        self._ready = asyncio.Event()
        if len(log):
            self._ready.set()

    def put(self, event: Event) -> None:
        self.log.append(event)
        self._ready.set()

    def put_output(self, key: StreamKey, name: str, text: str, seqs: Iterator[int]) -> None:
        self.log.add_output(key, name, text, seqs)
        self._ready.set()

    def reset(self) -> None:
        self.log.clear()
        self.log.dropped = 0

    async def next(self) -> tuple[list[Event], int]:
        while not len(self.log):
            self._ready.clear()
            await self._ready.wait()
        missed, self.log.dropped = self.log.dropped, 0
        return self.log.take(), missed


class EventBus:
    """The daemon's events, kept in a bounded history and fanned out to subscribers.

    ``history`` is how many events an inspector opened later still sees (0: none kept, only live
    events reach open inspectors). Everything runs on the event loop: no locks.
    """

    def __init__(
        self,
        history: int = HISTORY,
        *,
        history_bytes: int = HISTORY_BYTES,
        queue: int | None = None,
        output_tail: int = OUTPUT_TAIL,
    ) -> None:
        self._history = EventLog(history, history_bytes, output_tail)
        self._keep = history > 0
        self._queue = max(history, QUEUE_MIN) if queue is None else queue
        self._output_tail = output_tail
        self._subscribers: set[Subscription] = set()
        # Whether an inspector is subscribed (else only the history sees what is published): an
        # attribute, not a property of ``_subscribers``, as every call's path reads it twice.
        self.watched = False
        self._seqs = itertools.count(1)
        self._connections = itertools.count(1)
        self._loads: deque[PageLoad] = deque(maxlen=PENDING_LOADS)

    @property
    def active(self) -> bool:
        """Whether anything published now is kept or seen."""
        return self._keep or bool(self._subscribers)

    @property
    def history_limit(self) -> int:
        return self._history.max_events

    def publish(self, kind: str, data: dict[str, Any], size: int | None = None) -> Event | None:
        """Record an event of ``kind`` and hand it to every subscriber. ``data`` is clipped
        now, unless the caller gives its ``size``: an estimate within ``EVENT_BUDGET`` of data
        that nothing changes, kept as it is and clipped when read.

        Returns the event, or ``None`` when nothing keeps or watches events.
        """
        if not (self._keep or self._subscribers):
            return None
        if size is None:
            clipped, size = clip(data)
            event = Event(next(self._seqs), kind, time.time(), clipped, size)
        else:
            event = Event(next(self._seqs), kind, time.time(), data, size, clipped=False)
        if self._keep:
            self._history.append(event)
        for subscriber in self._subscribers:
            subscriber.put(event)
        return event

    def keep(self, make: Any, size: int, fields: tuple[Any, ...]) -> int:
        """A call's or a result's ``Record`` into the history, when nobody is subscribed (the
        caller checks ``watched``) and its fields are small and never change (``size`` bounds
        them); returns its seq. ``make`` makes its ``Event`` of it when the history is read."""
        seq = next(self._seqs)
        self._history.keep((make, seq, time.time(), size, fields))
        return seq

    def output(self, key: StreamKey, name: str, text: str) -> None:
        """A chunk of a stream's output (``name`` is stdout or stderr), coalesced per stream."""
        if self._keep:
            self._history.add_output(key, name, text, self._seqs)
        for subscriber in self._subscribers:
            subscriber.put_output(key, name, text, self._seqs)

    def stream_ended(self, key: StreamKey) -> None:
        self._history.end_output(key)
        for subscriber in self._subscribers:
            subscriber.log.end_output(key)

    def history(self) -> list[dict[str, Any]]:
        """The history as wire objects (what ``GET /_ddbridge/events.json`` exports)."""
        return [event.to_wire() for event in self._history.read()]

    def subscribe(self) -> Subscription:
        """A new subscriber, its queue holding the history as it is now."""
        log = EventLog(self._queue, HISTORY_BYTES, self._output_tail)
        for event in self._history.read():
            log.append(event.copy() if isinstance(event, OutputEvent) else event)
        log.dropped = 0
        subscription = Subscription(log)
        self._subscribers.add(subscription)
        self.watched = True
        return subscription

    def unsubscribe(self, subscription: Subscription) -> None:
        self._subscribers.discard(subscription)
        self.watched = bool(self._subscribers)

    def clear(self) -> None:
        """Forget the history; every subscriber drops what it has not sent and gets ``cleared``."""
        self._history.clear()
        event = Event(next(self._seqs), "cleared", time.time(), {}, _OVERHEAD)
        for subscriber in self._subscribers:
            subscriber.reset()
            subscriber.put(event)

    def page_loaded(self, peer: str, page: str | None) -> None:
        """A page fetched the shim: ``page.load`` lists it before it calls anything (the shim
        opens its WebSocket on the first call, and a page may never make one)."""
        event = self.publish("page.load", {"peer": peer, "page": page})
        if event is not None:
            self._loads.append(PageLoad(event.seq, page, _origin(page), _host(peer)))

    def _joined_load(self, peer: str, page: str | None) -> PageLoad | None:
        """The pending load a new connection is the page of: from the same address, the same
        page URL, else the same origin (a WebSocket's Origin, when it sent no Referer); the
        newest such load, as a page that reloads before calling leaves its older load behind.
        Two tabs of one URL opened together may swap loads: they show the same page."""
        host, origin = _host(peer), _origin(page)
        for exact in (True, False):
            for load in reversed(self._loads):
                if load.host == host and (load.page == page if exact else load.origin == origin):
                    self._loads.remove(load)
                    return load
        return None

    def connect(self, peer: str, page: str | None) -> ConnectionEvents:
        """A connection's handle on the bus; publishes ``connection.open``, with ``load`` (the
        seq of its page's ``page.load``, whose URL it takes) when its page loaded the shim."""
        data: dict[str, Any] = {"peer": peer, "page": page}
        load = self._joined_load(peer, page) if self._loads else None
        if load is not None:
            data["load"] = load.seq
            data["page"] = load.page or page
        events = ConnectionEvents(self, f"c{next(self._connections)}", data["page"])
        self.publish("connection.open", {"conn": events.conn, **data})
        return events


CallToken = tuple[int, float] | None


def _short(value: Any) -> int | None:
    """The size of a value within ``EVENT_BUDGET`` that cannot change (a ``RawJson``, text,
    a number), else None."""
    kind = type(value)
    if kind is RawJson:
        size = len(value.text)
    elif kind is str:
        size = len(value)
    elif kind in _SCALARS:
        size = 8
    else:
        return None
    return size if size <= EVENT_BUDGET else None


class ConnectionEvents:
    """What one RPC connection publishes, each event naming the connection.

    It is the dispatch observer (``started`` / ``finished``) of its session, and sees the
    notifications the session sends for its streams (``notified``).
    """

    def __init__(self, bus: EventBus, conn: str, page: str | None) -> None:
        self.bus = bus
        self.conn = conn
        self.page = page
        self._closed = False

    def publish(self, kind: str, data: dict[str, Any]) -> Event | None:
        """``data`` naming this connection, published. A call's two events, on every call's path,
        put ``conn`` in their own dict instead: the merged copy was a tenth of their cost."""
        return self.bus.publish(kind, {"conn": self.conn, **data})

    def started(self, request: Request, ignored: list[str], frame: Frame) -> CallToken:
        """The ``call`` event. A frame within the budget bounds its params, kept as they are
        (the params and ``ignored``, made of them, are never changed); a request alone in one
        is kept as the frame's text, in a ``Record``, while only the history holds it."""
        bus = self.bus
        if not bus.active:
            return None
        size = None
        if frame.size <= EVENT_BUDGET:
            size = 2 * frame.size + len(self.page or "") + _OVERHEAD  # ``ignored`` repeats names
        if size is not None and not frame.batch and frame.text and not bus.watched:
            # The text, which the connection holds anyway, not the objects parsed from it: a
            # parsed request's dozen objects kept per call were 4% of a call at 64 in flight.
            seq = bus.keep(_call_event, size, (self.conn, self.page, frame.text, ignored))
        else:
            event = bus.publish("call", _call_data(self.conn, self.page, request, ignored), size)
            if event is None:
                return None
            seq = event.seq
        return seq, time.perf_counter()

    def finished(self, token: CallToken, result: Any, error: RpcError | None) -> None:
        """The ``result`` event; a short answer that never changes (``_short``) is kept as it
        is, as a ``Record`` while only the history holds it."""
        if token is None:
            return
        call, began = token
        seconds = time.perf_counter() - began
        short = None if error is not None else _short(result)
        if short is not None and not self.bus.watched:
            self.bus.keep(_result_event, short + _OVERHEAD, (self.conn, call, seconds, result))
            return
        data: dict[str, Any] = {"conn": self.conn, "call": call, "durationMs": _milliseconds(seconds)}
        if error is None:
            data["result"] = result
        else:
            data["error"] = error.to_wire()
        self.bus.publish("result", data, None if short is None else short + _OVERHEAD)

    def notified(self, method: str, params: dict[str, Any]) -> None:
        """A notification the session is sending: stream output, exit or error."""
        if not self.bus.active:
            return
        key = (self.conn, str(params.get("stream")))
        if method == "exec.output":
            for name in ("stdout", "stderr"):
                text = params.get(name)
                if text:
                    self.bus.output(key, name, text)
        elif method in ("exec.exit", "exec.error"):
            self.bus.stream_ended(key)
            self.publish("stream." + method.removeprefix("exec."), dict(params))

    def closed(self) -> None:
        """Publishes ``connection.close`` once, however often the session is closed."""
        if not self._closed:
            self._closed = True
            self.publish("connection.close", {})

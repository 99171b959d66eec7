"""A Python client of the bridge's JSON-RPC WebSocket (the same protocol the shim speaks).

async with BridgeClient.connect("ws://127.0.0.1:7700/rpc") as client:
    result = await client.call("exec.run", {"target": "host", "cmd": "tool"})
    stream = await client.spawn({"target": "host", "cmd": "tool", "args": ["-f"]})
    outcome = await stream.finished()
"""

from __future__ import annotations

import asyncio
import itertools
import json
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import websockets


class RpcFailure(Exception):
    """The daemon answered a call with a JSON-RPC error."""

    def __init__(self, code: int, message: str, data: Any = None) -> None:
        super().__init__(f"{message} (code {code})")
        self.code = code
        self.message = message
        self.data = data


@dataclass
class StreamResult:
    """Everything a stream delivered: its chunks in order, and how it ended."""

    chunks: list[tuple[str, str]] = field(default_factory=list)
    code: int | None = None
    signal: str | None = None
    error: str | None = None

    def text(self, name: str) -> str:
        return "".join(text for which, text in self.chunks if which == name)


class ClientStream:
    """A stream started with ``BridgeClient.spawn``."""

    def __init__(self, client: BridgeClient, stream_id: str) -> None:
        self.id = stream_id
        self.result = StreamResult()
        self.output: asyncio.Queue[tuple[str, str]] = asyncio.Queue()
        self._client = client
        self._finished: asyncio.Future[StreamResult] = asyncio.get_running_loop().create_future()

    def _on(self, method: str, params: dict[str, Any]) -> None:
        if method == "exec.output":
            which = "stdout" if "stdout" in params else "stderr"
            self.result.chunks.append((which, params[which]))
            self.output.put_nowait((which, params[which]))
        elif method == "exec.exit":
            self.result.code, self.result.signal = params["code"], params["signal"]
            self._finished.set_result(self.result)
        elif method == "exec.error":
            self.result.error = params["message"]
            self._finished.set_result(self.result)

    async def kill(self) -> None:
        await self._client.call("exec.kill", {"stream": self.id})

    async def finished(self, timeout: float = 30) -> StreamResult:
        return await asyncio.wait_for(asyncio.shield(self._finished), timeout)


Notified = Callable[[str, dict[str, Any]], None]


class BridgeClient:
    def __init__(
        self, websocket: websockets.ClientConnection, on_notification: Notified | None = None
    ) -> None:
        self._ws = websocket
        self._on_notification = on_notification
        self._ids = itertools.count(1)
        self._pending: dict[object, asyncio.Future[Any]] = {}
        self._streams: dict[str, ClientStream] = {}
        self._early: dict[str, list[tuple[str, dict[str, Any]]]] = {}
        self._reader = asyncio.create_task(self._read())

    @classmethod
    @asynccontextmanager
    async def connect(
        cls, url: str, token: str | None = None, on_notification: Notified | None = None, **kwargs: Any
    ) -> AsyncIterator[BridgeClient]:
        """Open the RPC WebSocket ``url`` (``RunningBridge.ws_url`` carries its token; else give
        ``token``, sent as ``Authorization: Bearer``). Notifications that are no stream's go to
        ``on_notification``. Other arguments go to ``websockets.connect``."""
        if token:
            kwargs["additional_headers"] = {
                **kwargs.get("additional_headers", {}),
                "Authorization": f"Bearer {token}",
            }
        async with websockets.connect(url, max_size=None, **kwargs) as websocket:
            client = cls(websocket, on_notification)
            try:
                yield client
            finally:
                client._reader.cancel()

    async def _read(self) -> None:
        try:
            async for frame in self._ws:
                message = json.loads(frame)
                for item in message if isinstance(message, list) else [message]:
                    self._route(item)
        finally:
            for future in self._pending.values():
                if not future.done():
                    future.set_exception(ConnectionError("connection to the bridge closed"))

    def _route(self, item: dict[str, Any]) -> None:
        if "method" in item:
            params = item.get("params", {})
            if not item["method"].startswith("exec."):
                if self._on_notification is not None:
                    self._on_notification(item["method"], params)
                return
            stream = self._streams.get(params.get("stream"))
            if stream is None:
                self._early.setdefault(params.get("stream"), []).append((item["method"], params))
            else:
                stream._on(item["method"], params)
            return
        future = self._pending.pop(item.get("id"), None)
        if future is None or future.done():
            return
        if "error" in item:
            error = item["error"]
            future.set_exception(RpcFailure(error["code"], error["message"], error.get("data")))
        else:
            future.set_result(item.get("result"))

    async def send_raw(self, frame: str) -> None:
        """Send a frame as is (for protocol tests)."""
        await self._ws.send(frame)

    async def call(self, method: str, params: dict[str, Any] | None = None, timeout: float = 60) -> Any:
        request_id = next(self._ids)
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._pending[request_id] = future
        message = {"jsonrpc": "2.0", "id": request_id, "method": method, "params": params or {}}
        await self._ws.send(json.dumps(message))
        return await asyncio.wait_for(future, timeout)

    async def spawn(self, params: dict[str, Any]) -> ClientStream:
        answer = await self.call("exec.spawn", params)
        stream = ClientStream(self, answer["stream"])
        self._streams[stream.id] = stream
        for method, early in self._early.pop(stream.id, []):
            stream._on(method, early)
        return stream

    async def close(self) -> None:
        await self._ws.close()

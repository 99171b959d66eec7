"""A blocking wrapper of ``BridgeClient`` for synchronous tests and scripts.

    with SyncBridgeClient.connect(bridge.ws_url) as rpc:
        rpc.call("service.request", {"method": "GET", "url": "/hello"})

The async client runs on an event loop in a thread of its own, so this works whether or not the
caller has a loop (pytest without pytest-asyncio, or next to Playwright's sync API, which keeps
one running in the main thread).
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Coroutine, Iterator
from contextlib import AsyncExitStack, contextmanager
from typing import Any, TypeVar

from bridge.testing.client import BridgeClient

T = TypeVar("T")


class SyncBridgeClient:
    """Blocking ``call``; errors come back as ``RpcFailure``, as with the async client."""

    def __init__(self, loop: asyncio.AbstractEventLoop, client: BridgeClient) -> None:
        self._loop = loop
        self._client = client

    @classmethod
    @contextmanager
    def connect(cls, url: str, timeout: float = 30, token: str | None = None) -> Iterator[SyncBridgeClient]:
        loop = asyncio.new_event_loop()
        thread = threading.Thread(target=loop.run_forever, name="ddbridge-rpc", daemon=True)
        thread.start()
        stack = AsyncExitStack()

        def run(coroutine: Coroutine[Any, Any, T]) -> T:
            return asyncio.run_coroutine_threadsafe(coroutine, loop).result(timeout)

        try:
            client = run(stack.enter_async_context(BridgeClient.connect(url, token)))
            try:
                yield cls(loop, client)
            finally:
                run(stack.aclose())
        finally:
            loop.call_soon_threadsafe(loop.stop)
            thread.join(timeout)
            loop.close()

    def call(self, method: str, params: dict[str, Any] | None = None, timeout: float = 60) -> Any:
        """``method(params)`` through the bridge; its result, or ``RpcFailure``."""
        future = asyncio.run_coroutine_threadsafe(self._client.call(method, params, timeout), self._loop)
        return future.result(timeout + 5)

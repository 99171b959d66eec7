"""An HTTP answer's body as a blocking file, for a worker thread reading it as it arrives.

``tarfile`` reads a blocking file; the engine's answer is an aiohttp stream on the event loop.
``ResponseReader.read`` runs in the worker thread and waits for the loop to hand it the next
piece of the body, so no more than a piece is held at a time, whatever the body's size.
"""

from __future__ import annotations

import asyncio

import aiohttp

# How long a read waits for the loop: past it the loop is gone (the daemon is stopping) or the
# engine stopped sending (aiohttp's own read timeout fires first).
_WAIT = 300


class ResponseReader:
    """``read(size)`` of an aiohttp body, called from a thread other than the loop's."""

    def __init__(self, content: aiohttp.StreamReader, loop: asyncio.AbstractEventLoop) -> None:
        self._content = content
        self._loop = loop

    def read(self, size: int, /) -> bytes:
        """``size`` bytes, fewer only at the end of the body."""
        return asyncio.run_coroutine_threadsafe(self._read(size), self._loop).result(_WAIT)

    async def _read(self, size: int) -> bytes:
        try:
            return await self._content.readexactly(size)
        except asyncio.IncompleteReadError as exc:
            return exc.partial

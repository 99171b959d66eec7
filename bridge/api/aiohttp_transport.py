"""An httpx transport that sends requests with aiohttp.

The service proxy speaks httpx, but httpcore (httpx's own transport) is slow on the proxy's hot
path: a pure-Python HTTP/1.1 parser, anyio stream wrappers, and a connection pool that checks
every pooled connection (a ``select`` on its socket) for every request, so that 64 requests in
flight ran slower than one. aiohttp's pool hands out idle connections in O(1) and parses with
its C parser: through this transport a call costs about a third of httpcore's.

Bodies are read whole before the response is returned (``service.request`` answers with the
whole body anyway), so the response is complete and closed when the transport returns it.
"""

from __future__ import annotations

import aiohttp
import httpx


class AiohttpTransport(httpx.AsyncBaseTransport):
    """Sends httpx requests through one aiohttp session, over a unix socket when ``uds`` is set.

    httpx keeps the cookies, redirects and timeouts' meaning; aiohttp only moves bytes: its
    cookie jar is a dummy, it does not decompress (httpx decodes ``Content-Encoding``) and
    redirects are not followed here.
    """

    def __init__(self, uds: str | None = None) -> None:
        self._uds = uds
        self._session: aiohttp.ClientSession | None = None

    def _open(self) -> aiohttp.ClientSession:
        """The session, made on first use: aiohttp binds it to the running event loop."""
        if self._session is None:
            connector = aiohttp.UnixConnector(path=self._uds) if self._uds else aiohttp.TCPConnector()
            self._session = aiohttp.ClientSession(
                connector=connector, cookie_jar=aiohttp.DummyCookieJar(), auto_decompress=False
            )
        return self._session

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        timeout = request.extensions.get("timeout", {})
        try:
            async with self._open().request(
                request.method,
                str(request.url),
                headers=request.headers.multi_items(),
                data=await request.aread() or None,
                allow_redirects=False,
                timeout=aiohttp.ClientTimeout(
                    connect=timeout.get("pool"),
                    sock_connect=timeout.get("connect"),
                    sock_read=timeout.get("read"),
                ),
            ) as answer:
                body = await answer.read()
        except aiohttp.ConnectionTimeoutError as exc:
            raise httpx.ConnectTimeout(str(exc), request=request) from exc
        except (aiohttp.ServerTimeoutError, TimeoutError) as exc:
            raise httpx.ReadTimeout(str(exc) or "timed out", request=request) from exc
        except aiohttp.ClientConnectorError as exc:
            raise httpx.ConnectError(str(exc), request=request) from exc
        except aiohttp.InvalidURL as exc:
            raise httpx.UnsupportedProtocol(str(exc), request=request) from exc
        except aiohttp.ClientError as exc:
            raise httpx.ReadError(str(exc) or type(exc).__name__, request=request) from exc
        extensions = {"http_version": b"HTTP/1.1", "reason_phrase": (answer.reason or "").encode()}
        return httpx.Response(
            answer.status, headers=answer.raw_headers, content=body, request=request, extensions=extensions
        )

    async def aclose(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

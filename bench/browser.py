"""The bridge as users meet it: a page in headless Chromium calling ``window.ddClient`` through
``@docker/extension-api-client`` (bench/page, built by scripts/build-ui.mjs and served by the
daemon as an extension UI), against what the same page can do without the bridge's shim.

Service calls (``extension.vm.service.get``) are compared with (a) the page's ``fetch()`` to
the same nginx over TCP keep-alive, CORS allowed — the page's own network path, limited by
HTTP/1.1 to 6 connections per host — and (b) the page's own raw WebSocket to ``/rpc`` calling
``host.info``, the floor of any WebSocket bridge. The stream (``host.cli.exec`` with ``stream``
and ``splitOutputLines``) is compared with the Python stream client on the same command.
The page times everything itself, cross-origin isolated (``isolate``) so that Chromium's
``performance.now()`` is precise to 5 µs: without isolation it is coarse to 100 µs, and a p50 of
400-500 µs came out as one of two figures a whole step apart.
"""

from __future__ import annotations

import importlib.util
import shutil
import subprocess
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

from bench import wsclient
from bench.measure import interleaved, percentile
from bench.report import Row
from bench.streams import MB, bridge_stream_seconds
from bridge.testing.launcher import RunningBridge

REPO = Path(__file__).resolve().parents[1]
PAGE = REPO / "bench" / "page"
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
LINES = "genlines"


class BrowserMissing(Exception):
    """Something the browser parts need is not here: the message says what."""


@dataclass(frozen=True)
class BrowserSettings:
    reps: int
    latency_calls: int  # per repetition, one in flight
    duration: float  # seconds per throughput repetition
    warmup_calls: int
    stream_size: int  # bytes


def write_line_generator(folder: Path) -> None:
    """The host binary ``genlines SIZE``: SIZE bytes of 127 ``a`` and a newline, line after line
    (``splitOutputLines`` needs lines; one 256 MiB line would be one 256 MiB string)."""
    script = folder / LINES
    script.write_text('#!/bin/sh\nyes "$(printf "%0127d" 0 | tr 0 a)" | head -c "$1"\n')
    script.chmod(0o755)


def build_page() -> Path:
    """bench/page/build, built now (esbuild takes well under a second), once the browser parts'
    other needs (Chromium, Playwright) are checked."""
    if not CHROMIUM.is_file():
        raise BrowserMissing(f"{CHROMIUM} is missing (apt-get install chromium)")
    if importlib.util.find_spec("playwright") is None:
        raise BrowserMissing("playwright is not installed (pip install playwright; no browser download)")
    node = shutil.which("node")
    if node is None:
        raise BrowserMissing("node is missing (it builds the benchmark page)")
    if not (REPO / "node_modules" / "@docker" / "extension-api-client").is_dir():
        raise BrowserMissing("node_modules lacks @docker/extension-api-client: npm ci")
    done = subprocess.run(
        [node, "scripts/build-ui.mjs", "bench-page"], cwd=REPO, capture_output=True, text=True, timeout=120
    )
    if done.returncode != 0:
        raise BrowserMissing(f"node scripts/build-ui.mjs bench-page failed: {done.stderr.strip()[:300]}")
    return PAGE / "build"


@asynccontextmanager
async def bench_page(running: RunningBridge) -> AsyncIterator[Any]:
    """The benchmark page, signed in and ready, in a fresh headless Chromium (``build_page``
    has checked that there is one)."""
    from playwright.async_api import async_playwright

    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=[*CHROMIUM_ARGS, SERVED_BY_PLAYWRIGHT]
        )
        try:
            page = await browser.new_page()
            page.set_default_timeout(600_000)
            await page.goto(running.login_url())
            await page.wait_for_function("window.benchReady === true", timeout=30_000)
            await isolate(page)
            yield page
        finally:
            await browser.close()


# A document Playwright answers (``isolate``) has no address Chromium saw, so its local network
# access checks take the page for a public one and block its sockets to 127.0.0.1; the real
# page, loaded from 127.0.0.1, is local and passes them.
SERVED_BY_PLAYWRIGHT = "--disable-features=LocalNetworkAccessChecks"
ISOLATION = {"cross-origin-opener-policy": "same-origin", "cross-origin-embedder-policy": "require-corp"}


async def isolate(page: Any) -> None:
    """Load the (signed-in) page again with the headers that make it cross-origin isolated,
    added by Playwright to its document's answer only: every other request (the page's
    ``fetch()`` baseline among them) goes out untouched, and nothing is intercepted once the
    page is loaded. The daemon itself is not asked to send them."""

    async def add_headers(route: Any) -> None:
        if route.request.resource_type != "document":
            await route.continue_()
            return
        answer = await route.fetch()
        await route.fulfill(response=answer, headers={**answer.headers, **ISOLATION})

    await page.route("**/*", add_headers)
    try:
        await page.reload()
        await page.wait_for_function("window.benchReady === true", timeout=30_000)
    finally:
        await page.unroute("**/*")
    if not await page.evaluate("window.crossOriginIsolated"):
        raise RuntimeError("the benchmark page is not cross-origin isolated: its timer would be coarse")


async def run_browser_service(page: Any, fetch_url: str, settings: BrowserSettings) -> list[Row]:
    names = ("fetch", "ws", "wsService", "bridge")

    async def p50(name: str, count: int) -> float:
        latencies = await page.evaluate("([n, u, c]) => bench.latencies(n, u, c)", [name, fetch_url, count])
        return float(percentile(latencies, 0.5) * 1e3)

    async def rate(name: str) -> float:
        args = [name, fetch_url, 64, settings.duration]
        return float(await page.evaluate("([n, u, f, s]) => bench.rate(n, u, f, s)", args))

    for name in names:
        await p50(name, settings.warmup_calls)
    latency = await interleaved(
        settings.reps, {name: partial(p50, name, settings.latency_calls) for name in names}
    )
    rates = await interleaved(settings.reps, {name: partial(rate, name) for name in names})
    fetch, ws = "page fetch() to nginx, TCP, CORS", "page WebSocket, host.info"
    unshimmed = "page WebSocket, the same service.request"
    return [
        Row("browser", "service.get p50, 1 in flight", "µs", latency["bridge"], latency["fetch"], fetch,
            max_ratio=0.5),
        Row("browser", "service.get p50, 1 in flight", "µs", latency["bridge"], latency["ws"], ws,
            max_ratio=1.15),
        Row("browser", "service.get p50, 1 in flight", "µs", latency["bridge"], latency["wsService"],
            unshimmed),
        Row("browser", "service.get calls/s, 64 in flight", "calls/s", rates["bridge"], rates["fetch"], fetch,
            min_ratio=3),
        Row("browser", "service.get calls/s, 64 in flight", "calls/s", rates["bridge"], rates["ws"], ws,
            min_ratio=0.9),
        Row("browser", "service.get calls/s, 64 in flight", "calls/s", rates["bridge"], rates["wsService"],
            unshimmed),
    ]  # fmt: skip


async def run_browser_stream(page: Any, endpoint: wsclient.Endpoint, settings: BrowserSettings) -> list[Row]:
    size = settings.stream_size
    params = b'{"target":"host","cmd":"%s","args":["%d"]}' % (LINES.encode(), size)
    lags: list[float] = []

    async def in_page() -> float:
        done = await page.evaluate("([c, a]) => bench.stream(c, a)", [LINES, [str(size)]])
        if done["chars"] < size:
            raise RuntimeError(f"the page received {done['chars']} characters of {size}")
        lags.append(done["worstLag"])
        return float(size / MB / (done["ms"] / 1e3))

    async def python_client() -> float:
        return size / MB / await bridge_stream_seconds(endpoint, params, size)

    rates = await interleaved(settings.reps, {"python": python_client, "page": in_page})
    name = f"host.cli.exec stream, splitOutputLines, {size / MB:,.0f} MB"
    return [
        Row("browser", name, "MB/s", rates["page"], rates["python"], "Python stream client", min_ratio=0.5),
        Row("browser", "the page's 16 ms timer, worst lag during the stream", "ms", max(lags)),
    ]

"""The inspector (/_ddbridge/) in Chromium, next to the test page making real calls: rows appear
live, expand to their params and result, filter, show streams and toasts; clear, export, and
reconnection after a daemon restart."""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest
from playwright.sync_api import Locator, Page, expect

from tests.browser.helpers import ClientPage
from tests.support.processes import RunningBridge, free_port

pytestmark = pytest.mark.browser

SECOND = 1000  # Playwright timeouts are in milliseconds


def open_inspector(open_page: Callable[..., ClientPage], running: RunningBridge) -> ClientPage:
    """The inspector page, once it receives events. Its CSP forbids eval, which
    ``wait_for_function`` polls with: wait through a locator instead."""
    inspector = open_page(running.login_url("_ddbridge/"), ready="true")
    expect(inspector.page.locator("#status")).to_have_attribute("data-state", "live")
    return inspector


def row(page: Page, text: str) -> Locator:
    return page.locator("#rows tr.row", has_text=text)


def detail_of(line: Locator) -> Locator:
    return line.locator("xpath=following-sibling::tr[1][contains(@class, 'detail')]")


@pytest.fixture
def fresh_bridge(
    bridge: Callable[..., RunningBridge], test_page_build: Path, backend_socket: Path, module_binaries: Path
) -> RunningBridge:
    """A daemon of its own: the inspector's history starts empty."""
    return bridge(
        "--ui", test_page_build, "--backend-socket", backend_socket, "--host-binaries", module_binaries
    )


def test_a_pages_calls_streams_and_toasts_show_up_live(
    open_page: Callable[..., ClientPage], fresh_bridge: RunningBridge, artifacts: Path
) -> None:
    inspector = open_inspector(open_page, fresh_bridge).page
    expect(inspector.locator("#empty")).to_be_visible()
    client = open_page(fresh_bridge.login_url())
    inspector.bring_to_front()  # a page in the back gets no frames: clicks would wait for them

    # A call made in the page is in the inspector within a second, with its outcome.
    client.value("extension.host.cli.exec", "greet", ["inspector"])
    greet = row(inspector, "host greet inspector")
    expect(greet).to_be_visible(timeout=SECOND)
    expect(greet.locator("td.method")).to_have_text("exec.run")
    expect(greet.locator("td.state")).to_have_text("exit 0", timeout=SECOND)
    # Only the test page is connected: the inspector is not in its own log.
    expect(inspector.locator("#rows tr.row", has_text="page opened")).to_have_count(1)

    # Expanding a row shows its params and result as JSON.
    greet.click()
    detail = detail_of(greet)
    expect(detail).to_contain_text('"cmd": "greet"')
    expect(detail).to_contain_text('"stdout": "hello inspector\\n"')
    greet.click()
    expect(detail_of(greet)).to_have_count(0)

    client.error("extension.vm.service.get", "/status/503")
    failed = row(inspector, "GET /status/503")
    expect(failed.locator("td.state")).to_have_text("503 Service Unavailable", timeout=SECOND)

    # A stream: its output and its exit.
    handle = client.stream("extension.host.cli.exec", "ticker", ["4"])
    ticker = row(inspector, "host ticker 4")
    expect(ticker.locator("td.state")).to_have_text("running", timeout=SECOND)
    ticker.click()
    client.wait_done(handle)
    expect(ticker.locator("td.state")).to_have_text("exit 0", timeout=SECOND)
    output = detail_of(ticker).locator("pre.output")
    expect(output).to_have_text("tick 0\ntick 1\ntick 2\ntick 3\n")

    # A toast is a row of its own kind.
    client.value("desktopUI.toast.success", "Settings saved")
    toast = inspector.locator("#rows tr.kind-toast", has_text="Settings saved")
    expect(toast.locator("td.state")).to_have_text("success toast", timeout=SECOND)

    # The filter hides what does not match, by method or by any text of the event.
    expect(inspector.locator("#kinds button[data-kind=call] .count")).to_have_text("2")
    inspector.fill("#filter", "service")
    expect(failed).to_be_visible()
    expect(greet).to_be_hidden()
    expect(ticker).to_be_hidden()
    inspector.fill("#filter", "tick 3")  # stream output is searched too
    expect(ticker).to_be_visible()
    expect(failed).to_be_hidden()
    inspector.fill("#filter", "")
    inspector.click("#kinds button[data-kind=call]")
    expect(greet).to_be_hidden()
    expect(toast).to_be_visible()
    inspector.click("#kinds button[data-kind=call]")
    expect(greet).to_be_visible()

    inspector.screenshot(path=artifacts / "inspector.png")


def test_clear_and_export(open_page: Callable[..., ClientPage], fresh_bridge: RunningBridge) -> None:
    client = open_page(fresh_bridge.login_url())
    client.value("extension.host.cli.exec", "greet", ["export"])
    inspector = open_inspector(open_page, fresh_bridge).page
    expect(row(inspector, "host greet export")).to_be_visible()  # from the history

    with inspector.expect_download() as caught:
        inspector.click("#export")
    download = caught.value
    assert download.suggested_filename.startswith("ddbridge-events-")
    exported = json.loads(Path(download.path()).read_text())
    assert "exec.run" in [event.get("method") for event in exported["events"]]

    inspector.click("#clear")
    expect(inspector.locator("#rows tr.row")).to_have_count(0)
    expect(inspector.locator("#empty")).to_be_visible()
    client.value("extension.host.cli.exec", "greet", ["after"])
    expect(row(inspector, "host greet after")).to_be_visible(timeout=SECOND)
    expect(inspector.locator("#rows tr.row")).to_have_count(1)


def test_reconnects_when_the_daemon_restarts(
    open_page: Callable[..., ClientPage], bridge: Callable[..., RunningBridge]
) -> None:
    port = free_port()
    first = bridge("--port", str(port))
    inspector_page = open_inspector(open_page, first)
    inspector_page.allow_console(r"WebSocket connection to .* failed")
    inspector = inspector_page.page
    first.stop()
    expect(inspector.locator("#status")).to_have_attribute("data-state", "offline")
    expect(inspector.locator("#status")).to_contain_text("retrying")
    second = bridge("--port", str(port))
    expect(inspector.locator("#status")).to_have_attribute("data-state", "live", timeout=8 * SECOND)
    assert second.url == first.url


def test_an_inspector_without_a_page_credential_says_how_to_sign_in(
    open_page: Callable[..., ClientPage], fresh_bridge: RunningBridge
) -> None:
    """The view cookie shows the page, but its events need the page credential: without it (the
    storage cleared) the page says what to open instead of retrying forever."""
    inspector = open_inspector(open_page, fresh_bridge)
    inspector.page.evaluate("localStorage.clear()")
    inspector.allow_console("WebSocket connection to .* failed|Failed to load resource")
    inspector.page.reload()
    status = inspector.page.locator("#status")
    expect(status).to_have_attribute("data-state", "offline")
    expect(inspector.page.locator("#status-text")).to_contain_text(
        "not signed in: open the URL ddbridge printed"
    )


def test_a_page_is_listed_from_its_shims_load_and_counted_once(
    open_page: Callable[..., ClientPage], bridge: Callable[..., RunningBridge], tmp_path: Path
) -> None:
    """A page that has called nothing has no WebSocket yet (the shim opens it on the first
    call), but it loaded the shim: it is listed from then, its connection joins that row, and
    "Pages" counts it once whether it is open or closed."""
    ui = tmp_path / "ui"
    ui.mkdir()
    (ui / "index.html").write_text("<!doctype html><title>quiet</title><p>calls nothing until asked</p>")
    running = bridge("--ui", ui)
    inspector = open_inspector(open_page, running).page
    quiet = open_page(running.login_url(), ready="window.ddClient !== undefined")
    inspector.bring_to_front()

    pages = inspector.locator("#rows tr.kind-connection")
    count = inspector.locator("#kinds button[data-kind=connection] .count")
    expect(pages).to_have_count(1, timeout=SECOND)
    expect(pages.locator("td.method")).to_have_text("page loaded")
    expect(pages.locator("td.state")).to_have_text("loaded")
    # The page's URL (its shim request's Referer), the page itself being the bridge's "/".
    expect(pages.locator("td.page")).to_have_attribute("title", running.url.rstrip("/") + "/")
    expect(count).to_have_text("1")

    quiet.page.evaluate("window.ddClient.desktopUI.toast.success('first call')")
    expect(pages.locator("td.state")).to_have_text("open", timeout=SECOND)
    expect(pages.locator("td.method")).to_have_text("page opened")
    expect(pages.locator("span.conn")).to_have_text("c1")
    expect(row(inspector, "first call").locator("span.conn")).to_have_text("c1")

    quiet.page.close()
    expect(row(inspector, "page closed")).to_have_count(1, timeout=5 * SECOND)
    expect(count).to_have_text("1")


def test_the_header_names_the_engine_and_its_context(
    open_page: Callable[..., ClientPage], bridge: Callable[..., RunningBridge], tmp_path: Path
) -> None:
    """The daemon starts without reaching its engine: a context naming an address nobody serves
    is enough to be shown."""
    env = {key: "" for key in os.environ if key.startswith("DOCKER_")}
    env.update(DOCKER_CONFIG=str(tmp_path), DOCKER_CONTEXT="far-engine")
    created = subprocess.run(
        ["docker", "context", "create", "far-engine", "--docker", "host=tcp://192.0.2.1:2376"],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
    )
    assert created.returncode == 0, created.stderr
    engine = open_inspector(open_page, bridge(env=env)).page.locator("#engine")
    expect(engine).to_have_text("engine tcp://192.0.2.1:2376 · context far-engine")
    expect(engine).to_have_attribute(
        "title", "Docker engine tcp://192.0.2.1:2376 (context 'far-engine' from DOCKER_CONTEXT)"
    )

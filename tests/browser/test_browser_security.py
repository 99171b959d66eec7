"""The token and the Origin checks as a browser meets them: a hostile page served on a second
port of the same host (same site: the browser sends the session cookie along) can neither open
the WebSocket nor run the shim; an allowed origin can; a browser without a session is asked for
the token and gets in with it."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from playwright.sync_api import BrowserContext, expect

from tests.browser.helpers import ClientPage
from tests.support.processes import RunningBridge

pytestmark = pytest.mark.browser

# What another page can try: the RPC WebSocket, the shim (with its credential) as a script, and
# then a call through whatever the shim installed.
PROBE = """<!doctype html><html><head><title>probe</title></head><body><script>
window.probe = {ws: "pending", shim: "pending", call: "pending"};
const bridge = "BRIDGE";
const socket = new WebSocket(bridge.replace("http", "ws") + "rpc");
socket.onopen = () => { window.probe.ws = "open"; };
socket.onclose = (event) => { if (window.probe.ws === "pending") window.probe.ws = "refused " + event.code; };
const script = document.createElement("script");
script.src = bridge + "ddclient.js";
script.onload = () => {
  window.probe.shim = "loaded";
  window.ddClient.extension.host.cli.exec("greet", ["from", "probe"])
    .then((result) => { window.probe.call = result.stdout; })
    .catch((error) => { window.probe.call = "rejected: " + (error.message || error.stderr); });
};
script.onerror = () => { window.probe.shim = "refused"; window.probe.call = "none"; };
document.head.appendChild(script);
</script></body></html>
"""


@pytest.fixture(scope="module")
def other_site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    """A plain web server on another port of 127.0.0.1: the page a hostile site would be."""
    folder = tmp_path_factory.mktemp("other-site")
    server = ThreadingHTTPServer(("127.0.0.1", 0), partial(SimpleHTTPRequestHandler, directory=str(folder)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", folder
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="module")
def start_ui(
    module_bridge: Callable[..., RunningBridge], module_binaries: Path, test_page_build: Path
) -> Callable[..., RunningBridge]:
    """A daemon serving the test page with the suite's host tools, plus ``extra`` arguments."""
    return lambda *extra: module_bridge("--ui", test_page_build, "--host-binaries", module_binaries, *extra)


def probe_page(other_site: tuple[str, Path], running: RunningBridge, name: str) -> str:
    origin, folder = other_site
    (folder / name).write_text(PROBE.replace("BRIDGE", running.url))
    return f"{origin}/{name}"


def test_a_page_on_another_port_cannot_connect_or_run_the_shim(
    open_page: Callable[..., ClientPage], start_ui: Callable[..., RunningBridge], other_site: tuple[str, Path]
) -> None:
    running = start_ui()
    open_page(running.login_url())  # the browser has a session: its cookie goes to the bridge
    probe = open_page(
        probe_page(other_site, running, "hostile.html"), ready="window.probe.call !== 'pending'"
    )
    probe.allow_console("WebSocket connection to .* failed|Failed to load resource")
    outcome = probe.page.evaluate("window.probe")
    assert outcome["shim"] == "refused" and outcome["call"] == "none"
    probe.page.wait_for_function("window.probe.ws !== 'pending'")
    assert probe.page.evaluate("window.probe.ws") == "refused 1006"
    assert probe.page.evaluate("typeof window.ddClient") == "undefined"
    log = running.log()
    assert f"refused GET /ddclient.js from {other_site[0]}/" in log
    assert f"refused the RPC WebSocket from origin '{other_site[0]}'" in log


def test_an_allowed_origin_loads_the_shim_and_calls_through_it(
    open_page: Callable[..., ClientPage], start_ui: Callable[..., RunningBridge], other_site: tuple[str, Path]
) -> None:
    running = start_ui("--allow-origin", other_site[0])
    open_page(running.login_url())
    probe = open_page(
        probe_page(other_site, running, "allowed.html"), ready="window.probe.call !== 'pending'"
    )
    assert probe.page.evaluate("window.probe") == {
        "ws": "open",
        "shim": "loaded",
        "call": "hello from probe\n",
    }


def test_without_a_session_the_browser_is_asked_for_the_token(
    browser_context: BrowserContext, start_ui: Callable[..., RunningBridge], artifacts: Path
) -> None:
    running = start_ui()
    page = browser_context.new_page()
    answer = page.goto(running.url)
    assert answer is not None and answer.status == 401
    expect(page.get_by_role("heading")).to_have_text("This ddbridge needs its token")
    page.screenshot(path=artifacts / "token-page.png")
    page.get_by_placeholder("token").fill(running.token)
    page.get_by_role("button", name="Open").click()
    page.wait_for_function("window.testPageReady === true")
    assert page.url == running.url, "the token is not left in the address bar"
    client = ClientPage(page)
    assert client.value("extension.host.cli.exec", "greet", ["again"])["stdout"] == "hello again\n"
    assert not client.unexpected_errors()

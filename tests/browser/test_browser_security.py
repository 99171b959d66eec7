"""The credentials and the Origin checks as a browser meets them: a hostile page served on a second
port of the same host (same site: the browser sends the view cookie along) can neither open
the WebSocket nor run the shim; whatever the browser sends to another port by itself, replayed
every way, opens nothing; a name the browser does not count as secure (no Sec-Fetch headers)
gets no further; no foreign page may frame the UI; an allowed origin can do all of it; a
browser without a credential is asked for the token and gets in with it."""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Iterator
from functools import partial
from http.cookies import SimpleCookie
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser, BrowserContext, expect

from tests.browser.conftest import CHROMIUM, CHROMIUM_ARGS
from tests.browser.helpers import ClientPage, wait_for
from tests.support.handshake import rpc_answers
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


class RecordingHandler(SimpleHTTPRequestHandler):
    """Serves the folder, and keeps every request's headers: what a browser sends to any port."""

    received: list[list[tuple[str, str]]]

    def do_GET(self) -> None:
        self.received.append(list(self.headers.items()))
        super().do_GET()

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture(scope="module")
def received() -> list[list[tuple[str, str]]]:
    return []


@pytest.fixture(scope="module")
def other_site(
    tmp_path_factory: pytest.TempPathFactory, received: list[list[tuple[str, str]]]
) -> Iterator[tuple[str, Path]]:
    """A plain web server on another port of 127.0.0.1: the page a hostile site would be; it
    records the headers of every request it gets in ``received``."""
    folder = tmp_path_factory.mktemp("other-site")
    handler = type("Recorder", (RecordingHandler,), {"received": received})
    server = ThreadingHTTPServer(("127.0.0.1", 0), partial(handler, directory=str(folder)))
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
    probe.page.wait_for_function("() => window.probe.ws !== 'pending'")
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
    # A function, not an expression: Playwright evals an expression in the page, which the token
    # page's CSP refuses when the poll runs before the navigation the click starts.
    page.wait_for_function("() => window.testPageReady === true")
    assert page.url == running.url, "the token is not left in the address bar"
    client = ClientPage(page)
    assert client.value("extension.host.cli.exec", "greet", ["again"])["stdout"] == "hello again\n"
    assert not client.unexpected_errors()


# A refusal: 401, or 429 once many wrong values came in a short time (the guess throttle).
REFUSED = (401, 429)
HTTP_TOKEN = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")


def replays(received: list[list[tuple[str, str]]]) -> set[str]:
    """Every value the browser sent: each header's whole value, and each cookie's value."""
    values = {value for headers in received for _, value in headers}
    for headers in received:
        for name, value in headers:
            if name.lower() == "cookie":
                values |= {morsel.value for morsel in SimpleCookie(value).values()}
    return values


def test_nothing_the_browser_sends_to_another_port_opens_the_rpc(
    open_page: Callable[..., ClientPage],
    start_ui: Callable[..., RunningBridge],
    other_site: tuple[str, Path],
    received: list[list[tuple[str, str]]],
) -> None:
    """Signed in to the bridge, the browser is sent by a foreign site (a top-level navigation,
    as a link or ``location =`` does) to a plain listener on another port; every value it
    received, replayed from a non-browser client in every way a credential is taken, opens
    neither ``/rpc`` nor the inspector's events, nor gets a shim or page carrying a credential."""
    running = start_ui()
    ui = open_page(running.login_url())
    origin, folder = other_site
    (folder / "landing.html").write_text("<!doctype html><title>landing</title>")
    (folder / "jump.html").write_text(f"<script>location.href = {origin + '/landing.html'!r};</script>")
    received.clear()
    ui.page.goto(origin.replace("127.0.0.1", "localhost") + "/jump.html")  # another site
    ui.page.wait_for_url(origin + "/landing.html")
    ui.page.goto(origin + "/landing.html")  # and typed in the address bar
    sent = replays(received)
    cookie_headers = {value for headers in received for name, value in headers if name.lower() == "cookie"}
    names = {name for header in cookie_headers for name in SimpleCookie(header)}
    assert any(name.startswith("ddbridge-") for name in names), "the premise: other ports get the cookie"
    ws = running.url.replace("http", "ws", 1)
    for value in sent:
        for path in ("rpc", "_ddbridge/events"):
            ways: list[dict[str, Any]] = [{"additional_headers": {"Authorization": f"Bearer {value}"}}]
            if HTTP_TOKEN.fullmatch(value):  # what may stand in a subprotocol
                ways.append({"subprotocols": ["ddbridge", f"ddbridge.credential.{value}"]})
            for way in ways:
                assert not rpc_answers(ws + path, **way), (value, path, way)
            assert not rpc_answers(ws + path + "?" + str(httpx.QueryParams(token=value)))
        for path in ("_ddbridge/events.json", "ddclient.js", ""):
            for replay in ({"params": {"token": value}}, {"headers": {"Authorization": f"Bearer {value}"}}):
                answer = httpx.get(running.url + path, **replay)  # type: ignore[arg-type]
                assert answer.status_code in REFUSED, (value, path)
    for header in cookie_headers:
        for path in ("rpc", "_ddbridge/events"):
            assert not rpc_answers(ws + path, additional_headers={"Cookie": header})
        assert (
            httpx.get(running.url + "_ddbridge/events.json", headers={"Cookie": header}).status_code
            in REFUSED
        )
        for path in ("", "ddclient.js", "_ddbridge/", "_ddbridge/credential"):
            answer = httpx.get(running.url + path, headers={"Cookie": header})
            assert "s2." not in answer.text and running.token not in answer.text, path
    assert not running.calls("exec.run")


@pytest.fixture(scope="module")
def victim_browser(chromium: Browser) -> Iterator[Browser]:
    """A Chromium that resolves ``victim.test`` to 127.0.0.1: a name it does not count as a secure
    origin, so it sends no ``Sec-Fetch-*`` headers there."""
    browser = chromium.browser_type.launch(
        executable_path=str(CHROMIUM),
        args=[*CHROMIUM_ARGS, "--host-resolver-rules=MAP victim.test 127.0.0.1"],
    )
    yield browser
    browser.close()


HOSTILE_SCRIPT = """<!doctype html><html><head><title>hostile</title></head><body><script>
window.probe = {shim: "pending", call: "pending"};
const script = document.createElement("script");
script.src = "BRIDGE" + "ddclient.js";
REFERRER
script.onload = () => {
  window.probe.shim = "loaded";
  window.ddClient.extension.host.cli.exec("greet", ["hostile"])
    .then((result) => { window.probe.call = result.stdout; })
    .catch((error) => { window.probe.call = "rejected: " + (error.message || error.stderr); });
};
script.onerror = () => { window.probe.shim = "refused"; window.probe.call = "none"; };
document.head.appendChild(script);
</script></body></html>
"""


@pytest.mark.parametrize("referrer", ["", 'script.referrerPolicy = "no-referrer";'])
def test_without_sec_fetch_headers_a_foreign_page_gets_no_credential(
    victim_browser: Browser,
    module_bridge: Callable[..., RunningBridge],
    module_binaries: Path,
    test_page_build: Path,
    other_site: tuple[str, Path],
    received: list[list[tuple[str, str]]],
    referrer: str,
) -> None:
    """``--allow-host victim.test``: signed in at ``http://victim.test:BRIDGE``, the browser opens
    a page of ``http://victim.test:OTHER`` that loads the shim from the bridge. The shim is
    refused (its Referer names a foreign origin), or, with no Referer at all, it loads but holds
    no credential and gets none: the call is rejected and nothing runs."""
    running = module_bridge(
        "--ui", test_page_build, "--host-binaries", module_binaries, "--allow-host", "victim.test"
    )
    bridge = running.url.replace("127.0.0.1", "victim.test")
    origin, folder = other_site
    (folder / "victim.html").write_text(
        HOSTILE_SCRIPT.replace("BRIDGE", bridge).replace("REFERRER", referrer)
    )
    context = victim_browser.new_context()
    try:
        page = context.new_page()
        page.goto(running.login_url().replace("127.0.0.1", "victim.test"))
        page.wait_for_function("() => window.testPageReady === true")
        received.clear()
        page.goto(origin.replace("127.0.0.1", "victim.test") + "/victim.html")
        page.wait_for_function("() => window.probe.shim !== 'pending'")
        outcome = page.evaluate("window.probe")
        assert not any(name.lower().startswith("sec-fetch") for headers in received for name, _ in headers)
        if referrer:
            # Loaded (nothing proved where it came from), but it has no credential, the hand-off
            # page may not be framed there, and its socket is refused for its Origin.
            assert outcome["shim"] == "loaded"
            # What the page itself can read of what it loaded carries no credential to replay.
            bootstrap = page.evaluate("JSON.stringify(window.__ddbridge)")
            assert "credential" not in bootstrap and running.token not in bootstrap
            wait_for(
                lambda: "refused the RPC WebSocket from origin 'http://victim.test:" in running.log(),
                timeout=30,
                what="the shim's socket to be refused",
            )
            assert not page.evaluate("window.probe.call").startswith("hello")
        else:
            assert outcome == {"shim": "refused", "call": "none"}
            assert "refused GET /ddclient.js from http://victim.test:" in running.log()
    finally:
        context.close()
    assert not running.calls("exec.run")


FRAMER = """<!doctype html><html><head><title>framer</title></head><body>
<iframe id="ui" src="BRIDGE" width="800" height="600"></iframe></body></html>
"""


@pytest.mark.parametrize("allowed", [False, True])
def test_only_allowed_origins_may_frame_the_ui(
    open_page: Callable[..., ClientPage],
    start_ui: Callable[..., RunningBridge],
    other_site: tuple[str, Path],
    allowed: bool,
) -> None:
    """Clickjacking: a foreign page framing the UI (with the browser signed in) gets an empty
    frame; an allowed origin's page gets the UI, and the UI in it works."""
    origin, folder = other_site
    running = start_ui(*(("--allow-origin", origin) if allowed else ()))
    open_page(running.login_url())
    (folder / "framer.html").write_text(FRAMER.replace("BRIDGE", running.url))
    framer = open_page(origin + "/framer.html", ready="document.readyState === 'complete'")
    framer.allow_console('violates the following Content Security Policy directive: "frame-ancestors')
    frame = wait_for(
        lambda: next((f for f in framer.page.frames if f.parent_frame is not None and f.url), None),
        what="the frame",
        page=framer.page,
    )
    if not allowed:
        wait_for(
            lambda: frame.url.startswith("chrome-error:"), what="the frame to be refused", page=framer.page
        )
        assert not running.calls()
        return
    frame.wait_for_function("() => window.testPageReady === true")
    result = frame.evaluate("window.ddClient.extension.host.cli.exec('greet', ['framed'])")
    assert result["stdout"] == "hello framed\n"

"""A real Vite dev server behind ``ddbridge serve --ui-source`` and ``ddbridge dev DIR --ui-source``,
in Chromium: the page opened on the bridge renders with the shim, ``window.ddClient`` reaches the
daemon (and, for ``dev``, the extension's backend), and an edited module arrives by hot update over
Vite's HMR WebSocket — through the bridge, without a reload."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from playwright.sync_api import BrowserContext, WebSocket, expect

from tests.browser.helpers import ClientPage, wait_for
from tests.support.processes import REPO, RunningBridge, free_port, wait_listening

pytestmark = pytest.mark.browser

VITE = REPO / "node_modules" / ".bin" / "vite"

INDEX_HTML = """<!doctype html>
<html lang="en">
  <head><meta charset="utf-8"><link rel="icon" href="data:,"><title>vite through ddbridge</title></head>
  <body><h1 id="message"></h1><script type="module" src="/main.js"></script></body>
</html>
"""
MAIN_JS = """import { text } from "./message.js";

const show = (value) => { document.getElementById("message").textContent = value; };
show(text);
window.__loadedAt = Date.now();  // a full reload would set it again
if (import.meta.hot) {
  import.meta.hot.accept("./message.js", (module) => module && show(module.text));
}
"""


def message_js(text: str) -> str:
    return f"export const text = {text!r};\n"


@pytest.fixture
def vite_project(tmp_path: Path) -> Path:
    project = tmp_path / "ui"
    project.mkdir()
    (project / "index.html").write_text(INDEX_HTML)
    (project / "main.js").write_text(MAIN_JS)
    (project / "message.js").write_text(message_js("first text"))
    return project


@pytest.fixture
def vite(vite_project: Path, tmp_path: Path) -> Iterator[str]:
    """``vite`` serving the project on a free loopback port; its process group is ended after."""
    if not VITE.exists() or shutil.which("node") is None:
        pytest.fail(f"node and {VITE} are needed (npm install at the repository root)")
    port = free_port()
    log_path = tmp_path / "vite.log"
    with log_path.open("w") as log:
        process = subprocess.Popen(
            [str(VITE), "--host", "127.0.0.1", "--port", str(port), "--strictPort", "--clearScreen", "false"],
            cwd=vite_project,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: esbuild's helper goes with it
        )
    try:
        wait_listening(("127.0.0.1", port), process, "vite", log_path=log_path)
        yield f"http://127.0.0.1:{port}"
    finally:
        # The group may be gone already (wait_listening kills a vite that never listened).
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


SAMPLE_BACKEND = REPO / "docker" / "sample-extension" / "backend" / "main.py"


@pytest.fixture(params=["serve", "dev"])
def start_bridge(
    request: pytest.FixtureRequest, bridge: Callable[..., RunningBridge], tmp_path: Path
) -> Callable[[str], RunningBridge]:
    """``serve --ui-source``, or ``dev`` of an extension folder whose UI comes from the dev server
    and whose backend runs on the host (--backend-cmd)."""
    if request.param == "serve":
        return lambda vite: bridge("--ui-source", vite)
    folder = tmp_path / "extension"
    folder.mkdir()
    (folder / "metadata.json").write_text(
        json.dumps(
            {
                "ui": {"dashboard-tab": {"title": "Vite ext", "root": "/ui", "src": "index.html"}},
                "vm": {"image": "${DESKTOP_PLUGIN_IMAGE}", "exposes": {"socket": "backend.sock"}},
            }
        )
    )
    backend = f'exec {sys.executable} {SAMPLE_BACKEND} --socket "$DDBRIDGE_BACKEND_SOCKET"'
    return lambda vite: bridge(
        folder, "--ui-source", vite, "--backend-cmd", backend, command="dev", timeout=30
    )


def test_vite_ui_through_the_bridge_with_hot_module_replacement(
    request: pytest.FixtureRequest,
    browser_context: BrowserContext,
    start_bridge: Callable[[str], RunningBridge],
    vite: str,
    vite_project: Path,
) -> None:
    running = start_bridge(vite)
    page = browser_context.new_page()
    client_page = ClientPage(page)
    sockets: list[WebSocket] = []
    frames: list[tuple[str, str | bytes]] = []

    def watch(ws: WebSocket) -> None:
        sockets.append(ws)
        ws.on("framereceived", lambda payload: frames.append((ws.url, payload)))

    page.on("websocket", watch)
    console: list[str] = []
    page.on("console", lambda line: console.append(line.text))
    page.goto(running.login_url())
    message = page.locator("#message")
    expect(message).to_have_text("first text")

    # The shim came first and its calls reach the daemon.
    assert page.evaluate("window.ddClient.host.platform") == sys.platform
    page.evaluate("window.ddClient.desktopUI.toast.success('hello from the vite page')")
    expect(page.locator("[data-ddbridge-toast]")).to_have_text("hello from the vite page")
    wait_for(lambda: "hello from the vite page" in running.log(), what="the toast in the daemon's log")
    if "dev" in request.node.callspec.id:
        hello = page.evaluate("window.ddClient.extension.vm.service.get('/hello')")
        assert hello["message"] == "Hello from the sample backend"

    # Vite's HMR socket is the bridge's, not the dev server's (Vite falls back to a direct
    # connection when the first one fails: that must not be what makes the test pass).
    # Vite's client logs "[vite] connected." once its socket is open (it does so before the page's
    # own module runs; the wait is for a loaded CI machine).
    hmr_prefix = f"ws://127.0.0.1:{running.port}/?token="
    wait_for(
        lambda: (
            any(ws.url.startswith(hmr_prefix) for ws in sockets)
            and any("[vite] connected" in line for line in console)
        ),
        timeout=30,
        what=lambda: (
            "Vite's HMR client connected through the bridge "
            f"(sockets: {[s.url for s in sockets]}, console: {console})"
        ),
        page=page,
    )
    loaded_at = page.evaluate("window.__loadedAt")

    (vite_project / "message.js").write_text(message_js("second text, hot"))
    expect(message).to_have_text("second text, hot", timeout=20_000)
    assert page.evaluate("window.__loadedAt") == loaded_at, "the page reloaded instead of a hot update"
    wait_for(
        lambda: any(url.startswith(hmr_prefix) and '"js-update"' in str(data) for url, data in frames),
        what="the hot update's frame on the bridge's socket",
        page=page,
    )
    assert not [ws.url for ws in sockets if f":{vite.rsplit(':', 1)[1]}/" in ws.url]
    assert client_page.unexpected_errors() == []

"""Isolation in the extensions host, tried from a real page: an installed extension's page, in
Chromium on its own origin ``http://<slug>.localhost:PORT/``, reaches its own calls and nothing of
another extension's (its RPC, its pages, its credential) nor the host's management or inspector."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import BrowserContext

from tests.support.dockerd import EngineUnderTest
from tests.support.host import shell_call
from tests.support.images import import_files
from tests.support.processes import RunningBridge

pytestmark = pytest.mark.browser

UI = "<!doctype html><html><head><title>{title}</title></head><body><h1>{title}</h1></body></html>"

# Each check runs in the page and says what happened, never throws.
OPEN_SOCKET = """([url, protocols]) => new Promise((resolve) => {
  const socket = new WebSocket(url, protocols);
  socket.onopen = () => { socket.close(); resolve("opened"); };
  socket.onclose = (event) => resolve(`closed ${event.code}`);
})"""
CALL_OWN_RPC = """([method]) => new Promise((resolve) => {
  const credential = localStorage.getItem("ddbridge.credential");
  const offered = ["ddbridge", `ddbridge.credential.${credential}`];
  const socket = new WebSocket(`ws://${location.host}/rpc`, offered);
  socket.onopen = () => socket.send(JSON.stringify({jsonrpc: "2.0", id: 1, method, params: {}}));
  socket.onmessage = (event) => { socket.close(); resolve(JSON.parse(event.data)); };
  socket.onclose = (event) => resolve({closed: event.code});
})"""


def ui_image(engine: EngineUnderTest, name: str, title: str) -> str:
    metadata = {"ui": {"dashboard-tab": {"title": title, "root": "/ui", "src": "index.html"}}}
    files = {"metadata.json": json.dumps(metadata), "ui/index.html": UI.format(title=title)}
    return import_files(engine, f"acme/{name}:1", files)


@pytest.fixture
def host(
    bridge: Callable[..., RunningBridge], engine: EngineUnderTest, tmp_path: Path
) -> tuple[RunningBridge, dict[str, str]]:
    """A host with two UI-only extensions, alpha and beta; their origins by name."""
    env = {"XDG_DATA_HOME": str(tmp_path / "data"), "XDG_CACHE_HOME": str(tmp_path / "cache")}
    for name in ("alpha", "beta"):
        image = ui_image(engine, name, name.title())
        installed = subprocess.run(
            [
                sys.executable,
                "-m",
                "bridge",
                "extension",
                "install",
                "-f",
                image,
                "--docker-host",
                engine.host,
            ],
            capture_output=True,
            text=True,
            env={**os.environ, **env},
            timeout=120,
        )
        assert installed.returncode == 0, installed.stderr
    running = bridge("--docker-host", engine.host, env=env, command="host", timeout=60)
    listed = shell_call(running, "extensions.list")
    return running, {entry["name"].removeprefix("acme/"): entry["origin"] for entry in listed}


def test_an_extensions_page_reaches_its_own_calls_and_nothing_else(
    host: tuple[RunningBridge, dict[str, str]], browser_context: BrowserContext
) -> None:
    running, origins = host
    alpha, beta = origins["alpha"], origins["beta"]
    shell = running.url.rstrip("/")
    opened = shell_call(running, "extensions.open", {"name": "acme/alpha"})
    page = browser_context.new_page()
    page.goto(opened["url"])  # signs this origin in, as the shell's frame does
    page.wait_for_url(alpha + "/")
    assert page.locator("h1").text_content() == "Alpha"

    # Its own calls work.
    containers = page.evaluate("window.ddClient.docker.listContainers({all: true})")
    assert isinstance(containers, list)
    credential = page.evaluate("localStorage.getItem('ddbridge.credential')")
    assert credential and credential.startswith("s2.")

    # Another extension's RPC, or the shell's, even with this page's own credential: refused at
    # the handshake (the browser sees no open socket).
    protocols = ["ddbridge", f"ddbridge.credential.{credential}"]
    for target in (beta, shell):
        url = target.replace("http://", "ws://") + "/rpc"
        assert page.evaluate(OPEN_SOCKET, [url, protocols]).startswith("closed"), target
    # The host's management methods do not exist on an extension's origin.
    for method in ("extensions.list", "extensions.install", "extensions.remove", "extensions.open"):
        answer = page.evaluate(CALL_OWN_RPC, [method])
        assert answer["error"]["code"] == -32601, (method, answer)
    # Nor does the inspector, which shows every page's calls.
    status = page.evaluate(
        "(credential) => fetch('/_ddbridge/events.json', {headers: {Authorization: `Bearer ${credential}`}})"
        ".then((r) => r.status)",
        credential,
    )
    assert status == 404
    # Another extension's page may not be framed by this one (only the shell may frame it).
    policy = httpx.get(
        "http://127.0.0.1:" + beta.rsplit(":", 1)[1] + "/",
        headers={"Host": beta.removeprefix("http://"), "Authorization": f"Bearer {running.token}"},
    ).headers["content-security-policy"]
    ancestors = policy.split("frame-ancestors", 1)[1].split(";")[0].split()
    assert alpha not in ancestors and shell in ancestors, ancestors

    # This origin's credential, replayed by a non-browser at the other origin or the shell: nothing.
    port = int(shell.rsplit(":", 1)[1])
    for target in (beta, shell):
        answer = httpx.get(
            f"http://127.0.0.1:{port}/ddclient.js",
            headers={"Host": target.removeprefix("http://"), "Authorization": f"Bearer {credential}"},
        )
        assert answer.status_code == 401, target

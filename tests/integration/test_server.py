"""The daemon as its users meet it: the command line, HTTP endpoints, UI serving, and the
Host / Origin checks on a real server."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
import websockets

from bridge import __version__
from bridge.testing import BridgeClient
from tests.support.handshake import upgrade_status
from tests.support.processes import REPO, RunningBridge, run_ddbridge

pytestmark = pytest.mark.integration


def ddbridge(*args: str) -> subprocess.CompletedProcess[str]:
    return run_ddbridge(*args, timeout=30)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["serve", "--bogus"], "unrecognized arguments: --bogus"),
        (["serve", "--port", "eighty"], "--port: invalid int value"),
        (["serve", "--port", "99999"], "setting server.port"),
        (
            ["serve", "--config", "/nonexistent/ddbridge.toml"],
            "cannot read config file /nonexistent/ddbridge.toml",
        ),
        (["serve", "--ui", "/nonexistent/ui"], "UI folder /nonexistent/ui does not exist"),
        (
            ["serve", "--host-binaries", "/nonexistent/bin"],
            "host binaries folder /nonexistent/bin does not exist",
        ),
        (["serve", "--backend-socket", "/a", "--backend-url", "http://b"], "not allowed with argument"),
        (["serve", "--allow-origin", "localhost:3000"], "is not an origin"),
        (["frobnicate"], "invalid choice: 'frobnicate'"),
    ],
)
def test_bad_invocations_print_one_line_and_exit_2(args: list[str], message: str) -> None:
    result = ddbridge(*args)
    assert result.returncode == 2
    assert message in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert "Traceback" not in result.stderr


def test_bad_config_file_content(tmp_path: Path) -> None:
    config = tmp_path / "c.toml"
    config.write_text("[server]\nport = [")
    result = ddbridge("serve", "--config", str(config))
    assert result.returncode == 2 and "not valid TOML" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_port_in_use_is_a_clear_error() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = ddbridge("serve", "--port", str(port))
    assert result.returncode == 2
    assert f"cannot listen on 127.0.0.1:{port}" in result.stderr


def test_version() -> None:
    assert ddbridge("--version").stdout.strip() == f"ddbridge {__version__}"


def test_ready_line_health_and_shim(bridge: Callable[..., RunningBridge]) -> None:
    running = bridge()
    assert running.url.startswith("http://127.0.0.1:") and running.url.endswith("/")
    health = httpx.get(running.url + "healthz")
    assert health.status_code == 200
    assert health.json() == {"status": "ok", "version": __version__}
    shim = httpx.get(running.url + "ddclient.js", headers=running.headers)
    assert shim.status_code == 200
    assert "javascript" in shim.headers["content-type"]
    first_line, _, rest = shim.text.partition("\n")
    assert first_line.startswith("window.__ddbridge = ") and first_line.endswith(";")
    bootstrap = json.loads(first_line.removeprefix("window.__ddbridge = ").removesuffix(";"))
    assert bootstrap["host"]["platform"] == sys.platform
    assert bootstrap["host"]["hostname"] == socket.gethostname()
    assert bootstrap["rpcPath"] == "/rpc"
    assert "window.ddClient" in rest or "ddClient" in rest


def test_config_file_and_flag_precedence(bridge: Callable[..., RunningBridge], tmp_path: Path) -> None:
    ui = tmp_path / "ui"
    ui.mkdir()
    (ui / "index.html").write_text("<html><head></head><body>from config</body></html>")
    config = tmp_path / "ddbridge.toml"
    config.write_text(f'[ui]\ndir = "{ui}"\n[server]\nport = 1\n')
    running = bridge("--config", config)  # the fixture's --port 0 overrides the file's port
    assert "from config" in httpx.get(running.url, headers=running.headers).text


def test_ui_is_served_with_the_shim_first(bridge: Callable[..., RunningBridge], tmp_path: Path) -> None:
    ui = tmp_path / "ui"
    (ui / "assets").mkdir(parents=True)
    (ui / "index.html").write_text(
        '<!doctype html><html><head><meta charset="utf-8"><script src="assets/app.js"></script></head>'
        "<body>ext</body></html>"
    )
    (ui / "assets" / "app.js").write_text("window.app = 1;")
    (ui / "page.html").write_text("<p>no head</p>")
    running = bridge("--ui", ui)
    index = httpx.get(running.url, headers=running.headers)
    assert index.headers["content-type"].startswith("text/html")
    assert '<head><script src="/ddclient.js"></script><meta charset="utf-8">' in index.text
    assert (
        '<script src="/ddclient.js"></script>'
        in httpx.get(running.url + "page.html", headers=running.headers).text
    )
    asset = httpx.get(running.url + "assets/app.js", headers=running.headers)
    assert asset.text == "window.app = 1;" and "javascript" in asset.headers["content-type"]
    assert httpx.get(running.url + "missing.png", headers=running.headers).status_code == 404
    assert httpx.get(running.url + "..%2F..%2Fetc%2Fpasswd", headers=running.headers).status_code == 404


BRIDGE_ICON = (REPO / "bridge" / "static" / "favicon.svg").read_bytes()


def favicon(running: RunningBridge, **headers: str) -> httpx.Response:
    return httpx.get(running.url + "favicon.ico", headers={**running.headers, **headers})


def test_favicon_is_the_bridges_own_icon_without_ui_and_for_a_ui_without_one(
    bridge: Callable[..., RunningBridge], tmp_path: Path
) -> None:
    """Browsers ask every page's /favicon.ico: a 404 is a console error on each of them."""
    ui = tmp_path / "ui"
    ui.mkdir()
    (ui / "index.html").write_text("<html><head></head><body>no icon</body></html>")
    for running in (bridge(), bridge("--ui", ui)):
        answer = favicon(running)
        assert answer.status_code == 200
        assert answer.headers["content-type"] == "image/svg+xml"
        assert answer.content == BRIDGE_ICON
        assert httpx.head(running.url + "favicon.ico", headers=running.headers).status_code == 200


def test_favicon_of_the_ui_folder_wins_but_stays_inside_it(
    bridge: Callable[..., RunningBridge], tmp_path: Path
) -> None:
    ui = tmp_path / "ui"
    ui.mkdir()
    (ui / "favicon.ico").write_bytes(b"\x00\x00\x01\x00own icon")
    own = bridge("--ui", ui)
    answer = favicon(own)
    assert answer.content == b"\x00\x00\x01\x00own icon"
    assert answer.headers["content-type"] in ("image/vnd.microsoft.icon", "image/x-icon")
    # A favicon.ico that leads out of the UI folder is not followed: the bridge's icon instead.
    secret = tmp_path / "secret.txt"
    secret.write_text("not for pages")
    linked = tmp_path / "linked"
    linked.mkdir()
    (linked / "favicon.ico").symlink_to(secret)
    assert favicon(bridge("--ui", linked)).content == BRIDGE_ICON
    # Behind the view credential like every UI file.
    assert httpx.get(own.url + "favicon.ico").status_code in (401, 403)


@pytest.mark.parametrize("host", ["evil.example", "evil.example:7700", "127.0.0.1.evil.example"])
def test_rebinding_host_is_refused_over_http(bridge: Callable[..., RunningBridge], host: str) -> None:
    running = bridge()
    answer = httpx.get(running.url + "healthz", headers={"Host": host})
    assert answer.status_code == 403
    assert "not allowed" in answer.text
    assert "Host" in running.log()


def test_allowed_host_passes(bridge: Callable[..., RunningBridge]) -> None:
    running = bridge("--allow-host", "devbox.lan")
    assert httpx.get(running.url + "healthz", headers={"Host": "devbox.lan:7700"}).status_code == 200


@pytest.mark.parametrize("host", ["evil.example", "evil.example:7700", "localhost.evil.example"])
def test_rebinding_host_is_refused_on_the_websocket(bridge: Callable[..., RunningBridge], host: str) -> None:
    running = bridge()
    assert upgrade_status(running, {"Host": f"127.0.0.1:{running.port}"}) == 101
    assert upgrade_status(running, {"Host": host}) == 403


def test_duplicate_host_headers_are_refused(bridge: Callable[..., RunningBridge]) -> None:
    running = bridge()
    lines = "GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nHost: evil.example\r\n\r\n"
    with socket.create_connection(("127.0.0.1", running.port), timeout=10) as raw:
        raw.sendall(lines.encode())
        assert raw.recv(4096).split(b"\r\n")[0].split()[1] in (b"400", b"403")


def test_foreign_origin_is_refused_and_allowed_origin_passes(bridge: Callable[..., RunningBridge]) -> None:
    running = bridge("--allow-origin", "http://localhost:3000")
    host = f"127.0.0.1:{running.port}"
    for origin in ("http://evil.example", "null", f"http://{host}.evil.example", "http://localhost:30000"):
        assert upgrade_status(running, {"Host": host, "Origin": origin}) == 403
    assert "origin" in running.log()
    for origin in (f"http://{host}", "http://localhost:3000"):
        assert upgrade_status(running, {"Host": host, "Origin": origin}) == 101


async def test_allowed_origin_can_call(bridge: Callable[..., RunningBridge]) -> None:
    running = bridge()
    async with BridgeClient.connect(running.ws_url, origin=f"http://127.0.0.1:{running.port}") as client:
        assert (await client.call("host.info"))["version"] == __version__


async def test_binary_frames_close_the_connection_with_a_reason(bridge: Callable[..., RunningBridge]) -> None:
    running = bridge()
    async with websockets.connect(running.ws_url) as ws:
        await ws.send(b"\x00\x01")
        with pytest.raises(websockets.ConnectionClosed) as caught:
            await ws.recv()
    assert caught.value.rcvd is not None
    assert caught.value.rcvd.code == 1003
    assert "text frames" in caught.value.rcvd.reason


async def test_host_calls(bridge: Callable[..., RunningBridge]) -> None:
    running = bridge()
    async with BridgeClient.connect(running.ws_url) as client:
        info = await client.call("host.info")
        assert info["platform"] == sys.platform and info["hostname"] == socket.gethostname()
        assert await client.call("host.openExternal", {"url": "https://docs.docker.com/"}) is None
        assert await client.call("desktop.toast", {"level": "warning", "message": "careful"}) is None
        for url in ("file:///etc/passwd", "javascript:alert(1)", "ftp://x/", "https:nohost"):
            with pytest.raises(Exception, match="only opens http"):
                await client.call("host.openExternal", {"url": url})
    log = running.log()
    assert "https://docs.docker.com/" in log and "careful" in log

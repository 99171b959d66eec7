"""The token on a real daemon (README, SECURITY): who gets in, how a browser signs in, what the
answers say, and the rules for binding and for fixed tokens."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
import websockets

from bridge.testing import BridgeClient, SyncBridgeClient
from tests.support.handshake import upgrade_status
from tests.support.processes import RunningBridge, run_ddbridge

pytestmark = pytest.mark.integration

FIXED_TOKEN = "ci-token-0123456789abcdef"
NAVIGATION = {"Sec-Fetch-Mode": "navigate", "Sec-Fetch-Site": "none", "Sec-Fetch-Dest": "document"}


@pytest.fixture(scope="module")
def running(
    module_bridge: Callable[..., RunningBridge], tmp_path_factory: pytest.TempPathFactory
) -> RunningBridge:
    ui = tmp_path_factory.mktemp("ui")
    (ui / "index.html").write_text("<html><head></head><body>the UI</body></html>")
    return module_bridge("--ui", ui, "--allow-origin", "http://localhost:3000")


def shim_credential(running: RunningBridge, **headers: str) -> str:
    """The session credential the daemon writes into the shim's bootstrap line."""
    shim = httpx.get(running.url + "ddclient.js", headers={**running.headers, **headers})
    assert shim.status_code == 200, shim.text
    bootstrap = shim.text.split("\n", 1)[0].removeprefix("window.__ddbridge = ").removesuffix(";")
    credential: str = json.loads(bootstrap)["credential"]
    return credential


def test_the_ready_line_carries_a_new_token_each_start(bridge: Callable[..., RunningBridge]) -> None:
    first, second = bridge(), bridge()
    assert len(first.token) >= 32 and first.token != second.token
    assert f"inspector: {first.url}_ddbridge/?token={first.token}" in first.log()


@pytest.mark.parametrize(
    "path", ["", "index.html", "ddclient.js", "_ddbridge/", "_ddbridge/events.json", "nope"]
)
def test_without_the_token_nothing_but_health_answers(running: RunningBridge, path: str) -> None:
    assert httpx.get(running.url + "healthz").status_code == 200
    for headers in ({}, {"Authorization": "Bearer wrong-token-0123456789"}, {"Authorization": "Basic eDp5"}):
        answer = httpx.get(running.url + path, headers=headers)
        assert answer.status_code == 401, (path, headers)
        assert "Authorization: Bearer TOKEN" in answer.text
        assert answer.headers["www-authenticate"] == 'Bearer realm="ddbridge"'
    assert httpx.get(running.url + path + "?token=" + running.token[:-1]).status_code == 401
    assert httpx.get(running.url + path, headers=running.headers).status_code in (200, 404)
    assert httpx.get(running.url + path + "?token=" + running.token).status_code in (200, 404)
    assert "the UI" not in httpx.get(running.url + path).text


async def test_a_websocket_without_the_token_is_closed_with_the_reason(running: RunningBridge) -> None:
    for url in (running.url.replace("http", "ws", 1) + "rpc", running.websocket_url("rpc") + "x"):
        async with websockets.connect(url) as ws:
            with pytest.raises(websockets.ConnectionClosed) as closed:
                await ws.recv()
        assert closed.value.rcvd is not None
        assert (closed.value.rcvd.code, closed.value.rcvd.reason) == (
            4401,
            "ddbridge: missing or wrong token",
        )
    assert upgrade_status(running, {}, "/_ddbridge/events", token=False) == 101  # then closed: 4401
    async with BridgeClient.connect(running.ws_url) as client:
        assert (await client.call("host.info"))["platform"]
    plain = running.url.replace("http", "ws", 1) + "rpc"
    async with BridgeClient.connect(plain, token=running.token) as client:
        assert (await client.call("host.info"))["platform"]


def test_the_blocking_client_takes_the_token(running: RunningBridge) -> None:
    with SyncBridgeClient.connect(
        running.url.replace("http", "ws", 1) + "rpc", token=running.token
    ) as client:
        assert client.call("host.info")["platform"]


def test_a_browser_opening_the_printed_url_gets_a_session_cookie(running: RunningBridge) -> None:
    opened = httpx.get(running.login_url("index.html?lang=en"), headers=NAVIGATION)
    assert opened.status_code == 303
    assert opened.headers["location"] == "/index.html?lang=en", "sent on without the token"
    cookie = opened.headers["set-cookie"]
    name = f"ddbridge-{running.port}"
    assert cookie.startswith(f"{name}=s1.")
    for attribute in ("HttpOnly", "SameSite=lax", "Max-Age=604800", "Path=/"):
        assert attribute in cookie
    session = opened.cookies[name]
    page = httpx.get(running.url + "index.html", headers=NAVIGATION, cookies={name: session})
    assert page.status_code == 200 and "the UI" in page.text
    assert (
        httpx.get(running.url + "index.html", cookies={f"ddbridge-{running.port + 1}": session}).status_code
        == 401
    )


def test_a_browser_without_a_session_gets_a_page_asking_for_the_token(running: RunningBridge) -> None:
    for headers in (NAVIGATION, {"Accept": "text/html,application/xhtml+xml"}):
        page = httpx.get(running.url, headers=headers)
        assert page.status_code == 401 and page.headers["content-type"].startswith("text/html")
        assert "needs its token" in page.text and 'name="token"' in page.text
        assert "default-src 'none'" in page.headers["content-security-policy"]


async def test_the_shims_credential_opens_the_websocket(running: RunningBridge) -> None:
    credential = shim_credential(running)
    assert credential.startswith("s1.") and credential != running.token
    async with BridgeClient.connect(
        running.url.replace("http", "ws", 1) + "rpc?token=" + credential
    ) as client:
        assert (await client.call("host.info"))["platform"]


def test_the_shim_is_not_given_to_other_sites(running: RunningBridge) -> None:
    """A foreign page's ``<script src=…/ddclient.js>`` would run the shim, credential and all, in
    that page: refused even when the browser sends the session along."""
    for headers in (
        {"Sec-Fetch-Site": "cross-site", "Sec-Fetch-Mode": "no-cors", "Referer": "https://evil.example/"},
        {"Sec-Fetch-Site": "cross-site", "Sec-Fetch-Mode": "no-cors"},
        {"Sec-Fetch-Site": "same-site", "Sec-Fetch-Mode": "no-cors", "Referer": "http://localhost:4000/"},
    ):
        answer = httpx.get(running.url + "ddclient.js", headers={**running.headers, **headers})
        assert answer.status_code == 403, headers
        assert "add its origin with --allow-origin" in answer.text
    allowed = {
        "Sec-Fetch-Site": "same-site",
        "Sec-Fetch-Mode": "no-cors",
        "Referer": "http://localhost:3000/app",
    }
    assert shim_credential(running, **allowed).startswith("s1.")
    assert "refused GET /ddclient.js from https://evil.example/" in running.log()


async def test_a_session_outlives_a_restart_but_the_token_does_not(
    bridge: Callable[..., RunningBridge], tmp_path: Path
) -> None:
    env = {"DDBRIDGE_SERVER_SECRET_FILE": str(tmp_path / "secret")}
    first = bridge(env=env)
    credential = shim_credential(first)
    first.stop()
    second = bridge("--port", str(first.port), env=env)
    async with BridgeClient.connect(
        second.url.replace("http", "ws", 1) + "rpc?token=" + credential
    ) as client:
        assert (await client.call("host.info"))["platform"]
    assert httpx.get(second.url + "ddclient.js", headers=first.headers).status_code == 401
    third = bridge(env={"DDBRIDGE_SERVER_SECRET_FILE": str(tmp_path / "other-secret")})
    assert httpx.get(third.url + "ddclient.js", params={"token": credential}).status_code == 401


def test_a_fixed_token_from_a_flag_or_the_environment(bridge: Callable[..., RunningBridge]) -> None:
    for running in (bridge("--token", FIXED_TOKEN), bridge(env={"DDBRIDGE_SERVER_TOKEN": FIXED_TOKEN})):
        assert running.token == FIXED_TOKEN
        answer = httpx.get(running.url + "ddclient.js", headers={"Authorization": f"Bearer {FIXED_TOKEN}"})
        assert answer.status_code == 200


def test_no_token_on_loopback_is_allowed_with_a_warning(bridge: Callable[..., RunningBridge]) -> None:
    running = bridge("--token", "")
    assert running.token == "" and running.login_url() == running.url
    assert httpx.get(running.url + "ddclient.js").status_code == 200
    assert "no token: any program on this computer may use the daemon" in running.log()


def ddbridge(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return run_ddbridge(*args, env=env, timeout=30)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--host", "0.0.0.0", "--token", ""], "not a loopback address, needs a token"),
        (["--token", "short"], "a token needs at least 16 characters"),
        (["--token", "has spaces in it, sixteen+"], "a token needs at least 16 characters, no spaces"),
    ],
)
def test_refused_token_settings(args: list[str], message: str) -> None:
    result = ddbridge("serve", "--port", "0", *args)
    assert result.returncode == 2
    assert message in result.stderr and len(result.stderr.strip().splitlines()) == 1, result.stderr


def test_a_secret_file_others_can_read_is_refused(tmp_path: Path) -> None:
    secret = tmp_path / "secret"
    secret.write_bytes(b"x" * 32)
    secret.chmod(0o644)
    result = ddbridge(
        "serve", "--port", "0", env={"DDBRIDGE_SERVER_SECRET_FILE": str(secret), "PATH": "/usr/bin"}
    )
    assert result.returncode == 2 and f"chmod 600 {secret}" in result.stderr


def test_a_non_loopback_bind_says_what_it_exposes(bridge: Callable[..., RunningBridge]) -> None:
    running = bridge("--host", "0.0.0.0")
    assert "not a loopback address: whoever reaches it with the token can run commands" in running.log()
    assert httpx.get(f"http://127.0.0.1:{running.port}/ddclient.js").status_code == 401

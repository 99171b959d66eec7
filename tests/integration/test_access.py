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
from tests.support.handshake import rpc_answers, upgrade_status
from tests.support.processes import RunningBridge, run_ddbridge

pytestmark = pytest.mark.integration

FIXED_TOKEN = "ci-token-0123456789abcdef"
# A refusal: 401, or 429 once many wrong values came in a short time (the guess throttle).
REFUSED = (401, 429)
NAVIGATION = {"Sec-Fetch-Mode": "navigate", "Sec-Fetch-Site": "none", "Sec-Fetch-Dest": "document"}


@pytest.fixture(scope="module")
def running(
    module_bridge: Callable[..., RunningBridge], tmp_path_factory: pytest.TempPathFactory
) -> RunningBridge:
    ui = tmp_path_factory.mktemp("ui")
    (ui / "index.html").write_text("<html><head></head><body>the UI</body></html>")
    return module_bridge("--ui", ui, "--allow-origin", "http://localhost:3000")


def log_in(running: RunningBridge, path: str = "") -> tuple[dict[str, str], httpx.Response]:
    """What a browser opening the printed URL is given: the login page's data (the page
    credential and where it goes on to), and the answer itself (with the view cookie)."""
    opened = httpx.get(running.login_url(path), headers=NAVIGATION)
    assert opened.status_code == 200, opened.text
    block = opened.text.split('<script type="application/json" id="ddbridge-page">', 1)[1]
    data: dict[str, str] = json.loads(block.split("</script>", 1)[0])
    return data, opened


def page_credential(running: RunningBridge) -> str:
    return log_in(running)[0]["credential"]


def view_cookie(running: RunningBridge) -> str:
    return log_in(running)[1].cookies[f"ddbridge-view-{running.port}"]


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


def test_a_browser_opening_the_printed_url_is_signed_in(running: RunningBridge) -> None:
    data, opened = log_in(running, "index.html?lang=en")
    assert data["next"] == "/index.html?lang=en", "sent on without the token"
    assert data["credential"].startswith("s2.") and running.token not in opened.text
    assert opened.headers["referrer-policy"] == "no-referrer"
    assert opened.headers["cache-control"] == "no-store"
    assert "script-src 'sha256-" in opened.headers["content-security-policy"]
    cookie = opened.headers["set-cookie"]
    name = f"ddbridge-view-{running.port}"
    assert cookie.startswith(f"{name}=v2.")
    for attribute in ("httponly", "samesite=lax", "max-age=604800", "path=/"):  # names ignore case
        assert attribute in cookie.lower()
    view = opened.cookies[name]
    page = httpx.get(running.url + "index.html", headers=NAVIGATION, cookies={name: view})
    assert page.status_code == 200 and "the UI" in page.text
    other_port = {f"ddbridge-view-{running.port + 1}": view}
    assert httpx.get(running.url + "index.html", cookies=other_port).status_code == 401


@pytest.mark.parametrize("path", ["//evil.example/", "/\\evil.example/x", "///evil.example"])
def test_the_login_page_goes_on_to_a_path_of_the_bridge(running: RunningBridge, path: str) -> None:
    """``//evil/?token=T`` must not send the browser to ``//evil/`` (an open redirect)."""
    answer = httpx.get(running.url.rstrip("/") + path + "?token=" + running.token, headers=NAVIGATION)
    block = answer.text.split('id="ddbridge-page">', 1)[1].split("</script>", 1)[0]
    target = json.loads(block)["next"]
    assert target.startswith("/") and not target.startswith(("//", "/\\")), target


async def test_nothing_the_browser_sends_by_itself_opens_the_rpc(running: RunningBridge) -> None:
    """The view cookie reaches every port of the host: replayed from any client, in any header,
    it opens no WebSocket, no export, and fetches nothing that carries a credential."""
    view = view_cookie(running)
    name = f"ddbridge-view-{running.port}"
    ws = running.url.replace("http", "ws", 1)
    for path in ("rpc", "_ddbridge/events"):
        assert not rpc_answers(ws + path, additional_headers={"Cookie": f"{name}={view}"})
        assert not rpc_answers(ws + path + "?token=" + view)
        assert not rpc_answers(ws + path, additional_headers={"Authorization": f"Bearer {view}"})
        assert not rpc_answers(ws + path, subprotocols=["ddbridge", "ddbridge.credential." + view])
    for replay in (
        {"cookies": {name: view}},
        {"params": {"token": view}},
        {"headers": {"Authorization": f"Bearer {view}"}},
    ):
        export = httpx.get(running.url + "_ddbridge/events.json", **replay)  # type: ignore[arg-type]
        assert export.status_code in REFUSED, replay
    for path in ("", "index.html", "ddclient.js", "_ddbridge/", "_ddbridge/credential", "nope"):
        answer = httpx.get(running.url + path, cookies={name: view})
        assert answer.status_code in (200, 404), path
        assert "s2." not in answer.text and running.token not in answer.text, path


async def test_the_page_credential_opens_the_rpc_only_when_sent_explicitly(running: RunningBridge) -> None:
    credential = page_credential(running)
    ws = running.url.replace("http", "ws", 1)
    assert rpc_answers(ws + "rpc", subprotocols=["ddbridge", "ddbridge.credential." + credential])
    assert rpc_answers(ws + "rpc", additional_headers={"Authorization": f"Bearer {credential}"})
    assert not rpc_answers(
        ws + "rpc", additional_headers={"Cookie": f"ddbridge-view-{running.port}={credential}"}
    )
    assert (
        httpx.get(
            running.url + "_ddbridge/events.json", headers={"Authorization": f"Bearer {credential}"}
        ).status_code
        == 200
    )


async def test_the_rpc_picks_the_bridge_subprotocol_a_browser_offers(running: RunningBridge) -> None:
    """A browser that offers subprotocols fails a handshake that picks none; the credential's
    own subprotocol is never echoed (nor passed to the routes)."""
    credential = page_credential(running)
    async with websockets.connect(
        running.url.replace("http", "ws", 1) + "rpc",
        subprotocols=[
            websockets.Subprotocol("ddbridge"),
            websockets.Subprotocol("ddbridge.credential." + credential),
        ],
    ) as websocket:
        assert websocket.subprotocol == "ddbridge"


def test_a_browser_without_a_session_gets_a_page_asking_for_the_token(running: RunningBridge) -> None:
    for headers in (NAVIGATION, {"Accept": "text/html,application/xhtml+xml"}):
        page = httpx.get(running.url, headers=headers)
        assert page.status_code == 401 and page.headers["content-type"].startswith("text/html")
        assert "needs its token" in page.text and 'name="token"' in page.text
        assert "default-src 'none'" in page.headers["content-security-policy"]


def test_the_shim_is_not_given_to_other_sites(running: RunningBridge) -> None:
    """A foreign page's ``<script src=…/ddclient.js>`` would run the shim in that page: refused
    even when the browser sends the cookie along (the shim carries no credential any more)."""
    cookies = {f"ddbridge-view-{running.port}": view_cookie(running)}
    for headers in (
        {"Sec-Fetch-Site": "cross-site", "Sec-Fetch-Mode": "no-cors", "Referer": "https://evil.example/"},
        {"Sec-Fetch-Site": "cross-site", "Sec-Fetch-Mode": "no-cors"},
        {"Sec-Fetch-Site": "same-site", "Sec-Fetch-Mode": "no-cors", "Referer": "http://localhost:4000/"},
        # No Sec-Fetch-Site: a browser on an origin it does not count as secure (issue 12, item 2).
        {"Referer": "http://victim.test:7902/"},
    ):
        answer = httpx.get(running.url + "ddclient.js", headers=headers, cookies=cookies)
        assert answer.status_code == 403, headers
        assert "add its origin with --allow-origin" in answer.text
    allowed = {
        "Sec-Fetch-Site": "same-site",
        "Sec-Fetch-Mode": "no-cors",
        "Referer": "http://localhost:3000/app",
    }
    shim = httpx.get(running.url + "ddclient.js", headers=allowed, cookies=cookies)
    assert shim.status_code == 200 and "credential" not in shim.text.split("\n", 1)[0]
    assert "refused GET /ddclient.js from https://evil.example/" in running.log()


async def test_a_session_outlives_a_restart_but_the_token_does_not(
    bridge: Callable[..., RunningBridge], tmp_path: Path
) -> None:
    env = {"DDBRIDGE_SERVER_SECRET_FILE": str(tmp_path / "secret")}
    first = bridge(env=env)
    credential = page_credential(first)
    first.stop()
    second = bridge("--port", str(first.port), env=env)
    ws = second.url.replace("http", "ws", 1) + "rpc"
    assert rpc_answers(ws, subprotocols=["ddbridge", "ddbridge.credential." + credential])
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


async def test_verbose_logs_and_the_inspector_carry_no_credential(
    bridge: Callable[..., RunningBridge],
) -> None:
    """``--verbose`` logs every request line and handshake header: the token and the browser's
    credentials in them (query, Authorization, Cookie, subprotocol) are redacted."""
    running = bridge("--verbose")
    data, opened = log_in(running, "?x=1")
    view = opened.cookies[f"ddbridge-view-{running.port}"]
    ws = running.url.replace("http", "ws", 1) + "rpc"
    assert rpc_answers(running.ws_url, additional_headers={"Referer": running.login_url()})
    assert rpc_answers(ws, additional_headers={"Authorization": f"Bearer {running.token}"})
    assert rpc_answers(ws, subprotocols=["ddbridge", "ddbridge.credential." + data["credential"]])
    assert rpc_answers(ws + "?to%6Ben=" + running.token)
    httpx.get(running.url, cookies={f"ddbridge-view-{running.port}": view})
    events = running.events()
    printed = ("ddbridge listening on ", "inspector: ")  # the URLs to open, printed on purpose
    log = "\n".join(line for line in running.log().splitlines() if not line.startswith(printed))
    assert "[redacted]" in log
    for secret in (running.token, data["credential"], view):
        assert secret not in log
        assert secret not in json.dumps(events)


def test_a_nul_in_a_ui_path_is_not_found(running: RunningBridge) -> None:
    for path in ("a%00b", "%00", "index.html%00.png", "sub/%00/x"):
        answer = httpx.get(running.url + path, headers=running.headers)
        assert answer.status_code == 404, (path, answer.text)


@pytest.mark.parametrize("path", ["", "index.html", "ddclient.js", "_ddbridge/", "nope", "healthz"])
def test_every_answer_says_who_may_frame_it(running: RunningBridge, path: str) -> None:
    """Clickjacking: only the bridge's own pages and the allowed origins may frame anything."""
    for headers in (running.headers, {}):
        answer = httpx.get(running.url + path, headers=headers)
        policies = answer.headers.get_list("content-security-policy")
        assert "frame-ancestors 'self' http://localhost:3000" in policies, (path, policies)

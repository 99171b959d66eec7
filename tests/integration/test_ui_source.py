"""``ddbridge serve --ui-source URL``: a real bridge reverse-proxying a real dev server
(tests/support/devserver_app.py under uvicorn), over HTTP and WebSocket, seen from both sides.

The tests are synchronous (httpx, websockets' sync client): they also run after the browser
tests, whose session-wide Playwright keeps an event loop running in the main thread."""

from __future__ import annotations

import contextlib
import hashlib
import json
import socket
import struct
import threading
import time
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from websockets.exceptions import ConnectionClosed, ConnectionClosedError
from websockets.sync.client import connect
from websockets.typing import Origin, Subprotocol

from bridge import __version__
from tests.support import devserver_app
from tests.support.handshake import upgrade_status
from tests.support.processes import REPO, RunningBridge, free_port

pytestmark = pytest.mark.integration

SHIM_TAG = '<script src="/ddclient.js"></script>'


@pytest.fixture(scope="module")
def proxy(module_bridge: Callable[..., RunningBridge], dev_server: str) -> RunningBridge:
    """A bridge serving the dev server's UI."""
    return module_bridge("--ui-source", dev_server)


def upstream_host(dev_server: str) -> str:
    return dev_server.removeprefix("http://")


def header_values(echoed: dict[str, Any], name: str) -> list[str]:
    return [value for key, value in echoed["headers"] if key == name]


# --------------------------------------------------------------------------------------------
# HTTP


def test_html_gets_the_shim_first_and_keeps_the_dev_servers_headers(proxy: RunningBridge) -> None:
    page = httpx.get(proxy.url, headers=proxy.headers)
    assert page.status_code == 200
    assert page.headers["x-dev-server"] == "yes"
    assert len(page.headers.get_list("date")) == 1 and len(page.headers.get_list("server")) == 1
    assert page.headers["content-type"].startswith("text/html")
    expected = devserver_app.PAGE.replace(b"<head>", b"<head>" + SHIM_TAG.encode(), 1)
    assert page.content == expected
    assert int(page.headers["content-length"]) == len(expected)


def test_a_compressed_page_is_decoded_before_the_shim_goes_in(proxy: RunningBridge) -> None:
    with httpx.stream("GET", proxy.url + "gzipped.html", headers=proxy.headers) as page:
        assert "content-encoding" not in page.headers
        raw = b"".join(page.iter_raw())
    assert raw == devserver_app.PAGE.replace(b"<head>", b"<head>" + SHIM_TAG.encode(), 1)


def test_assets_are_byte_identical(proxy: RunningBridge) -> None:
    script = httpx.get(proxy.url + "app.js", headers=proxy.headers)
    assert script.content == devserver_app.SCRIPT  # its "<head>" is not HTML: no shim
    assert "javascript" in script.headers["content-type"]
    expected = hashlib.sha256()
    for index in range(devserver_app.BIG_CHUNKS):
        expected.update(devserver_app.big_chunk(index))
    received = hashlib.sha256()
    size = 0
    with httpx.stream("GET", proxy.url + "big.bin", headers=proxy.headers) as big:
        assert big.status_code == 200
        for chunk in big.iter_raw():
            received.update(chunk)
            size += len(chunk)
    assert size == devserver_app.BIG_CHUNKS * devserver_app.BIG_CHUNK
    assert received.hexdigest() == expected.hexdigest()


def test_answers_stream_without_waiting_for_the_end(proxy: RunningBridge) -> None:
    """An event stream's first event arrives while the dev server still holds the rest back."""
    with httpx.stream("GET", proxy.url + "events", timeout=10, headers=proxy.headers) as events:
        chunks = events.iter_raw()
        assert next(chunks) == b"data: first\n\n"
        assert httpx.post(proxy.url + "release", headers=proxy.headers).text == "released"
        assert b"".join(chunks) == b"data: released\n\n"


def test_a_stream_the_browser_leaves_is_closed_at_the_dev_server(proxy: RunningBridge) -> None:
    """A reader that goes away must not leave the dev server's answer running (hot-reload event
    streams never end by themselves)."""
    with httpx.stream("GET", proxy.url + "events", timeout=10, headers=proxy.headers) as events:
        chunks = events.iter_raw()  # kept: a dropped iterator closes the response
        assert next(chunks) == b"data: first\n\n"
        assert httpx.get(proxy.url + "event-streams", headers=proxy.headers).json() == 1
    deadline = time.monotonic() + 10
    while httpx.get(proxy.url + "event-streams", headers=proxy.headers).json() != 0:
        assert time.monotonic() < deadline, "the dev server is still sending the abandoned stream"
        time.sleep(0.05)


def test_method_path_query_body_and_headers_are_forwarded(proxy: RunningBridge, dev_server: str) -> None:
    answer = httpx.post(
        proxy.url + f"echo/a%2Fb/c?x=1&token={proxy.token}&y=a%20b&to%6Ben={proxy.token}&y=2",
        content=b'{"name": "value"}',
        headers={
            **proxy.headers,
            # Every ddbridge credential stays out of the dev server: this daemon's and the
            # other daemons' on the host (cookies ignore ports), whatever their version.
            "Cookie": f"theirs=1; ddbridge-view-{proxy.port}=v2.1.x; ddbridge-view-1=v2; ddbridge-7700=s1",
            "Content-Type": "application/json",
            "X-Custom": "kept",
            "Connection": "keep-alive, X-Hop",
            "X-Hop": "dropped",
            "Accept-Encoding": "gzip, br",
        },
    )
    assert answer.status_code == 200
    echoed = answer.json()
    assert echoed["method"] == "POST"
    assert echoed["raw_path"] == "/echo/a%2Fb/c"
    assert echoed["query"] == "x=1&y=a%20b&y=2"
    assert echoed["body"] == '{"name": "value"}'
    assert header_values(echoed, "host") == [upstream_host(dev_server)]
    assert header_values(echoed, "x-custom") == ["kept"]
    assert header_values(echoed, "content-type") == ["application/json"]
    assert header_values(echoed, "accept-encoding") == ["identity"]
    assert header_values(echoed, "x-hop") == []  # named by Connection: hop-by-hop
    # The bridge's credentials stay with the bridge, also an encoded name; the dev server's pass.
    assert header_values(echoed, "authorization") == []
    assert header_values(echoed, "cookie") == ["theirs=1"]
    assert answer.headers.get_list("set-cookie") == ["a=1; Path=/", "b=2; Path=/"]


@pytest.mark.parametrize("method", ["PUT", "PATCH", "DELETE", "OPTIONS"])
def test_other_methods_are_forwarded(proxy: RunningBridge, method: str) -> None:
    echoed = httpx.request(
        method, proxy.url + "echo/m", content=b"data" if method != "OPTIONS" else None, headers=proxy.headers
    )
    assert echoed.json()["method"] == method


def test_head_answers_headers_only(proxy: RunningBridge) -> None:
    head = httpx.head(proxy.url + "app.js", headers=proxy.headers)
    assert head.status_code == 200 and head.content == b""
    assert int(head.headers["content-length"]) == len(devserver_app.SCRIPT)


class OneAnswerServer:
    """A dev server that answers one request per connection, keeps the connection open, and
    resets it when the next request comes on it: a kept-alive connection that breaks just as
    a request goes out, every time."""

    def __init__(self) -> None:
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.listener.getsockname()[1]}"
        self.requests: list[bytes] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        with contextlib.suppress(OSError):
            while True:
                connection, _ = self.listener.accept()
                threading.Thread(target=self._serve, args=(connection,), daemon=True).start()

    def _serve(self, connection: socket.socket) -> None:
        received = b""
        with connection, contextlib.suppress(OSError):
            while data := connection.recv(65536):
                received += data
                heads = received.split(b"\r\n\r\n")[:-1]
                if not heads:
                    continue
                self.requests.append(heads[-1].split(b"\r\n", 1)[0])
                if len(heads) > 1:
                    connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                    return  # closed with a reset, unanswered
                connection.sendall(
                    b"HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\ncontent-length: 5\r\n\r\nfresh"
                )


def test_a_request_on_a_connection_that_breaks_is_sent_again_when_it_is_safe(
    bridge: Callable[..., RunningBridge],
) -> None:
    upstream = OneAnswerServer()
    running = bridge("--ui-source", upstream.url)
    with httpx.Client(headers=running.headers) as client:
        for path in ("/a", "/b", "/c"):  # each after the first goes out on a kept-alive connection
            answer = client.get(running.url.rstrip("/") + path)
            assert (answer.status_code, answer.text) == (200, "fresh")
        posted = client.post(running.url.rstrip("/") + "/d", content=b"x")  # never sent twice
    assert posted.status_code == 502 and "not reachable" in posted.text
    assert upstream.requests.count(b"POST /d HTTP/1.1") == 1
    upstream.listener.close()


@pytest.mark.parametrize("code", [201, 204, 404, 418, 500])
def test_status_codes_pass_through(proxy: RunningBridge, code: int) -> None:
    answer = httpx.get(proxy.url + f"status/{code}", headers=proxy.headers)
    assert answer.status_code == code
    assert answer.text == ("" if code == 204 else f"status {code} from the dev server")


def test_redirects_go_to_the_browser_at_the_bridges_origin(proxy: RunningBridge) -> None:
    relative = httpx.get(proxy.url + "redirect", headers=proxy.headers)
    assert relative.status_code == 302 and relative.headers["location"] == "/target?from=redirect"
    # An absolute URL on the dev server itself would take the browser off the bridge.
    absolute = httpx.get(proxy.url + "redirect-absolute", headers=proxy.headers)
    assert absolute.status_code == 301 and absolute.headers["location"] == "/target"
    away = httpx.get(proxy.url + "redirect-away", headers=proxy.headers)
    assert away.headers["location"] == "https://docs.docker.com/extensions/"


def test_the_bridges_own_paths_are_not_forwarded(proxy: RunningBridge) -> None:
    assert httpx.get(proxy.url + "healthz").json() == {"status": "ok", "version": __version__}
    assert httpx.get(proxy.url + "ddclient.js", headers=proxy.headers).text.startswith("window.__ddbridge = ")
    for method, path in (("GET", "_ddbridge/anything"), ("POST", "healthz"), ("GET", "rpc")):
        answer = httpx.request(method, proxy.url + path, headers=proxy.headers)
        assert answer.status_code == 404, (method, path)
        assert "belongs to ddbridge" in answer.text


def test_the_dev_servers_favicon_wins_and_the_bridges_stands_in_for_none(
    proxy: RunningBridge, bridge: Callable[..., RunningBridge]
) -> None:
    own = httpx.get(proxy.url + "favicon.ico", headers=proxy.headers)
    assert own.status_code == 200 and own.content == devserver_app.FAVICON
    # A dev server that has none answers an error (here: none runs, a 502): the bridge's icon.
    running = bridge("--ui-source", f"http://127.0.0.1:{free_port()}")
    for method in ("GET", "HEAD"):
        stand_in = httpx.request(method, running.url + "favicon.ico", headers=running.headers)
        assert stand_in.status_code == 200, method
        assert stand_in.headers["content-type"] == "image/svg+xml"
    assert stand_in.content == b""  # HEAD
    bridge_icon = (REPO / "bridge" / "static" / "favicon.svg").read_bytes()
    assert httpx.get(running.url + "favicon.ico", headers=running.headers).content == bridge_icon


def test_a_source_with_a_path_opens_there(
    module_bridge: Callable[..., RunningBridge], dev_server: str
) -> None:
    running = module_bridge("--ui-source", dev_server + "/echo/entry/")
    entry = httpx.get(running.url, headers=running.headers)
    assert entry.status_code == 307 and entry.headers["location"] == "/echo/entry"
    assert (
        httpx.get(running.url, follow_redirects=True, headers=running.headers).json()["path"] == "/echo/entry"
    )
    assert (
        httpx.get(running.url + "app.js", headers=running.headers).content == devserver_app.SCRIPT
    )  # other paths: as they are


def test_an_unreachable_dev_server_is_a_readable_502(bridge: Callable[..., RunningBridge]) -> None:
    source = f"http://127.0.0.1:{free_port()}"
    running = bridge("--ui-source", source)
    page = httpx.get(running.url + "index.html", headers=running.headers)
    assert page.status_code == 502
    assert f"the UI dev server at {source} is not reachable" in page.text
    assert "Start the dev server" in page.text
    assert page.headers["content-type"].startswith("text/plain")
    assert upgrade_status(running, {"Origin": running.url.rstrip("/")}, "/ws") == 403
    log = running.log()
    assert f"UI dev server {source} did not answer GET /index.html: Connection refused" in log
    assert f"UI dev server at {source} is not reachable for the WebSocket /ws (Connection refused)" in log


# --------------------------------------------------------------------------------------------
# WebSocket


def ws_url(running: RunningBridge, path: str) -> str:
    return running.websocket_url(path.lstrip("/"))


def test_websocket_relays_text_and_binary_with_the_subprotocol(proxy: RunningBridge, dev_server: str) -> None:
    with connect(
        ws_url(proxy, "/ws?token=abc%20d"),
        subprotocols=[Subprotocol("echo-v1"), Subprotocol("echo-v2")],
        origin=Origin(proxy.url.rstrip("/")),
        max_size=None,
    ) as ws:
        assert ws.subprotocol == "echo-v2"
        ws.send("hello")
        assert ws.recv(timeout=10) == "hello"
        ws.send(b"\x00\x01\xff")
        assert ws.recv(timeout=10) == b"\x00\x01\xff"
        large = bytes(range(256)) * 4096  # 1 MiB, one frame
        ws.send(large)
        assert ws.recv(timeout=10) == large
        ws.send("headers")
        seen = json.loads(ws.recv(timeout=10))
    assert seen["path"] == "/ws" and seen["query"] == "token=abc%20d"
    assert seen["subprotocols"] == ["echo-v1", "echo-v2"]
    headers = dict(seen["headers"])
    assert headers["host"] == upstream_host(dev_server)
    assert headers["origin"] == dev_server  # checked by the bridge, same-origin for the dev server


def test_websocket_without_subprotocol_on_the_root_path(proxy: RunningBridge) -> None:
    with connect(ws_url(proxy, "/?token=t")) as ws:
        assert ws.subprotocol is None
        ws.send("root")
        assert ws.recv(timeout=10) == "root"


def test_the_dev_servers_close_reaches_the_browser(proxy: RunningBridge) -> None:
    with connect(ws_url(proxy, "/ws")) as ws:
        ws.send("close 4001 dev server says bye")
        with pytest.raises(ConnectionClosed) as closed:
            ws.recv(timeout=10)
    assert closed.value.rcvd is not None
    assert (closed.value.rcvd.code, closed.value.rcvd.reason) == (4001, "dev server says bye")


def test_a_dropped_dev_server_connection_drops_the_browsers(proxy: RunningBridge) -> None:
    """No close frame upstream (the dev server stopped) → none to the browser either: Vite's
    client answers an unclean close by waiting for the server and reloading the page."""
    with connect(ws_url(proxy, "/ws")) as ws:
        ws.send("drop")
        with pytest.raises(ConnectionClosedError) as closed:
            ws.recv(timeout=10)
    assert closed.value.rcvd is None


def test_the_browsers_close_reaches_the_dev_server(proxy: RunningBridge) -> None:
    with connect(ws_url(proxy, "/ws")) as ws:
        ws.send("ping")
        assert ws.recv(timeout=10) == "ping"
        ws.close(4002, "page closed")

    def seen_by_the_dev_server() -> bool:
        return {"path": "/ws", "code": 4002} in httpx.get(
            proxy.url + "ws-closes", headers=proxy.headers
        ).json()

    deadline = time.monotonic() + 10
    while not seen_by_the_dev_server():
        assert time.monotonic() < deadline, "the dev server never saw the close"
        time.sleep(0.05)


def test_foreign_origins_cannot_reach_the_dev_server_through_the_bridge(
    proxy: RunningBridge, dev_server: str
) -> None:
    own = proxy.url.rstrip("/")
    for origin in ("http://evil.example", "null", f"{own}.evil.example", "http://localhost:1"):
        assert upgrade_status(proxy, {"Origin": origin}, "/ws") == 403, origin
    assert "refused the dev server WebSocket /ws from origin 'http://evil.example'" in proxy.log()
    for origin in (own, dev_server):
        assert upgrade_status(proxy, {"Origin": origin}, "/ws") == 101, origin
    # The Host check covers proxied sockets too (DNS rebinding).
    assert upgrade_status(proxy, {"Host": "evil.example", "Origin": "http://evil.example"}, "/ws") == 403


def test_a_websocket_the_dev_server_refuses_is_refused(proxy: RunningBridge, dev_server: str) -> None:
    assert upgrade_status(proxy, {"Origin": proxy.url.rstrip("/")}, "/app.js") == 403
    assert f"the UI dev server {dev_server} refused the WebSocket /app.js: HTTP 403" in proxy.log()


def test_the_dev_server_origin_may_use_rpc(proxy: RunningBridge, dev_server: str) -> None:
    """A page served by the dev server itself that loads the bridge's /ddclient.js (issue #6)."""
    with connect(proxy.ws_url, origin=Origin(dev_server)) as rpc:
        rpc.send(json.dumps({"jsonrpc": "2.0", "id": 1, "method": "host.info"}))
        assert json.loads(rpc.recv(timeout=10))["result"]["version"] == __version__
    assert upgrade_status(proxy, {"Origin": "http://evil.example"}, "/rpc") == 403

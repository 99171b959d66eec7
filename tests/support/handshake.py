"""Raw WebSocket handshakes, for the Host and Origin checks: a client library would add or fix
headers (a second Host, its own Origin) that these tests must control exactly."""

from __future__ import annotations

import json
import socket
from typing import Any

from websockets.exceptions import ConnectionClosed, InvalidHandshake
from websockets.sync.client import connect

from tests.support.processes import RunningBridge


def upgrade_status(
    running: RunningBridge, headers: dict[str, str], path: str = "/rpc", *, token: bool = True
) -> int:
    """The HTTP status of a WebSocket handshake to ``path`` with these headers (Host: the
    bridge's own unless given; the token unless ``token`` is false): 101 when accepted, 403 when
    refused."""
    fields = {"Host": f"127.0.0.1:{running.port}", **(running.headers if token else {}), **headers}
    lines = [
        f"GET {path} HTTP/1.1",
        "Upgrade: websocket",
        "Connection: Upgrade",
        "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==",
        "Sec-WebSocket-Version: 13",
        *(f"{name}: {value}" for name, value in fields.items()),
    ]
    with socket.create_connection(("127.0.0.1", running.port), timeout=10) as raw:
        raw.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
        status_line = raw.recv(4096).split(b"\r\n", 1)[0]
    return int(status_line.split()[1])


def rpc_answers(url: str, **kwargs: Any) -> bool:
    """True when a WebSocket to ``url`` (``kwargs`` for ``websockets.sync.client.connect``: any
    headers and subprotocols a client likes) answers a ``host.info`` call; False when refused."""
    try:
        with connect(url, open_timeout=10, close_timeout=2, **kwargs) as websocket:
            websocket.send(json.dumps({"jsonrpc": "2.0", "id": 1, "method": "host.info", "params": {}}))
            return "result" in json.loads(websocket.recv(timeout=10))
    except (ConnectionClosed, InvalidHandshake):
        return False

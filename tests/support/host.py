"""Calls of a running ``ddbridge host``'s management methods, as the CLI makes them: the token,
the shell's own origin (``localhost``), reached on loopback. A blocking client, so that browser
tests (whose thread Playwright's loop holds) and async tests can both use it."""

from __future__ import annotations

import json
import socket
from typing import Any

from websockets.sync.client import connect

from tests.support.processes import RunningBridge


def shell_call(running: RunningBridge, method: str, params: dict[str, Any] | None = None) -> Any:
    port = int(running.url.rsplit(":", 1)[1].strip("/"))
    headers = {"Authorization": f"Bearer {running.token}"}
    request = {"jsonrpc": "2.0", "id": 1, "method": method, "params": params or {}}
    opened = socket.create_connection(("127.0.0.1", port))
    with connect(f"ws://localhost:{port}/rpc", sock=opened, additional_headers=headers) as websocket:
        websocket.send(json.dumps(request))
        return json.loads(websocket.recv(10))["result"]

"""What the RPC fuzzing (test_rpc_fuzz.py) found, one minimal case each.

Each was a daemon bug, fixed since; the cases stay as regression tests, and the fuzz strategies
draw these inputs again.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from websockets.sync.client import connect

from tests.support.processes import RunningBridge

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def running(module_bridge: Callable[..., RunningBridge], backend_socket: Path) -> RunningBridge:
    return module_bridge("--backend-socket", backend_socket)


def answer(running: RunningBridge, frame: str) -> Any:
    """The daemon's answer to one text frame, parsed strictly (no NaN or Infinity)."""
    with connect(running.ws_url, open_timeout=10) as ws:
        ws.send(frame)
        text = ws.recv(timeout=10)
    assert isinstance(text, str)

    def refuse(name: str) -> Any:
        raise AssertionError(f"the daemon sent {name}, which is not JSON: {text[:300]}")

    return json.loads(text, parse_constant=refuse)


@pytest.mark.parametrize("request_id", [2**64, -(2**63) - 1, 123456789012345678901234567890])
def test_ids_past_64_bits_are_echoed_exactly(running: RunningBridge, request_id: int) -> None:
    """Spec section 5: the response's id is the request's. A parser that reads integers past
    64 bits as floats (orjson does) answers 1.2345678901234568e+29 for the last one."""
    reply = answer(running, f'{{"jsonrpc":"2.0","id":{request_id},"method":"host.info"}}')
    assert type(reply["id"]) is int and reply["id"] == request_id, reply


@pytest.mark.parametrize(
    "frame",
    [
        '{"jsonrpc":"2.0","id":NaN,"method":"host.info"}',
        '{"jsonrpc":"2.0","id":-Infinity,"method":"host.info"}',
        '{"jsonrpc":"2.0","id":1,"method":"host.info","params":{"x":NaN}}',
    ],
)
def test_nan_and_infinity_are_parse_errors(running: RunningBridge, frame: str) -> None:
    """They are not JSON (RFC 8259 section 6). Taken as numbers, an id of NaN went back as the
    bare word ``NaN`` (a frame no JSON parser reads) or as ``null``."""
    reply = answer(running, frame)
    assert reply["id"] is None and reply["error"]["code"] == -32700, reply


@pytest.mark.parametrize("url", ["/echo/\x13", "/echo\n/x", "/\x7f"])
def test_a_service_url_with_control_characters_is_invalid_params(running: RunningBridge, url: str) -> None:
    frame = json.dumps(
        {"jsonrpc": "2.0", "id": 1, "method": "service.request", "params": {"method": "GET", "url": url}}
    )
    reply = answer(running, frame)
    assert reply["error"]["code"] == -32602 and "url" in reply["error"]["message"], reply

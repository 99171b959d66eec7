"""Reliability (issue 6, item 4) in Chromium: an open page of the test UI survives its daemon
stopping (SIGTERM) and starting again on the same port with the same session secret.

What is asked of the shim: calls in flight reject with a clear error, a running stream gets
``onError``, a call made while the daemon is away waits (the shim reconnects with backoff,
250 ms doubling up to 5 s) and goes through once the daemon is back, later calls and streams
work, all without reloading the page.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.browser.helpers import ClientPage, wait_for
from tests.support.processes import RunningBridge

pytestmark = pytest.mark.browser

EXEC = "extension.host.cli.exec"
SERVICE_GET = "extension.vm.service.get"
# How long the daemon stays away: long enough for the backoff to have grown a few times.
DOWN_SECONDS = 3.0
# The shim's longest wait between two attempts (RECONNECT_MAX_DELAY_MS in ddclient.js): once the
# daemon is back, a waiting call goes through within it, plus a connection's set-up.
MAX_RETRY_DELAY = 5.0
RECOVERY_BOUND = MAX_RETRY_DELAY + 1.0
# Attempts while the daemon is away: backoff from 250 ms makes about five in DOWN_SECONDS plus a
# start-up; retrying without backoff would make dozens.
MAX_ATTEMPTS_WHILE_DOWN = 10


def test_the_page_survives_a_daemon_restart(
    bridge: Callable[..., RunningBridge],
    open_page: Callable[..., ClientPage],
    test_page_build: Path,
    backend_socket: Path,
    host_binaries: Path,
    tmp_path: Path,
) -> None:
    # Both starts sign browser sessions with this secret: the page's credential stays valid.
    env = {"DDBRIDGE_SERVER_SECRET_FILE": str(tmp_path / "session-secret")}
    args = ("--ui", test_page_build, "--backend-socket", backend_socket, "--host-binaries", host_binaries)
    first = bridge(*args, env=env)
    client = open_page(first.login_url())
    page = client.page
    # Chromium reports each refused connection attempt as a console error.
    client.allow_console(r"WebSocket connection to .* failed")
    attempts: list[float] = []
    page.on("websocket", lambda _socket: attempts.append(time.monotonic()))
    page.evaluate("() => { window.loadedOnce = true; }")  # gone if the page reloaded

    stream = client.stream(EXEC, "ticker", ["100000"])
    client.wait_until(stream, "s.events.length > 0")
    # A blocking exec that would run for minutes: the call is in flight when the daemon stops.
    page.evaluate("(path) => { window.inFlight = window.testApi.call(path, 'ticker', ['10000']); }", EXEC)
    wait_for(lambda: first.calls("exec.run"), what="the blocking exec to reach the daemon")

    assert first.stop() == 0
    stopped = time.monotonic()
    # The stream ends with onError, the call in flight rejects, both saying what happened.
    ended = client.wait_done(stream, timeout=5)
    assert ended["error"] is not None and ended.get("exitCode") is None, ended
    assert "connection to the daemon was lost while ticker was running" in ended["error"]["message"]
    in_flight = page.evaluate("() => window.inFlight")
    assert not in_flight["ok"], in_flight
    assert "connection to the daemon was lost before exec.run answered" in in_flight["error"]["message"]

    # A call made while the daemon is away waits for it, neither failing nor retrying in a loop.
    page.evaluate("(path) => { window.waiting = window.testApi.call(path, 'greet', ['again']); }", EXEC)
    attempts.clear()
    page.wait_for_timeout((DOWN_SECONDS - (time.monotonic() - stopped)) * 1000)
    pending = "() => Promise.race([window.waiting, new Promise((done) => setTimeout(done, 0, 'pending'))])"
    assert page.evaluate(pending) == "pending"
    second = bridge(*args, "--port", str(first.port), env=env)
    back = time.monotonic()
    waiting = page.evaluate("() => window.waiting")
    recovery = time.monotonic() - back
    down = back - stopped
    print(
        f"daemon away {down:.2f} s, {len(attempts)} attempts; a waiting call answered {recovery:.2f} s later"
    )
    assert waiting["ok"], waiting
    assert waiting["value"]["stdout"] == "hello again\n"
    assert recovery < RECOVERY_BOUND
    assert 1 <= len(attempts) <= MAX_ATTEMPTS_WHILE_DOWN, attempts

    # Later calls and streams work on the new daemon, in the same page.
    assert client.value(SERVICE_GET, "/text") == "plain words, not JSON"
    again = client.stream(EXEC, "greet", ["stream"])
    finished = client.wait_done(again)
    assert finished.get("exitCode") == 0 and finished.get("error") is None, finished
    assert page.evaluate("() => window.loadedOnce") is True
    assert second.calls("service.request"), "the later calls went to the new daemon"

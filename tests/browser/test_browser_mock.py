"""Record and replay in Chromium: the sample UI recorded against its real backend and host binary
(``dev --backend-cmd --record``), then replayed by ``serve --mock`` with no backend, no binaries
and no engine, showing the same results in the page."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from tests.browser.helpers import ClientPage
from tests.support.processes import REPO, RunningBridge, start_bridge

pytestmark = pytest.mark.browser

SAMPLE = REPO / "docker" / "sample-extension"
SAMPLE_BACKEND = 'exec python3 backend/main.py --socket "$DDBRIDGE_BACKEND_SOCKET"'
READY = "document.querySelector('[data-testid=app-title]') !== null"
NO_ENGINE = "unix:///nonexistent/docker.sock"


@pytest.fixture
def daemons(tmp_path: Path) -> Iterator[Callable[..., RunningBridge]]:
    started: list[RunningBridge] = []

    def start(*args: str | Path, command: str = "serve") -> RunningBridge:
        log = tmp_path / f"bridge-{len(started)}.log"
        started.append(start_bridge([str(arg) for arg in args], log, timeout=30, command=command))
        return started[-1]

    yield start
    for running in started:
        running.stop()


def click_through(page: Page) -> dict[str, str]:
    """GET /hello, the host binary's hello and a streamed count of 2: the texts the page shows."""
    shown = {}
    for button, panel in (("backend-hello", "backend-result"), ("binary-hello", "binary-result")):
        page.get_by_test_id(button).click()
        expect(page.get_by_test_id(panel)).to_have_attribute("data-status", "ok")
        shown[panel] = page.get_by_test_id(f"{panel}-text").inner_text()
    page.get_by_test_id("binary-count").fill("2")
    page.get_by_test_id("binary-count-start").click()
    expect(page.get_by_test_id("binary-stream")).to_have_attribute("data-status", "ok")
    shown["binary-stream"] = page.get_by_test_id("binary-stream-text").inner_text()
    return shown


def test_a_recording_replays_in_the_page(
    daemons: Callable[..., RunningBridge],
    open_page: Callable[..., ClientPage],
    sample_ui_build: Path,
    tmp_path: Path,
) -> None:
    recording = tmp_path / "session.json"
    real = daemons(SAMPLE, "--backend-cmd", SAMPLE_BACKEND, "--record", recording, command="dev")
    recorded = click_through(open_page(real.login_url(), ready=READY).page)
    assert "Hello from the sample backend" in recorded["backend-result"]
    assert "Hello, Moby!" in recorded["binary-result"]
    assert recorded["binary-stream"].startswith("count 1/2\ncount 2/2\n")
    assert real.stop() == 0

    (hello,) = [entry for entry in json.loads(recording.read_text())["service"] if entry["url"] == "/hello"]
    assert hello["body"]["time"] in recorded["backend-result"]

    replay = daemons("--ui", sample_ui_build, "--mock", recording, "--docker-host", NO_ENGINE)
    assert click_through(open_page(replay.login_url(), ready=READY).page) == recorded

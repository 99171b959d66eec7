"""The sample extension (docker/sample-extension) as a user sees it: its UI in Chromium, served by
ddbridge with its real backend on a unix socket and its real host binary."""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Route, expect

from tests.browser.helpers import ClientPage, wait_for
from tests.support.processes import REPO, RunningBridge, free_port, running_binary

pytestmark = pytest.mark.browser

SAMPLE = REPO / "docker" / "sample-extension"
BACKEND = SAMPLE / "backend" / "main.py"
BINARIES = SAMPLE / "binaries" / "linux"
READY = "document.querySelector('[data-testid=app-title]') !== null"


def start_sample_backend(*args: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen([sys.executable, str(BACKEND), *args], stderr=subprocess.PIPE)


def wait_connectable(address: str | tuple[str, int], process: subprocess.Popen[bytes]) -> None:
    family = socket.AF_UNIX if isinstance(address, str) else socket.AF_INET

    def connects() -> bool:
        if process.poll() is not None:
            stderr = process.stderr.read().decode() if process.stderr else ""
            raise AssertionError(f"the sample backend exited with {process.returncode}: {stderr}")
        with socket.socket(family) as probe:
            try:
                probe.connect(address)
            except OSError:
                return False
            return True

    wait_for(connects, what=f"the sample backend on {address}")


def stop(process: subprocess.Popen[bytes]) -> tuple[int, str]:
    process.send_signal(signal.SIGTERM)
    _, stderr = process.communicate(timeout=10)
    return process.returncode, stderr.decode()


@pytest.fixture(scope="module")
def sample_socket(short_tmp: Path) -> Iterator[Path]:
    """The sample backend on a unix socket under a short /tmp path, as in its container."""
    path = short_tmp / "sample.sock"
    process = start_sample_backend("--socket", str(path))
    wait_connectable(str(path), process)
    yield path
    code, stderr = stop(process)
    assert code == 0, stderr
    assert not path.exists(), "the backend removes its socket when it stops"


@pytest.fixture(scope="module")
def sample_bridge(
    module_bridge: Callable[..., RunningBridge], sample_ui_build: Path, sample_socket: Path
) -> RunningBridge:
    return module_bridge(
        "--ui", sample_ui_build, "--backend-socket", sample_socket, "--host-binaries", BINARIES
    )


@pytest.fixture
def sample_page(open_page: Callable[..., ClientPage], sample_bridge: RunningBridge) -> ClientPage:
    return open_page(sample_bridge.login_url(), ready=READY)


def sample_cli_processes(args: str) -> list[str]:
    """PIDs of ``sample-cli ARGS`` processes (odd arguments keep other users of the file apart)."""
    cli = running_binary(BINARIES / "sample-cli")
    return [str(process.pid) for process in cli if f" {args}" in f"{process.command} "]


def test_service_and_binary_calls_show_in_the_page(sample_page: ClientPage, artifacts: Path) -> None:
    page = sample_page.page
    expect(page.get_by_test_id("app-title")).to_have_text("Sample extension")
    expect(page.get_by_test_id("host-platform")).to_have_text(sys.platform)
    expect(page.get_by_test_id("host-hostname")).to_have_text(socket.gethostname())

    page.get_by_test_id("backend-hello").click()
    backend = page.get_by_test_id("backend-result")
    expect(backend).to_have_attribute("data-status", "ok")
    expect(backend).to_contain_text("Hello from the sample backend")
    expect(backend).to_contain_text("200 OK")
    answer = json.loads(page.get_by_test_id("backend-result-text").inner_text())
    assert answer["message"] == "Hello from the sample backend"
    assert answer["time"].endswith("+00:00")

    page.get_by_test_id("binary-name").fill("Playwright")
    page.get_by_test_id("binary-hello").click()
    binary = page.get_by_test_id("binary-result")
    expect(binary).to_have_attribute("data-status", "ok")
    expect(binary).to_contain_text("Hello, Playwright! This is sample-cli on Linux")
    expect(binary).to_contain_text("exit code 0")

    page.get_by_test_id("binary-count").fill("3")
    page.get_by_test_id("binary-count-start").click()
    stream = page.get_by_test_id("binary-stream")
    expect(stream).to_have_attribute("data-status", "ok")
    expect(page.get_by_test_id("binary-stream-text")).to_have_text(
        "count 1/3\ncount 2/3\ncount 3/3\n[stderr] done counting to 3\n"
    )
    page.screenshot(path=artifacts / "sample-extension.png", full_page=True)


def test_the_header_shows_the_icon_metadata_json_names(sample_page: ClientPage) -> None:
    icon = sample_page.page.get_by_test_id("app-icon")
    expect(icon).to_be_visible()
    assert icon.evaluate("image => image.complete && image.naturalWidth > 0"), "the icon did not load"
    source = icon.get_attribute("src") or ""
    name = json.loads((SAMPLE / "metadata.json").read_text())["icon"]
    assert urllib.parse.unquote(source.partition(",")[2]).strip() == (SAMPLE / name).read_text().strip()


def test_echo_posts_json_to_the_backend(sample_page: ClientPage) -> None:
    page = sample_page.page
    page.get_by_test_id("backend-note").fill("héllo 👋")
    page.get_by_test_id("backend-echo").click()
    expect(page.get_by_test_id("backend-result")).to_have_attribute("data-status", "ok")
    echoed = json.loads(page.get_by_test_id("backend-result-text").inner_text())
    assert echoed["note"] == "héllo 👋"
    assert "sentAt" in echoed


def test_stop_ends_the_streaming_binary(sample_page: ClientPage) -> None:
    page = sample_page.page
    page.get_by_test_id("binary-count").fill("987")
    page.get_by_test_id("binary-count-start").click()
    output = page.get_by_test_id("binary-stream-text")
    expect(output).to_contain_text("count 2/987")
    assert sample_cli_processes("count 987 "), "sample-cli count should be running"
    page.get_by_test_id("binary-count-stop").click()
    stream = page.get_by_test_id("binary-stream")
    expect(stream).to_have_attribute("data-status", "error")
    expect(stream).to_contain_text("stopped (exit code 143)")
    wait_for(lambda: sample_cli_processes("count 987 ") == [], timeout=5, what="sample-cli to be gone")


def test_toasts_and_docs_link(sample_page: ClientPage, sample_bridge: RunningBridge) -> None:
    page = sample_page.page
    for level in ("success", "warning", "error"):
        page.get_by_test_id(f"toast-{level}").click()
    toasts = page.locator("[data-ddbridge-toast]")
    expect(toasts).to_have_text(["Everything worked.", "This needs your attention.", "Something went wrong."])

    def fake_docs(route: Route) -> None:
        route.fulfill(status=200, content_type="text/html", body="<title>docs stand-in</title>")

    page.context.route("https://docs.docker.com/**", fake_docs)
    with page.context.expect_page() as new_tab:
        page.get_by_test_id("open-docs").click()
    new_tab.value.wait_for_load_state()
    assert new_tab.value.url == "https://docs.docker.com/extensions/"
    wait_for(lambda: "opens https://docs.docker.com/extensions/" in sample_bridge.log(), what="the log line")


def test_dark_theme(sample_page: ClientPage, artifacts: Path) -> None:
    page = sample_page.page
    page.emulate_media(color_scheme="dark")
    expect(page.locator("body")).to_have_css("background-color", "rgb(32, 44, 51)")  # Docker's #202C33
    page.get_by_test_id("backend-hello").click()
    expect(page.get_by_test_id("backend-result")).to_have_attribute("data-status", "ok")
    page.screenshot(path=artifacts / "sample-extension-dark.png", full_page=True)


# --------------------------------------------------------------------------------------------
# The backend on its own


def test_backend_over_tcp() -> None:
    port = free_port()
    process = start_sample_backend("--port", str(port))
    try:
        wait_connectable(("127.0.0.1", port), process)
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/hello", timeout=5) as response:
            hello = json.load(response)
        assert hello["message"] == "Hello from the sample backend"
        request = urllib.request.Request(
            f"http://127.0.0.1:{port}/echo",
            data=json.dumps({"a": [1, 2], "b": None}).encode(),
            headers={"Content-Type": "application/json"},
            method="POST",
        )
        with urllib.request.urlopen(request, timeout=5) as response:
            assert json.load(response) == {"a": [1, 2], "b": None}
    finally:
        code, stderr = stop(process)
    assert code == 0, stderr


def test_backend_replaces_a_stale_socket(short_tmp: Path) -> None:
    path = short_tmp / "stale.sock"
    leftover = socket.socket(socket.AF_UNIX)
    leftover.bind(str(path))
    leftover.close()  # the file stays, as after a crash: connecting to it is refused
    with socket.socket(socket.AF_UNIX) as probe, pytest.raises(ConnectionRefusedError):
        probe.connect(str(path))
    process = start_sample_backend("--socket", str(path))
    try:
        wait_connectable(str(path), process)  # a live socket in its place
    finally:
        started = time.monotonic()
        code, stderr = stop(process)
    assert code == 0, stderr
    assert time.monotonic() - started < 5
    assert not path.exists()

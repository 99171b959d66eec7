"""Browser tests: the real ``@docker/extension-api-client`` bundle in Debian's Chromium, driven by
Playwright's sync API, against a real ``ddbridge serve``.

The bundles (tests/browser/page, docker/sample-extension/ui) are built once per session with
``node scripts/build-ui.mjs`` when their build output is missing or older than their sources.
Each test module carries ``pytestmark = pytest.mark.browser``. Every page is watched: an
uncaught page error or a console error fails the test at teardown unless the test declared it
expected with ``client_page.allow_console(pattern)``.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import Browser, BrowserContext, Route, sync_playwright

from tests.browser.helpers import ClientPage
from tests.conftest import write_host_tools
from tests.support.dockerd import EngineUnderTest
from tests.support.processes import RunningBridge, start_bridge

REPO = Path(__file__).resolve().parents[2]
ARTIFACTS = REPO / "test-artifacts" / "browser"
BUILD_SCRIPT = REPO / "scripts" / "build-ui.mjs"
UI_FOLDERS = {
    "test-page": REPO / "tests" / "browser" / "page",
    "sample-ui": REPO / "docker" / "sample-extension" / "ui",
}
# Files a bundle imports from outside its src/ folder: the sample's header shows metadata.json's icon.
UI_IMPORTS = {"sample-ui": [REPO / "docker" / "sample-extension" / "docker.svg"]}

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
]
LOOPBACK_HOSTS = {"127.0.0.1", "localhost", "::1"}


# --------------------------------------------------------------------------------------------
# Bundles


def _newest_mtime(paths: list[Path]) -> float:
    return max(path.stat().st_mtime for path in paths)


def _is_stale(name: str, folder: Path) -> bool:
    outputs = [folder / "build" / "index.html", folder / "build" / "main.js"]
    if not all(path.is_file() for path in outputs):
        return True
    sources = [path for path in (folder / "src").rglob("*") if path.is_file()]
    sources += [BUILD_SCRIPT, *UI_IMPORTS.get(name, [])]
    return min(path.stat().st_mtime for path in outputs) < _newest_mtime(sources)


def _build(name: str) -> Path:
    """The build folder of bundle ``name``, (re)built when missing or out of date."""
    folder = UI_FOLDERS[name]
    if _is_stale(name, folder):
        node = shutil.which("node")
        if node is None:
            pytest.fail("node is needed to build the browser test bundles (scripts/build-ui.mjs)")
        done = subprocess.run(
            [node, str(BUILD_SCRIPT), name], cwd=REPO, capture_output=True, text=True, timeout=120
        )
        if done.returncode != 0:
            pytest.fail(f"node scripts/build-ui.mjs {name} failed:\n{done.stdout}{done.stderr}")
    return folder / "build"


@pytest.fixture(scope="session")
def test_page_build() -> Path:
    return _build("test-page")


@pytest.fixture(scope="session")
def sample_ui_build() -> Path:
    return _build("sample-ui")


# --------------------------------------------------------------------------------------------
# Daemons shared by a module


@pytest.fixture(scope="module")
def module_bridge(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Callable[..., RunningBridge]]:
    """Like the ``bridge`` fixture, but the daemons live for the whole test module."""
    logs = tmp_path_factory.mktemp("bridge-logs")
    started: list[RunningBridge] = []

    def start(*args: str | Path) -> RunningBridge:
        running = start_bridge([str(arg) for arg in args], logs / f"bridge-{len(started)}.log")
        started.append(running)
        return running

    yield start
    for running in started:
        running.stop()


@pytest.fixture(scope="module")
def module_binaries(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The suite's host tools (``write_host_tools`` in tests/conftest.py), in a folder the module shares."""
    return write_host_tools(tmp_path_factory.mktemp("binaries"))


@pytest.fixture(scope="module")
def page_bridge(
    module_bridge: Callable[..., RunningBridge],
    test_page_build: Path,
    backend_socket: Path,
    module_binaries: Path,
) -> RunningBridge:
    """A daemon serving the test page, with the unix-socket test backend and the test tools."""
    return module_bridge(
        "--ui", test_page_build, "--backend-socket", backend_socket, "--host-binaries", module_binaries
    )


@pytest.fixture(scope="module")
def docker_page_bridge(
    module_bridge: Callable[..., RunningBridge], test_page_build: Path, engine: EngineUnderTest
) -> RunningBridge:
    """A daemon serving the test page, on the test engine with its "vm" container."""
    return module_bridge("--ui", test_page_build, "--docker-host", engine.host, "--vm-container", engine.vm)


# --------------------------------------------------------------------------------------------
# Chromium and pages


@pytest.fixture(scope="session")
def chromium() -> Iterator[Browser]:
    if not CHROMIUM.is_file():
        pytest.fail(
            f"{CHROMIUM} is missing: the browser tests drive Debian's Chromium "
            "(apt-get install chromium); they never download Playwright's own browsers"
        )
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield browser
        browser.close()


def _only_loopback(route: Route) -> None:
    """The network is closed: anything but the local daemon is aborted, not attempted."""
    host = urlsplit(route.request.url).hostname or ""
    if host in LOOPBACK_HOSTS or host.endswith(".localhost"):  # RFC 6761: loopback too
        route.fallback()
    else:
        route.abort("blockedbyclient")


def _new_context(chromium: Browser) -> BrowserContext:
    context = chromium.new_context(viewport={"width": 1100, "height": 900}, color_scheme="light")
    context.set_default_timeout(15_000)
    context.route(re.compile(r"^https?://"), _only_loopback)
    return context


def _open(context: BrowserContext, url: str, ready: str) -> ClientPage:
    client_page = ClientPage(context.new_page())
    client_page.page.goto(url)
    client_page.page.wait_for_function(ready)
    return client_page


def _fail_on_page_errors(pages: list[ClientPage]) -> None:
    problems = [problem for client_page in pages for problem in client_page.unexpected_errors()]
    if problems:
        pytest.fail("unexpected errors in the page:\n  " + "\n  ".join(problems), pytrace=False)


READY = "window.testPageReady === true"


@pytest.fixture
def browser_context(chromium: Browser) -> Iterator[BrowserContext]:
    """A fresh browser context (cookies, storage, pages) for one test."""
    context = _new_context(chromium)
    yield context
    context.close()


@pytest.fixture
def open_page(browser_context: BrowserContext) -> Iterator[Callable[..., ClientPage]]:
    """Opens a URL of a daemon in a fresh page and waits until ``ready`` (a JS expression) holds.

    Fails the test at teardown on any unexpected page error or console error.
    """
    opened: list[ClientPage] = []

    def open_(url: str, ready: str = READY) -> ClientPage:
        opened.append(_open(browser_context, url, ready))
        return opened[-1]

    yield open_
    _fail_on_page_errors(opened)


@pytest.fixture(scope="module")
def _module_pages(chromium: Browser) -> Iterator[tuple[BrowserContext, dict[str, ClientPage]]]:
    """A browser context kept for a module, and its open pages by URL."""
    context = _new_context(chromium)
    yield context, {}
    context.close()


@pytest.fixture
def shared_page(
    _module_pages: tuple[BrowserContext, dict[str, ClientPage]],
) -> Iterator[Callable[..., ClientPage]]:
    """Like ``open_page``, but one page per URL is kept for the whole module (loading the bundle
    for each of many small calls would dominate the suite's time). Errors are checked per test.
    """
    context, pages = _module_pages
    used: list[ClientPage] = []

    def get(url: str, ready: str = READY) -> ClientPage:
        client_page = pages.get(url)
        if client_page is None or client_page.page.is_closed():
            client_page = pages[url] = _open(context, url, ready)
        client_page.reset_errors()
        used.append(client_page)
        return client_page

    yield get
    _fail_on_page_errors(used)


@pytest.fixture
def client_page(open_page: Callable[..., ClientPage], page_bridge: RunningBridge) -> ClientPage:
    """The test page, served by the module's ``page_bridge``."""
    return open_page(page_bridge.login_url())


@pytest.fixture(scope="session")
def artifacts() -> Path:
    """test-artifacts/browser/: screenshots worth looking at (git-ignored)."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return ARTIFACTS

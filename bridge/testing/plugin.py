"""The pytest plugin (entry point ``pytest11``: ``ddbridge``): fixtures that test an extension's
UI through a real bridge.

    pytest --ddbridge-extension my-extension/          # ddbridge dev my-extension/
    pytest --ddbridge-image my-org/my-extension:1.0    # ddbridge run IMAGE
    pytest --ddbridge-mock session.json                # ddbridge serve --mock FILE (with the above: added)

Fixtures: ``ddbridge`` (session; the running bridge, ``.url``), ``ddbridge_rpc`` (a blocking RPC
client), ``ddbridge_client`` (the async ``BridgeClient``, when pytest-asyncio is installed),
``ddbridge_calls`` (the calls made during the test) and ``ddbridge_page`` (a Playwright page on
the bridge's UI). Every option has an ini setting (``ddbridge_extension``…; paths in the ini
file are relative to it). Without an extension, image or mock file the fixtures skip the test,
saying which option is missing: the rest of a suite still runs without a bridge.
"""

from __future__ import annotations

import importlib.util
import os
import shlex
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from bridge.testing.client import BridgeClient
from bridge.testing.launcher import BridgeStartError, Call, RunningBridge, start_bridge
from bridge.testing.sync import SyncBridgeClient

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page

BROWSER_ENV = "DDBRIDGE_BROWSER"
DEBIAN_CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
NOTHING_TO_SERVE = (
    "ddbridge: no extension to serve; pass --ddbridge-extension DIR, --ddbridge-image IMAGE or "
    "--ddbridge-mock FILE (or set ddbridge_extension / ddbridge_image / ddbridge_mock in the ini file)"
)


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("ddbridge", "ddbridge: test Docker Desktop extension UIs in a browser")
    options = [
        ("extension", "DIR", "the extension's source folder, served with `ddbridge dev DIR`"),
        ("image", "IMAGE", "the extension image, served with `ddbridge run IMAGE` (with DIR: dev --image)"),
        ("mock", "FILE", "answer the extension's calls from FILE (`--mock FILE`)"),
        ("browser", "PATH", f"the Chromium ddbridge_page drives (also ${BROWSER_ENV})"),
        ("timeout", "SECONDS", "how long the bridge may take to start (default 120)"),
    ]
    for name, metavar, help_text in options:
        group.addoption(f"--ddbridge-{name}", metavar=metavar, help=help_text)
        parser.addini(f"ddbridge_{name}", help_text)
    group.addoption(
        "--ddbridge-arg",
        action="append",
        default=[],
        metavar="ARG",
        help="an extra argument to the ddbridge command (repeatable: --ddbridge-arg=--backend-cmd=...)",
    )
    parser.addini("ddbridge_args", "extra arguments to the ddbridge command (shell words)", type="args")


def _setting(config: pytest.Config, name: str, path: bool = False) -> str | None:
    """An option, else its ini setting; a relative path is taken from where it was written."""
    value: str | None = config.getoption(f"--ddbridge-{name}")
    base = config.invocation_params.dir
    if value is None:
        value = config.getini(f"ddbridge_{name}") or None
        base = config.inipath.parent if config.inipath is not None else config.rootpath
    if value is None or not path:
        return value
    return str(base / Path(value).expanduser())


def bridge_command(config: pytest.Config) -> list[str] | None:
    """The ddbridge command line (after ``ddbridge``) the settings ask for; None without any."""
    extension = _setting(config, "extension", path=True)
    image = _setting(config, "image")
    mock = _setting(config, "mock", path=True)
    if extension is not None:
        command = ["dev", extension, *(["--image", image] if image is not None else [])]
    elif image is not None:
        command = ["run", image]
    elif mock is not None:
        command = ["serve"]
    else:
        return None
    extra = [*config.getini("ddbridge_args"), *config.getoption("--ddbridge-arg")]
    return command + (["--mock", mock] if mock is not None else []) + extra


@pytest.fixture(scope="session")
def ddbridge(
    pytestconfig: pytest.Config, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[RunningBridge]:
    """The bridge for the configured extension, image or mock file, shared by the session."""
    command = bridge_command(pytestconfig)
    if command is None:
        pytest.skip(NOTHING_TO_SERVE)
    log_path = tmp_path_factory.mktemp("ddbridge") / "bridge.log"
    timeout = float(_setting(pytestconfig, "timeout") or 120)
    try:
        running = start_bridge(command[1:], log_path, timeout=timeout, command=command[0])
    except BridgeStartError as error:
        pytest.fail(f"ddbridge {shlex.join(command)}: {error}", pytrace=False)
    yield running
    running.stop()


@pytest.fixture
def ddbridge_rpc(ddbridge: RunningBridge) -> Iterator[SyncBridgeClient]:
    """A blocking client of the bridge's RPC (its own connection): ``ddbridge_rpc.call(method, params)``."""
    with SyncBridgeClient.connect(ddbridge.ws_url) as client:
        yield client


class CallLog:
    """The RPC calls made since the test started (by its pages or clients), from the event log."""

    def __init__(self, bridge: RunningBridge) -> None:
        self._bridge = bridge
        self._after = max((event.get("seq", 0) for event in bridge.events()), default=0)

    def __call__(self, method: str | None = None) -> list[Call]:
        """The calls so far, of ``method`` only when given."""
        return self._bridge.calls(method, after=self._after)

    def wait_for(self, method: str, timeout: float = 10) -> Call:
        """The first answered call of ``method``, waiting for a page that has yet to make it."""
        deadline = time.monotonic() + timeout
        while True:
            answered = [call for call in self(method) if call.answered]
            if answered:
                return answered[0]
            if time.monotonic() > deadline:
                seen = ", ".join(call.method for call in self()) or "none"
                raise AssertionError(f"no answered {method} call within {timeout} s (calls seen: {seen})")
            time.sleep(0.05)


@pytest.fixture
def ddbridge_calls(ddbridge: RunningBridge) -> CallLog:
    """The calls made during this test: ``ddbridge_calls("service.request")``, ``.wait_for(method)``."""
    return CallLog(ddbridge)


if importlib.util.find_spec("pytest_asyncio") is not None:
    import pytest_asyncio

    @pytest_asyncio.fixture
    async def ddbridge_client(ddbridge: RunningBridge) -> AsyncIterator[BridgeClient]:
        """An async ``BridgeClient`` connected to the bridge (needs pytest-asyncio)."""
        async with BridgeClient.connect(ddbridge.ws_url) as client:
            yield client


def _browser_path(config: pytest.Config, bundled: str) -> str | None:
    """The configured browser, else Playwright's own when installed, else Debian's Chromium."""
    configured = config.getoption("--ddbridge-browser") or os.environ.get(BROWSER_ENV)
    if configured:
        return str(configured)
    configured = _setting(config, "browser", path=True)
    if configured:
        return configured
    for candidate in (Path(bundled), DEBIAN_CHROMIUM):
        if candidate.is_file():
            return str(candidate)
    return None


@pytest.fixture(scope="session")
def ddbridge_browser(pytestconfig: pytest.Config) -> Iterator[Browser]:
    """Chromium driven by Playwright's sync API, for the session."""
    if importlib.util.find_spec("playwright") is None:
        pytest.skip("ddbridge_page needs Playwright: pip install playwright")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        executable = _browser_path(pytestconfig, playwright.chromium.executable_path)
        if executable is None:
            pytest.skip(
                "ddbridge_page found no Chromium: pass --ddbridge-browser PATH (or set "
                f"${BROWSER_ENV}), run `playwright install chromium` or install Debian's chromium"
            )
        browser = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def ddbridge_page(ddbridge_browser: Browser, ddbridge: RunningBridge) -> Iterator[Page]:
    """A fresh Playwright page (own context: cookies, storage) opened on the bridge's UI."""
    context = ddbridge_browser.new_context()
    page = context.new_page()
    page.goto(ddbridge.login_url())
    # The login page stores the page credential in the origin's storage and goes on by itself.
    page.wait_for_url(lambda url: "token=" not in url)
    yield page
    context.close()

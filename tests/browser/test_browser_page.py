"""The test page in Chromium: Docker's MUI theme, host facts, toasts, openExternal, and the
calls whose daemon side is not there yet — all through the bundled extension-api-client."""

from __future__ import annotations

import platform
import re
import shutil
import socket
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from playwright.sync_api import Route, expect

from tests.browser.conftest import READY
from tests.browser.helpers import ClientPage, wait_for
from tests.support.processes import RunningBridge

pytestmark = pytest.mark.browser

NODE_ARCH = {"x86_64": "x64", "amd64": "x64", "aarch64": "arm64", "arm64": "arm64"}


def test_theme_renders_visible_content(client_page: ClientPage, artifacts: Path) -> None:
    page = client_page.page
    expect(page.get_by_test_id("title")).to_have_text("ddbridge test page")
    expect(page.get_by_test_id("host-card")).to_be_visible()
    button = page.get_by_test_id("backend-get")
    expect(button).to_be_visible()
    # The theme comes from the shim's window.__ddMuiV5Themes: Docker's primary (#007BFF) on
    # contained buttons, Open Sans first, no upper-cased button labels (test_browser_theme.py
    # checks the rest of Docker's theme).
    style = button.evaluate(
        "el => { const s = getComputedStyle(el);"
        " return {bg: s.backgroundColor, transform: s.textTransform, font: s.fontFamily}; }"
    )
    assert style == {
        "bg": "rgb(0, 123, 255)",
        "transform": "none",
        "font": '"Open SansVariable", "Helvetica Neue", sans-serif',
    }
    assert page.evaluate("document.body.innerText.length") > 100
    box = page.get_by_test_id("host-card").bounding_box()
    assert box is not None and box["width"] > 500 and box["height"] > 50
    page.screenshot(path=artifacts / "test-page.png", full_page=True)


def test_the_client_is_the_shims_object(client_page: ClientPage) -> None:
    same = client_page.page.evaluate("window.testApi.client === window.ddClient")
    assert same, "createDockerDesktopClient() must return the shim's window.ddClient"


def test_host_facts_match_the_daemons_host(client_page: ClientPage) -> None:
    host = client_page.page.evaluate(
        "() => { const {platform, arch, hostname} = window.testApi.client.host;"
        " return {platform, arch, hostname}; }"
    )
    machine = platform.machine().lower()
    assert host == {
        "platform": sys.platform,
        "arch": NODE_ARCH.get(machine, machine),
        "hostname": socket.gethostname(),
    }
    page = client_page.page
    expect(page.get_by_test_id("host-platform")).to_have_text(sys.platform)
    expect(page.get_by_test_id("host-arch")).to_have_text(host["arch"])
    expect(page.get_by_test_id("host-hostname")).to_have_text(socket.gethostname())


def test_buttons_call_the_backend_and_a_host_binary(client_page: ClientPage) -> None:
    page = client_page.page
    page.get_by_test_id("backend-get").click()
    result = page.get_by_test_id("backend-result")
    expect(result).to_have_attribute("data-ok", "true")
    expect(result).to_contain_text('"query": "from=button"')
    page.get_by_test_id("binary-run").click()
    expect(page.get_by_test_id("binary-result")).to_contain_text('"stdout": "hello from button\\n"')


def test_toasts_v1_and_v0_show_in_the_page_and_the_daemon_log(
    client_page: ClientPage, page_bridge: RunningBridge
) -> None:
    page = client_page.page
    page.get_by_test_id("toast-success").click()
    for path, message in [
        ("desktopUI.toast.warning", "v1 warning toast"),
        ("desktopUI.toast.error", "v1 error toast"),
        ("toastSuccess", "v0 success toast"),
        ("toastWarning", "v0 warning toast"),
        ("toastError", "v0 error toast"),
    ]:
        assert client_page.value(path, message) is None
    toasts = page.locator("[data-ddbridge-toast]")
    expect(toasts).to_have_count(6)
    expect(toasts).to_have_text(
        [
            "Saved from the button",
            "v1 warning toast",
            "v1 error toast",
            "v0 success toast",
            "v0 warning toast",
            "v0 error toast",
        ]
    )
    levels = [toasts.nth(i).get_attribute("data-ddbridge-toast") for i in range(6)]
    assert levels == ["success", "warning", "error", "success", "warning", "error"]
    expect(toasts.first).to_be_visible()

    expected = [
        ("INFO", "success", "Saved from the button"),
        ("WARNING", "warning", "v1 warning toast"),
        ("ERROR", "error", "v1 error toast"),
        ("INFO", "success", "v0 success toast"),
        ("WARNING", "warning", "v0 warning toast"),
        ("ERROR", "error", "v0 error toast"),
    ]

    def all_logged() -> bool:
        log = page_bridge.log()
        return all(
            re.search(rf"{level} \S+: toast {kind} from .*: {re.escape(text)}$", log, re.MULTILINE)
            for level, kind, text in expected
        )

    wait_for(all_logged, what=lambda: f"the six toasts in the daemon log:\n{page_bridge.log()}")


def test_open_external_opens_a_tab(client_page: ClientPage, page_bridge: RunningBridge) -> None:
    page = client_page.page
    requested: list[str] = []

    def fake_site(route: Route) -> None:
        requested.append(route.request.url)
        route.fulfill(status=200, content_type="text/html", body="<title>stand-in</title>")

    page.context.route("https://example.com/**", fake_site)
    with page.context.expect_page() as new_tab:
        assert client_page.value("host.openExternal", "https://example.com/") is None
    tab = new_tab.value
    tab.wait_for_load_state()
    assert tab.url == "https://example.com/"
    assert requested == ["https://example.com/"]
    wait_for(
        lambda: "opens https://example.com/" in page_bridge.log(),
        what="the daemon to log the opened URL",
    )
    tab.close()


def test_open_external_refuses_other_schemes(client_page: ClientPage) -> None:
    opened: list[str] = []
    client_page.page.context.on("page", lambda tab: opened.append(tab.url))
    for url in ["file:///etc/passwd", "javascript:alert(1)", "not a url"]:
        for path in ["host.openExternal", "openExternal"]:
            error = client_page.error(path, url)
            assert error["isError"]
            assert "refused" in error["message"]
            assert "http" in error["message"]
    client_page.page.wait_for_timeout(200)
    assert opened == []


# The page loads the favicon the way the tab would (headless Chromium never asks for it itself);
# a 404 is the console error ("Failed to load resource") the fixture fails a test on. The query
# only gets it past Playwright, whose request interception fails every URL ending in
# /favicon.ico; the bridge answers by path.
LOAD_FAVICON = """() => new Promise((resolve) => {
    const img = new Image();
    img.onload = () => resolve(img.naturalWidth);
    img.onerror = () => resolve(-1);
    img.src = "/favicon.ico?from-the-page";
})"""


def test_a_page_that_names_no_icon_gets_the_bridges_without_a_console_error(
    open_page: Callable[..., ClientPage],
    module_bridge: Callable[..., RunningBridge],
    test_page_build: Path,
    tmp_path: Path,
) -> None:
    """The test page without its ``<link rel="icon">``: what a browser then loads is
    ``/favicon.ico``, which is the bridge's icon (the UI names none, nor an extension)."""
    ui = shutil.copytree(test_page_build, tmp_path / "ui")
    index = ui / "index.html"
    page_html = index.read_text()
    assert 'rel="icon"' in page_html
    index.write_text(re.sub(r"<link rel=\"icon\"[^>]*>", "", page_html))
    running = module_bridge("--ui", ui)
    client_page = open_page(running.login_url(), READY)
    assert client_page.page.evaluate("document.querySelector('link[rel~=icon]')") is None
    assert client_page.page.evaluate(LOAD_FAVICON) == 32  # the bridge's icon, 32 px wide

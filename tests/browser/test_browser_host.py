"""The extensions host's page in Chromium: an extension installed from the page (pulled from a
real local registry, its progress shown live), opened from the navigation in a frame of its own
origin whose calls work (the shell hands the frame its credential), the Docker pages beside it,
a removal from the page; and the screenshots of the README, light and dark."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path

import pytest
from playwright.sync_api import BrowserContext, Page, expect

from tests.support.dockerd import EngineUnderTest
from tests.support.images import import_files
from tests.support.processes import REPO, RunningBridge
from tests.support.registry import Registry

pytestmark = pytest.mark.browser

DOCS = REPO / "docs" / "images"
ICON = (
    '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 24 24"><rect width="24" height="24" rx="5" '
    'fill="{colour}"/><path d="M6 7h12v2H6zm0 4h12v2H6zm0 4h8v2H6z" fill="#fff"/></svg>'
)
# The page lists the engine's containers through ddClient: an RPC call from the framed origin.
UI = """<!doctype html><html><head><title>{title}</title></head>
<body style="font-family: system-ui; padding: 24px">
<h1>{title}</h1><p id="calls">calling…</p>
<script>
window.ddClient.docker.listContainers({{all: true}}).then(
  (listed) => {{ document.getElementById("calls").textContent = `containers: ${{listed.length}}`; }},
  (error) => {{ document.getElementById("calls").textContent = `failed: ${{error.message}}`; }});
</script></body></html>"""


def pushed_extension(engine: EngineUnderTest, registry: Registry, name: str, title: str, colour: str) -> str:
    metadata = {
        "icon": "icon.svg",
        "ui": {"dashboard-tab": {"title": title, "root": "/ui", "src": "index.html"}},
    }
    files = {
        "metadata.json": json.dumps(metadata),
        "icon.svg": ICON.format(colour=colour),
        "ui/index.html": UI.format(title=title),
    }
    local = import_files(engine, f"local/{name}:1", files)
    return registry.push(engine, local, f"acme/{name}:1.0", remove_source=True).reference


@pytest.fixture
def shell(
    bridge: Callable[..., RunningBridge],
    engine: EngineUnderTest,
    tmp_path: Path,
    browser_context: BrowserContext,
) -> tuple[RunningBridge, Page]:
    env = {"XDG_DATA_HOME": str(tmp_path / "data"), "XDG_CACHE_HOME": str(tmp_path / "cache")}
    running = bridge("--docker-host", engine.host, env=env, command="host", timeout=60)
    page = browser_context.new_page()
    page.goto(running.login_url())
    expect(page.locator("h1")).to_have_text("Extensions")  # nothing installed: the Extensions page
    return running, page


def install_from_the_page(page: Page, reference: str) -> None:
    page.locator("#install-image").fill(reference)
    page.get_by_role("button", name="Install").click()
    operation = page.locator(".operation").first
    expect(operation.locator(".outcome")).to_contain_text("Done.", timeout=60_000)
    expect(operation.locator(".step.done", has_text=f"Pulling {reference}")).to_be_visible()
    expect(operation.locator(".layer").first).to_be_visible()  # the pull's layers, each shown
    expect(operation.locator(".step.done", has_text=f"Extracting {reference}")).to_be_visible()


def test_install_open_and_remove_from_the_shell(
    shell: tuple[RunningBridge, Page], engine: EngineUnderTest, registry: Registry, artifacts: Path
) -> None:
    running, page = shell
    notes = pushed_extension(engine, registry, "notes", "Notes", "#f5a10c")
    board = pushed_extension(engine, registry, "board", "Board", "#2ea55a")

    install_from_the_page(page, notes)
    # Installed, it opens: a frame of its own origin, whose calls reach the daemon.
    page.locator(".operation .outcome a", has_text="Open Notes").click()
    expect(page).to_have_url(re.compile(r"#/extension/"))
    frame = page.frame_locator("iframe.extension-frame:visible")
    expect(frame.locator("h1")).to_have_text("Notes")
    expect(frame.locator("#calls")).to_have_text(re.compile(r"^containers: \d+$"))
    origin = page.locator("iframe.extension-frame:visible").get_attribute("src") or ""
    assert re.match(r"http://acme-notes\.localhost:\d+/\?token=s2\.", origin), origin

    page.goto(running.url + "#/extensions")
    install_from_the_page(page, board)
    expect(page.locator("#extension-links .nav")).to_have_text(["Board", "Notes"])

    # From the navigation: each extension in its frame, the Docker pages beside them.
    page.locator("#extension-links .nav", has_text="Notes").click()
    expect(page.frame_locator("iframe.extension-frame:visible").locator("h1")).to_have_text("Notes")
    page.locator("#extension-links .nav", has_text="Board").click()
    expect(page.frame_locator("iframe.extension-frame:visible").locator("#calls")).to_have_text(
        re.compile(r"^containers: \d+$")
    )
    page.locator(".sidebar .nav", has_text="Containers").click()
    expect(page.frame_locator("iframe.docker-frame").locator("h1")).to_have_text("Containers")

    page.locator("#extension-links .nav", has_text="Notes").click()
    expect(page.frame_locator("iframe.extension-frame:visible").locator("h1")).to_have_text("Notes")
    for scheme in ("light", "dark"):
        page.emulate_media(color_scheme=scheme)
        page.set_viewport_size({"width": 1200, "height": 720})
        page.screenshot(path=str(artifacts / f"host-{scheme}.png"))
    page.goto(running.url + "#/extensions")
    expect(page.locator("table.installed tbody tr")).to_have_count(2)
    page.screenshot(path=str(artifacts / "host-extensions-dark.png"))
    page.emulate_media(color_scheme="light")

    # Removed from the page: gone from the navigation and the list.
    page.once("dialog", lambda dialog: dialog.accept())
    page.locator("table.installed tr", has_text="Board").get_by_role("button", name="Remove").click()
    expect(page.locator(".operation").first.locator(".outcome")).to_contain_text("Done.", timeout=60_000)
    expect(page.locator("#extension-links .nav")).to_have_text(["Notes"])
    expect(page.locator("table.installed tbody tr")).to_have_count(1)

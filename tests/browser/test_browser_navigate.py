"""Navigation intents from the bundled client in Chromium, on a real engine: each opens its stand-in
page in a new tab (live logs, inspect JSON, stats, the lists, an image, a volume), and a missing
container rejects in the page without opening anything."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Page

from tests.browser.helpers import ClientPage, wait_for
from tests.support.dockerd import EngineUnderTest
from tests.support.processes import RunningBridge

pytestmark = [pytest.mark.browser, pytest.mark.engines("docker", "podman")]

PAGES = "/_ddbridge/docker"


@pytest.fixture
def page(shared_page: Callable[..., ClientPage], docker_page_bridge: RunningBridge) -> ClientPage:
    return shared_page(docker_page_bridge.login_url())


@pytest.fixture(scope="module")
def ticker(engine: EngineUnderTest) -> Iterator[tuple[str, str]]:
    """A container printing ``tick N`` every 0.2 s: its name and full id."""
    name = engine.run_container(
        "nav-ticker", "sh", "-c", "i=0; while true; do echo tick $i; i=$((i+1)); sleep 0.2; done"
    )
    yield name, engine.docker("inspect", "-f", "{{.Id}}", name).stdout.strip()
    engine.docker("rm", "-f", name, check=False)


@pytest.fixture(scope="module")
def volume(engine: EngineUnderTest) -> Iterator[str]:
    name = f"ddbridge-test-nav-{engine.token}"
    engine.docker("volume", "create", "--label", "purpose=<b>navigation</b>", name)
    yield name
    engine.docker("volume", "rm", "-f", name, check=False)


@pytest.fixture
def navigate(page: ClientPage) -> Iterator[Callable[..., Page]]:
    """``navigate(path, *args)``: calls ``client.<path>(*args)`` in the test page, expects it to
    resolve and open a tab; returns that tab. Tabs are closed after the test, failing it on any
    page or console error they showed."""
    tabs: list[ClientPage] = []

    def open_(path: str, *args: Any) -> Page:
        with page.page.expect_popup() as popup:
            page.value(path, *args)
        tab = ClientPage(popup.value)
        tabs.append(tab)
        tab.page.wait_for_load_state("domcontentloaded")
        return tab.page

    yield open_
    problems = [problem for tab in tabs for problem in tab.unexpected_errors()]
    for tab in tabs:
        tab.page.close()
    assert not problems, f"errors in the opened pages: {problems}"


def docker_logs_running(container_id: str) -> bool:
    """Whether a ``docker logs -f`` of the container runs on the host (started by the page)."""
    return any(f"logs -f --tail 200 {container_id}" in line for line in _command_lines())


def _command_lines() -> list[str]:
    lines = []
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            lines.append(cmdline.read_bytes().replace(b"\0", b" ").decode(errors="replace"))
        except OSError:
            continue
    return lines


def log_lines(tab: Page) -> list[str]:
    lines: list[str] = tab.locator("[data-testid=logs] .line").all_inner_texts()
    return lines


def test_view_container_logs_shows_live_logs_and_stops_them_on_leaving(
    navigate: Callable[..., Page], ticker: tuple[str, str], artifacts: Path
) -> None:
    name, container_id = ticker
    tab = navigate("desktopUI.navigate.viewContainerLogs", container_id)
    assert tab.url.endswith(f"{PAGES}/containers/{container_id}/logs")
    tab.locator("h1", has_text=name).wait_for()
    tab.locator("[data-testid=logs] .line").nth(2).wait_for()
    first = log_lines(tab)
    assert all(line.startswith("tick ") for line in first), first
    last = int(first[-1].split()[1])
    tab.wait_for_function(
        "(last) => [...document.querySelectorAll('[data-testid=logs] .line')]"
        ".some((line) => Number(line.textContent.split(' ')[1]) > last + 1)",
        arg=last,
    )
    assert tab.locator(".tab.active").inner_text() == "Logs"
    assert tab.locator("[data-testid=log-status]").inner_text() == "Live"
    tab.screenshot(path=str(artifacts / "navigate-container-logs.png"))
    assert docker_logs_running(container_id)
    tab.locator(".tab", has_text="Inspect").click()
    tab.locator("[data-testid=inspect-json]").wait_for()
    assert tab.url.endswith(f"/containers/{container_id}/inspect")
    wait_for(lambda: not docker_logs_running(container_id), what="docker logs -f to end with the tab")


def test_leaving_the_page_ends_its_log_stream(navigate: Callable[..., Page], ticker: tuple[str, str]) -> None:
    _, container_id = ticker
    tab = navigate("navigateToContainerLogs", container_id)  # v0
    tab.locator("[data-testid=logs] .line").first.wait_for()
    assert docker_logs_running(container_id)
    tab.close()
    wait_for(lambda: not docker_logs_running(container_id), what="docker logs -f to end with the page")


def test_view_container_inspect_shows_the_json(
    navigate: Callable[..., Page], ticker: tuple[str, str]
) -> None:
    name, container_id = ticker
    tab = navigate("desktopUI.navigate.viewContainerInspect", name)
    assert tab.url.endswith(f"{PAGES}/containers/{container_id}/inspect"), "the name resolved to the id"
    shown = json.loads(tab.locator("[data-testid=inspect-json]").inner_text())
    assert (shown["Id"], shown["Name"], shown["State"]["Running"]) == (container_id, f"/{name}", True)


def test_view_container_stats_and_terminal(navigate: Callable[..., Page], ticker: tuple[str, str]) -> None:
    _, container_id = ticker
    stats = navigate("desktopUI.navigate.viewContainerStats", container_id)
    stats.locator("[data-testid=stats] .stat").nth(4).wait_for()
    labels = stats.locator("[data-testid=stats] .stat .label").all_inner_texts()
    assert [label.upper() for label in labels] == ["CPU", "MEMORY", "NETWORK I/O", "BLOCK I/O", "PIDS"]
    assert stats.locator("[data-testid=stats] .stat .value").first.inner_text().endswith("%")
    terminal = navigate("desktopUI.navigate.viewContainerTerminal", container_id)
    note = terminal.locator("[data-testid=terminal-note]")
    assert "no terminal emulation" in note.inner_text()
    assert terminal.locator(".tab.active").inner_text() == "Details"


def test_view_containers_lists_the_container(navigate: Callable[..., Page], ticker: tuple[str, str]) -> None:
    name, container_id = ticker
    tab = navigate("desktopUI.navigate.viewContainers")
    assert tab.url.endswith(f"{PAGES}/containers")
    link = tab.locator("[data-testid=container-link]", has_text=name)
    assert link.get_attribute("href") == f"{PAGES}/containers/{container_id}"


def test_view_images_and_an_image(
    navigate: Callable[..., Page], engine: EngineUnderTest, artifacts: Path
) -> None:
    repository, _, tag = engine.image.rpartition(":")
    image_id = engine.docker("image", "inspect", "-f", "{{.Id}}", engine.image).stdout.strip()
    images = navigate("desktopUI.navigate.viewImages")
    link = images.locator("[data-testid=image-link]", has_text=repository).first
    assert link.get_attribute("href") == f"{PAGES}/images/{image_id}?tag={tag}"
    image = navigate("desktopUI.navigate.viewImage", image_id, tag)
    assert image.locator("h1").inner_text() == engine.image
    assert image_id in image.locator(".kv").first.inner_text()
    image.screenshot(path=str(artifacts / "navigate-image.png"), full_page=True)


def test_view_volumes_and_a_volume(navigate: Callable[..., Page], volume: str) -> None:
    volumes = navigate("desktopUI.navigate.viewVolumes")
    link = volumes.locator("[data-testid=volume-link]", has_text=volume)
    assert link.get_attribute("href") == f"{PAGES}/volumes/{volume}"
    page = navigate("desktopUI.navigate.viewVolume", volume)
    assert page.locator("h1").inner_text() == volume
    assert "purpose=<b>navigation</b>" in page.locator(".kv").first.inner_text(), "labels are text, not HTML"
    assert page.locator(".kv b").count() == 0


def test_a_missing_container_rejects_in_the_page(page: ClientPage) -> None:
    before = len(page.page.context.pages)
    error = page.error("desktopUI.navigate.viewContainerLogs", "no-such-container-ddb")
    assert error["isError"]
    assert "no container 'no-such-container-ddb'" in error["message"]
    page.page.wait_for_timeout(200)
    assert len(page.page.context.pages) == before, "nothing was opened"

"""The sample extension as Docker Desktop users get it: its image run with ``ddbridge run``, the
backend in a compose project on the test engine, the UI in Chromium.

It lives with the Docker tests to share their engine and images; the browser fixtures are those
of tests/browser/conftest.py, brought in by name.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from playwright.sync_api import expect

from tests.browser import conftest as browser
from tests.browser.helpers import ClientPage
from tests.integration.docker.conftest import StartBridge, extension_containers
from tests.support.dockerd import EngineUnderTest

pytestmark = [pytest.mark.integration, pytest.mark.browser]

chromium = browser.chromium
browser_context = browser.browser_context
open_page = browser.open_page
artifacts = browser.artifacts

READY = "document.querySelector('[data-testid=app-title]') !== null"


def test_sample_image_in_the_browser(
    extension_bridge: StartBridge,
    engine: EngineUnderTest,
    sample_image: str,
    open_page: Callable[..., ClientPage],
    artifacts: Path,
    tmp_path: Path,
) -> None:
    running = extension_bridge("run", sample_image, "--cache-dir", tmp_path)
    (backend,) = extension_containers(engine, "sample-extension")
    page = open_page(running.url, ready=READY).page
    expect(page.get_by_test_id("app-title")).to_have_text("Sample extension")

    # ddClient.extension.vm.service → the backend's socket in /run/guest-services
    page.get_by_test_id("backend-hello").click()
    expect(page.get_by_test_id("backend-result")).to_have_attribute("data-status", "ok")
    expect(page.get_by_test_id("backend-result")).to_contain_text("Hello from the sample backend")

    # ddClient.extension.vm.cli.exec → the compose file's first service
    hostname = page.evaluate(
        "async () => (await window.ddClient.extension.vm.cli.exec('cat', ['/etc/hostname'])).stdout"
    )
    assert backend.startswith(hostname.strip())
    listing = page.evaluate(
        "async () => (await window.ddClient.extension.vm.cli.exec('ls', ['/backend'])).stdout"
    )
    assert listing.split() == ["main.py"]

    # ddClient.extension.host.cli.exec → the host binary copied out of the image
    page.get_by_test_id("binary-name").fill("image")
    page.get_by_test_id("binary-hello").click()
    expect(page.get_by_test_id("binary-result")).to_contain_text("Hello, image! This is sample-cli on Linux")
    page.screenshot(path=artifacts / "sample-extension-image.png", full_page=True)

    assert running.stop() == 0
    assert extension_containers(engine, "sample-extension") == []

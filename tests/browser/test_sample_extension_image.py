"""The sample extension as Docker Desktop users get it: its image run with ``ddbridge run``, the
backend a compose project on the test engine, the UI in Chromium."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from playwright.sync_api import expect

from tests.browser.helpers import SAMPLE_READY, ClientPage, check_sample_backend
from tests.support.dockerd import EngineUnderTest
from tests.support.images import ExtensionImages, extension_containers
from tests.support.processes import RunningBridge

pytestmark = [pytest.mark.browser, pytest.mark.integration]

NAME = "sample-extension"


def test_sample_image_in_the_browser(
    bridge: Callable[..., RunningBridge],
    engine: EngineUnderTest,
    built_images: ExtensionImages,
    open_page: Callable[..., ClientPage],
    artifacts: Path,
    tmp_path: Path,
) -> None:
    running = bridge(
        built_images.sample, "--cache-dir", tmp_path, "--docker-host", engine.host, command="run", timeout=120
    )
    (backend,) = extension_containers(engine, NAME)
    page = open_page(running.login_url(), ready=SAMPLE_READY).page
    # ddClient.extension.vm.service → the backend's socket in /run/guest-services; vm.cli.exec
    check_sample_backend(page, backend)
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
    assert extension_containers(engine, NAME) == []

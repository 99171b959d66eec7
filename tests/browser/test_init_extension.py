"""``ddbridge extension init``'s extension as a user first sees it: its React UI on Docker's theme
in Chromium under ``ddbridge dev``, the button's call reaching the Python backend."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import pytest
from playwright.sync_api import expect

from bridge.host.scaffold import create
from tests.browser.helpers import ClientPage
from tests.support.processes import RunningBridge
from tests.support.scaffolded import BACKEND_CMD, build_ui

pytestmark = pytest.mark.browser


def test_the_new_extension_calls_its_backend(
    tmp_path: Path,
    bridge: Callable[..., RunningBridge],
    open_page: Callable[..., ClientPage],
    artifacts: Path,
) -> None:
    folder = create(tmp_path / "first-extension")
    build_ui(folder / "ui")
    running = bridge(folder, "--backend-cmd", BACKEND_CMD, command="dev", timeout=30)
    page = open_page(running.login_url(), ready="document.querySelector('button') !== null").page
    expect(page.get_by_role("heading")).to_have_text("First Extension")
    page.get_by_role("button", name="Call the backend").click()
    expect(page.get_by_test_id("answer")).to_have_value(
        re.compile(r'"message": "Hello from the backend of First Extension"')
    )
    page.screenshot(path=artifacts / "init-extension.png")

"""``wait_for`` on what Playwright's events fill in: with the page given it sees an event that
comes after the test's last Playwright call; a plain sleep never would (the sync API dispatches
events only inside its calls). The Vite HMR test waited that way and timed out on loaded machines."""

from __future__ import annotations

import pytest
from playwright.sync_api import BrowserContext

from tests.browser.helpers import wait_for

pytestmark = pytest.mark.browser


def late_line(text: str) -> str:
    return f"<script>setTimeout(() => console.log({text!r}), 300)</script>"


def test_a_console_line_after_the_last_call_is_seen_only_when_the_page_is_pumped(
    browser_context: BrowserContext,
) -> None:
    page = browser_context.new_page()
    lines: list[str] = []
    page.on("console", lambda message: lines.append(message.text))

    page.set_content(late_line("first"))
    with pytest.raises(AssertionError, match=r"timed out after 1\.5 s waiting for the first line"):
        wait_for(lambda: "first" in lines, timeout=1.5, what=lambda: "the first line")

    page.set_content(late_line("second"))
    assert wait_for(lambda: "second" in lines, timeout=5, page=page)

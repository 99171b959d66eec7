"""Helpers the browser tests share: a page wrapper around ``window.testApi`` and polling."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable
from typing import Any

from playwright.sync_api import Page, expect

# The sample extension's page (docker/sample-extension/ui) once it rendered.
SAMPLE_READY = "document.querySelector('[data-testid=app-title]') !== null"


class ClientPage:
    """A page of the test bundle, with helpers around its ``window.testApi``.

    Every helper goes through the client the bundle got from ``createDockerDesktopClient()``.
    """

    def __init__(self, page: Page) -> None:
        self.page = page
        self.page_errors: list[str] = []
        self.console_errors: list[str] = []
        self._allowed: list[re.Pattern[str]] = []
        page.on("pageerror", lambda error: self.page_errors.append(f"{error.name}: {error.message}"))
        page.on(
            "console", lambda message: message.type == "error" and self.console_errors.append(message.text)
        )

    def reset_errors(self) -> None:
        """Forget the errors seen so far and the allowed patterns (a shared page's next test)."""
        self.page_errors.clear()
        self.console_errors.clear()
        self._allowed.clear()

    def allow_console(self, pattern: str) -> None:
        """Declare console errors matching ``pattern`` expected (they do not fail the test)."""
        self._allowed.append(re.compile(pattern))

    def unexpected_errors(self) -> list[str]:
        console = [text for text in self.console_errors if not any(p.search(text) for p in self._allowed)]
        return [f"page error: {text}" for text in self.page_errors] + [f"console: {t}" for t in console]

    def call(self, path: str, *args: Any) -> dict[str, Any]:
        """``client.<path>(*args)`` → ``{"ok": True, "value": ...}`` or ``{"ok": False, "error": ...}``."""
        result: dict[str, Any] = self.page.evaluate(
            "([path, args]) => window.testApi.call(path, ...args)", [path, list(args)]
        )
        return result

    def value(self, path: str, *args: Any) -> Any:
        outcome = self.call(path, *args)
        assert outcome["ok"], f"{path}{args!r} rejected: {json.dumps(outcome['error'])}"
        return outcome["value"]

    def error(self, path: str, *args: Any) -> dict[str, Any]:
        outcome = self.call(path, *args)
        assert not outcome["ok"], f"{path}{args!r} resolved with {json.dumps(outcome['value'])}"
        error: dict[str, Any] = outcome["error"]
        return error

    def stream(self, path: str, cmd: str, args: list[str], **options: Any) -> int:
        """Starts ``client.<path>(cmd, args, {...options, stream: callbacks})``; returns a handle."""
        handle: int = self.page.evaluate(
            "([path, cmd, args, options]) => window.testApi.stream(path, cmd, args, options)",
            [path, cmd, args, options],
        )
        return handle

    def spawn_v0(self, path: str, cmd: str, args: list[str]) -> int:
        handle: int = self.page.evaluate(
            "([path, cmd, args]) => window.testApi.spawnV0(path, cmd, args)", [path, cmd, args]
        )
        return handle

    def state(self, handle: int) -> dict[str, Any]:
        state: dict[str, Any] = self.page.evaluate("(id) => window.testApi.streamState(id)", handle)
        return state

    def wait_until(self, handle: int, condition: str, timeout: float = 10) -> dict[str, Any]:
        """Waits until the JS ``condition`` on the stream's state ``s`` holds; returns the state."""
        self.page.wait_for_function(
            f"(id) => {{ const s = window.testApi.streamState(id); return {condition}; }}",
            arg=handle,
            timeout=timeout * 1000,
        )
        return self.state(handle)

    def wait_done(self, handle: int, timeout: float = 10) -> dict[str, Any]:
        return self.wait_until(handle, "s.done", timeout)

    def close_stream(self, handle: int) -> None:
        self.page.evaluate("(id) => window.testApi.closeStream(id)", handle)


def check_sample_backend(page: Page, backend: str) -> None:
    """The sample extension's page reaching its backend: ``vm.service`` (the button, to the
    backend's socket) and ``vm.cli.exec`` (in the ``backend`` container, the compose file's
    first service)."""
    expect(page.get_by_test_id("app-title")).to_have_text("Sample extension")
    page.get_by_test_id("backend-hello").click()
    expect(page.get_by_test_id("backend-result")).to_have_attribute("data-status", "ok")
    expect(page.get_by_test_id("backend-result")).to_contain_text("Hello from the sample backend")
    hostname = page.evaluate(
        "async () => (await window.ddClient.extension.vm.cli.exec('cat', ['/etc/hostname'])).stdout"
    )
    assert backend.startswith(hostname.strip())


def wait_for(
    condition: Callable[[], Any],
    timeout: float = 10,
    what: str | Callable[[], str] = "condition",
    page: Page | None = None,
) -> Any:
    """Polls ``condition`` until it returns something truthy (for daemon logs, processes).

    Give ``page`` when the condition reads what Playwright's events fill in (sockets, console
    lines, frames): the sync API dispatches events only inside its own calls, so a plain sleep
    would poll a list that never grows. ``what`` may be a callable, read when the wait fails.
    """
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            described = what() if callable(what) else what
            raise AssertionError(f"timed out after {timeout} s waiting for {described}")
        if page is None:
            time.sleep(0.05)
        else:
            page.wait_for_timeout(50)

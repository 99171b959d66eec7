"""The JavaScript test package (js/ddbridge-test, ``@ddbridge/test``): built with tsc, then its
Playwright Test fixtures driving the sample extension's UI in Debian's Chromium (and a bridge
that does not start), and its Node helpers under Vitest. The JavaScript tests are in the
package's ``tests/`` folder; each run here is one Node process, its JSON report read back."""

from __future__ import annotations

import json
import os
import shlex
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.processes import REPO

pytestmark = pytest.mark.browser

PACKAGE = REPO / "js" / "ddbridge-test"
BIN = REPO / "node_modules" / ".bin"
PLAYWRIGHT_CONFIG = PACKAGE / "tests" / "playwright" / "playwright.config.ts"
VITEST_CONFIG = PACKAGE / "tests" / "node" / "vitest.config.ts"
# @playwright/test 1.65 and vitest 4 need it (lib.sh asks for 18, enough for the UI bundles).
NODE_MAJOR = 20


def _run(tool: str, *args: str | Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(BIN / tool), *map(str, args)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, **(env or {})},
    )


@pytest.fixture(scope="module")
def package_built() -> Path:
    """``tsc -p js/ddbridge-test``: dist/ with the types, as the tests import it."""
    node = shutil.which("node")
    version = subprocess.run([node, "--version"], capture_output=True, text=True).stdout if node else ""
    if not version.startswith("v") or int(version[1:].split(".")[0]) < NODE_MAJOR:
        pytest.fail(
            f"the JavaScript test package needs Node.js {NODE_MAJOR}+; node is {version or 'missing'}"
        )
    if not (BIN / "playwright").exists() or not (BIN / "vitest").exists():
        pytest.fail("node_modules lacks @playwright/test or vitest: run npm install (scripts/test does)")
    done = _run("tsc", "-p", PACKAGE)
    assert done.returncode == 0, f"tsc -p js/ddbridge-test failed:\n{done.stdout}{done.stderr}"
    return PACKAGE / "dist"


@pytest.fixture(scope="module")
def ddbridge_command(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """What ``$DDBRIDGE`` names: this interpreter's ddbridge, the one the tests import."""
    script = tmp_path_factory.mktemp("bin") / "ddbridge"
    script.write_text(f'#!/bin/sh\nexec {shlex.quote(sys.executable)} -m bridge "$@"\n')
    script.chmod(0o755)
    return script


def _tests(suite: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    """(title, test) of every test of a Playwright JSON report's suite, nested suites too."""
    for spec in suite.get("specs", []):
        for test in spec["tests"]:
            yield spec["title"], test
    for child in suite.get("suites", []):
        yield from _tests(child)


@pytest.fixture(scope="module")
def playwright_run(
    package_built: Path, sample_ui_build: Path, ddbridge_command: Path
) -> tuple[dict[tuple[str, str], dict[str, Any]], str]:
    """Both projects in one run: each test's last result by (project, title), and the stderr.
    What Playwright keeps (traces, the bridges' logs) goes to test-artifacts/js/playwright/."""
    done = _run(
        "playwright",
        "test",
        "-c",
        PLAYWRIGHT_CONFIG,
        "--reporter=json",
        env={"DDBRIDGE": str(ddbridge_command)},
    )
    try:
        report = json.loads(done.stdout)
    except ValueError:
        pytest.fail(
            f"playwright test wrote no JSON report (exit {done.returncode}):\n{done.stdout}{done.stderr}"
        )
    results = {
        (test["projectName"], title): test["results"][-1]
        for suite in report["suites"]
        for title, test in _tests(suite)
    }
    return results, done.stderr


def test_the_fixtures_drive_the_sample_extension(
    playwright_run: tuple[dict[tuple[str, str], dict[str, Any]], str],
) -> None:
    results, stderr = playwright_run
    sample = {title: result for (project, title), result in results.items() if project == "sample"}
    assert sorted(sample) == [
        "a streamed exec, and the bridge itself",
        "mock answers for one test come before the file",
        "the next test has the file answers again",
    ]
    failed = {title: result.get("errors") for title, result in sample.items() if result["status"] != "passed"}
    assert not failed, f"{json.dumps(failed, indent=1)}\n{stderr}"


def test_a_bridge_that_does_not_start_fails_the_test_with_its_log(
    playwright_run: tuple[dict[tuple[str, str], dict[str, Any]], str],
) -> None:
    results, _ = playwright_run
    result = results["failing-start", "a bridge that does not start fails the test"]
    assert result["status"] == "failed"
    message = result["error"]["message"]
    assert "ddbridge serve --mock bad-mock.json: it exited (code 2) before it was ready; its log" in message
    assert "ddbridge: mock file bad-mock.json: service[0] (GET /hello): stauts: unknown field" in message


def test_the_node_helpers_under_vitest(package_built: Path, ddbridge_command: Path) -> None:
    done = _run(
        "vitest", "run", "--config", VITEST_CONFIG, "--reporter=json", env={"DDBRIDGE": str(ddbridge_command)}
    )
    try:
        report = json.loads(done.stdout)
    except ValueError:
        pytest.fail(f"vitest wrote no JSON report (exit {done.returncode}):\n{done.stdout}{done.stderr}")
    failures = [
        f"{test['fullName']}: {test['failureMessages']}"
        for suite in report["testResults"]
        for test in suite["assertionResults"]
        if test["status"] != "passed"
    ]
    assert not failures and report["numPassedTests"] == 4, "\n".join(failures) or done.stdout + done.stderr
    assert done.returncode == 0, done.stderr

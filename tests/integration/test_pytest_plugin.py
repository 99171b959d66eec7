"""The pytest plugin (``bridge.testing.plugin``) as an extension author uses it: a project of their
own, run by pytest in a subprocess, so the plugin is loaded through its ``pytest11`` entry point."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import httpx
import pytest

from bridge.testing import RpcFailure, SyncBridgeClient, running_bridge
from bridge.testing.plugin import bridge_command
from tests.support.processes import REPO

pytestmark = pytest.mark.integration
pytest_plugins = ["pytester"]

SAMPLE = REPO / "docker" / "sample-extension"
BACKEND_ARG = '--ddbridge-arg=--backend-cmd=exec python3 backend/main.py --socket "$DDBRIDGE_BACKEND_SOCKET"'

EXAMPLE_TESTS = """
import pytest
from playwright.sync_api import expect


@pytest.mark.asyncio
async def test_async_client(ddbridge_client):
    hello = await ddbridge_client.call("service.request", {"method": "GET", "url": "/hello"})
    assert hello["message"] == "Hello from the sample backend"


def test_backend_answers(ddbridge, ddbridge_rpc, ddbridge_calls):
    assert ddbridge.url.startswith("http://127.0.0.1:")
    hello = ddbridge_rpc.call("service.request", {"method": "GET", "url": "/hello"})
    assert hello["message"] == "Hello from the sample backend"
    (call,) = ddbridge_calls("service.request")
    assert call.params["url"] == "/hello" and call.result["message"] == hello["message"]


def test_hello_button(ddbridge_page, ddbridge_calls):
    ddbridge_page.get_by_test_id("backend-hello").click()
    expect(ddbridge_page.get_by_test_id("backend-result")).to_contain_text("Hello from the sample backend")
    call = ddbridge_calls.wait_for("service.request")
    assert call.params["url"] == "/hello" and call.error is None
    assert [c.method for c in ddbridge_calls()] == ["service.request"], "only this test's calls"
"""


@pytest.fixture(scope="module")
def sample_ui() -> Path:
    """The sample extension's UI bundle, which ``ddbridge dev`` serves (built by node when missing)."""
    build = SAMPLE / "ui" / "build"
    if not (build / "index.html").is_file():
        node = shutil.which("node")
        if node is None:
            pytest.fail("node is needed to build the sample extension's UI (scripts/build-ui.mjs)")
        subprocess.run([node, "scripts/build-ui.mjs", "sample-ui"], cwd=REPO, check=True, timeout=120)
    return build


def test_fixtures_against_the_sample_extension(pytester: pytest.Pytester, sample_ui: Path) -> None:
    if not Path("/usr/bin/chromium").is_file():
        pytest.fail("/usr/bin/chromium is missing (apt-get install chromium)")
    pytester.makepyfile(test_my_extension=EXAMPLE_TESTS)
    result = pytester.runpytest_subprocess(
        f"--ddbridge-extension={SAMPLE}", BACKEND_ARG, "-p", "no:cacheprovider", timeout=90
    )
    result.assert_outcomes(passed=3)


def test_a_mock_file_from_the_ini_file(pytester: pytest.Pytester) -> None:
    """``dev DIR --mock FILE``: the sample extension answered from a mock file, with no backend."""
    pytester.makeini(f"[pytest]\nddbridge_extension = {SAMPLE}\nddbridge_mock = mocks/session.json\n")
    mocks = pytester.mkdir("mocks")
    body = {"message": "Hello from the mock"}
    (mocks / "session.json").write_text(
        json.dumps({"service": [{"method": "GET", "url": "/hello", "body": body}]})
    )
    pytester.makepyfile(
        f"""
        def test_hello(ddbridge_rpc, ddbridge_calls):
            assert ddbridge_rpc.call("service.request", {{"method": "GET", "url": "/hello"}}) == {body!r}
            assert ddbridge_calls.wait_for("service.request").result == {body!r}
        """
    )
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", timeout=60)
    result.assert_outcomes(passed=1)


def test_without_an_extension_the_fixtures_skip_and_say_why(pytester: pytest.Pytester) -> None:
    pytester.makepyfile("def test_needs_a_bridge(ddbridge_rpc):\n    raise AssertionError('ran')\n")
    result = pytester.runpytest_subprocess("-rs", "-p", "no:cacheprovider", timeout=60)
    result.assert_outcomes(skipped=1)
    result.stdout.fnmatch_lines(["*ddbridge: no extension to serve; pass --ddbridge-extension DIR*"])


def test_a_bridge_that_cannot_start_fails_with_its_log(pytester: pytest.Pytester) -> None:
    pytester.makepyfile("def test_needs_a_bridge(ddbridge):\n    pass\n")
    result = pytester.runpytest_subprocess("--ddbridge-extension=missing-folder", timeout=60)
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*ddbridge dev */missing-folder*did not become ready*"])


def test_settings_from_the_ini_file_and_the_command_line(pytester: pytest.Pytester) -> None:
    """Ini paths are relative to the ini file, command-line ones to where pytest was started;
    an extension with an image runs ``dev --image``, a mock file is passed as ``--mock``."""
    pytester.makeini("[pytest]\nddbridge_extension = ext\nddbridge_args = --keep '--build-arg=A=b c'\n")
    config = pytester.parseconfig()
    assert bridge_command(config) == ["dev", str(pytester.path / "ext"), "--keep", "--build-arg=A=b c"]
    config = pytester.parseconfig("--ddbridge-image=org/ext:1", "--ddbridge-mock=m.json", "--ddbridge-arg=-v")
    assert bridge_command(config) == [
        "dev",
        str(pytester.path / "ext"),
        "--image",
        "org/ext:1",
        "--mock",
        str(Path.cwd() / "m.json"),
        "--keep",
        "--build-arg=A=b c",
        "-v",
    ]
    pytester.makeini("[pytest]\n")
    assert bridge_command(pytester.parseconfig("--ddbridge-mock=m.json")) == [
        "serve",
        "--mock",
        str(Path.cwd() / "m.json"),
    ]
    assert bridge_command(pytester.parseconfig("--ddbridge-image=org/ext:1")) == ["run", "org/ext:1"]
    assert bridge_command(pytester.parseconfig()) is None


def test_running_bridge_outside_pytest_fixtures(tmp_path: Path) -> None:
    """The launcher and the blocking client on their own, as a script would use them."""
    (tmp_path / "index.html").write_text("<html><head></head><body>ui</body></html>")
    with running_bridge("serve", "--ui", tmp_path) as bridge:
        assert httpx.get(bridge.url + "healthz").json()["status"] == "ok"
        with SyncBridgeClient.connect(bridge.ws_url) as rpc, pytest.raises(RpcFailure) as failure:
            rpc.call("no-such.method")
        assert "no-such.method" in failure.value.message
        (call,) = bridge.calls()
        assert call.method == "no-such.method" and call.answered and call.error is not None
    assert bridge.process.returncode == 0

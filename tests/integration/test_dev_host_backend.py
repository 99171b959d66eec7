"""``ddbridge dev DIR --backend-cmd``: an extension folder served with its backend as a host
process — the engine-free workflow — end to end through the real daemon."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from bridge.testing import BridgeClient
from tests.conftest import write_script
from tests.support.processes import REPO, RunningBridge, backend_run_folder, run_ddbridge

pytestmark = pytest.mark.integration

SAMPLE = REPO / "docker" / "sample-extension"
SAMPLE_BACKEND = 'python3 backend/main.py --socket "$DDBRIDGE_BACKEND_SOCKET"'


@pytest.fixture
def extension(tmp_path: Path) -> Path:
    """A small extension folder: a UI, a host binary, and a backend run with --backend-cmd."""
    folder = tmp_path / "my-ext"
    (folder / "ui").mkdir(parents=True)
    (folder / "ui" / "index.html").write_text("<html><head></head><body>my extension</body></html>")
    (folder / "icon.svg").write_text('<svg xmlns="http://www.w3.org/2000/svg"/>')
    write_script(folder / "bin", "tool", 'echo "tool says $*"\n')
    (folder / "metadata.json").write_text(
        json.dumps(
            {
                "icon": "icon.svg",
                "ui": {"dashboard-tab": {"title": "My Ext", "root": "/ui", "src": "index.html"}},
                "vm": {"image": "${DESKTOP_PLUGIN_IMAGE}", "exposes": {"socket": "ext.sock"}},
                "host": {"binaries": [{"linux": [{"path": "/bin/tool"}]}]},
            }
        )
    )
    return folder


def dev(bridge: Callable[..., RunningBridge], folder: Path, *args: str) -> RunningBridge:
    return bridge(folder, *args, command="dev", timeout=30)


async def test_sample_extension_with_host_backend(bridge: Callable[..., RunningBridge]) -> None:
    running = dev(bridge, SAMPLE, "--backend-cmd", SAMPLE_BACKEND)
    runtime = backend_run_folder(running)
    page = httpx.get(running.url, headers=running.headers)
    assert page.status_code == 200
    assert '<script src="/ddclient.js"></script><link rel="icon" href="/_ddbridge/icon">' in page.text
    assert (
        httpx.get(running.url + "_ddbridge/icon", headers=running.headers)
        .headers["content-type"]
        .startswith("image/svg")
    )
    bootstrap = httpx.get(running.url + "ddclient.js", headers=running.headers).text.splitlines()[0]
    assert '"title":"Sample extension"' in bootstrap and '"id":"sample-extension"' in bootstrap
    async with BridgeClient.connect(running.ws_url) as client:
        hello = await client.call("service.request", {"method": "GET", "url": "/hello"})
        assert hello["message"] == "Hello from the sample backend"
        result = await client.call(
            "exec.run", {"target": "host", "cmd": "sample-cli", "args": ["hello", "dev"]}
        )
        assert result["code"] == 0 and "dev" in result["stdout"]
    assert (runtime / "guest-services" / "backend.sock").is_socket()
    assert running.stop() == 0
    assert not runtime.exists()
    log = running.log()
    assert "Starting the backend" in log and "Stopping the backend" in log
    assert subprocess.run(["pgrep", "-f", str(runtime)], capture_output=True).stdout == b""


async def test_title_icon_and_binaries_of_a_folder(
    bridge: Callable[..., RunningBridge], extension: Path
) -> None:
    # The backend command runs in the extension folder, through sh: it can cd to the test backend.
    uvicorn = f"{sys.executable} -m uvicorn tests.support.backend:app"
    backend = f'cd {REPO} && exec {uvicorn} --uds "$DDBRIDGE_BACKEND_SOCKET"'
    running = dev(bridge, extension, "--backend-cmd", backend)
    page = httpx.get(running.url, headers=running.headers).text
    assert "<title>My Ext</title>" in page and "my extension" in page
    # /favicon.ico, which browsers ask for whatever the page names, is the extension's icon too.
    icon = httpx.get(running.url + "favicon.ico", headers=running.headers)
    assert icon.headers["content-type"] == "image/svg+xml"
    assert icon.content == (extension / "icon.svg").read_bytes()
    async with BridgeClient.connect(running.ws_url) as client:
        echoed = await client.call("service.request", {"method": "POST", "url": "/echo", "data": {"a": 1}})
        assert echoed["body"] == '{"a":1}'
        result = await client.call("exec.run", {"target": "host", "cmd": "tool", "args": ["x"]})
        assert result["stdout"] == "tool says x\n"


def ddbridge_dev(*args: str | Path) -> subprocess.CompletedProcess[str]:
    return run_ddbridge("dev", *args, "--port", "0")


def test_backend_that_dies_shows_its_output(extension: Path) -> None:
    result = ddbridge_dev(extension, "--backend-cmd", "echo starting up; echo 'fatal: no config' >&2; exit 4")
    assert result.returncode == 1
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith("ddbridge: the backend stopped before listening on")
    assert "exited with code 4" in last and "fatal: no config" in last
    socket = Path(last.removeprefix("ddbridge: the backend stopped before listening on ").split(":")[0])
    assert socket.name == "ext.sock" and not socket.parent.parent.exists(), last


def test_backend_that_never_listens_times_out(extension: Path) -> None:
    result = ddbridge_dev(extension, "--backend-cmd", "sleep 30", "--backend-timeout", "1")
    assert result.returncode == 1
    assert "did not listen on" in result.stderr and "within 1 s" in result.stderr


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda folder: (folder / "metadata.json").unlink(), "has no metadata.json"),
        (lambda folder: (folder / "metadata.json").write_text("{nope"), "is not valid JSON"),
        (
            lambda folder: (folder / "metadata.json").write_text(
                json.dumps({"ui": {"dashboard-tab": {"title": "T", "root": "../../etc"}}})
            ),
            "leaves the extension",
        ),
        (lambda folder: (folder / "ui" / "index.html").unlink(), "build the UI first"),
        (lambda folder: (folder / "bin" / "tool").unlink(), "host binary 'bin/tool' named in metadata.json"),
    ],
)
def test_bad_extensions_say_what_is_wrong(
    extension: Path, change: Callable[[Path], object], message: str
) -> None:
    change(extension)
    result = ddbridge_dev(extension, "--backend-cmd", "true")
    assert result.returncode in (1, 2)
    assert message in result.stderr
    assert result.stderr.strip().splitlines()[-1].startswith("ddbridge: ")
    assert "Traceback" not in result.stderr


def test_missing_folder_is_a_usage_error(tmp_path: Path) -> None:
    result = ddbridge_dev(tmp_path / "nowhere")
    assert result.returncode == 2
    assert "extension folder" in result.stderr and "does not exist" in result.stderr


def tab_folder(tmp_path: Path, files: dict[str, str], **tab: object) -> Path:
    """An extension folder with only a tab (no vm: nothing to start) and ``files``."""
    folder = tmp_path / "tab-ext"
    for name, content in {**files, "metadata.json": json.dumps({"ui": {"dashboard-tab": tab}})}.items():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_text(content)
    return folder


BUILT_SCRIPT = '<script type="module" src="/assets/a.mjs"></script>'


def test_a_vite_source_folder_serves_its_build_as_javascript(
    bridge: Callable[..., RunningBridge], tmp_path: Path
) -> None:
    """A Vite project's ui/ holds the source index.html next to build/: the build is served, and
    its scripts (whatever their extension) as JavaScript, which a browser runs as modules."""
    folder = tab_folder(
        tmp_path,
        {
            "ui/index.html": '<html><body><script type="module" src="/src/main.tsx"></script></body></html>',
            "ui/src/main.tsx": "export const x: number = 1",
            "ui/build/index.html": f"<html><head>{BUILT_SCRIPT}</head></html>",
            "ui/build/assets/a.mjs": "export {}",
            "ui/build/assets/b.tsx": "export {}",
        },
        title="Vite",
        root="/ui",
        src="index.html",
    )
    running = dev(bridge, folder)
    page = httpx.get(running.url, headers=running.headers)
    assert BUILT_SCRIPT in page.text
    assert f"UI: {folder / 'ui' / 'build'}" in running.log()
    for script in ("assets/a.mjs", "assets/b.tsx"):
        answer = httpx.get(running.url + script, headers=running.headers)
        assert answer.status_code == 200 and answer.headers["content-type"].startswith("text/javascript")
    assert httpx.get(running.url + "src/main.tsx", headers=running.headers).status_code == 404


async def test_host_binaries_flag_wins_over_metadata(
    bridge: Callable[..., RunningBridge], extension: Path, tmp_path: Path
) -> None:
    """metadata.json names /bin/tool, which the folder lacks: --host-binaries gives the tools."""
    (extension / "bin" / "tool").unlink()
    flagged = write_script(tmp_path / "flagged", "tool", 'echo "flagged tool says $*"\n').parent
    uvicorn = f"{sys.executable} -m uvicorn tests.support.backend:app"
    backend = f'cd {REPO} && exec {uvicorn} --uds "$DDBRIDGE_BACKEND_SOCKET"'
    running = dev(bridge, extension, "--backend-cmd", backend, "--host-binaries", flagged)
    async with BridgeClient.connect(running.ws_url) as client:
        result = await client.call("exec.run", {"target": "host", "cmd": "tool", "args": ["x"]})
        assert result["stdout"] == "flagged tool says x\n"
    assert "host binaries:" not in running.log()


def test_a_tab_given_as_a_url_is_where_slash_leads(
    bridge: Callable[..., RunningBridge], tmp_path: Path
) -> None:
    """`"src": "http://localhost:49000"` and no UI folder at all: `/` sends the browser there."""
    folder = tab_folder(tmp_path, {}, title="URL tab", root="/ui", src="http://localhost:49000/app?x=1")
    running = dev(bridge, folder)
    answer = httpx.get(running.url, headers=running.headers)
    assert (answer.status_code, answer.headers["location"]) == (307, "http://localhost:49000/app?x=1")
    # A --ui flag wins over the tab's URL.
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "index.html").write_text("<html>mine</html>")
    running = dev(bridge, folder, "--ui", str(tmp_path / "mine"))
    assert "mine" in httpx.get(running.url, headers=running.headers).text


def test_a_src_query_stays_on_the_url(bridge: Callable[..., RunningBridge], tmp_path: Path) -> None:
    """`"src": "index.html?v0.4.0"`: the file is index.html, the page's URL keeps ?v0.4.0."""
    folder = tab_folder(
        tmp_path,
        {"ui/index.html": "<html><head></head>v0.4</html>"},
        title="Q",
        root="/ui",
        src="index.html?v0.4.0",
    )
    running = dev(bridge, folder)
    answer = httpx.get(running.url, headers=running.headers, follow_redirects=True)
    assert (
        answer.status_code == 200 and "v0.4" in answer.text and '<script src="/ddclient.js">' in answer.text
    )
    assert str(answer.url).endswith("/index.html?v0.4.0")


def test_early_tcp_backend_form_is_a_warning(bridge: Callable[..., RunningBridge], tmp_path: Path) -> None:
    folder = tab_folder(
        tmp_path, {"ui/index.html": "<html>tcp</html>"}, title="T", root="/ui", backend={"tcp": "9000"}
    )
    running = dev(bridge, folder)
    assert "tcp" in httpx.get(running.url, headers=running.headers).text
    assert "ui.dashboard-tab.backend.tcp is not supported by ddbridge and is ignored" in running.log()

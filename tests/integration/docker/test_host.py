"""The extensions host on a real engine: ``ddbridge extension …`` with and without a running
``ddbridge host``, extensions side by side on their own origins, each reaching its own backend,
restarts that bring every one back, ``update`` keeping a named volume's data, ``rm`` leaving
nothing but the named volumes it names.

Docker only, for the reason test_pull.py gives: the test registry is out of Podman's reach.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import websockets
from websockets.exceptions import ConnectionClosed
from websockets.typing import Subprotocol

from bridge.host.installer import repository
from bridge.testing import BridgeClient, RpcFailure
from tests.browser.helpers import wait_for
from tests.integration.docker.conftest import StartBridge
from tests.support.dockerd import EngineUnderTest
from tests.support.host import shell_call
from tests.support.images import ExtensionImages, import_files
from tests.support.processes import RunningBridge
from tests.support.registry import Registry

pytestmark = pytest.mark.integration

COMPOSE_FILE = """services:
  backend:
    image: ${DESKTOP_PLUGIN_IMAGE}
    command: ["python3", "/backend/main.py", "--socket", "/run/guest-services/backend.sock"]
    volumes:
      - data:/data
volumes:
  data: {}
"""
SINGLE_METADATA = {
    "icon": "docker.svg",
    "ui": {"dashboard-tab": {"title": "Single", "root": "/ui", "src": "index.html"}},
    "vm": {"image": "${DESKTOP_PLUGIN_IMAGE}", "exposes": {"socket": "backend.sock"}},
}
UI_ONLY_METADATA = {"ui": {"dashboard-tab": {"title": "Notes", "root": "/ui", "src": "index.html"}}}


@dataclass(frozen=True)
class HostImages:
    compose: str  # the sample extension, its backend a compose project with a named volume
    compose_v2: str  # the same, another tag (update)
    single: str  # vm.image: one container
    ui_only: str  # no backend at all


def build(engine: EngineUnderTest, folder: Path, tag: str, files: dict[str, str]) -> str:
    folder.mkdir(parents=True, exist_ok=True)
    for name, content in files.items():
        (folder / name).write_text(content)
    engine.docker("build", "-t", tag, str(folder), timeout=300)
    return tag


@pytest.fixture(scope="module")
def images(
    engine: EngineUnderTest,
    built_images: ExtensionImages,
    registry: Registry,
    tmp_path_factory: pytest.TempPathFactory,
) -> HostImages:
    """The extensions, built here and pushed to the local registry, then removed from the engine:
    installing them pulls them."""
    folder = tmp_path_factory.mktemp("host-images")
    sample = built_images.sample
    compose = {
        "Dockerfile": f"FROM {sample}\nCOPY docker-compose.yaml /docker-compose.yaml\n",
        "docker-compose.yaml": COMPOSE_FILE,
    }
    compose_v2 = {
        **compose,
        "Dockerfile": compose["Dockerfile"] + "LABEL org.opencontainers.image.version=2\n",
    }
    single = {
        "Dockerfile": f"FROM {sample}\nCOPY metadata.json /metadata.json\n",
        "metadata.json": json.dumps(SINGLE_METADATA),
    }
    ui_only = {
        "metadata.json": json.dumps(UI_ONLY_METADATA),
        "ui/index.html": "<html><body>notes</body></html>",
    }

    def pushed(tag: str, name: str) -> str:
        return registry.push(engine, tag, name, remove_source=True).reference

    return HostImages(
        pushed(build(engine, folder / "c1", "local/compose-ext:1", compose), "acme/compose-ext:1"),
        pushed(build(engine, folder / "c2", "local/compose-ext:2", compose_v2), "acme/compose-ext:2"),
        pushed(build(engine, folder / "s", "local/single-ext:1", single), "acme/single-ext:1"),
        pushed(import_files(engine, "local/ui-ext:1", ui_only), "acme/ui-ext:1"),
    )


@dataclass
class Place:
    """Where a test's host keeps its store and caches (the environment of the host and the CLI)."""

    root: Path
    engine: EngineUnderTest

    @property
    def env(self) -> dict[str, str]:
        return {"XDG_DATA_HOME": str(self.root / "data"), "XDG_CACHE_HOME": str(self.root / "cache")}

    def cli(self, *args: str, timeout: float = 180) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "bridge", "extension", *args, "--docker-host", self.engine.host],
            capture_output=True,
            text=True,
            timeout=timeout,
            env={**os.environ, **self.env},
            stdin=subprocess.DEVNULL,
        )

    def installed(self) -> list[dict[str, object]]:
        listed = self.cli("ls", "--format", "json")
        assert listed.returncode == 0, listed.stderr
        entries: list[dict[str, object]] = json.loads(listed.stdout)
        return entries


@pytest.fixture
def place(tmp_path: Path, engine: EngineUnderTest) -> Place:
    return Place(tmp_path, engine)


@pytest.fixture
def start_host(bridge: StartBridge, place: Place) -> Callable[[], RunningBridge]:
    def start() -> RunningBridge:
        return bridge("--docker-host", place.engine.host, env=place.env, command="host", timeout=60)

    return start


def shell_list(running: RunningBridge) -> list[dict[str, Any]]:
    """What the shell's page lists."""
    listed: list[dict[str, Any]] = shell_call(running, "extensions.list")
    return listed


def labelled(engine: EngineUnderTest, name: str) -> list[str]:
    return engine.docker("ps", "-aq", "--filter", f"label=ddbridge.extension={name}").stdout.split()


def rpc_url(running: RunningBridge, slug: str | None = None) -> tuple[str, dict[str, object]]:
    """The RPC URL of the shell or of an extension's origin, and how to reach it (127.0.0.1)."""
    port = running.url.rsplit(":", 1)[1].strip("/")
    host = f"{slug}.localhost" if slug else "localhost"
    return f"ws://{host}:{port}/rpc", {"host": "127.0.0.1", "port": int(port)}


async def close_code(url: str, credential: str, reach: dict[str, object]) -> int | None:
    """How the daemon ends a WebSocket that presents ``credential``."""
    offered = [Subprotocol("ddbridge"), Subprotocol(f"ddbridge.credential.{credential}")]
    async with websockets.connect(url, subprotocols=offered, **reach) as socket:  # type: ignore[arg-type]
        with pytest.raises(ConnectionClosed) as closed:
            await socket.send(json.dumps({"jsonrpc": "2.0", "id": 1, "method": "host.info"}))
            await socket.recv()
    return closed.value.rcvd.code if closed.value.rcvd else None


def test_the_cli_on_the_store_without_a_host(
    place: Place, images: HostImages, engine: EngineUnderTest
) -> None:
    refused = place.cli("install", images.ui_only)
    assert refused.returncode == 2
    assert refused.stderr.strip().splitlines()[-1].startswith("ddbridge: installing needs consent")

    installed = place.cli("install", "-f", images.ui_only)
    assert installed.returncode == 0, installed.stderr
    assert "Extension Notes successfully installed" in installed.stderr
    assert f"✓ Pulling {images.ui_only}" in installed.stderr  # the pull's progress, then the steps
    assert f"✓ Extracting {images.ui_only}" in installed.stderr

    table = place.cli("ls")
    assert table.returncode == 0
    header, row = table.stdout.splitlines()[:2]
    assert header.split() == ["ID", "PROVIDER", "VERSION", "UI", "VM", "HOST"]  # docker extension ls's
    assert row.split()[0] == repository(images.ui_only)
    (entry,) = place.installed()
    assert (
        entry["ID"] == repository(images.ui_only)
        and entry["Version"] == "1"
        and entry["UI"] == "1 tab(Notes)"
    )

    again = place.cli("install", "-f", images.ui_only)
    assert again.returncode == 1
    assert "already installed" in again.stderr.strip().splitlines()[-1]
    missing = place.cli("install", "-f", "--no-pull", "acme/nowhere:1")
    assert missing.returncode == 2
    assert missing.stderr.strip().splitlines()[-1] == (
        f"ddbridge: image acme/nowhere:1 is not on the engine at {engine.host} and --no-pull was given"
    )
    unknown = place.cli("rm", "acme/nowhere")
    assert unknown.returncode == 1
    assert (
        unknown.stderr.strip()
        .splitlines()[-1]
        .startswith("ddbridge: extension 'acme/nowhere' is not installed")
    )

    removed = place.cli("rm", repository(images.ui_only))
    assert removed.returncode == 0, removed.stderr
    assert place.installed() == []
    assert not list((place.root / "cache").rglob("index.html"))


def test_a_damaged_store_is_refused_and_left_as_it_was(place: Place) -> None:
    store = place.root / "data" / "ddbridge" / "extensions.json"
    store.parent.mkdir(parents=True)
    store.write_text('{"version": 1, "extensions": [')
    for args in (("ls",), ("install", "-f", "acme/anything:1")):
        result = place.cli(*args)
        assert result.returncode == 2
        last = result.stderr.strip().splitlines()[-1]
        assert last.startswith(f"ddbridge: the extensions store {store} is not valid JSON"), last
    assert store.read_text() == '{"version": 1, "extensions": ['


async def test_extensions_side_by_side_each_with_its_own_backend_and_origin(
    place: Place, images: HostImages, engine: EngineUnderTest, start_host: Callable[[], RunningBridge]
) -> None:
    running = start_host()
    for image in (images.compose, images.single, images.ui_only):
        done = place.cli("install", "-f", image)
        assert done.returncode == 0, done.stderr
        assert "✓ Starting the backend" in done.stderr or image == images.ui_only  # the host's progress, here
    # A failure the host meets is the CLI's one line, as without a host (not an internal error).
    missing = place.cli("install", "-f", "--no-pull", "acme/nowhere:1")
    assert missing.returncode == 1
    assert missing.stderr.strip().splitlines()[-1] == (
        f"ddbridge: image acme/nowhere:1 is not on the engine at {engine.host} and --no-pull was given"
    )
    compose, single = repository(images.compose), repository(images.single)
    assert {entry["ID"]: entry["VM"] for entry in place.installed()} == {
        compose: "Running(1)",
        single: "Running(1)",
        repository(images.ui_only): "-",
    }
    by_name = {entry["name"]: entry for entry in shell_list(running)}
    assert {name: entry["status"] for name, entry in by_name.items()} == {
        compose: "running",
        single: "running",
        repository(images.ui_only): "running",
    }
    shell_url, reach = rpc_url(running)
    async with BridgeClient.connect(shell_url, running.token, **reach) as shell:
        opened = {name: await shell.call("extensions.open", {"name": name}) for name in by_name}

    hostnames = {}
    for name in (compose, single):
        url, reach = rpc_url(running, str(by_name[name]["slug"]))
        credential = opened[name]["credential"]
        async with BridgeClient.connect(
            url, subprotocols=["ddbridge", f"ddbridge.credential.{credential}"], **reach
        ) as page:
            hello = await page.call("service.request", {"method": "GET", "url": "/hello"})
            assert hello["message"] == "Hello from the sample backend"
            answer = await page.call("exec.run", {"target": "vm", "cmd": "cat", "args": ["/etc/hostname"]})
            hostnames[name] = answer["stdout"].strip()
            with pytest.raises(RpcFailure) as refused:
                await page.call("extensions.list")
            assert refused.value.code == -32601
    # Each origin's calls reached its own backend container.
    assert hostnames[compose] != hostnames[single]
    assert any(container.startswith(hostnames[single]) for container in labelled(engine, "single-ext"))

    # A page credential of one extension opens nothing at another's origin, nor at the shell.
    compose_credential = opened[compose]["credential"]
    for slug in (str(by_name[single]["slug"]), None):
        url, reach = rpc_url(running, slug)
        assert await close_code(url, compose_credential, reach) == 4401

    # The host restarted: every extension is back, and answers.
    assert running.stop() == 0
    assert labelled(engine, "compose-ext") == [] and labelled(engine, "single-ext") == []
    running = start_host()
    wait_for(
        lambda: all(entry["status"] == "running" for entry in shell_list(running)),
        timeout=90,
        what="every extension running again",
    )
    url, reach = rpc_url(running, str(by_name[single]["slug"]))
    async with BridgeClient.connect(url, running.token, **reach) as page:
        hello = await page.call("service.request", {"method": "GET", "url": "/hello"})
        assert hello["message"] == "Hello from the sample backend"

    # A backend whose containers went (an engine restart, a `docker rm -f`) is brought up again.
    (gone,) = labelled(engine, "single-ext")
    engine.docker("rm", "-f", gone)
    wait_for(lambda: labelled(engine, "single-ext") not in ([], [gone]), timeout=60, what="the backend back")
    wait_for(
        lambda: all(entry["status"] == "running" for entry in shell_list(running)), timeout=60, what="running"
    )
    async with BridgeClient.connect(url, running.token, **reach) as page:
        hello = await page.call("service.request", {"method": "GET", "url": "/hello"})
        assert hello["message"] == "Hello from the sample backend"

    # update keeps the named volume's data.
    url, reach = rpc_url(running, str(by_name[compose]["slug"]))
    write = ["-c", "open('/data/kept', 'w').write('written by version 1')"]
    async with BridgeClient.connect(url, running.token, **reach) as page:
        assert (await page.call("exec.run", {"target": "vm", "cmd": "python3", "args": write}))["code"] == 0
    updated = place.cli("update", "-f", images.compose_v2)
    assert updated.returncode == 0, updated.stderr
    assert {entry["ID"]: entry["Version"] for entry in place.installed()}[compose] == "2"
    async with BridgeClient.connect(url, running.token, **reach) as page:
        read = await page.call("exec.run", {"target": "vm", "cmd": "cat", "args": ["/data/kept"]})
        assert read["stdout"] == "written by version 1"

    # rm: no containers, no run folder, no extracted files; the named volume stays, and is named.
    removed = place.cli("rm", compose)
    assert removed.returncode == 0, removed.stderr
    volume = re.sub(r"[/:.]", "_", compose) + "-desktop-extension_data"  # Docker Desktop's project, _data
    assert f"kept the named volume {volume}" in removed.stderr
    assert labelled(engine, "compose-ext") == []
    assert volume in engine.docker("volume", "ls", "-q").stdout.split()
    assert compose not in {entry["ID"] for entry in place.installed()}
    engine.docker("volume", "rm", volume, check=False)
    assert running.stop() == 0


def test_a_failed_install_leaves_nothing_behind(
    place: Place, engine: EngineUnderTest, registry: Registry
) -> None:
    metadata = {
        "ui": {"dashboard-tab": {"title": "Dying", "root": "/ui", "src": "index.html"}},
        "host": {"binaries": [{"linux": [{"path": "/tool"}]}]},
        "vm": {"image": "${DESKTOP_PLUGIN_IMAGE}", "exposes": {"socket": "backend.sock"}},
    }
    folder = place.root / "dying"
    build(
        engine,
        folder,
        "local/dying-ext:1",
        {
            "Dockerfile": (
                f"FROM {engine.image}\nCOPY metadata.json tool /\nCOPY index.html /ui/index.html\n"
                """CMD ["sh", "-c", "echo cannot start >&2; exit 3"]\n"""
            ),
            "metadata.json": json.dumps(metadata),
            "tool": "#!/bin/sh\necho tool\n",
            "index.html": "<html></html>",
        },
    )
    reference = registry.push(engine, "local/dying-ext:1", "acme/dying-ext:1", remove_source=True).reference
    failed = place.cli("install", "-f", reference)
    assert failed.returncode == 1
    last = failed.stderr.strip().splitlines()[-1]
    assert last.startswith("ddbridge: the backend stopped before listening on"), last
    assert "exited with code 3; last output: cannot start" in last
    assert labelled(engine, "dying-ext") == []
    assert place.installed() == []
    assert not list((place.root / "cache").rglob("metadata.json")), "the extracted files stay behind"
    run_folders = Path(f"/tmp/ddbridge-{os.getuid()}")
    assert not [path for path in run_folders.glob("acme-dying-ext-*")], "its run folder stays behind"


async def test_one_extension_failing_at_start_is_marked_and_the_others_serve(
    place: Place, images: HostImages, engine: EngineUnderTest, start_host: Callable[[], RunningBridge]
) -> None:
    for image in (images.single, images.ui_only):
        assert place.cli("install", "-f", image).returncode == 0
    # The single container's image goes away while no host runs: its start fails.
    engine.docker("rmi", "-f", images.single)
    running = start_host()
    single, ui_only = repository(images.single), repository(images.ui_only)
    wait_for(
        lambda: (
            {entry["name"]: entry["status"] for entry in shell_list(running)}
            == {single: "failed", ui_only: "running"}
        ),
        timeout=90,
        what="one extension failed, the other running",
    )
    (failure,) = [entry["error"] for entry in shell_list(running) if entry["name"] == single]
    assert "no image" in failure, failure
    listed = place.cli("ls")
    assert f"! {single} failed: " in listed.stdout
    # The other one serves.
    slug = {entry["name"]: entry["slug"] for entry in shell_list(running)}[ui_only]
    url, reach = rpc_url(running, str(slug))
    async with BridgeClient.connect(url, running.token, **reach) as page:
        assert (await page.call("host.info"))["platform"] == sys.platform
    # Its files are served all the same (the UI shows): only the backend is missing.
    assert running.stop() == 0
    assert place.cli("rm", single).returncode == 0


def test_dev_ui_source_serves_an_installed_extensions_ui_from_a_dev_server(
    place: Place, images: HostImages, start_host: Callable[[], RunningBridge], dev_server: str
) -> None:
    assert place.cli("install", "-f", images.ui_only).returncode == 0
    running = start_host()
    name = repository(images.ui_only)
    slug = {entry["name"]: entry["slug"] for entry in shell_list(running)}[name]
    port = running.url.rsplit(":", 1)[1].strip("/")

    def page() -> str:
        headers = {"Host": f"{slug}.localhost:{port}", "Authorization": f"Bearer {running.token}"}
        return httpx.get(f"http://127.0.0.1:{port}/", headers=headers).text

    assert "notes" in page()
    switched = place.cli("dev", "ui-source", name, dev_server)
    assert switched.returncode == 0, switched.stderr
    assert "dev server page" in page() and '<script src="/ddclient.js"></script>' in page()
    assert {entry["name"]: entry["uiSource"] for entry in shell_list(running)}[name] == dev_server
    assert place.cli("dev", "reset", name).returncode == 0
    assert "notes" in page()
    assert running.stop() == 0

"""``ddbridge run IMAGE`` and ``ddbridge dev DIR`` with the backend in Docker, on a real engine:
extraction and its cache, compose and single-container backends, teardown, ``--keep``, and the
one-line errors of images and engines that do not work."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from bridge.testing import BridgeClient
from tests.integration.docker.conftest import StartBridge
from tests.support.dockerd import EngineUnderTest
from tests.support.images import SAMPLE, extension_containers, import_files
from tests.support.processes import REPO

pytestmark = pytest.mark.integration

SAMPLE_BACKEND = SAMPLE / "backend" / "main.py"
# The image tag's last part (sample-extension) names the extension (the ddbridge.extension label).
NAME = "sample-extension"
# Docker Desktop's name for the project: the image's repository (ddbridge-test/sample-extension).
PROJECT = "ddbridge-test_sample-extension-desktop-extension"
# What Docker Desktop labels every backend container with, for the sample image.
SAMPLE_LABELS = {
    "com.docker.desktop.extension": "true",
    "com.docker.desktop.plugin": "true",
    "com.docker.desktop.extension.name": "Sample extension",
    "com.docker.desktop.extension.api.version": ">= 0.3.4",
}


def runtime_of(engine: EngineUnderTest, container: str) -> Path:
    """The run folder whose guest-services the container mounts (other runs, of other test
    sessions on this machine, make folders of the same name pattern at the same time)."""
    template = '{{range .Mounts}}{{if eq .Destination "/run/guest-services"}}{{.Source}}{{end}}{{end}}'
    return Path(engine.docker("inspect", "-f", template, container).stdout.strip()).parent


def ddbridge(
    command: str, *args: str | Path, docker_host: str, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    """A ddbridge command expected to fail before it serves: its exit code and output."""
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "bridge",
            command,
            *map(str, args),
            "--port",
            "0",
            "--docker-host",
            docker_host,
        ],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=timeout,
    )


def one_error_line(result: subprocess.CompletedProcess[str]) -> str:
    """The last line of stderr, checked to be ddbridge's own one-line error."""
    assert "Traceback" not in result.stderr, result.stderr
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith("ddbridge: "), result.stderr
    return last


def build(engine: EngineUnderTest, folder: Path, tag: str, files: dict[str, str]) -> str:
    """``docker build`` of a folder made of ``files`` (path → text, ``Dockerfile`` among them)."""
    for name, content in files.items():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_text(content)
    engine.docker("build", "-t", tag, str(folder), timeout=300)
    return tag


def the_container(engine: EngineUnderTest, name: str) -> str:
    (container,) = extension_containers(engine, name)
    return container


def name_and_labels(engine: EngineUnderTest, container: str) -> tuple[str, dict[str, str]]:
    found = engine.docker("inspect", "-f", "{{.Name}} {{json .Config.Labels}}", container).stdout
    name, labels = found.strip().split(" ", 1)
    return name.lstrip("/"), json.loads(labels)


def compose_names(project: str, service: str) -> set[str]:
    """The container name compose v2 gives a service's first container, and v1's."""
    return {f"{project}-{service}-1", f"{project}_{service}_1"}


def compose_cli() -> list[str]:
    """The compose ddbridge uses here: the CLI plugin, else docker-compose (v1)."""
    plugin = subprocess.run(["docker", "compose", "version"], capture_output=True, check=False)
    return ["docker", "compose"] if plugin.returncode == 0 else ["docker-compose"]


async def check_backend(url: str, engine: EngineUnderTest, name: str) -> None:
    """The service call, an exec in the vm container and a host binary all work."""
    container = the_container(engine, name)
    async with BridgeClient.connect(url) as client:
        hello = await client.call("service.request", {"method": "GET", "url": "/hello"})
        assert hello["message"] == "Hello from the sample backend"
        hostname = await client.call("exec.run", {"target": "vm", "cmd": "cat", "args": ["/etc/hostname"]})
        assert container.startswith(hostname["stdout"].strip())
        mounts = await client.call(
            "exec.run",
            {
                "target": "vm",
                "cmd": "sh",
                "args": ["-c", "ls /run/guest-services; test -S /var/run/docker.sock.raw"],
            },
        )
        assert (mounts["code"], mounts["stdout"]) == (0, "backend.sock\n")
        binary = await client.call(
            "exec.run", {"target": "host", "cmd": "sample-cli", "args": ["hello", "run"]}
        )
        assert binary["stdout"].startswith("Hello, run! This is sample-cli on Linux")


@pytest.mark.engines("docker", "podman")
async def test_run_serves_the_image_and_removes_its_backend(
    extension_bridge: StartBridge, engine: EngineUnderTest, sample_image: str, tmp_path: Path
) -> None:
    cache = tmp_path / "cache"
    running = extension_bridge("run", sample_image, "--cache-dir", cache)
    log = running.log()
    assert f"✓ Extracting {sample_image}" in log
    assert "title 'Sample extension', vendor 'ddbridge', extension API '>= 0.3.4'" in log
    assert f"Starting the backend (compose project {PROJECT})" in log
    page = httpx.get(running.url, headers=running.headers)
    assert '<script src="/ddclient.js"></script><link rel="icon" href="/_ddbridge/icon">' in page.text
    bootstrap = httpx.get(running.url + "ddclient.js", headers=running.headers).text.splitlines()[0]
    assert f'"image":"{sample_image}"' in bootstrap and '"title":"Sample extension"' in bootstrap
    await check_backend(running.ws_url, engine, NAME)
    name, labels = name_and_labels(engine, the_container(engine, NAME))
    assert name in compose_names(PROJECT, "backend")
    assert labels.items() >= {**SAMPLE_LABELS, "com.docker.compose.project": PROJECT}.items()

    (folder,) = cache.iterdir()
    assert {path.name for path in folder.iterdir()} == {
        ".ddbridge-extracted",
        "metadata.json",
        "docker.svg",
        "docker-compose.yaml",
        "ui",
        "binaries",
    }
    assert [path.name for path in (folder / "binaries").rglob("*") if path.is_file()] == ["sample-cli"]
    runtime = runtime_of(engine, the_container(engine, NAME))
    assert (runtime / "guest-services" / "backend.sock").is_socket()
    assert running.stop() == 0
    assert extension_containers(engine, NAME) == []
    assert not runtime.exists()
    assert "✓ Stopping the backend" in running.log()

    # The same image again: its files come from the cache, untouched.
    marker = (folder / ".ddbridge-extracted").stat().st_mtime_ns
    again = extension_bridge("run", sample_image, "--cache-dir", cache)
    assert f"{sample_image}: files cached in {folder}" in again.log()
    assert "Extracting" not in again.log()
    async with BridgeClient.connect(again.ws_url) as client:
        hello = await client.call("service.request", {"method": "GET", "url": "/hello"})
        assert hello["message"] == "Hello from the sample backend"
    assert again.stop() == 0
    assert (folder / ".ddbridge-extracted").stat().st_mtime_ns == marker
    assert extension_containers(engine, NAME) == []


async def test_keep_leaves_the_backend_running(
    extension_bridge: StartBridge, engine: EngineUnderTest, sample_image: str, tmp_path: Path
) -> None:
    """What --keep leaves is Docker Desktop's project: compose takes it down by that name."""
    running = extension_bridge("run", sample_image, "--cache-dir", tmp_path, "--keep")
    runtime = runtime_of(engine, the_container(engine, NAME))
    try:
        assert running.stop() == 0
        assert f"kept (--keep): {runtime} and compose project {PROJECT}" in running.log()
        assert "Stopping the backend" not in running.log()
        (container,) = extension_containers(engine, NAME)
        assert engine.docker("inspect", "-f", "{{.State.Running}}", container).stdout.strip() == "true"
        assert (runtime / "guest-services" / "backend.sock").is_socket()
        (compose_file,) = tmp_path.glob("*/docker-compose.yaml")
        env = {**os.environ, "DOCKER_HOST": engine.host, "DESKTOP_PLUGIN_IMAGE": sample_image}
        down = [*compose_cli(), "-p", PROJECT, "-f", str(compose_file), "down"]
        subprocess.run(down, env=env, capture_output=True, check=True, timeout=120)
        assert extension_containers(engine, NAME) == []
        networks = engine.docker("network", "ls", "--format", "{{.Name}}").stdout.split()
        assert f"{PROJECT}_default" not in networks
    finally:
        for container in extension_containers(engine, NAME):
            engine.docker("rm", "-f", container)
        engine.docker("network", "rm", f"{PROJECT}_default", check=False)
        shutil.rmtree(runtime, ignore_errors=True)


async def test_dev_runs_the_folder_with_a_given_image(
    extension_bridge: StartBridge, engine: EngineUnderTest, sample_image: str
) -> None:
    running = extension_bridge("dev", SAMPLE, "--image", sample_image)
    assert "Building" not in running.log()
    assert f"Starting the backend (compose project {PROJECT})" in running.log()
    assert '<script src="/ddclient.js"></script>' in httpx.get(running.url, headers=running.headers).text
    await check_backend(running.ws_url, engine, NAME)
    assert running.stop() == 0
    assert extension_containers(engine, NAME) == []


async def test_compose_first_service_is_the_vm_and_every_service_gets_the_mounts(
    extension_bridge: StartBridge,
    engine: EngineUnderTest,
    sample_image: str,
    python_image: str,
    tmp_path: Path,
) -> None:
    """``web`` comes first in the file but starts last (it depends on ``helper``). Every service
    carries Docker Desktop's labels, ``helper`` too although its image (python3) has none, and
    the image's title reaches them as written: compose does not interpolate ``${HOME}`` in it."""
    image = build(
        engine,
        tmp_path / "titled",
        "localhost:5000/ddbridge-test/duo:1",
        {"Dockerfile": f'FROM {sample_image}\nLABEL org.opencontainers.image.title="Duo \\${{HOME}}"\n'},
    )
    title = engine.docker(
        "inspect", "-f", '{{index .Config.Labels "org.opencontainers.image.title"}}', image
    ).stdout.strip()
    assert title == "Duo ${HOME}"
    project = "localhost_5000_ddbridge-test_duo-desktop-extension"
    folder = tmp_path / "duo"
    (folder / "ui").mkdir(parents=True)
    (folder / "ui" / "index.html").write_text("<html></html>")
    (folder / "metadata.json").write_text(
        json.dumps(
            {
                "ui": {"dashboard-tab": {"title": "Duo", "root": "/ui"}},
                "vm": {"composefile": "compose.yaml", "exposes": {"socket": "backend.sock"}},
            }
        )
    )
    (folder / "compose.yaml").write_text(
        "version: '3.8'\n"
        "services:\n"
        "  web:\n"
        "    image: ${DESKTOP_PLUGIN_IMAGE}\n"
        "    depends_on: [helper]\n"
        "  helper:\n"
        f"    image: {python_image}\n"
        "    command: [sleep, '600']\n"
        "    init: true\n"  # sleep as PID 1 would ignore SIGTERM: compose down would wait 10 s
    )
    try:
        running = extension_bridge("dev", folder, "--image", image)
        assert f"Starting the backend (compose project {project})" in running.log()
        by_service = {}
        for ident in extension_containers(engine, "duo"):
            name, labels = name_and_labels(engine, ident)
            service = labels["com.docker.compose.service"]
            assert name in compose_names(project, service)
            expected = {**SAMPLE_LABELS, "com.docker.desktop.extension.name": title}
            assert labels.items() >= {**expected, "com.docker.compose.project": project}.items()
            by_service[service] = ident
        assert by_service.keys() == {"web", "helper"}
        await check_duo(running.ws_url, engine, by_service)
        assert running.stop() == 0
        assert extension_containers(engine, "duo") == []
    finally:
        engine.docker("rmi", "-f", image, check=False)


async def check_duo(url: str, engine: EngineUnderTest, by_service: dict[str, str]) -> None:
    """The vm container is ``web``'s; ``helper`` sees the guest-services folder too."""
    async with BridgeClient.connect(url) as client:
        hostname = await client.call("exec.run", {"target": "vm", "cmd": "hostname"})
        assert by_service["web"].startswith(hostname["stdout"].strip())
    helper_sees = engine.docker("exec", by_service["helper"], "ls", "/run/guest-services").stdout
    assert helper_sees.split() == ["backend.sock"]


def tiny_metadata(**vm: object) -> str:
    return json.dumps(
        {
            "ui": {"dashboard-tab": {"title": "Tiny", "root": "/ui", "src": "index.html"}},
            "vm": {"image": "${DESKTOP_PLUGIN_IMAGE}", **vm},
        }
    )


async def test_dev_builds_a_single_container_backend(
    extension_bridge: StartBridge, engine: EngineUnderTest, python_image: str, tmp_path: Path
) -> None:
    """A vm.image extension folder: dev builds its Dockerfile (with --build-arg), then runs it."""
    folder = tmp_path / "tiny-ext"
    (folder / "ui").mkdir(parents=True)
    (folder / "ui" / "index.html").write_text("<html><head></head><body>tiny</body></html>")
    (folder / "metadata.json").write_text(tiny_metadata(exposes={"socket": "tiny.sock"}))
    shutil.copy(SAMPLE_BACKEND, folder / "main.py")
    (folder / "Dockerfile").write_text(
        "ARG BASE\nFROM ${BASE}\nCOPY main.py /main.py\n"
        'CMD ["python3", "/main.py", "--socket", "/run/guest-services/tiny.sock"]\n'
    )
    tag = "ddbridge-dev/tiny-ext:latest"
    try:
        running = extension_bridge("dev", folder, "--build-arg", f"BASE={python_image}")
        assert f"✓ Building {tag} from {folder}" in running.log()
        container_name = "ddbridge-dev_tiny-ext-desktop-extension-service"
        assert f"Starting the backend (container {container_name} of {tag})" in running.log()
        container = the_container(engine, "tiny-ext")
        async with BridgeClient.connect(running.ws_url) as client:
            hello = await client.call("service.request", {"method": "GET", "url": "/hello"})
            assert hello["message"] == "Hello from the sample backend"
            hostname = await client.call("exec.run", {"target": "vm", "cmd": "hostname"})
            assert container.startswith(hostname["stdout"].strip())
        assert running.stop() == 0
        assert extension_containers(engine, "tiny-ext") == []
    finally:
        engine.docker("rmi", "-f", tag, check=False)


async def test_dev_takes_from_the_image_what_the_folder_lacks(
    extension_bridge: StartBridge, engine: EngineUnderTest, python_image: str, tmp_path: Path
) -> None:
    """As most real extensions do, the Dockerfile puts metadata's files in place (the built UI from
    another folder, the host binary from elsewhere): dev builds the image and serves its files,
    saying so; the flags still win over them."""
    folder = tmp_path / "layout-ext"
    built = "<html><head></head><body>built into the image</body></html>"
    files = {
        "metadata.json": json.dumps(
            {
                "ui": {"dashboard-tab": {"title": "Layout", "root": "/ui", "src": "index.html"}},
                "vm": {"image": "${DESKTOP_PLUGIN_IMAGE}", "exposes": {"socket": "layout.sock"}},
                "host": {"binaries": [{"linux": [{"path": "/linux/tool"}]}]},
            }
        ),
        "client/dist/index.html": built,
        "tools/tool.sh": '#!/bin/sh\necho "image tool says $*"\n',
        "Dockerfile": "ARG BASE\nFROM ${BASE}\nCOPY metadata.json /\nCOPY client/dist /ui\n"
        "COPY tools/tool.sh /linux/tool\nCOPY main.py /main.py\n"
        'CMD ["python3", "/main.py", "--socket", "/run/guest-services/layout.sock"]\n',
    }
    for name, content in files.items():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_text(content)
    (folder / "tools" / "tool.sh").chmod(0o755)
    shutil.copy(SAMPLE_BACKEND, folder / "main.py")
    tag = "ddbridge-dev/layout-ext:latest"
    cache = tmp_path / "cache"
    base = ("--build-arg", f"BASE={python_image}", "--cache-dir", cache)
    try:
        running = extension_bridge("dev", folder, *base)
        log = running.log()
        assert (
            f"{folder} does not hold the UI /ui/index.html, the host binary /linux/tool: taking the "
            f"extension's files from the image {tag}, as `ddbridge run` does"
        ) in log
        assert "Extracting" in log and log.count(f"✓ Building {tag}") == 1, log
        assert "built into the image" in httpx.get(running.url, headers=running.headers).text
        async with BridgeClient.connect(running.ws_url) as client:
            tool = await client.call("exec.run", {"target": "host", "cmd": "tool", "args": ["a"]})
            assert tool["stdout"] == "image tool says a\n"
            hello = await client.call("service.request", {"method": "GET", "url": "/hello"})
            assert hello["message"] == "Hello from the sample backend"
        assert running.stop() == 0
        # The flags win: the binaries are the flag's, not even copied from the image; the UI still is.
        mine = tmp_path / "mine"
        mine.mkdir()
        (mine / "tool").write_text('#!/bin/sh\necho "flag tool says $*"\n')
        (mine / "tool").chmod(0o755)
        running = extension_bridge("dev", folder, *base, "--host-binaries", mine)
        assert f"{folder} does not hold the UI /ui/index.html: taking" in running.log()
        assert "built into the image" in httpx.get(running.url, headers=running.headers).text
        (extracted,) = cache.glob("*-without-host.binaries")
        assert not (extracted / "linux").exists()
        async with BridgeClient.connect(running.ws_url) as client:
            tool = await client.call("exec.run", {"target": "host", "cmd": "tool", "args": ["b"]})
            assert tool["stdout"] == "flag tool says b\n"
        assert running.stop() == 0
        assert extension_containers(engine, "layout-ext") == []
    finally:
        engine.docker("rmi", "-f", tag, check=False)


@pytest.mark.engines("docker", "podman")
async def test_run_a_single_container_backend(
    extension_bridge: StartBridge, engine: EngineUnderTest, sample_image: str, tmp_path: Path
) -> None:
    """vm.image: the sample image with a metadata.json that runs the image itself as the backend,
    in one container with Docker Desktop's name and labels (its project's: the registry's
    ``:port`` is no character compose allows)."""
    tag = build(
        engine,
        tmp_path / "variant",
        "localhost:5000/ddbridge-test/single:variant",
        {
            "Dockerfile": f"FROM {sample_image}\nCOPY metadata.json /metadata.json\n",
            "metadata.json": tiny_metadata(exposes={"socket": "backend.sock"}),
        },
    )
    try:
        running = extension_bridge("run", tag, "--cache-dir", tmp_path / "cache")
        project = "localhost_5000_ddbridge-test_single-desktop-extension"
        assert f"container {project}-service of {tag}" in running.log()
        container = the_container(engine, "single")
        name, labels = name_and_labels(engine, container)
        assert name == f"{project}-service"
        assert labels.items() >= {**SAMPLE_LABELS, "com.docker.compose.project": project}.items()
        async with BridgeClient.connect(running.ws_url) as client:
            hello = await client.call("service.request", {"method": "GET", "url": "/hello"})
            assert hello["message"] == "Hello from the sample backend"
            hostname = await client.call(
                "exec.run", {"target": "vm", "cmd": "cat", "args": ["/etc/hostname"]}
            )
            assert container.startswith(hostname["stdout"].strip())
        assert running.stop() == 0
        assert extension_containers(engine, "single") == []
    finally:
        engine.docker("rmi", "-f", tag, check=False)


def test_backend_that_dies_shows_its_logs(engine: EngineUnderTest, tmp_path: Path) -> None:
    tag = build(
        engine,
        tmp_path / "dying",
        "ddbridge-test/dying:latest",
        {
            "Dockerfile": (
                f"FROM {engine.image}\nCOPY metadata.json /metadata.json\nCOPY ui /ui\n"
                """CMD ["sh", "-c", "echo starting up; echo 'fatal: no config' >&2; exit 3"]\n"""
            ),
            "metadata.json": tiny_metadata(exposes={"socket": "backend.sock"}),
            "ui/index.html": "<html></html>",
        },
    )
    try:
        result = ddbridge("run", tag, "--cache-dir", tmp_path / "cache", docker_host=engine.host)
        assert result.returncode == 1
        last = one_error_line(result)
        assert last.startswith("ddbridge: the backend stopped before listening on")
        assert "container ddbridge-test_dying-desktop-extension-service exited with code 3" in last
        # Both lines, in either order: the engine copies stdout and stderr separately, so two lines
        # written a microsecond apart on different streams may come back swapped.
        assert "last output: " in last
        assert sorted(last.split("last output: ", 1)[1].split(" | ")) == ["fatal: no config", "starting up"]
        assert extension_containers(engine, "dying") == []
    finally:
        engine.docker("rmi", "-f", tag, check=False)


def test_missing_image_says_to_pull_or_build_it(engine: EngineUnderTest, tmp_path: Path) -> None:
    result = ddbridge("run", "ddbridge-test/nowhere:1", "--cache-dir", tmp_path, docker_host=engine.host)
    assert result.returncode == 2
    last = one_error_line(result)
    assert f"no image ddbridge-test/nowhere:1 on the Docker engine at {engine.host}" in last
    assert "docker pull ddbridge-test/nowhere:1" in last and "docker build" in last


@pytest.mark.parametrize(
    ("files", "links", "message"),
    [
        (
            {"ui/index.html": "<html></html>"},
            {},
            "has no /metadata.json: is it a Docker Desktop extension image?",
        ),
        ({"metadata.json": "{nope"}, {}, ":/metadata.json is not valid JSON"),
        (
            {"metadata.json": json.dumps({"ui": {"dashboard-tab": {"title": "T", "root": "../../etc"}}})},
            {},
            "leaves the extension ('..' is not allowed)",
        ),
        ({"metadata.json": tiny_metadata()}, {}, "ui.dashboard-tab.root /ui is not in the image"),
        (
            {"metadata.json": tiny_metadata(), "ui/index.html": "<html></html>"},
            {"ui/escape": "../../../../etc"},
            "the link 'ui/escape' in /ui points to '../../../../etc', outside the extension: refused",
        ),
    ],
    ids=["no-metadata", "bad-json", "traversal", "missing-ui", "escaping-link"],
)
def test_bad_images_say_what_is_wrong(
    engine: EngineUnderTest, tmp_path: Path, files: dict[str, str], links: dict[str, str], message: str
) -> None:
    tag = import_files(engine, f"ddbridge-test/bad:{len(files)}-{len(links)}", files, links)
    try:
        result = ddbridge("run", tag, "--cache-dir", tmp_path, docker_host=engine.host)
        assert result.returncode in (1, 2)
        assert message in one_error_line(result)
        assert list(tmp_path.iterdir()) == [], "nothing is cached from a failed extraction"
    finally:
        engine.docker("rmi", "-f", tag, check=False)


@pytest.mark.parametrize(
    ("setting", "files", "message"),
    [
        (
            "max_bytes = 1048576",
            {"ui/a.bin": b"a" * 600_000, "ui/b.bin": b"b" * 600_000},
            "take more than [extension] max_bytes = 1,048,576 bytes",
        ),
        (
            "max_members = 5",
            {f"ui/{index}.js": "x" for index in range(10)},
            "hold more than [extension] max_members = 5 entries",
        ),
    ],
    ids=["bytes", "members"],
)
def test_extraction_stops_at_the_caps(
    engine: EngineUnderTest, tmp_path: Path, setting: str, files: dict[str, str | bytes], message: str
) -> None:
    config = tmp_path / "ddbridge.toml"
    config.write_text(f"[extension]\n{setting}\n")
    cache = tmp_path / "cache"
    tag = import_files(engine, f"ddbridge-test/big:{len(files)}", {"metadata.json": tiny_metadata(), **files})
    try:
        result = ddbridge("run", tag, "--cache-dir", cache, "--config", config, docker_host=engine.host)
        assert result.returncode == 1
        assert message in one_error_line(result)
        assert list(cache.iterdir()) == [], "nothing is cached from a failed extraction"
    finally:
        engine.docker("rmi", "-f", tag, check=False)


def test_unreachable_engine_is_named(tmp_path: Path) -> None:
    nowhere = f"unix://{tmp_path}/no-engine.sock"
    result = ddbridge("run", "any/image", "--cache-dir", tmp_path, docker_host=nowhere)
    assert result.returncode == 1
    assert f"cannot reach the Docker engine at {nowhere}" in one_error_line(result)

    result = ddbridge("dev", SAMPLE, docker_host=nowhere)
    assert result.returncode == 1
    last = one_error_line(result)
    assert last.startswith("ddbridge: the extension's backend runs in Docker (metadata.json has a vm), but")
    assert nowhere in last and last.endswith(
        "start Docker, or give --backend-cmd CMD to run the backend on the host"
    )


def test_an_engine_elsewhere_than_var_run_docker_sock_is_said_once(
    extension_bridge: StartBridge, engine: EngineUnderTest, tmp_path: Path
) -> None:
    """The private engine listens in a temporary folder: a `docker run -v
    /var/run/docker.sock:...` that an extension gives docker.cli.exec would not reach it."""
    folder = tmp_path / "plain"
    (folder / "ui").mkdir(parents=True)
    (folder / "ui" / "index.html").write_text("<html></html>")
    (folder / "metadata.json").write_text(
        json.dumps({"ui": {"dashboard-tab": {"title": "P", "root": "/ui"}}})
    )
    running = extension_bridge("dev", folder)
    assert running.stop() == 0
    socket = engine.host.removeprefix("unix://")
    warnings = [line for line in running.log().splitlines() if "/var/run/docker.sock" in line]
    assert len(warnings) == 1, running.log()
    assert warnings[0].startswith(f"! the Docker engine is at {socket}, not /var/run/docker.sock: ")
    assert "serve them from an engine listening at unix:///var/run/docker.sock" in warnings[0]


def test_a_project_of_someone_else_is_left_alone(
    engine: EngineUnderTest, sample_image: str, tmp_path: Path
) -> None:
    """Docker Desktop, on its own engine, runs the extension under the same project name: ddbridge
    neither takes those containers over nor removes them."""
    theirs = engine.docker(
        "create",
        "--label",
        f"com.docker.compose.project={PROJECT}",
        "--name",
        f"{PROJECT}-theirs",
        engine.image,
        "true",
    ).stdout.strip()
    try:
        result = ddbridge("run", sample_image, "--cache-dir", tmp_path, docker_host=engine.host)
        assert result.returncode == 1
        last = one_error_line(result)
        assert (
            f"the compose project {PROJECT} already has containers ddbridge did not start ({PROJECT}-theirs)"
            in last
        )
        assert extension_containers(engine, NAME) == []
        assert engine.docker("inspect", "-f", "{{.Id}}", theirs).stdout.strip() == theirs
    finally:
        engine.docker("rm", "-f", theirs, check=False)

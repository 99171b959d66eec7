"""Fixtures shared by the whole suite: the real daemon, a real backend, host binaries."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from bridge.testing import RunningBridge, free_port, start_bridge
from tests.support.dockerd import EngineUnderTest, engine_or_skip
from tests.support.images import ExtensionImages, copied_images, extension_images
from tests.support.processes import REPO, start_backend, wait_listening
from tests.support.registry import Registry, registry_or_skip
from tests.support.remote import RemoteHost, remote_or_skip

# Test runs write to one ignored folder, test-artifacts/ (screenshots in browser/): Hypothesis's
# example database and its constants cache go there too, not to .hypothesis/ in the checkout
# (read when Hypothesis first writes, which is after the conftests are imported).
os.environ.setdefault("HYPOTHESIS_STORAGE_DIRECTORY", str(REPO / "test-artifacts" / "hypothesis"))


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Browser tests last: Playwright's sync API keeps an event loop running in the main thread
    from its first use to the end of the session, and async tests cannot run after that."""
    items.sort(key=lambda item: item.get_closest_marker("browser") is not None)


@pytest.fixture(scope="session")
def registry() -> Iterator[Registry]:
    """A real registry on loopback (Debian's docker-registry) the engine pushes to and pulls from."""
    yield from registry_or_skip("the pull and extensions host tests")


@pytest.fixture(scope="session")
def dev_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The test dev server's URL (``http://127.0.0.1:PORT``), for the whole session."""
    port = free_port()
    log_path = tmp_path_factory.mktemp("devserver") / "devserver.log"
    with log_path.open("w") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "uvicorn", "tests.support.devserver_app:app", "--port", str(port)],
            cwd=REPO,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    wait_listening(("127.0.0.1", port), process, "the test dev server", log_path=log_path)
    yield f"http://127.0.0.1:{port}"
    process.terminate()
    try:
        process.wait(10)
    except subprocess.TimeoutExpired:  # uvicorn waits for open connections first
        process.kill()
        process.wait()


@pytest.fixture(scope="session")
def short_tmp() -> Iterator[Path]:
    """A short temp folder: unix socket paths must stay under 108 bytes."""
    with tempfile.TemporaryDirectory(prefix="ddb-", dir="/tmp") as folder:
        yield Path(folder)


@pytest.fixture(scope="session")
def backend_socket(short_tmp: Path) -> Iterator[Path]:
    """The test backend listening on a unix socket."""
    socket_path = short_tmp / "backend.sock"
    process = start_backend(uds=socket_path)
    yield socket_path
    process.terminate()
    process.wait(10)


@pytest.fixture(scope="session")
def backend_url() -> Iterator[str]:
    """The test backend listening on a loopback TCP port."""
    port = free_port()
    process = start_backend(port=port)
    yield f"http://127.0.0.1:{port}"
    process.terminate()
    process.wait(10)


def write_script(folder: Path, name: str, body: str) -> Path:
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("#!/bin/sh\n" + body)
    path.chmod(path.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    return path


def write_host_tools(folder: Path) -> Path:
    """The small shell tools the tests run through the bridge as host binaries."""
    write_script(folder, "greet", 'echo "hello $*"; echo "to stderr" >&2\n')
    write_script(folder, "fail", 'echo "partial"; echo "it broke" >&2; exit 3\n')
    write_script(folder, "where", 'pwd; echo "DDB_VAR=$DDB_VAR"\n')
    write_script(
        folder,
        "ticker",
        'i=0; while [ $i -lt "${1:-1000}" ]; do echo "tick $i"; i=$((i+1)); sleep 0.05; done\n',
    )
    write_script(folder, "forever", 'trap "" TERM; sleep 1000 & echo "child $!"; wait\n')
    write_script(folder, "chunks", "printf 'a\\nb'; sleep 0.2; printf 'c\\nd'; printf 'x\\ny' >&2\n")
    write_script(folder, "lines", 'yes "line € $2" | head -n "$1"\n')
    return folder


@pytest.fixture
def host_binaries(tmp_path: Path) -> Path:
    """A host-binaries folder with the tools of ``write_host_tools``."""
    return write_host_tools(tmp_path / "binaries")


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """``engine`` is Docker's, unless the test or its module is marked
    ``pytest.mark.engines("docker", "podman")``: then it runs once per engine, ids ``[docker]``
    and ``[podman]`` (pytest groups the tests by engine, so each engine is made once)."""
    marker = metafunc.definition.get_closest_marker("engines")
    if marker is not None and "engine" in metafunc.fixturenames:
        metafunc.parametrize("engine", marker.args, indirect=True, scope="session", ids=str)


@pytest.fixture(scope="session")
def engine(request: pytest.FixtureRequest) -> EngineUnderTest:
    """The engine of the test (see ``pytest_generate_tests``): ``docker_engine`` or ``podman_engine``."""
    engine: EngineUnderTest = request.getfixturevalue(f"{getattr(request, 'param', 'docker')}_engine")
    return engine


@pytest.fixture(scope="session")
def docker_engine() -> Iterator[EngineUnderTest]:
    """The suite's Docker engine (tests/support/dockerd.py): ``DOCKER_HOST``, or a private
    dockerd with its busybox image and "vm" container. Skips without one; fails so under CI."""
    yield from engine_or_skip("the Docker tests")


@pytest.fixture(scope="session")
def remote() -> Iterator[RemoteHost]:
    """A second machine with its own dockerd, reached over ssh (tests/support/remote.py)."""
    yield from remote_or_skip("the ssh engine tests")


def _images_on(engine: EngineUnderTest) -> Iterator[ExtensionImages]:
    from tests.browser.conftest import _build as build_ui  # it imports this module

    build_ui("sample-ui")
    yield from extension_images(engine, "the extension image tests")


@pytest.fixture(scope="session")
def docker_images(docker_engine: EngineUnderTest) -> Iterator[ExtensionImages]:
    """The python3 base image and the sample extension's image (tests/support/images.py) on the
    Docker engine, for the whole session."""
    yield from _images_on(docker_engine)


@pytest.fixture(scope="session")
def podman_images(podman_engine: EngineUnderTest) -> Iterator[ExtensionImages]:
    """The same images on the Podman engine."""
    yield from _images_on(podman_engine)


@pytest.fixture(scope="session")
def built_images(request: pytest.FixtureRequest, engine: EngineUnderTest) -> ExtensionImages:
    """The images on the test's engine. Made once per engine and kept for the session: a worker
    going from a ``[podman]`` test to a Docker one re-makes this fixture, not the images."""
    images: ExtensionImages = request.getfixturevalue(f"{engine.kind}_images")
    return images


@pytest.fixture(scope="session")
def remote_images(
    docker_images: ExtensionImages, docker_engine: EngineUnderTest, remote: RemoteHost
) -> Iterator[ExtensionImages]:
    """The Docker engine's images on the second machine's engine too (a copy takes seconds, a
    build more)."""
    with copied_images(docker_engine, remote.docker, docker_images.python, docker_images.sample):
        yield docker_images


@pytest.fixture(scope="session")
def podman_engine() -> Iterator[EngineUnderTest]:
    """A private ``podman system service`` with the same image and "vm" container."""
    yield from engine_or_skip("the Podman tests", kind="podman")


def _bridge_launcher(folder: Path) -> Iterator[Callable[..., RunningBridge]]:
    started: list[RunningBridge] = []

    def start(
        *args: str | Path, env: dict[str, str] | None = None, command: str = "serve", timeout: float = 20
    ) -> RunningBridge:
        log_path = folder / f"bridge-{len(started)}.log"
        running = start_bridge(args, log_path, env, timeout, command, cwd=REPO)
        started.append(running)
        return running

    yield start
    for running in started:
        running.stop()
        # Captured output is shown for failing tests only: the daemon's log is there when needed.
        print(f"--- log of the bridge at {running.url}\n{running.log()}")


@pytest.fixture
def bridge(tmp_path: Path) -> Iterator[Callable[..., RunningBridge]]:
    """Start ``ddbridge serve --port 0`` with extra arguments; every bridge is stopped afterwards."""
    yield from _bridge_launcher(tmp_path)


@pytest.fixture(scope="module")
def module_bridge(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Callable[..., RunningBridge]]:
    """Like ``bridge``, for bridges a whole test module shares."""
    yield from _bridge_launcher(tmp_path_factory.mktemp("bridges"))

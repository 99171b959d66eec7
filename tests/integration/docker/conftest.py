"""The Docker engine for these tests (see tests/support/dockerd.py) and bridges pointed at it.

Without dockerd or busybox-static the tests skip, saying what to install; under CI they fail
instead, so a machine that lost its Docker packages cannot pass by skipping.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path

import pytest

from bridge.testing import BridgeClient
from tests.browser.conftest import _build as build_ui
from tests.support.dockerd import EngineMissing, EngineUnderTest, provide_engine
from tests.support.images import import_python_image
from tests.support.processes import REPO, RunningBridge

StartBridge = Callable[..., RunningBridge]


@pytest.fixture(scope="session")
def engine() -> Iterator[EngineUnderTest]:
    try:
        with provide_engine() as provided:
            yield provided
    except EngineMissing as exc:
        if os.environ.get("CI"):
            pytest.fail(f"the Docker integration tests need a Docker engine: {exc}", pytrace=False)
        pytest.skip(f"no Docker engine for the integration tests: {exc}")


@pytest.fixture
def docker_bridge(bridge: StartBridge, engine: EngineUnderTest) -> StartBridge:
    """Start a bridge on the test engine with its "vm" container; extra args and env pass on."""

    def start(*args: str, env: dict[str, str] | None = None) -> RunningBridge:
        return bridge("--docker-host", engine.host, "--vm-container", engine.vm, *args, env=env)

    return start


@pytest.fixture
async def client(docker_bridge: StartBridge) -> AsyncIterator[BridgeClient]:
    async with BridgeClient.connect(docker_bridge().ws_url) as connected:
        yield connected


# --------------------------------------------------------------------------------------------
# Extension images and ``ddbridge run``/``dev`` on the test engine

SAMPLE = REPO / "docker" / "sample-extension"
EXTENSION_LABEL = "ddbridge.extension"


@pytest.fixture(scope="session")
def python_image(engine: EngineUnderTest) -> Iterator[str]:
    """A base image with Debian's python3 (tests/support/images.py), made once per session."""
    tag = f"ddbridge-test/python:{engine.token}"
    try:
        import_python_image(engine, tag)
    except EngineMissing as exc:
        if os.environ.get("CI"):
            pytest.fail(f"the extension image tests need a python3 image: {exc}", pytrace=False)
        pytest.skip(f"no python3 image for the extension tests: {exc}")
    yield tag
    engine.docker("rmi", "-f", tag, check=False)


@pytest.fixture(scope="session")
def sample_image(engine: EngineUnderTest, python_image: str) -> Iterator[str]:
    """docker/sample-extension's image, on ``python_image``, with its UI bundle built first."""
    build_ui("sample-ui")
    tag = f"ddbridge-test/sample-extension:{engine.token}"
    engine.docker("build", "--build-arg", f"BASE={python_image}", "-t", tag, str(SAMPLE), timeout=300)
    yield tag
    engine.docker("rmi", "-f", tag, check=False)


@pytest.fixture
def extension_bridge(bridge: StartBridge, engine: EngineUnderTest) -> StartBridge:
    """``extension_bridge("run", IMAGE, *args)`` or ``("dev", DIR, *args)`` on the test engine."""

    def start(command: str, *args: str | Path) -> RunningBridge:
        return bridge(*args, "--docker-host", engine.host, command=command, timeout=120)

    return start


def extension_containers(engine: EngineUnderTest, name: str) -> list[str]:
    """The ids of every container (running or not) a run of extension ``name`` started."""
    listed = engine.docker("ps", "-aq", "--no-trunc", "--filter", f"label={EXTENSION_LABEL}={name}")
    return listed.stdout.split()

"""The Docker engine for these tests (see tests/support/dockerd.py) and bridges pointed at it.

Without dockerd or busybox-static the tests skip, saying what to install; under CI they fail
instead, so a machine that lost its Docker packages cannot pass by skipping.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path

import pytest

from bridge.testing import BridgeClient
from tests.support.dockerd import EngineUnderTest, or_skip
from tests.support.images import ExtensionImages
from tests.support.processes import RunningBridge
from tests.support.tcp_engines import TcpEngine, tcp_engine

StartBridge = Callable[..., RunningBridge]


@pytest.fixture
def docker_bridge(bridge: StartBridge, engine: EngineUnderTest) -> StartBridge:
    """Start a bridge on the test engine with its "vm" container; extra args and env pass on."""

    def start(*args: str, env: dict[str, str] | None = None) -> RunningBridge:
        return bridge("--docker-host", engine.host, "--vm-container", engine.vm, *args, env=env)

    return start


@pytest.fixture(scope="session")
def tls_engine() -> Iterator[TcpEngine]:
    """A private dockerd on tcp://127.0.0.1:PORT with --tlsverify (tests/support/tcp_engines.py)."""
    yield from or_skip(tcp_engine(tls=True), "the TLS engine tests", "a Docker engine on tcp:// with TLS")


@pytest.fixture(scope="session")
def plain_tcp_engine() -> Iterator[TcpEngine]:
    """A private dockerd on tcp://127.0.0.1:PORT without TLS."""
    yield from or_skip(tcp_engine(tls=False), "the tcp engine tests", "a Docker engine on tcp://")


@pytest.fixture(scope="module")
def shared_bridge(module_bridge: StartBridge, engine: EngineUnderTest) -> RunningBridge:
    """One bridge on the test engine for the module's ``client`` tests (one per engine): a start
    costs a second or more, and the tests that need a bridge of their own use ``docker_bridge``."""
    return module_bridge("--docker-host", engine.host, "--vm-container", engine.vm)


@pytest.fixture
async def client(shared_bridge: RunningBridge) -> AsyncIterator[BridgeClient]:
    async with BridgeClient.connect(shared_bridge.ws_url) as connected:
        yield connected


# --------------------------------------------------------------------------------------------
# Extension images and ``ddbridge run``/``dev`` on the test engine


@pytest.fixture
def python_image(built_images: ExtensionImages) -> str:
    return built_images.python


@pytest.fixture
def sample_image(built_images: ExtensionImages) -> str:
    return built_images.sample


@pytest.fixture
def extension_bridge(bridge: StartBridge, engine: EngineUnderTest) -> StartBridge:
    """``extension_bridge("run", IMAGE, *args)`` or ``("dev", DIR, *args)`` on the test engine."""

    def start(command: str, *args: str | Path) -> RunningBridge:
        return bridge(*args, "--docker-host", engine.host, command=command, timeout=120)

    return start

"""A local engine found by itself (bridge/engine_discovery.py), at the real paths: each case runs
in a mount namespace of its own whose ``/run`` is an empty tmpfs, with the test engines' sockets
bind-mounted where Docker and Podman put theirs (``/var/run`` leads to ``/run``)."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from bridge.testing import BridgeClient
from bridge.testing.launcher import READY_PREFIX, RunningBridge
from tests.browser.helpers import wait_for
from tests.support.dockerd import EngineUnderTest, in_namespaces
from tests.support.processes import REPO

pytestmark = pytest.mark.integration

PODMAN_ROOTFUL = "/run/podman/podman.sock"
DOCKER_DEFAULT = "/run/docker.sock"
# Binds each socket of $2.. (pairs: source, target) after a tmpfs on /run, then runs the rest.
_PRIVATE_RUN = """
mount -t tmpfs tmpfs /run || exit 1
while [ "$1" != -- ]; do
    mkdir -p "$(dirname "$2")" && touch "$2" && mount --bind "$1" "$2" || exit 1
    shift 2
done
shift
exec "$@"
"""


@pytest.fixture(scope="module")
def namespaces() -> None:
    """Root and ``unshare`` are needed; without them the tests skip, under CI they fail."""
    missing = "needs root" if os.geteuid() != 0 else None
    if shutil.which("unshare") is None:
        missing = "needs unshare (Debian's util-linux)"
    if missing is None:
        return
    if os.environ.get("CI"):
        pytest.fail(f"the discovery tests {missing}", pytrace=False)
    pytest.skip(f"the discovery tests {missing}")


@pytest.fixture
def clean_env(tmp_path: Path) -> dict[str, str]:
    """The environment of a user who names no engine: no DOCKER_HOST, no context, and a runtime
    folder of their own (rootless Podman's socket lives there)."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("DOCKER_")}
    (tmp_path / "docker-config").mkdir()
    (tmp_path / "runtime").mkdir()
    return {
        **env,
        "DOCKER_CONFIG": str(tmp_path / "docker-config"),
        "XDG_RUNTIME_DIR": str(tmp_path / "runtime"),
    }


def private_run(binds: dict[str, Path], *argv: str) -> list[str]:
    """``argv`` in a new mount namespace with ``/run`` empty but for ``binds`` (target → socket)."""
    pairs = [str(part) for target, source in binds.items() for part in (source, target)]
    return in_namespaces(_PRIVATE_RUN, *pairs, "--", *argv)


def socket_of(engine: EngineUnderTest) -> Path:
    return Path(engine.host.removeprefix("unix://"))


def resolved(binds: dict[str, Path], env: dict[str, str]) -> str:
    """What ``EngineAddress.resolve`` chooses there: ``HOST (SOURCE)``."""
    code = (
        "from bridge.config import DockerSettings; from bridge.docker_engine import EngineAddress; "
        "a = EngineAddress.resolve(DockerSettings()); print(f'{a.host} ({a.source})')"
    )
    done = subprocess.run(
        private_run(binds, sys.executable, "-c", code),
        env=env,
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


StartPrivate = Callable[[dict[str, Path]], RunningBridge]


@pytest.fixture
def private_bridge(tmp_path: Path, clean_env: dict[str, str]) -> Iterator[StartPrivate]:
    """``private_bridge(binds)``: ``ddbridge serve`` in a private ``/run``; stopped at the end."""
    started: list[RunningBridge] = []

    def start(binds: dict[str, Path]) -> RunningBridge:
        log_path = tmp_path / f"bridge-{len(started)}.log"
        with log_path.open("w") as log:
            process = subprocess.Popen(
                private_run(binds, sys.executable, "-m", "bridge", "serve", "--port", "0"),
                stdout=subprocess.PIPE,
                stderr=log,
                text=True,
                env=clean_env,
                cwd=REPO,
            )
        assert process.stdout is not None
        line = process.stdout.readline()
        if not line.startswith(READY_PREFIX):
            process.kill()
            process.wait()
            pytest.fail(f"ddbridge did not start: {line!r}; its log:\n{log_path.read_text()}")
        started.append(
            RunningBridge.from_ready_url(line.removeprefix(READY_PREFIX).strip(), process, log_path)
        )
        return started[-1]

    yield start
    for running in started:
        running.stop()


@pytest.mark.usefixtures("namespaces")
async def test_rootful_podman_is_found_when_docker_does_not_answer(
    podman_engine: EngineUnderTest, private_bridge: StartPrivate
) -> None:
    """The ready lines say which engine and why; the lists and the docker CLI both reach it."""
    running = private_bridge({PODMAN_ROOTFUL: socket_of(podman_engine)})
    line = wait_for(lambda: re.search(r"^engine: .*", running.log(), re.M), 10, "the engine line")
    assert line[0] == (
        f"engine: unix://{PODMAN_ROOTFUL} (rootful Podman, found: nothing answered at /var/run/docker.sock)"
    )
    async with BridgeClient.connect(running.ws_url) as client:
        listed = await client.call("docker.listContainers", {})
        assert f"/{podman_engine.vm}" in {name for container in listed for name in container["Names"]}
        names = await client.call(
            "exec.run", {"target": "docker", "cmd": "ps", "args": ["--format", "{{.Names}}"]}
        )
        assert podman_engine.vm in names["stdout"].split()


@pytest.mark.usefixtures("namespaces")
def test_rootless_podman_is_found_in_the_users_runtime_folder(
    podman_engine: EngineUnderTest, clean_env: dict[str, str]
) -> None:
    rootless = Path(clean_env["XDG_RUNTIME_DIR"]) / "podman" / "podman.sock"
    rootless.parent.mkdir()
    rootless.symlink_to(socket_of(podman_engine))
    silent = f"/var/run/docker.sock, {PODMAN_ROOTFUL}"
    assert (
        resolved({}, clean_env) == f"unix://{rootless} (rootless Podman, found: nothing answered at {silent})"
    )


@pytest.mark.usefixtures("namespaces")
def test_dockers_socket_comes_first_and_none_answering_keeps_it(
    docker_engine: EngineUnderTest, podman_engine: EngineUnderTest, clean_env: dict[str, str]
) -> None:
    both = {DOCKER_DEFAULT: socket_of(docker_engine), PODMAN_ROOTFUL: socket_of(podman_engine)}
    assert resolved(both, clean_env) == "unix:///var/run/docker.sock (the default socket)"
    assert resolved({}, clean_env) == "unix:///var/run/docker.sock (the default socket)"

"""Which engine ddbridge talks to, over tcp:// with and without TLS: a context the real docker CLI
made (``DOCKER_CONTEXT``, ``--context``, ``docker context use``) or ``DOCKER_TLS_VERIFY`` and
``DOCKER_CERT_PATH`` name the TLS engine (tests/support/tcp_engines.py), and both the Engine API
calls and ``docker.cli.exec`` reach it; TLS problems are one line, in ``ddbridge doctor`` too;
backends on a tcp:// engine."""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest

from bridge.config import DockerSettings
from bridge.docker_engine import DockerEngine, EngineAddress
from bridge.errors import DockerUnavailable
from bridge.testing import BridgeClient
from tests.integration.docker.conftest import StartBridge
from tests.support.processes import RunningBridge, run_ddbridge
from tests.support.tcp_engines import TcpEngine

pytestmark = pytest.mark.integration

TLS_CONTEXT = "tls-engine"
OTHER_CONTEXT = "plain-engine"


def docker_env(config: Path, **extra: str) -> dict[str, str]:
    """The environment with only the docker CLI's store at ``config`` and ``extra`` choosing the
    engine (what the outer environment had is emptied: the CLI and ddbridge take "" as unset)."""
    cleared = {key: "" for key in os.environ if key.startswith("DOCKER_")}
    return {**cleared, "DOCKER_CONFIG": str(config), **extra}


def cli(env: dict[str, str], *args: str) -> None:
    result = subprocess.run(
        ["docker", *args], env={**os.environ, **env}, capture_output=True, text=True, timeout=30
    )
    assert result.returncode == 0, result.stderr


@pytest.fixture(scope="module")
def contexts(
    tmp_path_factory: pytest.TempPathFactory, tls_engine: TcpEngine, plain_tcp_engine: TcpEngine
) -> Path:
    """A docker CLI store with a context for each tcp engine, made by the real CLI."""
    config = tmp_path_factory.mktemp("docker-config")
    assert tls_engine.certificates is not None
    files = tls_engine.certificates.client
    env = docker_env(config)
    tls = f"host={tls_engine.host},ca={files}/ca.pem,cert={files}/cert.pem,key={files}/key.pem"
    cli(env, "context", "create", TLS_CONTEXT, "--docker", tls)
    cli(env, "context", "create", OTHER_CONTEXT, "--docker", f"host={plain_tcp_engine.host}")
    return config


def wait_for_line(running: RunningBridge, prefix: str, timeout: float = 10) -> str:
    """The daemon's log line starting with ``prefix`` (stderr follows the ready line closely)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = [line for line in running.log().splitlines() if line.startswith(prefix)]
        if found:
            return found[0]
        time.sleep(0.05)
    raise AssertionError(f"no line {prefix!r} in the log:\n{running.log()}")


async def container_names(running: RunningBridge) -> tuple[set[str], set[str]]:
    """The containers as ``docker.listContainers`` (the API) and ``docker.cli.exec`` (the CLI) see them."""
    async with BridgeClient.connect(running.ws_url) as client:
        listed: list[dict[str, Any]] = await client.call("docker.listContainers", {"options": {"all": True}})
        ran = await client.call(
            "exec.run", {"target": "docker", "cmd": "ps", "args": ["-a", "--format", "{{.Names}}"]}
        )
    assert ran["code"] == 0, ran["stderr"]
    return {name.lstrip("/") for row in listed for name in row["Names"]}, set(ran["stdout"].split())


@pytest.mark.parametrize("way", ["DOCKER_CONTEXT", "--context", "currentContext"])
async def test_the_tls_engine_is_reached_by_the_api_and_the_cli(
    bridge: StartBridge,
    contexts: Path,
    tls_engine: TcpEngine,
    plain_tcp_engine: TcpEngine,
    way: str,
    tmp_path: Path,
) -> None:
    args: list[str] = []
    # What the environment says otherwise must not win: the other engine's context, inherited.
    env = docker_env(contexts, DOCKER_CONTEXT=OTHER_CONTEXT)
    shown = f"context {TLS_CONTEXT!r} from "
    if way == "DOCKER_CONTEXT":
        env["DOCKER_CONTEXT"] = TLS_CONTEXT
        shown += "DOCKER_CONTEXT"
    elif way == "--context":
        args = ["--context", TLS_CONTEXT]
        shown += "[docker] context / --context"
    else:
        config = tmp_path / "docker-config"
        subprocess.run(["cp", "-r", str(contexts), str(config)], check=True)
        env = docker_env(config)
        cli(env, "context", "use", TLS_CONTEXT)
        shown += f"currentContext of {config / 'config.json'}"
    running = bridge(*args, env=env)
    assert wait_for_line(running, "engine: ") == f"engine: {tls_engine.host} ({shown})"
    api, cli_names = await container_names(running)
    assert tls_engine.engine.vm in api and tls_engine.engine.vm in cli_names
    assert plain_tcp_engine.engine.vm not in api | cli_names


async def test_a_plain_tcp_engine(bridge: StartBridge, plain_tcp_engine: TcpEngine) -> None:
    running = bridge("--docker-host", plain_tcp_engine.host)
    assert (
        wait_for_line(running, "engine: ")
        == f"engine: {plain_tcp_engine.host} ([docker] host / --docker-host)"
    )
    api, cli_names = await container_names(running)
    assert plain_tcp_engine.engine.vm in api and plain_tcp_engine.engine.vm in cli_names


@pytest.mark.parametrize(
    ("files", "said"),
    [
        ("wrong_ca", "TLS: the engine's certificate does not verify against "),
        ("no_client_cert", "TLS: the engine refused ddbridge's client certificate (none given"),
        (None, "TLS: the engine speaks only TLS on this port and ddbridge spoke plain HTTP"),
    ],
)
async def test_a_tls_problem_is_one_line_naming_the_host(
    tls_engine: TcpEngine, files: str | None, said: str
) -> None:
    certificates = tls_engine.certificates
    assert certificates is not None
    env = {"DOCKER_HOST": tls_engine.host}
    if files is not None:
        env.update(DOCKER_TLS_VERIFY="1", DOCKER_CERT_PATH=str(getattr(certificates, files)))
    engine = DockerEngine(EngineAddress.resolve(DockerSettings(), env))
    try:
        with pytest.raises(DockerUnavailable) as refused:
            await engine.get_json("containers/json")
    finally:
        await engine.aclose()
    message = refused.value.message
    assert message.startswith(f"cannot reach the Docker engine at {tls_engine.host}: {said}"), message
    assert "\n" not in message and refused.value.host == tls_engine.host


async def test_docker_tls_verify_and_cert_path_reach_the_tls_engine(
    tls_engine: TcpEngine, tmp_path: Path
) -> None:
    """The environment's TLS, for the Engine API, and for the CLI and compose given ``cli_env()``
    over what they inherit: docker-compose v1 would verify against an inherited
    ``REQUESTS_CA_BUNDLE`` (the system's CAs) instead of ca.pem."""
    assert tls_engine.certificates is not None
    files = str(tls_engine.certificates.client)
    env = {"DOCKER_HOST": tls_engine.host, "DOCKER_TLS_VERIFY": "1", "DOCKER_CERT_PATH": files}
    address = EngineAddress.resolve(DockerSettings(), env)
    engine = DockerEngine(address)
    try:
        listed = await engine.get_json("containers/json")
    finally:
        await engine.aclose()
    assert f"/{tls_engine.engine.vm}" in [name for row in listed for name in row["Names"]]
    inherited = {**os.environ, "REQUESTS_CA_BUNDLE": "/etc/ssl/certs/ca-certificates.crt"}
    given = {**inherited, **address.cli_env()}
    (tmp_path / "compose.yaml").write_text("services:\n  idle:\n    image: none/such\n")
    for argv in (
        ["docker", "ps", "--format", "{{.Names}}"],
        ["docker-compose", "-p", "nothing-here", "ps", "-q"],
    ):
        ran = subprocess.run(argv, env=given, cwd=tmp_path, capture_output=True, text=True, timeout=60)
        assert ran.returncode == 0, ran.stderr
    assert ran.stdout.strip() == ""


def extension_folder(root: Path, vm: str = "") -> Path:
    """An extension's source folder: a UI, and a backend when ``vm`` is the JSON of one."""
    (root / "ui").mkdir(parents=True)
    (root / "ui" / "index.html").write_text("<html></html>")
    backend = f', "vm": {vm}' if vm else ""
    (root / "metadata.json").write_text(
        f'{{"ui": {{"dashboard-tab": {{"title": "T", "root": "/ui"}}}}{backend}}}'
    )
    return root


# 192.0.2.1 (TEST-NET-1) is nobody's address: no engine is asked anything there.
ELSEWHERE = "tcp://192.0.2.1:2375"


def test_a_backend_on_another_machines_tcp_engine_is_refused(tmp_path: Path) -> None:
    folder = extension_folder(tmp_path / "ext", '{"image": "any/backend:1"}')
    result = run_ddbridge("dev", folder, "--port", "0", "--docker-host", ELSEWHERE)
    assert result.returncode == 1
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith(
        f"ddbridge: the Docker engine at {ELSEWHERE} ([docker] host / --docker-host) is on another machine"
    )
    assert "ssh://" in last and "extensions without a backend work as they are" in last


def test_an_extension_without_a_backend_works_on_another_machines_engine(
    bridge: StartBridge, tmp_path: Path
) -> None:
    running = bridge(extension_folder(tmp_path / "ext"), "--docker-host", ELSEWHERE, command="dev")
    assert wait_for_line(running, "engine: ") == f"engine: {ELSEWHERE} ([docker] host / --docker-host)"


def test_doctor_says_which_engine_it_cannot_reach_and_why(tls_engine: TcpEngine, tmp_path: Path) -> None:
    assert tls_engine.certificates is not None
    files = tls_engine.certificates.wrong_ca
    env = docker_env(tmp_path)
    docker = f"host={tls_engine.host},ca={files}/ca.pem,cert={files}/cert.pem,key={files}/key.pem"
    cli(env, "context", "create", "wrong-ca", "--docker", docker)
    result = run_ddbridge("doctor", "--context", "wrong-ca", env={**os.environ, **env})
    assert result.returncode == 1, result.stdout + result.stderr
    lines = result.stdout.splitlines()
    assert lines[:3] == [
        f"engine:  {tls_engine.host}",
        "context: wrong-ca",
        "chosen:  context 'wrong-ca' from [docker] context / --context",
    ]
    assert lines[3].startswith(
        f"✗ engine: cannot reach the Docker engine at {tls_engine.host} (context 'wrong-ca'): "
        "TLS: the engine's certificate does not verify against "
    )
    assert "- lists: skipped: no engine" in lines

"""``ddbridge doctor`` on the suite's engine (every capability there) and on one it cannot reach
(a context whose CA did not sign the engine's certificate): a line each, exit 0 or 1."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from tests.support.dockerd import EngineUnderTest
from tests.support.processes import run_ddbridge
from tests.support.tcp_engines import TcpEngine

pytestmark = pytest.mark.integration

CAPABILITIES = ["engine", "lists", "exec", "exec close", "docker CLI", "compose", "socket reach"]


def test_every_capability_of_the_suite_engine_passes(engine: EngineUnderTest) -> None:
    result = run_ddbridge("doctor", "--docker-host", engine.host, "--image", engine.image, "--json")
    assert result.returncode == 0, result.stdout + result.stderr
    report = json.loads(result.stdout)
    assert report["engine"] == {
        "host": engine.host,
        "context": None,
        "source": "[docker] host / --docker-host",
    }
    assert report["version"]["api"] and report["version"]["id"]
    statuses = {check["name"]: check["status"] for check in report["checks"]}
    assert {name: statuses[name] for name in CAPABILITIES} == dict.fromkeys(CAPABILITIES, "pass"), report
    # Where the suite's engine listens in a folder of its own, /var/run/docker.sock is not it.
    assert statuses["/var/run/docker.sock"] in ("pass", "warn"), report
    assert report["ok"] is True


def test_an_engine_out_of_reach_is_the_failing_line(tls_engine: TcpEngine, tmp_path: Path) -> None:
    assert tls_engine.certificates is not None
    files = tls_engine.certificates.wrong_ca
    env = {key: value for key, value in os.environ.items() if not key.startswith("DOCKER_")}
    env["DOCKER_CONFIG"] = str(tmp_path)
    docker = f"host={tls_engine.host},ca={files}/ca.pem,cert={files}/cert.pem,key={files}/key.pem"
    subprocess.run(["docker", "context", "create", "wrong-ca", "--docker", docker], env=env, check=True)
    result = run_ddbridge("doctor", "--context", "wrong-ca", env=env)
    assert result.returncode == 1, result.stdout + result.stderr
    lines = result.stdout.splitlines()
    assert lines[:3] == [
        f"engine:  {tls_engine.host}",
        "context: wrong-ca",
        "chosen:  context 'wrong-ca' from [docker] context / --context",
    ]
    assert lines[3].startswith(
        f"✗ engine: cannot reach the Docker engine at {tls_engine.host} (context 'wrong-ca' from "
        "[docker] context / --context): TLS: the engine's certificate does not verify against "
    )
    assert "- lists: skipped: no engine" in lines

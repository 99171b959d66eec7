"""``ddbridge doctor`` on the suite's engine: every capability passes, a line each, exit 0 (one it
cannot reach is in test_engine_choice.py, with the TLS engine)."""

from __future__ import annotations

import json

import pytest

from tests.support.dockerd import EngineUnderTest
from tests.support.processes import run_ddbridge

pytestmark = [pytest.mark.integration, pytest.mark.engines("docker", "podman")]

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

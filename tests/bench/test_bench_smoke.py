"""The benchmark suite still runs: ``python -m bench --quick`` for the service and host-stream
parts. No timing is asserted — figures on shared CI machines mean nothing; that the suite runs,
measures both sides and writes its JSON is what a refactor could break."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.integration


@pytest.mark.timeout(60)
def test_quick_bench_runs_the_service_and_host_stream_parts(tmp_path: Path) -> None:
    if shutil.which("nginx") is None and not os.path.exists("/usr/sbin/nginx") and not os.environ.get("CI"):
        pytest.skip("no nginx (apt-get install nginx-light)")
    output = tmp_path / "latest.json"
    result = subprocess.run(
        [sys.executable, "-m", "bench", "--quick", "--only", "service,host-stream", "--json", str(output)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=50,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    document = json.loads(output.read_text())
    rows = {(row["part"], row["name"]) for row in document["rows"]}
    assert sum(part == "service" for part, _ in rows) == 5
    assert sum(part == "streams" for part, _ in rows) == 1
    for row in document["rows"]:
        assert row["bridge"] > 0 and row["baseline"] > 0 and row["ratio"] is not None
    assert "| service | latency p50" in result.stdout

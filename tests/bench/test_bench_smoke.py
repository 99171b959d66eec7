"""The benchmark suite still runs: ``python -m bench --quick`` for each group of parts. No timing
is asserted — figures on shared CI machines mean nothing; that the suite runs, measures both
sides and writes its JSON is what a refactor could break."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.integration


def _quick_bench(tmp_path: Path, parts: str) -> tuple[dict[str, Any], str]:
    """The JSON document and the stdout of a quick run of ``parts``."""
    if shutil.which("nginx") is None and not os.path.exists("/usr/sbin/nginx") and not os.environ.get("CI"):
        pytest.skip("no nginx (apt-get install nginx-light)")
    output = tmp_path / "latest.json"
    result = subprocess.run(
        [sys.executable, "-m", "bench", "--quick", "--only", parts, "--json", str(output)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=110,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    document = json.loads(output.read_text())
    if document["skipped"] and not os.environ.get("CI"):
        pytest.skip(f"parts skipped: {document['skipped']}")
    assert not document["skipped"]
    return document, result.stdout


def _measured(row: dict[str, Any]) -> bool:
    """Both sides measured; a row without a baseline (RSS growth, a timer's lag) has its own
    figure only, which may be 0."""
    if row["baseline"] is None:
        return bool(row["bridge"] >= 0)
    return bool(row["bridge"] > 0 and row["baseline"] > 0 and row["ratio"] is not None)


@pytest.mark.timeout(60)
def test_quick_bench_runs_the_service_and_host_stream_parts(tmp_path: Path) -> None:
    document, stdout = _quick_bench(tmp_path, "service,host-stream")
    rows = {(row["part"], row["name"]) for row in document["rows"]}
    assert sum(part == "service" for part, _ in rows) == 5
    assert sum(part == "streams" for part, _ in rows) == 1
    assert all(_measured(row) for row in document["rows"])
    assert "| service | latency p50" in stdout


@pytest.mark.timeout(120)
def test_quick_bench_runs_the_browser_exec_big_answer_and_cpu_parts(tmp_path: Path) -> None:
    document, _ = _quick_bench(tmp_path, "browser-service,browser-stream,host-exec,big,cpu")
    parts = [row["part"] for row in document["rows"]]
    assert parts.count("browser") == 8  # service latency and rate against three baselines, stream, lag
    assert parts.count("exec") == 1 and parts.count("big") == 6
    cpu = [(row["name"], row["baseline_name"]) for row in document["rows"] if row["part"] == "cpu"]
    assert [(name.rsplit(", ", 1)[1], baseline) for name, baseline in cpu] == [
        ("1 in flight", "relay floor"),
        ("64 in flight", "relay floor"),
    ]
    big_baselines = [row["baseline_name"] for row in document["rows"] if row["part"] == "big"]
    assert big_baselines.count("floor relay") == 2  # the answer and the upload through the relay too
    assert big_baselines.count("floor relay's") == 1  # and its memory
    assert all(_measured(row) for row in document["rows"])
    assert all(row["verdict"] in ("PASS", "FAIL", None) for row in document["rows"])


@pytest.mark.timeout(120)
def test_quick_bench_runs_the_engine_parts(tmp_path: Path) -> None:
    document, _ = _quick_bench(tmp_path, "container-exec,list-containers")
    names = [row["name"] for row in document["rows"]]
    assert len(names) == 3 and any(name.startswith("listContainers") for name in names)
    assert all(_measured(row) for row in document["rows"])

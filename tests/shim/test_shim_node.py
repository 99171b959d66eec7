"""Runs the browser shim's own checks from pytest: its node unit tests and its type check.

The shim (bridge/static/ddclient.js) is JavaScript, so its tests live next to this file as
`node --test` files (shim.test.mjs with fakes.mjs) and its type check in tests/typecheck.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]


def run(command: list[str]) -> subprocess.CompletedProcess[str]:
    """Runs a command from the repository root and captures its output."""
    return subprocess.run(command, cwd=REPO_ROOT, capture_output=True, text=True, timeout=100, check=False)


def assert_succeeded(result: subprocess.CompletedProcess[str]) -> None:
    assert result.returncode == 0, (
        f"{' '.join(result.args)} exited with {result.returncode}\n"
        f"--- stdout ---\n{result.stdout}\n--- stderr ---\n{result.stderr}"
    )


def test_shim_node_unit_tests() -> None:
    node = shutil.which("node")
    assert node, "node (20+) is needed to run the shim's unit tests: tests/shim/*.test.mjs"
    assert_succeeded(run([node, "--test", "tests/shim/"]))


def test_shim_type_check() -> None:
    if not (REPO_ROOT / "node_modules" / "typescript").is_dir():
        pytest.skip("node_modules is missing: run `npm ci` to type-check the shim")
    npx = shutil.which("npx")
    assert npx, "npx is needed to run tsc"
    assert_succeeded(run([npx, "--no", "--", "tsc", "-p", "tests/typecheck/tsconfig.json"]))

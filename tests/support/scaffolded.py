"""An extension folder made by ``ddbridge extension init``, made ready offline: its UI built with
the repository's node_modules (no network for ``npm install``; esbuild stands in for vite, which
the repository has without @vitejs/plugin-react), and its Dockerfile's labels read."""

from __future__ import annotations

import shlex
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.support.processes import REPO

NODE_MODULES = REPO / "node_modules"
# How `ddbridge dev` runs the scaffolded backend on the host (the README's command).
BACKEND_CMD = 'python3 backend/main.py --socket "$DDBRIDGE_BACKEND_SOCKET"'


def dockerfile_labels(text: str) -> dict[str, str]:
    """The LABEL instructions' keys and values, unquoted as the Dockerfile quotes them."""
    labels = {}
    for instruction in text.replace("\\\n", " ").splitlines():
        keyword, _, rest = instruction.strip().partition(" ")
        if keyword.upper() == "LABEL":
            for pair in shlex.split(rest):
                key, _, value = pair.partition("=")
                labels[key] = value
    return labels


def _node_tool(name: str) -> str:
    tool = NODE_MODULES / ".bin" / name
    if not tool.exists() or shutil.which("node") is None:
        pytest.fail(f"node and {tool} are needed (npm ci in the repository)")
    return str(tool)


def build_ui(ui: Path) -> Path:
    """What ``npm install && npm run build`` does, offline: the repository's packages stand in for
    the UI's node_modules, tsc checks the types, esbuild bundles src/main.tsx into build/ and the
    page is rewritten to load it, as vite's build does."""
    (ui / "node_modules").symlink_to(NODE_MODULES)
    checked = subprocess.run(
        [_node_tool("tsc"), "-p", str(ui / "tsconfig.json")], capture_output=True, text=True, timeout=120
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr
    build = ui / "build"
    bundled = subprocess.run(
        [
            _node_tool("esbuild"),
            str(ui / "src" / "main.tsx"),
            "--bundle",
            "--format=esm",
            "--jsx=automatic",
            "--minify",
            "--define:process.env.NODE_ENV='production'",
            "--log-level=warning",
            f"--outfile={build / 'main.js'}",
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert bundled.returncode == 0, bundled.stderr
    page = (ui / "index.html").read_text()
    assert '<script type="module" src="/src/main.tsx"></script>' in page
    (build / "index.html").write_text(page.replace("/src/main.tsx", "./main.js"))
    return build

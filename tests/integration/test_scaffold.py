"""``ddbridge extension init NAME``: the folder it writes is a valid extension (metadata.json, the
Dockerfile's labels), its TypeScript UI type-checks and builds (offline, with the repository's
node_modules: esbuild stands in for vite), and it runs under ``ddbridge dev`` with its backend
as a host process, the UI's call reaching the backend."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from bridge.errors import ConfigError
from bridge.host.scaffold import create, template
from bridge.host.validate import label_problems, validate_file
from bridge.testing import BridgeClient
from tests.support.processes import RunningBridge
from tests.support.scaffolded import BACKEND_CMD, build_ui, dockerfile_labels

pytestmark = pytest.mark.integration


def test_the_folder_is_a_valid_extension(tmp_path: Path) -> None:
    folder = create(tmp_path / "my_ext")
    assert folder == tmp_path / "my_ext"
    written = {str(path.relative_to(folder)) for path in folder.rglob("*") if path.is_file()}
    assert written == {str(path) for path in template()}
    assert {"metadata.json", "docker.svg", "Dockerfile", "Makefile", "README.md", ".dockerignore"} <= written
    assert {
        "ui/package.json",
        "ui/index.html",
        "ui/src/main.tsx",
        "ui/src/App.tsx",
        "backend/main.py",
    } <= written
    assert validate_file(folder / "metadata.json") == []
    metadata = json.loads((folder / "metadata.json").read_text())
    assert metadata["ui"]["dashboard-tab"] == {"title": "My Ext", "root": "/ui", "src": "index.html"}
    assert metadata["vm"]["exposes"] == {"socket": "backend.sock"}
    dockerfile = (folder / "Dockerfile").read_text()
    labels = dockerfile_labels(dockerfile)
    assert labels["org.opencontainers.image.title"] == "My Ext"
    assert label_problems(labels, "my-ext") == []
    assert "COPY --from=ui /ui/build /ui" in dockerfile
    assert "docker build -t my-ext ." in dockerfile
    package = json.loads((folder / "ui" / "package.json").read_text())
    assert package["scripts"] == {"dev": "vite", "build": "tsc && vite build"}
    assert {"@vitejs/plugin-react", "vite", "typescript"} <= set(package["devDependencies"])
    assert {"@docker/extension-api-client", "@docker/docker-mui-theme", "@mui/material", "react"} <= set(
        package["dependencies"]
    )
    assert "IMAGE ?= my-ext" in (folder / "Makefile").read_text()
    leftover = re.findall(r"__EXTENSION_\w+__", "".join(path.read_text() for path in folder.rglob("*.*")))
    assert leftover == []


def test_init_refuses_a_folder_that_holds_anything(tmp_path: Path) -> None:
    taken = tmp_path / "taken"
    taken.mkdir()
    (taken / "notes.txt").write_text("mine")
    with pytest.raises(ConfigError, match=f"^{taken} is not empty: init writes a new extension"):
        create(taken)
    assert [path.name for path in taken.iterdir()] == ["notes.txt"]
    (tmp_path / "file").write_text("")
    with pytest.raises(ConfigError, match="exists and is not a folder"):
        create(tmp_path / "file")
    assert sorted(path.name for path in tmp_path.iterdir()) == ["file", "taken"]  # no partial folder left


def test_init_fills_an_empty_folder(tmp_path: Path) -> None:
    empty = tmp_path / "ready"
    empty.mkdir()
    assert create(empty) == empty
    assert (empty / "metadata.json").is_file()
    assert sorted(path.name for path in tmp_path.iterdir()) == ["ready"]


async def test_it_runs_under_ddbridge_dev(tmp_path: Path, bridge: Callable[..., RunningBridge]) -> None:
    folder = create(tmp_path / "hello-ext")
    build_ui(folder / "ui")
    running = bridge(folder, "--backend-cmd", BACKEND_CMD, command="dev", timeout=30)
    page = httpx.get(running.url, headers=running.headers)
    assert page.status_code == 200
    assert "<title>Hello Ext</title>" in page.text and 'src="./main.js"' in page.text
    script = httpx.get(running.url + "main.js", headers=running.headers)
    assert script.status_code == 200 and "/hello" in script.text
    async with BridgeClient.connect(running.ws_url) as client:
        hello = await client.call("service.request", {"method": "GET", "url": "/hello"})
    assert hello["message"] == "Hello from the backend of Hello Ext"
    assert running.stop() == 0
    assert "backend: listening on" in running.log()

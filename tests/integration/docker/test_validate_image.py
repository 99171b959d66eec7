"""``validate IMAGE`` on a real engine: the image's metadata.json read out of it, the files it names,
and its labels, for images built with and without the labels Docker Desktop requires."""

from __future__ import annotations

import io
import json
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bridge.config import DockerSettings, ExtensionSettings, Settings
from bridge.docker_engine import DockerEngine, EngineAddress
from bridge.extension.image import ImageNotFound
from bridge.host.scaffold import create
from bridge.host.validate import REQUIRED, validate_image, validate_target
from bridge.progress import Progress
from tests.support.dockerd import EngineUnderTest
from tests.support.images import import_files
from tests.support.scaffolded import dockerfile_labels

pytestmark = pytest.mark.integration

LIMITS = ExtensionSettings()


@pytest.fixture
async def docker(engine: EngineUnderTest) -> AsyncIterator[DockerEngine]:
    client = DockerEngine(EngineAddress(engine.host))
    yield client
    await client.aclose()


def build(engine: EngineUnderTest, folder: Path, tag: str, labels: dict[str, str]) -> str:
    """``docker build`` of ``folder`` (its files at the image's root, nothing to run), labelled."""
    (folder / "Dockerfile").write_text("FROM scratch\nCOPY . /\n")
    flags = [f"--label={key}={value}" for key, value in labels.items()]
    engine.docker("build", "-q", "-t", tag, *flags, str(folder), timeout=120)
    return tag


def scaffold_files(tmp_path: Path) -> tuple[Path, dict[str, str]]:
    """``init``'s metadata.json, icon and labels, with a built UI page, ready to build on scratch."""
    made = create(tmp_path / "made")
    folder = tmp_path / "image"
    (folder / "ui").mkdir(parents=True)
    (folder / "ui" / "index.html").write_text("<html><body>built</body></html>")
    for name in ("metadata.json", "docker.svg"):
        (folder / name).write_bytes((made / name).read_bytes())
    return folder, dockerfile_labels((made / "Dockerfile").read_text())


async def test_an_image_with_every_label_is_valid(
    engine: EngineUnderTest, docker: DockerEngine, tmp_path: Path
) -> None:
    folder, labels = scaffold_files(tmp_path)
    tag = build(engine, folder, f"ddbridge-test/valid:{engine.token}", labels)
    try:
        output = io.StringIO()
        assert await validate_image(docker, tag, tmp_path / "cache", LIMITS, Progress(output)) == []
        assert f"Extracting {tag}" in output.getvalue()
        # The same through the settings, as the CLI calls it.
        settings = Settings(docker=DockerSettings(host=engine.host))
        assert await validate_target(tag, settings, tmp_path / "cache", Progress(io.StringIO())) == []
    finally:
        engine.docker("rmi", "-f", tag, check=False)


async def test_an_image_without_labels_names_each_one(
    engine: EngineUnderTest, docker: DockerEngine, tmp_path: Path
) -> None:
    metadata = {"ui": {"dashboard-tab": {"title": "T", "root": "/ui"}}}
    files = {"metadata.json": json.dumps(metadata), "ui/index.html": "<html></html>"}
    tag = import_files(engine, f"ddbridge-test/unlabelled:{engine.token}", files)
    try:
        found = await validate_image(docker, tag, tmp_path / "cache", LIMITS, Progress(io.StringIO()))
    finally:
        engine.docker("rmi", "-f", tag, check=False)
    assert found == [
        f"{tag}: the label {label} is missing ({gives}; Docker Desktop requires it)"
        for label, gives in REQUIRED.items()
    ]


async def test_bad_labels_and_metadata_are_each_a_line(
    engine: EngineUnderTest, docker: DockerEngine, tmp_path: Path
) -> None:
    folder, labels = scaffold_files(tmp_path)
    metadata = json.loads((folder / "metadata.json").read_text())
    (folder / "metadata.json").write_text(json.dumps({**metadata, "provider": "Acme"}))
    (folder / "docker.svg").unlink()
    labels["com.docker.desktop.extension.api.version"] = "latest"
    labels["com.docker.extension.screenshots"] = "screenshot.png"
    tag = build(engine, folder, f"ddbridge-test/badly-labelled:{engine.token}", labels)
    try:
        found = await validate_image(docker, tag, tmp_path / "cache", LIMITS, Progress(io.StringIO()))
    finally:
        engine.docker("rmi", "-f", tag, check=False)
    source = f"{tag}:/metadata.json"
    assert found == [
        f"{source}: provider is not supported by ddbridge and is ignored",
        f"{tag}: the label com.docker.desktop.extension.api.version 'latest' is not a semantic version "
        "or constraint (such as 0.3.4 or >= 0.3.0)",
        f"{tag}: the label com.docker.extension.screenshots is not valid JSON "
        "(Expecting value: line 1 column 1 (char 0))",
        f"{source}: the icon /docker.svg is not in the image",
    ]


async def test_an_image_that_is_no_extension(
    engine: EngineUnderTest, docker: DockerEngine, tmp_path: Path
) -> None:
    tag = import_files(engine, f"ddbridge-test/not-an-extension:{engine.token}", {"etc/motd": "hi"})
    try:
        found = await validate_image(docker, tag, tmp_path / "cache", LIMITS, Progress(io.StringIO()))
    finally:
        engine.docker("rmi", "-f", tag, check=False)
    assert found[0] == f"{tag} has no /metadata.json: is it a Docker Desktop extension image?"
    assert len(found) == 1 + len(REQUIRED)
    with pytest.raises(ImageNotFound, match="no image ddbridge-test/nowhere:1 on the Docker engine"):
        await validate_image(docker, "ddbridge-test/nowhere:1", tmp_path, LIMITS, Progress(io.StringIO()))

"""An extension from its image: what ``ddbridge run IMAGE`` serves, read as Docker Desktop reads it.

The files an extension needs on the host (metadata.json, the icon, the UI folder, the compose
file, this platform's host binaries) are copied out of the image through the Engine API: a
container is created from the image and never started, ``GET /containers/{id}/archive`` fetches
each path, and the container is removed. The image's ENTRYPOINT and CMD do not matter (many
extension images are ``FROM scratch`` and have none): nothing runs.

Extraction is cached by image id (an id names immutable content) in
``$XDG_CACHE_HOME/ddbridge/extensions/<id>``: files are extracted into a temporary folder beside
it, a completion marker is written last and the folder is renamed into place, so an interrupted
extraction never looks complete and a rebuilt image (a new id) is extracted afresh.

Archives are streamed to disk member by member (``bridge.extension.archive``), within the
``[extension]`` caps, refusing what could write or point outside the folder.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import stat
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import aiodocker

from bridge.config import ExtensionSettings
from bridge.docker_engine import DockerEngine, is_image_ref, segment, silence_timeout
from bridge.extension.archive import Extraction, extract_archive
from bridge.extension.engine import engine_errors, run_cli
from bridge.extension.metadata import ExtensionError, Metadata, MetadataError, parse_metadata
from bridge.extension.model import Extension
from bridge.extension.pipe import ResponseReader
from bridge.progress import Progress, Step

MARKER = ".ddbridge-extracted"
# Labels Docker Desktop expects of an extension image (its Marketplace lists none without them;
# descriptions, screenshots and links are for the Marketplace only). ddbridge only reports them.
TITLE_LABEL = "org.opencontainers.image.title"
VENDOR_LABEL = "org.opencontainers.image.vendor"
API_LABEL = "com.docker.desktop.extension.api.version"
REQUIRED_LABELS = {TITLE_LABEL: "title", VENDOR_LABEL: "vendor", API_LABEL: "extension API"}
# The extraction container is never started, but the engine wants a command to create it.
_NEVER_RUN = ["ddbridge-extraction-never-runs"]
# An archive streams for as long as it takes; it only fails when the engine stops sending
# for this long (seconds).
_ARCHIVE_SILENCE = 120


class ImageNotFound(ExtensionError):
    """The image is not on the engine (ddbridge never pulls: there may be no registry)."""


def default_cache_dir(environ: Mapping[str, str] | None = None) -> Path:
    """``$XDG_CACHE_HOME/ddbridge/extensions``, else ``~/.cache/ddbridge/extensions``."""
    env = os.environ if environ is None else environ
    base = Path(env["XDG_CACHE_HOME"]) if env.get("XDG_CACHE_HOME") else Path.home() / ".cache"
    return base / "ddbridge" / "extensions"


async def extract_extension(
    engine: DockerEngine,
    image: str,
    cache_dir: Path,
    limits: ExtensionSettings,
    progress: Progress,
    skip: frozenset[str] = frozenset(),
) -> Extension:
    """The extension in ``image``, its files extracted into ``cache_dir`` (absolute) or found there.

    ``skip`` names parts not to copy (``ui.dashboard-tab.root``, ``vm.composefile``,
    ``host.binaries``: flags give them instead); such an extraction is cached apart.
    """
    info = await inspect_image(engine, image)
    image_id: str = info["Id"]
    labels: dict[str, str] = (info.get("Config") or {}).get("Labels") or {}
    folder = cache_dir / "-without-".join([image_id.removeprefix("sha256:"), *sorted(skip)])
    source = f"{image}:/metadata.json"
    if (folder / MARKER).is_file():
        progress.info(f"{image}: files cached in {folder}")
        metadata = parse_metadata((folder / "metadata.json").read_bytes(), source)
    else:
        async with progress.step(f"Extracting {image}") as step:
            metadata = await _extract(engine, image, image_id, folder, limits, step, skip)
    described = [f"{name} {labels[label]!r}" for label, name in REQUIRED_LABELS.items() if label in labels]
    if described:
        progress.info(f"{image}: {', '.join(described)}")
    warnings = [
        f"{image} has no label {label} (Docker Desktop expects it; ddbridge runs the image anyway)"
        for label in REQUIRED_LABELS
        if label not in labels
    ]
    if metadata.icon is not None and not (folder / metadata.icon).is_file():
        warnings.append(f"{source}: the icon /{metadata.icon} is not in the image")
    return Extension(folder, Metadata(metadata.manifest, [*metadata.warnings, *warnings]), image, image_id)


async def inspect_image(engine: DockerEngine, image: str) -> dict[str, Any]:
    """The engine's ``GET /images/{name}/json``; ``ImageNotFound`` says how to get the image."""
    if not is_image_ref(image):
        raise ImageNotFound(f"{image!r} is not an image name or id (such as name:tag or sha256:...)")
    path = "/".join(segment(part) for part in image.split("/"))
    async with engine_errors(engine, f"cannot inspect the image {image}") as client:
        try:
            found: dict[str, Any] = await client._query_json(f"images/{path}/json")
        except aiodocker.DockerError as exc:
            if exc.status != 404:
                raise
            raise ImageNotFound(
                f"no image {image} on the Docker engine at {engine.host}: ddbridge does not pull, "
                f"so `docker pull {image}` or `docker build -t {image} DIR` it first"
            ) from exc
        return found


async def build_image(
    engine: DockerEngine, folder: Path, tag: str, build_args: list[str], step: Step
) -> None:
    """``docker build -t TAG FOLDER`` (``ddbridge dev``'s image for ``${DESKTOP_PLUGIN_IMAGE}``)."""
    if not (folder / "Dockerfile").is_file():
        raise ExtensionError(
            f"{folder} has no Dockerfile to build the backend's image from: add one, or give --image IMAGE"
        )
    argv = ["docker", "build", "-t", tag, *(f"--build-arg={arg}" for arg in build_args), str(folder)]
    await run_cli(
        argv, env={**os.environ, **await engine.cli_env()}, what=f"docker build of {folder}", step=step
    )


def _paths(metadata: Metadata, source: str) -> list[tuple[str, str]]:
    """The paths to copy out of the image besides metadata.json, each with what names it."""
    wanted = []
    if metadata.icon is not None:
        wanted.append((metadata.icon, "icon"))
    if metadata.ui_root is not None:
        if not metadata.ui_root:
            raise MetadataError(f"{source}: ui.dashboard-tab.root '/' is the whole image; give the UI folder")
        wanted.append((metadata.ui_root, "ui.dashboard-tab.root"))
    if metadata.composefile is not None:
        wanted.append((metadata.composefile, "vm.composefile"))
    wanted.extend((binary, "host.binaries") for binary in metadata.host_binaries())
    return wanted


async def _extract(
    engine: DockerEngine,
    image: str,
    image_id: str,
    folder: Path,
    limits: ExtensionSettings,
    step: Step,
    skip: frozenset[str],
) -> Metadata:
    source = f"{image}:/metadata.json"
    folder.parent.mkdir(parents=True, exist_ok=True)
    partial = Path(tempfile.mkdtemp(prefix=f".{folder.name[:12]}-", dir=folder.parent))
    extraction = Extraction(partial, image, limits.max_bytes, limits.max_members)
    try:
        async with engine_errors(engine, f"cannot extract the files of {image}") as client:
            step.detail = "creating a container (not started)"
            container = await client.containers.create(
                {
                    "Image": image_id,
                    "Cmd": _NEVER_RUN,
                    "NetworkDisabled": True,
                    "Labels": {"ddbridge.extract": image},
                }
            )
            try:
                metadata = await _extract_metadata(client, container.id, extraction, step)
                for path, what in _paths(metadata, source):
                    if what in skip:
                        continue
                    step.detail = f"/{path}"
                    if not await _copy_out(client, container.id, path, extraction):
                        if what == "icon":
                            continue  # reported as a warning: the extension runs without it
                        raise MetadataError(f"{source}: {what} /{path} is not in the image")
            finally:
                await container.delete(force=True)
        (partial / MARKER).write_text(json.dumps({"image": image, "id": image_id}))
        _move_into_place(partial, folder)
        return metadata
    finally:
        shutil.rmtree(partial, ignore_errors=True)


async def _extract_metadata(
    client: aiodocker.Docker, container: str, extraction: Extraction, step: Step
) -> Metadata:
    step.detail = "/metadata.json"
    image = extraction.image
    source = f"{image}:/metadata.json"
    if not await _copy_out(client, container, "metadata.json", extraction):
        raise MetadataError(f"{image} has no /metadata.json: is it a Docker Desktop extension image?")
    path = extraction.root / "metadata.json"
    if not stat.S_ISREG(path.lstat().st_mode):
        raise MetadataError(f"{source} is not a regular file")
    return parse_metadata(path.read_bytes(), source)


async def _copy_out(client: aiodocker.Docker, container: str, path: str, extraction: Extraction) -> bool:
    """Extract the image's ``/path`` into the extraction as the engine sends its tar (in a
    thread, so the event loop only moves bytes); False when the image has no such path."""
    try:
        async with client._query(
            f"containers/{segment(container)}/archive",
            params={"path": f"/{path}"},
            timeout=silence_timeout(_ARCHIVE_SILENCE),
        ) as response:
            try:
                reader = ResponseReader(response.content, asyncio.get_running_loop())
                await asyncio.to_thread(extract_archive, reader, extraction, path)
            finally:
                response.close()
    except aiodocker.DockerError as exc:
        if exc.status == 404:
            return False
        raise
    return True


def _move_into_place(partial: Path, folder: Path) -> None:
    """Rename the finished extraction to its final name; another run may have got there first."""
    if folder.exists():
        if (folder / MARKER).is_file():
            return  # extracted meanwhile by a concurrent run: same id, same files
        shutil.rmtree(folder)  # an unfinished leftover
    partial.rename(folder)

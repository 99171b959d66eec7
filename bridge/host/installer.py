"""Installing, starting, updating and removing one extension of the host, on the engine.

An installed extension's files are its image's, extracted as ``ddbridge run`` extracts them
(``bridge.extension.image``: cached by image id, so a host restart reuses them and an image that
changed is extracted afresh); its run folder, ``/tmp/ddbridge-<uid>/<slug>…/``, holds the
guest-services folder its backend's socket appears in and the host binaries copied out of the
files, and is made anew at every start (unix socket paths must stay short). Its backend is the
one ``run`` starts (``bridge.extension.docker_backend``), with Docker Desktop's names, so a
restart of the host finds, replaces or removes what an earlier one left.

Installing is a sequence of steps with progress — image (pulled when missing), files, host
binaries, backend, socket — and a failure undoes every step done: nothing is left behind.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import re
import shutil
from dataclasses import dataclass, replace
from pathlib import Path, PurePosixPath
from typing import Any

from bridge.config import ExtensionSettings
from bridge.docker_engine import DockerEngine
from bridge.engine_machine import user_folder
from bridge.errors import DockerUnavailable
from bridge.extension.backend import Backend
from bridge.extension.docker_backend import COMPOSE_PROJECT_LABEL, docker_backend, project_name
from bridge.extension.engine import engine_errors
from bridge.extension.image import MARKER, VENDOR_LABEL, default_cache_dir, extract_extension, inspect_image
from bridge.extension.metadata import ExtensionError, load_metadata
from bridge.extension.model import Extension
from bridge.extension.session import Runtime
from bridge.host.pull import PullEvent, PullListener, ensure_image
from bridge.host.reference import ImageReference
from bridge.host.store import InstalledExtension
from bridge.progress import Progress

SOCKET_TIMEOUT = 120.0
_ANONYMOUS = re.compile(r"[0-9a-f]{64}")  # a volume Docker named: it goes with its container


def repository(reference: str) -> str:
    """The extension's name: its image reference without tag or digest, as ``docker extension``
    names extensions (``localhost:5000/acme/tool:1.2`` → ``localhost:5000/acme/tool``)."""
    return ImageReference.parse(reference).name


def version_of(reference: str) -> str:
    """What ``ls`` shows as the version: the tag (``latest`` when none), else the digest's start."""
    parsed = ImageReference.parse(reference)
    return parsed.tag or (parsed.digest[:19] if parsed.digest else "latest")


def _layers(progress: Progress) -> PullListener:
    """A pull's layer events as progress events (a page shows each layer)."""

    def show(event: PullEvent) -> None:
        if event.layer is not None:
            progress.layer(event.layer, event.status, event.current or 0, event.total or 0)

    return show


def run_folder(slug: str) -> Path:
    """``/tmp/ddbridge-<uid>/<slug>-<hash>``: short, and in a folder only this user may enter."""
    try:
        parent = user_folder()
    except PermissionError as exc:
        raise ExtensionError(str(exc)) from exc
    digest = hashlib.sha256(slug.encode()).hexdigest()[:8]
    return parent / f"{slug[:24]}-{digest}"


@dataclass
class Installed:
    """An installed extension as the daemon serves it: its files, its run folder and its
    backend (None without a ``vm``), once started."""

    extension: Extension
    runtime: Runtime
    backend: Backend | None = None

    @property
    def host_binary_names(self) -> tuple[str, ...]:
        """This platform's host binaries, by the file names ``host.cli.exec`` runs them by."""
        return tuple(PurePosixPath(path).name for path in self.extension.metadata.host_binaries())

    @property
    def ui_dir(self) -> Path | None:
        return self.extension.ui_folder()

    @property
    def icon(self) -> Path | None:
        return self.extension.icon_file()

    @property
    def entry(self) -> str:
        return self.extension.entry

    @property
    def socket(self) -> Path | None:
        """Where the backend's socket appears (known before it starts: calls made meanwhile are
        told the backend does not answer yet)."""
        name = self.extension.metadata.backend_socket
        has_vm = self.extension.metadata.manifest.vm is not None
        return self.runtime.guest_services / name if name is not None and has_vm else None

    @property
    def host_binaries(self) -> Path | None:
        return self.runtime.host_binaries if self.host_binary_names else None

    @property
    def vm_container(self) -> str | None:
        return self.backend.vm_container if self.backend is not None else None

    @property
    def tabs(self) -> list[str]:
        metadata = self.extension.metadata
        return [self.extension.title] if metadata.ui_root or metadata.ui_url else []


def _limits() -> ExtensionSettings:
    return ExtensionSettings()


def load(record: InstalledExtension) -> Installed:
    """The installed files as they are on disk, not started (the UI is served while the backend
    comes up); ExtensionError when they are gone (``start`` extracts them again)."""
    folder = default_cache_dir() / record.image_id.removeprefix("sha256:")
    if not (folder / MARKER).is_file():
        raise ExtensionError(f"the files of {record.name} are not extracted yet ({folder})")
    extension = Extension(folder, load_metadata(folder), record.image, record.image_id)
    return Installed(extension, Runtime(run_folder(record.slug)))


async def _files(engine: DockerEngine, image: str, progress: Progress) -> Extension:
    extension = await extract_extension(engine, image, default_cache_dir().resolve(), _limits(), progress)
    for warning in extension.metadata.warnings:
        progress.warn(warning)
    return extension


async def _bring_up(engine: DockerEngine, extension: Extension, slug: str, progress: Progress) -> Installed:
    """Host binaries, then the backend and its socket, in a fresh run folder."""
    runtime = Runtime(run_folder(slug))
    shutil.rmtree(runtime.root, ignore_errors=True)
    runtime.guest_services.mkdir(parents=True)
    runtime.guest_services.chmod(0o777)  # backends often run as a non-root user
    installed = Installed(extension, runtime)
    try:
        copied = extension.install_host_binaries(runtime.host_binaries)
        if copied:
            progress.info(f"host binaries: {', '.join(copied)}")
        if extension.metadata.manifest.vm is not None:
            backend = docker_backend(extension, runtime, engine, extension.image, SOCKET_TIMEOUT)
            installed.backend = backend
            async with progress.step(f"Starting the backend ({backend.description})") as step:
                # What a host that was killed left runs with a bind mount of the run folder just
                # made anew: it is replaced, not reused.
                await backend.stop()
                await backend.start(progress, step)
    except BaseException:
        await stop(installed)
        raise
    return installed


async def install(
    engine: DockerEngine, reference: str, slug: str, progress: Progress, *, pull: bool
) -> tuple[Installed, InstalledExtension]:
    """Image, files, host binaries, backend and socket; every step undone if a later one fails."""
    image_id = await ensure_image(engine, reference, progress, pull=pull, on_event=_layers(progress))
    extension = await _files(engine, reference, progress)
    try:
        installed = await _bring_up(engine, extension, slug, progress)
    except BaseException:
        shutil.rmtree(extension.root, ignore_errors=True)
        raise
    labels = await _labels(engine, image_id)
    record = InstalledExtension(
        name=repository(reference),
        image=reference,
        image_id=image_id,
        title=extension.title,
        slug=slug,
        provider=labels.get(VENDOR_LABEL, ""),
        version=version_of(reference),
    )
    return installed, record


async def _labels(engine: DockerEngine, image: str) -> dict[str, str]:
    info = await inspect_image(engine, image)
    labels: dict[str, str] = (info.get("Config") or {}).get("Labels") or {}
    return labels


async def start(engine: DockerEngine, record: InstalledExtension, progress: Progress) -> Installed:
    """Bring an installed extension up again (the host starting): its files (extracted again
    if they went), a fresh run folder, its backend (replacing what an earlier run left)."""
    extension = await _files(engine, record.image_id, progress)
    extension = Extension(extension.root, extension.metadata, record.image, record.image_id)
    return await _bring_up(engine, extension, record.slug, progress)


async def stop(installed: Installed) -> None:
    """Stop the backend (its containers go, named volumes stay) and clear the run folder."""
    try:
        if installed.backend is not None:
            await installed.backend.stop()
    finally:
        shutil.rmtree(installed.runtime.root, ignore_errors=True)


async def stop_record(engine: DockerEngine, record: InstalledExtension) -> Installed | None:
    """Stop what an installed extension runs, from its record (this process did not start it)."""
    with contextlib.suppress(ExtensionError):
        installed = load(record)
        if installed.extension.metadata.manifest.vm is not None:
            extension, runtime = installed.extension, installed.runtime
            installed.backend = docker_backend(extension, runtime, engine, record.image, SOCKET_TIMEOUT)
        await stop(installed)
        return installed
    return None


async def update(
    engine: DockerEngine,
    current: Installed | None,
    record: InstalledExtension,
    reference: str,
    progress: Progress,
    *,
    pull: bool,
) -> tuple[Installed, InstalledExtension]:
    """The extension at ``reference``: the old backend stopped (named volumes stay, so the new
    one finds its data), the new one installed under the same name and origin. Should the new
    one fail, the old one is brought back."""
    if repository(reference) != record.name:
        raise ExtensionError(
            f"{reference} is not an image of {record.name}: install it as an extension of its own"
        )
    await ensure_image(engine, reference, progress, pull=pull, on_event=_layers(progress))
    async with progress.step(f"Stopping {record.name} {record.version}"):
        if current is not None:
            await stop(current)
        else:
            await stop_record(engine, record)
    try:
        installed, new = await install(engine, reference, record.slug, progress, pull=False)
    except BaseException:
        with contextlib.suppress(ExtensionError, OSError):
            await start(engine, record, progress)
        raise
    if new.image_id != record.image_id:
        shutil.rmtree(default_cache_dir() / record.image_id.removeprefix("sha256:"), ignore_errors=True)
    return installed, replace(new, installed_at=record.installed_at, ui_source=record.ui_source)


async def named_volumes(engine: DockerEngine, record: InstalledExtension) -> list[str]:
    """The named volumes the extension's backend uses: its compose project's, and those its
    containers mount (anonymous ones, 64 hex digits, go with the containers)."""
    try:
        project = project_name(load(record).extension, record.image)
    except ExtensionError:
        return []
    filters = {"filters": json.dumps({"label": [f"{COMPOSE_PROJECT_LABEL}={project}"]})}
    async with engine_errors(engine, f"cannot list the volumes of {record.name}"):
        volumes: dict[str, Any] = await engine.get_json("volumes", filters)
        containers: list[dict[str, Any]] = await engine.get_json("containers/json", {"all": "1", **filters})
    names = {volume["Name"] for volume in volumes.get("Volumes") or []}
    names.update(
        mount["Name"]
        for container in containers
        for mount in container.get("Mounts") or []
        if mount.get("Type") == "volume" and mount.get("Name") and not _ANONYMOUS.fullmatch(mount["Name"])
    )
    return sorted(names)


async def remove(
    engine: DockerEngine, current: Installed | None, record: InstalledExtension, progress: Progress
) -> list[str]:
    """Remove its containers (compose ``down --remove-orphans``, as Docker Desktop does), run
    folder, host binaries and extracted files; returns the named volumes kept."""
    kept = await named_volumes(engine, record)
    async with progress.step(f"Removing {record.name}"):
        if current is not None and current.backend is not None:
            await stop(current)
        else:
            await stop_record(engine, record)
        shutil.rmtree(run_folder(record.slug), ignore_errors=True)
        shutil.rmtree(default_cache_dir() / record.image_id.removeprefix("sha256:"), ignore_errors=True)
    return kept


async def container_states(
    engine: DockerEngine, record: InstalledExtension, installed: Installed | None
) -> list[str] | None:
    """The states of the extension's backend containers (``running``, ``exited``…), found by
    Docker Desktop's project name; None when it has no ``vm``, empty when none exists or the
    engine does not answer."""
    if installed is None or installed.extension.metadata.manifest.vm is None:
        return None if installed is not None else []
    project = project_name(installed.extension, record.image)
    filters = {"all": "1", "filters": json.dumps({"label": [f"{COMPOSE_PROJECT_LABEL}={project}"]})}
    try:
        containers: list[dict[str, Any]] = await engine.get_json("containers/json", filters)
    except DockerUnavailable:
        return []
    return [str(container.get("State", "")) for container in containers]

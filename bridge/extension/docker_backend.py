"""The extension's backend in Docker, as Docker Desktop runs it: ``vm.image`` as one container,
``vm.composefile`` as a compose project.

Every backend container gets what Docker Desktop's VM gives it:

- the run's guest-services folder at ``/run/guest-services``, where the backend creates its
  ``vm.exposes.socket`` (the bridge connects to it from the host side of the bind mount); on an
  engine reached over ssh the folder is made at the same path there and the socket forwarded to
  the local path (``bridge.engine_machine``), so the bridge connects to it the same way;
- the engine's socket at ``/var/run/docker.sock.raw`` when the engine has a unix socket on its
  machine (backends that manage containers use it; a ``tcp://`` engine has no such file to bind);
- ``${DESKTOP_PLUGIN_IMAGE}`` standing for the extension's image (substituted in ``vm.image``,
  an environment variable for the compose file's interpolation);
- Docker Desktop's labels, by which published UIs find and hide their own backend:
  ``com.docker.desktop.extension=true``, ``com.docker.desktop.plugin=true``,
  ``com.docker.desktop.extension.name`` (the image's title, as Docker Desktop shows it) and
  ``com.docker.desktop.extension.api.version`` (the image's label of that name);
- the label ``ddbridge.extension=<name>``, to find what a run left (``--keep``).

Names are Docker Desktop's too, since published UIs hard-code them: the compose project is the
image's repository with ``/`` as ``_`` plus ``-desktop-extension``
(``localstack/localstack-docker-desktop`` → ``localstack_localstack-docker-desktop-desktop-extension``),
its containers named as compose names them (``<project>-<service>-1``, v1 ``<project>_<service>_1``);
the single ``vm.image`` container is ``<project>-service``, the name Docker Desktop gives it.

``vm_container``, where ``extension.vm.cli.exec`` runs, is the single container or the
container of the compose file's first service. ``start`` waits for the socket; should a
container stop first, the error quotes its last log lines. ``stop`` removes what was started,
and the folder and forwards made on the engine's machine.
"""

from __future__ import annotations

import abc
import contextlib
import json
import os
import re
from pathlib import Path
from typing import Any

import aiodocker
import yaml

from bridge.docker_engine import DockerEngine
from bridge.extension.backend import wait_for_socket
from bridge.extension.engine import engine_errors, run_cli, succeeds
from bridge.extension.image import API_LABEL, TITLE_LABEL, inspect_image
from bridge.extension.metadata import PLUGIN_IMAGE, ExtensionError, MetadataError
from bridge.extension.model import Extension
from bridge.extension.session import Runtime, engine_is_here, remote_backend
from bridge.progress import Progress, Step

GUEST_SERVICES = "/run/guest-services"
DOCKER_SOCKET_RAW = "/var/run/docker.sock.raw"
LABEL = "ddbridge.extension"
PLUGIN_IMAGE_VARIABLE = "DESKTOP_PLUGIN_IMAGE"
COMPOSE_PROJECT_LABEL = "com.docker.compose.project"
COMPOSE_SERVICE_LABEL = "com.docker.compose.service"
DESKTOP_EXTENSION_LABEL = "com.docker.desktop.extension"
DESKTOP_PLUGIN_LABEL = "com.docker.desktop.plugin"
DESKTOP_NAME_LABEL = "com.docker.desktop.extension.name"
PROJECT_SUFFIX = "-desktop-extension"
# What Docker Desktop appends to the project name to name a vm.image backend's container.
SINGLE_CONTAINER_SUFFIX = "-service"
# Compose v2 accepts only these in a project name (v1 drops the others).
_NOT_IN_PROJECT = re.compile(r"[^a-z0-9_-]")
_IMAGE_ID = re.compile(r"sha256:[0-9a-f]+|[0-9a-f]{64}")
# Log lines of a dead backend container quoted in the error.
_LOG_LINES = 10
# Seconds a container gets between SIGTERM and SIGKILL at the end of a run.
_STOP_GRACE = 10


def needs_plugin_image(extension: Extension) -> bool:
    """Whether the backend names ``${DESKTOP_PLUGIN_IMAGE}`` (then ``dev`` must build or be given it)."""
    vm = extension.metadata.manifest.vm
    if vm is None:
        return False
    if vm.image is not None:
        return PLUGIN_IMAGE in vm.image
    return PLUGIN_IMAGE_VARIABLE in _read_compose_file(extension)


def project_name(extension: Extension, image: str) -> str:
    """Docker Desktop's compose project for the extension in ``image``: the repository (no tag,
    no digest), ``/`` as ``_``, then ``-desktop-extension``. Characters compose refuses in a
    project name (a registry's ``.`` or ``:port``) become ``_`` too. Without a repository (no
    image, or an image id) the extension's name stands in for it."""
    repository = image.split("@", 1)[0]
    last = repository.rsplit("/", 1)[-1]
    if ":" in last:
        repository = repository[: len(repository) - len(last)] + last.split(":", 1)[0]
    if not repository or _IMAGE_ID.fullmatch(image):
        repository = extension.name
    return _NOT_IN_PROJECT.sub("_", repository.lower().replace("/", "_")) + PROJECT_SUFFIX


def _compose_path(extension: Extension) -> Path:
    assert extension.metadata.composefile is not None
    return extension.root / extension.metadata.composefile


def _read_compose_file(extension: Extension) -> str:
    path = _compose_path(extension)
    try:
        return path.read_text()
    except OSError as exc:
        raise MetadataError(f"cannot read the compose file {path} (vm.composefile): {exc.strerror}") from exc


def _services(extension: Extension) -> list[str]:
    """The compose file's service names, in the file's order (the first is the "vm")."""
    path = _compose_path(extension)
    try:
        document = yaml.safe_load(_read_compose_file(extension))
    except yaml.YAMLError as exc:
        raise ExtensionError(
            f"the compose file {path} is not valid YAML: {' '.join(str(exc).split())}"
        ) from exc
    services = document.get("services") if isinstance(document, dict) else None
    if not isinstance(services, dict) or not services:
        raise ExtensionError(f"the compose file {path} declares no services")
    return [str(name) for name in services]


class DockerBackend(abc.ABC):
    """What both Docker backends share: the mounts and labels, the folder and socket on the
    engine's machine, the socket wait, the reason a backend died. Subclasses launch
    (``_launch``), list (``_containers``) and remove (``_remove``)."""

    description: str

    def __init__(
        self, engine: DockerEngine, extension: Extension, runtime: Runtime, image: str, timeout: float
    ) -> None:
        self._engine = engine
        self._machine = engine.machine
        self._extension = extension
        self._runtime = runtime
        self._image = image
        self._timeout = timeout
        self._project = project_name(extension, image)
        self._labels = {LABEL: extension.name}
        self.vm_container: str | None = None

    async def _binds(self) -> list[str]:
        binds = [f"{self._runtime.guest_services}:{GUEST_SERVICES}"]
        engine_socket = await self._machine.engine_socket()
        if engine_socket is not None:
            binds.append(f"{engine_socket}:{DOCKER_SOCKET_RAW}")
        return binds

    async def _desktop_labels(self) -> dict[str, str]:
        """Docker Desktop's labels, from the extension image's own (``ddbridge dev`` of a backend
        that does not name ``${DESKTOP_PLUGIN_IMAGE}`` has no image: metadata.json's title)."""
        image: dict[str, str] = {}
        if self._image:
            info = await inspect_image(self._engine, self._image)
            image = (info.get("Config") or {}).get("Labels") or {}
        labels = {
            DESKTOP_EXTENSION_LABEL: "true",
            DESKTOP_PLUGIN_LABEL: "true",
            DESKTOP_NAME_LABEL: image.get(TITLE_LABEL) or self._extension.title,
        }
        if API_LABEL in image:
            labels[API_LABEL] = image[API_LABEL]
        return labels

    async def start(self, progress: Progress, step: Step) -> None:
        # A tcp:// engine of another machine binds a folder there that nothing brings here (an
        # ssh:// one's machine mirrors it, and forwards the socket).
        if await engine_is_here(self._engine.host) is False:
            raise remote_backend(self._engine.address)
        doing = f"cannot prepare {self._runtime.guest_services} on the engine's machine"
        async with engine_errors(self._engine, doing):
            await self._machine.mirror(self._runtime.guest_services)
        self._labels = {**await self._desktop_labels(), LABEL: self._extension.name}
        await self._launch(step)
        name = self._extension.metadata.backend_socket
        if name is not None:
            path = self._runtime.guest_services / name
            async with engine_errors(self._engine, f"cannot reach the backend's socket {path}"):
                await wait_for_socket(
                    path,
                    step=step,
                    timeout=self._timeout,
                    exited=self._exited,
                    state=self._machine.socket_state,
                )
                await self._machine.expose(path)

    @abc.abstractmethod
    async def _launch(self, step: Step) -> None:
        """Create and start the containers; set ``vm_container``."""

    @abc.abstractmethod
    async def _containers(self) -> list[str]:
        """The ids of the containers started so far (what ``_exited`` looks at)."""

    async def stop(self) -> None:
        """Remove what ``start`` made, however far it got: the containers, then the forwards and
        the folder on the engine's machine (the local run folder is the caller's)."""
        try:
            await self._remove()
        finally:
            async with engine_errors(
                self._engine, f"cannot remove {self._runtime.root} on the engine's machine"
            ):
                await self._machine.discard(self._runtime.root)

    @abc.abstractmethod
    async def _remove(self) -> None:
        """Stop and remove the containers ``_launch`` started, however far it got."""

    async def _exited(self) -> str | None:
        """Why the backend is gone (a container that failed, or every one stopped), or None."""
        async with engine_errors(self._engine, "cannot check on the backend") as client:
            shown = [await client.containers.container(ident).show() for ident in await self._containers()]
            if not shown:
                return "its containers are gone"
            stopped = [info for info in shown if not info["State"]["Running"]]
            failed = [info for info in stopped if info["State"]["ExitCode"] != 0]
            if not failed and len(stopped) < len(shown):
                return None
            info = (failed or stopped)[0]
            output = await client.containers.container(info["Id"]).log(
                stdout=True, stderr=True, tail=_LOG_LINES
            )
        lines = "".join(output).splitlines()
        return (
            f"container {info['Name'].lstrip('/')} exited with code {info['State']['ExitCode']}; "
            f"last output: {' | '.join(lines) or 'none'}"
        )


class ContainerBackend(DockerBackend):
    """``vm.image``: one container of that image, started with its own command, named as Docker
    Desktop names it (``<project>-service``) and labelled with the project, as Docker Desktop's
    generated one-service compose file would label it."""

    def __init__(
        self, engine: DockerEngine, extension: Extension, runtime: Runtime, image: str, timeout: float
    ) -> None:
        super().__init__(engine, extension, runtime, image, timeout)
        vm = extension.metadata.manifest.vm
        assert vm is not None and vm.image is not None
        self._vm_image = vm.image.replace(PLUGIN_IMAGE, image)
        self._name = self._project + SINGLE_CONTAINER_SUFFIX
        self._id: str | None = None
        self.description = f"container {self._name} of {self._vm_image}"

    async def _launch(self, step: Step) -> None:
        step.detail = f"starting {self._name}"
        config: dict[str, Any] = {
            "Image": self._vm_image,
            "Labels": {**self._labels, COMPOSE_PROJECT_LABEL: self._project},
            "HostConfig": {"Binds": await self._binds()},
        }
        async with engine_errors(self._engine, f"cannot start the backend container {self._name}") as client:
            # What a run of ddbridge left (the host was killed): it is ours to replace.
            await self._remove_container(client, self._name, only_ours=True)
            try:
                container = await client.containers.create(config, name=self._name)
            except aiodocker.DockerError as exc:
                if exc.status == 404:
                    raise ExtensionError(
                        f"no image {self._vm_image} (vm.image) on the Docker engine at {self._engine.host}: "
                        "build or pull it first"
                    ) from exc
                if exc.status == 409:
                    raise ExtensionError(
                        f"a container named {self._name} already exists (kept by --keep?): "
                        f"remove it with `docker rm -f {self._name}`"
                    ) from exc
                raise
            self._id = container.id
            await container.start()
        self.vm_container = self._id

    async def _containers(self) -> list[str]:
        return [self._id] if self._id is not None else []

    async def _remove(self) -> None:
        """Remove the container: the one started here, else the one of this name an earlier run
        left (the extensions host stopping an extension it started before a restart)."""
        async with engine_errors(self._engine, f"cannot remove the backend container {self._name}") as client:
            await self._remove_container(client, self._id or self._name, only_ours=self._id is None)
        self._id = None

    async def _remove_container(self, client: aiodocker.Docker, ident: str, *, only_ours: bool) -> None:
        """Stop and remove ``ident`` with its anonymous volumes (named ones stay), when it is
        there and, with ``only_ours``, carries this extension's label."""
        container = client.containers.container(ident)
        try:
            info = await container.show()
        except aiodocker.DockerError as exc:
            if exc.status == 404:
                return
            raise
        if only_ours and (info["Config"].get("Labels") or {}).get(LABEL) != self._extension.name:
            return
        with contextlib.suppress(aiodocker.DockerError):  # already stopped, or gone
            await container.stop(t=_STOP_GRACE)
        try:
            await container.delete(v=True, force=True)
        except aiodocker.DockerError as exc:
            if exc.status != 404:
                raise


class ComposeBackend(DockerBackend):
    """``vm.composefile``: a compose project named as Docker Desktop names it, with an override
    file adding the mounts and the labels to every service. ``docker compose`` (the CLI plugin)
    is used when it runs here, else ``docker-compose`` (v1, as Debian packages it)."""

    def __init__(
        self, engine: DockerEngine, extension: Extension, runtime: Runtime, image: str, timeout: float
    ) -> None:
        super().__init__(engine, extension, runtime, image, timeout)
        self._file = _compose_path(extension)
        self._override = runtime.root / "compose.ddbridge.yaml"
        self._cli: list[str] | None = None
        self.description = f"compose project {self._project}"

    async def _env(self) -> dict[str, str]:
        return {**os.environ, **await self._engine.cli_env(), PLUGIN_IMAGE_VARIABLE: self._image}

    async def _compose(self, *args: str, what: str, step: Step | None = None) -> None:
        assert self._cli is not None
        files = ["-f", str(self._file)]
        if self._override.is_file():  # not after a restart, for `down`: the project name is enough
            files += ["-f", str(self._override)]
        argv = [*self._cli, "-p", self._project, *files, *args]
        await run_cli(argv, env=await self._env(), what=what, step=step)

    async def _compose_cli(self) -> list[str]:
        for candidate in (["docker", "compose"], ["docker-compose"]):
            if await succeeds([*candidate, "version"], await self._env()):
                return candidate
        raise ExtensionError(
            "the backend is a compose file, but neither `docker compose` (the CLI plugin) nor "
            "`docker-compose` runs here: install one (Debian: apt-get install docker-compose)"
        )

    async def _launch(self, step: Step) -> None:
        services = _services(self._extension)
        await self._refuse_others()
        # Compose interpolates ``$`` in the override too: a title of ``${SECRET}`` would become the
        # value of that variable in ddbridge's environment, so ``$`` is written as ``$$``.
        labels = {key: value.replace("$", "$$") for key, value in self._labels.items()}
        binds = await self._binds()
        override = {"services": {name: {"volumes": binds, "labels": labels} for name in services}}
        self._override.write_text(yaml.safe_dump(override, sort_keys=False))
        step.detail = "looking for docker compose"
        self._cli = await self._compose_cli()
        await self._compose("up", "-d", what=f"{' '.join(self._cli)} up ({self._file})", step=step)
        first = await self._project_containers(services[0])
        if not first:
            raise ExtensionError(
                f"the compose file's first service {services[0]!r} has no container "
                "(extension.vm.cli.exec runs there)"
            )
        self.vm_container = first[0]

    async def _refuse_others(self) -> None:
        """Docker Desktop's project name is shared with Docker Desktop itself: on its engine, with
        the extension installed, ``up`` would take over its backend and ``down`` remove it. A
        project with containers ddbridge did not label (``--keep`` leaves labelled ones) is
        refused."""
        others = [
            container["Names"][0].lstrip("/") if container.get("Names") else container["Id"][:12]
            for container in await self._listed()
            if (container.get("Labels") or {}).get(LABEL) != self._extension.name
        ]
        if others:
            raise ExtensionError(
                f"the compose project {self._project} already has containers ddbridge did not start "
                f"({', '.join(sorted(others))}): Docker Desktop's own backend of this extension? "
                "ddbridge leaves them alone; run it against another engine, or remove them first"
            )

    async def _listed(self, service: str | None = None) -> list[dict[str, Any]]:
        labels = [f"{COMPOSE_PROJECT_LABEL}={self._project}"]
        if service is not None:
            labels.append(f"{COMPOSE_SERVICE_LABEL}={service}")
        params = {"all": "1", "filters": json.dumps({"label": labels})}
        async with engine_errors(self._engine, f"cannot list the containers of {self._project}"):
            found: list[dict[str, Any]] = await self._engine.get_json("containers/json", params)
        return found

    async def _project_containers(self, service: str | None = None) -> list[str]:
        return [container["Id"] for container in await self._listed(service)]

    async def _containers(self) -> list[str]:
        return await self._project_containers()

    async def _remove(self) -> None:
        """``down --remove-orphans``, as Docker Desktop removes an extension's backend (named
        volumes stay): of the project started here, or of one an earlier run left, when it has
        containers."""
        if self._cli is None:
            # Only a project of ddbridge's own: never Docker Desktop's backend of this extension.
            listed = await self._listed()
            if not listed or any((c.get("Labels") or {}).get(LABEL) != self._extension.name for c in listed):
                return
            self._cli = await self._compose_cli()
        await self._compose("down", "--remove-orphans", what=f"{' '.join(self._cli)} down ({self._project})")
        self._cli = None


def docker_backend(
    extension: Extension, runtime: Runtime, engine: DockerEngine, image: str, timeout: float
) -> DockerBackend:
    """The backend ``vm`` asks for; ``image`` stands for ``${DESKTOP_PLUGIN_IMAGE}``."""
    vm = extension.metadata.manifest.vm
    assert vm is not None
    kind = ComposeBackend if vm.composefile is not None else ContainerBackend
    return kind(engine, extension, runtime, image, timeout)

"""Podman's Docker-compatible API, answering the list calls as Docker does.

Podman serves the Engine API on its socket, but its lists differ from Docker's in ways a page
notices (measured against Podman 4.3):

- image names are fully qualified: ``docker.io/library/busybox:latest`` where Docker says
  ``busybox:latest``, ``docker.io/me/app:1`` for ``me/app:1``, and ``localhost/app:1`` for an
  image Podman built or imported without a registry in its name (Docker: ``app:1``), in
  ``RepoTags``, ``RepoDigests`` and a container's ``Image``;
- ``/containers/json`` has no ``HostConfig`` (Docker: ``{"NetworkMode": ...}``), ``null`` for
  the ``Networks`` of a container without a network (Docker: an object), and five keys of its
  own create request (``Name``, ``Config``, ``NetworkingConfig``, ``Platform``,
  ``AdjustCPUShares``);
- a request it refuses (a filter it does not know, an image reference in capitals) is a 500,
  not Docker's 400;
- ``GET /info`` makes up a new ``ID`` at every call, so the ID tells nothing of which engine
  answered (``identity`` uses its host name and storage root instead);
- ``/images/json`` adds ``Names``, ``Digest`` and ``History``, and answers ``digests=1`` with
  an empty body (Podman issue 29210; ``RepoDigests`` are in every answer anyway).

``list_query`` leaves ``digests`` out, and ``docker_list`` gives the page Docker's shape: familiar names, the
missing objects filled in, Podman's own keys left out. What cannot be recovered stays as Podman
says it (a container's ``Image`` is the full name, not what the user typed; the network of a
default container is ``podman``, not ``bridge``): the README's Podman section lists it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

# The component of ``GET /version`` that names Podman (Docker's is "Engine").
PODMAN_COMPONENT = "Podman Engine"
_DOCKER_HUB = "docker.io/"
_OFFICIAL = "library/"
# Podman's registry for images named without one (built, imported, committed locally).
_LOCAL = "localhost/"
_PODMAN_CONTAINER_KEYS = ("Name", "Config", "NetworkingConfig", "Platform", "AdjustCPUShares")
_PODMAN_IMAGE_KEYS = ("Names", "Digest", "History")


def is_podman(version: Mapping[str, Any]) -> bool:
    """Whether ``GET /version``'s answer is Podman's."""
    components = version.get("Components") or []
    return any(isinstance(part, dict) and part.get("Name") == PODMAN_COMPONENT for part in components)


def familiar(reference: str) -> str:
    """The name as Docker shows it: ``docker.io/library/busybox:1`` → ``busybox:1``,
    ``docker.io/me/app`` → ``me/app``, ``localhost/app:1`` → ``app:1``; others unchanged
    (``localhost:5000/app``, ``quay.io/x/y``, ids)."""
    if reference.startswith(_LOCAL):
        return reference.removeprefix(_LOCAL)
    if not reference.startswith(_DOCKER_HUB):
        return reference
    path = reference.removeprefix(_DOCKER_HUB)
    name = path.split("@", 1)[0].split(":", 1)[0]
    if name.startswith(_OFFICIAL) and name.count("/") == 1:
        return path.removeprefix(_OFFICIAL)
    return path


def identity(info: Mapping[str, Any], podman: bool) -> tuple[str, str, str]:
    """What tells this engine from another in ``GET /info``'s answer, the docker CLI's
    ``info --format`` that prints the same, and what it is called: its ``ID``; on Podman its name
    and storage root."""
    if podman:
        value = f"{info.get('Name')} {info.get('DockerRootDir')}"
        return value, "{{.Name}} {{.DockerRootDir}}", "name and storage root"
    return str(info.get("ID") or ""), "{{.ID}}", "ID"


def refused(status: int, podman: bool) -> bool:
    """Whether an engine's error status means it refused what it was asked (see above)."""
    return 400 <= status < 500 or (podman and status == 500)


def list_query(query: dict[str, Any]) -> dict[str, Any]:
    """The query parameters of a list call as Podman should get them: without ``digests``."""
    return {key: value for key, value in query.items() if key != "digests"}


def docker_list(path: str, listed: Any) -> Any:
    """Podman's answer to ``GET /containers/json`` or ``/images/json`` in Docker's shape."""
    if not isinstance(listed, list):
        return listed
    return docker_containers(listed) if path == "containers/json" else docker_images(listed)


def docker_containers(listed: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Podman's ``/containers/json`` in Docker's shape (see the module's docstring)."""
    shaped = []
    for container in listed:
        container = {key: value for key, value in container.items() if key not in _PODMAN_CONTAINER_KEYS}
        if isinstance(container.get("Image"), str):
            container["Image"] = familiar(container["Image"])
        settings = container.get("NetworkSettings")
        if isinstance(settings, dict) and settings.get("Networks") is None:
            container["NetworkSettings"] = {**settings, "Networks": {}}
        networks = (container.get("NetworkSettings") or {}).get("Networks") or {}
        container.setdefault("HostConfig", {"NetworkMode": next(iter(networks), "none")})
        shaped.append(container)
    return shaped


def docker_images(listed: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Podman's ``/images/json`` in Docker's shape (see the module's docstring)."""
    shaped = []
    for image in listed:
        image = {key: value for key, value in image.items() if key not in _PODMAN_IMAGE_KEYS}
        for key in ("RepoTags", "RepoDigests"):
            if isinstance(image.get(key), list):
                image[key] = [familiar(name) if isinstance(name, str) else name for name in image[key]]
        shaped.append(image)
    return shaped

"""``docker.listContainers`` / ``docker.listImages``: ddClient's list calls, on the Engine API.

Serves v1 ``docker.listContainers`` / ``docker.listImages`` and their v0 twins. The result is
the engine's JSON exactly as ``GET /containers/json`` and ``GET /images/json`` return it
(extensions read fields such as ``Names``, ``Labels`` and ``RepoTags`` straight from it).

On Podman the lists are given Docker's shape (``bridge.podman``: familiar image names, the
objects Podman leaves out), so a page reads them as on Docker Desktop.

The options the endpoints take as query parameters are checked strictly (``all: "yes"`` is
refused naming ``options.all``) and sent. Any other key is accepted and not sent, as Docker
Desktop does: its types take ``options?: any`` and published extensions pass keys such as
``format: "json"`` or ``namespace``. The inspector's call event names the keys left out
(``ignored``), so a typo still shows.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import aiodocker
from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictInt, field_validator

from bridge.api.models import Params
from bridge.errors import InvalidParams
from bridge.podman import docker_list, list_query, refused
from bridge.rpc import MethodRouter

if TYPE_CHECKING:
    from bridge.connection import Session

router = MethodRouter("docker")

# The engine takes a filter as a list of values (or, in its older form, a map of value → true).
FilterValues = list[str] | dict[str, bool]


class _Options(BaseModel):
    """Engine query parameters; only those given are sent. Other keys are kept aside (pydantic's
    ``model_extra``) and never sent."""

    model_config = ConfigDict(extra="allow", frozen=True, populate_by_name=True)

    all: StrictBool | None = None
    filters: dict[str, FilterValues] | None = None

    @field_validator("filters", mode="before")
    @classmethod
    def _filters_from_json(cls, value: Any) -> Any:
        """Docker Desktop passes ``filters`` as the JSON string the engine takes; accept both,
        and a single value where the engine wants a list (``{"status": "running"}``)."""
        if isinstance(value, str):
            try:
                value = json.loads(value)
            except ValueError as exc:
                raise ValueError(f"not valid JSON ({exc})") from exc
        if isinstance(value, dict):
            return {key: [item] if isinstance(item, str) else item for key, item in value.items()}
        return value

    def query(self) -> dict[str, Any]:
        """The query parameters: booleans and numbers as the engine spells them, filters as JSON."""
        query: dict[str, Any] = {}
        sent = self.model_dump(include=set(type(self).model_fields), exclude_none=True, by_alias=True)
        for name, value in sent.items():
            if name == "filters":
                query[name] = json.dumps(value)
            elif isinstance(value, bool):
                query[name] = "1" if value else "0"
            else:
                query[name] = str(value)
        return query


class ContainerListOptions(_Options):
    limit: StrictInt | None = Field(default=None, ge=0)
    size: StrictBool | None = None


class ImageListOptions(_Options):
    digests: StrictBool | None = None
    shared_size: StrictBool | None = Field(default=None, alias="shared-size")
    manifests: StrictBool | None = None


class ListContainersParams(Params):
    options: ContainerListOptions = ContainerListOptions()


class ListImagesParams(Params):
    options: ImageListOptions = ImageListOptions()


async def _list(session: Session, path: str, options: _Options) -> Any:
    engine = session.daemon.docker
    podman = False
    try:
        podman = await engine.is_podman()
        if not podman:
            return await engine.get_raw(path, options.query())
        return docker_list(path, await engine.get_json(path, list_query(options.query())))
    except aiodocker.DockerError as exc:
        if refused(exc.status, podman):
            field = "options.filters" if options.filters else "options"
            raise InvalidParams(
                f"the Docker engine refused {field} of GET /{path}: {exc.message}", field=field
            ) from exc
        raise engine.unavailable(f"GET /{path} failed with {exc.status}: {exc.message}") from exc


@router.method("listContainers")
async def list_containers(params: ListContainersParams, session: Session) -> Any:
    return await _list(session, "containers/json", params.options)


@router.method("listImages")
async def list_images(params: ListImagesParams, session: Session) -> Any:
    return await _list(session, "images/json", params.options)

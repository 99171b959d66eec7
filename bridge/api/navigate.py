"""``desktop.navigate``: ddClient's navigation intents, onto the bridge's stand-in pages.

Serves v1 ``desktopUI.navigate.*`` and v0 ``navigateTo*``. Docker Desktop switches its own window
to the container, image or volume and rejects when it does not exist; a browser has no such
window, so the bridge checks the object on the Engine API, and answers the URL of the page that
stands in for Docker Desktop's (``bridge/docker_pages.py``), which the shim opens in a new tab.
The check resolves what the page was given (a name or short id) to the object's full id, so the
page's URL names exactly the object that was checked.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any, Literal
from urllib.parse import quote

import aiodocker
from pydantic import Field, ValidationInfo, field_validator
from pydantic_core import PydanticCustomError

from bridge.api.models import Params
from bridge.docker_engine import is_container_ref, is_image_ref, segment
from bridge.docker_pages import PAGES
from bridge.errors import NotFound
from bridge.podman import refused
from bridge.rpc import MethodRouter

if TYPE_CHECKING:
    from bridge.connection import Session
    from bridge.docker_engine import DockerEngine

log = logging.getLogger("ddbridge.desktop")

router = MethodRouter("desktop")

Target = Literal[
    "containers",
    "container",
    "containerLogs",
    "containerInspect",
    "containerTerminal",
    "containerStats",
    "images",
    "image",
    "volumes",
    "volume",
]
LISTS = frozenset({"containers", "images", "volumes"})
# The container page's tab for each container target. There is no terminal emulation: the
# terminal intent opens the details with a note saying how to get a shell.
CONTAINER_TABS = {
    "container": "",
    "containerLogs": "logs",
    "containerInspect": "inspect",
    "containerStats": "stats",
    "containerTerminal": "terminal",
}


def _check_given(value: str | None, info: ValidationInfo, needed: bool) -> str | None:
    """``value`` of the field ``info`` validates, present exactly when the target needs it.

    The error is the field's own (``id: required for target 'container'``), not the model's,
    so the client sees which argument was missing or superfluous.
    """
    target = info.data.get("target")
    if target is None:  # the target itself was invalid; that error is enough
        return value
    if needed and value is None:
        raise PydanticCustomError("missing", "required for target '{target}'", {"target": target})
    if not needed and value is not None:
        raise PydanticCustomError("extra_forbidden", "not used by target '{target}'", {"target": target})
    return value


class NavigateParams(Params):
    target: Target
    # Container id or name, image id (or reference), volume name.
    id: str | None = Field(default=None, min_length=1, validate_default=True)
    # viewImage(id, tag): the tag the page shows; "" for an untagged image.
    tag: str | None = Field(default=None, validate_default=True)

    @field_validator("id")
    @classmethod
    def _id_for_target(cls, value: str | None, info: ValidationInfo) -> str | None:
        return _check_given(value, info, info.data.get("target") not in LISTS)

    @field_validator("tag")
    @classmethod
    def _tag_for_target(cls, value: str | None, info: ValidationInfo) -> str | None:
        return _check_given(value, info, info.data.get("target") == "image")


async def _inspect(engine: DockerEngine, kind: str, name: str) -> Any:
    """The engine's inspect JSON for the object; a missing one is ``NotFound`` naming it. The
    engine decodes and cleans the paths it is asked for (``..%2F`` climbs), so a name or id that
    no object could have is refused before it is sent (``bridge.docker_engine``'s grammars)."""
    if kind == "image":
        valid, path = is_image_ref(name), f"images/{segment(name)}/json"
    else:
        key = name.removeprefix("/") if kind == "container" else name  # "/name", as lists spell it
        valid = is_container_ref(key)  # volume names follow the same grammar
        path = f"{kind}s/{segment(key)}" + ("/json" if kind == "container" else "")
    where = f"no {kind} {name!r} on the Docker engine at {engine.host}"
    if not valid:
        raise NotFound(f"{where} (not a {kind} name or id)", kind=kind, id=name)
    try:
        return await engine.get_json(path)
    except aiodocker.DockerError as exc:
        if exc.status == 404:
            raise NotFound(where, kind=kind, id=name) from exc
        if refused(exc.status, await engine.is_podman()):  # e.g. an image reference in capitals
            raise NotFound(f"{where} ({exc.message})", kind=kind, id=name) from exc
        raise engine.unavailable(f"GET /{path} failed with {exc.status}: {exc.message}") from exc


async def _check_engine(engine: DockerEngine) -> None:
    """The list pages need nothing found, but without an engine they would show nothing: reject
    as every Docker call does (``DockerUnavailable``)."""
    try:
        await engine.get_json("version")
    except aiodocker.DockerError as exc:
        raise engine.unavailable(f"GET /version failed with {exc.status}: {exc.message}") from exc


async def _resolve(engine: DockerEngine, params: NavigateParams) -> str:
    """The stand-in page's path for the intent, once its target was found on the engine."""
    target, name = params.target, params.id or ""
    if target in LISTS:
        await _check_engine(engine)
        return f"{PAGES}/{target}"
    if target == "image":
        image = await _inspect(engine, "image", name)
        tag = params.tag or ""
        if tag and not any(ref.rpartition(":")[2] == tag for ref in image.get("RepoTags") or []):
            log.warning("navigate: image %s has no tag %r (its tags: %s)", name, tag, image.get("RepoTags"))
        query = f"?tag={quote(tag, safe='')}" if tag else ""
        return f"{PAGES}/images/{quote(image['Id'], safe=':')}{query}"
    if target == "volume":
        volume = await _inspect(engine, "volume", name)
        return f"{PAGES}/volumes/{quote(volume['Name'], safe='')}"
    container = await _inspect(engine, "container", name)
    tab = CONTAINER_TABS[target]
    return f"{PAGES}/containers/{quote(container['Id'], safe='')}" + (f"/{tab}" if tab else "")


@router.method("navigate")
async def navigate(params: NavigateParams, session: Session) -> dict[str, str]:
    """Check the target on the engine and answer ``{url}``, the page the shim opens. The intent
    goes to the daemon's log and to the inspector (whose row for the call shows the page)."""
    url = await _resolve(session.daemon.docker, params)
    given = {key: value for key, value in (("id", params.id), ("tag", params.tag)) if value is not None}
    session.events.publish("navigate", {"target": params.target, **given, "url": url})
    where = " ".join(f"{key}={value!r}" for key, value in given.items())
    log.info("navigate %s %s from %s: %s", params.target, where, session.peer, url)
    return {"url": url}

"""Pulling an extension image through the Engine API, with progress per layer.

``POST /images/create?fromImage=NAME&tag=TAG|DIGEST`` with the registry's credentials in
``X-Registry-Auth`` (``bridge.host.registry_auth``) answers a stream of JSON lines, one per
change of a layer (``{"id", "status", "progressDetail": {"current", "total"}}``) or of the whole
image (``{"status": "Digest: ..."}``), and, when the registry refuses midway, an
``{"error", "errorDetail"}`` line with status 200. ``PullTracker`` folds that stream into
``PullEvent`` values, a one-line view for the terminal's step and a summary, without I/O; the
same events feed a web page (``on_event``), so a pull shows the same in both.

A refusal before the stream starts (unknown tag, no credentials, registry down) is an HTTP error
of the engine: both kinds become one ``ExtensionError`` line naming the reference and the
registry's words, with a hint about credentials when the registry asked for them.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiodocker

from bridge.docker_engine import DockerEngine, silence_timeout
from bridge.extension.engine import engine_errors
from bridge.extension.image import ImageNotFound, inspect_image
from bridge.extension.metadata import ExtensionError
from bridge.host.reference import ImageReference
from bridge.host.registry_auth import Credentials, docker_config_dir, find_credentials
from bridge.progress import Progress

log = logging.getLogger("ddbridge.pull")

# A pull lasts as long as its layers take; it fails only when the engine stops sending (it sends
# progress lines while downloading and extracting) for this long (seconds).
_PULL_SILENCE = 300
# The statuses a layer ends with: fetched and unpacked, or on the engine already.
_LAYER_DONE = frozenset({"Pull complete", "Already exists"})
# Registries' words when they want credentials: "unauthorized: authentication required",
# "no basic auth credentials", "pull access denied ... may require 'docker login'".
_AUTH_WORDS = re.compile(r"auth|denied|login", re.IGNORECASE)
# A step's detail is one terminal line.
_DETAIL_WIDTH = 70


@dataclass(frozen=True, slots=True)
class PullEvent:
    """One line of a pull's progress: a layer's (``layer`` is its short id) or, with ``layer``
    None, the whole image's (``Pulling from org/name``, ``Digest: sha256:...``, ``Status: ...``).
    ``current`` and ``total`` are bytes, given while a layer downloads or extracts."""

    layer: str | None
    status: str
    current: int | None = None
    total: int | None = None

    def as_dict(self) -> dict[str, Any]:
        """The event as JSON for a page: ``{"layer", "status", "current", "total"}``."""
        return {"layer": self.layer, "status": self.status, "current": self.current, "total": self.total}


PullListener = Callable[[PullEvent], None]


class RegistryRefused(Exception):
    """The engine's stream carried an error line: the registry's (or the engine's) words."""


def format_bytes(count: int) -> str:
    """``1068542`` → ``1.069MB``: four figures and decimal units, as the docker CLI shows sizes
    (go-units' ``HumanSize``)."""
    size = float(count)
    units = ("B", "kB", "MB", "GB", "TB", "PB")
    for unit in units:
        if size < 1000 or unit == units[-1]:
            return f"{size:.4g}{unit}"
        size /= 1000
    raise AssertionError("unreachable")


def _bytes(progress: Mapping[str, Any], name: str) -> int | None:
    value = progress.get(name)
    return value if isinstance(value, int) and not isinstance(value, bool) else None


class PullTracker:
    """The state of one pull: each layer's latest event, folded from the engine's JSON lines."""

    def __init__(self) -> None:
        self.layers: dict[str, PullEvent] = {}
        self._sizes: dict[str, int] = {}
        self._latest: PullEvent | None = None

    def feed(self, line: bytes) -> PullEvent | None:
        """The event one line of the stream stands for (None for a blank line);
        ``RegistryRefused`` for an error line.

        Only layer lines carry ``progressDetail``: the image's ``Pulling from`` line also has an
        ``id`` (the tag), which is not a layer.
        """
        if not line.strip():
            return None
        try:
            message = json.loads(line)
        except ValueError:
            raise RegistryRefused(f"the engine sent a line that is not JSON: {line[:80]!r}") from None
        if not isinstance(message, dict):
            raise RegistryRefused(f"the engine sent {message!r} where a progress object belongs")
        if message.get("error") or message.get("errorDetail"):
            detail = message.get("errorDetail")
            said = detail.get("message") if isinstance(detail, dict) else None
            raise RegistryRefused(str(said or message.get("error") or detail))
        progress, layer = message.get("progressDetail"), message.get("id")
        status = str(message.get("status", ""))
        if not isinstance(progress, dict) or not isinstance(layer, str):
            event = PullEvent(None, status)
        else:
            event = PullEvent(layer, status, _bytes(progress, "current"), _bytes(progress, "total"))
            self.layers[layer] = event
            if status == "Downloading" and event.total:
                self._sizes[layer] = event.total
        self._latest = event
        return event

    @property
    def done(self) -> int:
        return sum(event.status in _LAYER_DONE for event in self.layers.values())

    def detail(self) -> str:
        """What a terminal shows now: ``1/3 layers · 5edd3b477197 Downloading 36.45kB/1.069MB``."""
        latest = self._latest
        if latest is None:
            return ""
        if latest.layer is None:
            return latest.status[:_DETAIL_WIDTH]
        now = f"{latest.layer} {latest.status}"
        if latest.current is not None and latest.total:
            now += f" {format_bytes(latest.current)}/{format_bytes(latest.total)}"
        return f"{self.done}/{len(self.layers)} layers · {now}"[:_DETAIL_WIDTH]

    def summary(self) -> str:
        """The pull's outcome: ``2 layers pulled (1.069MB), 1 already on the engine``, or ``up to
        date`` (the tag named an image the engine has, but the registry was asked)."""
        if not self.layers:
            return "up to date"
        present = sum(event.status == "Already exists" for event in self.layers.values())
        pulled = len(self.layers) - present
        parts = [f"{pulled} layer{'s' * (pulled != 1)} pulled"]
        if self._sizes:
            parts[0] += f" ({format_bytes(sum(self._sizes.values()))})"
        if present:
            parts.append(f"{present} already on the engine")
        return ", ".join(parts)


def _refusal(
    reference: str, parsed: ImageReference, said: str, credentials: Credentials | None, config_dir: Path
) -> ExtensionError:
    """One line: the reference, the registry's words, and which credentials went (or none)."""
    said = " ".join(said.split())
    hint = ""
    if _AUTH_WORDS.search(said):
        if credentials is None:
            hint = (
                f" (no credentials for {parsed.registry_key} in {config_dir / 'config.json'}: "
                f"`docker login {parsed.domain}` first)"
            )
        else:
            hint = f" (with the credentials of {credentials.source})"
    return ExtensionError(f"cannot pull {reference}: {said}{hint}")


async def _follow(
    client: aiodocker.Docker,
    parsed: ImageReference,
    headers: Mapping[str, str],
    tracker: PullTracker,
    show: PullListener,
) -> None:
    """``POST /images/create`` and its stream, each line fed to ``tracker`` and shown."""
    async with client._query(
        "images/create",
        "POST",
        params={"fromImage": parsed.name, "tag": parsed.api_tag},
        headers=headers,
        timeout=silence_timeout(_PULL_SILENCE),
    ) as response:
        async for line in response.content:
            event = tracker.feed(line)
            if event is not None:
                show(event)


async def pull_image(
    engine: DockerEngine,
    reference: str,
    progress: Progress,
    *,
    config_dir: Path | None = None,
    on_event: PullListener | None = None,
) -> str:
    """Pull ``reference`` (no tag: ``latest``; ``name@sha256:...`` by digest) and return its image id.

    The terminal's step shows the latest layer's progress; ``on_event`` gets every event, for a
    page. ``config_dir`` is the docker CLI's config folder (default ``$DOCKER_CONFIG``, else
    ``~/.docker``).
    """
    parsed = ImageReference.parse(reference)
    folder = docker_config_dir() if config_dir is None else config_dir
    tracker = PullTracker()
    async with progress.step(f"Pulling {reference}") as step:
        credentials = await find_credentials(parsed.registry_key, folder)
        headers = {"X-Registry-Auth": credentials.header()} if credentials is not None else {}

        def show(event: PullEvent) -> None:
            step.detail = tracker.detail()
            if on_event is not None:
                on_event(event)

        async with engine_errors(engine, f"cannot pull {reference}") as client:
            try:
                await _follow(client, parsed, headers, tracker, show)
            except aiodocker.DockerError as exc:
                log.debug("pull of %s refused by the engine (%s): %s", reference, exc.status, exc.message)
                raise _refusal(reference, parsed, str(exc.message), credentials, folder) from exc
            except RegistryRefused as exc:
                log.debug("pull of %s failed in the stream: %s", reference, exc)
                raise _refusal(reference, parsed, str(exc), credentials, folder) from exc
    image_id = str((await inspect_image(engine, parsed.pinned))["Id"])
    progress.info(f"{reference}: {tracker.summary()}, image {image_id}")
    return image_id


async def ensure_image(
    engine: DockerEngine,
    reference: str,
    progress: Progress,
    *,
    pull: bool,
    config_dir: Path | None = None,
    on_event: PullListener | None = None,
) -> str:
    """The id of ``reference`` on the engine; pulled first when it is missing and ``pull`` allows.

    Without ``pull`` (``--no-pull``) a missing image is ``ImageNotFound``, one line.
    """
    parsed = ImageReference.parse(reference)
    try:
        return str((await inspect_image(engine, parsed.pinned))["Id"])
    except ImageNotFound:
        if not pull:
            raise ImageNotFound(
                f"image {reference} is not on the engine at {engine.host} and --no-pull was given"
            ) from None
    return await pull_image(engine, reference, progress, config_dir=config_dir, on_event=on_event)

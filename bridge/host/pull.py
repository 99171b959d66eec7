"""Pulling an extension image through the Engine API (``POST /images/create``), with progress per
layer, and the registry credentials the docker CLI would send.

Credentials come from the docker CLI's config (``$DOCKER_CONFIG/config.json``, else
``~/.docker/config.json``), as the CLI finds them: the registry's credential helper
(``credHelpers``), else the config's ``credsStore``, else its ``auths`` entry. A helper is run
as ``docker-credential-<name> get`` with the registry on stdin (argv, never a shell), within a
time bound. Secrets are never logged nor put in an error.
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
from pathlib import Path
from typing import Any

import aiodocker

from bridge.docker_engine import DockerEngine
from bridge.extension.engine import engine_errors
from bridge.extension.image import ImageNotFound, inspect_image
from bridge.extension.metadata import ExtensionError
from bridge.progress import Progress, Step

DOCKER_HUB = "https://index.docker.io/v1/"
HELPER_TIMEOUT = 30.0
PULL_TIMEOUT = 3600.0


def split_reference(reference: str) -> tuple[str, str]:
    """``(repository, tag or digest)`` as ``/images/create`` takes them (``latest`` when none)."""
    if "@" in reference:
        name, digest = reference.split("@", 1)
        return name, digest
    head, _, last = reference.rpartition("/")
    if ":" in last:
        last, tag = last.split(":", 1)
        return (f"{head}/{last}" if head else last), tag
    return reference, "latest"


def registry_of(repository: str) -> str:
    """The registry a repository lives on, as the CLI's config names it."""
    first, _, rest = repository.partition("/")
    if rest and ("." in first or ":" in first or first == "localhost"):
        return first
    return DOCKER_HUB


def docker_config(environ: dict[str, str] | None = None) -> dict[str, Any]:
    env = os.environ if environ is None else environ
    folder = Path(env["DOCKER_CONFIG"]) if env.get("DOCKER_CONFIG") else Path.home() / ".docker"
    try:
        found = json.loads((folder / "config.json").read_text())
    except (OSError, ValueError):
        return {}
    return found if isinstance(found, dict) else {}


async def _from_helper(helper: str, registry: str) -> dict[str, str] | None:
    try:
        process = await asyncio.create_subprocess_exec(
            f"docker-credential-{helper}",
            "get",
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.DEVNULL,
        )
    except OSError as exc:
        raise ExtensionError(
            f"cannot run the credential helper docker-credential-{helper}: {exc.strerror}"
        ) from exc
    try:
        out, _ = await asyncio.wait_for(process.communicate(registry.encode()), HELPER_TIMEOUT)
    except TimeoutError:
        process.kill()
        await process.wait()
        raise ExtensionError(
            f"the credential helper docker-credential-{helper} did not answer within {HELPER_TIMEOUT:g} s"
        ) from None
    if process.returncode != 0:
        return None  # "credentials not found": pull without
    try:
        answer = json.loads(out)
        username, secret = str(answer["Username"]), str(answer["Secret"])
    except (ValueError, KeyError, TypeError):
        raise ExtensionError(
            f"the credential helper docker-credential-{helper} answered something that is not credentials"
        ) from None
    if username == "<token>":
        return {"identitytoken": secret, "serveraddress": registry}
    return {"username": username, "password": secret, "serveraddress": registry}


async def credentials_for(registry: str, config: dict[str, Any]) -> dict[str, str] | None:
    """What the CLI would log in to ``registry`` with, or None."""
    helper = (config.get("credHelpers") or {}).get(registry) or config.get("credsStore")
    if isinstance(helper, str) and helper:
        found = await _from_helper(helper, registry)
        if found is not None:
            return found
    entry = (config.get("auths") or {}).get(registry) or {}
    if entry.get("identitytoken"):
        return {"identitytoken": str(entry["identitytoken"]), "serveraddress": registry}
    if entry.get("auth"):
        try:
            username, _, password = base64.b64decode(entry["auth"]).decode().partition(":")
        except (ValueError, UnicodeDecodeError):
            raise ExtensionError(
                f"the docker config's credentials for {registry} are not base64 user:password"
            ) from None
        return {"username": username, "password": password, "serveraddress": registry}
    return None


def registry_auth_header(credentials: dict[str, str]) -> str:
    """``X-Registry-Auth``: the credentials as base64url JSON, as the Engine API reads them."""
    return base64.urlsafe_b64encode(json.dumps(credentials).encode()).decode()


async def pull_image(engine: DockerEngine, reference: str, progress: Progress) -> None:
    """Pull ``reference``, showing each layer's progress; one line when the registry refuses."""
    repository, tag = split_reference(reference)
    headers = {}
    credentials = await credentials_for(registry_of(repository), docker_config())
    if credentials is not None:
        headers["X-Registry-Auth"] = registry_auth_header(credentials)
    async with (
        progress.step(f"Pulling {reference}") as step,
        engine_errors(engine, f"cannot pull {reference}") as client,
    ):
        try:
            query = client._query(
                "images/create",
                method="POST",
                params={"fromImage": repository, "tag": tag},
                headers=headers,
                timeout=PULL_TIMEOUT,
            )
            async with query as response:
                await _follow(response.content, reference, progress, step)
        except aiodocker.DockerError as exc:
            raise ExtensionError(f"cannot pull {reference}: {exc.message}") from exc


async def _follow(content: Any, reference: str, progress: Progress, step: Step) -> None:
    layers: dict[str, tuple[int, int]] = {}
    async for line in content:
        if not line.strip():
            continue
        event = json.loads(line)
        if "error" in event or "errorDetail" in event:
            message = (event.get("errorDetail") or {}).get("message") or event.get("error")
            raise ExtensionError(f"cannot pull {reference}: {message}")
        layer, status = event.get("id"), str(event.get("status", ""))
        detail = event.get("progressDetail") or {}
        current, total = int(detail.get("current") or 0), int(detail.get("total") or 0)
        if (
            layer
            and status not in ("Pulling from", "Digest:", "Status:")
            and not status.startswith("Pulling from")
        ):
            progress.layer(layer, status, current, total)
            if total:
                layers[layer] = (current, total)
            done = sum(c for c, _ in layers.values())
            whole = sum(t for _, t in layers.values())
            step.detail = (
                f"{len(layers)} layers, {done * 100 // whole if whole else 0}%" if layers else status
            )


async def ensure_image(engine: DockerEngine, reference: str, progress: Progress, *, pull: bool) -> str:
    """The id of ``reference`` on the engine, pulled first when it is missing and ``pull``."""
    try:
        return str((await inspect_image(engine, reference))["Id"])
    except ImageNotFound:
        if not pull:
            raise ExtensionError(
                f"no image {reference} on the Docker engine at {engine.host}, and --no-pull was given"
            ) from None
    await pull_image(engine, reference, progress)
    return str((await inspect_image(engine, reference))["Id"])

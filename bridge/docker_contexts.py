"""The docker CLI's contexts, read from its store as the CLI writes it: no I/O but reading files.

The store lives in the CLI's configuration folder (``$DOCKER_CONFIG``, default ``~/.docker``):

- ``config.json``'s ``currentContext`` names the context ``docker context use`` chose;
- ``contexts/meta/<sha256 of the name>/meta.json`` holds each context: its name and its
  ``Endpoints.docker`` (``Host``, ``SkipTLSVerify``);
- ``contexts/tls/<sha256 of the name>/docker/`` holds its TLS files (``ca.pem``, ``cert.pem``,
  ``key.pem``), any of them, when ``docker context create`` was given some.

The context named ``default`` is not in the store: it is "no context", the engine that
``DOCKER_HOST`` (or the default socket) names. Which context applies (``--context``,
``DOCKER_CONTEXT``, ``currentContext``) is ``bridge.docker_engine.EngineAddress.resolve``'s
business; this module only answers "where is the context called X, and how to reach it".
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bridge.errors import ConfigError

DEFAULT_CONTEXT = "default"
# The docker CLI's own rule for context names (cli/context/store).
_NAME = re.compile(r"[a-zA-Z0-9][a-zA-Z0-9_.+-]+", re.ASCII)
TLS_FILES = ("ca.pem", "cert.pem", "key.pem")


class ContextError(ConfigError):
    """A context that is not in the store, or whose files cannot be read: one line naming both."""


@dataclass(frozen=True, slots=True)
class DockerContext:
    """One context of the store: its engine address and its TLS material."""

    name: str
    host: str
    skip_tls_verify: bool
    # The context's TLS folder (``docker context create`` makes it when given TLS files).
    tls_folder: Path
    meta_file: Path

    @property
    def has_tls_files(self) -> bool:
        return any((self.tls_folder / file).is_file() for file in TLS_FILES)

    @property
    def uses_tls(self) -> bool:
        """As the CLI decides: TLS once the context has TLS files or skips their verification."""
        return self.skip_tls_verify or self.has_tls_files


def config_dir(environ: Mapping[str, str] | None = None) -> Path:
    """The docker CLI's configuration folder: ``$DOCKER_CONFIG``, else ``~/.docker``."""
    env = os.environ if environ is None else environ
    configured = env.get("DOCKER_CONFIG")
    return Path(configured).expanduser() if configured else Path.home() / ".docker"


def shown_path(path: Path) -> str:
    """``path`` with the home folder written ``~``, as people recognise it in a message."""
    home = Path.home()
    return f"~/{path.relative_to(home)}" if path.is_relative_to(home) else str(path)


def current_context(folder: Path) -> str | None:
    """``currentContext`` of ``folder/config.json``; None when there is no file or no such key."""
    path = folder / "config.json"
    try:
        document = json.loads(path.read_text())
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise ContextError(f"cannot read the docker CLI's configuration {path}: {exc.strerror}") from exc
    except ValueError as exc:
        raise ContextError(
            f"the docker CLI's configuration {path} is not valid JSON ({exc}): mend it, or move it away"
        ) from exc
    name = document.get("currentContext") if isinstance(document, dict) else None
    if name is not None and not isinstance(name, str):
        raise ContextError(
            f"currentContext in {path} is not a string: mend it with `docker context use NAME`"
        )
    return name or None


def _store_id(name: str) -> str:
    return hashlib.sha256(name.encode()).hexdigest()


def _endpoint(document: Any, name: str, path: Path) -> tuple[str, bool]:
    """``Endpoints.docker``'s ``Host`` and ``SkipTLSVerify`` of a meta.json document."""
    endpoints = document.get("Endpoints") if isinstance(document, dict) else None
    docker = endpoints.get("docker") if isinstance(endpoints, dict) else None
    if not isinstance(docker, dict) or not isinstance(docker.get("Host"), str) or not docker["Host"]:
        raise ContextError(
            f"context {name!r} has no Docker endpoint (Endpoints.docker.Host) in {path}: "
            f"recreate it with `docker context create {name} --docker host=...`"
        )
    return docker["Host"], docker.get("SkipTLSVerify") is True


def read_context(name: str, folder: Path) -> DockerContext:
    """The context ``name`` of the store in ``folder`` (not ``default``, which has no entry)."""
    if not _NAME.fullmatch(name):
        raise ContextError(
            f"{name!r} is not a context name (letters, digits and _.+-, at least two characters): "
            "`docker context ls` lists the contexts"
        )
    ident = _store_id(name)
    path = folder / "contexts" / "meta" / ident / "meta.json"
    try:
        document = json.loads(path.read_text())
    except FileNotFoundError:
        raise ContextError(
            f"no Docker context {name!r}: {path} does not exist (`docker context ls` lists the contexts "
            f"of {folder})"
        ) from None
    except OSError as exc:
        raise ContextError(f"cannot read Docker context {name!r} from {path}: {exc.strerror}") from exc
    except ValueError as exc:
        raise ContextError(
            f"Docker context {name!r} is damaged: {path} is not valid JSON ({exc}); "
            f"recreate it with `docker context rm {name}` and `docker context create {name}`"
        ) from exc
    host, skip = _endpoint(document, name, path)
    return DockerContext(name, host, skip, folder / "contexts" / "tls" / ident / "docker", path)

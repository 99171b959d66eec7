"""Image references as the docker CLI reads them: which registry, which repository, which tag.

The grammar is distribution's (``github.com/distribution/reference``)::

    reference  := name [ ":" tag ] [ "@" digest ]
    name       := [ domain "/" ] component ( "/" component )*
    domain     := host [ ":" port ]

The first part of a name is its domain only when it could not be a repository component: it holds
a ``.`` or a ``:``, is ``localhost``, or has capitals. Everything else is on Docker Hub, whose
credentials the docker CLI files under ``https://index.docker.io/v1/``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from bridge.extension.metadata import ExtensionError

DOCKER_HUB = "docker.io"
# The key of Docker Hub's credentials in config.json and for credential helpers.
DOCKER_HUB_KEY = "https://index.docker.io/v1/"
_HUB_ALIASES = {DOCKER_HUB, "index.docker.io"}

_COMPONENT = r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*"
_LABEL = r"[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?"
_DOMAIN = rf"{_LABEL}(?:\.{_LABEL})*(?::[0-9]+)?"
_TAG = r"\w[\w.-]{0,127}"
_DIGEST = r"[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,}"
_REFERENCE = re.compile(
    rf"(?P<name>(?:{_DOMAIN}/)?{_COMPONENT}(?:/{_COMPONENT})*)(?::(?P<tag>{_TAG}))?(?:@(?P<digest>{_DIGEST}))?",
    re.ASCII,
)
_IMAGE_ID = re.compile(r"(sha256:)?[0-9a-f]{64}", re.ASCII)


@dataclass(frozen=True, slots=True)
class ImageReference:
    """A parsed ``[domain/]repository[:tag][@digest]``; ``name`` is the part before tag and digest,
    as it was written (the engine normalises it: ``busybox`` is ``docker.io/library/busybox``)."""

    name: str
    domain: str
    tag: str | None = None
    digest: str | None = None

    @classmethod
    def parse(cls, reference: str) -> ImageReference:
        """``reference`` parsed; ``ExtensionError`` (one line) when it is not a pullable name."""
        if _IMAGE_ID.fullmatch(reference):
            raise ExtensionError(f"{reference} is an image id: only name[:tag] or name@digest can be pulled")
        match = _REFERENCE.fullmatch(reference)
        if match is None:
            raise ExtensionError(
                f"{reference!r} is not an image reference (such as host:5000/org/name:tag or name@sha256:...)"
            )
        name = match["name"]
        first, slash, _ = name.partition("/")
        explicit = slash and (any(c in first for c in ".:") or first == "localhost" or first != first.lower())
        domain = first if explicit else DOCKER_HUB
        return cls(name, DOCKER_HUB if domain in _HUB_ALIASES else domain, match["tag"], match["digest"])

    @property
    def registry_key(self) -> str:
        """Where the docker CLI files this registry's credentials (config.json, credential helpers)."""
        return DOCKER_HUB_KEY if self.domain == DOCKER_HUB else self.domain

    @property
    def api_tag(self) -> str:
        """The ``tag`` parameter of ``POST /images/create``: the digest, else the tag, else ``latest``."""
        return self.digest or self.tag or "latest"

    @property
    def pinned(self) -> str:
        """The reference the engine knows the pulled image by: ``name@digest``, else ``name:tag``."""
        return f"{self.name}@{self.digest}" if self.digest else f"{self.name}:{self.tag or 'latest'}"

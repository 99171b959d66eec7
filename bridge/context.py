"""What one extension holds, apart from the daemon: the context a request is served in.

An extension is a value. ``ddbridge serve``, ``run`` and ``dev`` serve one context on every host
name; the extensions host (``bridge.host``) serves its shell on ``localhost`` and each installed
extension on its own origin, ``http://<slug>.localhost:PORT/`` (RFC 6761: browsers resolve every
``*.localhost`` name to loopback, and origins, storage and cookies are then the extension's own).
The access gate finds the context from the request's Host before any route runs
(``ContextTable.for_host``) and puts it in the ASGI scope; the RPC session and the UI routes
take it from there, never from a global.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bridge.extension.ui import inject_shim
from bridge.rpc import Registry
from bridge.security import split_host
from bridge.service_proxy import ServiceProxy
from bridge.stream_answer import WaitingStreams

if TYPE_CHECKING:
    from starlette.types import ASGIApp, Scope

    from bridge.extension.model import Extension

SCOPE_KEY = "ddbridge.context"
EXTENSION_DOMAIN = ".localhost"


@dataclass(frozen=True)
class ExtensionInfo:
    """What the page and the daemon know of an extension being served."""

    id: str = ""
    image: str = ""
    title: str = ""
    icon: Path | None = None
    entry: str = ""  # where the tab opens when not at the UI's "/" (Extension.entry)

    @classmethod
    def of(cls, extension: Extension) -> ExtensionInfo:
        return cls(
            extension.image or extension.name,
            extension.image,
            extension.title,
            extension.icon_file(),
            extension.entry,
        )

    def inject(self, html: bytes) -> bytes:
        """The shim (and the extension's title and icon) into an HTML page of its UI."""
        return inject_shim(html, title=self.title, icon=self.icon is not None)


@dataclass(eq=False)
class ExtensionContext:
    """One extension as the daemon serves it.

    ``key`` is what its browser credentials are signed for (``bridge.auth``): a page credential
    one origin got opens nothing on another. ``registry`` holds the methods its pages may call;
    only the host's shell has the management ones. ``admin`` opens the inspector, which shows
    every page's calls: the single context of ``serve``, and the host's shell, never an
    installed extension. ``ui_app`` serves the UI instead of a folder: the proxy to a dev server
    (``--ui-source``), or the host's shell pages. ``shell_origins`` are the host's shell, which
    frames the extension's pages and hands them their credential (``bridge.host.contexts``).
    ``stream_answers`` are its pages' streams waiting for their output to be read over HTTP
    (``bridge.stream_answer``): a name is found only on the origin that started the stream.
    """

    info: ExtensionInfo
    registry: Registry[Any]
    service: ServiceProxy
    key: str = ""
    admin: bool = True
    ui_dir: Path | None = None
    ui_app: ASGIApp | None = None
    host_binaries: Path | None = None
    vm_container: str | None = None
    shell_origins: frozenset[str] = frozenset()
    stream_answers: WaitingStreams = field(default_factory=WaitingStreams)

    async def aclose(self) -> None:
        await self.service.aclose()
        closing = getattr(self.ui_app, "aclose", None)
        if closing is not None:
            await closing()


def context_of(scope: Scope) -> ExtensionContext:
    """The context the access gate found for this request."""
    context: ExtensionContext = scope[SCOPE_KEY]
    return context


@dataclass
class ContextTable:
    """The contexts by the Host names they are served on.

    ``main`` answers every name that is not ``<slug>.localhost`` of an installed extension: the
    one extension of ``serve``, or the host's shell. A ``*.localhost`` name that is no installed
    extension's answers nothing (``for_host`` is None), rather than the shell: a page of a removed
    extension must not become a page of the shell's origin.
    """

    main: ExtensionContext
    by_slug: dict[str, ExtensionContext] = field(default_factory=dict)
    subdomains: bool = False  # whether <slug>.localhost names select extensions (the host)

    def for_host(self, host_header: str | None) -> ExtensionContext | None:
        host = split_host(host_header or "")
        if host is None or not self.subdomains or not host.endswith(EXTENSION_DOMAIN):
            return self.main
        return self.by_slug.get(host.removesuffix(EXTENSION_DOMAIN))

    def __iter__(self) -> Iterator[ExtensionContext]:
        yield self.main
        yield from self.by_slug.values()

"""The contexts of the extensions host: its shell (``http://localhost:PORT/``: the management
methods and the inspector) and one per installed extension, on ``http://<slug>.localhost:PORT/``.

Browsers count every ``*.localhost`` name as a site of its own (as under any unlisted suffix), so
an extension's page framed by the shell is a third-party frame: Chromium denies it storage and
every cookie that is not partitioned. The extension's page therefore gets its credential from the
shell by ``postMessage`` (the shim asks its parent, which must be one of ``shell_origins``), and
its view cookie is ``Partitioned`` (``bridge.access``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from starlette.types import ASGIApp

from bridge.config import Settings
from bridge.context import EXTENSION_DOMAIN, ExtensionContext, ExtensionInfo
from bridge.extension.devserver import DevServerProxy
from bridge.rpc import Registry
from bridge.service_proxy import ServiceProxy

# Not [::1]: browsers take no IPv6 literal in a CSP source (frame-ancestors), so a shell opened
# there could not frame its extensions.
SHELL_HOSTS = ("localhost", "127.0.0.1")


def shell_origins(port: int) -> frozenset[str]:
    """The origins the shell may be opened on, for ``port``."""
    return frozenset(f"http://{host}:{port}" for host in SHELL_HOSTS)


def extension_origin(slug: str, port: int) -> str:
    return f"http://{slug}{EXTENSION_DOMAIN}:{port}"


def no_backend(settings: Settings) -> ServiceProxy:
    return ServiceProxy(settings.backend.model_copy(update={"socket": None, "url": None}))


def shell_context(settings: Settings, registry: Registry[Any], pages: ASGIApp) -> ExtensionContext:
    """The shell's own context: no backend, every ddClient method (the docker pages use them),
    the management methods besides, and the inspector."""
    return ExtensionContext(
        ExtensionInfo(id="ddbridge", title="ddbridge"),
        registry,
        no_backend(settings),
        admin=True,
        ui_app=pages,
    )


def extension_context(
    settings: Settings,
    registry: Registry[Any],
    info: ExtensionInfo,
    slug: str,
    port: int,
    *,
    ui_dir: Path | None = None,
    ui_source: str | None = None,
    socket: Path | None = None,
    host_binaries: Path | None = None,
    vm_container: str | None = None,
) -> ExtensionContext:
    """An installed extension's context: its own backend, binaries, vm container and credential
    key; its pages may be framed by the shell and by nobody else."""
    backend = settings.backend.model_copy(update={"socket": socket, "url": None})
    dev_server = DevServerProxy(ui_source, frozenset(), info.inject) if ui_source else None
    return ExtensionContext(
        info,
        registry,
        ServiceProxy(backend) if socket is not None else no_backend(settings),
        key=slug,
        admin=False,
        ui_dir=None if dev_server is not None else ui_dir,
        ui_app=dev_server,
        host_binaries=host_binaries,
        vm_container=vm_container,
        shell_origins=shell_origins(port),
    )

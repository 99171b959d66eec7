"""``host.*``: facts about the machine the daemon runs on, and opening external links."""

from __future__ import annotations

import logging
import platform
import socket
import sys
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from bridge import __version__
from bridge.api.models import Params
from bridge.errors import Forbidden
from bridge.rpc import MethodRouter

if TYPE_CHECKING:
    from bridge.connection import Session

log = logging.getLogger("ddbridge.host")

router = MethodRouter("host")

# ddClient.host mirrors Node's process.platform / process.arch in Docker Desktop.
_NODE_ARCH = {
    "x86_64": "x64",
    "amd64": "x64",
    "aarch64": "arm64",
    "arm64": "arm64",
    "i386": "ia32",
    "i686": "ia32",
}


def host_info() -> dict[str, Any]:
    machine = platform.machine().lower()
    return {
        "platform": sys.platform,
        "arch": _NODE_ARCH.get(machine, machine),
        "hostname": socket.gethostname(),
        "version": __version__,
    }


def check_external_url(url: str) -> str:
    """Only http(s) links leave the page: no file:, javascript:, or custom schemes."""
    parts = urlsplit(url)
    if parts.scheme.lower() not in ("http", "https") or not parts.netloc:
        raise Forbidden(f"openExternal only opens http:// and https:// URLs; refused {url!r}")
    return url


class InfoParams(Params):
    pass


class OpenExternalParams(Params):
    url: str


@router.method("info")
async def info(params: InfoParams, session: Session) -> dict[str, Any]:
    return session.daemon.host_info


@router.method("openExternal")
async def open_external(params: OpenExternalParams, session: Session) -> None:
    """The shim opens the tab; the daemon checks the URL and logs it."""
    log.info("page %s opens %s", session.peer, check_external_url(params.url))

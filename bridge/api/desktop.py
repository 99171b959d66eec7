"""``desktop.*``: what the page asks of Docker Desktop's own UI (toasts; navigation and the
open dialog come with the developer tools)."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Literal

from bridge.api.models import Params
from bridge.rpc import MethodRouter

if TYPE_CHECKING:
    from bridge.connection import Session

log = logging.getLogger("ddbridge.desktop")

router = MethodRouter("desktop")

_LOG_LEVELS = {"success": logging.INFO, "warning": logging.WARNING, "error": logging.ERROR}


class ToastParams(Params):
    level: Literal["success", "warning", "error"]
    message: str


@router.method("toast")
async def toast(params: ToastParams, session: Session) -> None:
    """The shim draws the toast in the page; the daemon keeps it in its log and the inspector's."""
    session.events.publish("toast", {"level": params.level, "message": params.message})
    log.log(_LOG_LEVELS[params.level], "toast %s from %s: %s", params.level, session.peer, params.message)

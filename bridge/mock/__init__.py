"""Mock mode (``--mock FILE``) and record mode (``--record FILE``): which methods answer a page.

Both are chosen once, when the app is created: ``registry_for`` returns the daemon's method
registry with some methods replaced — by scripted answers in mock mode, by recording wrappers
around the real handlers in record mode — and the plain registry otherwise. Nothing on the RPC
path checks a mode.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from bridge.config import Settings
from bridge.errors import ConfigError
from bridge.mock.record import Recorder, check_record_path, recording_methods
from bridge.mock.replay import mock_routers
from bridge.mock.script import load_script
from bridge.rpc import MethodRouter, Registry
from bridge.rpc.dispatch import Method

if TYPE_CHECKING:
    from bridge.connection import Session


class LayeredRegistry(Registry[Any]):
    """A registry whose methods are ``base``'s, with ``top``'s replacing (or adding) some."""

    def __init__(self, base: Registry[Any], top: Iterable[Method]) -> None:
        super().__init__(())
        self._base = base
        self._top = {method.name: method for method in top}

    def __contains__(self, name: object) -> bool:
        return name in self._top or name in self._base

    def names(self) -> list[str]:
        return sorted({*self._base.names(), *self._top})

    def get(self, name: str) -> Method | None:
        return self._top.get(name) or self._base.get(name)


def check_mock_settings(settings: Settings) -> None:
    """Fail at start-up, before any backend starts: a bad mock file, or a record path that cannot
    be written (each raises ``ConfigError`` with one line)."""
    if settings.mock.file is not None and settings.mock.record is not None:
        raise ConfigError("give --mock FILE or --record FILE, not both")
    if settings.mock.file is not None:
        load_script(settings.mock.file)
    if settings.mock.record is not None:
        check_record_path(settings.mock.record)


def registry_for(settings: Settings, base: Registry[Session]) -> Registry[Session]:
    """The registry the daemon answers with, given the ``[mock]`` settings."""
    check_mock_settings(settings)
    if settings.mock.file is not None:
        routers: list[MethodRouter] = mock_routers(load_script(settings.mock.file))
        return LayeredRegistry(base, (method for router in routers for method in router.methods))
    if settings.mock.record is not None:
        return LayeredRegistry(base, recording_methods(Recorder(settings.mock.record), base.get))
    return base

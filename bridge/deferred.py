"""Modules that load on first use, not at start-up.

aiodocker, with the aiohttp under it, is a third of the daemon's start-up (0.2 s of 0.5-0.7 s on
2 cores), and most runs of ``ddbridge serve`` reach no engine before a page asks, some never;
PyYAML (10-15 ms) is read only for an extension's compose file.
``defer`` puts such a module in ``sys.modules`` without running it: ``import aiodocker``
anywhere then costs nothing, and the module runs when something first reads one of its
attributes (``aiodocker.Docker``, an ``except aiodocker.DockerError`` that is reached, ``from
aiodocker.execs import …``). Code that uses it is written as if it were imported as usual; only
module-level reads of its attributes would run it at start-up, so the modules keep those inside
functions (``tests/unit/test_deferred.py`` checks that ``serve`` starts without them).

The standard library's ``importlib.util.LazyLoader`` does not do here: the ``import`` statement
reads ``__spec__`` of a module it finds in ``sys.modules``, which runs a LazyLoader module at the
first ``import`` of it. A deferred module answers its spec and name itself.

``from aiodocker.execs import Exec`` as the first use reads the package's ``__path__``, which runs
the package, whose code imports ``aiodocker.execs`` itself; the import system has already decided
to load that submodule and would load a second copy of it (two ``Exec`` classes). ``_Imported``,
first on ``sys.meta_path``, hands that import the module the package's code made.
"""

from __future__ import annotations

import importlib.abc
import importlib.machinery
import importlib.util
import sys
import threading
import types
from typing import Any

# What the import system reads of a module it finds in sys.modules, answered without running it.
_OWN = frozenset({"__spec__", "__name__", "__class__", "__dict__"})
_RUNNING = threading.RLock()


class _Deferred(types.ModuleType):
    """A module whose code has not run yet; reading anything but ``_OWN`` runs it."""

    def __getattribute__(self, name: str) -> Any:
        if name in _OWN:
            return super().__getattribute__(name)
        _run(self)
        return getattr(self, name)


def _run(module: types.ModuleType) -> None:
    """Run a deferred module's code once, as its import would have; on failure it leaves
    ``sys.modules`` as a failed import does, and the error goes to the reader."""
    with _RUNNING:
        if type(module) is not _Deferred:  # run meanwhile by another thread
            return
        object.__setattr__(module, "__class__", types.ModuleType)
        spec = module.__spec__
        assert spec is not None and spec.loader is not None
        try:
            spec.loader.exec_module(module)
        except BaseException:
            sys.modules.pop(spec.name, None)
            raise


class _Imported(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """Finds a module that is in ``sys.modules`` by the time it is looked for: the import of a
    submodule that running its deferred package imported meanwhile. An import never looks for a
    module it finds there first, and a reload (``target``) is left to the other finders."""

    def find_spec(
        self, fullname: str, path: Any = None, target: types.ModuleType | None = None
    ) -> importlib.machinery.ModuleSpec | None:
        module = sys.modules.get(fullname)
        if module is None or target is not None or module.__spec__ is None:
            return None
        return importlib.machinery.ModuleSpec(fullname, self, loader_state=(module, module.__spec__))

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> types.ModuleType:
        module: types.ModuleType = spec.loader_state[0]
        return module

    def exec_module(self, module: types.ModuleType) -> None:
        """The module ran already; give it back its own spec, which the import system replaced."""
        assert module.__spec__ is not None
        module.__spec__ = module.__spec__.loader_state[1]


_IMPORTED = _Imported()


def defer(*names: str) -> None:
    """Make each top-level module of ``names`` run on first use; one already imported, or not
    installed (its ``import`` then fails as usual), is left alone."""
    for name in names:
        if name in sys.modules:
            continue
        spec = importlib.util.find_spec(name)
        if spec is None or spec.loader is None:
            continue
        module = importlib.util.module_from_spec(spec)
        module.__class__ = _Deferred
        sys.modules[name] = module
    if _IMPORTED not in sys.meta_path:
        sys.meta_path.insert(0, _IMPORTED)

"""Confinement of ``extension.host.cli.exec``: only files inside the host-binaries folder.

Docker Desktop runs the binaries an extension ships (``host.binaries`` in metadata.json) and
nothing else; a page must not turn that into "run any program". A name is resolved inside the
folder and refused when it is absolute, climbs with ``..``, or resolves (through symlinks)
outside the folder.
"""

from __future__ import annotations

import os
from pathlib import Path, PurePosixPath

from bridge.errors import ExecError


def resolve_host_binary(folder: Path, name: str) -> Path:
    """The executable file ``name`` names inside ``folder``, or ``ExecError`` saying why not."""

    def refuse(why: str) -> ExecError:
        return ExecError(f"host binary {name!r} refused: {why}", target="host", cmd=name)

    if not name or "\x00" in name:
        raise refuse("an empty or malformed name")
    relative = PurePosixPath(name)
    if relative.is_absolute():
        raise refuse("absolute paths are not allowed; name a file in the host binaries folder")
    if ".." in relative.parts:
        raise refuse("'..' is not allowed in a host binary name")
    root = folder.resolve()
    candidate = (root / relative).resolve()
    if not candidate.is_relative_to(root):
        raise refuse(f"it resolves outside the host binaries folder {root}")
    if not candidate.is_file():
        raise ExecError(
            f"host binary {name!r} not found in the host binaries folder {root}", target="host", cmd=name
        )
    if not os.access(candidate, os.X_OK):
        raise refuse(f"{candidate} is not executable")
    return candidate

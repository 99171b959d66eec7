"""Confinement of ``extension.host.cli.exec``: only files inside the host-binaries folder.

Docker Desktop runs the binaries an extension ships (``host.binaries`` in metadata.json) and
nothing else; a page must not turn that into "run any program". A name is refused when it is
absolute, climbs with ``..``, or resolves (through symlinks) outside the folder.

What is checked is what runs. Checking a path and then handing the same path to ``execve``
lets the folder change in between: swapping a subfolder for a symlink to another folder ran a
file outside in 7 of 400 calls. So the name is walked one component at a time, each opened
``O_PATH | O_NOFOLLOW`` relative to the descriptor of the folder reached so far, and symlinks
are followed here, not by the kernel: a relative target continues from the link's folder, an
absolute one must name a place inside the host-binaries folder and continues from its
descriptor, ``..`` goes back to a descriptor already held and never above the folder. The
file found is checked through its descriptor (a regular file the daemon may execute, no
symlink), and it runs as ``/proc/self/fd/D/NAME``: D is the descriptor of the folder it was
found in, which the process inherits, so no folder on the way can be swapped any more; NAME
is its own name, so a binary still sees its name in ``argv[0]`` (multi-call binaries, usage
lines) and a script's ``$(dirname "$0")`` still finds the files beside it. (Executing the file's
own descriptor would pin NAME too, but shows ``/proc/self/fd/N`` as ``$0``; only someone who can
write into that folder could swap NAME, and they can put any file there under that name.)
"""

from __future__ import annotations

import os
import stat
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from bridge.errors import ExecError

# Symlinks followed for one name at most: the kernel's own limit (ELOOP beyond).
MAX_SYMLINKS = 40
_OPEN_FLAGS = os.O_PATH | os.O_NOFOLLOW | os.O_CLOEXEC


@dataclass(frozen=True, slots=True)
class HostBinary:
    """An opened host binary: ``folder_fd`` is an ``O_PATH`` descriptor of the folder the checked
    file was found in, ``name`` its name there, and ``executable`` the path that runs it in a
    child that inherits ``folder_fd`` (``pass_fds``). ``close`` once the process started."""

    folder_fd: int
    name: str

    @property
    def executable(self) -> str:
        return f"/proc/self/fd/{self.folder_fd}/{self.name}"

    def close(self) -> None:
        os.close(self.folder_fd)


def open_host_binary(folder: Path, name: str) -> HostBinary:
    """The executable file ``name`` names inside ``folder``, opened, or ``ExecError`` saying why not."""

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
    try:
        folder_fd, fd, path = _Walk(root, refuse).open(relative.parts)
    except (FileNotFoundError, NotADirectoryError):
        raise ExecError(
            f"host binary {name!r} not found in the host binaries folder {root}{_suffixed(root, relative)}",
            target="host",
            cmd=name,
        ) from None
    except OSError as exc:
        raise refuse(f"cannot open it in {root}: {exc.strerror}") from exc
    try:
        mode = os.fstat(fd).st_mode
        if not stat.S_ISREG(mode):
            raise ExecError(
                f"host binary {name!r} not found in the host binaries folder {root} (not a regular file)",
                target="host",
                cmd=name,
            )
        if not os.access(f"/proc/self/fd/{fd}", os.X_OK):
            raise refuse(f"{path} is not executable")
    except BaseException:
        os.close(folder_fd)
        raise
    finally:
        os.close(fd)
    return HostBinary(folder_fd, path.name)


def _suffixed(root: Path, relative: PurePosixPath) -> str:
    """For a bare name not found: the files of the folder named like it with a suffix (``tool``
    when only ``tool.sh`` is there), as advice. Docker Desktop adds no suffix either: its guide
    and published extensions pick ``hello.sh`` or ``hello.cmd`` per platform themselves. Only the
    folder itself is listed, never a place a name would lead to."""
    if len(relative.parts) != 1:
        return ""
    try:
        found = sorted(entry for entry in os.listdir(root) if entry.startswith(f"{relative.name}."))
    except OSError:
        return ""
    if not found:
        return ""
    listed = ", ".join(repr(entry) for entry in found[:5])
    return (
        f"; it has {listed}: Docker Desktop runs the file named exactly, suffix included, "
        f"so call exec({found[0]!r}, ...)"
    )


class _Walk:
    """One name's walk from the folder's descriptor: a stack of the folders' descriptors from
    the root down to the current one, each opened relative to the one before."""

    def __init__(self, root: Path, refuse: Callable[[str], ExecError]) -> None:
        self._root = root
        self._refuse = refuse
        self._links = 0

    def open(self, parts: tuple[str, ...]) -> tuple[int, int, Path]:
        """``O_PATH`` descriptors of the folder the last component is in and of the component
        itself, and the path it was found at."""
        root_fd = os.open(self._root, _OPEN_FLAGS | os.O_DIRECTORY)
        stack: list[tuple[int, str]] = [(root_fd, "")]
        pending = list(parts)
        try:
            while pending:
                part = pending.pop(0)
                if part in ("", "."):
                    continue
                if part == "..":
                    if len(stack) == 1:
                        raise self._refuse(f"a symlink climbs out of the host binaries folder {self._root}")
                    os.close(stack.pop()[0])
                    continue
                parent_fd, parent_path = stack[-1]
                fd = os.open(part, _OPEN_FLAGS, dir_fd=parent_fd)
                path = f"{parent_path}/{part}"
                mode = os.fstat(fd).st_mode
                if stat.S_ISLNK(mode):
                    try:
                        target = os.readlink("", dir_fd=fd)  # this very link, not the name again
                    finally:
                        os.close(fd)
                    pending[:0] = self._follow(target, stack)
                elif pending:
                    if not stat.S_ISDIR(mode):
                        os.close(fd)
                        raise NotADirectoryError(path)
                    stack.append((fd, path))
                else:
                    return os.dup(parent_fd), fd, self._root / path.lstrip("/")
            raise NotADirectoryError("a folder, not a file")
        finally:
            for held, _ in stack:
                os.close(held)

    def _follow(self, target: str, stack: list[tuple[int, str]]) -> list[str]:
        """The components a symlink's ``target`` puts before the rest of the name; an absolute
        target restarts the walk at the root (the stack is cut back to it)."""
        self._links += 1
        if self._links > MAX_SYMLINKS:
            raise self._refuse(f"more than {MAX_SYMLINKS} symlinks")
        link = PurePosixPath(target)
        if not link.is_absolute():
            return list(link.parts)
        if not link.is_relative_to(self._root):
            raise self._refuse(f"it resolves outside the host binaries folder {self._root}")
        while len(stack) > 1:
            os.close(stack.pop()[0])
        return list(link.relative_to(self._root).parts)

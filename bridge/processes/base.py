"""The process seam: what every process source returns, and what an exec asks for."""

from __future__ import annotations

import signal
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol

STDOUT = 1
STDERR = 2


@dataclass(frozen=True, slots=True)
class ExecSpec:
    """A command as the page asked for it: argv (never a shell), working dir and extra env."""

    cmd: str
    args: Sequence[str] = ()
    cwd: str | None = None
    env: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class ExitStatus:
    """How a process ended. A process ended by a signal reports ``128 + N`` as its code (as a
    shell and ``docker exec`` do) and the signal's name."""

    code: int
    signal: str | None = None

    @classmethod
    def from_returncode(cls, returncode: int) -> ExitStatus:
        if returncode >= 0:
            return cls(returncode)
        number = -returncode
        try:
            name = signal.Signals(number).name
        except ValueError:
            name = f"SIG{number}"
        return cls(128 + number, name)


Chunk = tuple[int, bytes]


class RunningProcess(Protocol):
    """A started process whose output is read in order and which can be ended."""

    @property
    def killed(self) -> bool:
        """True once ``terminate`` was called."""
        ...

    async def read(self) -> list[Chunk]:
        """The output that arrived since the last call, as ``(STDOUT|STDERR, bytes)`` chunks,
        waiting for some; an empty list once both streams are closed."""
        ...

    async def wait(self) -> ExitStatus:
        """Wait for the process to exit."""
        ...

    async def terminate(self, grace: float) -> None:
        """End the process (and what it started): SIGTERM, then SIGKILL after ``grace`` s."""
        ...

    def close(self) -> None:
        """Release the process's resources once it has exited or been terminated."""
        ...

"""Signalling every host process that carries a marker in its environment (Linux ``/proc``).

A host process leads its own process group, and ``killpg`` ends the group; a child that calls
``setsid`` (or ``setpgid``) leaves it. The environment is inherited whatever the child does
to its session, so every host process gets a marker (``NAME=random``) and ``signal_marked``
finds them all by reading ``/proc/PID/environ``. Each is opened as a pidfd before its
environment is read and signalled through that pidfd, so a pid reused in between is never hit.

Limits: a process that clears its environment (``env -i``), or runs as another user (a
setuid program: its environment is not the daemon's to read), escapes the sweep. Where
``/proc`` or pidfds are missing (not Linux) the sweep finds nothing.
"""

from __future__ import annotations

import contextlib
import os
import signal

# Passes of ``signal_marked`` at most: each one also catches what the previous one's
# processes forked meanwhile.
MAX_PASSES = 20


def _marked_pidfds(marker: bytes, spare_group: int | None) -> list[int]:
    """pidfds of the processes whose environment holds ``marker``, but for those in process
    group ``spare_group``. A pid is opened before its ``/proc`` files are read and checked
    alive after: then they were that process's, not a newer one's with the same pid."""
    try:
        names = os.listdir("/proc")
    except OSError:
        return []
    found = []
    for name in names:
        if not name.isdigit():
            continue
        try:
            pidfd = os.pidfd_open(int(name))
        except OSError:
            continue  # gone, or not a process this system lets us open
        try:
            with open(f"/proc/{name}/environ", "rb") as environ:
                holds = marker in environ.read().split(b"\0")
            holds = holds and os.getpgid(int(name)) != spare_group
            signal.pidfd_send_signal(pidfd, 0)
        except OSError:
            holds = False
        if holds:
            found.append(pidfd)
        else:
            os.close(pidfd)
    return found


def signal_marked(marker: bytes, signum: signal.Signals, *, spare_group: int | None = None) -> int:
    """Send ``signum`` to every process carrying ``marker`` (``NAME=value``), but for those in
    process group ``spare_group`` (which ``killpg`` reaches); how many got it. With SIGKILL
    each pass stops the processes it found before killing them, and passes go on until one
    finds none, so a process forking as fast as it can cannot outrun the sweep."""
    total = 0
    for _ in range(MAX_PASSES):
        pidfds = _marked_pidfds(marker, spare_group)
        if not pidfds:
            break
        if signum == signal.SIGKILL:
            _send(pidfds, signal.SIGSTOP)
        _send(pidfds, signum)
        for pidfd in pidfds:
            os.close(pidfd)
        total += len(pidfds)
        if signum != signal.SIGKILL:
            break
    return total


def _send(pidfds: list[int], signum: signal.Signals) -> None:
    for pidfd in pidfds:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            signal.pidfd_send_signal(pidfd, signum)

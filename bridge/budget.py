"""The daemon-wide budget for bytes held in memory on behalf of calls (``[limits] memory``).

A blocking exec collects its output, and a service call its backend's answer, before either is
sent as one reply; each page may hold up to its per-call cap (``[exec] max_output``,
``[backend] max_answer``), but many calls at once could still hold far more than the machine
has. Every such buffer takes its bytes from one ``MemoryBudget`` as they arrive and gives them
back when the reply has gone out, so the daemon's memory stays bounded by the budget (plus a
small constant) however many calls run. A call whose bytes do not fit is refused with
``LimitExceeded`` naming the setting; nothing else is disturbed.

No I/O here: a plain counter, checked and changed on the event loop's thread.
"""

from __future__ import annotations

from types import TracebackType

from bridge.errors import LimitExceeded

SETTING = "limits.memory"
_STR_HEADER = 80  # at least what a str object takes besides its characters


def str_size(length: int, *, ascii: bool) -> int:
    """The most a str of ``length`` characters (or of ``length`` UTF-8 bytes) takes: one byte a
    character when ASCII, else four (one character past U+FFFF widens every character)."""
    return (1 if ascii else 4) * length + _STR_HEADER


class MemoryBudget:
    """``limit`` bytes shared by every call of the daemon."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.held = 0

    def hold(self, what: str) -> Hold:
        """A new account for one call's buffer; ``what`` names it in the error (``"exec output"``)."""
        return Hold(self, what)

    def _take(self, size: int, what: str) -> None:
        if self.held + size > self.limit:
            raise LimitExceeded(
                f"{what} does not fit in the daemon's memory budget ({self.limit} bytes held for all "
                f"calls at once, [limits] memory); retry when other calls have answered, or use a "
                "streaming form",
                limit=SETTING,
                value=self.limit,
            )
        self.held += size

    def _give_back(self, size: int) -> None:
        self.held -= size


class Hold:
    """The bytes one call holds; ``with budget.hold(...) as hold:`` gives them all back at the end.

    ``json_utf8`` and ``json_ascii`` are what its holder knows of the held buffers' size once
    written as JSON strings in a reply (UTF-8 kept, or escaped to ASCII): upper bounds that let
    the connection take a reply's bytes from the budget before it makes them.
    """

    def __init__(self, budget: MemoryBudget, what: str) -> None:
        self._budget = budget
        self._what = what
        self.size = 0
        self.json_utf8 = 0
        self.json_ascii = 0

    def add(self, size: int) -> None:
        """Take ``size`` more bytes, or raise ``LimitExceeded`` (holding what it held before)."""
        self._budget._take(size, self._what)
        self.size += size

    def give_back(self, size: int) -> None:
        """Give back ``size`` of the bytes held (a buffer was dropped or shrank)."""
        size = min(size, self.size)
        self._budget._give_back(size)
        self.size -= size

    def release(self) -> None:
        """Give back everything held; releasing again does nothing."""
        self.give_back(self.size)

    def __enter__(self) -> Hold:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self.release()

"""``ddbridge extension ls``: the table ``docker extension ls`` prints, and its ``--format json``.

Docker's columns and cells, as its CLI prints them: ``ID`` (the image's repository), ``PROVIDER``,
``VERSION`` (the tag), ``UI`` (``1 tab(Logs Explorer)`` or ``-``), ``VM`` (the backend's
containers by state, ``Running(1)``, or ``-`` without one), ``HOST`` (``1 binarie(s)``, Docker's
spelling, or ``-``), aligned as the docker CLI's ``text/tabwriter`` aligns them (cells padded by
3 spaces, columns at least 20 wide, the last one not padded). docker/extensions-sdk#207 shows
a real output. An extension whose backend failed to come up keeps its row (its VM cell shows the
containers' states) and gets a note line under the table with the reason: Docker Desktop shows
that reason on the extension's card, which a terminal does not have.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

HEADERS = ("ID", "PROVIDER", "VERSION", "UI", "VM", "HOST")
# The docker CLI's tabwriter: tabwriter.NewWriter(out, 20, 1, 3, ' ', 0).
_MIN_WIDTH = 20
_PADDING = 3
NONE = "-"


@dataclass(frozen=True)
class Row:
    """What ``ls`` shows of one installed extension.

    ``tab`` is its dashboard tab's title (None: no UI); ``containers`` the states of its backend's
    containers as the engine reports them (``running``, ``exited``...; None: no ``vm``; empty:
    none exists now); ``host_binaries`` how many binaries it installed on the host; ``failure``
    why it is not serving, None when it is.
    """

    name: str
    provider: str
    version: str
    image: str
    tab: str | None
    containers: tuple[str, ...] | None
    host_binaries: int
    failure: str | None = None

    @property
    def ui(self) -> str:
        return NONE if self.tab is None else f"1 tab({_one_line(self.tab)})"

    @property
    def vm(self) -> str:
        """``Running(1)``, ``Running(1), Exited(1)`` for several states, ``-`` without a vm."""
        if self.containers is None:
            return NONE
        if not self.containers:
            return "Not running"
        counts = Counter(self.containers)
        return ", ".join(f"{state.capitalize()}({count})" for state, count in counts.items())

    @property
    def host(self) -> str:
        return f"{self.host_binaries} binarie(s)" if self.host_binaries else NONE

    def cells(self) -> tuple[str, ...]:
        return (
            self.name,
            _one_line(self.provider) or NONE,
            self.version or NONE,
            self.ui,
            self.vm,
            self.host,
        )


def _one_line(text: str) -> str:
    """A cell on one line: a title with a newline or a tab would break the columns."""
    return " ".join(text.split())


def aligned(lines: Sequence[Sequence[str]]) -> list[str]:
    """``lines`` of as many cells each, in columns, as Go's tabwriter aligns them with the docker
    CLI's settings: a column is as wide as its widest cell plus the padding, and at least the
    minimum width; the last column is not padded."""
    widths = [
        max(_MIN_WIDTH, *(len(line[column]) + _PADDING for line in lines))
        for column in range(len(lines[0]) - 1)
    ]
    return [
        "".join(cell.ljust(width) for cell, width in zip(line, widths, strict=False)) + line[-1]
        for line in lines
    ]


def render_table(rows: Sequence[Row]) -> str:
    """The table (its header alone when nothing is installed), then a note per failed extension."""
    table = aligned([HEADERS, *(row.cells() for row in rows)])
    notes = [f"! {row.name} failed: {_one_line(row.failure)}" for row in rows if row.failure is not None]
    return "\n".join(table + notes)


def render_json(rows: Sequence[Row]) -> str:
    """One JSON array: each row's cells under the names ``docker ... --format json`` uses for its
    columns, with the image and the failure (null when it serves)."""
    return json.dumps(
        [
            {
                "ID": row.name,
                "Provider": row.provider,
                "Version": row.version,
                "Image": row.image,
                "UI": row.ui,
                "VM": row.vm,
                "Host": row.host,
                "Error": row.failure,
            }
            for row in rows
        ]
    )

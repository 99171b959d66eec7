"""The results: one ``Row`` per figure (bridge, its baseline, their ratio, the target), printed
as a Markdown table (the README shows it as is) and written as JSON."""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class Row:
    """One figure. Ratio targets use ``min_ratio``/``max_ratio`` (bridge ÷ baseline); absolute
    targets (RSS, start-up) use ``max_value`` on the bridge's figure; any ``errors`` fail it."""

    part: str
    name: str
    unit: str
    bridge: float
    baseline: float | None = None
    baseline_name: str = ""
    min_ratio: float | None = None
    max_ratio: float | None = None
    max_value: float | None = None
    note: str = ""
    errors: int = 0

    @property
    def ratio(self) -> float | None:
        if self.baseline is None or self.baseline == 0 or math.isnan(self.baseline):
            return None
        return self.bridge / self.baseline

    @property
    def target(self) -> str:
        if self.min_ratio is not None:
            return f"≥ {self.min_ratio:g}x"
        if self.max_ratio is not None:
            return f"≤ {self.max_ratio:g}x"
        if self.max_value is not None:
            return f"≤ {self.max_value:g} {self.unit}"
        return ""

    @property
    def verdict(self) -> str | None:
        """PASS/FAIL against the target; None when the figure has no target."""
        ratio = self.ratio
        if self.min_ratio is not None:
            return None if ratio is None else ("PASS" if ratio >= self.min_ratio else "FAIL")
        if self.max_ratio is not None:
            return None if ratio is None else ("PASS" if ratio <= self.max_ratio else "FAIL")
        if self.max_value is not None:
            return "PASS" if self.bridge <= self.max_value and not self.errors else "FAIL"
        return None

    def as_json(self) -> dict[str, Any]:
        return {**asdict(self), "ratio": self.ratio, "target": self.target, "verdict": self.verdict}


def _number(value: float | None) -> str:
    if value is None or math.isnan(value):
        return "—"
    if abs(value) >= 100:
        return f"{value:,.0f}"
    if abs(value) >= 10:
        return f"{value:.1f}"
    return f"{value:.2f}"


def table(rows: list[Row]) -> str:
    lines = [
        "| part | figure | bridge | baseline | ratio | target | |",
        "|---|---|---:|---:|---:|---|---|",
    ]
    for row in rows:
        baseline = f"{_number(row.baseline)} ({row.baseline_name})" if row.baseline is not None else "—"
        ratio = f"{row.ratio:.2f}x" if row.ratio is not None else ""
        name = f"{row.name} ({row.note})" if row.note else row.name
        lines.append(
            f"| {row.part} | {name} | {_number(row.bridge)} {row.unit} | {baseline} | {ratio} "
            f"| {row.target} | {row.verdict or ''} |"
        )
    return "\n".join(lines)


def write_json(path: Path, meta: dict[str, Any], rows: list[Row], skipped: dict[str, str]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    document = {"meta": meta, "rows": [row.as_json() for row in rows], "skipped": skipped}
    path.write_text(json.dumps(document, indent=2, ensure_ascii=False) + "\n")

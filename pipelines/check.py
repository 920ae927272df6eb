"""`python -m pipelines check`: what a run would publish, beside what is published now, as a plain table.

The figures are the EU totals the dashboard headlines: per wave and indicator, the sum of the facts and the number
of members who reported. The current snapshot's are read from data/curated/current/facts.parquet with pyarrow (the
pipeline never uses DuckDB). Pure functions over tables and rows; `__main__` runs the check and writes the text.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from pipelines import snapshots
from pipelines.schema import INDICATORS

# Exit codes of `python -m pipelines check`: 1 is a PipelineError, as for a run.
CLEAN, FAILED, WARNINGS = 0, 1, 3

Figures = dict[tuple[int, str], tuple[int, int]]  # (wave, indicator) -> (stored total, reporting members)


@dataclass(frozen=True)
class Row:
    wave: int
    indicator: str
    new: tuple[int, int] | None  # None: the run would publish no figure here
    current: tuple[int, int] | None  # None: the current snapshot has none (or there is no current snapshot)

    @property
    def difference(self) -> int | None:
        if self.new is None or self.current is None:
            return None
        return self.new[0] - self.current[0]


def figures(facts: pa.Table) -> Figures:
    """Total and reporting members per (wave, indicator) of a facts table."""
    grouped = facts.select(["year", "indicator", "value", "member_id"]).group_by(["year", "indicator"]).aggregate(
        [("value", "sum"), ("member_id", "count_distinct")])
    return {(int(y), i): (int(v), int(m)) for y, i, v, m in zip(
        grouped["year"].to_pylist(), grouped["indicator"].to_pylist(), grouped["value_sum"].to_pylist(),
        grouped["member_id_count_distinct"].to_pylist(), strict=True)}


def current_facts(curated_dir: Path) -> pa.Table | None:
    """The facts of the snapshot `current` points to (None before the first run)."""
    target = snapshots.current_dir(curated_dir)
    if target is None or not (target / "facts.parquet").is_file():
        return None
    return pq.read_table(target / "facts.parquet", columns=["year", "indicator", "value", "member_id"])


def compare(new: Figures, current: Figures) -> list[Row]:
    """Every (wave, indicator) of either side, by wave then in the catalogue's order."""
    order = {name: position for position, name in enumerate(INDICATORS)}
    keys = sorted(set(new) | set(current), key=lambda k: (k[0], order.get(k[1], len(order)), k[1]))
    return [Row(wave, indicator, new.get((wave, indicator)), current.get((wave, indicator)))
            for wave, indicator in keys]


def _amount(stored: int, indicator: str) -> str:
    """A stored integer in the indicator's unit: euro cents as euros with two decimals, counts as they are."""
    scale = INDICATORS[indicator].scale if indicator in INDICATORS else 1
    if scale == 1:
        return f"{stored:,}"
    places = len(str(scale)) - 1
    return f"{Decimal(stored) / scale:,.{places}f}"


def _signed(stored: int, indicator: str) -> str:
    return "0" if stored == 0 else ("+" if stored > 0 else "-") + _amount(abs(stored), indicator)


HEADER = ("wave", "indicator", "unit", "new total", "members", "current total", "members", "difference")


def table_lines(rows: list[Row]) -> list[str]:
    """The comparison as aligned text: text columns to the left, numbers to the right."""
    cells = [HEADER]
    for row in rows:
        unit = INDICATORS[row.indicator].unit if row.indicator in INDICATORS else ""
        new_total, new_members = (("-", "-") if row.new is None
                                  else (_amount(row.new[0], row.indicator), f"{row.new[1]:,}"))
        old_total, old_members = (("-", "-") if row.current is None
                                  else (_amount(row.current[0], row.indicator), f"{row.current[1]:,}"))
        if row.difference is not None:
            difference = _signed(row.difference, row.indicator)
        else:
            difference = "new" if row.current is None else "gone"
        cells.append((str(row.wave), row.indicator, unit, new_total, new_members, old_total, old_members,
                      difference))
    widths = [max(len(line[i]) for line in cells) for i in range(len(HEADER))]
    left = 3  # wave, indicator, unit
    return ["  ".join(cell.ljust(w) if i < left else cell.rjust(w) for i, (cell, w) in enumerate(
        zip(line, widths, strict=True))).rstrip() for line in cells]


def report(rows: list[Row], *, raw_dir: Path, curated_dir: Path, current: str | None, files: int,
           unchanged_since: str | None, warnings: list[str], skipped: list[dict[str, str]]) -> tuple[str, int]:
    """The whole printout of a check that would publish, and its exit code."""
    lines = [f"check: {raw_dir} -> {curated_dir}: nothing was published",
             f"would publish {files} files; current snapshot: {current or '(none yet)'}"]
    if unchanged_since is not None:
        lines.append(f"the raw inputs and the pipeline are those of {unchanged_since}: "
                     "`python -m pipelines` would do nothing")
    lines += ["", *table_lines(rows), ""]
    lines.append(f"warnings: {len(warnings)}")
    lines += [f"  {message}" for message in warnings]
    lines.append(f"skipped files: {len(skipped)}")
    lines += [f"  {item['path']} ({item['why']})" for item in skipped]
    code = WARNINGS if warnings else CLEAN
    verdict = "would publish with warnings" if warnings else "would publish cleanly"
    lines.append(f"result: {verdict} (exit {code})")
    return "\n".join(lines) + "\n", code

"""Relative measures, changes between years and Eurostat-style tables, computed on the data layer's cells.

Pure: frames in, frames out, nothing read from disk or DuckDB. A measure of a withheld or missing figure is itself
missing, so in public mode a ratio or change is only ever made of released figures.

Eurostat conventions: ":" for no figure (the flags beside it, dashboard.export_registry.flag_codes, say why: "m"
nobody reported, "c" withheld); "b" on a change that spans a break in series.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import pandas as pd

NO_FIGURE = ":"  # Eurostat's "not available"


@dataclass(frozen=True)
class Measure:
    key: str
    label: str  # on the control
    unit: str | None  # None: the indicator's own unit
    describe: str  # "{label}" is the indicator's label

    def title(self, indicator_label: str) -> str:
        return self.describe.format(label=indicator_label)


MEASURES: dict[str, Measure] = {m.key: m for m in (
    Measure("total", "Total", None, "{label}"),
    Measure("per_member", "Per reporting member", None, "{label} per reporting member"),
    Measure("share", "Share of the total", "share", "{label}: share of the selection's total"),
    Measure("change", "Change on the previous year", "share", "{label}: change on the previous survey year"),
)}


def per_member(value: pd.Series, n_reporting: pd.Series) -> pd.Series:
    """The figure divided by the members who reported it (missing where nobody did)."""
    members = n_reporting.astype("float64").where(n_reporting > 0)
    return value.astype("float64") / members


def share(value: pd.Series, total: pd.Series) -> pd.Series:
    """Each figure as a share of its total (missing where the total is missing or zero)."""
    total = total.astype("float64")
    return value.astype("float64") / total.where(total != 0)


def change_on_previous(frame: pd.DataFrame, others: Sequence[str]) -> pd.Series:
    """Per row of a frame with a `year` column (text) and `value`: the relative change on the same category's
    previous survey year in the frame (0.1 = +10%); missing for the first year or when either side is."""
    ordered = frame.assign(_year=frame["year"].astype(int)).sort_values([*others, "_year"], kind="stable")
    grouped = ordered.groupby(list(others), sort=False, dropna=False)["value"] if others else ordered["value"]
    previous = grouped.shift(1)
    ratio = ordered["value"].astype("float64") / previous.astype("float64").where(previous != 0) - 1.0
    return ratio.reindex(frame.index)


def apply_measure(
    frame: pd.DataFrame, measure: str, by: Sequence[str], totals: Callable[[pd.DataFrame], pd.Series]
) -> pd.Series:
    """The measure's value for each cell. `totals(frame)` gives, per row, the total the row is a share of."""
    if measure == "total":
        return frame["value"].astype("float64")
    if measure == "per_member":
        return per_member(frame["value"], frame["n_reporting"])
    if measure == "share":
        return share(frame["value"], totals(frame))
    if measure == "change":
        if "year" not in by:
            raise ValueError("the change on the previous year needs the year as a breakdown")
        return change_on_previous(frame, [b for b in by if b != "year"])
    raise ValueError(f"unknown measure {measure!r}")


def parse_change(text: str, years: Sequence[int]) -> tuple[int, int] | None:
    """`"2022-2024"` -> (2022, 2024) when both are survey years and the first is earlier; else None."""
    first, sep, last = str(text).partition("-")
    if not sep or not (first.isascii() and first.isdigit() and last.isascii() and last.isdigit()):
        return None
    if len(first) > 4 or len(last) > 4:
        return None
    pair = (int(first), int(last))
    return pair if pair[0] < pair[1] and pair[0] in years and pair[1] in years else None


def _category_order(category: tuple) -> tuple:
    """How an outer merge orders the categories it joins on: by each key in turn, a missing one last."""
    missing = [value is None or value != value for value in category]  # None, or NaN as pandas' "str" has it
    return tuple((gone, "" if gone else value) for gone, value in zip(missing, category, strict=True))


def change_between(
    frame: pd.DataFrame, others: Sequence[str], first: int, last: int, breaks: Sequence[int]
) -> pd.DataFrame:
    """Per category of `others` (a frame with a `year` column as text and `value`): the absolute and relative
    change from `first` to `last`, and "b" when a break in series falls in (first, last]. One row per category
    with a figure in either year, in the order of the categories (as an outer merge on them gives)."""
    keys = list(others)
    values = frame["value"].astype("float64").tolist()
    categories = list(zip(*(frame[k].tolist() for k in keys), strict=True)) if keys else [()] * len(frame)
    start: dict[tuple, float] = {}
    end: dict[tuple, float] = {}
    for category, year, value in zip(categories, frame["year"].tolist(), values, strict=True):
        if int(year) == first:
            start[category] = value
        elif int(year) == last:
            end[category] = value
    found = sorted(start.keys() | end.keys(), key=_category_order)
    begin = [start.get(c, float("nan")) for c in found]
    change = [end.get(c, float("nan")) - b for c, b in zip(found, begin, strict=True)]
    crossed = any(first < year <= last for year in breaks)
    out = pd.DataFrame({k: pd.Series([c[n] for c in found], dtype=frame[k].dtype) for n, k in enumerate(keys)})
    out["change"] = pd.Series(change, dtype="float64")
    out["change_pct"] = share(out["change"], pd.Series(begin, dtype="float64"))
    out["change_flags"] = "b" if crossed else ""
    return out

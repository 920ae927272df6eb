"""Relative measures, changes between years and Eurostat-style tables, computed on the data layer's cells.

Pure: frames in, frames out, nothing read from disk or DuckDB. A measure of a withheld or missing figure is itself
missing, so in public mode a ratio or change is only ever made of released figures.

Eurostat conventions: ":" for no figure, with a flag saying why in its own column ("m" nobody reported, "c"
withheld); every category listed in its reference order; a total row first; "b" on a change that spans a break
in series.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
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


def missing_flags(value: pd.Series, n_reporting: pd.Series) -> pd.Series:
    """Why a cell has no figure: "m" nobody in it reported, "c" withheld (members reported, no figure shown)."""
    missing = value.isna()
    return pd.Series(np.where(missing & (n_reporting > 0), "c", np.where(missing, "m", "")), index=value.index)


def join_flags(*flags: pd.Series | str) -> pd.Series:
    """Flag codes combined per row, each once, space separated, in the order given."""
    series = [f for f in flags if isinstance(f, pd.Series)]
    index = series[0].index if series else pd.RangeIndex(0)
    columns = [f if isinstance(f, pd.Series) else pd.Series(f, index=index) for f in flags]
    out = []
    for codes in zip(*columns, strict=True):
        seen: list[str] = []
        for text in codes:
            for code in str(text or "").split():
                if code not in seen:
                    seen.append(code)
        out.append(" ".join(seen))
    return pd.Series(out, index=index, dtype="object")


def parse_change(text: str, years: Sequence[int]) -> tuple[int, int] | None:
    """`"2022-2024"` -> (2022, 2024) when both are survey years and the first is earlier; else None."""
    first, sep, last = str(text).partition("-")
    if not sep or not (first.isascii() and first.isdigit() and last.isascii() and last.isdigit()):
        return None
    if len(first) > 4 or len(last) > 4:
        return None
    pair = (int(first), int(last))
    return pair if pair[0] < pair[1] and pair[0] in years and pair[1] in years else None


def change_between(
    frame: pd.DataFrame, others: Sequence[str], first: int, last: int, breaks: Sequence[int]
) -> pd.DataFrame:
    """Per category of `others` (a frame with a `year` column as text and `value`): the absolute and relative
    change from `first` to `last`, and "b" when a break in series falls in (first, last]."""
    values = frame.assign(_year=frame["year"].astype(int))
    keys = list(others)
    start = values[values["_year"] == first][[*keys, "value"]].rename(columns={"value": "_first"})
    end = values[values["_year"] == last][[*keys, "value"]].rename(columns={"value": "_last"})
    out = start.merge(end, on=keys, how="outer") if keys else pd.concat(
        [start.reset_index(drop=True), end.reset_index(drop=True)], axis=1)
    out["change"] = out["_last"].astype("float64") - out["_first"].astype("float64")
    out["change_pct"] = share(out["change"], out["_first"])
    crossed = any(first < year <= last for year in breaks)
    out["change_flags"] = "b" if crossed else ""
    return out.drop(columns=["_first", "_last"])

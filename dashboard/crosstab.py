"""Explore's cells with their measure and flags: the tidy rows of the data URL (one or two breakdowns), the
category × year cross-table of the table view and its exports, and the series of the lines view.

Numbers come from the data layer (`data.cells_with_total`), arithmetic from `dashboard.measures`; this module only
puts them together, so the page, its exports and the data URL all show the same cells.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from dashboard import data, measures
from dashboard.data import Filters, Vintage
from dashboard.export_registry import ExportContext, definitions, flag_codes
from dashboard.exports import Column, ColumnKind, ExportTable
from dashboard.figures import BY_WORDS
from dashboard.formatting import year_span
from dashboard.state import BREAKDOWN_LABELS

CHANGE_COLUMNS = ("change", "change_pct", "change_flags")


@dataclass(frozen=True)
class CellQuery:
    """One indicator by one or two breakdowns over a year range, with a measure and an optional change pair."""

    indicator: str
    by: tuple[str, ...]
    year_from: int
    year_to: int
    filters: Filters = data.NO_FILTERS
    measure: str = "total"
    change: tuple[int, int] | None = None


def breaks(vintage: Vintage, indicator: str) -> tuple[int, ...]:
    """The survey years whose question for `indicator` changed (a break in series)."""
    return tuple(y for y in data.dimensions(vintage).years if data.break_in_series(vintage, indicator, y))


def _flags(vintage: Vintage, q: CellQuery, frame: pd.DataFrame, by: tuple[str, ...]) -> list[str]:
    """s synthetic, n not published, b break in series, m nobody reported, c withheld."""
    synthetic = data.is_synthetic(vintage)
    years_broken = set(breaks(vintage, q.indicator))
    if "year" in by:
        years = frame["year"].astype(int)
        broken = years.isin(years_broken)
    else:
        broken = pd.Series(any(q.year_from <= y <= q.year_to for y in years_broken), index=frame.index)
    # The Commission publishes unfiltered EU totals by year only: nothing else has a published counterpart.
    published = pd.Series(False, index=frame.index)
    if q.filters.is_empty and "year" in by and len(by) <= 2:
        summed = data.total_dimension(by)
        is_total = frame[summed] == data.total_row(summed)[0] if summed else True
        in_print = frame["year"].map(lambda y: data.published_figure(vintage, q.indicator, int(y), int(y)) is not None)
        published = is_total & in_print
    missing = frame["figure"].isna()
    reported = frame["n_reporting"].gt(0)
    return [flag_codes(synthetic=synthetic, not_published=not p, break_in_series=b, missing=m and not r,
                       withheld=m and r)
            for p, b, m, r in zip(published, broken, missing, reported, strict=True)]


def _totals_for(frame: pd.DataFrame, by: tuple[str, ...], sum_over_years: bool) -> pd.Series:
    """Per row, the figure it is a share of: its total row (same other keys), or for years alone the range."""
    summed = data.total_dimension(by)
    if summed is None:
        whole = frame["value"].sum(min_count=1) if sum_over_years else float("nan")
        return pd.Series(whole, index=frame.index, dtype="float64")
    code = data.total_row(summed)[0]
    others = [b for b in by if b != summed]
    total_rows = frame[frame[summed] == code]
    if not others:
        return pd.Series(total_rows["value"].iloc[0] if len(total_rows) else float("nan"), index=frame.index)
    lookup = total_rows.set_index(others)["value"]
    keys = pd.MultiIndex.from_frame(frame[others]) if len(others) > 1 else frame[others[0]]
    return pd.Series(lookup.reindex(keys).to_numpy(dtype="float64"), index=frame.index)


@data.cached
def measured(vintage: Vintage, q: CellQuery) -> pd.DataFrame:
    """The cells of `q` with their total row first: codes and labels, `figure` (the indicator's own value),
    `value` (the measure of it), coverage counts and flags."""
    meta = data.indicator_meta(vintage, q.indicator)
    by = q.by
    fetch_by, fetch_from = by, q.year_from
    if q.measure == "change":
        # A change needs the previous survey year, and a breakdown without years its year_to against the one before.
        years = data.dimensions(vintage).years
        fetch_from = max((y for y in years if y < q.year_from), default=q.year_from)
        if "year" not in by:
            fetch_by = (*by, "year")
    frame = data.cells_with_total(vintage, q.indicator, fetch_by, fetch_from, q.year_to, q.filters)
    frame = frame.assign(figure=frame["value"])
    frame["value"] = measures.apply_measure(frame, q.measure, fetch_by,
                                            lambda f: _totals_for(f, fetch_by, meta.sum_over_years))
    frame["flags"] = _flags(vintage, q, frame, fetch_by)
    if q.measure == "change":
        years_kept = frame["year"].astype(int)
        frame = frame[years_kept == q.year_to if "year" not in by else years_kept >= q.year_from]
        if "year" not in by:
            frame = frame.drop(columns=["year", "year_label"])
        frame = frame.reset_index(drop=True)
    if q.change is not None:
        frame = _with_change(vintage, q, frame, q.change)
    return frame


def _with_change(vintage: Vintage, q: CellQuery, frame: pd.DataFrame, years: tuple[int, int]) -> pd.DataFrame:
    """The change of the indicator's own figure between the two chosen years, per category of the other breakdown."""
    first, last = years
    others = tuple(b for b in q.by if b != "year")
    by = (*others, "year")
    yearly = data.cells_with_total(vintage, q.indicator, by, first, last, q.filters)
    change = measures.change_between(yearly, others, first, last, breaks(vintage, q.indicator))
    return frame.merge(change, on=list(others), how="left") if others else frame.assign(
        **{c: change[c].iloc[0] for c in CHANGE_COLUMNS})


def per_year_columns(year_from: int, year_to: int, measure: str) -> bool:
    """Whether a cross table has a column per year: not for a range of one year, where it would repeat the range's
    figure, unless the measure is the change (the year's column holds the change, the range's the total)."""
    return year_from != year_to or measure == "change"


@data.cached
def cross_table(vintage: Vintage, q: CellQuery) -> pd.DataFrame:
    """One row per category of `q.by[0]` (total row first), one value and one flags column per year
    (`<year>`, `<year>_flags`; none without `per_year_columns`), then the range's figure (`value`, `n_reporting`)
    and the change columns."""
    by = q.by[0]
    yearly = measured(vintage, CellQuery(q.indicator, (by, "year"), q.year_from, q.year_to, q.filters, q.measure))
    order = list(dict.fromkeys(yearly[by]))
    out = _by_year(yearly, by, order)
    if not per_year_columns(q.year_from, q.year_to, q.measure):
        out = out[[f"{by}_label"]].copy()
    ranged = measured(vintage, CellQuery(q.indicator, (by,), q.year_from, q.year_to, q.filters,
                                         "total" if q.measure == "change" else q.measure, q.change))
    ranged = ranged.set_index(by).reindex(order)
    out["value"] = ranged["value"]
    out["n_reporting"] = ranged["n_reporting"]
    out["flags"] = ranged["flags"]
    if q.change is not None:
        for column in CHANGE_COLUMNS:
            out[column] = ranged[column]
    return out.reset_index().rename(columns={by: "key", f"{by}_label": "label"})


def _by_year(yearly: pd.DataFrame, by: str, order: list) -> pd.DataFrame:
    """Per category of `by` in `order` (the index): its label, then a value and a flags column per year, in year
    order (missing where the year has no cell for it). A few dozen cells: in plain Python, one frame at the end
    (pandas took ~4 ms a table on its per-call cost)."""

    def slot(key: object) -> object:  # every missing code is one category, as pandas' index matches NaN with NaN
        return key if isinstance(key, str) else None

    labels: dict[object, object] = {}
    cells: dict[tuple[str, object], tuple[object, object]] = {}  # (year, category) -> (value, flags)
    for key, label, year, value, flags in zip(yearly[by].tolist(), yearly[f"{by}_label"].tolist(),
                                              yearly["year"].tolist(), yearly["value"].tolist(),
                                              yearly["flags"].tolist(), strict=True):
        labels.setdefault(slot(key), label)
        cells[(year, slot(key))] = (value, flags)
    columns: dict[str, object] = {f"{by}_label": pd.array([labels[slot(key)] for key in order],
                                                          dtype=yearly[f"{by}_label"].dtype)}
    for year in sorted({year for year, _ in cells}):
        found = [cells.get((year, slot(key)), (None, None)) for key in order]
        columns[str(year)] = pd.array([value for value, _ in found], dtype=yearly["value"].dtype)
        columns[f"{year}_flags"] = pd.array([flags for _, flags in found], dtype=yearly["flags"].dtype)
    return pd.DataFrame(columns, index=pd.Index(order, dtype=yearly[by].dtype, name=by))


def series(vintage: Vintage, q: CellQuery) -> pd.DataFrame:
    """The lines view's rows: `q.by[0]` × year, measured, total row included (key, label, year, value, flags)."""
    by = q.by[0]
    if by == "year":
        frame = measured(vintage, CellQuery(q.indicator, ("year",), q.year_from, q.year_to, q.filters, q.measure))
        code, label = data.total_row(None)
        frame = frame.assign(key=code, label=label)
    else:
        frame = measured(vintage, CellQuery(q.indicator, (by, "year"), q.year_from, q.year_to, q.filters, q.measure))
        frame = frame.rename(columns={by: "key", f"{by}_label": "label"})
    return frame[["key", "label", "year", "value", "figure", "n_reporting", "n_respondents", "flags"]]


def tidy_table(vintage: Vintage, q: CellQuery, ctx: ExportContext) -> ExportTable:
    """The data URL's rows: one per cell of one or two breakdowns (total rows first), tidy, with the measure,
    the indicator's own figure, coverage and flags, and the change columns when asked."""
    meta = data.indicator_meta(vintage, q.indicator)
    chosen = measures.MEASURES[q.measure]
    frame = measured(vintage, q)
    unit = chosen.unit or meta.unit
    value_kind: ColumnKind = "euro" if unit == "EUR" else "decimal" if unit == "share" or q.measure == "per_member" else (
        "integer" if meta.scale == 1 else "decimal")
    columns: list[Column] = []
    for b in q.by:
        if b == "year":
            frame = frame.assign(year=frame["year"].astype("int64"))
            columns.append(Column("year", "Year", "integer"))
        else:
            columns += [Column(b, f"{BREAKDOWN_LABELS[b]} code"), Column(f"{b}_label", BREAKDOWN_LABELS[b])]
    columns.append(Column("value", f"{chosen.title(meta.label)} ({unit})", value_kind, missing=measures.NO_FIGURE))
    if q.measure != "total":
        columns.append(Column("figure", f"{meta.label} ({meta.unit})", "euro" if meta.unit == "EUR" else
                              "integer" if meta.scale == 1 else "decimal", missing=measures.NO_FIGURE))
    columns += [Column("flags", "Flags"), Column("n_reporting", "Members reporting", "integer"),
                Column("n_respondents", "Survey respondents", "integer")]
    if q.change is not None:
        first, last = q.change
        columns += [Column("change", f"Change {first}-{last} ({meta.unit})", "euro" if meta.unit == "EUR" else
                           "decimal", missing=measures.NO_FIGURE),
                    Column("change_pct", f"Change {first}-{last} (share)", "decimal", missing=measures.NO_FIGURE),
                    Column("change_flags", f"Change {first}-{last} flags")]
    by_words = " and ".join(BY_WORDS[b] for b in q.by)
    table_meta = ctx.meta(
        f"{chosen.title(meta.label)} by {by_words}, {year_span(q.year_from, q.year_to)}", frame=frame,
        indicator=q.indicator, breakdown="-".join(q.by), years=(q.year_from, q.year_to),
        definitions=definitions(vintage, [q.indicator]),
        notes=(f"“{measures.NO_FIGURE}” (CSV, XLSX) or null (Parquet, JSON) marks a cell with no figure; its flags say "
               "why (m: no member in it reported, c: withheld).",
               "Total rows count every member of the selection once."),
        subtitle=meta.definition,
    )
    return ExportTable(frame, tuple(columns), table_meta)

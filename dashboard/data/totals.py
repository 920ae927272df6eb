"""Totals by year, breakdowns by one dimension and the headline cards."""

from __future__ import annotations

from dataclasses import dataclass, fields

import numpy as np
import pandas as pd

from dashboard import disclosure
from dashboard.data import aggregates
from dashboard.data.catalogue import IndicatorMeta, dimensions, indicator_catalogue, indicator_meta
from dashboard.data.core import BREAKDOWNS, Vintage, _cached, _query, has_aggregates
from dashboard.data.filters import (
    _BREAKDOWN_SQL,
    _PARTNERSHIP_BREAKDOWN_SQL,
    _YEARLY_ALL_SQL,
    _YEARLY_ALL_UNFILTERED_SQL,
    _YEARLY_SQL,
    NO_FILTERS,
    Coverage,
    Filters,
    Flags,
    _flags,
    figure_flags,
)
from dashboard.data.public import _eu_total_shown, _withhold_breakdown, _withhold_yearly
from pipelines import indicators

# --------------------------------------------------------------------------------------------------------------
# Totals by year, breakdowns, KPIs
# --------------------------------------------------------------------------------------------------------------


@_cached
def _yearly_all(vintage: Vintage, filters: Filters) -> pd.DataFrame:
    """_YEARLY_SQL's rows for every indicator of the catalogue (column `indicator`), from one grouped query."""
    if aggregates.serves(vintage, (), filters):
        return _query(vintage, aggregates.YEARLY_ALL_SQL, filters.params())
    if filters.is_empty:
        return _query(vintage, _YEARLY_ALL_UNFILTERED_SQL)
    return _query(vintage, _YEARLY_ALL_SQL, filters.params())


@_cached
def _yearly_frame(vintage: Vintage, indicator: str, filters: Filters) -> pd.DataFrame:
    if filters.is_empty:
        unfiltered = _unfiltered_yearly(vintage)
        if indicator in unfiltered:
            return unfiltered[indicator].copy()  # the shared frame itself is never handed out
    return _computed_yearly_frame(vintage, indicator, filters)


@_cached
def _unfiltered_yearly(vintage: Vintage) -> dict[str, pd.DataFrame]:
    """Every indicator's yearly frame over the whole snapshot. It depends on the snapshot alone, so a worker computes
    it once (at boot: the Progress page's default view reads it) and every page's question without filters, the
    first view of each, reads it. Only `_yearly_frame` reads it, and copies what it takes."""
    return {meta.indicator: _computed_yearly_frame(vintage, meta.indicator, NO_FILTERS)
            for meta in indicator_catalogue(vintage)}


def _computed_yearly_frame(vintage: Vintage, indicator: str, filters: Filters) -> pd.DataFrame:
    """The frame is built once from arrays: a handful of rows, where each pandas operation (a mask, an astype, a
    column set) cost more than the rows, 6 ms of a first-time Explore view's status line at 100x."""
    meta = indicator_meta(vintage, indicator)
    every = _yearly_all(vintage, filters)
    at = np.flatnonzero(every["indicator"].to_numpy(dtype=object) == indicator)
    if len(at):
        found = every.take(at)
        raw = found["raw_value"].reset_index(drop=True)
        # DuckDB hands a BIGINT column over as int64, or as Int64 when it holds a NULL: keep the dtype the
        # indicator's own query gave, so every result stays exactly what it was.
        if not raw.isna().any():
            raw = raw.astype("int64")
    else:
        found = _query(vintage, _YEARLY_SQL, {"indicator": indicator, **filters.params()})
        raw = found["raw_value"]
    counts = {column: found[column].to_numpy().astype("int64")
              for column in ("year", "n_reporting", "n_respondents", "n_registered")}
    value = raw.astype("Float64").to_numpy(dtype="float64", na_value=float("nan")) / meta.scale
    value[counts["n_reporting"] == 0] = float("nan")
    frame = pd.DataFrame({"year": counts["year"], "value": value, "raw_value": raw,
                          "n_reporting": counts["n_reporting"], "n_respondents": counts["n_respondents"],
                          "n_registered": counts["n_registered"]})
    if disclosure.public_mode():
        frame = _withhold_yearly(vintage, indicator, filters, frame)
    return frame


# The flags of each yearly figure, as columns of yearly_totals.
_FLAG_COLUMNS = tuple(field.name for field in fields(Flags))


@dataclass(frozen=True)
class YearFigure:
    year: int
    value: float | None
    coverage: Coverage
    flags: Flags


@_cached
def yearly_totals(vintage: Vintage, indicator: str, filters: Filters = NO_FILTERS) -> pd.DataFrame:
    """One row per survey wave: value (in the indicator's unit), coverage counts and flags."""
    frame = _yearly_frame(vintage, indicator, filters)
    flags = [_flags(vintage, indicator, int(year), None if pd.isna(value) else float(value), filters)
             for year, value in zip(frame["year"].tolist(), frame["value"].tolist(), strict=True)]
    columns = {name: [getattr(f, name) for f in flags] for name in _FLAG_COLUMNS}
    return pd.concat([frame, pd.DataFrame(columns, index=frame.index)], axis=1)


def year_figure(vintage: Vintage, indicator: str, year: int, filters: Filters = NO_FILTERS) -> YearFigure:
    frame = _yearly_frame(vintage, indicator, filters)
    rows = frame[frame["year"] == year]
    if rows.empty:
        coverage = Coverage(0, 0, 0)
        value = None
    else:
        row = rows.iloc[0]
        value = None if pd.isna(row["value"]) else float(row["value"])
        coverage = Coverage(int(row["n_reporting"]), int(row["n_respondents"]), int(row["n_registered"]))
    return YearFigure(year, value, coverage, _flags(vintage, indicator, year, value, filters))


def breakdown(
    vintage: Vintage,
    indicator: str,
    by: str,
    year_from: int,
    year_to: int,
    filters: Filters = NO_FILTERS,
) -> pd.DataFrame:
    """`indicator` summed over the years in range, by one dimension: key, label, value, n_reporting.

    Partnership rows overlap (a member in two partnerships counts in both): never add them up.
    An indicator that may not be summed over years (a stock) uses the last year of the range only.
    """
    return _breakdown(vintage, indicator, by, int(year_from), int(year_to), filters)


def effective_years(meta: IndicatorMeta, by: str, year_from: int, year_to: int) -> tuple[int, int]:
    if by != "year" and not meta.sum_over_years:
        return year_to, year_to
    return year_from, year_to


@_cached
def _breakdown(
    vintage: Vintage, indicator: str, by: str, year_from: int, year_to: int, filters: Filters
) -> pd.DataFrame:
    if by not in BREAKDOWNS:
        raise ValueError(f"unknown breakdown {by!r}")
    meta = indicator_meta(vintage, indicator)
    year_from, year_to = effective_years(meta, by, year_from, year_to)
    params = {"indicator": indicator, "year_from": year_from, "year_to": year_to, **filters.params()}
    if aggregates.serves(vintage, (by,), filters):
        frame = _query(vintage, aggregates.breakdown_sql(by), params)
    elif by == "partnership":
        frame = _query(vintage, _PARTNERSHIP_BREAKDOWN_SQL, params)
    else:
        frame = _query(vintage, _BREAKDOWN_SQL, {**params, "by": by})
    dims = dimensions(vintage)
    frame["key"] = frame["key"].astype("str")
    frame["label"] = [dims.label(by, key) for key in frame["key"]]
    frame["value"] = (frame["raw_value"].astype("float64") / meta.scale).astype("float64")
    frame["n_reporting"] = frame["n_reporting"].astype("int64")
    if disclosure.public_mode():
        frame = _withhold_breakdown(vintage, indicator, by, year_from, year_to, filters, frame)
    frame = frame.sort_values("key") if by == "year" else frame.sort_values(["value", "label"], ascending=[False, True])
    return frame[["key", "label", "value", "raw_value", "n_reporting"]].reset_index(drop=True)


@dataclass(frozen=True)
class Kpi:
    key: str
    label: str
    unit: str
    year: int
    value: float | None
    previous_year: int | None
    previous: float | None
    coverage: Coverage
    flags: Flags

    @property
    def change(self) -> float | None:
        """Relative change on the previous year (0.1 = +10 %), when both years have a value."""
        if self.value is None or self.previous in (None, 0):
            return None
        return self.value / self.previous - 1.0


KPI_INDICATORS = indicators.headline_order()  # the headline cards, in the catalogue's order


# Per wave: the respondents and the members registered by the end of the activity year.
_RESPONDENTS_SQL = """
        WITH waves AS (
            SELECT DISTINCT wave AS year
            FROM hot_accepted
        ),
        respondents AS (
            SELECT
                wave AS year,
                count(DISTINCT mi) AS n_respondents
            FROM hot_accepted
            GROUP BY wave
        ),
        registered AS (
            SELECT
                w.year,
                count(m.mi) AS n_registered
            FROM waves AS w
            LEFT JOIN hot_members AS m
                ON m.joined_year <= w.year
            GROUP BY w.year
        )
        SELECT
            w.year,
            coalesce(r.n_respondents, 0) AS n_respondents,
            coalesce(g.n_registered, 0) AS n_registered
        FROM waves AS w
        LEFT JOIN respondents AS r USING (year)
        LEFT JOIN registered AS g USING (year)
        ORDER BY w.year
        """


@_cached
def _respondents_frame(vintage: Vintage) -> pd.DataFrame:
    if has_aggregates(vintage):
        frame = _query(vintage, aggregates.RESPONDENTS_SQL, NO_FILTERS.params())
    else:
        frame = _query(vintage, _RESPONDENTS_SQL)
    return frame.astype({"year": "int64", "n_respondents": "int64", "n_registered": "int64"})


def response_rates(vintage: Vintage) -> pd.DataFrame:
    """Per wave: respondents, members registered by the end of the activity year, and the response rate."""
    frame = _respondents_frame(vintage)
    frame["response_rate"] = [
        (r / n) if n else float("nan") for r, n in zip(frame["n_respondents"], frame["n_registered"], strict=True)
    ]
    return frame


# Per wave: the commitments reported and progressing, and the members reporting some. A fact is one member's value
# of one indicator in one year, so the sums and counts are taken over the facts, with no grouping per member (at 100x
# the sample 27 -> 14 ms); public mode withholds a wave where either EU total would be (`_eu_total_shown`).
_COMMITMENTS_SQL = """
SELECT
    f.year,
    CAST(coalesce(sum(f.value) FILTER (WHERE i.indicator = 'commitments_reported'), 0) AS BIGINT) AS reported,
    CAST(coalesce(sum(f.value) FILTER (WHERE i.indicator = 'commitments_progressing'), 0) AS BIGINT) AS progressing,
    count(*) FILTER (WHERE i.indicator = 'commitments_reported' AND f.value > 0) AS n_reporting
FROM hot_facts AS f
JOIN hot_indicators AS i USING (ic)
WHERE i.indicator IN ('commitments_reported', 'commitments_progressing')
GROUP BY f.year
ORDER BY f.year
"""


@_cached
def _commitments_frame(vintage: Vintage) -> pd.DataFrame:
    frame = _query(vintage, _COMMITMENTS_SQL).astype(
        {"year": "int64", "reported": "int64", "progressing": "int64", "n_reporting": "int64"})
    if disclosure.public_mode():
        frame = frame.astype({"reported": "Int64", "progressing": "Int64"})
        years = frame["year"].tolist()
        shown = (_eu_total_shown(vintage, "commitments_reported", years)
                 & _eu_total_shown(vintage, "commitments_progressing", years))
        frame.loc[~shown, ["reported", "progressing"]] = pd.NA
    return frame


def commitments_progress(vintage: Vintage) -> pd.DataFrame:
    """Per wave: commitments reported, progressing, and the share progressing."""
    frame = _commitments_frame(vintage)
    frame["share"] = [float(p / r) if not pd.isna(r) and r else float("nan")
                      for p, r in zip(frame["progressing"], frame["reported"], strict=True)]
    return frame


def _value_at(frame: pd.DataFrame, year: int | None, column: str) -> float | None:
    if year is None:
        return None
    rows = frame[frame["year"] == year]
    if rows.empty:
        return None
    value = rows.iloc[0][column]
    return None if pd.isna(value) else float(value)


@_cached
def kpis(vintage: Vintage, year: int) -> tuple[Kpi, ...]:
    """The Progress page's headline cards for `year`, each with the previous wave's value, coverage and flags."""
    years = dimensions(vintage).years
    previous_year = max((y for y in years if y < year), default=None)
    result: list[Kpi] = []
    for indicator in KPI_INDICATORS:
        meta = indicator_meta(vintage, indicator)
        current = year_figure(vintage, indicator, year)
        previous = year_figure(vintage, indicator, previous_year).value if previous_year else None
        result.append(Kpi(indicator, meta.label, meta.unit, year, current.value, previous_year, previous,
                          current.coverage, current.flags))
    rates = _respondents_frame(vintage)
    respondents = _value_at(rates, year, "n_respondents")
    registered = int(_value_at(rates, year, "n_registered") or 0)
    result.append(Kpi(
        "respondents", "Survey respondents", "members", year, respondents, previous_year,
        _value_at(rates, previous_year, "n_respondents"),
        Coverage(int(respondents or 0), int(respondents or 0), registered),
        figure_flags(vintage, "respondents", year, respondents),
    ))
    progress = commitments_progress(vintage)
    share = _value_at(progress, year, "share")
    reporting = int(_value_at(progress, year, "n_reporting") or 0)
    result.append(Kpi(
        "commitments_progressing_share", "Commitments progressing", "share", year, share, previous_year,
        _value_at(progress, previous_year, "share"),
        Coverage(reporting, int(respondents or 0), registered),
        figure_flags(vintage, "commitments_progressing_share", year, share),
    ))
    return tuple(result)

"""Cells of one indicator by one or two dimensions (any of year, ecosystem, Member State, partnership, member type):
the Explore lines and cross-table, the map's single year and the data URL's two breakdowns.

Every category the data can hold is listed, in its reference order (Member States in protocol order), even when
no member in it reported (partnerships: those with a respondent in the selection): such a cell has no value and `n_reporting` 0, which tables show as ":". Each cell also
carries its coverage: the respondents in it, so "reported by n of N" can be said of every cell.
"""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd

from dashboard import disclosure
from dashboard.data import aggregates
from dashboard.data.catalogue import Dimensions, dimensions, indicator_meta
from dashboard.data.core import BREAKDOWNS, TOTAL, Vintage, _cached, _query
from dashboard.data.filters import _CELLS_SELECT, _SCOPE_CTES, NO_FILTERS, Filters
from dashboard.data.public import _withhold, cells_shown
from dashboard.data.totals import effective_years

# Eurostat's code of the EU-27 aggregate for the Member State breakdown's total row; other breakdowns say TOTAL.
_TOTAL_ROWS = {"member_state": ("EU27_2020", "EU-27 (total)")}
_DEFAULT_TOTAL_ROW = ("TOTAL", "Total (each member once)")


def total_row(by: str | None) -> tuple[str, str]:
    """The code and label of the total row over breakdown `by` (None: over years alone)."""
    return _TOTAL_ROWS.get(by, _DEFAULT_TOTAL_ROW) if by else _DEFAULT_TOTAL_ROW

# The key of each dimension in a row of `scoped_facts` (or of the respondents in scope), aliased `sf`, and `ms`
# for the partnership the member had joined by that year. Only these constant fragments ever reach the SQL text.
_KEY_SQL = {
    "year": "CAST(sf.year AS VARCHAR)",
    "ecosystem": "sf.primary_ecosystem_id",
    "member_state": "sf.country_code",
    "member_type": "sf.member_type",
    "partnership": "ms.partnership_id",
    TOTAL: f"'{TOTAL}'",
}
_PARTNERSHIP_JOIN = """
JOIN hot_memberships AS ms
    ON ms.mi = sf.mi
   AND ms.joined_year <= sf.year
   AND (len($partnerships::VARCHAR[]) = 0 OR list_contains($partnerships::VARCHAR[], ms.partnership_id))"""

_FILTER_OF = {"ecosystem": "ecosystems", "member_state": "countries", "partnership": "partnerships",
              "member_type": "member_types"}


def _cells_sql(by: tuple[str, ...]) -> str:
    keys = ",\n        ".join(f"{_KEY_SQL[b]} AS k{n}" for n, b in enumerate(by))
    join = _PARTNERSHIP_JOIN if "partnership" in by else ""
    using = ", ".join(f"k{n}" for n in range(len(by)))
    return _SCOPE_CTES + f""",
reported AS (
    SELECT
        {keys},
        CAST(sum(sf.value) AS BIGINT) AS raw_value,
        count(DISTINCT sf.mi) AS n_reporting
    FROM scoped_facts AS sf{join}
    WHERE sf.year BETWEEN $year_from AND $year_to
    GROUP BY ALL
),
answered AS (
    SELECT
        a.wave AS year,
        a.mi,
        s.primary_ecosystem_id,
        s.country_code,
        s.member_type
    FROM hot_accepted AS a
    JOIN in_scope AS s USING (mi)
    WHERE (s.from_year IS NULL OR a.wave >= s.from_year)
      AND a.wave BETWEEN $year_from AND $year_to
),
respondents AS (
    SELECT
        {keys},
        count(DISTINCT sf.mi) AS n_respondents
    FROM answered AS sf{join}
    GROUP BY ALL
)
""" + _CELLS_SELECT.format(using=using)  # noqa: S608 -- the keys come from the constant _KEY_SQL; every value is a bound parameter


def categories(dims: Dimensions, by: str, year_from: int, year_to: int, filters: Filters = NO_FILTERS) -> tuple[str, ...]:
    """Every code of one dimension in its reference order (years in range; Member States in protocol order);
    a filter on the same dimension keeps its codes only."""
    if by == "year":
        return tuple(str(y) for y in dims.years if year_from <= y <= year_to)
    if by == TOTAL:
        return (TOTAL,)
    codes = {
        "ecosystem": [c for c, _ in dims.ecosystems],
        "member_state": [c for c, _ in dims.member_states],
        "partnership": [c for c, _ in dims.partnerships],
        "member_type": list(dims.member_types),
    }[by]
    chosen = getattr(filters, _FILTER_OF[by])
    return tuple(c for c in codes if c in chosen) if chosen else tuple(codes)


def _checked(by: tuple[str, ...]) -> tuple[str, ...]:
    by = tuple(by)
    # Up to three: the data URL's two breakdowns and the year of a change between two years.
    if not 1 <= len(by) <= 3 or len(set(by)) != len(by) or any(b not in BREAKDOWNS for b in by):
        raise ValueError(f"one to three different breakdowns of {BREAKDOWNS}, not {by!r}")
    return by


def total_dimension(by: tuple[str, ...]) -> str | None:
    """The dimension a total row sums over: the first one that is not the year (None for years alone)."""
    return next((b for b in by if b != "year"), None)


def cells_with_total(
    vintage: Vintage,
    indicator: str,
    by: tuple[str, ...],
    year_from: int,
    year_to: int,
    filters: Filters = NO_FILTERS,
) -> pd.DataFrame:
    """`indicator` by one to three dimensions: one row per combination of their categories, in reference order,
    after the total rows of the first non-year dimension (the EU-27 for Member States), which count every member of
    the selection once (so a total of partnerships is not the sum of its rows).

    Columns: each dimension's code (named after it) and label (`<dimension>_label`), `value` (the indicator's
    unit; missing when no member reported, or withheld in public mode), `raw_value`, `n_reporting`,
    `n_respondents`. Without `year` among the dimensions the years in range are summed (a stock: its last year).
    """
    by = _checked(by)
    frame = _cells(vintage, indicator, by, int(year_from), int(year_to), filters)
    summed = total_dimension(by)
    if summed is None:
        return frame
    total_by = tuple(TOTAL if b == summed else b for b in by)
    total = _cells(vintage, indicator, total_by, int(year_from), int(year_to), filters, summed)
    code, label = total_row(summed)
    total = total.rename(columns={TOTAL: summed, f"{TOTAL}_label": f"{summed}_label"})
    total[summed] = code
    total[f"{summed}_label"] = label
    return pd.concat([total[frame.columns], frame], ignore_index=True)


def _from_bundle(
    vintage: Vintage, indicator: str, by: tuple[str, ...], years: tuple[int, int], filters: Filters, over: str | None
) -> dict[tuple, aggregates.Cell] | None:
    """The cells of `by` from the bundle of its dimension (or of `over`, the dimension a total row sums over), when
    one answers them."""
    dimension = over or next((b for b in by if b not in ("year", TOTAL)), None)
    if (dimension not in aggregates.BUNDLED or [b for b in by if b != "year"] not in ([dimension], [TOTAL])
            or not aggregates.bundles(vintage, filters)):
        return None
    whole_range = effective_years(indicator_meta(vintage, indicator), dimension, *years)
    found = aggregates.bundle(vintage, indicator, dimension, years, whole_range, filters)
    return aggregates.bundled_cells(found, by)


@_cached
def _cells(
    vintage: Vintage,
    indicator: str,
    by: tuple[str, ...],
    year_from: int,
    year_to: int,
    filters: Filters,
    over: str | None = None,
) -> pd.DataFrame:
    meta = indicator_meta(vintage, indicator)
    measured = _from_bundle(vintage, indicator, by, (year_from, year_to), filters, over)
    if "year" not in by:
        # A stock is never summed over years: the last year of the range stands for it.
        year_from, year_to = effective_years(meta, "", year_from, year_to)
    if measured is None:
        params = {"indicator": indicator, "year_from": year_from, "year_to": year_to, **filters.params()}
        sql = aggregates.cells_sql(by) if aggregates.serves(vintage, by, filters) else _cells_sql(by)
        measured = aggregates.cells_by_code(_query(vintage, sql, params), len(by))
    # A few hundred cells at most: laid on their grid in plain Python, then one frame (pandas' per-operation cost
    # was most of a first-time Explore view's time).
    dims = dimensions(vintage)
    listed = list(itertools.product(*(categories(dims, b, year_from, year_to, filters) for b in by)))
    # Codes the reference tables lack (none in a valid snapshot) still show, after the listed ones.
    known = set(listed)
    keys = listed + [key for key in measured if key not in known]
    if "partnership" in by:
        # Partnerships are many and a selection reaches few: list those with a respondent in scope.
        at = by.index("partnership")
        reached = {key[at] for key, (_, _, respondents) in measured.items() if respondents > 0}
        keys = [key for key in keys if key[at] in reached]
    cells = [measured.get(key, (None, 0, 0)) for key in keys]
    raw = [value if reporting > 0 else None for value, reporting, _ in cells]
    frame = pd.DataFrame({
        **{b: pd.array([key[n] for key in keys], dtype="str") for n, b in enumerate(by)},
        **{f"{b}_label": pd.array([dims.label(b, key[n]) for key in keys], dtype="str") for n, b in enumerate(by)},
        "value": np.array([np.nan if r is None else r for r in raw], dtype="float64") / meta.scale,
        "raw_value": pd.array(raw, dtype="Float64"),
        "n_reporting": np.array([c[1] for c in cells], dtype="int64"),
        "n_respondents": np.array([c[2] for c in cells], dtype="int64"),
    })
    if disclosure.public_mode():
        keys = list(frame[list(by)].itertuples(index=False, name=None))
        frame = _withhold(frame, cells_shown(vintage, indicator, filters, by, keys, year_from, year_to))
    return frame

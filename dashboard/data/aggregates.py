"""Figures answered from a snapshot's aggregates (dashboard/data/tables.py) rather than from its facts: the same
frames as the SQL over the facts (dashboard/data/filters.py, series.py), from tables a fraction of their size, so a
question asked for the first time is answered as fast as a cached one.

A question reads one segment of the aggregates: its one selected partnership's, or '' (every member) without one;
broken down by partnership, each partnership's. A selection of two or more partnerships counts each member of their
union once, which no segment holds: `serves` says no, and the caller asks the facts.
"""

from __future__ import annotations

import pandas as pd

from dashboard.data.core import TOTAL, Vintage, _cached, _query, has_aggregates
from dashboard.data.filters import _CELLS_SELECT, _YEARLY_ALL_SELECT, Filters
from dashboard.data.tables import YEAR_BIT


def serves(vintage: Vintage, by: tuple[str, ...], filters: Filters) -> bool:
    """Whether the aggregates answer a question broken down by `by` for this selection."""
    return ("partnership" in by or len(filters.partnerships) <= 1) and has_aggregates(vintage)


# The key of each dimension in an aggregate row `a` (and the year of a span `sp`). Constant fragments only.
_KEY_SQL = {
    "year": "CAST(sp.year AS VARCHAR)",
    "ecosystem": "a.primary_ecosystem_id",
    "member_state": "a.country_code",
    "member_type": "a.member_type",
    "partnership": "a.partnership_id",
    TOTAL: f"'{TOTAL}'",
}


def _in_selection(by_partnership: bool) -> str:
    """The aggregate rows `a` of the selection: its segment and its ecosystems, Member States and member types."""
    segment = (
        "a.partnership_id <> ''\n"
        "  AND (len($partnerships::VARCHAR[]) = 0 OR list_contains($partnerships::VARCHAR[], a.partnership_id))"
        if by_partnership
        else "a.partnership_id = coalesce(($partnerships::VARCHAR[])[1], '')"
    )
    return segment + """
  AND (len($ecosystems::VARCHAR[]) = 0 OR list_contains($ecosystems::VARCHAR[], a.primary_ecosystem_id))
  AND (len($countries::VARCHAR[]) = 0 OR list_contains($countries::VARCHAR[], a.country_code))
  AND (len($member_types::VARCHAR[]) = 0 OR list_contains($member_types::VARCHAR[], a.member_type))"""


def _spans(each_year: bool) -> str:
    """The spans of years a question counts members over: each year of the range, or the range as one span. A
    span's `bits` are its years' bits; a member counts in a span when the bits of its years meet them."""
    years = f"""
    SELECT
        year,
        {YEAR_BIT.format(year="year")} AS bits
    FROM (
        SELECT unnest(range(greatest($year_from, first_year), least($year_to, last_year) + 1)) AS year
        FROM agg_years
    )"""  # noqa: S608 -- constant SQL fragments only
    if each_year:
        return f"spans AS ({years}\n)"
    return f"""spans AS (
    SELECT
        NULL AS year,
        bit_or(bits) AS bits
    FROM ({years}
    )
)"""  # noqa: S608 -- constant SQL fragments only


def _values_and_reporting(columns: str, values_join: str, selection: str) -> str:
    """The aggregate rows `selection` picks, as parts to sum: their values (joined to the spans `sp` by
    `values_join`) and their reporting members (counted in each span their years meet), under `columns`."""
    return f"""
    SELECT
        {columns},
        a.raw_value,
        0 AS n
    FROM agg_values AS a
    {values_join}
    WHERE a.ic = (SELECT ic FROM indicator_code)
      AND {selection}
    UNION ALL
    SELECT
        {columns},
        NULL,
        a.n
    FROM agg_reporting AS a
    JOIN spans AS sp
        ON a.years & sp.bits <> 0
    WHERE a.ic = (SELECT ic FROM indicator_code)
      AND {selection}"""  # noqa: S608 -- constant SQL fragments only


def _reported_ctes(by: tuple[str, ...]) -> str:
    """CTEs down to `reported`: per cell (k0, k1, ...) the indicator's raw_value and n_reporting."""
    keys = ",\n        ".join(f"{_KEY_SQL[b]} AS k{n}" for n, b in enumerate(by))
    using = ", ".join(f"k{n}" for n in range(len(by)))
    selection = _in_selection("partnership" in by)
    in_span = "a.year = sp.year" if "year" in by else "a.year BETWEEN $year_from AND $year_to"
    parts = _values_and_reporting(keys, f"JOIN spans AS sp\n        ON {in_span}", selection)
    return f"""
WITH indicator_code AS (
    SELECT ic
    FROM hot_indicators
    WHERE indicator = $indicator
),
{_spans("year" in by)},
parts AS ({parts}
),
reported AS (
    SELECT
        {using},
        CAST(sum(raw_value) AS BIGINT) AS raw_value,
        CAST(sum(n) AS BIGINT) AS n_reporting
    FROM parts
    GROUP BY ALL
)"""  # noqa: S608 -- constant SQL fragments only; every value is a bound parameter


def breakdown_sql(by: str) -> str:
    """filters._BREAKDOWN_SQL and _PARTNERSHIP_BREAKDOWN_SQL from the aggregates: key, raw_value, n_reporting."""
    return _reported_ctes((by,)) + """
SELECT
    k0 AS key,
    raw_value,
    n_reporting
FROM reported
"""


def cells_sql(by: tuple[str, ...]) -> str:
    """series._cells_sql from the aggregates: k0, k1, ..., raw_value, n_reporting, n_respondents."""
    keys = ",\n        ".join(f"{_KEY_SQL[b]} AS k{n}" for n, b in enumerate(by))
    using = ", ".join(f"k{n}" for n in range(len(by)))
    return _reported_ctes(by) + f""",
respondents AS (
    SELECT
        {keys},
        CAST(sum(a.n) AS BIGINT) AS n_respondents
    FROM agg_respondents AS a
    JOIN spans AS sp
        ON a.years & sp.bits <> 0
    WHERE {_in_selection("partnership" in by)}
    GROUP BY ALL
)
""" + _CELLS_SELECT.format(using=using)  # noqa: S608 -- constant SQL fragments only; every value is a bound parameter


# The breakdowns whose cells, total row, years and range one query answers (`bundle`): what a cross-table or a
# lines view reads. A chart reads the range alone, which breakdown_sql answers at half the cost.
BUNDLED = ("ecosystem", "member_state", "member_type", "partnership")
RANGE_SPAN = 0  # a bundle's `span` for the whole range; a year's span is the year


def _summed_per_span(table: str, key: str, selection: str) -> str:
    """A FROM clause: the members counted in the rows of `table` that `selection` picks, summed per key and set of
    years (`r`), each sum joined to the spans its years meet (`sp`)."""
    return f"""(
        SELECT
            {key} AS key,
            a.years,
            sum(a.n) AS n
        FROM {table} AS a
        WHERE {selection}
        GROUP BY ALL
    ) AS r
    JOIN spans AS sp
        ON r.years & sp.bits <> 0"""  # noqa: S608 -- constant SQL fragments only


def _bundled_values(key: str, whole: int, selection: str) -> str:
    """The values and reporting members of the rows `selection` picks, under `key` (`whole` 1: the total row).

    The rows are summed per key first (per year, or per set of years), and only those sums are spread over the
    spans: some thousand rows become some hundred before the joins and the grouping sets."""
    picked = f"a.ic = (SELECT ic FROM indicator_code)\n          AND {selection}"  # noqa: S608 -- constant SQL fragments only
    return f"""
    SELECT
        v.key,
        {whole} AS whole,
        sp.span,
        v.raw_value,
        0 AS n
    FROM (
        SELECT
            {key} AS key,
            a.year,
            sum(a.raw_value) AS raw_value
        FROM agg_values AS a
        WHERE {picked}
        GROUP BY ALL
    ) AS v
    JOIN year_spans AS sp USING (year)
    UNION ALL
    SELECT
        r.key,
        {whole},
        sp.span,
        NULL,
        r.n
    FROM {_summed_per_span("agg_reporting", key, picked)}"""  # noqa: S608 -- constant SQL fragments only


def _bundled_respondents(key: str, whole: int, selection: str) -> str:
    return f"""
    SELECT
        r.key,
        {whole} AS whole,
        sp.span,
        r.n
    FROM {_summed_per_span("agg_respondents", key, selection)}"""  # noqa: S608 -- constant SQL fragments only


def _bundle_sql(dimension: str) -> str:
    """Per category of `dimension` and for all of them together (`key` TOTAL, `whole` 1), per year of the range and
    for the range as one span: raw_value, n_reporting, n_respondents. The range may be narrower than the years (a
    stock: its last year).

    The total counts each member of the selection once: for the attributes every member has one of, the rows of the
    categories grouped together (GROUPING SETS, one pass); for partnerships, whose rows overlap, the selection's own
    segment."""
    key = _KEY_SQL[dimension]
    if dimension == "partnership":
        values = (_bundled_values(key, 0, _in_selection(True)) + "\n    UNION ALL"
                  + _bundled_values(f"'{TOTAL}'", 1, _in_selection(False)))
        respondents = (_bundled_respondents(key, 0, _in_selection(True)) + "\n    UNION ALL"
                       + _bundled_respondents(f"'{TOTAL}'", 1, _in_selection(False)))
        grouped_key, grouped_whole, grouping = "key", "whole", "key, whole, span"
    else:
        values = _bundled_values(key, 0, _in_selection(False))
        respondents = _bundled_respondents(key, 0, _in_selection(False))
        grouped_key = f"CASE WHEN grouping(key) = 1 THEN '{TOTAL}' ELSE key END"
        grouped_whole, grouping = "grouping(key)", "GROUPING SETS ((key, span), (span))"
    return f"""
WITH indicator_code AS (
    SELECT ic
    FROM hot_indicators
    WHERE indicator = $indicator
),
span_years AS (
    SELECT
        unnest(range(greatest($year_from, first_year), least($year_to, last_year) + 1)) AS year,
        false AS whole
    FROM agg_years
    UNION ALL
    SELECT
        unnest(range(greatest($range_from, first_year), least($range_to, last_year) + 1)),
        true
    FROM agg_years
),
year_spans AS (
    SELECT
        year,
        CASE WHEN whole THEN {RANGE_SPAN} ELSE year END AS span
    FROM span_years
),
spans AS (
    SELECT
        span,
        bit_or({YEAR_BIT.format(year="year")}) AS bits
    FROM year_spans
    GROUP BY span
),
parts AS ({values}
),
reported AS (
    SELECT
        {grouped_key} AS key,
        {grouped_whole} AS whole,
        span,
        CAST(sum(raw_value) AS BIGINT) AS raw_value,
        CAST(sum(n) AS BIGINT) AS n_reporting
    FROM parts
    GROUP BY {grouping}
),
respondents AS (
    SELECT
        {grouped_key} AS key,
        {grouped_whole} AS whole,
        span,
        CAST(sum(n) AS BIGINT) AS n_respondents
    FROM ({respondents}
    )
    GROUP BY {grouping}
)
SELECT
    key,
    whole,
    span,
    reported.raw_value,
    coalesce(reported.n_reporting, 0) AS n_reporting,
    coalesce(respondents.n_respondents, 0) AS n_respondents
FROM respondents
FULL JOIN reported USING (key, whole, span)
"""  # noqa: S608 -- constant SQL fragments only; every value is a bound parameter


def bundles(vintage: Vintage, filters: Filters) -> bool:
    """Whether bundles answer this selection: a total row of a union of partnerships is in no segment."""
    return serves(vintage, (TOTAL,), filters)


@_cached
def bundle(
    vintage: Vintage,
    indicator: str,
    dimension: str,
    years: tuple[int, int],
    whole_range: tuple[int, int],
    filters: Filters,
) -> pd.DataFrame:
    """One query for the four tables a cross-table, a lines view or a chart of `dimension` reads: its cells and their
    total (`whole` 1, `key` TOTAL), for each of `years` (`span` the year) and over `whole_range` (`span` RANGE_SPAN)."""
    params = {"indicator": indicator, "year_from": years[0], "year_to": years[1], "range_from": whole_range[0],
              "range_to": whole_range[1], **filters.params()}
    return _query(vintage, _bundle_sql(dimension), params)


# A cell of a cells query: raw_value (None: no figure), n_reporting, n_respondents.
Cell = tuple[float | None, int, int]


def code(value: object) -> object:
    """A key as text (a year comes as its number); a missing key as a new NaN each time, as pandas' "str" has it, so
    that two missing keys stay two cells."""
    return value if isinstance(value, str) else float("nan") if pd.isna(value) else str(value)


def _cell(raw_value: object, n_reporting: object, n_respondents: object) -> Cell:
    return (None if pd.isna(raw_value) else float(raw_value),  # type: ignore[arg-type]
            0 if pd.isna(n_reporting) else int(n_reporting),  # type: ignore[call-overload]
            0 if pd.isna(n_respondents) else int(n_respondents))  # type: ignore[call-overload]


def cells_by_code(found: pd.DataFrame, n_keys: int) -> dict[tuple, Cell]:
    """A cells query's rows (k0, k1, ..., raw_value, n_reporting, n_respondents) by their codes. A few hundred at
    most: plain Python, as pandas' cost per operation was most of a first-time Explore view's time."""
    keys = zip(*([code(value) for value in found[f"k{n}"].tolist()] for n in range(n_keys)), strict=True)
    cells = map(_cell, found["raw_value"].tolist(), found["n_reporting"].tolist(), found["n_respondents"].tolist())
    return dict(zip(keys, cells, strict=True))


def bundled_cells(found: pd.DataFrame, by: tuple[str, ...]) -> dict[tuple, Cell]:
    """The cells of `by` in a bundle, as cells_by_code gives those of cells_sql(by), for a `by` of the bundle's
    dimension or TOTAL, with or without the year."""
    whole, yearly = int(TOTAL in by), "year" in by
    columns = (found[c].tolist() for c in ("key", "whole", "span", "raw_value", "n_reporting", "n_respondents"))
    return {tuple(code(span if b == "year" else key) for b in by): _cell(raw_value, n_reporting, n_respondents)
            for key, row_whole, span, raw_value, n_reporting, n_respondents in zip(*columns, strict=True)
            if row_whole == whole and (span != RANGE_SPAN) == yearly}

# The waves and, per wave, the respondents and registered members of the selection (one segment): the coverage of
# every yearly figure.
_COVERAGE_CTES = f"""
spans AS (
    SELECT
        year,
        {YEAR_BIT.format(year="year")} AS bits
    FROM agg_waves
),
waves AS (
    SELECT year
    FROM agg_waves
),
respondents AS (
    SELECT
        sp.year,
        CAST(sum(a.n) AS BIGINT) AS n_respondents
    FROM agg_respondents AS a
    JOIN spans AS sp
        ON a.years & sp.bits <> 0
    WHERE {_in_selection(False)}
    GROUP BY sp.year
),
registered AS (
    SELECT
        w.year,
        CAST(coalesce(sum(a.n), 0) AS BIGINT) AS n_registered
    FROM waves AS w
    LEFT JOIN agg_registered AS a
        ON a.start_year <= w.year
       AND {_in_selection(False)}
    GROUP BY w.year
)"""  # noqa: S608 -- constant SQL fragments only

# filters._YEARLY_ALL_SQL from the aggregates: every indicator by wave, with the coverage of the selection.
YEARLY_ALL_SQL = "WITH" + _COVERAGE_CTES + f""",
parts AS (
    SELECT
        a.ic,
        a.year,
        a.raw_value,
        0 AS n
    FROM agg_values AS a
    WHERE {_in_selection(False)}
    UNION ALL
    SELECT
        a.ic,
        sp.year,
        NULL,
        a.n
    FROM agg_reporting AS a
    JOIN spans AS sp
        ON a.years & sp.bits <> 0
    WHERE {_in_selection(False)}
),
totals AS (
    SELECT
        ic,
        year,
        CAST(sum(raw_value) AS BIGINT) AS raw_value,
        CAST(sum(n) AS BIGINT) AS n_reporting
    FROM parts
    GROUP BY ic, year
)""" + _YEARLY_ALL_SELECT  # noqa: S608 -- constant SQL fragments only; every value is a bound parameter

# totals._RESPONDENTS_SQL from the aggregates (with no filters): the waves someone answered, their respondents and
# the members registered by the end of each.
RESPONDENTS_SQL = "WITH" + _COVERAGE_CTES + """
SELECT
    year,
    r.n_respondents,
    g.n_registered
FROM respondents AS r
JOIN registered AS g USING (year)
ORDER BY year
"""

# membership._PARTNERSHIP_VALUES_SQL from the aggregates (every year: the range is clamped to the snapshot's).
PARTNERSHIP_VALUES_SQL = _reported_ctes(("partnership", "year")) + """
SELECT
    k0 AS partnership_id,
    CAST(k1 AS SMALLINT) AS year,
    raw_value,
    n_reporting
FROM reported
ORDER BY partnership_id, year
"""

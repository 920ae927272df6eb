"""Filters, the scope CTEs every filtered query shares, coverage ("reported by n of N") and the flags of a figure."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import pandas as pd

from dashboard.data.catalogue import is_synthetic
from dashboard.data.core import Vintage, _cached, _query

# --------------------------------------------------------------------------------------------------------------
# Filters, coverage, flags
# --------------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Filters:
    """Member filters. Within one filter several values mean "any of"; filters combine with "and"."""

    ecosystems: tuple[str, ...] = ()
    countries: tuple[str, ...] = ()
    partnerships: tuple[str, ...] = ()
    member_types: tuple[str, ...] = ()

    @property
    def is_empty(self) -> bool:
        return not (self.ecosystems or self.countries or self.partnerships or self.member_types)

    def params(self) -> dict[str, object]:
        return {
            "ecosystems": list(self.ecosystems),
            "countries": list(self.countries),
            "partnerships": list(self.partnerships),
            "member_types": list(self.member_types),
        }


NO_FILTERS = Filters()


@dataclass(frozen=True)
class Coverage:
    """Reported by `reporting` of `respondents` respondents; `registered` members at the end of the year."""

    reporting: int
    respondents: int
    registered: int


@dataclass(frozen=True)
class Flags:
    synthetic: bool
    not_published: bool
    break_in_series: bool
    published_value: float | None = None
    published_qualifier: str = ""
    published_status: str = ""
    comparison: str = ""  # "equal" | "consistent" | "differs" | "" (nothing to compare)


# The scope CTEs shared by the filtered queries. `from_year` is the first activity year a member counts for the
# selected partnerships (NULL when no partnership is selected: every year counts).
# The members a selection keeps (and, with partnerships, the year each joined one of them).
_MEMBER_SCOPE_CTES = """
scoped_members AS (
    SELECT
        mi,
        primary_ecosystem_id,
        country_code,
        member_type,
        joined_year
    FROM hot_members
    WHERE (len($ecosystems::VARCHAR[]) = 0 OR list_contains($ecosystems::VARCHAR[], primary_ecosystem_id))
      AND (len($countries::VARCHAR[]) = 0 OR list_contains($countries::VARCHAR[], country_code))
      AND (len($member_types::VARCHAR[]) = 0 OR list_contains($member_types::VARCHAR[], member_type))
),
partnership_start AS (
    SELECT
        mi,
        min(joined_year) AS from_year
    FROM hot_memberships
    WHERE list_contains($partnerships::VARCHAR[], partnership_id)
    GROUP BY mi
),
in_scope AS (
    SELECT
        sm.mi,
        sm.primary_ecosystem_id,
        sm.country_code,
        sm.member_type,
        sm.joined_year,
        ps.from_year
    FROM scoped_members AS sm
    LEFT JOIN partnership_start AS ps USING (mi)
    WHERE len($partnerships::VARCHAR[]) = 0 OR ps.mi IS NOT NULL
)"""

_SCOPE_CTES = """
WITH indicator_code AS (
    SELECT ic
    FROM hot_indicators
    WHERE indicator = $indicator
),""" + _MEMBER_SCOPE_CTES + """,
scoped_facts AS (
    SELECT
        f.year,
        f.mi,
        f.value,
        s.primary_ecosystem_id,
        s.country_code,
        s.member_type
    FROM hot_facts AS f
    JOIN in_scope AS s USING (mi)
    WHERE f.ic = (SELECT ic FROM indicator_code)
      AND (s.from_year IS NULL OR f.year >= s.from_year)
)
"""  # noqa: S608 -- constant SQL fragments only; every value is a bound parameter

# The waves of a snapshot and, per wave, the respondents and registered members in scope (needs `in_scope`):
# the coverage ("reported by n of N") of every yearly figure, for one indicator or all of them.
_COVERAGE_CTES = """
waves AS (
    SELECT DISTINCT wave AS year
    FROM hot_accepted
    UNION
    SELECT DISTINCT year
    FROM hot_facts
),
respondents AS (
    SELECT
        a.wave AS year,
        count(DISTINCT a.mi) AS n_respondents
    FROM hot_accepted AS a
    JOIN in_scope AS s USING (mi)
    WHERE s.from_year IS NULL OR a.wave >= s.from_year
    GROUP BY a.wave
),
registered AS (
    SELECT
        w.year,
        count(s.mi) AS n_registered
    FROM waves AS w
    LEFT JOIN in_scope AS s
        ON s.joined_year <= w.year
       AND (s.from_year IS NULL OR s.from_year <= w.year)
    GROUP BY w.year
)"""

_YEARLY_SQL = _SCOPE_CTES + """,
totals AS (
    SELECT
        year,
        CAST(sum(value) AS BIGINT) AS raw_value,
        count(DISTINCT mi) AS n_reporting
    FROM scoped_facts
    GROUP BY year
),
""" + _COVERAGE_CTES + """
SELECT
    w.year,
    t.raw_value,
    coalesce(t.n_reporting, 0) AS n_reporting,
    coalesce(r.n_respondents, 0) AS n_respondents,
    coalesce(g.n_registered, 0) AS n_registered
FROM waves AS w
LEFT JOIN totals AS t USING (year)
LEFT JOIN respondents AS r USING (year)
LEFT JOIN registered AS g USING (year)
ORDER BY w.year
"""

# The final select of the all-indicator yearly queries below (after `totals` per ic and year and _COVERAGE_CTES).
_YEARLY_ALL_SELECT = """
SELECT
    i.indicator,
    w.year,
    t.raw_value,
    coalesce(t.n_reporting, 0) AS n_reporting,
    coalesce(r.n_respondents, 0) AS n_respondents,
    coalesce(g.n_registered, 0) AS n_registered
FROM hot_indicators AS i
CROSS JOIN waves AS w
LEFT JOIN totals AS t
    ON t.ic = i.ic
   AND t.year = w.year
LEFT JOIN respondents AS r
    ON r.year = w.year
LEFT JOIN registered AS g
    ON g.year = w.year
ORDER BY i.indicator, w.year
"""

# The final select of the cells queries (after `reported` and `respondents` per cell k0, k1, ...; `using` lists
# them): every cell with a respondent or a figure.
_CELLS_SELECT = """
SELECT
    {using},
    reported.raw_value,
    coalesce(reported.n_reporting, 0) AS n_reporting,
    coalesce(respondents.n_respondents, 0) AS n_respondents
FROM respondents
FULL JOIN reported USING ({using})
"""

# _YEARLY_SQL for every indicator at once: the waves, respondents and registered members are the same for all
# indicators of a selection, so one grouped query replaces one query per indicator (the Progress page's cards).
_YEARLY_ALL_SQL = """
WITH""" + _MEMBER_SCOPE_CTES + """,
scoped_facts AS (
    SELECT
        f.ic,
        f.year,
        f.mi,
        f.value
    FROM hot_facts AS f
    JOIN in_scope AS s USING (mi)
    WHERE s.from_year IS NULL OR f.year >= s.from_year
),
totals AS (
    SELECT
        ic,
        year,
        CAST(sum(value) AS BIGINT) AS raw_value,
        count(DISTINCT mi) AS n_reporting
    FROM scoped_facts
    GROUP BY ic, year
),
""" + _COVERAGE_CTES + _YEARLY_ALL_SELECT

# _YEARLY_ALL_SQL without filters (the Progress page, the briefing's headline table, the unfiltered Explore view):
# no member scope to join, so the totals come straight from the facts.
_YEARLY_ALL_UNFILTERED_SQL = """
WITH in_scope AS (
    SELECT
        mi,
        joined_year,
        CAST(NULL AS SMALLINT) AS from_year
    FROM hot_members
),
totals AS (
    -- One row per (year, member, indicator), the facts table's key: count(*) counts the reporting members.
    SELECT
        ic,
        year,
        CAST(sum(value) AS BIGINT) AS raw_value,
        count(*) AS n_reporting
    FROM hot_facts
    GROUP BY ic, year
),
""" + _COVERAGE_CTES + _YEARLY_ALL_SELECT

_BREAKDOWN_SQL = _SCOPE_CTES + """
SELECT
    CASE $by
        WHEN 'year' THEN CAST(year AS VARCHAR)
        WHEN 'ecosystem' THEN primary_ecosystem_id
        WHEN 'member_state' THEN country_code
        WHEN 'member_type' THEN member_type
    END AS key,
    CAST(sum(value) AS BIGINT) AS raw_value,
    count(DISTINCT mi) AS n_reporting
FROM scoped_facts
WHERE year BETWEEN $year_from AND $year_to
GROUP BY key
"""

_PARTNERSHIP_BREAKDOWN_SQL = _SCOPE_CTES + """
SELECT
    ms.partnership_id AS key,
    CAST(sum(sf.value) AS BIGINT) AS raw_value,
    count(DISTINCT sf.mi) AS n_reporting
FROM scoped_facts AS sf
JOIN hot_memberships AS ms
    ON ms.mi = sf.mi
   AND ms.joined_year <= sf.year
WHERE sf.year BETWEEN $year_from AND $year_to
  AND (len($partnerships::VARCHAR[]) = 0 OR list_contains($partnerships::VARCHAR[], ms.partnership_id))
GROUP BY ms.partnership_id
"""


@_cached
@_cached
def _annual_sums(vintage: Vintage) -> pd.DataFrame:
    """Per survey year and indicator, over every member: raw_value, the members reporting it (n_reporting) and the
    contributors among them, with a non-zero value (n_contributors, what public mode counts)."""
    # `facts` holds one row per (year, member, indicator), its key: count(*) counts the reporting members, without
    # the per-group hash sets of count(DISTINCT mi) (~+67 MB of a worker's peak RSS at 100x, for the same counts).
    return _query(
        vintage,
        """
        SELECT
            f.year,
            i.indicator,
            CAST(sum(f.value) AS BIGINT) AS raw_value,
            count(*) AS n_reporting,
            count(*) FILTER (WHERE f.value <> 0) AS n_contributors
        FROM hot_facts AS f
        JOIN hot_indicators AS i USING (ic)
        GROUP BY f.year, i.indicator
        """,
    )


def _published(vintage: Vintage) -> pd.DataFrame:
    return _query(vintage, "SELECT * FROM published_figures ORDER BY indicator, period_start, period_end")


@_cached
def _breaks(vintage: Vintage) -> pd.DataFrame:
    return _query(
        vintage,
        """
        SELECT DISTINCT
            wave AS year,
            indicator
        FROM questions
        WHERE break_in_series
          AND indicator IS NOT NULL
        """,
    )


@_cached
def _published_index(vintage: Vintage) -> dict[tuple[str, int, int, str], dict[str, Any]]:
    """Published figures by (indicator, start, end, kind); a "published" one outranks a "derived" one."""
    pub = _published(vintage)
    ranked = pub.assign(_rank=(pub["status"] != "published").astype(int)).sort_values(["_rank", "figure_id"])
    index: dict[tuple[str, int, int, str], dict[str, Any]] = {}
    for row in ranked.drop(columns=["_rank"]).to_dict("records"):
        key = (str(row["indicator"]), int(row["period_start"]), int(row["period_end"]), str(row["period_kind"]))
        index.setdefault(key, row)
    return index


def published_figure(vintage: Vintage, indicator: str, start: int, end: int) -> dict[str, Any] | None:
    """The published figure for exactly this indicator and period (annual when start == end), if any."""
    kind = "annual" if start == end else "cumulative"
    row = _published_index(vintage).get((indicator, int(start), int(end), kind))
    return dict(row) if row is not None else None


@_cached
def _break_set(vintage: Vintage) -> frozenset[tuple[int, str]]:
    breaks = _breaks(vintage)
    return frozenset((int(y), str(i)) for y, i in zip(breaks["year"], breaks["indicator"], strict=True))


def break_in_series(vintage: Vintage, indicator: str, year: int) -> bool:
    return (int(year), indicator) in _break_set(vintage)


def compare_published(computed: float | None, published: float | None, qualifier: str = "") -> str:
    """How a figure computed here stands against a published one.

    "equal": the same number; "consistent": different but within what the published wording allows ("nearly":
    up to 5% below; "more than"/"over": up to 10% above; plain: within the rounding its trailing zeros imply,
    at most 0.5%); "differs": anything else; "" when either side is missing.
    """
    if computed is None or published is None or _isnan(computed) or _isnan(published):
        return ""
    if math.isclose(computed, published, rel_tol=1e-9, abs_tol=1e-9):
        return "equal"
    qualifier = (qualifier or "").strip().lower()
    if qualifier == "nearly":
        return "consistent" if published * 0.95 <= computed < published else "differs"
    if qualifier in ("more than", "over"):
        return "consistent" if published < computed <= published * 1.10 else "differs"
    if float(published).is_integer() and published != 0:
        # A round published number ("160 million") is read as rounded to its trailing zeros, but never looser
        # than half a percent: a dashboard that calls 161 M "consistent" with 160 M would hide real gaps.
        zeros = len(str(abs(int(published)))) - len(str(abs(int(published))).rstrip("0"))
        if zeros and abs(computed - published) <= min(0.5 * 10**zeros, 0.005 * abs(published)):
            return "consistent"
    return "differs"


def _isnan(value: object) -> bool:
    return isinstance(value, float) and math.isnan(value)


def _flags(vintage: Vintage, indicator: str, year: int, value: float | None, filters: Filters) -> Flags:
    # Published figures are EU totals; a filtered selection has no published counterpart.
    return figure_flags(vintage, indicator, year, value, breaks=break_in_series(vintage, indicator, year),
                        published=filters.is_empty)


def figure_flags(vintage: Vintage, indicator: str, year: int, value: float | None, *, breaks: bool = False,
                 published: bool = True) -> Flags:
    """The flags of one yearly figure: synthetic sample, break in series and, when it may have one (`published`),
    its published counterpart with how the figure compares to it."""
    synthetic = is_synthetic(vintage)
    pub = published_figure(vintage, indicator, year, year) if published else None
    if pub is None:
        return Flags(synthetic=synthetic, not_published=True, break_in_series=breaks)
    return Flags(
        synthetic=synthetic,
        not_published=False,
        break_in_series=breaks,
        published_value=float(pub["value"]),
        published_qualifier=str(pub["qualifier"] or ""),
        published_status=str(pub["status"] or ""),
        comparison=compare_published(value, float(pub["value"]), str(pub["qualifier"] or "")),
    )

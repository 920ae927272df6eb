"""The headline pledges, membership growth, and the partnerships' figures (ledger, values per partnership)."""

from __future__ import annotations

from typing import Any

import pandas as pd

from dashboard import disclosure
from dashboard.data import aggregates
from dashboard.data.catalogue import indicator_meta, latest_year, partnerships
from dashboard.data.core import Vintage, _cached, _query, has_aggregates
from dashboard.data.filters import NO_FILTERS
from dashboard.data.public import _withhold_partnership_values
from dashboard.data.totals import _yearly_frame

# --------------------------------------------------------------------------------------------------------------
# Targets and membership growth
# --------------------------------------------------------------------------------------------------------------


@_cached
def targets(vintage: Vintage) -> pd.DataFrame:
    frame = _query(
        vintage,
        """
        SELECT *
        FROM targets
        ORDER BY version
        """,
    )  # every column: a snapshot from before announced_year reads without it (analysis falls back)
    frame["deadline_year"] = frame["deadline_year"].astype("Int64")
    return frame


def cumulative_people_trained(vintage: Vintage) -> pd.DataFrame:
    """People trained per wave and cumulated over the waves (each wave is one activity year)."""
    frame = _yearly_frame(vintage, "people_trained", NO_FILTERS)[["year", "value", "n_reporting"]]
    frame = frame[frame["value"].notna()].reset_index(drop=True)
    frame["cumulative"] = frame["value"].cumsum()
    return frame


@_cached
def members_over_time(vintage: Vintage) -> pd.DataFrame:
    """Registered members at the end of each month in which someone joined (from the registry's joined_on)."""
    frame = _query(
        vintage,
        """
        SELECT
            as_of,
            joined,
            CAST(sum(joined) OVER (ORDER BY as_of) AS BIGINT) AS members
        FROM hot_joined_months
        ORDER BY as_of
        """,
    )
    frame["as_of"] = pd.to_datetime(frame["as_of"])
    return frame


@_cached
def membership_timeline(vintage: Vintage) -> pd.DataFrame:
    """The published membership counts (members, large-scale and regional partnerships) with their dates."""
    frame = _query(vintage, "SELECT * FROM membership_timeline ORDER BY as_of")
    frame["as_of"] = pd.to_datetime(frame["as_of"])
    return frame


@_cached
def partnerships_over_time(vintage: Vintage) -> pd.DataFrame:
    """Partnerships known to date, per kind, at each date the sources place one by (`launched_by`: the launch day,
    else the end of the period the sources give). Partnerships with no known year are counted by undated_partnerships.
    """
    frame = _query(
        vintage,
        """
        WITH launches AS (
            SELECT
                launched_by AS as_of,
                kind,
                count(*) AS launched
            FROM partnerships
            WHERE launched_by IS NOT NULL
            GROUP BY launched_by, kind
        )
        SELECT
            as_of,
            kind,
            launched,
            CAST(sum(launched) OVER (PARTITION BY kind ORDER BY as_of) AS BIGINT) AS partnerships
        FROM launches
        ORDER BY kind, as_of
        """,
    )
    frame["as_of"] = pd.to_datetime(frame["as_of"])
    return frame


@_cached
def undated_partnerships(vintage: Vintage) -> dict[str, int]:
    """Partnerships per kind that the sources name but place in no year."""
    reference = partnerships(vintage)
    return {str(k): int(n) for k, n in reference[reference["launched_by"].isna()]["kind"].value_counts().items()}


@_cached
def pledge_totals(vintage: Vintage) -> pd.DataFrame:
    frame = _query(vintage, "SELECT * FROM pledge_totals ORDER BY as_of")
    frame["as_of"] = pd.to_datetime(frame["as_of"])
    return frame


# --------------------------------------------------------------------------------------------------------------
# Partnerships
# --------------------------------------------------------------------------------------------------------------




# Per partnership and wave: the sum over its members (each from the year it joined) and who reported.
_PARTNERSHIP_VALUES_SQL = """
        WITH member_years AS (
            SELECT
                ms.partnership_id,
                f.year,
                f.mi,
                f.value
            FROM hot_facts AS f
            JOIN hot_memberships AS ms
                ON ms.mi = f.mi
               AND ms.joined_year <= f.year
            WHERE f.ic = (SELECT ic FROM hot_indicators WHERE indicator = $indicator)
        )
        SELECT
            partnership_id,
            year,
            CAST(sum(value) AS BIGINT) AS raw_value,
            count(DISTINCT mi) AS n_reporting
        FROM member_years
        GROUP BY partnership_id, year
        ORDER BY partnership_id, year
        """


@_cached
def partnership_values(vintage: Vintage, indicator: str) -> pd.DataFrame:
    """Per partnership and wave: the sum over its members (each from the year it joined), and who reported."""
    meta = indicator_meta(vintage, indicator)
    if has_aggregates(vintage):
        params = {"indicator": indicator, "year_from": 0, "year_to": 9999, **NO_FILTERS.params()}
        frame = _query(vintage, aggregates.PARTNERSHIP_VALUES_SQL, params)
    else:
        frame = _query(vintage, _PARTNERSHIP_VALUES_SQL, {"indicator": indicator})
    frame["year"] = frame["year"].astype("int64")
    frame["n_reporting"] = frame["n_reporting"].astype("int64")
    frame["value"] = frame["raw_value"].astype("float64") / meta.scale
    if disclosure.public_mode():
        frame = _withhold_partnership_values(vintage, indicator, frame)
    return frame


@_cached
def peer_benchmark(vintage: Vintage, partnership_id: str, group: str, indicator: str, year: int) -> Any:
    """One partnership against its peers (same kind or same ecosystem): a frozen `analysis.PeerBenchmark`."""
    from dashboard.analysis import peer_benchmark as benchmark

    return benchmark(partnerships(vintage), partnership_values(vintage, indicator), partnership_id, group, int(year))


@_cached
def partnership_ledger(vintage: Vintage) -> pd.DataFrame:
    """Pledge vs delivery for every partnership: people trained to date by its members, share of a people
    pledge attained, and the yearly pace still needed to reach the pledge by its year."""
    from dashboard.analysis import ledger

    return ledger(partnerships(vintage), partnership_values(vintage, "people_trained"), latest_year(vintage))

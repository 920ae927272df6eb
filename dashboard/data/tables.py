"""The in-memory tables built for each snapshot when it is opened (dashboard/data/core.py runs `build`).

Hot tables: the Parquet tables every filtered figure joins, copied with an integer member key. Joining 1.3 M facts
to 320 k members on a string ID from Parquet costs ~150 ms a query at 100x the sample, on integers in memory ~20 ms.
A member's key `mi` is its row in members.parquet, counted from 1 (one row per member, written sorted by member_id):
numbering the rows as they are read needs no sort, where row_number() OVER (ORDER BY member_id) sorted every member
with its columns (~+97 MB of a worker's peak RSS at 100x, for the same numbers).

Aggregates: the facts, respondents and registered members summed over the members that share everything a filter or
a breakdown selects on (primary ecosystem, Member State, member type, and a partnership: `partnership_id` '' holds
every member, and each partnership its members from the year they joined it). They answer most questions from ~20 k
rows instead of ~110 k facts joined to 320 k members (dashboard/data/aggregates.py). A member counts once in a range
of years however many of its years it reported: each row keeps the set of years its members reported (`years`, a
bit per year from `first_year`), so a range's count adds the rows whose set meets the range.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import duckdb

# Years as bits of a BIGINT, counted from the snapshot's first year: 63 years fit.
MAX_YEAR_SPAN = 62

_HOT_MEMBERS_SQL = """
    CREATE TABLE hot_members AS
    SELECT
        CAST(file_row_number + 1 AS INTEGER) AS mi,
        member_id,
        primary_ecosystem_id,
        country_code,
        member_type,
        CAST(year(joined_on) AS SMALLINT) AS joined_year
    FROM read_parquet({members}, file_row_number = true)
"""
_HOT_TABLES_SQL = (
    """
    CREATE TABLE hot_indicators AS
    SELECT
        CAST(row_number() OVER (ORDER BY indicator) AS SMALLINT) AS ic,
        indicator
    FROM (SELECT DISTINCT indicator FROM facts)
    """,
    """
    CREATE TABLE hot_facts AS
    SELECT
        CAST(f.year AS SMALLINT) AS year,
        m.mi,
        i.ic,
        f.value
    FROM facts AS f
    JOIN hot_members AS m USING (member_id)
    JOIN hot_indicators AS i USING (indicator)
    """,
    """
    CREATE TABLE hot_memberships AS
    SELECT
        m.mi,
        ms.partnership_id,
        CAST(year(ms.joined_on) AS SMALLINT) AS joined_year
    FROM memberships AS ms
    JOIN hot_members AS m USING (member_id)
    """,
    # The members who joined in each month (registered members over time): a hundred rows instead of a scan of
    # every member's join date.
    """
    CREATE TABLE hot_joined_months AS
    SELECT
        last_day(joined_on) AS as_of,
        count(*) AS joined
    FROM members
    WHERE joined_on IS NOT NULL
    GROUP BY as_of
    """,
    """
    CREATE TABLE hot_accepted AS
    SELECT DISTINCT
        CAST(s.wave AS SMALLINT) AS wave,
        m.mi
    FROM submissions AS s
    JOIN hot_members AS m USING (member_id)
    WHERE s.status = 'accepted'
    """,
)

_YEARS_SQL = (
    """
    CREATE TABLE agg_waves AS
    SELECT DISTINCT wave AS year
    FROM hot_accepted
    UNION
    SELECT DISTINCT year
    FROM hot_facts
    """,
    """
    CREATE TABLE agg_years AS
    SELECT
        min(year) AS first_year,
        max(year) AS last_year
    FROM (
        SELECT year FROM hot_facts
        UNION ALL
        SELECT wave FROM hot_accepted
        UNION ALL
        SELECT joined_year FROM hot_memberships
    )
    """,
)

# The bit of a year, and the bits of every year from one on (all years when it is NULL).
YEAR_BIT = "(CAST(1 AS BIGINT) << ({year} - (SELECT first_year FROM agg_years)))"
_FROM_BITS = f"CASE WHEN {{year}} IS NULL THEN CAST(-1 AS BIGINT) ELSE -{YEAR_BIT} END"

def _members_by_years(table: str, source: str, year: str, *keys: str) -> str:
    """CREATE `table`: the members of `source` counted per segment, attribute cell and `keys` by the set of years
    they appear in (each segment's from its first year on)."""
    by = "".join(f"{key},\n            " for key in keys)
    return f"""
    CREATE TABLE {table} AS
    WITH seen AS (
        SELECT
            mi,
            {by}bit_or({YEAR_BIT.format(year=year)}) AS years
        FROM {source}
        GROUP BY ALL
    )
    SELECT
        s.partnership_id,
        s.primary_ecosystem_id,
        s.country_code,
        s.member_type,
        {"".join(f"r.{key}, " for key in keys)}r.years & {_FROM_BITS.format(year="s.from_year")} AS years,
        count(*) AS n
    FROM seen AS r
    JOIN agg_segments AS s USING (mi)
    GROUP BY ALL
    HAVING years <> 0
    ORDER BY ALL
    """  # noqa: S608 -- constant SQL fragments only


# Each aggregate table is stored sorted by its columns, the segment (partnership) first, then the ecosystem, Member
# State and member type: a question reads one segment and often one ecosystem, and DuckDB skips the stored blocks
# whose range of values cannot match. At 100x that took a filtered selection's yearly totals from 12-14 to 9-10 ms
# and a bundle from 15-17 to 13-14 ms, for 0.3 s more at boot.
_AGGREGATES_SQL = (
    # Each member once with partnership '' (every year counts) and once per partnership it joined (from that year).
    """
    CREATE VIEW agg_segments AS
    SELECT
        mi,
        '' AS partnership_id,
        primary_ecosystem_id,
        country_code,
        member_type,
        joined_year,
        CAST(NULL AS SMALLINT) AS from_year
    FROM hot_members
    UNION ALL
    SELECT
        ms.mi,
        ms.partnership_id,
        m.primary_ecosystem_id,
        m.country_code,
        m.member_type,
        m.joined_year,
        ms.joined_year AS from_year
    FROM hot_memberships AS ms
    JOIN hot_members AS m USING (mi)
    """,
    """
    CREATE TABLE agg_values AS
    SELECT
        s.partnership_id,
        s.primary_ecosystem_id,
        s.country_code,
        s.member_type,
        f.ic,
        f.year,
        sum(f.value) AS raw_value
    FROM hot_facts AS f
    JOIN agg_segments AS s USING (mi)
    WHERE s.from_year IS NULL OR f.year >= s.from_year
    GROUP BY ALL
    ORDER BY ALL
    """,
    _members_by_years("agg_reporting", "hot_facts", "year", "ic"),
    _members_by_years("agg_respondents", "hot_accepted", "wave"),
    # Registered by the end of a year: joined the Pact (and the partnership) by then; never without a join date.
    """
    CREATE TABLE agg_registered AS
    SELECT
        partnership_id,
        primary_ecosystem_id,
        country_code,
        member_type,
        CASE WHEN joined_year IS NOT NULL THEN greatest(joined_year, coalesce(from_year, joined_year)) END
            AS start_year,
        count(*) AS n
    FROM agg_segments
    GROUP BY ALL
    ORDER BY ALL
    """,
    "DROP VIEW agg_segments",
)


def build(cur: duckdb.DuckDBPyConnection, snapshot: Path, checkpoint: Callable[[], object]) -> bool:
    """Build the hot tables and, when the snapshot's years fit in the bits, the aggregates, in the cursor's schema
    (search_path). `checkpoint` runs after each table, so each is compressed before the next is built. Returns
    whether the aggregates were built."""
    members = _HOT_MEMBERS_SQL.format(members="'" + str(snapshot / "members.parquet").replace("'", "''") + "'")
    for statement in (members, *_HOT_TABLES_SQL, *_YEARS_SQL):
        cur.execute(statement)
        checkpoint()
    span = cur.execute("SELECT last_year - first_year FROM agg_years").fetchone()
    if span is None or span[0] is None or span[0] > MAX_YEAR_SPAN:
        return False
    for statement in _AGGREGATES_SQL:
        cur.execute(statement)
        checkpoint()
    return True

"""The dashboard's data layer: the only module that talks to DuckDB and the only reader of `data/curated/`.

- The curated directory comes from `PACT_CURATED_DIR` (default `<repo>/data/curated`). A vintage is one kept
  snapshot (`snapshots/<vintage_id>/` with a `manifest.json`); `current` is whatever the symlink resolves to.
  A vintage id from a URL is only used after it is found in that list.
- One DuckDB connection per process, opened lazily and re-opened after a fork (gunicorn workers each get their
  own). Each snapshot gets a schema of views over its Parquet files, plus compact in-memory copies of the
  tables every filtered figure joins (integer member keys); every query runs on its own `cursor()`
  (a DuckDB connection must not be shared across threads) with `search_path` set to that schema, so the SQL
  text is constant and every user-supplied value is a bound parameter.
- Results are cached per (snapshot, parameters). Snapshots never change once written, so the cache never goes
  stale; a new pipeline run is a new snapshot and therefore a new key. Frames are copied on the way out and
  everything else is a frozen dataclass, so no caller can alter a cached result.

Counting rules (enforced here, explained on the About page):
- an EU total counts each member once: `facts` holds one row per (year, member, indicator);
- a breakdown by ecosystem uses the member's primary ecosystem, so the parts add up to the EU total;
- a partnership's figure sums its members' facts for activity years >= the year the member joined it; a member
  in several partnerships counts in each, so figures across partnerships are never summed;
- every figure carries its coverage (members reporting / respondents of the wave / members registered by the
  end of the year) and its flags (synthetic sample, not published, break in series, published value).
"""

from __future__ import annotations

import dataclasses
import functools
import itertools
import json
import logging
import math
import os
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import duckdb
import numpy as np
import pandas as pd
import pyarrow.parquet as pq

from dashboard import disclosure
from pipelines import indicators
from pipelines.runlog import RUNLOG, RunRecord, parse_runlog
from pipelines.schema import INDICATOR_NAMES, SUBMISSION_STATUSES, TABLES
from pipelines.snapshots import CURRENT, MANIFEST, SNAPSHOTS, Manifest

log = logging.getLogger(__name__)

REPO_ROOT = Path(__file__).resolve().parent.parent
CURATED_ENV = "PACT_CURATED_DIR"
VINTAGE_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,79}$")
# Views are created for exactly these names, from the contract; nothing else ever names a table.
VIEW_NAMES: tuple[str, ...] = tuple(TABLES)
# Tables added after snapshots that may still be kept (and pinned by a permalink): such a snapshot reads as having
# none of their rows.
ADDED_LATER: dict[str, str] = {
    "expected_changes": (
        "SELECT CAST(NULL AS SMALLINT) AS wave, CAST(NULL AS VARCHAR) AS indicator, "
        "CAST(NULL AS SMALLINT) AS previous_wave, CAST(NULL AS BIGINT) AS previous_total, "
        "CAST(NULL AS BIGINT) AS total, CAST(NULL AS DOUBLE) AS factor, CAST(NULL AS VARCHAR) AS reason WHERE false"
    ),
}
# Columns added after snapshots that may still be kept: such a snapshot reads each as this expression of its own
# columns (what it knew then).
COLUMNS_ADDED_LATER: dict[str, dict[str, str]] = {"partnerships": {"launched_by": "launched_on"}}
BREAKDOWNS: tuple[str, ...] = ("year", "ecosystem", "member_state", "partnership", "member_type")
MAX_REJECT_ROWS = 5000


class DataUnavailable(RuntimeError):
    """No curated snapshot can be read (the pipeline has not run, or a snapshot is incomplete)."""


# --------------------------------------------------------------------------------------------------------------
# Vintages
# --------------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Vintage:
    """One kept snapshot. The path is part of the identity so caches never mix two curated directories."""

    vintage_id: str
    path: str


@dataclass(frozen=True)
class VintageChoice:
    """The vintage a page shows: the pinned one when it is kept, else `current`; `message` says why."""

    vintage: Vintage | None
    pinned: bool
    message: str | None = None
    superseded: bool = False  # a kept vintage that public mode does not serve


def curated_dir() -> Path:
    return Path(os.environ.get(CURATED_ENV) or REPO_ROOT / "data" / "curated")


def served_vintages() -> tuple[str, ...]:
    """The vintages a link may pin: every kept one, or in public mode the current one only."""
    if disclosure.public_mode():
        current = current_vintage_id()
        return (current,) if current else ()
    return kept_vintages()


def kept_vintages() -> tuple[str, ...]:
    """Vintage ids of the complete snapshots on disk (those with a manifest), oldest first."""
    snapshots = curated_dir() / SNAPSHOTS
    if not snapshots.is_dir():
        return ()
    ids = [
        entry.name
        for entry in snapshots.iterdir()
        if VINTAGE_PATTERN.match(entry.name) and (entry / MANIFEST).is_file()
    ]
    return tuple(sorted(ids))


def current_vintage_id() -> str | None:
    link = curated_dir() / CURRENT
    if not link.exists():
        return None
    name = Path(os.path.realpath(link)).name
    return name if name in kept_vintages() else None


def _vintage(vintage_id: str) -> Vintage:
    return Vintage(vintage_id, str((curated_dir() / SNAPSHOTS / vintage_id).resolve()))


def resolve_vintage(requested: object = None) -> VintageChoice:
    """Validate a vintage id taken from a URL against the kept snapshots; fall back to `current`."""
    current = current_vintage_id()
    fallback = _vintage(current) if current else None
    if requested in (None, ""):
        return VintageChoice(fallback, pinned=False)
    if isinstance(requested, str) and VINTAGE_PATTERN.match(requested) and requested in kept_vintages():
        if requested != current and disclosure.public_mode():
            # Each vintage's release is safe alone, but two vintages side by side can differ by one member's
            # values (a correction excluding one submission, then a rebuild): public mode serves the current one.
            return VintageChoice(fallback, pinned=False, superseded=True, message=(
                f"The figures have been updated since this link was made (data vintage {requested}); showing the "
                "current figures. The public site serves only the current data."))
        return VintageChoice(_vintage(requested), pinned=requested != current)
    shown = requested if isinstance(requested, str) else repr(requested)
    shown = shown if len(shown) <= 40 else shown[:40] + "…"
    return VintageChoice(
        fallback,
        pinned=False,
        message=f"Data vintage “{shown}” is not one of the kept snapshots; showing the current data instead.",
    )


# --------------------------------------------------------------------------------------------------------------
# Connection and queries
# --------------------------------------------------------------------------------------------------------------

_lock = threading.Lock()
_connection_state: dict[str, Any] = {"pid": None, "con": None, "schemas": {}}
# Schema names are never reused: a dropped snapshot's number is not given to the next one.
_schema_serial = itertools.count()


def _connection() -> tuple[duckdb.DuckDBPyConnection, dict[str, str]]:
    """The process's connection, (re)opened lazily: a forked worker must not reuse its parent's."""
    pid = os.getpid()
    if _connection_state["pid"] != pid:
        with _lock:
            if _connection_state["pid"] != pid:
                con = duckdb.connect(":memory:")
                # Parquet footers are read once per file, not once per query.
                con.execute("SET enable_object_cache = true")
                _connection_state.update(pid=pid, con=con, schemas={})
                _clear_caches()
    return _connection_state["con"], _connection_state["schemas"]


def _sql_string(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


# The tables every filtered figure joins, copied once per snapshot into memory with an integer member key:
# joining 1.3 M facts to 320 k members on a string ID from Parquet costs ~150 ms a query at 100x the sample,
# on integers in memory ~20 ms. Built inside the snapshot's schema (search_path), from its views.
_HOT_TABLES_SQL = (
    """
    CREATE TABLE hot_members AS
    SELECT
        CAST(row_number() OVER (ORDER BY member_id) AS INTEGER) AS mi,
        member_id,
        primary_ecosystem_id,
        country_code,
        member_type,
        CAST(year(joined_on) AS SMALLINT) AS joined_year
    FROM members
    """,
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


def _schema_for(vintage: Vintage) -> str:
    """The schema holding the views of one snapshot, created on first use."""
    con, schemas = _connection()
    schema = schemas.get(vintage.path)
    if schema is not None:
        return schema
    with _lock:
        schema = schemas.get(vintage.path)
        if schema is not None:
            return schema
        snapshot = Path(vintage.path)
        missing = [name for name in VIEW_NAMES
                   if not (snapshot / f"{name}.parquet").is_file() and name not in ADDED_LATER]
        if missing:
            raise DataUnavailable(f"snapshot {vintage.vintage_id} lacks {', '.join(missing)}")
        # A new snapshot is when a rebuild may have pruned old ones: their schemas go now, so a worker holds the
        # hot tables of the kept snapshots it has served, not of every snapshot since it started.
        _drop_removed_snapshots(con, schemas)
        schema = f"snapshot_{next(_schema_serial)}"
        cur = con.cursor()
        try:
            cur.execute(f"CREATE SCHEMA {schema}")
            for name in VIEW_NAMES:
                # DDL cannot take bound parameters. The schema name is generated here, the view name is from the
                # contract's allow-list and the path is a directory this module listed and validated itself.
                path = snapshot / f"{name}.parquet"
                parquet = f"SELECT *{_added_columns(name, path)} FROM read_parquet({_sql_string(str(path))})"  # noqa: S608
                source = parquet if path.is_file() else ADDED_LATER[name]
                cur.execute(f"CREATE VIEW {schema}.{name} AS {source}")
            cur.execute("SET search_path = ?", [schema])
            for statement in _HOT_TABLES_SQL:
                cur.execute(statement)
            facts, hot = cur.execute(
                "SELECT (SELECT count(*) FROM facts), (SELECT count(*) FROM hot_facts)"
            ).fetchone()
            if facts != hot:
                raise DataUnavailable(
                    f"snapshot {vintage.vintage_id}: {facts - hot} facts belong to no registered member"
                )
        except duckdb.Error as exc:
            raise DataUnavailable(f"snapshot {vintage.vintage_id} cannot be read: {exc}") from exc
        finally:
            cur.close()
        schemas[vintage.path] = schema
        return schema


def _added_columns(table: str, path: Path) -> str:
    """", <expr> AS <column>" for each column of COLUMNS_ADDED_LATER this snapshot's file lacks ("" when none)."""
    added = COLUMNS_ADDED_LATER.get(table, {})
    if not added or not path.is_file():
        return ""
    present = set(pq.read_schema(path).names)
    return "".join(f", {expr} AS {column}" for column, expr in added.items() if column not in present)


def _drop_removed_snapshots(con: duckdb.DuckDBPyConnection, schemas: dict[str, str]) -> None:
    """Drop the schema (views and in-memory hot tables) of every snapshot that has left the kept set. Under _lock."""
    for path in [p for p in schemas if not (Path(p) / MANIFEST).is_file()]:
        schema = schemas.pop(path)
        # The name was generated by _schema_for; DDL takes no bound parameters.
        con.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")
        log.info("dropped %s: snapshot %s is no longer kept", schema, Path(path).name)


def _query(vintage: Vintage, sql: str, params: dict[str, object] | None = None) -> pd.DataFrame:
    schema = _schema_for(vintage)
    con, _ = _connection()
    cur = con.cursor()
    try:
        cur.execute("SET search_path = ?", [schema])
        return cur.execute(sql, params or {}).df()
    finally:
        cur.close()


F = TypeVar("F", bound=Callable[..., Any])
_caches: list[Any] = []


def _cached(fn: F) -> F:
    """lru_cache whose DataFrame results are copied on the way out (cached objects are never handed out).

    Public mode is read inside many cached functions (what to withhold), so it is part of every key: a change of
    PACT_PUBLIC gives the right answers without a reset()."""

    @functools.lru_cache(maxsize=512)
    def cached(public: bool, *args: Any, **kwargs: Any) -> Any:
        return fn(*args, **kwargs)

    _caches.append(cached)

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        result = cached(disclosure.public_mode(), *args, **kwargs)
        return result.copy() if isinstance(result, pd.DataFrame) else result

    return wrapper  # type: ignore[return-value]


def _clear_caches() -> None:
    for cache in _caches:
        cache.cache_clear()


def reset() -> None:
    """Forget the connection and every cached result (tests switch curated directories)."""
    with _lock:
        con = _connection_state.get("con")
        if con is not None and _connection_state.get("pid") == os.getpid():
            con.close()
        _connection_state.update(pid=None, con=None, schemas={})
    _clear_caches()


# --------------------------------------------------------------------------------------------------------------
# Manifest, dimensions, catalogue
# --------------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class VintageInfo:
    vintage_id: str
    created_at: str
    synthetic: bool
    inputs: int
    counts: tuple[tuple[str, object], ...]


@_cached
def _manifest(path: str) -> str:
    manifest = Path(path) / MANIFEST
    try:
        return manifest.read_text(encoding="utf-8")
    except OSError as exc:
        raise DataUnavailable(f"cannot read {manifest}: {exc}") from exc


def manifest(vintage: Vintage) -> Manifest:
    """The snapshot's manifest.json, read by the contract the runner writes it with."""
    try:
        value = json.loads(_manifest(vintage.path))
    except json.JSONDecodeError as exc:
        raise DataUnavailable(f"manifest of {vintage.vintage_id} is not valid JSON: {exc}") from exc
    if not isinstance(value, dict):
        raise DataUnavailable(f"manifest of {vintage.vintage_id} is not a JSON object")
    return Manifest.from_json(value)


def vintage_info(vintage: Vintage) -> VintageInfo:
    m = manifest(vintage)
    return VintageInfo(
        vintage_id=m.vintage_id or vintage.vintage_id,
        created_at=m.created_at,
        synthetic=m.synthetic,
        inputs=len(m.inputs),
        counts=tuple(sorted((str(k), v) for k, v in m.counts.items())),
    )


def is_synthetic(vintage: Vintage) -> bool:
    return vintage_info(vintage).synthetic


@dataclass(frozen=True)
class IndicatorMeta:
    indicator: str
    label: str
    unit: str
    scale: int
    definition: str
    kind: str
    sum_over_members: bool
    sum_over_years: bool
    sum_over_partnerships: bool


@_cached
def _catalogue(vintage: Vintage) -> pd.DataFrame:
    return _query(vintage, "SELECT * FROM indicators ORDER BY indicator")


@_cached
def indicator_catalogue(vintage: Vintage) -> tuple[IndicatorMeta, ...]:
    """The pipeline's indicator catalogue, in the contract's order (people trained first)."""
    frame = _catalogue(vintage)
    by_name = {row["indicator"]: row for row in frame.to_dict("records")}
    order = [name for name in INDICATOR_NAMES if name in by_name] + sorted(set(by_name) - set(INDICATOR_NAMES))
    return tuple(
        IndicatorMeta(
            indicator=name,
            label=str(by_name[name]["label"]),
            unit=str(by_name[name]["unit"]),
            scale=int(by_name[name]["scale"]),
            definition=str(by_name[name]["definition"]),
            kind=str(by_name[name]["kind"]),
            sum_over_members=bool(by_name[name]["sum_over_members"]),
            sum_over_years=bool(by_name[name]["sum_over_years"]),
            sum_over_partnerships=bool(by_name[name]["sum_over_partnerships"]),
        )
        for name in order
    )


def indicator_meta(vintage: Vintage, indicator: str) -> IndicatorMeta:
    for meta in indicator_catalogue(vintage):
        if meta.indicator == indicator:
            return meta
    raise KeyError(indicator)


@dataclass(frozen=True)
class Dimensions:
    """Codes and labels a page may offer (and the only values a URL may select)."""

    years: tuple[int, ...]
    ecosystems: tuple[tuple[str, str], ...]
    member_states: tuple[tuple[str, str], ...]
    partnerships: tuple[tuple[str, str], ...]
    member_types: tuple[str, ...]
    partnership_kinds: tuple[tuple[str, str], ...] = field(default=())

    def label(self, by: str, key: object) -> str:
        lookup = {
            "ecosystem": dict(self.ecosystems),
            "member_state": dict(self.member_states),
            "partnership": dict(self.partnerships),
        }.get(by)
        if lookup is None:
            return str(key)
        return lookup.get(str(key), str(key))


@_cached
def dimensions(vintage: Vintage) -> Dimensions:
    years = _query(
        vintage,
        """
        SELECT DISTINCT wave AS year
        FROM hot_accepted
        UNION
        SELECT DISTINCT year
        FROM hot_facts
        ORDER BY year
        """,
    )
    ecosystems = _query(vintage, 'SELECT ecosystem_id, name FROM ecosystems ORDER BY "order", ecosystem_id')
    states = _query(vintage, "SELECT country_code, name FROM member_states ORDER BY protocol_order, country_code")
    partnerships = _query(vintage, "SELECT partnership_id, name, kind FROM partnerships ORDER BY kind, name")
    types = _query(
        vintage, "SELECT DISTINCT member_type FROM members WHERE member_type IS NOT NULL ORDER BY member_type"
    )
    return Dimensions(
        years=tuple(int(y) for y in years["year"]),
        ecosystems=tuple(zip(ecosystems["ecosystem_id"], ecosystems["name"], strict=True)),
        member_states=tuple(zip(states["country_code"], states["name"], strict=True)),
        partnerships=tuple(zip(partnerships["partnership_id"], partnerships["name"], strict=True)),
        member_types=tuple(str(t) for t in types["member_type"]),
        partnership_kinds=tuple(zip(partnerships["partnership_id"], partnerships["kind"], strict=True)),
    )


def latest_year(vintage: Vintage) -> int | None:
    years = dimensions(vintage).years
    return years[-1] if years else None


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

    def params(self) -> dict[str, list[str]]:
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
    synthetic = is_synthetic(vintage)
    breaks = break_in_series(vintage, indicator, year)
    # Published figures are EU totals; a filtered selection has no published counterpart.
    pub = published_figure(vintage, indicator, year, year) if filters.is_empty else None
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


# --------------------------------------------------------------------------------------------------------------
# Totals by year, breakdowns, KPIs
# --------------------------------------------------------------------------------------------------------------


@_cached
def _yearly_all(vintage: Vintage, filters: Filters) -> dict[str, pd.DataFrame]:
    """_YEARLY_SQL's frame for every indicator of the catalogue, from one grouped query."""
    if filters.is_empty:
        frame = _query(vintage, _YEARLY_ALL_UNFILTERED_SQL)
    else:
        frame = _query(vintage, _YEARLY_ALL_SQL, filters.params())
    frames: dict[str, pd.DataFrame] = {}
    for indicator, rows in frame.groupby("indicator", sort=False):
        rows = rows.drop(columns="indicator").reset_index(drop=True)
        # DuckDB hands a BIGINT column over as int64, or as Int64 when it holds a NULL: keep the dtype the
        # indicator's own query gave, so every result stays exactly what it was.
        if not rows["raw_value"].isna().any():
            rows["raw_value"] = rows["raw_value"].astype("int64")
        frames[str(indicator)] = rows
    return frames


@_cached
def _yearly_frame(vintage: Vintage, indicator: str, filters: Filters) -> pd.DataFrame:
    meta = indicator_meta(vintage, indicator)
    shared = _yearly_all(vintage, filters).get(indicator)
    if shared is not None:
        frame = shared.copy()  # the cached frames are shared: never alter them
    else:
        frame = _query(vintage, _YEARLY_SQL, {"indicator": indicator, **filters.params()})
    raw = frame["raw_value"].astype("Float64").to_numpy(dtype="float64", na_value=float("nan"))
    frame["value"] = raw / meta.scale
    frame.loc[frame["n_reporting"] == 0, "value"] = float("nan")
    frame["year"] = frame["year"].astype("int64")
    for column in ("n_reporting", "n_respondents", "n_registered"):
        frame[column] = frame[column].astype("int64")
    frame = frame[["year", "value", "raw_value", "n_reporting", "n_respondents", "n_registered"]]
    if disclosure.public_mode():
        frame = _withhold_yearly(vintage, indicator, filters, frame)
    return frame


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
    flags = [
        _flags(vintage, indicator, int(row.year), None if pd.isna(row.value) else float(row.value), filters)
        for row in frame.itertuples()
    ]
    frame["synthetic"] = [f.synthetic for f in flags]
    frame["not_published"] = [f.not_published for f in flags]
    frame["break_in_series"] = [f.break_in_series for f in flags]
    frame["published_value"] = [f.published_value for f in flags]
    frame["published_qualifier"] = [f.published_qualifier for f in flags]
    frame["published_status"] = [f.published_status for f in flags]
    frame["comparison"] = [f.comparison for f in flags]
    return frame


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
    if by == "partnership":
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


@_cached
def _respondents_frame(vintage: Vintage) -> pd.DataFrame:
    return _query(
        vintage,
        """
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
        """,
    ).astype({"year": "int64", "n_respondents": "int64", "n_registered": "int64"})


def response_rates(vintage: Vintage) -> pd.DataFrame:
    """Per wave: respondents, members registered by the end of the activity year, and the response rate."""
    frame = _respondents_frame(vintage)
    frame["response_rate"] = [
        (r / n) if n else float("nan") for r, n in zip(frame["n_respondents"], frame["n_registered"], strict=True)
    ]
    return frame


@_cached
def _commitments_frame(vintage: Vintage) -> pd.DataFrame:
    frame = _query(
        vintage,
        """
        WITH per_member AS (
            SELECT
                f.year,
                f.mi,
                sum(f.value) FILTER (WHERE i.indicator = 'commitments_reported') AS reported,
                sum(f.value) FILTER (WHERE i.indicator = 'commitments_progressing') AS progressing
            FROM hot_facts AS f
            JOIN hot_indicators AS i USING (ic)
            WHERE i.indicator IN ('commitments_reported', 'commitments_progressing')
            GROUP BY f.year, f.mi
        )
        SELECT
            year,
            CAST(coalesce(sum(reported), 0) AS BIGINT) AS reported,
            CAST(coalesce(sum(progressing), 0) AS BIGINT) AS progressing,
            count(mi) FILTER (WHERE reported > 0) AS n_reporting,
            count(mi) AS n_members
        FROM per_member
        GROUP BY year
        ORDER BY year
        """,
    ).astype({"year": "int64", "reported": "int64", "progressing": "int64", "n_reporting": "int64",
              "n_members": "int64"})
    if disclosure.public_mode():
        frame = frame.astype({"reported": "Int64", "progressing": "Int64"})
        frame.loc[~_eu_total_shown(frame["n_members"]), ["reported", "progressing"]] = pd.NA
    return frame.drop(columns="n_members")


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
    synthetic = is_synthetic(vintage)
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
        _published_flags(vintage, "respondents", year, respondents, synthetic),
    ))
    progress = commitments_progress(vintage)
    share = _value_at(progress, year, "share")
    reporting = int(_value_at(progress, year, "n_reporting") or 0)
    result.append(Kpi(
        "commitments_progressing_share", "Commitments progressing", "share", year, share, previous_year,
        _value_at(progress, previous_year, "share"),
        Coverage(reporting, int(respondents or 0), registered),
        _published_flags(vintage, "commitments_progressing_share", year, share, synthetic),
    ))
    return tuple(result)


def _published_flags(vintage: Vintage, indicator: str, year: int, value: float | None, synthetic: bool) -> Flags:
    pub = published_figure(vintage, indicator, year, year)
    if pub is None:
        return Flags(synthetic=synthetic, not_published=True, break_in_series=False)
    return Flags(
        synthetic=synthetic, not_published=False, break_in_series=False, published_value=float(pub["value"]),
        published_qualifier=str(pub["qualifier"] or ""), published_status=str(pub["status"] or ""),
        comparison=compare_published(value, float(pub["value"]), str(pub["qualifier"] or "")),
    )


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
        WITH monthly AS (
            SELECT
                last_day(joined_on) AS as_of,
                count(*) AS joined
            FROM members
            WHERE joined_on IS NOT NULL
            GROUP BY as_of
        )
        SELECT
            as_of,
            joined,
            CAST(sum(joined) OVER (ORDER BY as_of) AS BIGINT) AS members
        FROM monthly
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
    frame = _query(vintage, "SELECT kind, count(*) AS n FROM partnerships WHERE launched_by IS NULL GROUP BY kind")
    return {str(k): int(n) for k, n in zip(frame["kind"], frame["n"], strict=True)}


@_cached
def pledge_totals(vintage: Vintage) -> pd.DataFrame:
    frame = _query(vintage, "SELECT * FROM pledge_totals ORDER BY as_of")
    frame["as_of"] = pd.to_datetime(frame["as_of"])
    return frame


# --------------------------------------------------------------------------------------------------------------
# Partnerships
# --------------------------------------------------------------------------------------------------------------


@_cached
def partnerships(vintage: Vintage) -> pd.DataFrame:
    """Reference rows of every partnership with its member count."""
    frame = _query(
        vintage,
        """
        WITH member_counts AS (
            SELECT
                partnership_id,
                count(DISTINCT member_id) AS n_members
            FROM memberships
            GROUP BY partnership_id
        )
        SELECT
            p.*,
            e.name AS ecosystem,
            coalesce(mc.n_members, 0) AS n_members
        FROM partnerships AS p
        LEFT JOIN ecosystems AS e USING (ecosystem_id)
        LEFT JOIN member_counts AS mc USING (partnership_id)
        ORDER BY p.kind, p.name
        """,
    )
    frame["n_members"] = frame["n_members"].astype("int64")
    frame["pledge_people"] = frame["pledge_people"].astype("Int64")
    frame["pledge_year"] = frame["pledge_year"].astype("Int64")
    return frame


@_cached
def partnership_values(vintage: Vintage, indicator: str) -> pd.DataFrame:
    """Per partnership and wave: the sum over its members (each from the year it joined), and who reported."""
    meta = indicator_meta(vintage, indicator)
    frame = _query(
        vintage,
        """
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
        """,
        {"indicator": indicator},
    )
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


# --------------------------------------------------------------------------------------------------------------
# Data page: runs, inputs, statuses, rejects, corrections, published figures
# --------------------------------------------------------------------------------------------------------------

RUN_COLUMNS = tuple(f.name for f in dataclasses.fields(RunRecord))


@functools.lru_cache(maxsize=8)
def _runs(path: str, _mtime_ns: int, _size: int) -> pd.DataFrame:
    with open(path, encoding="utf-8", errors="replace") as log_file:
        rows = [dataclasses.asdict(record) for record in parse_runlog(log_file)]
    frame = pd.DataFrame(rows, columns=list(RUN_COLUMNS))
    return frame.iloc[::-1].reset_index(drop=True)  # newest first


def runs() -> pd.DataFrame:
    """The pipeline's run log (runs.jsonl, kept beside the snapshots so failed runs are listed too), newest first."""
    path = curated_dir() / RUNLOG
    try:
        stat = path.stat()
    except OSError:
        return pd.DataFrame(columns=list(RUN_COLUMNS))
    frame = _runs(str(path), stat.st_mtime_ns, stat.st_size).copy()
    if disclosure.public_mode():
        # a failed run's error quotes the raw data ("commitment 1 of PFS-000777 is listed twice"): status and time only
        frame["error"] = frame["error"].where(frame["error"].isna() | (frame["error"] == ""), "(not shown in public mode)")
    return frame


def inputs(vintage: Vintage) -> pd.DataFrame:
    """The input files of a snapshot with their checksums, as listed in its manifest."""
    columns = ["path", "kind", "rows", "sha256", "title", "received"]
    rows = [{c: getattr(entry, c) for c in columns} for entry in manifest(vintage).inputs]
    return pd.DataFrame(rows, columns=columns)


@_cached
def status_counts(vintage: Vintage) -> pd.DataFrame:
    """Raw survey rows per wave and status (accepted, superseded, test, blank, rejected) and in total."""
    frame = _query(
        vintage,
        """
        SELECT
            wave,
            status,
            count(*) AS n
        FROM submissions
        GROUP BY wave, status
        """,
    )
    table = frame.pivot_table(index="wave", columns="status", values="n", aggfunc="sum", fill_value=0)
    for status in SUBMISSION_STATUSES:
        if status not in table.columns:
            table[status] = 0
    table = table[list(SUBMISSION_STATUSES)].astype("int64")
    table["rows_read"] = table.sum(axis=1)
    table = table.reset_index().rename(columns={"wave": "year"})
    table.columns.name = None
    return table.astype({"year": "int64"})


@_cached
def rejects(vintage: Vintage) -> pd.DataFrame:
    """Every value or row that did not land, with its place in the raw file and the reason (first rows only)."""
    return _query(
        vintage,
        """
        SELECT
            source_file,
            sheet,
            row,
            "column",
            contribution_id,
            value,
            reason_code,
            reason
        FROM rejects
        ORDER BY source_file, row, "column"
        LIMIT $limit
        """,
        {"limit": MAX_REJECT_ROWS},
    ) if not disclosure.public_mode() else _public_rejects(vintage)


@_cached
def reject_count(vintage: Vintage) -> int:
    return int(_query(vintage, "SELECT count(*) AS n FROM rejects")["n"].iloc[0])


PUBLIC_CORRECTION_COLUMNS = ("wave", "indicator", "action", "status", "corrections")


@_cached
def corrections(vintage: Vintage) -> pd.DataFrame:
    """Every correction with what was done. In public mode only how many corrections there were per wave, indicator,
    action and status: a correction's detail ("set to 781 (was 780)"), reason, member and submission are one
    member's data."""
    frame = _query(vintage, "SELECT * FROM corrections_applied ORDER BY correction_id")
    if disclosure.public_mode():
        counted = frame.assign(indicator=frame["indicator"].fillna("").replace("", "(whole submission)"))
        counted = counted.groupby(["wave", "indicator", "action", "status"], as_index=False, dropna=False).size()
        return counted.rename(columns={"size": "corrections"})[list(PUBLIC_CORRECTION_COLUMNS)]
    return frame


@_cached
def expected_changes(vintage: Vintage) -> pd.DataFrame:
    """The jumps on the previous wave that a wave's sidecar acknowledged, with its reason. In public mode without
    the totals and their ratio: an EU total is published only when enough members report it, and these are not
    checked by the release."""
    frame = _query(vintage, "SELECT * FROM expected_changes ORDER BY wave, indicator")
    if disclosure.public_mode():
        frame = frame.assign(previous_total=pd.NA, total=pd.NA, factor=pd.NA)
    return frame


@_cached
def _annual_sums(vintage: Vintage) -> pd.DataFrame:
    return _query(
        vintage,
        """
        SELECT
            f.year,
            i.indicator,
            CAST(sum(f.value) AS BIGINT) AS raw_value,
            count(DISTINCT f.mi) AS n_reporting
        FROM hot_facts AS f
        JOIN hot_indicators AS i USING (ic)
        GROUP BY f.year, i.indicator
        """,
    )


def computed_figure(vintage: Vintage, indicator: str, start: int, end: int) -> float | None:
    """The figure computed here for a published indicator and period, in the published unit (None: not here)."""
    catalogue = {m.indicator: m for m in indicator_catalogue(vintage)}
    if indicator in catalogue:
        meta = catalogue[indicator]
        if start != end and not meta.sum_over_years:
            return None
        sums = _annual_sums(vintage)
        rows = sums[(sums["indicator"] == indicator) & sums["year"].between(start, end)]
        if rows.empty or (disclosure.public_mode() and not _eu_total_shown(rows["n_reporting"]).all()):
            return None
        return float(int(rows["raw_value"].sum())) / meta.scale
    if indicator == "respondents" and start == end:
        return _value_at(_respondents_frame(vintage), start, "n_respondents")
    if indicator == "commitments_progressing_share":
        progress = _commitments_frame(vintage)
        rows = progress[progress["year"].between(start, end)]
        if rows["reported"].isna().any():  # withheld in public mode
            return None
        reported = int(rows["reported"].sum())
        return float(rows["progressing"].sum()) / reported if reported else None
    return None


@_cached
def published_vs_computed(vintage: Vintage) -> pd.DataFrame:
    """Each figure the Commission published beside the figure computed here, and how they compare."""
    pub = _published(vintage)
    computed = [
        computed_figure(vintage, str(r.indicator), int(r.period_start), int(r.period_end)) for r in pub.itertuples()
    ]
    frame = pub[["figure_id", "indicator", "period_start", "period_end", "period_kind", "value", "unit", "qualifier",
                 "status", "derivation", "source_url"]].copy()
    frame = frame.rename(columns={"value": "published"})
    frame["computed"] = computed
    frame["computed_from"] = "survey"
    frame = pd.concat([frame, _published_counts_vs_computed(vintage)], ignore_index=True)
    frame["comparison"] = [
        compare_published(c, float(p), str(q or "")) or "not computed here"
        for c, p, q in zip(frame["computed"], frame["published"], frame["qualifier"], strict=True)
    ]
    return frame.reset_index(drop=True)


# The membership timeline's published counts, each against the count on the same day from the registry (members)
# or the partnerships table (each counted from the day the sources place it by).
TIMELINE_COUNTS = {"members": "members", "large_scale_partnerships": "large-scale",
                   "regional_partnerships": "regional"}


def _published_counts_vs_computed(vintage: Vintage) -> pd.DataFrame:
    timeline = membership_timeline(vintage)
    joined = _query(vintage, "SELECT joined_on FROM members WHERE joined_on IS NOT NULL")["joined_on"]
    joined = pd.to_datetime(joined)
    known = _query(vintage, "SELECT kind, launched_by FROM partnerships WHERE launched_by IS NOT NULL")
    known["launched_by"] = pd.to_datetime(known["launched_by"])
    rows = []
    for r in timeline.itertuples():
        for column, kind in TIMELINE_COUNTS.items():
            value = getattr(r, column)
            if pd.isna(value):
                continue
            if column == "members":
                computed, basis = int((joined <= r.as_of).sum()), "registry (members joined by that day)"
            else:
                computed = int(((known["kind"] == kind) & (known["launched_by"] <= r.as_of)).sum())
                basis = "reference table (partnerships the sources place by that day)"
            rows.append({
                "figure_id": f"TL-{r.as_of:%Y%m%d}-{column}", "indicator": column,
                "period_start": r.as_of.year, "period_end": r.as_of.year, "period_kind": f"as of {r.as_of:%d %b %Y}",
                "published": float(value), "unit": "members" if column == "members" else "partnerships",
                "qualifier": r.qualifier if isinstance(r.qualifier, str) else "", "status": "published",
                "derivation": "", "source_url": r.source_url, "computed": float(computed), "computed_from": basis,
            })
    return pd.DataFrame(rows, columns=["figure_id", "indicator", "period_start", "period_end", "period_kind",
                                       "published", "unit", "qualifier", "status", "derivation", "source_url",
                                       "computed", "computed_from"])


# --------------------------------------------------------------------------------------------------------------
# About: sources
# --------------------------------------------------------------------------------------------------------------


@_cached
def sources(vintage: Vintage) -> pd.DataFrame:
    """Public pages the reference tables cite (one row per table and URL)."""
    frame = _query(
        vintage,
        """
        WITH cited AS (
            SELECT 'ecosystems' AS reference_table, source_url FROM ecosystems
            UNION ALL
            SELECT 'member_states', source_url FROM member_states
            UNION ALL
            SELECT 'partnerships', source_url FROM partnerships
            UNION ALL
            SELECT 'targets', source_url FROM targets
            UNION ALL
            SELECT 'pledge_totals', source_url FROM pledge_totals
            UNION ALL
            SELECT 'membership_timeline', source_url FROM membership_timeline
            UNION ALL
            SELECT 'published_figures', source_url FROM published_figures
        ),
        split AS (
            SELECT
                reference_table,
                trim(unnest(string_split(source_url, ' ; '))) AS url
            FROM cited
            WHERE source_url IS NOT NULL
        )
        SELECT
            reference_table,
            url,
            count(*) AS rows_citing
        FROM split
        WHERE url <> ''
        GROUP BY reference_table, url
        ORDER BY reference_table, url
        """,
    )
    frame["rows_citing"] = frame["rows_citing"].astype("int64")
    return frame


@_cached
def _survey_files(vintage: Vintage) -> pd.DataFrame:
    return _query(vintage, "SELECT DISTINCT wave, source_file FROM submissions ORDER BY wave, source_file")


def survey_files(vintage: Vintage, wave: int) -> tuple[str, ...]:
    """The raw survey files of one wave (as named in `submissions` and `rejects`)."""
    frame = _survey_files(vintage)
    return tuple(frame.loc[frame["wave"] == wave, "source_file"])


# --------------------------------------------------------------------------------------------------------------
# Public mode (PACT_PUBLIC=1): small-cell suppression, applied here so every page, export and URL gets it
# --------------------------------------------------------------------------------------------------------------
# The rules are dashboard/disclosure.py's: one release per indicator and year, decided over the atoms (reporting
# members grouped by everything a filter or a breakdown selects on), and every figure shown only when it follows
# from that release, so no combination of views gives back what one view withholds. Withheld figures become
# missing values (NaN): every consumer already shows a missing value as "no figure". Member counts stay: who is
# a Pact member is public, values are not.

# Per year, the reporting members grouped by primary ecosystem, Member State, member type and the partnerships
# they had joined by that year (a partnership counts its members from the year they joined, as in every query).
_ATOMS_SQL = """
WITH reporting AS (
    SELECT
        year,
        mi
    FROM hot_facts
    WHERE ic = (SELECT ic FROM hot_indicators WHERE indicator = $indicator)
),
joined AS (
    SELECT
        r.year,
        r.mi,
        list_sort(list_distinct(list(ms.partnership_id))) AS partnerships
    FROM reporting AS r
    LEFT JOIN hot_memberships AS ms
        ON ms.mi = r.mi
       AND ms.joined_year <= r.year
    GROUP BY r.year, r.mi
)
SELECT
    CAST(j.year AS INTEGER) AS year,
    m.primary_ecosystem_id AS ecosystem,
    m.country_code AS member_state,
    m.member_type,
    j.partnerships,
    count(*) AS n_members
FROM joined AS j
JOIN hot_members AS m USING (mi)
GROUP BY ALL
ORDER BY ALL
"""

# Filter name -> the atom column it selects on; a breakdown by ecosystem, member_state or member_type uses the
# atom column of the same name.
_FILTER_COLUMNS = (("ecosystems", "ecosystem"), ("countries", "member_state"), ("member_types", "member_type"))
_CELL_COLUMNS = ("ecosystem", "member_state", "member_type")


@dataclass(frozen=True)
class _YearRelease:
    """One indicator's atoms in one year and the release decided over them."""

    atoms: pd.DataFrame  # ecosystem, member_state, member_type, n_members
    partnership_ids: tuple[str, ...]
    joined: np.ndarray  # bool, atoms x partnership_ids: the partnerships each atom's members had joined
    release: disclosure.Release

    def scope(self, filters: Filters) -> np.ndarray:
        """The atoms a selection keeps (filters combine with "and", values within one with "or")."""
        kept = np.ones(len(self.atoms), dtype=bool)
        for name, column in _FILTER_COLUMNS:
            values = getattr(filters, name)
            if values:
                kept &= self.atoms[column].isin(values).to_numpy(dtype=bool)
        if filters.partnerships:
            kept &= self.in_any(filters.partnerships)
        return kept

    def in_any(self, partnerships: tuple[str, ...]) -> np.ndarray:
        columns = [k for k, p in enumerate(self.partnership_ids) if p in partnerships]
        return self.joined[:, columns].any(axis=1)

    def cell(self, by: str, key: object) -> np.ndarray:
        """The atoms in one cell of a breakdown (by ecosystem, member_state, member_type or partnership)."""
        if by == "partnership":
            return self.in_any((str(key),))
        return _attribute_cell(self.atoms, by, key)


def _attribute_cell(atoms: pd.DataFrame, column: str, key: object) -> np.ndarray:
    """The atoms whose `column` is `key` (a missing key: the atoms where it is missing, as SQL groups them)."""
    values = atoms[column]
    return (values.isna() if pd.isna(key) else values == key).to_numpy(dtype=bool)


def _plan_year(atoms: pd.DataFrame) -> _YearRelease:
    ids = tuple(sorted({p for listed in atoms["partnerships"] for p in listed}))
    position = {p: k for k, p in enumerate(ids)}
    joined = np.zeros((len(atoms), len(ids)), dtype=bool)
    for row, listed in enumerate(atoms["partnerships"]):
        joined[row, [position[p] for p in listed]] = True
    atoms = atoms[["ecosystem", "member_state", "member_type", "n_members"]].reset_index(drop=True)
    sizes = atoms["n_members"].to_numpy(dtype=np.int64)
    # The order of importance: the EU total, then each breakdown's cells, largest first (so a breakdown's
    # complement is its smallest cell that is safe on its own).
    candidates = [np.ones(len(atoms), dtype=bool)]
    for column in _CELL_COLUMNS:
        cells = atoms.groupby(column, dropna=False, sort=True)["n_members"].sum()
        for key in cells.sort_values(ascending=False, kind="stable").index:
            candidates.append(_attribute_cell(atoms, column, key))
    members = (joined * sizes[:, np.newaxis]).sum(axis=0)
    for k in sorted(range(len(ids)), key=lambda k: (-members[k], ids[k])):
        candidates.append(joined[:, k])
    return _YearRelease(atoms, ids, joined, disclosure.plan_release(sizes, np.array(candidates)))


@_cached
def _releases(vintage: Vintage, indicator: str) -> dict[int, _YearRelease]:
    """Per year with facts, the indicator's release (shared by every cached result: never altered)."""
    frame = _query(vintage, _ATOMS_SQL, {"indicator": indicator})
    return {int(year): _plan_year(atoms) for year, atoms in frame.groupby("year", sort=True)}


def _shown(
    vintage: Vintage, indicator: str, filters: Filters, by: str, keys: list[object], year_from: int, year_to: int
) -> np.ndarray:
    """Per key, whether its figure (the cell of breakdown `by`, or with `by=""` the filtered total, one key)
    follows from the release in every year of the range."""
    shown = np.ones(len(keys), dtype=bool)
    for year, planned in _releases(vintage, indicator).items():
        if not year_from <= year <= year_to:
            continue
        scope = planned.scope(filters)
        if by == "year":
            views = np.array([scope if key == str(year) else np.zeros_like(scope) for key in keys])
        elif by:
            views = np.array([scope & planned.cell(by, key) for key in keys])
        else:
            views = scope[np.newaxis, :]
        shown &= planned.release.shows(views)
    return shown


def _withhold(frame: pd.DataFrame, shown: np.ndarray) -> pd.DataFrame:
    frame = frame.copy()
    frame["value"] = frame["value"].where(shown, float("nan")).astype("float64")
    frame["raw_value"] = frame["raw_value"].astype("Float64").where(shown, pd.NA)
    return frame


def _eu_total_shown(n_reporting: pd.Series) -> pd.Series:
    """The EU total is the release's first figure: published unless built from 1 or 2 members. Deciding it from
    the count spares the Progress and Data pages a release per indicator."""
    return ~n_reporting.between(1, disclosure.THRESHOLD - 1)


def _withhold_yearly(vintage: Vintage, indicator: str, filters: Filters, frame: pd.DataFrame) -> pd.DataFrame:
    if filters.is_empty:
        shown = _eu_total_shown(frame["n_reporting"]).to_numpy(dtype=bool)
    else:
        shown = np.array([_shown(vintage, indicator, filters, "", [None], y, y)[0] for y in frame["year"]], dtype=bool)
    return _withhold(frame, shown)


def _withhold_breakdown(
    vintage: Vintage, indicator: str, by: str, year_from: int, year_to: int, filters: Filters, frame: pd.DataFrame
) -> pd.DataFrame:
    return _withhold(frame, _shown(vintage, indicator, filters, by, list(frame["key"]), year_from, year_to))


def _withhold_partnership_values(vintage: Vintage, indicator: str, frame: pd.DataFrame) -> pd.DataFrame:
    shown = np.ones(len(frame), dtype=bool)
    for year, rows in frame.groupby("year", sort=False).indices.items():
        keys = list(frame["partnership_id"].iloc[rows])
        shown[rows] = _shown(vintage, indicator, NO_FILTERS, "partnership", keys, int(year), int(year))
    return _withhold(frame, shown)


def _public_rejects(vintage: Vintage) -> pd.DataFrame:
    """Rejects as counts per file, column and reason: a reject's row, submission, value and its reason text
    (which quotes the value) are member-level and stay on the server."""
    frame = _query(vintage, 'SELECT source_file, sheet, "column", reason_code FROM rejects')
    counts = disclosure.public_rejects(frame)
    return pd.DataFrame({
        "source_file": counts["source_file"],
        "sheet": counts["sheet"],
        "row": pd.array([pd.NA] * len(counts), dtype="Int32"),
        "column": counts["column"],
        "contribution_id": "",
        "value": "",
        "reason_code": counts["reason_code"],
        "reason": [f"{n} value(s) or row(s) rejected (public mode: details withheld)" for n in counts["rejects"]],
    })

"""The data layer's core: snapshots and vintages, the one DuckDB connection and the result cache. The package
(`dashboard/data/`) is the only code that talks to DuckDB and the only reader of `data/curated/`.

- The curated directory comes from `PACT_CURATED_DIR` (default `<repo>/data/curated`). A vintage is one kept
  snapshot (`snapshots/<vintage_id>/` with a `manifest.json`); `current` is whatever the symlink resolves to.
  A vintage id from a URL is only used after it is found in that list.
- One DuckDB connection per process, opened lazily and re-opened after a fork (gunicorn workers each get their
  own). Each snapshot gets a schema of views over its Parquet files, plus compact in-memory copies of the
  tables every filtered figure joins (integer member keys) and their aggregates (dashboard/data/tables.py), kept
  compressed in an in-memory database attached as `snapshots`; every query runs on its own `cursor()` (a DuckDB
  connection must not be shared across threads) with `search_path` set to that schema, so the SQL text is
  constant and every user-supplied value is a bound parameter.
- Results are cached per (public mode, snapshot, parameters). Snapshots never change once written, so the cache never goes
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

import atexit
import functools
import itertools
import logging
import os
import re
import shutil
import tempfile
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import duckdb
import pandas as pd
import pyarrow.parquet as pq

from dashboard import disclosure
from dashboard.data import tables
from pipelines.schema import TABLES
from pipelines.snapshots import CURRENT, MANIFEST, SNAPSHOTS

log = logging.getLogger(__name__)

REPO_ROOT = Path(__file__).resolve().parents[2]  # dashboard/data/core.py -> the repository
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
TOTAL = "total"  # the pseudo-dimension of a breakdown's total row: every member of a selection in one cell
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
_connection_state: dict[str, Any] = {"pid": None, "con": None, "schemas": {}, "aggregated": set()}
# The in-memory database holding every snapshot's schema. Attached with COMPRESS, so a checkpoint stores the hot
# tables compressed: at 100x they take ~10 MB instead of ~48 MB, and each is compressed as soon as it is built, so
# building one does not stack on the uncompressed copies of the others (a worker's peak RSS, measured).
DB = "snapshots"
# DuckDB's working memory while a snapshot's tables are built, on top of what it already holds (other snapshots).
BUILD_MEMORY = 64 * 2**20
# Schema names are never reused: a dropped snapshot's number is not given to the next one.
_schema_serial = itertools.count()


def _connection() -> tuple[duckdb.DuckDBPyConnection, dict[str, str]]:
    """The process's connection, (re)opened lazily: a forked worker must not reuse its parent's."""
    pid = os.getpid()
    if _connection_state["pid"] != pid:
        with _lock:
            if _connection_state["pid"] != pid:
                # One thread per query: a worker answers several requests at once and gunicorn runs several workers,
                # so more would only contend for the same cores. At 100x the sample it costs 3-5% per query and
                # saves ~25 MB of a worker's peak RSS (hash tables per thread while the aggregates are built).
                con = duckdb.connect(":memory:", config={"threads": 1})
                # Parquet footers are read once per file, not once per query.
                con.execute("SET enable_object_cache = true")
                # DuckDB's allocator keeps the pages a query freed for the next one. A background thread hands those
                # idle for a second back to the system: at 100x the sample a worker's peak RSS went from 293-305 to
                # 284-294 MB over the same requests, with the first answers as fast (measured).
                con.execute("SET allocator_background_threads = true")
                # Spills (see BUILD_MEMORY) go to the system's temporary directory, not to the working one.
                _remove_stale_spills()
                con.execute("SET temp_directory = ?", [str(_spill_dir(pid))])
                con.execute(f"ATTACH ':memory:' AS {DB} (COMPRESS)")
                _connection_state.update(pid=pid, con=con, schemas={}, aggregated=set())
                _clear_caches()
    return _connection_state["con"], _connection_state["schemas"]


# A bounded build may leave part of the hot tables in DuckDB's temporary files (about 8 MB at 100x): they live as
# long as the connection. Closing it at exit removes them; a process killed before that leaves its directory,
# which the next process to connect removes.
_SPILL_PREFIX = "pact-monitor-duckdb-"


def _spill_dir(pid: int) -> Path:
    return Path(tempfile.gettempdir()) / f"{_SPILL_PREFIX}{pid}"


def _remove_stale_spills() -> None:
    """Remove the spill directories of processes that have ended."""
    for path in Path(tempfile.gettempdir()).glob(f"{_SPILL_PREFIX}*"):
        pid = path.name.removeprefix(_SPILL_PREFIX)
        if pid.isdigit() and not _running(int(pid)):
            shutil.rmtree(path, ignore_errors=True)


def _running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process
        return True
    return True


@atexit.register
def _close_own_connection() -> None:
    """Close this process's connection, if it opened one (a forked child's inherited one is its parent's)."""
    con = _connection_state.get("con")
    if con is not None and _connection_state.get("pid") == os.getpid():
        con.close()


def _sql_string(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


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
            try:
                aggregated = _build_schema(cur, schema, snapshot, BUILD_MEMORY)
            except duckdb.OutOfMemoryException:
                # Bounding is a saving, not a condition: a snapshot too large to build within it is built without.
                log.warning("snapshot %s: building its tables within %d MB failed; building them without a bound",
                            vintage.vintage_id, BUILD_MEMORY // 2**20)
                cur.execute(f"DROP SCHEMA {DB}.{schema} CASCADE")
                aggregated = _build_schema(cur, schema, snapshot, None)
            counts = cur.execute(
                "SELECT (SELECT count(*) FROM facts), (SELECT count(*) FROM hot_facts)"
            ).fetchone()
            if counts is None:  # cannot happen: a SELECT without FROM gives exactly one row
                raise DataUnavailable(f"snapshot {vintage.vintage_id}: its facts could not be counted")
            facts, hot = counts
            if facts != hot:
                raise DataUnavailable(
                    f"snapshot {vintage.vintage_id}: {facts - hot} facts belong to no registered member"
                )
        except duckdb.Error as exc:
            raise DataUnavailable(f"snapshot {vintage.vintage_id} cannot be read: {exc}") from exc
        finally:
            cur.close()
        schemas[vintage.path] = schema
        if aggregated:
            _connection_state["aggregated"].add(schema)
        return schema


def _build_schema(cur: duckdb.DuckDBPyConnection, schema: str, snapshot: Path, bound: int | None) -> bool:
    """Create `schema` with the snapshot's views and build its in-memory tables there, with DuckDB's working memory
    bounded to `bound` bytes over what it already holds (None: no bound). Returns whether the aggregates were built."""
    cur.execute(f"CREATE SCHEMA {DB}.{schema}")
    for name in VIEW_NAMES:
        # DDL cannot take bound parameters. The schema name is generated here, the view name is from the
        # contract's allow-list and the path is a directory this module listed and validated itself.
        path = snapshot / f"{name}.parquet"
        parquet = f"SELECT *{_added_columns(name, path)} FROM read_parquet({_sql_string(str(path))})"  # noqa: S608
        source = parquet if path.is_file() else ADDED_LATER[name]
        cur.execute(f"CREATE VIEW {DB}.{schema}.{name} AS {source}")
    cur.execute("SET search_path = ?", [f"{DB}.{schema}"])
    if bound is not None:
        # The build's joins and aggregations hold hash tables over every member. At 100x the sample they took a
        # booting worker from 200 to 320 MB unbounded, to 299 MB within 64 MB (32 MB is too little there): DuckDB
        # works through them in parts and spills to disk. Queries running meanwhile (a rebuild) share the bound.
        held = cur.execute("SELECT sum(memory_usage_bytes) FROM duckdb_memory()").fetchone()
        cur.execute("SET memory_limit = ?", [f"{((held or (0,))[0] or 0) + bound:d}B"])
    try:
        # Each table is compressed as soon as it is built. FORCE waits for queries running on other threads (a
        # plain CHECKPOINT fails while one is); they take under a second, and none waits on _lock meanwhile.
        return tables.build(cur, snapshot, checkpoint=lambda: cur.execute(f"FORCE CHECKPOINT {DB}"))
    finally:
        if bound is not None:
            cur.execute("RESET memory_limit")


def has_aggregates(vintage: Vintage) -> bool:
    """Whether the snapshot's aggregates were built (dashboard/data/tables.py): its years fit their bits."""
    return _schema_for(vintage) in _connection_state["aggregated"]


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
        _connection_state["aggregated"].discard(schema)
        # The name was generated by _schema_for; DDL takes no bound parameters.
        con.execute(f"DROP SCHEMA IF EXISTS {DB}.{schema} CASCADE")
        log.info("dropped %s: snapshot %s is no longer kept", schema, Path(path).name)


def _query(vintage: Vintage, sql: str, params: dict[str, object] | None = None) -> pd.DataFrame:
    schema = _schema_for(vintage)
    con, _ = _connection()
    cur = con.cursor()
    try:
        cur.execute("SET search_path = ?", [f"{DB}.{schema}"])
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
    @functools.wraps(fn)  # the cache introspects as `fn` (name, parameters): the benchmarks tell per-snapshot results by them
    def cached(public: bool, *args: Any, **kwargs: Any) -> Any:
        return fn(*args, **kwargs)

    _caches.append(cached)

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        result = cached(disclosure.public_mode(), *args, **kwargs)
        return result.copy() if isinstance(result, pd.DataFrame) else result

    return wrapper  # type: ignore[return-value]


# The same cache for results computed from the data layer's answers outside the package (dashboard/crosstab.py's
# measured cells): keyed on the vintage, the arguments and public mode, never stale.
cached = _cached


_ahead_pool: dict[str, Any] = {"pid": None, "pool": None}
R = TypeVar("R")


def ahead(fn: Callable[..., R], *args: Any) -> Future[R]:
    """Start `fn(*args)`, a cached question a page will need once it has built something else, on a worker thread.

    DuckDB answers a query without holding the GIL, so the two overlap: a page asking for its status line's totals
    while it builds its cells answers 2-11 ms sooner the first time (at 100x). The future gives the (copied) result
    and re-raises the question's error; the answer is in the cache as well. The pool, two threads per process, is
    made in the process that first uses it (a forked worker does not inherit its parent's threads)."""
    pid = os.getpid()
    if _ahead_pool["pid"] != pid:
        with _lock:
            if _ahead_pool["pid"] != pid:
                _ahead_pool.update(pid=pid, pool=ThreadPoolExecutor(max_workers=2, thread_name_prefix="data-ahead"))
    return _ahead_pool["pool"].submit(fn, *args)


def _clear_caches() -> None:
    for cache in _caches:
        cache.cache_clear()


def warm_up() -> str | None:
    """Open the current snapshot (its views and in-memory tables) before a worker takes requests, so the first
    visitor does not wait for it (about 0.4 s at 100 times the sample). Returns the vintage opened, or None when
    there is none or it cannot be read: the pages then say so, as they would have."""
    choice = resolve_vintage(None)
    if choice.vintage is None:
        return None
    try:
        _schema_for(choice.vintage)
    except DataUnavailable as exc:
        log.warning("warm-up: the current snapshot cannot be opened: %s", exc)
        return None
    return choice.vintage.vintage_id


def reset() -> None:
    """Forget the connection and every cached result (tests switch curated directories)."""
    with _lock:
        _close_own_connection()
        _connection_state.update(pid=None, con=None, schemas={}, aggregated=set())
    _clear_caches()

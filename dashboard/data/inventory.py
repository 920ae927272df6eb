"""The Data page's tables (runs, inputs, statuses, rejects, corrections, published vs computed) and the About page's sources."""

from __future__ import annotations

import dataclasses
import functools

import pandas as pd

from dashboard import disclosure
from dashboard.data.catalogue import indicator_catalogue, partnerships
from dashboard.data.core import MAX_REJECT_ROWS, Vintage, _cached, _query, curated_dir
from dashboard.data.filters import _annual_sums, _published, compare_published
from dashboard.data.membership import membership_timeline
from dashboard.data.public import _eu_total_shown, _public_rejects
from dashboard.data.totals import _commitments_frame, _respondents_frame, _value_at
from pipelines.runlog import RUNLOG, RunRecord, parse_runlog
from pipelines.schema import SUBMISSION_STATUSES

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
        # warnings quote rows, members and corrections too: how many, not what
        frame["warnings"] = [f"{len(text.splitlines())} (not shown in public mode)" if text else ""
                             for text in frame["warnings"].fillna("")]
    return frame




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


def computed_figure(vintage: Vintage, indicator: str, start: int, end: int) -> float | None:
    """The figure computed here for a published indicator and period, in the published unit (None: not here)."""
    catalogue = {m.indicator: m for m in indicator_catalogue(vintage)}
    if indicator in catalogue:
        meta = catalogue[indicator]
        if start != end and not meta.sum_over_years:
            return None
        sums = _annual_sums(vintage)
        rows = sums[(sums["indicator"] == indicator) & sums["year"].between(start, end)]
        if rows.empty or (disclosure.public_mode() and not _eu_total_shown(vintage, indicator, rows["year"]).all()):
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
    known = partnerships(vintage)[["kind", "launched_by"]].dropna()
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


def wave_rejects(vintage: Vintage, wave: int | None) -> pd.DataFrame:
    """The rejects of one survey wave (None: every reject). A reject names its raw file, and each survey file
    belongs to one wave."""
    frame = rejects(vintage)
    if wave is None:
        return frame
    return frame[frame["source_file"].isin(survey_files(vintage, wave))].reset_index(drop=True)

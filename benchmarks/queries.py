"""The query layer (dashboard/data/ over DuckDB) against plain pandas answering the same questions on the same
Parquet, with a check that both give the same numbers.

The yardstick is `pandas_mem`: the filter/merge/groupby on frames already in memory, read once (outside the
timed region) with only the columns the question needs — what a competent analyst writes for a dashboard whose
workers hold the tables. `pandas_read` (`pd.read_parquet` of whole tables on every call, then the same groupby) is
the old, weaker baseline, kept only so its retired ratio can be traced; no target is judged against it.

The query layer is measured two ways:
- cold: the results this question computes are dropped from its cache before every call (its connection, its
  views and the snapshot's dimensions stay, as in a worker that has served a page but was never asked this), so
  DuckDB really answers each time — the cost of the first time a question is asked;
- warm: asked again, answered from the data layer's result cache — the cost of a repeated question.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from benchmarks import adapters
from benchmarks.timing import measure, ratio

logger = logging.getLogger(__name__)

Tables = dict[str, pd.DataFrame]


@dataclass(frozen=True)
class Question:
    name: str
    columns: dict[str, tuple[str, ...]]  # table -> the columns its pandas answer reads
    duckdb: Callable[[Any, Any], pd.DataFrame]  # (data module, vintage) -> frame
    pandas: Callable[[Tables], pd.DataFrame]
    key: tuple[str, ...]
    compare: tuple[str, ...]
    per_snapshot: tuple[str, ...] = ()  # cached functions of the snapshot alone that this question computes

    @property
    def tables(self) -> tuple[str, ...]:
        return tuple(self.columns)


# ------------------------------------------------------------------------------------------- plain pandas answers


def _scope(t: Tables, ecosystems: tuple[str, ...] = (), countries: tuple[str, ...] = ()) -> pd.DataFrame:
    members = t["members"]
    mask = pd.Series(True, index=members.index)
    if ecosystems:
        mask &= members["primary_ecosystem_id"].isin(ecosystems)
    if countries:
        mask &= members["country_code"].isin(countries)
    return members[mask]


def pandas_yearly(t: Tables, indicator: str, ecosystems: tuple[str, ...] = (),
                  countries: tuple[str, ...] = ()) -> pd.DataFrame:
    """Per wave: total, members reporting, respondents, members registered by the end of the year."""
    filtered = bool(ecosystems or countries)
    members = _scope(t, ecosystems, countries)
    facts = t["facts"]
    facts = facts[facts["indicator"] == indicator]
    subs = t["submissions"]
    all_accepted = subs[subs["status"] == "accepted"]
    accepted = all_accepted
    if filtered:  # the EU total needs no join: every fact belongs to a member
        facts = facts[facts["member_id"].isin(members["member_id"])]
        accepted = all_accepted[all_accepted["member_id"].isin(members["member_id"])]
    totals = facts.groupby("year").agg(raw_value=("value", "sum"), n_reporting=("member_id", "nunique"))
    respondents = accepted.groupby("wave")["member_id"].nunique().rename("n_respondents")
    years = sorted(set(all_accepted["wave"].astype(int)) | set(t["facts"]["year"].astype(int)))
    joined_year = pd.to_datetime(members["joined_on"]).dt.year
    registered = pd.Series({y: int((joined_year <= y).sum()) for y in years}, name="n_registered")
    out = pd.DataFrame(index=pd.Index(years, name="year"))
    out = out.join(totals).join(respondents).join(registered)
    out = out.fillna({"n_reporting": 0, "n_respondents": 0}).reset_index()
    return out


def pandas_breakdown(t: Tables, indicator: str, by: str, year_from: int, year_to: int) -> pd.DataFrame:
    facts = t["facts"]
    facts = facts[(facts["indicator"] == indicator) & facts["year"].between(year_from, year_to)]
    if by == "partnership":
        ms = t["memberships"].assign(join_year=pd.to_datetime(t["memberships"]["joined_on"]).dt.year)
        merged = facts.merge(ms, on="member_id")
        merged = merged[merged["join_year"] <= merged["year"]]
        grouped = merged.groupby("partnership_id").agg(raw_value=("value", "sum"),
                                                       n_reporting=("member_id", "nunique"))
        return grouped.rename_axis("key").reset_index()
    column = {"ecosystem": "primary_ecosystem_id", "member_state": "country_code", "member_type": "member_type"}[by]
    merged = facts.merge(t["members"][["member_id", column]], on="member_id")
    grouped = merged.groupby(column).agg(raw_value=("value", "sum"), n_reporting=("member_id", "nunique"))
    return grouped.rename_axis("key").reset_index()


def pandas_partnership_values(t: Tables, indicator: str) -> pd.DataFrame:
    facts = t["facts"]
    facts = facts[facts["indicator"] == indicator]
    ms = t["memberships"].assign(join_year=pd.to_datetime(t["memberships"]["joined_on"]).dt.year)
    merged = facts.merge(ms, on="member_id")
    merged = merged[merged["join_year"] <= merged["year"]]
    return (merged.groupby(["partnership_id", "year"])
            .agg(raw_value=("value", "sum"), n_reporting=("member_id", "nunique")).reset_index())


def pandas_response_rates(t: Tables) -> pd.DataFrame:
    subs = t["submissions"]
    accepted = subs[subs["status"] == "accepted"]
    respondents = accepted.groupby("wave")["member_id"].nunique()
    joined_year = pd.to_datetime(t["members"]["joined_on"]).dt.year
    rows = [{"year": int(y), "n_respondents": int(n), "n_registered": int((joined_year <= y).sum())}
            for y, n in respondents.items()]
    return pd.DataFrame(rows)


def pandas_commitments(t: Tables) -> pd.DataFrame:
    facts = t["facts"]
    facts = facts[facts["indicator"].isin(["commitments_reported", "commitments_progressing"])]
    wide = facts.pivot_table(index=["year", "member_id"], columns="indicator", values="value", aggfunc="sum")
    wide = wide.reindex(columns=["commitments_reported", "commitments_progressing"])
    per_year = wide.groupby("year").agg(
        reported=("commitments_reported", "sum"), progressing=("commitments_progressing", "sum"),
        n_reporting=("commitments_reported", lambda s: int((s > 0).sum())),
    )
    return per_year.reset_index()


def pandas_members_over_time(t: Tables) -> pd.DataFrame:
    joined = pd.to_datetime(t["members"]["joined_on"]).dropna()
    month_end = joined + pd.offsets.MonthEnd(0)
    monthly = month_end.value_counts().sort_index()
    frame = pd.DataFrame({"as_of": monthly.index, "joined": monthly.to_numpy()})
    frame["members"] = frame["joined"].cumsum()
    return frame


# ------------------------------------------------------------------------------------------------ the questions


FACT_COLUMNS = ("year", "member_id", "indicator", "value")
SUBMISSION_COLUMNS = ("member_id", "wave", "status")


def _questions(data: Any) -> list[Question]:
    filters = data.Filters
    years = (2022, 2024)
    qs = [
        Question("yearly totals: people trained",
                 {"facts": FACT_COLUMNS, "members": ("member_id", "joined_on"), "submissions": SUBMISSION_COLUMNS},
                 lambda d, v: d.yearly_totals(v, "people_trained"),
                 lambda t: pandas_yearly(t, "people_trained"), ("year",),
                 ("raw_value", "n_reporting", "n_respondents", "n_registered")),
        Question("yearly totals: investment, one ecosystem and two Member States",
                 {"facts": FACT_COLUMNS, "submissions": SUBMISSION_COLUMNS,
                  "members": ("member_id", "joined_on", "primary_ecosystem_id", "country_code")},
                 lambda d, v: d.yearly_totals(v, "investment_eur", filters(ecosystems=("CONS",),
                                                                           countries=("DE", "FR"))),
                 lambda t: pandas_yearly(t, "investment_eur", ("CONS",), ("DE", "FR")), ("year",),
                 ("raw_value", "n_reporting", "n_respondents", "n_registered")),
    ]
    breakdown_columns = {
        "ecosystem": {"members": ("member_id", "primary_ecosystem_id")},
        "member_state": {"members": ("member_id", "country_code")},
        "member_type": {"members": ("member_id", "member_type")},
        "partnership": {"memberships": ("member_id", "partnership_id", "joined_on")},
    }
    for by in ("ecosystem", "member_state", "member_type", "partnership"):
        qs.append(Question(
            f"breakdown of people trained by {by.replace('_', ' ')}, 2022–2024",
            {"facts": FACT_COLUMNS, **breakdown_columns[by]},
            lambda d, v, by=by: d.breakdown(v, "people_trained", by, *years),
            lambda t, by=by: pandas_breakdown(t, "people_trained", by, *years), ("key",),
            ("raw_value", "n_reporting"),
        ))
    qs += [
        Question("partnership values: people trained per partnership and wave",
                 {"facts": FACT_COLUMNS, "memberships": ("member_id", "partnership_id", "joined_on")},
                 lambda d, v: d.partnership_values(v, "people_trained"),
                 lambda t: pandas_partnership_values(t, "people_trained"), ("partnership_id", "year"),
                 ("raw_value", "n_reporting")),
        Question("response rates per wave", {"submissions": SUBMISSION_COLUMNS, "members": ("joined_on",)},
                 lambda d, v: d.response_rates(v), pandas_response_rates, ("year",),
                 ("n_respondents", "n_registered"), ("_respondents_frame",)),
        Question("commitments progressing per wave", {"facts": FACT_COLUMNS},
                 lambda d, v: d.commitments_progress(v), pandas_commitments, ("year",),
                 ("reported", "progressing", "n_reporting"), ("_commitments_frame",)),
        Question("members over time (monthly)", {"members": ("joined_on",)},
                 lambda d, v: d.members_over_time(v), pandas_members_over_time, ("as_of",),
                 ("joined", "members"), ("members_over_time",)),
    ]
    return qs


def _same(duck: pd.DataFrame, plain: pd.DataFrame, q: Question) -> bool:
    try:
        left = duck[list(q.key + q.compare)].copy()
        right = plain[list(q.key + q.compare)].copy()
        for frame in (left, right):
            for column in q.key:
                if column == "as_of":
                    frame[column] = pd.to_datetime(frame[column]).dt.normalize().astype("datetime64[us]")
                else:
                    frame[column] = frame[column].astype(str)
            for column in q.compare:
                frame[column] = pd.to_numeric(frame[column]).astype("float64")
        left = left.sort_values(list(q.key)).reset_index(drop=True)
        right = right.sort_values(list(q.key)).reset_index(drop=True)
        return left.fillna(-1.0).equals(right.fillna(-1.0))
    except (KeyError, ValueError, TypeError) as exc:
        logger.warning("%s: cannot compare (%s)", q.name, exc)
        return False


def _cold(q: Question) -> None:
    """The state of a worker that has served a page before but was never asked this question: per-snapshot
    results (dimensions, catalogue, published figures) kept, everything this question computes dropped."""
    adapters.clear_query_cache(keep_per_snapshot=True, also=q.per_snapshot)


def compare(curated: Path, *, repeat: int) -> list[dict[str, Any]]:
    """Time every question both ways; the data module must already be importable in this process."""
    data = sys.modules.get("dashboard.data")
    if data is None:
        import dashboard.data as data
    choice = data.resolve_vintage(None)
    vintage = choice.vintage
    if vintage is None:
        raise RuntimeError(f"no current snapshot under {curated}")
    snapshot = Path(vintage.path)
    rows = []
    for q in _questions(data):
        # the analyst's frames: read once, before timing, with only the columns this question uses
        in_memory = {name: pd.read_parquet(snapshot / f"{name}.parquet", columns=list(cols))
                     for name, cols in q.columns.items()}
        cold_stats, duck = measure(lambda q=q: q.duckdb(data, vintage), repeat=repeat, warmup=1,
                                   before_each=lambda q=q: _cold(q))
        warm_stats, _ = measure(lambda q=q: q.duckdb(data, vintage), repeat=repeat, warmup=1)
        mem_stats, plain = measure(lambda q=q, t=in_memory: q.pandas(t), repeat=repeat, warmup=1)
        read_stats, _ = measure(
            lambda q=q: q.pandas({n: pd.read_parquet(snapshot / f"{n}.parquet") for n in q.tables}),
            repeat=repeat, warmup=1,
        )
        equal = _same(duck, plain, q)
        rows.append({
            "name": q.name, "columns": {n: list(c) for n, c in q.columns.items()},
            "duckdb": cold_stats.as_dict(), "duckdb_warm": warm_stats.as_dict(),
            "pandas_mem": mem_stats.as_dict(), "pandas_read": read_stats.as_dict(),
            "speedup_mem_cold": ratio(mem_stats, cold_stats), "speedup_mem_warm": ratio(mem_stats, warm_stats),
            "speedup_read": ratio(read_stats, cold_stats), "equal": equal,
        })
        logger.info("query %-70s duckdb cold %.1f ms, warm %.2f ms; pandas in memory %.1f ms (re-reading %.1f ms); "
                    "same answer: %s", q.name, cold_stats.median * 1000, warm_stats.median * 1000,
                    mem_stats.median * 1000, read_stats.median * 1000, equal)
    return rows

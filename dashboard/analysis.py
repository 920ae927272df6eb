"""Pure computations on query results: progress toward the pledges, the partnership ledger, peer benchmarks.

Frames in, new frames or frozen dataclasses out; nothing here reads data or touches DuckDB, so every rule is
tested on hand-made frames.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import pandas as pd

from dashboard import disclosure

# The Pact was launched on 10 November 2020; figures published "since its launch" start there.
PACT_LAUNCH_YEAR = 2020

# A peer group smaller than this gives a thin median and quartiles: the page says so beside them.
SMALL_PEER_GROUP = 5


# --------------------------------------------------------------------------------------------------------------
# Pledges (the reference table `targets`: the partnerships' collective pledges, the Pact's headline goals)
# --------------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class TargetProgress:
    target_id: str
    version: int
    people: int
    qualifier: str
    text: str
    announced_year: int | None
    deadline_year: int | None
    latest_year: int
    cumulative: float
    remaining: float
    first_year: int
    achieved_pace: float  # mean people trained per wave over first_year..latest_year
    needed_pace: float | None  # per year from latest_year + 1 to the deadline
    projected_year: int | None  # year the target is reached at the achieved pace
    status: str  # "reached" | "on track" | "off track" | "no deadline"
    path: tuple[tuple[int, float], ...]  # the straight line from the baseline to the target at the deadline
    source_url: str = ""  # the public page(s) the pledge is quoted from, " ; "-separated

    @property
    def first_source(self) -> str:
        return self.source_url.split(" ; ")[0].strip()

    @property
    def share_attained(self) -> float:
        return self.cumulative / self.people if self.people else float("nan")


def target_progress(cumulative: pd.DataFrame, targets: pd.DataFrame) -> tuple[TargetProgress, ...]:
    """Progress of cumulative people trained (`year`, `value`, `cumulative`) toward each target version.

    Achieved pace is the mean per wave; needed pace spreads what remains evenly over the years left to the
    deadline; the projected year assumes the achieved pace continues; the required path runs in a straight line
    from the cumulative figure at the end of the year before the target was announced to the target at its
    deadline.
    """
    if cumulative.empty:
        return ()
    frame = cumulative.sort_values("year")
    latest_year = int(frame["year"].iloc[-1])
    first_year = int(frame["year"].iloc[0])
    total = float(frame["cumulative"].iloc[-1])
    pace = total / len(frame)
    result = []
    for row in targets.sort_values("version").itertuples():
        people = int(row.people)
        deadline = None if pd.isna(row.deadline_year) else int(row.deadline_year)
        announced = _announced_year(row)
        remaining = max(people - total, 0.0)
        needed = remaining / (deadline - latest_year) if deadline and deadline > latest_year else None
        if remaining == 0:
            projected: int | None = latest_year
        elif pace > 0:
            projected = latest_year + math.ceil(remaining / pace)
        else:
            projected = None
        if remaining == 0:
            status = "reached"
        elif deadline is None:
            status = "no deadline"
        elif projected is not None and projected <= deadline:
            status = "on track"
        else:
            status = "off track"
        path: tuple[tuple[int, float], ...] = ()
        if deadline is not None:
            base_year = (announced - 1) if announced is not None else first_year - 1
            before = frame[frame["year"] <= base_year]
            base_value = float(before["cumulative"].iloc[-1]) if not before.empty else 0.0
            base_year = int(before["year"].iloc[-1]) if not before.empty else first_year - 1
            path = ((base_year, base_value), (deadline, float(people)))
        result.append(TargetProgress(
            target_id=str(row.target_id), version=int(row.version), people=people,
            qualifier=str(row.qualifier or ""), text=str(row.text or ""), announced_year=announced,
            deadline_year=deadline, latest_year=latest_year, cumulative=total, remaining=remaining,
            first_year=first_year, achieved_pace=pace, needed_pace=needed, projected_year=projected,
            status=status, path=path, source_url=str(getattr(row, "source_url", "") or ""),
        ))
    return tuple(result)


def _announced_year(row: object) -> int | None:
    """The year a target was announced: as the sources give it, else from the announcement date."""
    year = getattr(row, "announced_year", None)
    if year is not None and not pd.isna(year):
        return int(year)
    announced_on = getattr(row, "announced_on", None)
    return None if announced_on is None or pd.isna(announced_on) else pd.Timestamp(announced_on).year


def path_value(path: tuple[tuple[int, float], ...], year: int) -> float | None:
    """The required straight-line path's value in `year` (None outside it)."""
    if len(path) != 2:
        return None
    (y0, v0), (y1, v1) = path
    if not y0 <= year <= y1 or y1 == y0:
        return None
    return v0 + (v1 - v0) * (year - y0) / (y1 - y0)


# --------------------------------------------------------------------------------------------------------------
# Partnership ledger
# --------------------------------------------------------------------------------------------------------------

LEDGER_COLUMNS = (
    "partnership_id", "name", "kind", "ecosystem", "region", "launched_on", "pledge_kind", "pledge_text",
    "pledge_people", "pledge_share", "pledge_year", "n_members", "delivered", "n_reporting_latest",
    "share_attained", "pace_achieved", "pace_needed",
)


def ledger(partnerships: pd.DataFrame, people_trained: pd.DataFrame, latest_year: int | None) -> pd.DataFrame:
    """Every partnership's pledge beside what its members reported (all their activity: the survey does not say
    what they did through the partnership, so `delivered` is context for the pledge, not its delivery).

    `partnerships`: reference rows with `n_members`; `people_trained`: per partnership and year, the members'
    people trained (`partnership_id`, `year`, `value`, `n_reporting`). Delivered = people trained to date by its
    members; share attained only where the pledge is a number of people; pace needed = what remains of that
    pledge spread over the years after the latest wave up to the pledge year.
    """
    by_partnership = people_trained.groupby("partnership_id")
    # A year withheld in public mode (NaN) leaves "to date" unknown, not the sum of the other years.
    delivered = pd.DataFrame({
        "delivered": by_partnership["value"].sum(skipna=False),
        "years_reported": by_partnership["year"].nunique(),
    })
    latest = (
        people_trained[people_trained["year"] == latest_year].set_index("partnership_id")["n_reporting"]
        if latest_year is not None
        else pd.Series(dtype="int64")
    )
    rows = []
    for p in partnerships.itertuples():
        done = float(delivered["delivered"].get(p.partnership_id, 0.0))
        years = int(delivered["years_reported"].get(p.partnership_id, 0))
        pledge = None if pd.isna(p.pledge_people) else int(p.pledge_people)
        pledge_year = None if pd.isna(p.pledge_year) else int(p.pledge_year)
        share = done / pledge if (p.pledge_kind == "people" and pledge) else float("nan")
        needed = float("nan")
        if p.pledge_kind == "people" and pledge and pledge_year and latest_year and pledge_year > latest_year:
            needed = max(pledge - done, 0.0) / (pledge_year - latest_year)
        rows.append({
            "partnership_id": p.partnership_id, "name": p.name, "kind": p.kind,
            "ecosystem": None if pd.isna(p.ecosystem) else p.ecosystem,
            "region": None if pd.isna(p.region) else p.region,
            "launched_on": p.launched_on, "pledge_kind": p.pledge_kind, "pledge_text": p.pledge_text,
            "pledge_people": pledge, "pledge_share": None if pd.isna(p.pledge_share) else float(p.pledge_share),
            "pledge_year": pledge_year, "n_members": int(p.n_members), "delivered": done,
            "n_reporting_latest": int(latest.get(p.partnership_id, 0)), "share_attained": share,
            "pace_achieved": done / years if years else float("nan"), "pace_needed": needed,
        })
    frame = pd.DataFrame(rows, columns=list(LEDGER_COLUMNS))
    frame["pledge_people"] = frame["pledge_people"].astype("Int64")
    frame["pledge_year"] = frame["pledge_year"].astype("Int64")
    return frame


# --------------------------------------------------------------------------------------------------------------
# Peer benchmark
# --------------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PeerBenchmark:
    partnership_id: str
    name: str
    group: str  # "kind" | "ecosystem"
    group_label: str
    year: int
    value: float | None
    peers: tuple[tuple[str, float], ...]  # (label, value) for the group incl. the partnership, highest first
    named: bool
    group_size: int  # partnerships in the group
    n_with_data: int
    median: float | None
    q1: float | None
    q3: float | None
    rank: int | None  # 1 = highest value in the group
    trend: tuple[tuple[int, float | None, float | None], ...]  # (year, own value, peer median)


def peer_group(partnerships: pd.DataFrame, partnership_id: str, group: str) -> pd.DataFrame:
    """The partnerships of the same kind, or of the same ecosystem, as `partnership_id` (itself included)."""
    me = partnerships[partnerships["partnership_id"] == partnership_id]
    if me.empty:
        raise KeyError(partnership_id)
    if group == "ecosystem":
        ecosystem = me["ecosystem_id"].iloc[0]
        if pd.isna(ecosystem):
            return me
        return partnerships[partnerships["ecosystem_id"] == ecosystem]
    if group == "kind":
        return partnerships[partnerships["kind"] == me["kind"].iloc[0]]
    raise ValueError(f"unknown peer group {group!r}")


def peer_benchmark(
    partnerships: pd.DataFrame, values: pd.DataFrame, partnership_id: str, group: str, year: int
) -> PeerBenchmark:
    """Where one partnership stands among its peers for one indicator and year.

    `values`: per partnership and year (`partnership_id`, `year`, `value`). Partnerships with no reporting
    member that year are left out of the distribution. One naming rule for the whole page: the internal view names
    every peer (the ledger beside it names every partnership with its figures, so hiding names in one chart would
    protect nobody); a public deployment labels peers "Peer 1", "Peer 2"... by rank, in every group.
    """
    members = peer_group(partnerships, partnership_id, group)
    me = members[members["partnership_id"] == partnership_id].iloc[0]
    ids = list(members["partnership_id"])
    in_group = values[values["partnership_id"].isin(ids)]
    # A value withheld in public mode (NaN) is no peer's figure: left out like a partnership with no reporter.
    this_year = in_group[in_group["year"] == year].set_index("partnership_id")["value"].dropna()
    named = not disclosure.public_mode()
    names = dict(zip(members["partnership_id"], members["name"], strict=True))
    ranked = sorted(this_year.items(), key=lambda kv: (-kv[1], kv[0]))
    peers = []
    peer_number = 0
    for pid, value in ranked:
        if pid == partnership_id or named:
            label = str(names[pid])
        else:
            peer_number += 1
            label = f"Peer {peer_number}"
        peers.append((label, float(value)))
    own = this_year.get(partnership_id)
    rank = None if own is None else 1 + sum(1 for _, v in ranked if v > own)
    quart = this_year.quantile([0.25, 0.5, 0.75]) if len(this_year) else None
    trend = []
    for y in sorted(in_group["year"].unique()):
        at = in_group[in_group["year"] == y].set_index("partnership_id")["value"]
        trend.append((int(y), None if partnership_id not in at.index else float(at[partnership_id]),
                      float(at.median()) if len(at) else None))
    group_label = (
        f"{me['kind']} partnerships" if group == "kind"
        else (f"partnerships in {me['ecosystem']}" if not pd.isna(me.get("ecosystem")) else "no ecosystem")
    )
    return PeerBenchmark(
        partnership_id=partnership_id, name=str(me["name"]), group=group, group_label=group_label, year=int(year),
        value=None if own is None else float(own), peers=tuple(peers), named=named, group_size=len(ids),
        n_with_data=len(this_year),
        median=None if quart is None else float(quart.loc[0.5]),
        q1=None if quart is None else float(quart.loc[0.25]),
        q3=None if quart is None else float(quart.loc[0.75]),
        rank=rank, trend=tuple(trend),
    )

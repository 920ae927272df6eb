"""Checks that catch an operator's plausible mistake before anything is published, as pure functions.

Each raises `PipelineError` with a message saying what the files say and how to proceed (`wave_yield` and
`dates_match_wave` also return warnings, for what is merely suspicious):
- one export per wave (a sidecar copied from last year with `wave` left unchanged makes two files claim one wave);
- an export's own dates against its wave (a survey on activity year Y is answered after Y ends: an older export
  relabelled as the next wave gives itself away);
- an export's alias against its sidecar's (a pilot's export dropped in with the wave's);
- a contribution ID in two waves (the same export ingested twice under two waves), or twice in one (a workbook of
  the export included twice);
- each wave's totals and median per member against the previous wave's (a multiplier of 1000 kept for a wave asked
  in euro makes the total jump 1000 times);
- what each wave yields (`wave_yield`): a sidecar column mapped to the wrong question rejects most rows, or leaves
  an indicator without a single value, and the run would otherwise publish the wave without them.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

import pandas as pd

from pipelines.errors import PipelineError
from pipelines.schema import INDICATORS, REPORTED_INDICATORS
from pipelines.sidecar import SurveySpec

# A wave's total (or its median per member) at least this many times the previous wave's, or at most its tenth,
# stops the run unless the sidecar acknowledges it. The published totals moved by less than 2.5x between waves
# (people trained 2.0 M, 1.5 M, 2.6 M; programmes 15,500, 32,500, 48,000); a unit mistake moves them 1000x.
JUMP_FACTOR = 10
# One member's value this many times its previous report (or this fraction of it) is listed as a likely cause.
MEMBER_FACTOR = 500
MEMBERS_LISTED = 10
# What an anonymous survey's export writes in the Contribution ID column of every row: it identifies nothing
ANONYMOUS = "anonymous"
# A wave is judged from this many answering rows (a pilot or a test file says little by proportions); a smaller
# one from which nothing is accepted is reported as a warning, and an export without a row stops the run.
MIN_ROWS_JUDGED = 20
# More than this share of a wave's answering rows rejected stops the run (the sample rejects under 1%); more than
# WARN_SHARE of its rows, or of the answers to one indicator, is reported as a warning.
STOP_SHARE = 0.5
WARN_SHARE = 0.05


@dataclass(frozen=True)
class SurveyFile:
    """What the checks need to know of one survey file (or one workbook of a zipped export)."""

    rel: str  # the raw file, relative to data/raw
    spec: SurveySpec
    export_date: dt.datetime | None


def one_export_per_wave(files: Sequence[SurveyFile]) -> None:
    """Two files claiming one wave stop the run, unless both sidecars name the same export in `part_of`."""
    by_wave: dict[int, dict[str, SurveyFile]] = defaultdict(dict)
    for survey in files:
        by_wave[survey.spec.wave].setdefault(survey.rel, survey)
    for wave, claims in sorted(by_wave.items()):
        if len(claims) < 2:
            continue
        parts = {survey.spec.part_of for survey in claims.values()}
        if len(parts) == 1 and None not in parts:
            continue
        names = sorted(claims)
        raise PipelineError(
            f"{len(names)} survey files claim wave {wave}: {', '.join(names)}. If one is a new export whose sidecar "
            f"was copied from last year, set its survey.wave; if they are parts of one export, give both sidecars "
            "the same survey.part_of", file=names[-1],
        )


def dates_match_wave(survey: SurveyFile, created: Iterable[dt.datetime | None]) -> str | None:
    """A survey on activity year Y is answered after Y: an export dated before then, or whose contributions were
    mostly created before then, is another wave's export, and stops the run (unless the sidecar says the survey
    ran early). Contributions mostly created after Y+1 return a warning: likely the next wave's export under a
    copied sidecar (the questions of a year-free questionnaire do not tell)."""
    spec = survey.spec
    year_end = dt.datetime(spec.wave + 1, 1, 1)
    stamps = sorted(t for t in created if t is not None)
    median = stamps[len(stamps) // 2] if stamps else None
    if not spec.ran_early:
        if survey.export_date is not None and survey.export_date < year_end:
            raise PipelineError(
                f"the sidecar says wave {spec.wave}, but the export is dated {survey.export_date:%d %b %Y}, before "
                f"activity year {spec.wave} ended: is this another wave's export? If the survey really ran early, "
                "say why in survey.ran_early", file=survey.rel, row=2,
            )
        early = sum(t < year_end for t in stamps)
        if stamps and early * 2 > len(stamps):
            raise PipelineError(
                f"the sidecar says wave {spec.wave}, but {early} of its {len(stamps)} contributions were created "
                f"before activity year {spec.wave} ended (from {stamps[0]:%d %b %Y} to {stamps[-1]:%d %b %Y}, "
                f"median {median:%d %b %Y}): is this another wave's export? If the survey really ran early, say why "
                "in survey.ran_early", file=survey.rel,
            )
    if median is None or median < dt.datetime(spec.wave + 2, 1, 1):
        return None
    return (f"{survey.rel}: the sidecar says wave {spec.wave}, but its contributions were created on "
            f"{median:%d %b %Y} (the median), more than a year after activity year {spec.wave} ended: the next "
            "wave's export under a copied sidecar?")


def alias_matches(survey: SurveyFile, alias: str | None) -> None:
    """An export's alias (its row 1) is its survey's: a pilot's or another survey's export, dropped in with this
    one, would be counted as its answers. Checked after the wave's dates, which name a mislabelled wave better."""
    expected = survey.spec.alias
    if alias is not None and alias.casefold() != expected.strip().casefold():
        raise PipelineError(
            f"the export's alias is {alias!r}, but the sidecar's survey.alias is {expected!r}: an export of another "
            "survey? If the survey's alias was changed, change the sidecar's", file=survey.rel, row=1,
        )


def contribution_ids_unique(submissions: Mapping[str, Sequence]) -> None:
    """A contribution is one row of one survey wave: the same ID in two waves is one export ingested twice, and twice
    in one wave a workbook (or rows) included twice. `submissions` are columns: wave, source_file, row and
    contribution_id."""
    first: dict[str, int] = {}  # contribution ID -> where it was first met
    waves, files, rows = submissions["wave"], submissions["source_file"], submissions["row"]
    for i, cid in enumerate(submissions["contribution_id"]):
        if not cid or cid.casefold() == ANONYMOUS:
            continue
        seen = first.setdefault(cid, i)
        if seen == i:
            continue
        if waves[seen] != waves[i]:
            raise PipelineError(
                f"contribution {cid} is in wave {waves[seen]} ({files[seen]}, row {rows[seen]}) and in wave "
                f"{waves[i]} (row {rows[i]}): the same export under two waves?",
                file=files[i], row=rows[i],
            )
        raise PipelineError(
            f"contribution {cid} is twice in wave {waves[i]}: {files[seen]}, row {rows[seen]}, and here: a workbook "
            "of the export, or rows, included twice? EUSurvey gives each contribution one ID",
            file=files[i], row=rows[i],
        )


@dataclass(frozen=True)
class Jump:
    wave: int
    previous_wave: int
    indicator: str
    measure: str  # "total" | "median per member"
    previous: int
    current: int

    @property
    def factor(self) -> float:
        return self.current / self.previous

    def describe(self) -> str:
        scale = INDICATORS[self.indicator].scale
        unit = INDICATORS[self.indicator].unit
        return (f"{self.indicator} {self.measure} {self.current / scale:,.0f} {unit} in {self.wave} against "
                f"{self.previous / scale:,.0f} in {self.previous_wave} ({_times(self.factor)})")


def _times(factor: float) -> str:
    return f"{factor:,.1f} times" if factor >= 1 else f"1/{1 / factor:,.1f}"


def wave_jumps(facts: pd.DataFrame) -> list[Jump]:
    """For each reported indicator and each wave after the first that has it: the wave's total and median per
    member against the previous wave's, where they moved by `JUMP_FACTOR` or more either way. `facts` has the
    columns year, member_id, indicator, value."""
    reported = facts[facts["indicator"].isin(REPORTED_INDICATORS)]
    per_wave = reported.groupby(["indicator", "year"])["value"].agg(["sum", "median"])
    jumps = []
    for indicator in REPORTED_INDICATORS:
        if indicator not in per_wave.index.get_level_values(0):
            continue
        rows = per_wave.loc[indicator].sort_index()
        for (previous, before), (wave, now) in zip(rows.iterrows(), list(rows.iterrows())[1:], strict=False):
            for measure, column in (("total", "sum"), ("median per member", "median")):
                a, b = before[column], now[column]
                if a > 0 and b > 0 and not 1 / JUMP_FACTOR < b / a < JUMP_FACTOR:
                    jumps.append(Jump(int(wave), int(previous), indicator, measure, int(a), int(b)))
    return jumps


def member_jumps(facts: pd.DataFrame, jump: Jump) -> list[tuple[str, int, int]]:
    """(member, previous value, value) of the members whose report moved `MEMBER_FACTOR` times or more."""
    mine = facts[facts["indicator"] == jump.indicator]
    before = mine[mine["year"] == jump.previous_wave].set_index("member_id")["value"]
    now = mine[mine["year"] == jump.wave].set_index("member_id")["value"]
    both = pd.DataFrame({"before": before, "now": now}).dropna()
    both = both[(both["before"] > 0) & (both["now"] > 0)]
    ratio = both["now"] / both["before"]
    moved = both[(ratio >= MEMBER_FACTOR) | (ratio <= 1 / MEMBER_FACTOR)].sort_index()
    return [(str(m), int(r.before), int(r.now)) for m, r in moved.iterrows()]


def likely_cause(jump: Jump, spec: SurveySpec) -> str:
    multiplier = spec.multipliers.get(jump.indicator, 1)
    if 300 <= jump.factor <= 3000:
        if multiplier != 1:
            return (f"the sidecar multiplies {jump.indicator} by {multiplier:,}: does this wave's question really ask "
                    "in thousands?")
        return "a multiplier of 1000 missing from one of the two sidecars, or the question's unit changed?"
    if 1 / 3000 <= jump.factor <= 1 / 300:
        if multiplier == 1:
            return f"this wave's question asks in thousands but the sidecar has no multiplier for {jump.indicator}?"
        return "the previous wave's sidecar multiplies by 1000 where its question asked in units?"
    return "a unit or decimal-separator mistake, or an export of another wave or survey?"


def plausible_across_waves(facts: pd.DataFrame, specs: Mapping[int, SurveySpec]) -> list[dict]:
    """Stop on a jump the wave's sidecar does not acknowledge; return the acknowledged ones, as records of the
    curated `expected_changes` table (every acknowledgement, with the figures measured)."""
    jumps = wave_jumps(facts)
    for jump in jumps:
        spec = specs[jump.wave]
        if any(change.indicator == jump.indicator for change in spec.expected_changes):
            continue
        members = member_jumps(facts, jump)
        scale, unit = INDICATORS[jump.indicator].scale, INDICATORS[jump.indicator].unit
        listed = "; ".join(f"{m}: {a / scale:,.0f} -> {b / scale:,.0f} {unit}" for m, a, b in members[:MEMBERS_LISTED])
        more = f" and {len(members) - MEMBERS_LISTED} more" if len(members) > MEMBERS_LISTED else ""
        raise PipelineError(
            f"implausible change in wave {jump.wave}: {jump.describe()}; likely cause: {likely_cause(jump, spec)}"
            + (f" Members whose value moved {MEMBER_FACTOR} times or more: {listed}{more}." if members else "")
            + " If the change is real, acknowledge it in the sidecar under survey.expected_changes with a reason",
        )
    totals = facts.groupby(["indicator", "year"])["value"].sum().to_dict()
    records = []
    for wave, spec in sorted(specs.items()):
        earlier = [w for w in specs if w < wave]
        for change in spec.expected_changes:
            previous = max((w for w in earlier if (change.indicator, w) in totals), default=None)
            before = totals.get((change.indicator, previous)) if previous is not None else None
            now = totals.get((change.indicator, wave))
            records.append({
                "wave": wave, "indicator": change.indicator, "previous_wave": previous,
                "previous_total": None if before is None else int(before), "total": None if now is None else int(now),
                "factor": now / before if now and before else None, "reason": change.reason,
            })
    return records


@dataclass(frozen=True)
class WaveOutcome:
    """What one wave of the survey gave, for `wave_yield`."""

    wave: int
    spec: SurveySpec
    files: list[str]  # its raw files
    statuses: Mapping[str, int]  # submission status -> rows
    row_reasons: Mapping[str, int]  # reason code of the rejected rows -> rows
    reject_columns: Mapping[tuple[str | None, str], int]  # (column, reason code) of its reject rows -> count
    given: Mapping[str, int]  # indicator -> facts
    previous: tuple[int, frozenset[str]] | None  # the previous wave and the indicators it gave values for


def wave_yield(outcome: WaveOutcome) -> list[str]:
    """Stop the run when a wave yields nothing it should: no row at all, most of its answering rows rejected, or
    an indicator its sidecar maps without a single value (both from `MIN_ROWS_JUDGED` answering rows). Return
    warnings for what is merely suspicious: nothing accepted from a small wave, a share of rows or of one
    indicator's answers rejected, an indicator the previous wave gave that this one's sidecar no longer maps."""
    wave, spec, counts = outcome.wave, outcome.spec, outcome.statuses
    answering = counts.get("accepted", 0) + counts.get("superseded", 0) + counts.get("rejected", 0)
    rejected = counts.get("rejected", 0)
    judged = answering >= MIN_ROWS_JUDGED
    if not sum(counts.values()):
        raise PipelineError(f"wave {wave}: the export holds no contribution under its header: exported before the "
                            "survey opened, or with a filter?", file=outcome.files[0])
    if judged and rejected > STOP_SHARE * answering:
        raise PipelineError(
            f"wave {wave}: {rejected:,} of its {answering:,} answering rows are rejected ({_causes(outcome)}), so "
            "the wave would be published without them: is a column of the sidecar's survey.identity or survey.meta "
            "mapped to the wrong question, or the registry or a reference table out of date? The reject rows say "
            "which cells", file=outcome.files[0],
        )
    warnings = []
    if (answering and not counts.get("accepted")) or (judged and rejected > WARN_SHARE * answering):
        warnings.append(f"wave {wave}: {rejected:,} of its {answering:,} answering rows are rejected "
                        f"({_causes(outcome)})")
    accepted = counts.get("accepted", 0)
    questions: dict[str, list[str]] = defaultdict(list)
    for question, indicator in spec.indicators.items():
        questions[indicator].append(question)
    if spec.commitment_progress is not None:  # the matrix feeds both
        questions["commitments_reported"] = questions["commitments_progressing"] = spec.commitment_progress.columns
    for indicator, asked in questions.items():
        rejected_answers = {(column, code): n for (column, code), n in outcome.reject_columns.items()
                            if column in asked}
        lost = sum(rejected_answers.values())
        given = outcome.given.get(indicator, 0)
        where = ", ".join(repr(q) for q in asked)
        causes = ", ".join(f"{code} {n:,}" for (_, code), n in _largest(rejected_answers))
        if accepted >= MIN_ROWS_JUDGED and not given:
            raise PipelineError(
                f"wave {wave}: the sidecar maps {where} to {indicator}, but none of its {accepted:,} accepted "
                f"submissions gives a value there" + (f" ({lost:,} answers rejected: {causes})" if lost else "")
                + ": is the question mapped to the right column, and survey.number_format right?",
                file=outcome.files[0], column=asked[0],
            )
        if judged and lost >= MIN_ROWS_JUDGED / 2 and lost > WARN_SHARE * (lost + given):
            warnings.append(f"wave {wave}: {lost:,} of the {lost + given:,} answers to {where} ({indicator}) are "
                            f"rejected ({causes}): is survey.number_format or the unit right?")
    if outcome.previous is not None:
        previous_wave, had = outcome.previous
        for indicator in sorted(had - set(questions)):
            warnings.append(f"wave {wave}'s sidecar maps no question to {indicator}, which wave {previous_wave} "
                            "gave: was the question dropped from the survey, or its line from the sidecar?")
    return warnings


def _largest(counts: Mapping, most: int = 3) -> list:
    return sorted(counts.items(), key=lambda item: (-item[1], str(item[0])))[:most]


def _causes(outcome: WaveOutcome) -> str:
    """The most frequent reasons for the rejected rows, each with the column its reject rows point at most."""
    parts = []
    for code, n in _largest(outcome.row_reasons):
        columns = {column: k for (column, c), k in outcome.reject_columns.items() if c == code and column}
        column = _largest(columns, 1)
        parts.append(f"{code} {n:,}" + (f" at column {column[0][0]!r}" if column else ""))
    return ", ".join(parts) or "no reason recorded"

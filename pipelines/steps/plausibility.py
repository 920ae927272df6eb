"""Plausibility of each wave and across waves, before anything is published.

In: `submissions`, `facts` (facts step), the reject rows so far and each wave's sidecar. Out: `expected_changes`,
the jumps on the previous wave that a sidecar acknowledged, with the figures measured. The run stops on a wave
that yields nothing it should (no accepted submission, most answering rows rejected, a mapped indicator without a
value: `checks.wave_yield`) and on an unacknowledged jump (a wave's total or median per member ten times the
previous wave's, or a tenth of it), naming the wave, the indicator, both figures, the likely cause and the
members whose value moved 500 times or more (`pipelines.checks`). What is merely suspicious is logged as a
warning, which `python -m pipelines check` counts.
"""

from __future__ import annotations

import logging
from collections import Counter, defaultdict

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from pipelines.checks import WaveOutcome, plausible_across_waves, wave_yield
from pipelines.context import Context
from pipelines.readers import RawFile
from pipelines.schema import SUBMISSION_STATUSES
from pipelines.sidecar import SurveySpec

log = logging.getLogger(__name__)


def run(ctx: Context) -> None:
    # load
    facts = ctx.table("facts").select(["year", "member_id", "indicator", "value"]).to_pandas()
    submissions = ctx.table("submissions").select(["wave", "source_file", "status", "reason_code"])
    surveys = ctx.files_of("survey")
    specs = {raw.sidecar.survey_spec.wave: raw.sidecar.survey_spec for raw in surveys}
    # process
    for warning in wave_outcomes_checked(ctx, submissions, facts, specs, surveys):
        log.warning("%s", warning)
    acknowledged = plausible_across_waves(facts, specs)
    # save
    ctx.save("expected_changes", acknowledged)


def wave_outcomes_checked(ctx: Context, submissions: pa.Table, facts: pd.DataFrame, specs: dict[int, SurveySpec],
                          surveys: list[RawFile]) -> list[str]:
    """`wave_yield` of every wave in order; the warnings it gives."""
    reasons: dict[int, Counter] = defaultdict(Counter)
    rejected = submissions.filter(pc.equal(submissions["status"], "rejected"))
    for group in rejected.group_by(["wave", "reason_code"]).aggregate([([], "count_all")]).to_pylist():
        reasons[group["wave"]][group["reason_code"]] = group["count_all"]
    # a survey workbook holds one wave: its rejects are that wave's (the registry's are no wave's)
    wave_of = {g["source_file"]: g["wave"]
               for g in submissions.group_by(["source_file", "wave"]).aggregate([]).to_pylist()}
    columns: dict[int, Counter] = defaultdict(Counter)
    for r in ctx.rejects:
        wave = wave_of.get(r.source_file)
        if wave is not None:
            columns[wave][(r.column, r.reason_code)] += 1
    values = facts.groupby(["year", "indicator"]).size().to_dict()
    files: dict[int, list[str]] = defaultdict(list)
    for raw in surveys:
        files[raw.sidecar.survey_spec.wave].append(raw.rel)
    warnings: list[str] = []
    previous = None
    for wave in sorted(specs):
        given = {indicator: n for (year, indicator), n in values.items() if year == wave}
        statuses = {status: ctx.wave_counts.get(wave, {}).get(status, 0) for status in SUBMISSION_STATUSES}
        warnings += wave_yield(WaveOutcome(wave, specs[wave], files[wave], statuses, reasons[wave], columns[wave],
                                           given, previous))
        if given:
            previous = (wave, frozenset(given))
    return warnings

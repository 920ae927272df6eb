"""Plausibility across waves, before anything is published.

In: `facts` (facts step) and each wave's sidecar. Out: `expected_changes`, the jumps on the previous wave that a
sidecar acknowledged, with the figures measured; an unacknowledged jump (a wave's total or median per member ten
times the previous wave's, or a tenth of it) stops the run, naming the wave, the indicator, both figures, the
likely cause and the members whose value moved 500 times or more (`pipelines.checks`).
"""

from __future__ import annotations

from pipelines.checks import plausible_across_waves
from pipelines.context import Context


def run(ctx: Context) -> None:
    # load
    facts = ctx.table("facts").select(["year", "member_id", "indicator", "value"]).to_pandas()
    specs = {raw.sidecar.survey_spec.wave: raw.sidecar.survey_spec for raw in ctx.files_of("survey")}
    # process
    acknowledged = plausible_across_waves(facts, specs)
    # save
    ctx.save("expected_changes", acknowledged)

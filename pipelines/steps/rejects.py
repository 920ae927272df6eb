"""Rejects: every value or row that did not land, collected by the steps before.

In: the reject rows of the registry and submissions steps. Out: `rejects`, with file, sheet, row, column,
Contribution Id, the raw value (never for a personal column), a reason code and a plain reason.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import fields

import pyarrow.compute as pc

from pipelines.context import Context
from pipelines.schema import Reject

REJECT_FIELDS = [f.name for f in fields(Reject)]


def run(ctx: Context) -> None:
    # load
    rejects = ctx.rejects
    submissions = ctx.table("submissions")
    # process: a reject on the row of an accepted submission is a value reject (the rest of the row landed)
    accepted = submissions.filter(pc.equal(submissions["status"], "accepted"))
    wave_of = dict(zip(zip(accepted["source_file"].to_pylist(), accepted["row"].to_pylist(), strict=True),
                       accepted["wave"].to_pylist(), strict=True))
    per_wave = Counter(wave_of.get((r.source_file, r.row)) for r in rejects)
    for wave, counts in ctx.wave_counts.items():
        counts["value_rejects"] = per_wave[wave]
    # save
    ctx.save("rejects", {name: [getattr(r, name) for r in rejects] for name in REJECT_FIELDS})

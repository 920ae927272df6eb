"""Rejects: every value or row that did not land, collected by the steps before.

In: the reject rows of the registry and submissions steps. Out: `rejects`, with file, sheet, row, column,
Contribution Id, the raw value (never for a personal column), a reason code and a plain reason.
"""

from __future__ import annotations

from pipelines.context import Context


def run(ctx: Context) -> None:
    # load
    rejects = ctx.rejects
    submissions = ctx.table("submissions").select(["wave", "source_file", "row", "status"]).to_pylist()
    # process: a reject on the row of an accepted submission is a value reject (the rest of the row landed)
    accepted = {(s["source_file"], s["row"]): s["wave"] for s in submissions if s["status"] == "accepted"}
    for wave, counts in ctx.wave_counts.items():
        counts["value_rejects"] = sum(1 for r in rejects if accepted.get((r.source_file, r.row)) == wave)
    # save
    ctx.save("rejects", [r.record() for r in rejects])

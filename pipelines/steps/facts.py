"""Facts: the reported values of accepted submissions, with the corrections file applied.

In: the reported values (submissions step), `submissions`, the corrections. Out: `facts`, one row per survey
year × member × indicator with its provenance (file, sheet, row, column, Contribution Id, submitted at) and whether
a correction changed it; `corrections_applied`, one row per correction with what was done or why not (a correction
not applied is also a warning). Two corrections of one value stop the run.
"""

from __future__ import annotations

import logging
from collections import Counter

import pyarrow as pa
import pyarrow.compute as pc

from pipelines import columns as cells
from pipelines.context import Context
from pipelines.corrections import Correction
from pipelines.errors import PipelineError
from pipelines.normalise import normalise_member_id
from pipelines.readers import header_text
from pipelines.steps.submissions import SubmissionsHandoff

log = logging.getLogger(__name__)


def run(ctx: Context) -> None:
    # load
    handed = ctx.work.take(SubmissionsHandoff)
    values = handed.reported_values
    corrections = [c for c in handed.corrections if not c.whole_submission]
    columns = questions_by_indicator(ctx)
    # process
    source = next((raw.rel for raw in ctx.files_of("corrections")), None)
    facts, applied = apply_corrections(values, ctx.table("submissions"), corrections, columns, source)
    applied = handed.corrections_applied + applied
    for record in applied:  # a correction that found no target is usually a typo in its ID or wave
        if record["status"] == "not applied":
            log.warning("correction %s (wave %s) not applied: %s", record["correction_id"], record["wave"],
                        record["detail"])
    per_wave = Counter(facts.column("year").to_pylist())
    for wave, counts in ctx.wave_counts.items():
        counts["facts"] = per_wave[wave]
    # save
    ctx.save("facts", facts)
    ctx.save("corrections_applied", applied)


def questions_by_indicator(ctx: Context) -> dict[tuple[int, str], str]:
    """(wave, indicator) -> the question header(s) asking it, for a value a correction supplies."""
    found: dict[tuple[int, str], list[str]] = {}
    for q in ctx.table("questions").to_pylist():
        if q["role"] == "indicator":
            found.setdefault((q["wave"], q["indicator"]), []).append(q["column"])
    return {key: " + ".join(cols) for key, cols in found.items()}


def correction_targets(submissions: pa.Table, corrections: list[Correction]) -> tuple[dict, dict]:
    """The submissions a correction may name, as records: (wave, contribution ID) -> submission, and (wave,
    normalised member ID) -> the member's accepted submission. Only those the corrections ask for are looked up."""
    cids = {c.contribution_id.strip() for c in corrections if c.contribution_id.strip()}
    members = {normalise_member_id(c.member_id) for c in corrections if not c.contribution_id.strip()}
    # the submissions' contribution IDs are stored stripped (clean_id), so equal to a stripped ID or not at all
    by_cid = submissions.filter(pc.is_in(submissions["contribution_id"], pa.array(sorted(cids), pa.string())))
    accepted = submissions.filter(pc.equal(submissions["status"], "accepted"))
    keys = pa.array(cells.member_keys(accepted["member_id"].to_pylist()), pa.string())
    by_member = accepted.filter(pc.is_in(keys, pa.array(sorted(members), pa.string())))
    by_contribution = {(s["wave"], (s["contribution_id"] or "").strip()): s for s in by_cid.to_pylist()}
    accepted_by_member = {(s["wave"], normalise_member_id(s["member_id"])): s for s in by_member.to_pylist()}
    return by_contribution, accepted_by_member


def apply_corrections(
    values: pa.Table, submissions: pa.Table, corrections: list[Correction], columns: dict[tuple[int, str], str],
    corrections_file: str | None = None,
) -> tuple[pa.Table, list[dict]]:
    """Indicator-level corrections (set / exclude one value) in file order; a new table of facts comes out.

    `corrections` holds only those: a whole-submission exclusion acts in the submissions step, before a member's
    submission is chosen."""
    if not corrections:
        return values, []
    by_contribution, accepted_by_member = correction_targets(submissions, corrections)
    # the reported values of the members a correction may reach, as records keyed like facts; the rest pass as
    # they are. A correction puts a new record in place of one, or drops it.
    reachable = {s["member_id"] for s in (*by_contribution.values(), *accepted_by_member.values())}
    touched = pc.is_in(values["member_id"], pa.array(sorted(m for m in reachable if m), pa.string()))
    touched = pc.fill_null(touched, False)
    facts = {(v["year"], v["member_id"], v["indicator"]): v for v in values.filter(touched).to_pylist()}
    applied = []
    corrected: dict[tuple, Correction] = {}  # the fact each correction applied so far reached
    for c in corrections:
        if c.contribution_id.strip():
            target = by_contribution.get((c.wave, c.contribution_id.strip()))
            if target is None:
                applied.append(c.record(status="not applied",
                                        detail=f"no submission of wave {c.wave} has contribution_id "
                                               f"{c.contribution_id!r}"))
                continue
        else:
            target = accepted_by_member.get((c.wave, normalise_member_id(c.member_id)))
            if target is None:
                applied.append(c.record(status="not applied",
                                        detail=f"member {c.member_id!r} has no accepted submission in wave {c.wave}"))
                continue
        if not c.member_matches(target["member_id"]):
            applied.append(c.record(status="not applied",
                                    detail=f"submission {target['contribution_id']} belongs to "
                                           f"{target['member_id'] or 'no known member'}, not to {c.member_id!r}"))
            continue
        if target["status"] != "accepted":
            applied.append(c.record(status="not applied", member_id=target["member_id"],
                                    detail=f"submission {target['contribution_id']} is {target['status']}; only the "
                                           "accepted submission of a member and wave has facts"))
            continue
        key = (c.wave, target["member_id"], c.indicator)
        if key in corrected:
            earlier = corrected[key]
            raise PipelineError(
                f"corrections {earlier.correction_id} (row {earlier.row}) and {c.correction_id} both correct "
                f"{c.indicator} of {target['member_id']} in wave {c.wave}: keep one", file=corrections_file,
                row=c.row,
            )
        corrected[key] = c
        current = facts.get(key)
        old = current["value"] if current else None
        if c.action == "exclude":
            if current is None:
                applied.append(c.record(status="not applied", member_id=target["member_id"],
                                        detail=f"submission {target['contribution_id']} has no {c.indicator} value "
                                               "to exclude"))
                continue
            del facts[key]
            applied.append(c.record(status="applied", member_id=target["member_id"], old_value=old,
                                    detail=f"{c.indicator} value {old} dropped"))
            continue
        # an indicator-level correction names its indicator (the whole-submission ones acted earlier)
        column = current["column"] if current else columns.get((c.wave, c.indicator or ""))
        if column is None:
            applied.append(c.record(status="not applied", member_id=target["member_id"],
                                    detail=f"wave {c.wave} does not ask for {c.indicator}"))
            continue
        facts[key] = {
            "year": c.wave, "member_id": target["member_id"], "indicator": c.indicator, "value": c.new_value,
            "source_file": target["source_file"], "sheet": target["sheet"], "row": target["row"],
            "column": header_text(column), "contribution_id": target["contribution_id"],
            "submitted_at": target["updated_at"], "corrected": True,
        }
        applied.append(c.record(status="applied", member_id=target["member_id"], old_value=old,
                                new_value=c.new_value,
                                detail=f"{c.indicator} set to {c.new_value}"
                                       + (f" (was {old})" if old is not None else " (no value before)")))
    untouched = values.filter(pc.invert(touched))
    return pa.concat_tables([untouched, pa.Table.from_pylist(list(facts.values()), schema=values.schema)]), applied

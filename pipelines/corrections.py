"""The corrections file: staff overrides applied on top of the raw exports, never by editing a raw file.

Reading is strict (the file is kept by hand, like the reference tables): a malformed cell is fatal, naming file,
row and column. Whether a well-formed correction finds its target is decided later, by the steps; one that does not
is kept in `corrections_applied` with status "not applied" and the reason in `detail`.

Columns: correction_id, wave, contribution_id, member_id, indicator, action (set|exclude), value, reason,
corrected_by, corrected_on. `value` is in the indicator's own unit with a dot decimal (investment in euro), and
meets the rules a survey's answer does: not negative, not ambiguous ('13.500'), under the indicator's ceiling.
Two corrections of one value (the same wave, submission and indicator) stop the run: which one holds is not clear.

What each kind does:
- exclude with no indicator drops a whole submission. It acts like a test-entry rule: the submission gets status
  "test" (reason code excluded_by_correction) before a member's submission is chosen, so the member's next latest
  submission counts, if any. It needs the contribution_id.
- exclude with an indicator drops that one value of the member's accepted submission.
- set replaces (or, where the value was blank or rejected, supplies) one value of the accepted submission; old and
  new values are recorded in stored units (cents for investment). A correction aimed at a superseded, test, blank
  or rejected submission is not applied: only the accepted submission has facts.
- member_id, when given, must be the submission's member: a guard against a mistyped contribution_id. Without a
  contribution_id, set/exclude of an indicator targets the member's accepted submission of the wave.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

from pipelines import indicators
from pipelines.errors import PipelineError
from pipelines.normalise import (
    ValueProblem,
    cell_text,
    clean_id,
    normalise_member_id,
    parse_date,
    parse_number,
    refuse_ambiguous,
    to_stored_int,
)
from pipelines.readers import Sheet, require_columns
from pipelines.schema import INDICATORS, REPORTED_INDICATORS

COLUMNS = (
    "correction_id", "wave", "contribution_id", "member_id", "indicator", "action", "value", "reason",
    "corrected_by", "corrected_on",
)
ACTIONS = ("set", "exclude")
ID_COLUMNS = ("correction_id", "contribution_id", "member_id")  # compared as keys: invisible characters dropped


_PLAIN_DIGITS = re.compile(r"[0-9]+")


@dataclass(frozen=True)
class Correction:
    correction_id: str
    wave: int
    contribution_id: str
    member_id: str  # as written (a check on the target); compared normalised
    indicator: str | None  # None: the whole submission (exclude only)
    action: str
    new_value: int | None  # stored units (cents for investment)
    reason: str | None
    corrected_by: str | None
    corrected_on: dt.date | None
    row: int

    @property
    def whole_submission(self) -> bool:
        return self.indicator is None

    def record(self, *, status: str, detail: str, member_id: str | None = None, old_value: int | None = None,
               new_value: int | None = None) -> dict:
        """The `corrections_applied` row of this correction."""
        return {
            "correction_id": self.correction_id, "wave": self.wave, "contribution_id": self.contribution_id or None,
            "member_id": member_id or self.member_id or None, "indicator": self.indicator, "old_value": old_value,
            "new_value": new_value, "action": self.action, "reason": self.reason, "corrected_by": self.corrected_by,
            "corrected_on": self.corrected_on, "status": status, "detail": detail,
        }

    def member_matches(self, member_id: str | None) -> bool:
        """A correction naming a member must name the submission's member (a guard against a mistyped id)."""
        return not self.member_id or normalise_member_id(self.member_id) == normalise_member_id(member_id or "")


def parse_corrections(sheet: Sheet) -> list[Correction]:
    """The corrections CSV -> corrections, in file order; malformed cells are fatal."""
    require_columns(sheet.header, list(COLUMNS), file=sheet.file, sheet=sheet.sheet, header_row=sheet.header_row)
    position = {c: sheet.column(c) for c in COLUMNS}
    found: dict[str, int] = {}
    corrections = []
    for offset, cells in enumerate(sheet.rows):
        row = sheet.first_row + offset
        text = {c: (clean_id if c in ID_COLUMNS else cell_text)(cells[position[c]]) for c in COLUMNS}
        if not any(text.values()):
            continue

        def fail(column: str, problem: str, row: int = row) -> PipelineError:
            return PipelineError(problem, file=sheet.file, row=row, column=column)

        cid = text["correction_id"]
        if not cid:
            raise fail("correction_id", "a correction needs an id")
        if cid in found:
            raise fail("correction_id", f"correction id {cid!r} is used again (first on row {found[cid]})")
        found[cid] = row
        action = text["action"].casefold()
        if action not in ACTIONS:
            raise fail("action", f"action {text['action']!r} is neither 'set' nor 'exclude'")
        # int() would also take '+2022', '2_022' and non-ASCII digits such as '٢٠٢٢': a wave is plain digits.
        if not _PLAIN_DIGITS.fullmatch(text["wave"]):
            raise fail("wave", f"wave {text['wave']!r} is not a year (plain digits, such as 2022)")
        wave = int(text["wave"])
        indicator = text["indicator"] or None
        if indicator is not None and indicator not in REPORTED_INDICATORS:
            raise fail("indicator", f"unknown indicator {indicator!r}; known: {', '.join(REPORTED_INDICATORS)}")
        if not text["contribution_id"] and not text["member_id"]:
            raise fail("contribution_id", "a correction needs a contribution_id or a member_id to find its target")
        new_value = None
        if action == "set":
            if indicator is None:
                raise fail("indicator", "action 'set' needs an indicator")
            if not text["value"]:
                raise fail("value", "action 'set' needs a value")
            try:  # the rules a survey's answer meets, but the decimal separator, which is always '.' here
                refuse_ambiguous(text["value"], ".", "the corrections file's")
                number = parse_number(text["value"], ".")
                if number < 0:
                    raise ValueProblem("negative", f"{text['value']!r} is negative")
                new_value = to_stored_int(number, scale=INDICATORS[indicator].scale)
                ceiling = indicators.ceiling(indicator)
                if new_value > ceiling * INDICATORS[indicator].scale:
                    raise ValueProblem("implausible_value", f"{text['value']!r} is above the plausible ceiling of "
                                       f"{ceiling:,} {INDICATORS[indicator].unit} for one member in one year")
            except ValueProblem as exc:
                raise fail("value", exc.reason) from exc
        elif text["value"]:
            raise fail("value", "action 'exclude' takes no value")
        try:
            corrected_on = parse_date(text["corrected_on"])
        except ValueProblem as exc:
            raise fail("corrected_on", exc.reason) from exc
        corrections.append(Correction(
            correction_id=cid, wave=wave, contribution_id=text["contribution_id"], member_id=text["member_id"],
            indicator=indicator, action=action, new_value=new_value, reason=text["reason"] or None,
            corrected_by=text["corrected_by"] or None, corrected_on=corrected_on, row=row,
        ))
    return corrections

"""The rules of the data (docs/rules_of_the_data.md), as pure functions over the rows of one survey wave.

In: the raw rows of every export of one wave (cells keyed by header), the wave's sidecar, the registry index and
the Member State lookup. Out: one submission record per raw row (accepted, superseded, test, blank or rejected,
with the reason), the reject rows, and the reported values of the accepted submissions. Nothing here reads or
writes files.

Order of the rules, as docs/rules_of_the_data.md fixes it:
1. blank: no question answered;
2. test: a test-entry rule of the sidecar matches (or a correction excludes the whole submission);
3. join to the registry on the member ID (case and spaces ignored, zero padding never guessed), else on the
   normalised organisation name; no match rejects the submission whole (one reject row per bad cell);
4. an unknown Member State answer rejects the submission whole (a blank one is no error: the member's Member
   State comes from the registry), and so does a Last Update or Creation Date that cannot be read, since the
   next rule needs them;
5. among a member's remaining submissions of the wave the latest Last Update counts (ties: latest Creation Date,
   then highest Contribution Id); the others are superseded;
6. each value of the accepted submission is validated alone: negative, not a number, not whole, or above the
   indicator's ceiling rejects that value only.
"""

from __future__ import annotations

import datetime as dt
import re
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from pipelines import indicators
from pipelines.columns import attempt, by_value
from pipelines.corrections import Correction
from pipelines.eusurvey import strip_answer_shortname
from pipelines.normalise import (
    ValueProblem,
    cell_text,
    clean_id,
    is_blank,
    latest_first_key,
    normalise_country,
    normalise_label,
    normalise_member_id,
    normalise_org_name,
    parse_number,
    parse_timestamp,
    to_stored_int,
)
from pipelines.readers import header_text
from pipelines.schema import INDICATORS, REPORTED_INDICATORS, Reject
from pipelines.sidecar import SurveySpec

# The largest value one member can plausibly report for one activity year, per reported indicator, in its unit
# (the catalogue's `ceiling`, pipelines/indicators.yml). Above it a value is taken as a typing error (digits
# repeated, a unit mix-up) and rejected with reason code "implausible_value".
CEILINGS: dict[str, int] = {name: indicators.ceiling(name) for name in REPORTED_INDICATORS}


@dataclass(frozen=True)
class RegistryIndex:
    """How a survey answer finds its member.

    `by_id`: normalised registration ID -> member. `by_full_name`: the name normalised with its legal form kept ->
    members; `by_name`: with the legal form removed -> members; `country`: member -> Eurostat code (or None).
    """

    by_id: Mapping[str, str]
    by_full_name: Mapping[str, tuple[str, ...]]
    by_name: Mapping[str, tuple[str, ...]]
    country: Mapping[str, str | None]

    def match(self, raw_id: object, raw_name: object, country: str | None = None) -> tuple[str | None, str]:
        """(member_id, how) where how is 'id', 'name', or why nothing matched.

        The ID first. Then the name: the stricter key (legal form kept) when it names exactly one member; else the
        key without the legal form, among members of the Member State the respondent answered (when answered),
        when that leaves exactly one. Two organisations that differ only by legal form ("X GmbH", "X sp. z o.o.")
        are told apart so, and a look-alike from another country is not taken for a member.
        """
        key = normalise_member_id(raw_id)
        if key and key in self.by_id:
            return self.by_id[key], "id"
        full = normalise_org_name(raw_name, strip_legal_form=False)
        if not key and not full:
            return None, "neither a member ID nor an organisation name is given"
        strict = self.by_full_name.get(full, ()) if full else ()
        if len(strict) == 1:
            return strict[0], "name"
        name = normalise_org_name(raw_name)
        loose = self.by_name.get(name, ()) if name else ()
        if country is not None:
            loose = tuple(m for m in loose if self.country.get(m) in (country, None))
        if len(loose) == 1:
            return loose[0], "name"
        if len(loose) > 1:
            return None, f"the organisation name matches {len(loose)} members"
        return None, "no member has this ID or organisation name" + (
            f" in {country}" if country is not None and self.by_name.get(name) else "")


@dataclass
class RawRow:
    """One data row of a survey export; `cells` maps header key -> cell as read."""

    source_file: str
    sheet: str | None
    row: int
    cells: dict[str, object]
    spec: SurveySpec  # the sidecar of the file the row comes from, its column names resolved to header keys
    column_sheets: Mapping[str, str] = field(default_factory=dict)  # for a wide export: the sheet of a column

    def sheet_of(self, column: str | None) -> str | None:
        return self.column_sheets.get(column, self.sheet) if column is not None else self.sheet


@dataclass
class WaveResult:
    submissions: list[dict] = field(default_factory=list)
    rejects: list[Reject] = field(default_factory=list)
    values: list[dict] = field(default_factory=list)  # reported values of accepted submissions (fact rows)
    corrections: list[dict] = field(default_factory=list)  # whole-submission exclusions, as corrections_applied


def _cell(raw: RawRow, column: str | None) -> object:
    """The cell under a header the sidecar names (headers compare with whitespace runs collapsed)."""
    return raw.cells.get(header_text(column)) if column is not None else None


def meta_columns(spec: SurveySpec) -> set[str]:
    """EUSurvey's meta columns (as resolved for one export): answering only these is not answering the survey."""
    return {header_text(c) for c in spec.meta.model_dump().values() if c}


def personal_columns(spec: SurveySpec) -> set[str]:
    """Columns whose values never leave the raw file (as written in the sidecar and as headers compare)."""
    names = {c for c in (spec.meta.user_name, *spec.personal) if c}
    return names | {header_text(n) for n in names}


def choice_label(cell: object, spec: SurveySpec) -> object:
    """A choice answer as the sidecar lists it: without the '(shortname)' EUSurvey appends when the export was
    made with "show shortnames" (the cell itself otherwise: the label normalisers cache by cell)."""
    return strip_answer_shortname(cell_text(cell)) if spec.show_shortnames else cell


def classify_wave(
    wave: int,
    rows: list[RawRow],
    registry: RegistryIndex,
    countries: Mapping[str, str],
    exclusions: Sequence[Correction] = (),
) -> WaveResult:
    """Apply the rules of the data to every raw row of one wave (from one export or several: a member's
    submissions compete across them). Every row gets exactly one submission record."""
    result = WaveResult()
    excluded = {c.contribution_id.strip(): c for c in exclusions if c.contribution_id.strip()}
    outcome: dict[str, str] = {}  # correction_id -> why it was not applied, when its target was found wanting
    candidates: dict[str, list[tuple[tuple, dict, RawRow]]] = defaultdict(list)

    per_spec: dict[int, tuple[set[str], set[str], list]] = {}
    for raw in rows:
        spec = raw.spec
        if spec.wave != wave:
            raise ValueError(f"{raw.source_file} is wave {spec.wave}, not {wave}")
        if id(spec) not in per_spec:
            per_spec[id(spec)] = (meta_columns(spec), personal_columns(spec),
                                  [(rule.column, re.compile(rule.pattern)) for rule in spec.test_entries])
        meta, personal, tests = per_spec[id(spec)]
        cid = clean_id(_cell(raw, spec.meta.contribution_id))
        record = {
            "wave": wave, "source_file": raw.source_file, "sheet": raw.sheet, "row": raw.row,
            "contribution_id": cid or None, "member_id": None, "created_at": None, "updated_at": None,
        }

        def reject(column: str | None, code: str, reason: str, raw: RawRow = raw, cid: str = cid,
                   personal: set[str] = personal) -> None:
            value = None if column in personal else cell_text(_cell(raw, column)) or None
            result.rejects.append(Reject(raw.source_file, raw.sheet_of(column), raw.row, column, cid or None, value,
                                         code, reason))

        def finish(status: str, code: str | None, reason: str | None, record: dict = record) -> None:
            result.submissions.append(record | {"status": status, "reason_code": code, "reason": reason})

        # timestamps are kept on every row where they parse, whatever the status
        stamps: dict[str, dt.datetime | None] = {}
        for key, column in (("created_at", spec.meta.creation_date), ("updated_at", spec.meta.last_update)):
            try:
                stamps[key] = parse_timestamp(_cell(raw, column), spec.datetime_format)
            except ValueProblem:
                stamps[key] = None
        record.update(stamps)

        # 1. blank
        if all(is_blank(value) for column, value in raw.cells.items() if column not in meta):
            finish("blank", "blank_row", "no question is answered")
            continue
        # 2. test entries, by the sidecar's explicit rule only
        rule_hit = next((column for column, pattern in tests if pattern.search(cell_text(_cell(raw, column)))),
                        None)
        if rule_hit is not None:
            finish("test", "test_entry", f"{rule_hit!r} matches the sidecar's test-entry rule")
            continue
        # 3. the member (a known Member State answer helps tell look-alike names apart)
        try:
            answered_country = normalise_country(choice_label(_cell(raw, spec.identity.country), spec), countries)
        except ValueProblem:
            answered_country = None
        member_id, how = registry.match(_cell(raw, spec.identity.member_id),
                                        _cell(raw, spec.identity.organisation), answered_country)
        record["member_id"] = member_id
        # 2b. a correction excluding the whole submission acts like a test-entry rule
        correction = excluded.get(cid) if cid else None
        if correction is not None:
            if correction.member_matches(member_id):
                outcome[correction.correction_id] = "applied"
                result.corrections.append(correction.record(
                    status="applied", member_id=member_id,
                    detail=f"submission {cid} (row {raw.row}) excluded: recorded as a test entry",
                ))
                finish("test", "excluded_by_correction",
                       f"excluded by correction {correction.correction_id}: {correction.reason or 'no reason given'}")
                continue
            outcome[correction.correction_id] = (
                f"submission {cid} belongs to {member_id or 'no known member'}, not to {correction.member_id!r}"
            )
        problems: list[tuple[str, str]] = []
        if member_id is None:
            reason = f"unknown member: {how}"
            # the bad cell is the ID that names nobody; when no ID is given, the name that matched nobody
            bad = spec.identity.member_id if not is_blank(_cell(raw, spec.identity.member_id)) \
                else spec.identity.organisation
            reject(bad, "unknown_member", reason)
            problems.append(("unknown_member", reason))
        # 4. the Member State answer (the member's country itself comes from the registry)
        country_cell = _cell(raw, spec.identity.country)
        if not is_blank(country_cell):
            try:
                normalise_country(choice_label(country_cell, spec), countries)
            except ValueProblem as exc:
                reject(spec.identity.country, exc.code, exc.reason)
                problems.append((exc.code, exc.reason))
        for key, column in (("updated_at", spec.meta.last_update), ("created_at", spec.meta.creation_date)):
            if stamps[key] is None:
                try:
                    parse_timestamp(_cell(raw, column), spec.datetime_format)
                except ValueProblem as exc:
                    reject(column, exc.code, f"{column}: {exc.reason}")
                    problems.append((exc.code, f"{column}: {exc.reason}"))
        if problems:
            finish("rejected", problems[0][0], "; ".join(reason for _, reason in problems))
            continue
        updated, created = stamps["updated_at"], stamps["created_at"]
        # a row without a member or a readable timestamp was rejected above
        assert member_id is not None and updated is not None and created is not None
        candidates[member_id].append((latest_first_key(updated, created, cid, raw.row), record, raw))

    # 5. one submission per member and wave
    accepted: list[tuple[RawRow, dict]] = []
    for member_id in sorted(candidates):
        ranked = sorted(candidates[member_id], key=lambda item: item[0])
        (_, winner, winner_raw), *others = ranked
        result.submissions.append(winner | {"status": "accepted", "reason_code": None, "reason": None})
        accepted.append((winner_raw, winner))
        for _, record, _raw in others:
            result.submissions.append(record | {
                "status": "superseded", "reason_code": "superseded",
                "reason": f"a later submission of {member_id} counts: "
                          f"{winner['contribution_id'] or '(no id)'} on row {winner['row']}",
            })

    # 6. the values of the accepted submissions
    result.values = submission_values(accepted, result.rejects)

    for correction in exclusions:
        if outcome.get(correction.correction_id) == "applied":
            continue
        if correction.correction_id in outcome:
            detail = outcome[correction.correction_id]
        elif not correction.contribution_id.strip():
            detail = "excluding a whole submission needs its contribution_id"
        else:
            detail = (f"no submission of wave {wave} that reached the member check has contribution_id "
                      f"{correction.contribution_id!r}")
        result.corrections.append(correction.record(status="not applied", detail=detail))
    result.submissions.sort(key=lambda r: (r["source_file"], r["row"]))
    return result


def submission_values(accepted: Sequence[tuple[RawRow, dict]], rejects: list[Reject]) -> list[dict]:
    """The reported values of the accepted submissions (each with its raw row), one per indicator; each bad cell
    rejects that value only. Read column by column, per export (one sidecar)."""
    by_spec: dict[int, list[tuple[RawRow, dict]]] = defaultdict(list)
    for raw, submission in accepted:
        by_spec[id(raw.spec)].append((raw, submission))
    values: list[dict] = []
    for group in by_spec.values():
        values += _export_values(group, group[0][0].spec, rejects)
    return values


def _export_values(accepted: list[tuple[RawRow, dict]], spec: SurveySpec, rejects: list[Reject]) -> list[dict]:
    personal = personal_columns(spec)

    def column(name: str) -> list[object]:
        key = header_text(name)
        return [raw.cells.get(key) for raw, _ in accepted]

    def reject(raw: RawRow, submission: dict, column: str, cell: object, problem: ValueProblem) -> None:
        value = None if column in personal else cell_text(cell) or None
        rejects.append(Reject(raw.source_file, raw.sheet_of(column), raw.row, column, submission["contribution_id"],
                              value, problem.code, problem.reason))

    # per column: its cells and what each reads as (None for a blank cell)
    reported = [(name, indicator, cells, reported_values(cells, indicator, spec))
                for name, indicator in spec.indicators.items() for cells in [column(name)]]
    progress = spec.commitment_progress
    matrix: list[tuple[str, list[object], list[str]]] = []
    if progress is not None:
        progressing = {normalise_label(label) for label in progress.progressing}
        not_progressing = {normalise_label(label) for label in progress.not_progressing}
        title = matrix_title(progress.columns)
        # an answer's label, read once per distinct answer ('' for a blank one)
        matrix = [(name, cells, by_value(cells, lambda cell: "" if is_blank(cell)
                                         else normalise_label(choice_label(cell, spec))))
                  for name in progress.columns for cells in [column(name)]]

    values = []
    for i, (raw, submission) in enumerate(accepted):
        base = {
            "year": spec.wave, "member_id": submission["member_id"], "source_file": raw.source_file,
            "sheet": raw.sheet, "row": raw.row, "contribution_id": submission["contribution_id"],
            "submitted_at": submission["updated_at"], "corrected": False,
        }
        per_indicator: dict[str, list[tuple[str, int]]] = defaultdict(list)
        for name, indicator, cells, outcomes in reported:
            outcome = outcomes[i]
            if isinstance(outcome, ValueProblem):
                reject(raw, submission, name, cells[i], outcome)
            elif outcome is not None:
                per_indicator[indicator].append((name, outcome))
        for indicator, parts in per_indicator.items():
            # several questions of one wave may feed one indicator (e.g. split by audience): their sum counts
            values.append(base | {
                "indicator": indicator, "value": sum(v for _, v in parts), "column": " + ".join(c for c, _ in parts),
            })
        if progress is not None:
            answered = counted = 0
            for name, cells, labels_read in matrix:
                label = labels_read[i]
                if not label and is_blank(cells[i]):
                    continue
                if label in progressing:
                    answered += 1
                    counted += 1
                elif label in not_progressing:
                    answered += 1
                else:
                    reject(raw, submission, name, cells[i], ValueProblem(
                        "unknown_label", f"{cell_text(cells[i])!r} is not one of the progress labels the sidecar lists"))
            if answered:
                values.append(base | {"indicator": "commitments_reported", "value": answered, "column": title})
                values.append(base | {"indicator": "commitments_progressing", "value": counted, "column": title})
    return values


def reported_values(cells: Sequence[object], indicator: str, spec: SurveySpec) -> list[int | ValueProblem | None]:
    """`reported_value` of every cell (the problem it raises in its place), None for a blank cell. A whole,
    non-negative number cell (most spreadsheet answers) is scaled here; any other cell is read by the rule, once
    per distinct cell (text answers such as '1 500' repeat)."""
    factor = spec.multipliers.get(indicator, 1) * INDICATORS[indicator].scale
    most = CEILINGS[indicator] * INDICATORS[indicator].scale // factor  # the largest number under the ceiling

    def read(cell: object) -> int | ValueProblem | None:
        return None if is_blank(cell) else attempt(lambda c: reported_value(c, indicator, spec))(cell)

    whole = [type(c) is float and c.is_integer() and 0 <= c <= most for c in cells]
    others = iter(by_value([c for c, w in zip(cells, whole, strict=True) if not w], read))
    return [int(c) * factor if w else next(others) for c, w in zip(cells, whole, strict=True)]  # type: ignore[call-overload]


# One to three digits, the decimal separator, exactly three digits: '38.000' in a dot-decimal wave reads as 38 but
# was almost certainly typed as 38,000 (a count has no decimals, money no third one). Neither reading is taken.
_AMBIGUOUS = {separator: re.compile(rf"[0-9]{{1,3}}{re.escape(separator)}[0-9]{{3}}") for separator in ".,"}


def reported_value(cell: object, indicator: str, spec: SurveySpec) -> int:
    """One reported number -> its stored int64 (cents for money), or a ValueProblem saying why not."""
    decimal = spec.number_format.decimal_separator
    if isinstance(cell, str) and _AMBIGUOUS[decimal].fullmatch(cell.strip()):
        text = cell.strip()
        whole, fraction = text.split(decimal)
        as_decimal = f"{int(whole)}.{fraction}".rstrip("0").rstrip(".")
        raise ValueProblem(
            "ambiguous_number",
            f"{text!r} is {as_decimal} with {decimal!r} as this wave's decimal separator, or {int(whole + fraction):,} "
            f"if {decimal!r} separates thousands; neither reading is taken",
        )
    number = parse_number(cell, decimal)
    if number < 0:
        raise ValueProblem("negative_value", f"{cell_text(cell)!r} is negative; a reported quantity cannot be")
    multiplier = spec.multipliers.get(indicator, 1)
    catalogue = INDICATORS[indicator]
    stored = to_stored_int(number, multiplier=multiplier, scale=catalogue.scale)
    ceiling = CEILINGS[indicator]  # every reported indicator has one (the catalogue requires it)
    if stored > ceiling * catalogue.scale:
        raise ValueProblem(
            "implausible_value",
            f"{cell_text(cell)!r} (= {stored // catalogue.scale:,} {catalogue.unit}) is above the plausible "
            f"ceiling of {ceiling:,} {catalogue.unit} for one member in one year",
        )
    return stored


def matrix_title(columns: list[str]) -> str:
    """'How is commitment N progressing?: Commitment 1' ... -> the matrix title EUSurvey puts before ': '."""
    titles = {c.rsplit(":", 1)[0].strip() for c in columns if ":" in c}
    if len(titles) == 1 and all(":" in c for c in columns):
        return titles.pop()
    return " | ".join(columns)

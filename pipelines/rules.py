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
import functools
import re
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from itertools import compress

import pyarrow as pa

from pipelines import columns, finish, indicators
from pipelines.columns import attempt, by_value
from pipelines.corrections import Correction
from pipelines.eusurvey import strip_answer_shortname
from pipelines.normalise import (
    ValueProblem,
    cell_text,
    is_blank,
    latest_first_key,
    normalise_country,
    normalise_label,
    normalise_member_id,
    normalise_org_name,
    parse_number,
    refuse_ambiguous,
    to_stored_int,
)
from pipelines.readers import header_text
from pipelines.schema import INDICATORS, REPORTED_INDICATORS, TABLES, Reject
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
        return self.match_key(normalise_member_id(raw_id), raw_name, country)

    def named_otherwise(self, member_id: str, raw_name: object) -> bool:
        """Whether an organisation name is given that shares no word with this member's registered name (a
        shortened name, 'Beta' for 'Beta Costruzioni S.r.l.', is the member's)."""
        words = set(normalise_org_name(raw_name, strip_legal_form=False).split())
        return bool(words) and not words & set(self._registered_names.get(member_id, "").split())

    @functools.cached_property
    def _registered_names(self) -> dict[str, str]:
        """Member -> its normalised name: built when a submission is first doubted (rarely)."""
        return {member: name for name, members in self.by_full_name.items() for member in members}

    def match_key(self, key: str, raw_name: object, country: str | None = None) -> tuple[str | None, str]:
        """`match` for an ID already normalised (`normalise_member_id`)."""
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


EXCEL_CELL_CHARACTERS = 32_767  # the most a spreadsheet cell holds


@dataclass(frozen=True)
class ExportRows:
    """The data rows of one survey export (one workbook) as columns: header key -> its cells, top to bottom.
    Row `i` is spreadsheet row `first_row + i`."""

    source_file: str
    sheet: str | None
    first_row: int
    length: int
    columns: Mapping[str, Sequence[object]]
    spec: SurveySpec  # the sidecar of the file, its column names resolved to header keys
    column_sheets: Mapping[str, str] = field(default_factory=dict)  # for a wide export: the sheet of a column

    def cells(self, column: str | None) -> Sequence[object]:
        """The cells under a header the sidecar names (headers compare with whitespace runs collapsed); None for
        every row when the sidecar names no such column."""
        found = self.columns.get(header_text(column)) if column is not None else None
        return found if found is not None else [None] * self.length

    def sheet_of(self, column: str | None) -> str | None:
        return self.column_sheets.get(column, self.sheet) if column is not None else self.sheet

    def continued_text(self, i: int) -> str | None:
        """The column whose over-long answer row `i` continues, when it is such a row: EUSurvey writes an answer
        longer than a cell holds (32,767 characters) in pieces down the same column, in rows of their own that
        hold nothing else. None for any other row."""
        if i == 0:
            return None
        continued = None
        for column, cells in self.columns.items():
            if is_blank(cells[i]):
                continue
            above = cells[i - 1]
            if not (isinstance(above, str) and len(above) == EXCEL_CELL_CHARACTERS):
                return None
            continued = continued or column
        return continued


@dataclass
class WaveResult:
    submissions: dict[str, list] = field(default_factory=dict)  # the `submissions` columns, by (file, row)
    rejects: list[Reject] = field(default_factory=list)
    values: pa.Table | None = None  # reported values of accepted submissions (fact rows, `facts` contract)
    corrections: list[dict] = field(default_factory=list)  # whole-submission exclusions, as corrections_applied
    strangers: list[str] = field(default_factory=list)  # submissions whose ID names a member unlike the answers


SUBMISSION_COLUMNS = ("wave", "source_file", "sheet", "row", "contribution_id", "member_id", "created_at",
                      "updated_at", "status", "reason_code", "reason")


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


@dataclass(frozen=True)
class _ExportReading:
    """What the rules read from each row of one export before deciding its status, column by column."""

    contribution_ids: list[str]
    created: list[dt.datetime | ValueProblem]
    updated: list[dt.datetime | ValueProblem]
    blank: set[int]  # rows answering no question
    test_hits: list[str | None]  # the column of the first test-entry rule a row matches
    countries: list[str | ValueProblem]  # the Member State answer read


def _read_export(export: ExportRows, countries: Mapping[str, str]) -> _ExportReading:
    spec = export.spec
    meta = spec.meta

    def stamps(column: str | None) -> list[dt.datetime | ValueProblem]:
        return columns.timestamps(export.cells(column), spec.datetime_format)

    # 1. blank: a row stays a candidate while every column seen so far is blank there (few survive the first)
    blank = list(range(export.length))
    excluded = meta_columns(spec)
    for column, cells in export.columns.items():
        if not blank:
            break
        if column not in excluded:
            blank = [i for i in blank if is_blank(cells[i])]
    # 2. test entries, by the sidecar's explicit rules only, the first rule that matches naming the row's reason
    test_hits: list[str | None] = [None] * export.length
    for rule in spec.test_entries:
        matches = columns.searched(export.cells(rule.column), re.compile(rule.pattern))
        test_hits = [hit if hit is not None or not match else rule.column
                     for hit, match in zip(test_hits, matches, strict=True)]
    return _ExportReading(
        contribution_ids=columns.ids(export.cells(meta.contribution_id)),
        created=stamps(meta.creation_date), updated=stamps(meta.last_update), blank=set(blank), test_hits=test_hits,
        countries=by_value(export.cells(spec.identity.country),
                           attempt(lambda cell: normalise_country(choice_label(cell, spec), countries))),
    )


def classify_wave(
    wave: int,
    exports: Sequence[ExportRows],
    registry: RegistryIndex,
    countries: Mapping[str, str],
    exclusions: Sequence[Correction] = (),
) -> WaveResult:
    """Apply the rules of the data to every raw row of one wave (from one export or several: a member's
    submissions compete across them). Every row gets exactly one submission record. The cells are read column by
    column; the decision for each row is then taken in rule order."""
    result = WaveResult()
    excluded = {c.contribution_id.strip(): c for c in exclusions if c.contribution_id.strip()}
    outcome: dict[str, str] = {}  # correction_id -> why it was not applied, when its target was found wanting
    candidates: dict[str, list[int]] = defaultdict(list)  # member -> its submissions still in the running
    out: dict[str, list] = {name: [] for name in SUBMISSION_COLUMNS}
    where: list[tuple[ExportRows, int]] = []  # submission index -> (export, row offset)
    starts: dict[int, int] = {}  # id(export) -> the index of its first row's submission

    for export in exports:
        spec = export.spec
        if spec.wave != wave:
            raise ValueError(f"{export.source_file} is wave {spec.wave}, not {wave}")
        personal = personal_columns(spec)
        read = _read_export(export, countries)
        id_cells, name_cells = export.cells(spec.identity.member_id), export.cells(spec.identity.organisation)
        country_cells = export.cells(spec.identity.country)
        member_keys = columns.member_keys(id_cells)
        start = starts[id(export)] = len(where)
        n = export.length
        rows = range(export.first_row, export.first_row + n)
        cids = read.contribution_ids
        created = [None if isinstance(t, ValueProblem) else t for t in read.created]
        updated = [None if isinstance(t, ValueProblem) else t for t in read.updated]
        out["wave"] += [wave] * n
        out["source_file"] += [export.source_file] * n
        out["sheet"] += [export.sheet] * n
        out["row"] += rows
        out["contribution_id"] += [cid or None for cid in cids]
        out["created_at"] += created
        out["updated_at"] += updated
        member_ids: list[str | None] = [None] * n
        statuses: list[str | None] = [None] * n
        codes: list[str | None] = [None] * n
        reasons: list[str | None] = [None] * n
        where += [(export, i) for i in range(n)]

        def reject(i: int, column: str | None, code: str, reason: str, export: ExportRows = export,
                   personal: set[str] = personal, cids: list[str] = cids) -> None:
            value = None if column in personal else cell_text(export.cells(column)[i]) or None
            result.rejects.append(Reject(export.source_file, export.sheet_of(column), export.first_row + i, column,
                                         cids[i] or None, value, code, reason))

        # The usual row (answering, no test entry, its member found by ID, no correction excluding it, every cell it
        # needs read) takes none of the decisions below: those rows are found column by column, and the loop
        # visits the others only.
        by_id = registry.by_id
        usual = [bool(key) and key in by_id and hit is None and cid not in excluded and stamp is not None
                 and made is not None and not isinstance(country, ValueProblem)
                 for key, hit, cid, stamp, made, country in zip(member_keys, read.test_hits, cids, updated, created,
                                                                read.countries, strict=True)]
        for i in read.blank:
            usual[i] = False
        for i in compress(range(n), usual):
            member_ids[i] = found = by_id[member_keys[i]]
            candidates[found].append(start + i)
        # The ID decides; but one whose member has another Member State and another name than the answers is
        # likely mistyped, and takes that member's submission over: reported, for someone to look at
        home = registry.country
        elsewhere = [found is not None and answered is not None and home.get(found) not in (answered, None)
                     for found, answered in zip(member_ids, read.countries, strict=True)]
        for i in compress(range(n), elsewhere):
            member = by_id[member_keys[i]]
            if registry.named_otherwise(member, name_cells[i]):
                result.strangers.append(f"row {rows[i]}: {member} ({home.get(member)}) answered as "
                                        f"{cell_text(name_cells[i])!r} ({read.countries[i]})")
        for i in compress(range(n), [not u for u in usual]):
            if i in read.blank:
                statuses[i], codes[i], reasons[i] = "blank", "blank_row", "no question is answered"
                continue
            if read.test_hits[i] is not None:
                statuses[i], codes[i] = "test", "test_entry"
                reasons[i] = f"{read.test_hits[i]!r} matches the sidecar's test-entry rule"
                continue
            continued = export.continued_text(i) if not member_keys[i] else None
            if continued is not None:  # not a submission: the rest of the one above
                statuses[i], codes[i] = "blank", "text_continued"
                reasons[i] = (f"the rest of row {rows[i] - 1}'s answer to {continued!r}, longer than a spreadsheet "
                              f"cell holds ({EXCEL_CELL_CHARACTERS:,} characters)")
                continue
            # 3. the member (a known Member State answer helps tell look-alike names apart)
            answered = read.countries[i]
            answered_country = None if isinstance(answered, ValueProblem) else answered
            member_id, how = registry.match_key(member_keys[i], name_cells[i], answered_country)
            member_ids[i] = member_id
            cid = cids[i]
            # 2b. a correction excluding the whole submission acts like a test-entry rule
            correction = excluded.get(cid) if cid else None
            if correction is not None:
                if correction.member_matches(member_id):
                    outcome[correction.correction_id] = "applied"
                    result.corrections.append(correction.record(
                        status="applied", member_id=member_id,
                        detail=f"submission {cid} (row {rows[i]}) excluded: recorded as a test entry",
                    ))
                    statuses[i], codes[i] = "test", "excluded_by_correction"
                    reasons[i] = (f"excluded by correction {correction.correction_id}: "
                                  f"{correction.reason or 'no reason given'}")
                    continue
                outcome[correction.correction_id] = (
                    f"submission {cid} belongs to {member_id or 'no known member'}, not to {correction.member_id!r}"
                )
            problems: list[tuple[str, str]] = []
            if member_id is None:
                reason = f"unknown member: {how}"
                # the bad cell is the ID that names nobody; when no ID is given, the name that matched nobody
                bad = spec.identity.member_id if not is_blank(id_cells[i]) else spec.identity.organisation
                reject(i, bad, "unknown_member", reason)
                problems.append(("unknown_member", reason))
            # 4. the Member State answer (the member's country itself comes from the registry)
            if isinstance(answered, ValueProblem) and not is_blank(country_cells[i]):
                reject(i, spec.identity.country, answered.code, answered.reason)
                problems.append((answered.code, answered.reason))
            for stamp, column in ((read.updated[i], spec.meta.last_update), (read.created[i], spec.meta.creation_date)):
                if isinstance(stamp, ValueProblem):
                    reject(i, column, stamp.code, f"{column}: {stamp.reason}")
                    problems.append((stamp.code, f"{column}: {stamp.reason}"))
            if problems:
                statuses[i], codes[i] = "rejected", problems[0][0]
                reasons[i] = "; ".join(reason for _, reason in problems)
                continue
            # a row without a member or a readable timestamp was rejected above
            assert member_id is not None
            candidates[member_id].append(start + i)
        out["member_id"] += member_ids
        out["status"] += statuses
        out["reason_code"] += codes
        out["reason"] += reasons

    # 5. one submission per member and wave
    def latest_first(index: int) -> tuple:
        return latest_first_key(out["updated_at"][index], out["created_at"][index],
                                out["contribution_id"][index] or "", out["row"][index])

    accepted: dict[int, list[int]] = defaultdict(list)  # id(export) -> offsets of its accepted rows
    for member_id, running in candidates.items():  # each member decided alone: their order does not matter
        if len(running) > 1:  # most members sent one submission; ties keep the order of the rows
            running = sorted(sorted(running), key=latest_first)
        winner, *others = running
        out["status"][winner] = "accepted"
        export, offset = where[winner]
        accepted[id(export)].append(offset)
        for index in others:
            out["status"][index], out["reason_code"][index] = "superseded", "superseded"
            out["reason"][index] = (f"a later submission of {member_id} counts: "
                                    f"{out['contribution_id'][winner] or '(no id)'} on row {out['row'][winner]}")

    # 6. the values of the accepted submissions
    values = [TABLES["facts"][0].empty_table()]
    for export in exports:
        if accepted.get(id(export)):
            indices = [starts[id(export)] + offset for offset in sorted(accepted[id(export)])]
            values.append(export_values(export, indices, out, result.rejects))
    # in the order of the curated table (one wave: by member, then indicator), so that it need not be sorted whole
    result.values = finish.ordered_by(pa.concat_tables(values), ("member_id", "indicator"))

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
    # the submissions by (file, row): each export's rows are in order, and exports are ordered by file
    blocks = sorted((export.source_file, starts[id(export)], export.length) for export in exports)
    if [start for _, start, _ in blocks] != sorted(starts.values()):
        out = {name: [v for _, start, n in blocks for v in cells[start:start + n]] for name, cells in out.items()}
    result.submissions = out
    return result


def export_values(export: ExportRows, indices: list[int], submissions: Mapping[str, list],
                  rejects: list[Reject]) -> pa.Table:
    """The reported values of one export's accepted submissions (`indices` into the wave's `submissions`
    columns), one fact row per indicator, in the `facts` contract; each bad cell rejects that value only. Read
    column by column."""
    spec = export.spec
    personal = personal_columns(spec)
    rows = [submissions["row"][i] for i in indices]
    offsets = [row - export.first_row for row in rows]
    cids = [submissions["contribution_id"][i] for i in indices]

    def column(name: str) -> list[object]:
        cells = export.cells(name)
        return [cells[i] for i in offsets]

    def reject(j: int, column: str, cell: object, problem: ValueProblem) -> None:
        value = None if column in personal else cell_text(cell) or None
        rejects.append(Reject(export.source_file, export.sheet_of(column), rows[j], column, cids[j], value,
                              problem.code, problem.reason))

    facts: dict[str, list] = {"at": [], "indicator": [], "value": [], "column": []}  # at: index into offsets

    def add(at: list[int], indicator: str, values: list[int], column: str | list[str]) -> None:
        facts["at"] += at
        facts["indicator"] += [indicator] * len(at)
        facts["value"] += values
        facts["column"] += column if isinstance(column, list) else [column] * len(at)

    # per indicator, the questions feeding it, each with its cells and what each reads as (None for a blank cell)
    by_indicator: dict[str, list[tuple[str, list[object], list[int | ValueProblem | None]]]] = defaultdict(list)
    for name, indicator in spec.indicators.items():
        cells = column(name)
        outcomes = reported_values(cells, indicator, spec)
        if columns.any_problem(outcomes):
            for j, outcome in enumerate(outcomes):
                if isinstance(outcome, ValueProblem):
                    reject(j, name, cells[j], outcome)
        by_indicator[indicator].append((name, cells, outcomes))
    for indicator, questions in by_indicator.items():
        if len(questions) == 1:
            (name, _, outcomes), = questions
            read = [(j, outcome) for j, outcome in enumerate(outcomes) if isinstance(outcome, int)]
            add([j for j, _ in read], indicator, [outcome for _, outcome in read], name)
            continue
        # several questions of one wave may feed one indicator (e.g. split by audience): their sum counts
        at, sums, names = [], [], []
        for j in range(len(offsets)):
            parts = [(name, outcome) for name, _, outcomes in questions for outcome in [outcomes[j]]
                     if isinstance(outcome, int)]
            if parts:
                at.append(j)
                sums.append(sum(v for _, v in parts))
                names.append(" + ".join(c for c, _ in parts))
        add(at, indicator, sums, names)

    progress = spec.commitment_progress
    if progress is not None:
        progressing = {normalise_label(label) for label in progress.progressing}
        not_progressing = {normalise_label(label) for label in progress.not_progressing}

        def state(cell: object) -> int:
            """0: not answered, 1: progressing, 2: not progressing, 3: a label the sidecar does not list."""
            if is_blank(cell):
                return 0
            label = normalise_label(choice_label(cell, spec))
            return 1 if label in progressing else 2 if label in not_progressing else 3

        answered = [0] * len(offsets)
        counted = [0] * len(offsets)
        for name in progress.columns:
            cells = column(name)
            states = by_value(cells, state)  # read once per distinct answer
            answered = [a + (s == 1 or s == 2) for a, s in zip(answered, states, strict=True)]
            counted = [c + (s == 1) for c, s in zip(counted, states, strict=True)]
            for j, s in enumerate(states):
                if s == 3:
                    reject(j, name, cells[j], ValueProblem(
                        "unknown_label", f"{cell_text(cells[j])!r} is not one of the progress labels the sidecar lists"))
        at = [j for j, a in enumerate(answered) if a]
        title = matrix_title(progress.columns)
        add(at, "commitments_reported", [answered[j] for j in at], title)
        add(at, "commitments_progressing", [counted[j] for j in at], title)

    # the submission's own columns are made into Arrow once and repeated for each of its facts
    schema = TABLES["facts"][0]
    at = pa.array(facts["at"], pa.int64())
    n = len(at)
    submission = {
        "member_id": [submissions["member_id"][i] for i in indices], "row": rows, "contribution_id": cids,
        "submitted_at": [submissions["updated_at"][i] for i in indices],
    }
    data = {
        "year": pa.repeat(pa.scalar(spec.wave, pa.int16()), n), "indicator": pa.array(facts["indicator"], pa.string()),
        "value": pa.array(facts["value"], pa.int64()), "source_file": pa.repeat(pa.scalar(export.source_file), n),
        "sheet": pa.repeat(pa.scalar(export.sheet, pa.string()), n), "column": pa.array(facts["column"], pa.string()),
        "corrected": pa.repeat(pa.scalar(False), n),
        **{name: pa.array(values, schema.field(name).type).take(at) for name, values in submission.items()},
    }
    return pa.table([data[name] for name in schema.names], schema=schema)


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


def reported_value(cell: object, indicator: str, spec: SurveySpec) -> int:
    """One reported number -> its stored int64 (cents for money), or a ValueProblem saying why not."""
    decimal = spec.number_format.decimal_separator
    refuse_ambiguous(cell, decimal, "this wave's")
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

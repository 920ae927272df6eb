"""`python -m pipelines sidecar NEW.xlsx`: a draft `<file>.source.yml` for a new survey export, from last wave's.

The draft is a guess to review, never a sidecar to trust: every guessed line carries a `# REVIEW:` comment, and
what could not be guessed is listed as `# UNMAPPED:`.

- The wave: a survey on activity year Y is answered in Y+1, so the wave is the year before most contributions'
  creation dates (the meta column, found by its label in any EUSurvey language), else the year before the export's
  own `Export Date`.
- The mapping: the committed sidecar of the latest earlier wave in the same folder gives last wave's question
  for each role (identity, indicators, commitment-progress columns, personal columns, test-entry columns). Each is
  matched to one question of the new header by wording similarity: rapidfuzz's `token_set_ratio` of the two
  wordings compared without case and without each wave's own year ("in 2023", "up to December 2022"), so that a
  question that only names its year is 100%. `token_set_ratio` scores words in common, in any order, and one
  wording that only adds words to the other ("Contact person (name and surname)" / "Contact person") high.
  A pair is a match from `THRESHOLD` (70%) up, best pairs first, each question used once. 70 is a judgment, not a
  fit: reworded questions that keep their key nouns score 75-90, while two different questions about people
  ("Number of people up-/reskilled" / "People reached by your promotion of up-/reskilling") score 60, and a match
  below 70 would be such a pair as often as not. A question reworded beyond that is left unmapped and said so.
- Units are not copied silently: a multiplier is written only when the new question still says thousands
  (`says_thousands`), and the decimal separator is the one the export's own text numbers show when they all agree,
  else last wave's, with a REVIEW comment either way.

`draft_sidecar` reads and returns text; `write_draft` is the one place that writes, and only a new file.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import yaml
from rapidfuzz import fuzz, process

from pipelines.errors import PipelineError
from pipelines.eusurvey import CONTENT_SHEET, HeaderIndex, continuation_sheets, meta_role
from pipelines.normalise import comparable_wording, is_blank, normalise_label
from pipelines.readers import (
    DATA_SUFFIXES,
    ExportPart,
    Workbook,
    export_parts,
    export_workbooks,
    header_text,
    sheet_cells,
)
from pipelines.sidecar import SIDECAR_SUFFIX, Sidecar, SidecarError, load_sidecar, sidecar_path

log = logging.getLogger(__name__)

THRESHOLD = 70  # least wording similarity (rapidfuzz token_set_ratio, 0-100) taken as the same question
# Wording that asks in thousands: "in thousands of euro", "kEUR", "k€", "EUR '000", "(000)", "000s"
_THOUSANDS = re.compile(r"thousand|\bk\s?(?:eur|€)|(?:eur|€)\s?k\b|['’]000\b|\(000\)|\b000s\b", re.IGNORECASE)
HEADER_SEARCH_ROWS = 20  # EUSurvey's header is on row 4; an export saved again by hand may have moved it a little
DEFAULT_HEADER_ROW = 4


class ScaffoldError(PipelineError):
    """The draft cannot be written (an existing sidecar, a file that is not an export)."""


def says_thousands(question: str) -> bool:
    """Whether a question's wording asks for its figure in thousands."""
    return bool(_THOUSANDS.search(question))


@dataclass(frozen=True)
class Match:
    """Last wave's wording `before` found as `after` in the new header, `score`% alike."""

    before: str
    after: str
    score: int

    @property
    def same(self) -> bool:
        return header_text(self.before) == header_text(self.after)


def match_questions(before: list[str], before_wave: int, after: list[str], wave: int,
                    threshold: int = THRESHOLD) -> tuple[dict[str, Match], dict[str, Match]]:
    """(matches, best misses): each of last wave's wordings -> the new question it matches (score >= threshold,
    best pairs first, each new question used once), and for the others the best candidate that fell short."""
    if not before or not after:
        return {}, {}
    scores = process.cdist([comparable_wording(b, before_wave) for b in before],
                           [comparable_wording(a, wave) for a in after], scorer=fuzz.token_set_ratio)
    pairs = sorted(((float(scores[i][j]), i, j) for i in range(len(before)) for j in range(len(after))),
                   key=lambda t: (-t[0], t[1], t[2]))
    matched: dict[str, Match] = {}
    taken: set[int] = set()
    for score, i, j in pairs:
        if score < threshold:
            break
        if before[i] not in matched and j not in taken:
            matched[before[i]] = Match(before[i], after[j], round(score))
            taken.add(j)
    misses = {}
    for i, wording in enumerate(before):
        if wording not in matched:
            j = max(range(len(after)), key=lambda k: (scores[i][k], -k))
            misses[wording] = Match(wording, after[j], round(float(scores[i][j])))
    return matched, misses


@dataclass(frozen=True)
class WaveGuess:
    wave: int
    why: str


def guess_wave(export_date: dt.datetime | None, created: list[dt.datetime]) -> WaveGuess | None:
    """The activity year an export reports on: the year before most creation dates (a survey on year Y is answered
    in Y+1), else the year before the export date; None when the file has neither."""
    exported = f"exported {export_date:%Y-%m-%d %H:%M}" if export_date else "no Export Date on row 2"
    if created:
        years = Counter(d.year for d in created)
        year = max(years, key=lambda y: (years[y], y))
        spread = ", ".join(f"{y}: {n:,}" for y, n in sorted(years.items()))
        return WaveGuess(year - 1, f"{len(created):,} contributions created {min(created):%Y-%m-%d} to "
                                   f"{max(created):%Y-%m-%d} (by year {spread}), {exported}; a survey on activity "
                                   f"year Y is answered in Y+1")
    if export_date is not None:
        return WaveGuess(export_date.year - 1, f"no creation dates; {exported}; a survey on activity year Y is "
                                               "answered in Y+1")
    return None


def _as_datetime(value: object) -> dt.datetime | None:
    if isinstance(value, dt.datetime):
        return value
    if isinstance(value, dt.date):
        return dt.datetime(value.year, value.month, value.day)
    if isinstance(value, str) and value.strip():
        for fmt in ("%d/%m/%Y %H:%M", "%d/%m/%Y %H:%M:%S", "%Y-%m-%d %H:%M:%S", "%Y-%m-%d"):
            try:
                return dt.datetime.strptime(value.strip(), fmt)
            except ValueError:
                continue
    return None


def find_header(workbook: Workbook) -> tuple[str, int, bool]:
    """(sheet, header row, found): the row holding EUSurvey's contribution-ID label, in `Content` (or the first
    sheet) and its continuations; row 4 when no row has it."""
    names = workbook.sheet_names
    stem = CONTENT_SHEET if CONTENT_SHEET in names else names[0]
    for name in continuation_sheets(stem, names):
        for number, row in enumerate(sheet_cells(workbook, name)[:HEADER_SEARCH_ROWS], start=1):
            if any(isinstance(c, str) and meta_role(c) == "contribution_id" for c in row):
                return stem, number, True
    return stem, DEFAULT_HEADER_ROW, False


def previous_sidecar(folder: Path, wave: int, skip: Path) -> tuple[Path, Sidecar] | None:
    """The survey sidecar of the latest wave before `wave` in `folder` (one that does not load is passed over,
    with a warning)."""
    found: list[tuple[int, str, Path, Sidecar]] = []
    for path in sorted(folder.glob(f"*{SIDECAR_SUFFIX}")):
        data_file = path.with_name(path.name[: -len(SIDECAR_SUFFIX)])
        if data_file == skip:
            continue
        try:
            sidecar = load_sidecar(data_file)
        except SidecarError as exc:
            log.warning("not used as last wave's sidecar: %s", exc)
            continue
        if sidecar.survey is not None and sidecar.survey.wave < wave:
            found.append((sidecar.survey.wave, path.name, path, sidecar))
    if not found:
        return None
    _, _, path, sidecar = max(found, key=lambda f: (f[0], f[1]))
    return path, sidecar


@dataclass
class Draft:
    """The draft sidecar's text and what the summary says about it."""

    text: str
    wave: WaveGuess
    previous: str | None
    matched: list[str] = field(default_factory=list)
    review: list[str] = field(default_factory=list)
    unmapped: list[str] = field(default_factory=list)

    def summary(self, written: Path) -> str:
        lines = [f"wrote {written} (a draft: read every REVIEW and UNMAPPED comment in it, then run "
                 "`python -m pipelines check`)",
                 f"wave {self.wave.wave}: {self.wave.why}"]
        if self.previous is None:
            lines.append("no earlier wave's sidecar in the folder: nothing to match, every question is unmapped")
        else:
            lines.append(f"matched {len(self.matched)} of last wave's columns by wording (from {self.previous}, "
                         f"threshold {THRESHOLD}%)")
        lines += [f"  review: {item}" for item in self.review]
        lines += [f"  unmapped: {item}" for item in self.unmapped]
        return "\n".join(lines) + "\n"


# ---------------------------------------------------------------- YAML text

def _one_line(text: object) -> str:
    return " ".join(str(text).split())


def _q(text: str) -> str:
    return '"' + _one_line(text).replace('"', "'") + '"'


def _comment(text: str, indent: int) -> str:
    return " " * indent + "# " + _one_line(text)


def _dump(value: object, indent: int) -> list[str]:
    """`value` (a one-key mapping or a one-item list) as YAML lines at `indent` (long keys use YAML's `? key`)."""
    text = yaml.safe_dump(value, sort_keys=False, allow_unicode=True, width=120, default_flow_style=False)
    return [" " * indent + line for line in text.splitlines()]


def _review(match: Match, wave: int) -> str:
    if match.same:
        return f"as in {wave}"
    return f"REVIEW: {match.score}% like {wave}'s {_q(match.before)}"


def _miss(what: str, wording: str, misses: dict[str, Match], wave: int) -> str:
    best = misses.get(wording)
    near = f" (closest: {best.score}% {_q(best.after)})" if best else ""
    return f"UNMAPPED: {what}: {wave}'s {_q(wording)} has no question here at {THRESHOLD}% or more{near}"


def draft_sidecar(export: Path, *, today: dt.date) -> Draft:
    """The draft sidecar of a new survey export (read, never written to), from the latest earlier wave's sidecar in
    its folder."""
    fmt = DATA_SUFFIXES.get(export.suffix.lower())
    if fmt not in ("xlsx", "xls", "ods", "zip"):
        raise ScaffoldError("not a survey export: EUSurvey exports are xlsx, xls, ods or a zip of them",
                            file=export)
    try:
        with export.open("rb") as handle:  # read-only: raw files are never modified
            content = handle.read()
    except OSError as exc:
        raise ScaffoldError(f"cannot read the file: {exc.strerror or exc}", file=export) from exc
    workbooks = export_workbooks(content, str(export), fmt)
    sheet, header_row, found_header = find_header(workbooks[0])
    parts = export_parts(workbooks, sheet, header_row)
    first = parts[0]
    keys = [k for k in first.sheet.header if k]
    index = HeaderIndex(first.sheet.header, first.titles, first.places, shortnames=False, file=first.sheet.file,
                        sheet=first.sheet.sheet, header_row=header_row)
    questions = [k for k in keys if meta_role(first.titles[first.sheet.header.index(k)]) is None]
    created = _creation_dates(parts)
    export_date = next((p.export_date for p in parts if p.export_date), None)

    guess = guess_wave(export_date, created)
    prior = previous_sidecar(export.parent, guess.wave if guess else 10_000, export)
    if guess is None:
        if prior is None:
            raise ScaffoldError("cannot guess the wave: no Export Date on row 2, no creation dates and no earlier "
                                "wave's sidecar in the folder", file=export)
        guess = WaveGuess(prior[1].survey_spec.wave + 1, f"no dates in the file; the wave after {prior[0].name}'s")
    wave = guess.wave
    draft = Draft("", guess, prior[0].name if prior else None)

    out: list[str] = [
        f"# Draft sidecar of {export.name}, written by `python -m pipelines sidecar` on {today:%Y-%m-%d}"
        + (f" from {prior[0].name}." if prior else " (no earlier wave's sidecar to start from)."),
        "# A draft, not a sidecar to trust: check every REVIEW line against the export's header and delete its comment,",
        "# map what is UNMAPPED by hand, then run `python -m pipelines check` (model: pipelines/sidecar.py; README).",
    ]
    before = prior[1] if prior else None
    bwave = before.survey_spec.wave if before else wave - 1

    # provenance: last wave's, with its year moved on
    if before is not None:
        out.append(f"# REVIEW: title, publisher, sources, licence and synthetic copied from {bwave}'s sidecar")
        title = re.sub(rf"\b{bwave}\b", str(wave), before.title)
        head = {"title": title, "kind": "survey", "publisher": before.publisher, "sources": list(before.sources)}
    else:
        out.append("# REVIEW: say what this file is and who sent it")
        head = {"title": f"Pact for Skills annual member survey, activity year {wave}: EUSurvey export",
                "kind": "survey", "publisher": "FILL IN", "sources": []}
    for key, value in head.items():
        out += _dump({key: value}, 0)
    if export_date is not None:
        out.append(f"# REVIEW: the export's own Export Date ({export_date:%Y-%m-%d %H:%M}); put the day it reached you")
        received = export_date.date()
    else:
        out.append("# REVIEW: no Export Date in the file; today's date, put the day it reached you")
        received = today
    out += _dump({"received": received}, 0)
    out += _dump({"licence": before.licence if before else "FILL IN"}, 0)
    out += _dump({"synthetic": before.synthetic if before else False}, 0)
    span = (f"; contributions created {min(created):%d %b %Y} to {max(created):%d %b %Y}" if created else "")
    out += _dump({"description": f"EUSurvey results export of the survey on {wave} activities{span}."}, 0)
    out.append("read:")
    if not found_header:
        out.append(_comment(f"REVIEW: no row among the first {HEADER_SEARCH_ROWS} holds EUSurvey's contribution-ID "
                            f"label; row {DEFAULT_HEADER_ROW} is EUSurvey's header row", 2))
    out += _dump({"sheet": sheet}, 2)
    out += _dump({"header_row": header_row}, 2)

    out.append("survey:")
    out.append(_comment(f"guessed from the file's dates: {guess.why}", 2))
    out += _dump({"wave": wave}, 2)
    if first.alias:
        out.append(_comment("row 1 of the export", 2))
        alias = first.alias
    else:
        out.append(_comment("REVIEW: no Alias on row 1; the file's name", 2))
        alias = export.name.split(".")[0]
    out += _dump({"alias": alias}, 2)

    spec = before.survey if before else None
    wordings = _wordings(spec) if spec else []
    matches, misses = match_questions(wordings, bwave, questions, wave)
    if spec is not None:
        out += _identity(spec, matches, misses, bwave, draft)
        out += _indicators(spec, matches, misses, bwave, draft)
        out += _progress(spec, matches, misses, bwave, parts, index, draft)
        out += _personal(spec, matches, misses, bwave, draft)
        out += _units(spec, matches, bwave, parts, draft)
        out += _tests(spec, matches, misses, bwave, draft)
    else:
        out += ["  identity:", _comment("UNMAPPED: name this export's questions", 4),
                "    member_id: FILL IN", "    organisation: FILL IN", "  indicators: {}"]
        draft.unmapped.append("identity and every indicator (no earlier wave's sidecar)")
    used = {m.after for m in matches.values()}
    rest = [k for k in questions if k not in used]
    if rest:
        out.append(_comment("This export's questions mapped to nothing (kept as context, never summed):", 2))
        out += [_comment(f"- {_q(k)}", 2) for k in rest]
    draft.text = "\n".join(out) + "\n"
    return draft


def _creation_dates(parts: list[ExportPart]) -> list[dt.datetime]:
    dates = []
    for part in parts:
        roles = {meta_role(t): i for i, t in enumerate(part.titles) if meta_role(t) is not None}
        column = roles.get("creation_date")
        if column is None:
            continue
        for row in part.sheet.rows:
            stamp = _as_datetime(row[column]) if column < len(row) else None
            if stamp is not None:
                dates.append(stamp)
    return dates


def _wordings(spec) -> list[str]:
    """Last wave's questions that need a counterpart, once each, in sidecar order (meta columns are found by label
    in any language and need none)."""
    names = [spec.identity.member_id, spec.identity.organisation]
    names += [spec.identity.country] if spec.identity.country else []
    names += list(spec.indicators)
    names += list(spec.commitment_progress.columns) if spec.commitment_progress else []
    names += list(spec.personal) + [rule.column for rule in spec.test_entries]
    return [n for n in dict.fromkeys(header_text(n) for n in names) if meta_role(n) is None]


def _identity(spec, matches, misses, bwave, draft) -> list[str]:
    out = ["  identity:"]
    for role in ("member_id", "organisation", "country"):
        wording = getattr(spec.identity, role)
        if wording is None:
            continue
        match = matches.get(header_text(wording))
        if match is not None:
            out.append(_comment(_review(match, bwave), 4))
            out += _dump({role: match.after}, 4)
            _note(draft, f"identity.{role}", match)
        elif role == "country":
            out.append(_comment(_miss("identity.country (optional: the registry has every member's Member State; "
                                      "left out)", wording, misses, bwave), 4))
            draft.unmapped.append(f"identity.country ({bwave}: {_q(wording)}); optional, left out")
        else:
            out.append(_comment(_miss(f"identity.{role} (required: name this export's question)", wording, misses,
                                      bwave), 4))
            out += _dump({role: f"FILL IN ({bwave}: {_one_line(wording)})"}, 4)
            draft.unmapped.append(f"identity.{role} ({bwave}: {_q(wording)}); required")
    return out


def _indicators(spec, matches, misses, bwave, draft) -> list[str]:
    body = []
    for question, indicator in spec.indicators.items():
        match = matches.get(header_text(question))
        if match is not None:
            body.append(_comment(_review(match, bwave), 4))
            body += _dump({match.after: indicator}, 4)
            _note(draft, indicator, match)
        else:
            body.append(_comment(_miss(indicator, question, misses, bwave), 4))
            draft.unmapped.append(f"{indicator} ({bwave}: {_q(question)})")
    if not any(not line.lstrip().startswith("#") for line in body):
        return ["  indicators: {}", *body]
    return ["  indicators:", *body]


def _progress(spec, matches, misses, bwave, parts, index, draft) -> list[str]:
    progress = spec.commitment_progress
    if progress is None:
        return []
    found = []
    missed = []
    for column in progress.columns:
        match = matches.get(header_text(column))
        if match is not None:
            found.append((match, column))
        else:
            missed.append(_miss("commitment_progress column", column, misses, bwave))
            draft.unmapped.append(f"commitment_progress column ({bwave}: {_q(column)})")
    if not found:
        return [_comment("UNMAPPED: commitment_progress: none of its columns matched; the section is left out", 2),
                *[_comment(text, 2) for text in missed]]
    out = ["  commitment_progress:", *[_comment(text, 4) for text in missed], "    columns:"]
    for match, _ in found:
        out.append(_comment(_review(match, bwave), 4))
        out += _dump([match.after], 4)
        _note(draft, "commitment_progress column", match)
    known = {normalise_label(label) for label in (*progress.progressing, *progress.not_progressing)}
    seen = _answers(parts, [m.after for m, _ in found])
    new = [a for a in seen if normalise_label(a) not in known]
    out.append(_comment(f"REVIEW: the answer labels are {bwave}'s", 4))
    if new:
        out.append(_comment("REVIEW: answers in these columns that neither list has (each must go in one): "
                            + ", ".join(_q(a) for a in new), 4))
        draft.review.append("commitment_progress answers in neither list: " + ", ".join(_q(a) for a in new))
    out += _dump({"progressing": list(progress.progressing)}, 4)
    out += _dump({"not_progressing": list(progress.not_progressing)}, 4)
    return out


def _answers(parts: list[ExportPart], columns: list[str]) -> list[str]:
    seen: dict[str, None] = {}
    for part in parts:
        at = [part.sheet.header.index(c) for c in columns if c in part.sheet.header]
        for row in part.sheet.rows:
            for i in at:
                if i < len(row) and isinstance(row[i], str) and not is_blank(row[i]):
                    seen.setdefault(_one_line(row[i]))
    return sorted(seen)


def _personal(spec, matches, misses, bwave, draft) -> list[str]:
    body = []
    for column in spec.personal:
        wording = header_text(column)
        if meta_role(wording) is not None:
            body.append(_comment("a meta column: found by its label in any language", 4))
            body += _dump([column], 4)
            continue
        match = matches.get(wording)
        if match is not None:
            body.append(_comment(_review(match, bwave), 4))
            body += _dump([match.after], 4)
            _note(draft, "personal", match)
        else:
            body.append(_comment(_miss("personal column (find it: personal data must not be curated)", column,
                                       misses, bwave), 4))
            draft.unmapped.append(f"personal column ({bwave}: {_q(column)})")
    has_items = any(line.lstrip().startswith("- ") for line in body)
    return ["  personal:" if has_items else "  personal: []", *body]


# A number written as text whose last mark is followed by one or two digits shows the decimal separator
# ('12.5', '1,234.56' / '12,5'); one followed by three digits ('1,500') may be either, so it is not counted.
_DECIMAL_TAIL = re.compile(r"^-?[0-9][0-9 \u00a0.,]*([.,])[0-9]{1,2}$")


def decimal_evidence(parts: list[ExportPart], columns: list[str]) -> Counter:
    """How many text numbers in `columns` end in a decimal point and how many in a decimal comma."""
    seen: Counter = Counter()
    for part in parts:
        at = [part.sheet.header.index(c) for c in columns if c in part.sheet.header]
        for row in part.sheet.rows:
            for i in at:
                cell = row[i] if i < len(row) else None
                if isinstance(cell, str):
                    found = _DECIMAL_TAIL.match(cell.strip())
                    if found:
                        seen[found.group(1)] += 1
    return seen


def _units(spec, matches, bwave, parts, draft) -> list[str]:
    separator = spec.number_format.decimal_separator
    evidence = decimal_evidence(parts, [m.after for q in spec.indicators if (m := matches.get(header_text(q)))])
    said = (f"this export's text numbers in the mapped columns: {evidence['.']} end in a decimal point (like "
            f"'1,234.56'), {evidence[',']} in a decimal comma (like '12,5')")
    name = {",": "comma", ".": "point"}
    other = "." if separator == "," else ","
    if evidence[other] and not evidence[separator]:
        # the export's own numbers are the better witness than last wave's sidecar: written, and flagged
        out = [_comment(f"REVIEW: decimal {name[other]}, as {said}; {bwave} had a decimal {name[separator]}", 2)]
        out += _dump({"number_format": {"decimal_separator": other}}, 2)
        draft.review.append(f"number_format.decimal_separator {other!r} from this export's numbers, not {bwave}'s "
                            f"{separator!r}; {said}")
    else:
        out = [_comment(f"REVIEW: copied from {bwave} (decimal {name[separator]}); {said}", 2)]
        out += _dump({"number_format": {"decimal_separator": separator}}, 2)
        draft.review.append(f"number_format.decimal_separator {separator!r} copied from {bwave}; {said}")
    by_indicator = {i: matches.get(header_text(q)) for q, i in spec.indicators.items()}
    multipliers: dict[str, int] = {}
    notes = []
    for indicator, match in by_indicator.items():
        before = spec.multipliers.get(indicator)
        if match is not None and says_thousands(match.after):
            factor = before if before else 1000
            multipliers[indicator] = factor
            notes.append(f"REVIEW: {indicator} x{factor}: this export's question asks in thousands ({_q(match.after)})")
            draft.review.append(f"multiplier {indicator} x{factor} (the question says thousands)")
        elif before:
            why = ("this export's question does not say so" if match is not None
                   else "this export has no question matched to it")
            notes.append(f"REVIEW: {bwave} had {indicator} x{before}; {why}: no multiplier written")
            draft.review.append(f"no multiplier for {indicator} ({bwave} had x{before}; {why})")
    out += [_comment(note, 2) for note in notes]
    out += _dump({"multipliers": multipliers}, 2) if multipliers else ["  multipliers: {}"]
    if spec.datetime_format != "%d/%m/%Y %H:%M":
        out.append(_comment(f"REVIEW: copied from {bwave} (only for dates written as text)", 2))
        out += _dump({"datetime_format": spec.datetime_format}, 2)
    if spec.show_shortnames:
        out.append(_comment(f"REVIEW: {bwave} was exported with 'show shortnames'; was this one?", 2))
        out += _dump({"show_shortnames": True}, 2)
    named = {k: v for k, v in spec.meta.model_dump().items() if v}
    if named:
        out.append(_comment(f"{bwave} named meta columns {named}; this export's are found by label, add survey.meta "
                            "only if the check cannot find them", 2))
    return out


def _tests(spec, matches, misses, bwave, draft) -> list[str]:
    body = []
    for rule in spec.test_entries:
        wording = header_text(rule.column)
        if meta_role(wording) is not None:
            body.append(_comment("a meta column: found by its label in any language", 4))
            body += _dump([{"column": rule.column, "pattern": rule.pattern}], 4)
            continue
        match = matches.get(wording)
        if match is not None:
            body.append(_comment(_review(match, bwave), 4))
            body += _dump([{"column": match.after, "pattern": rule.pattern}], 4)
        else:
            body.append(_comment(_miss(f"test-entry rule {rule.pattern!r} (left out)", rule.column, misses, bwave), 4))
            draft.unmapped.append(f"test-entry rule on {bwave}'s {_q(rule.column)}")
    has_items = any(line.lstrip().startswith("- ") for line in body)
    return ["  test_entries:" if has_items else "  test_entries: []", *body]


def _note(draft: Draft, what: str, match: Match) -> None:
    draft.matched.append(what)
    if not match.same:
        draft.review.append(f"{what}: {match.score}% {_q(match.after)} (was {_q(match.before)})")


def write_draft(export: Path, text: str) -> Path:
    """Write the draft next to the export, as a new file only: an existing sidecar is never replaced.

    The one file the pipeline package writes under data/raw/ (tests/test_pipeline_structure.py allows it here).
    """
    path = sidecar_path(export)
    try:
        with path.open("x", encoding="utf-8") as handle:  # "x": fails if the file exists, even one made meanwhile
            handle.write(text)
    except FileExistsError:
        raise ScaffoldError(f"{path.name} already exists: the scaffold never overwrites a sidecar (move it away "
                            "to draft a new one)", file=path) from None
    except OSError as exc:
        raise ScaffoldError(f"cannot write the draft: {exc.strerror or exc}", file=path) from exc
    return path

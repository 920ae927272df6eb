"""The catalogue: `indicators` (from pipelines/schema.py) and `questions` (every column of every survey wave).

In: the survey exports (their header rows) and sidecars. Out: `indicators`, and `questions` with one row per
wave × column: its role (indicator, commitment_progress, identity, personal, meta, unmapped), the indicator it
feeds, the unit multiplier, and a break-in-series flag where an indicator's question wording differs from the
previous wave that asked it (the wave's own year in the wording, "in 2023", is not a change; a unit is converted,
but a changed unit phrase is a changed wording). The commitment-progress matrix columns carry the indicator
`commitments_progressing` (they feed it and `commitments_reported`), so that its breaks can be flagged too.
Two files claiming one wave stop the run here (`pipelines.checks`); an indicator's question naming another year
than its wave's is a warning. The survey sheets read here are handed to the submissions step.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass

from pipelines.checks import SurveyFile, one_export_per_wave
from pipelines.context import Context
from pipelines.eusurvey import HeaderIndex, resolve_survey_spec, strip_header_shortname
from pipelines.normalise import comparable_wording, strip_shortname
from pipelines.readers import ExportPart, RawFile, header_text, read_survey_export
from pipelines.rules import meta_columns, personal_columns
from pipelines.schema import indicator_table
from pipelines.sidecar import SurveySpec

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class SurveySheet:
    """One workbook of a wave's export, with its sidecar's column names resolved against that workbook's header."""

    raw: RawFile
    part: ExportPart
    spec: SurveySpec


@dataclass(frozen=True)
class QuestionsHandoff:
    survey_sheets: list[SurveySheet]  # every workbook of every wave, read once here for the submissions step


def run(ctx: Context) -> None:
    # load
    surveys = [sheet for raw in ctx.files_of("survey") for sheet in read_survey(raw)]
    # process
    one_export_per_wave([SurveyFile(s.raw.rel, s.raw.sidecar.survey_spec, s.part.export_date) for s in surveys])
    rows = question_rows(surveys)
    for row in rows:
        years = other_years(row["question"], row["wave"]) if row["role"] == "indicator" else []
        if years:
            log.warning("%s: wave %d's question %r for %s names %s: last year's questionnaire, or a sidecar whose "
                        "wave was not changed?", row["source_file"], row["wave"], row["question"], row["indicator"],
                        " and ".join(years))
    # save
    ctx.save("indicators", indicator_table())
    ctx.save("questions", rows)
    ctx.work.put(QuestionsHandoff(surveys))


def read_survey(raw: RawFile) -> list[SurveySheet]:
    """A survey export's workbooks, each with every column its sidecar relies on found in its header row."""
    sheets = []
    for part in read_survey_export(raw):
        table = part.sheet
        index = HeaderIndex(table.header, part.titles, part.places, shortnames=raw.sidecar.survey_spec.show_shortnames,
                            file=table.file, sheet=table.sheet, header_row=table.header_row)
        sheets.append(SurveySheet(raw, part, resolve_survey_spec(raw.sidecar.survey_spec, index)))
    raw.rows = sum(len(s.part.sheet.rows) for s in sheets)
    return sheets


_YEAR = re.compile(r"\b(20[0-9]{2})\b")


def other_years(question: str, wave: int) -> list[str]:
    """The years a wave's question names other than its own: the 2024 wave asking for people trained "in 2023" is
    last year's questionnaire, or last year's export under this year's sidecar."""
    return sorted({year for year in _YEAR.findall(question) if int(year) != wave})


def column_role(column: str, spec: SurveySpec) -> tuple[str, str | None]:
    """(role, indicator) of one header of a wave."""
    indicators = {header_text(q): i for q, i in spec.indicators.items()}
    if column in indicators:
        return "indicator", indicators[column]
    if spec.commitment_progress is not None and column in {header_text(c) for c in spec.commitment_progress.columns}:
        return "commitment_progress", None
    identity = spec.identity
    if column in {header_text(c) for c in (identity.member_id, identity.organisation, identity.country) if c}:
        return "identity", None
    if column in {header_text(c) for c in personal_columns(spec)}:
        return "personal", None
    if column in {header_text(c) for c in meta_columns(spec)}:
        return "meta", None
    return "unmapped", None


def question_rows(surveys: list[SurveySheet]) -> list[dict]:
    """One record per wave × column, with the break-in-series flag computed across waves in order."""
    rows = []
    seen: set[tuple[int, str]] = set()
    previous: dict[object, tuple[int, str]] = {}  # series key -> (wave, comparable wording)
    for survey in sorted(surveys, key=lambda s: (s.spec.wave, s.raw.rel, s.part.sheet.file)):
        raw, sheet, spec = survey.raw, survey.part.sheet, survey.spec
        titles = dict(zip(sheet.header, survey.part.titles, strict=True))
        matrix = [header_text(c) for c in spec.commitment_progress.columns] if spec.commitment_progress else []
        for column in sheet.header:
            # a wave exported in several files asks the same questions: listed once, from its first file
            if not column or (spec.wave, column) in seen:
                continue
            seen.add((spec.wave, column))
            role, indicator = column_role(column, spec)
            multiplier = spec.multipliers.get(indicator, 1) if indicator else 1
            title = titles[column]  # a repeated title's wording, without the ' [n]' that keys it apart
            question = strip_header_shortname(title) if spec.show_shortnames else strip_shortname(title)
            series: object = None
            if role == "indicator":
                series = indicator
            elif role == "commitment_progress":
                series = ("commitment_progress", matrix.index(column))
                indicator = "commitments_progressing"
            broken = False
            if series is not None:
                wording = comparable_wording(question, spec.wave)
                before = previous.get(series)
                if before is not None and before[0] != spec.wave:
                    broken = before[1] != wording
                if before is None or before[0] != spec.wave:
                    previous[series] = (spec.wave, wording)
            rows.append({
                "wave": spec.wave, "source_file": raw.rel, "column": column, "question": question, "role": role,
                "indicator": indicator, "multiplier": multiplier, "break_in_series": broken,
            })
    return rows

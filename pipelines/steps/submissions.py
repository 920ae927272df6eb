"""Survey submissions: every raw survey row -> one `submissions` row with its status and reason.

In: the survey sheets (read by the questions step), the registry index and Member State lookup (registry and
reference steps), and the corrections that exclude whole submissions. Out: `submissions` (accepted, superseded,
test, blank, rejected), plus, for the next steps, the reported values of the accepted submissions and the
reject rows. The rules themselves live in `pipelines.rules`. An export whose dates contradict its wave or whose
alias is another survey's, or a contribution ID met twice, stops the run (`pipelines.checks`).
"""

from __future__ import annotations

import logging
from collections import Counter, defaultdict
from dataclasses import dataclass

import pyarrow as pa

from pipelines.checks import SurveyFile, alias_matches, contribution_ids_unique, dates_match_wave
from pipelines.context import WAVE_COUNT_KEYS, Context
from pipelines.corrections import Correction, parse_corrections
from pipelines.errors import PipelineError, first_few
from pipelines.readers import read_csv
from pipelines.rules import SUBMISSION_COLUMNS, ExportRows, classify_wave
from pipelines.schema import SUBMISSION_STATUSES, TABLES
from pipelines.steps.questions import QuestionsHandoff, SurveySheet
from pipelines.steps.reference import ReferenceHandoff
from pipelines.steps.registry import RegistryHandoff

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class SubmissionsHandoff:
    reported_values: pa.Table  # the fact rows of the accepted submissions, before corrections
    corrections: list[Correction]  # the corrections file, parsed; the facts step applies the value ones
    corrections_applied: list[dict]  # what became of the whole-submission exclusions (corrections_applied rows)


def run(ctx: Context) -> None:
    # load
    surveys = ctx.work.take(QuestionsHandoff).survey_sheets
    corrections = load_corrections(ctx)
    registry = ctx.work.take(RegistryHandoff).index
    countries = ctx.work.get(ReferenceHandoff).country_lookup
    # process
    by_wave: dict[int, list[SurveySheet]] = defaultdict(list)
    for survey in surveys:
        by_wave[survey.spec.wave].append(survey)
    submissions: dict[str, list] = {name: [] for name in SUBMISSION_COLUMNS}
    values, applied = [], []
    for wave in sorted(by_wave):
        exclusions = [c for c in corrections if c.wave == wave and c.whole_submission and c.action == "exclude"]
        exports = [export_rows(survey) for survey in by_wave[wave]]
        result = classify_wave(wave, exports, registry, countries, exclusions)
        wave_submissions = result.submissions
        if result.strangers:
            log.warning("wave %d: %d submission(s) give a member's registration ID while their Member State and "
                        "organisation name are another's (a mistyped ID takes that member's submission over): %s",
                        wave, len(result.strangers), first_few(result.strangers, 5, "; "))
        for survey in by_wave[wave]:
            file = survey.part.sheet.file
            # test entries are often made before fieldwork opens: they say nothing of when the wave was answered
            created = [created for source, created, status in zip(
                wave_submissions["source_file"], wave_submissions["created_at"], wave_submissions["status"],
                strict=True) if source == file and status not in ("test", "blank")]
            exported = SurveyFile(file, survey.spec, survey.part.export_date)
            late = dates_match_wave(exported, created)
            if late:
                log.warning("%s", late)
            alias_matches(exported, survey.part.alias)
        counts = count_statuses(wave_submissions["status"], read=sum(e.length for e in exports))
        ctx.wave_counts[wave] = counts | {"facts": 0, "value_rejects": 0}
        for name, column in wave_submissions.items():
            submissions[name] += column
        values.append(result.values)
        applied += result.corrections
        ctx.rejects += result.rejects
    contribution_ids_unique(submissions)
    for c in corrections:
        if c.whole_submission and c.wave not in by_wave:
            applied.append(c.record(status="not applied", detail=f"there is no survey export of wave {c.wave}"))
    # save
    ctx.save("submissions", submissions)
    reported = pa.concat_tables(values) if values else TABLES["facts"][0].empty_table()
    ctx.work.put(SubmissionsHandoff(reported, corrections, applied))


def load_corrections(ctx: Context) -> list[Correction]:
    files = ctx.files_of("corrections")
    if len(files) > 1:
        raise PipelineError(f"more than one corrections file: {', '.join(f.rel for f in files)}", file=files[1].rel)
    if not files:
        return []
    raw = files[0]
    sheet = read_csv(raw)
    raw.rows = len(sheet.rows)
    return parse_corrections(sheet)


def export_rows(survey: SurveySheet) -> ExportRows:
    sheet = survey.part.sheet
    cells = sheet.columns
    # a wide export's columns sit on several sheets; the usual one-sheet export needs no lookup
    column_sheets = {} if len(set(survey.part.column_sheets)) == 1 else dict(
        zip(sheet.header, survey.part.column_sheets, strict=True))
    return ExportRows(sheet.file, sheet.sheet, sheet.first_row, len(sheet.rows),
                      {name: column for name, column in zip(sheet.header, cells, strict=True) if name}, survey.spec,
                      column_sheets)


def count_statuses(statuses: list[str], *, read: int) -> dict[str, int]:
    """Rows read and per status; every raw row is accounted for, or the run stops here."""
    counts = dict.fromkeys(WAVE_COUNT_KEYS, 0)
    counts["read"] = read
    for status, count in Counter(statuses).items():
        counts[status] += count
    accounted = sum(counts[s] for s in SUBMISSION_STATUSES)
    if accounted != read or len(statuses) != read:
        raise AssertionError(f"rows read {read} != accepted + superseded + test + blank + rejected {accounted}")
    return counts

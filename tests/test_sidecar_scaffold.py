"""`python -m pipelines sidecar NEW.xlsx`: the draft sidecar of a new export, on the committed sample's 2024 export
(its sidecar removed) against the committed sidecar, and on small exports written here. Real files, real runs."""

from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path

import pyarrow as pa
import pytest
import yaml

import pipelines
from pipelines import scaffold
from pipelines.__main__ import main
from pipelines.readers import discover
from pipelines.sample.eusurvey import write_eusurvey_xlsx
from pipelines.sidecar import load_sidecar, sidecar_path
from pipelines.steps.questions import read_survey
from tests.conftest import COMMITTED_RAW, HEADER, Q_INVEST, answer, make_raw, survey_spec

SAMPLE_2024 = "surveys/pact_survey_2024.zip"


def _facts(raw: Path, curated: Path) -> list[dict]:
    facts: pa.Table = pipelines.run(raw, curated, progress=False, publish=False).facts
    keys = ["year", "member_id", "indicator", "source_file", "row", "column"]
    return facts.sort_by([(k, "ascending") for k in keys]).to_pylist()


@pytest.fixture(scope="module")
def sample(tmp_path_factory) -> dict:
    """The committed raw tree copied, the 2024 sidecar removed and drafted again by the CLI; the facts of both."""
    root = tmp_path_factory.mktemp("scaffold")
    shutil.copytree(COMMITTED_RAW, root / "raw")
    export = root / "raw" / SAMPLE_2024
    committed_text = sidecar_path(export).read_text(encoding="utf-8")
    committed_facts = _facts(root / "raw", root / "curated")
    sidecar_path(export).unlink()
    code = main(["sidecar", str(export)])
    assert code == 0
    return {"root": root, "raw": root / "raw", "export": export, "committed": load_sidecar(COMMITTED_RAW / SAMPLE_2024),
            "committed_text": committed_text, "committed_facts": committed_facts,
            "text": sidecar_path(export).read_text(encoding="utf-8")}


def test_the_2024_draft_maps_what_its_wording_allows_and_flags_the_rest(sample):
    draft, committed = load_sidecar(sample["export"]), sample["committed"]
    d, c = draft.survey, committed.survey
    assert (d.wave, d.alias) == (2024, c.alias) == (2024, "PactForSkills_Survey2024")
    assert (draft.read.sheet, draft.read.header_row) == (committed.read.sheet, committed.read.header_row)
    assert draft.received == committed.received == dt.date(2025, 3, 17)  # the export's own Export Date
    # matched by wording, exactly the committed mapping
    assert (d.identity.member_id, d.identity.organisation) == (c.identity.member_id, c.identity.organisation)
    assert d.indicators == {q: i for q, i in c.indicators.items() if i != "people_trained"}
    assert d.personal == c.personal == ["Contact person"]
    assert d.test_entries == c.test_entries
    assert d.multipliers == c.multipliers == {}  # 2023 asked in thousands; 2024 in EUR
    # reworded beyond the threshold: left out, and said so
    assert d.identity.country is None and c.identity.country == "Member State"
    assert d.commitment_progress is None and c.commitment_progress is not None
    # not copied from 2023 (a comma): the export's own numbers say a point, and the comment says so
    assert (d.number_format.decimal_separator, c.number_format.decimal_separator) == (".", ".")

    lines = [line.strip() for line in sample["text"].splitlines()]
    for expected in [
        '# REVIEW: 89% like 2023\'s "Registration ID"',
        "# as in 2023",
        '# REVIEW: 84% like 2023\'s "Investment in up-/reskilling in 2023 (in thousands of euro)"',
        '# REVIEW: 89% like 2023\'s "Number of training programmes updated or developed in 2023"',
        '# REVIEW: 81% like 2023\'s "Number of stakeholders who joined skills partnerships or networks in 2023"',
        '# REVIEW: 75% like 2023\'s "Number of people reached by promotion and dissemination in 2023"',
        '# REVIEW: 100% like 2023\'s "Contact person (name and surname)"',
        '# UNMAPPED: people_trained: 2023\'s "Number of people up-/reskilled in 2023" has no question here at 70% '
        'or more (closest: 60% "People reached by your promotion of up-/reskilling in 2024")',
        '# UNMAPPED: identity.country (optional: the registry has every member\'s Member State; left out): 2023\'s '
        '"Country" has no question here at 70% or more (closest: 48% "Contact person")',
        "# UNMAPPED: commitment_progress: none of its columns matched; the section is left out",
        '# UNMAPPED: commitment_progress column: 2023\'s "How are your commitments progressing?: Commitment 1" has '
        'no question here at 70% or more (closest: 64% "Status of each commitment: Commitment 1")',
        "# REVIEW: 2023 had investment_eur x1000; this export's question does not say so: no multiplier written",
        "# REVIEW: decimal point, as this export's text numbers in the mapped columns: 21 end in a decimal point "
        "(like '1,234.56'), 0 in a decimal comma (like '12,5'); 2023 had a decimal comma",
        '# - "How many learners (employees, jobseekers, students) completed up- or reskilling that your '
        'organisation provided or funded in 2024?"',
        '# - "Member State"',
    ]:
        assert expected in lines, expected
    assert sum("# UNMAPPED: commitment_progress column" in line for line in lines) == 4
    assert lines[lines.index("wave: 2024") - 1] == (
        "# guessed from the file's dates: 1,253 contributions created 2025-01-20 to 2025-03-09 (by year 2025: "
        "1,253), exported 2025-03-17 10:05; a survey on activity year Y is answered in Y+1")


def test_the_2024_draft_resolves_runs_and_after_its_flags_are_reviewed_gives_the_committed_facts(sample):
    raw = next(f for f in discover(sample["raw"]) if f.rel == SAMPLE_2024)
    sheets = read_survey(raw)  # every column the draft names is in both workbooks' headers
    assert [s.part.sheet.file.rsplit("/", 1)[1] for s in sheets] == [
        "Content_Export_PactForSkills_Survey2024_1.xlsx", "Content_Export_PactForSkills_Survey2024_2.xlsx"]

    as_drafted = _facts(sample["raw"], sample["root"] / "curated-draft")
    committed = sample["committed_facts"]
    assert [f for f in as_drafted if f["year"] < 2024] == [f for f in committed if f["year"] < 2024]
    assert {f["indicator"] for f in as_drafted if f["year"] == 2024} == {
        "investment_eur", "people_reached", "stakeholders_joined", "training_programmes"}

    # the review: decide only what the draft flagged as UNMAPPED or copied, as the committed sidecar decides it
    c = sample["committed"].survey
    doc = yaml.safe_load(sample["text"])
    survey = doc["survey"]
    survey["identity"]["country"] = c.identity.country
    survey["indicators"].update({q: i for q, i in c.indicators.items() if i == "people_trained"})
    survey["commitment_progress"] = c.commitment_progress.model_dump()
    survey["number_format"] = {"decimal_separator": c.number_format.decimal_separator}
    sidecar_path(sample["export"]).write_text(yaml.safe_dump(doc, sort_keys=False, allow_unicode=True), "utf-8")
    try:
        reviewed = load_sidecar(sample["export"])
        assert reviewed.survey == c
        assert _facts(sample["raw"], sample["root"] / "curated-reviewed") == committed
    finally:
        sidecar_path(sample["export"]).write_text(sample["text"], "utf-8")


def test_an_existing_sidecar_is_never_overwritten(sample, capsys):
    path = sidecar_path(sample["export"])
    before = path.read_bytes()
    assert main(["sidecar", str(sample["export"])]) == 1
    err = capsys.readouterr().err
    assert err == (f"sidecar failed: {path}: pact_survey_2024.zip.source.yml already exists: the scaffold never "
                   "overwrites a sidecar (move it away to draft a new one)\n")
    assert path.read_bytes() == before
    with pytest.raises(scaffold.ScaffoldError, match="already exists"):  # also when one appears after the check
        scaffold.write_draft(sample["export"], "title: x\n")
    assert path.read_bytes() == before


def test_the_cli_prints_the_wave_guess_and_what_to_review(tmp_path, capsys):
    shutil.copytree(COMMITTED_RAW / "surveys", tmp_path / "surveys")
    export = tmp_path / "surveys" / "pact_survey_2024.zip"
    sidecar_path(export).unlink()
    assert main(["sidecar", str(export)]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith(f"wrote {sidecar_path(export)} (a draft")
    assert out[1].startswith("wave 2024: 1,253 contributions created 2025-01-20 to 2025-03-09")
    assert out[2] == "matched 7 of last wave's columns by wording (from pact_survey_2023.xlsx.source.yml, threshold 70%)"
    assert '  review: identity.member_id: 89% "Your Pact for Skills registration number" (was "Registration ID")' in out
    assert "  review: no multiplier for investment_eur (2023 had x1000; this export's question does not say so)" in out
    assert '  unmapped: people_trained (2023: "Number of people up-/reskilled in 2023")' in out
    assert '  unmapped: identity.country (2023: "Country"); optional, left out' in out
    assert sum(line.startswith("  unmapped: commitment_progress column") for line in out) == 4


@pytest.mark.parametrize(("name", "content", "message"), [
    ("pact_survey_2025.xlsx", b"not a workbook at all", "not a readable xlsx workbook (truncated or damaged?)"),
    ("pact_survey_2025.zip", b"PK\x03\x04 cut short", "not a readable zip archive (truncated or damaged?)"),
    ("pact_survey_2025.csv", b"a,b\n1,2\n", "not a survey export: EUSurvey exports are xlsx, xls, ods or a zip"),
])
def test_a_file_that_is_not_a_readable_export_is_one_line_and_exit_1(tmp_path, capsys, name, content, message):
    path = tmp_path / name
    path.write_bytes(content)
    assert main(["sidecar", str(path)]) == 1
    err = capsys.readouterr().err
    assert err.startswith(f"sidecar failed: {path}: {message}") and err.count("\n") == 1, err
    assert not sidecar_path(path).exists()


def test_a_missing_file_is_exit_1(tmp_path, capsys):
    assert main(["sidecar", str(tmp_path / "nothing.xlsx")]) == 1
    assert capsys.readouterr().err.startswith(f"sidecar failed: {tmp_path / 'nothing.xlsx'}: cannot read the file")


# ---------------------------------------------------------------- exports written here

def _export(path: Path, wave: int, rows: list[list[object]], header=HEADER, export_date=None) -> Path:
    write_eusurvey_xlsx(path, alias=f"PactSurvey{wave}", export_date=export_date or dt.datetime(wave + 1, 3, 31, 12),
                        header=list(header), rows=rows, sheet="Content")
    return path


def test_the_wave_is_the_year_before_most_creation_dates(raw_tree):
    raw_tree.write_survey(2023, [answer(created="01/03/2024 09:00", updated="01/03/2024 09:00")])
    # a late contribution and an export made the year after do not move the guess: most were created in 2026
    rows = [answer(cid=f"c-{n}", created=f"{n + 1:02d}/02/2026 10:00", updated=f"{n + 1:02d}/02/2026 10:00")
            for n in range(3)] + [answer(cid="c-late", created="02/01/2027 08:00", updated="02/01/2027 08:00")]
    export = _export(raw_tree.root / "surveys" / "new.xlsx", 2025, rows, export_date=dt.datetime(2027, 1, 5, 9))
    draft = scaffold.draft_sidecar(export, today=dt.date(2027, 1, 6))
    assert (draft.wave.wave, draft.previous) == (2025, "pact_survey_2023.xlsx.source.yml")
    assert draft.wave.why == ("4 contributions created 2026-02-01 to 2027-01-02 (by year 2026: 3, 2027: 1), exported "
                              "2027-01-05 09:00; a survey on activity year Y is answered in Y+1")
    assert "  wave: 2025" in draft.text.splitlines()
    # without creation dates, the export date decides; without either, there is nothing to guess from
    assert scaffold.guess_wave(dt.datetime(2026, 3, 2, 10), []).wave == 2025
    assert scaffold.guess_wave(None, []) is None


def test_unchanged_questions_give_a_working_sidecar_with_the_same_facts(raw_tree, tmp_path):
    raw_tree.write_survey(2022, [answer(created="01/03/2023 09:00", updated="01/03/2023 09:00")])
    rows = [answer(cid="c-2023-1", created="01/03/2024 09:00", updated="01/03/2024 09:00"),
            answer(member_id="PFS-000002", org="Beta Costruzioni S.r.l.", country="IT", cid="c-2023-2", people=7,
                   c1="Delayed", c2="Completed", created="02/03/2024 09:00", updated="02/03/2024 09:00")]
    export = raw_tree.write_survey(2023, rows)
    by_hand = load_sidecar(export)
    by_hand_facts = _facts(raw_tree.root, tmp_path / "by-hand")
    sidecar_path(export).unlink()

    assert main(["sidecar", str(export)]) == 0
    draft = load_sidecar(export)
    assert draft.survey == by_hand.survey
    assert "# as in 2022" in sidecar_path(export).read_text("utf-8")
    assert "% like" not in sidecar_path(export).read_text("utf-8")  # nothing guessed: every wording is the same
    assert _facts(raw_tree.root, tmp_path / "draft") == by_hand_facts


Q_INVEST_K = "How much did you invest in up- and reskilling (in thousands of EUR)?"


@pytest.mark.parametrize(("new_question", "multipliers", "comment"), [
    ("How much did you invest in up- and reskilling in 2024 (EUR)?", {},
     "# REVIEW: 2023 had investment_eur x1000; this export's question does not say so: no multiplier written"),
    ("How much did you invest in up- and reskilling in 2024 (kEUR)?", {"investment_eur": 1000},
     "# REVIEW: investment_eur x1000: this export's question asks in thousands "
     '("How much did you invest in up- and reskilling in 2024 (kEUR)?")'),
])
def test_a_multiplier_is_written_only_when_the_question_still_says_thousands(tmp_path, new_question, multipliers,
                                                                             comment):
    raw = make_raw(tmp_path / "raw")
    k_header = [Q_INVEST_K if h == Q_INVEST else h for h in HEADER]
    indicators = {(Q_INVEST_K if q == Q_INVEST else q): i for q, i in survey_spec(2023)["indicators"].items()}
    raw.write_survey(2023, [answer(invest=12.5, created="01/03/2024 09:00")], header=k_header,
                     spec=survey_spec(2023, indicators=indicators, multipliers={"investment_eur": 1000}))
    new_header = [new_question if h == Q_INVEST else h for h in HEADER]
    export = _export(raw.root / "surveys" / "pact_survey_2024.xlsx", 2024,
                     [answer(invest=12500, created="01/03/2025 09:00")], header=new_header)
    assert main(["sidecar", str(export)]) == 0
    text = sidecar_path(export).read_text("utf-8")
    draft = load_sidecar(export).survey
    assert draft.multipliers == multipliers
    assert draft.indicators[new_question] == "investment_eur"
    assert comment in [line.strip() for line in text.splitlines()]


def test_says_thousands():
    assert [scaffold.says_thousands(q) for q in (
        "Investment in 2023 (in thousands of euro)", "Investment (kEUR)", "Investment (k€)", "Investment (EUR '000)",
        "Investment (EUR)", "Investment in euro", "Number of people reached (000s)", "Kenya office budget (EUR)",
    )] == [True, True, True, True, False, False, True, False]


def test_a_required_question_without_a_match_is_a_placeholder_the_check_names(raw_tree):
    raw_tree.write_survey(2023, [answer(created="01/03/2024 09:00")])
    header = ["Pact membership number" if h == HEADER[0] else h for h in HEADER]
    export = _export(raw_tree.root / "surveys" / "pact_survey_2024.xlsx", 2024,
                     [answer(created="01/03/2025 09:00")], header=header)
    assert main(["sidecar", str(export)]) == 0
    draft = load_sidecar(export)  # loads: a draft is always a valid sidecar ...
    assert draft.survey.identity.member_id == "FILL IN (2023: Your Pact for Skills registration ID)"
    raw = next(f for f in discover(raw_tree.root) if f.rel == "surveys/pact_survey_2024.xlsx")
    with pytest.raises(pipelines.PipelineError, match="the sidecar names question 'FILL IN"):
        read_survey(raw)  # ... that does not run until the placeholder is replaced

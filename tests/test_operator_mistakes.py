"""Plausible operator mistakes stop the run before anything is published, and say what to fix.

Each case is a mistake a person adding next year's export could make (a copied sidecar whose `wave` was left
unchanged, an older export relabelled as the next wave, last year's `multipliers` kept for a wave asked in euro, the
same export ingested twice), built on the tiny raw tree of tests/conftest.py. The run must stop with a message
naming the files and figures, leave `current` and the raw files untouched, and exit 1 from the command line; the
sidecar's acknowledgement lets a real change through and shows on the Data page.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
from pathlib import Path

import pyarrow.parquet as pq
import pytest

import pipelines
from pipelines.__main__ import main
from pipelines.checks import JUMP_FACTOR, Jump, likely_cause, wave_jumps
from pipelines.errors import PipelineError
from pipelines.sidecar import SurveySpec
from pipelines.steps.questions import other_years
from tests.conftest import HEADER, MEMBERSHIPS, META, Q_PEOPLE, TinyRaw, answer, survey_spec

T = dt.datetime


def rows(wave: int, *, invest=1000, people=100, cid_prefix="c") -> list[list[object]]:
    """Two members answering wave `wave`, in March of the year after it (when such a survey runs)."""
    when = T(wave + 1, 3, 1, 9, 0)
    return [
        answer(people=people, invest=invest, cid=f"{cid_prefix}{wave}-1", created=when, updated=when),
        answer(member_id="PFS-000002", org="Beta Costruzioni S.r.l.", country="IT", people=people // 2,
               invest=invest * 2, cid=f"{cid_prefix}{wave}-2", created=when, updated=when),
    ]


def digest(root: Path) -> str:
    h = hashlib.sha256()
    for path in sorted(p for p in root.rglob("*") if p.is_file() and p.name != "runs.jsonl"):
        h.update(path.relative_to(root).as_posix().encode() + path.read_bytes())
    return h.hexdigest()


@pytest.fixture
def published(raw_tree: TinyRaw, tmp_path: Path) -> tuple[TinyRaw, Path]:
    """Waves 2022 and 2023 published: the state a user is in when next year's export arrives."""
    raw_tree.write_survey(2022, rows(2022))
    raw_tree.write_survey(2023, rows(2023))
    curated = tmp_path / "curated"
    assert pipelines.run(raw_tree.root, curated).status == "ok"
    return raw_tree, curated


def stops(raw: TinyRaw, curated: Path) -> str:
    """The run's one-line error; nothing published, no raw file changed, exit 1 from the command line."""
    before, raw_before = digest(curated), digest(raw.root)
    with pytest.raises(PipelineError) as err:
        pipelines.run(raw.root, curated)
    assert digest(curated) == before and digest(raw.root) == raw_before
    assert main(["--raw", str(raw.root), "--curated", str(curated)]) == 1
    return str(err.value)


def test_a_copied_sidecar_with_the_wave_left_unchanged(published):
    raw, curated = published
    raw.write_survey(2024, rows(2024), spec=survey_spec(2023))  # last year's sidecar, wave not edited
    message = stops(raw, curated)
    assert message == (
        "surveys/pact_survey_2024.xlsx: 2 survey files claim wave 2023: surveys/pact_survey_2023.xlsx, "
        "surveys/pact_survey_2024.xlsx. If one is a new export whose sidecar was copied from last year, set its "
        "survey.wave; if they are parts of one export, give both sidecars the same survey.part_of")


def test_two_files_declared_parts_of_one_export_share_a_wave(published):
    raw, curated = published
    raw.write_survey(2024, rows(2024)[:1], spec=survey_spec(2024, part_of="PfS 2024 export"))
    raw.write_survey(2024, [rows(2024)[1]], spec=survey_spec(2024, part_of="PfS 2024 export"),
                     name="pact_survey_2024_part2.xlsx")
    assert pipelines.run(raw.root, curated).status == "ok"
    facts = pq.read_table(curated / "current" / "facts.parquet").to_pandas()
    assert facts[(facts["year"] == 2024) & (facts["indicator"] == "people_trained")]["value"].sum() == 150


def test_a_contribution_id_twice_in_one_wave_stops_the_run(published):
    raw, curated = published
    # a part of a zipped export included twice, or rows pasted again: two members under one contribution
    again = T(2025, 3, 2, 9, 0)
    pasted = [*rows(2024), answer(member_id="PFS-000003", org="Gamma", country="FR", cid="c2024-1", created=again,
                                  updated=again)]
    raw.write_survey(2024, pasted)
    assert stops(raw, curated) == (
        "surveys/pact_survey_2024.xlsx, row 7: contribution c2024-1 is twice in wave 2024: "
        "surveys/pact_survey_2024.xlsx, row 5, and here: a workbook of the export, or rows, included twice? "
        "EUSurvey gives each contribution one ID")


def test_an_export_of_another_survey_is_refused(published):
    raw, curated = published
    raw.write_survey(2024, rows(2024), spec=survey_spec(2024, alias="PactSurvey2024-PILOT"))
    assert stops(raw, curated) == (
        "surveys/pact_survey_2024.xlsx, row 1: the export's alias is 'PactSurvey2024', but the "
        "sidecar's survey.alias is 'PactSurvey2024-PILOT': an export of another survey? If the survey's alias was "
        "changed, change the sidecar's")


def test_a_join_date_after_the_registry_was_received_stops_the_run(published):
    raw, curated = published
    # a mistyped year would count the member's figures for the partnership from the wrong wave, or never
    raw.write_registry(memberships=[("PFS-000001", "LSP-CONS", dt.date(2030, 1, 1)), *MEMBERSHIPS[1:]])
    assert stops(raw, curated) == (
        "registry/pact_members.xlsx, sheet 'Partnerships', row 2, column 'Joined on': PFS-000001 joined LSP-CONS on "
        "01 Jan 2030, after the registry was received (15 Jan 2025): a mistyped date?")


def test_a_join_date_long_before_the_launch_is_a_warning(published, caplog):
    raw, curated = published
    raw.write_registry(memberships=[("PFS-000001", "LSP-CONS", dt.date(2004, 3, 1)), *MEMBERSHIPS[1:]])
    with caplog.at_level(logging.WARNING, logger="pipelines"):
        assert pipelines.run(raw.root, curated).status == "ok"
    assert ("registry/pact_members.xlsx, sheet 'Partnerships', column 'Joined on': 1 membership(s) dated more than "
            "a year before their partnership was launched count for it from that year: mistyped years? row 2: "
            "PFS-000001 joined LSP-CONS on 01 Mar 2004, launched ") in caplog.text


def test_a_question_naming_another_year_is_a_warning(published, caplog):
    raw, curated = published
    stale = "How many people took part in up- or reskilling in 2023?"  # the 2024 wave asking last year's question
    header = [stale if column == Q_PEOPLE else column for column in HEADER]
    spec = survey_spec(2024)
    spec["indicators"] = {stale if q == Q_PEOPLE else q: i for q, i in spec["indicators"].items()}
    raw.write_survey(2024, rows(2024), header=header, spec=spec)
    with caplog.at_level(logging.WARNING, logger="pipelines"):
        assert pipelines.run(raw.root, curated).status == "ok"
    assert (f"surveys/pact_survey_2024.xlsx: wave 2024's question {stale!r} for people_trained names 2023: last "
            "year's questionnaire, or a sidecar whose wave was not changed?") in caplog.text
    assert other_years("People trained in 2024 (since 2020: see the note)", 2024) == ["2020"]


def test_memberships_of_a_partnership_nobody_lists_are_a_warning(published, caplog):
    raw, curated = published
    raw.write_registry(memberships=[("PFS-000001", "LSP-CNOS", dt.date(2022, 3, 1)), *MEMBERSHIPS[1:]])  # a typo
    with caplog.at_level(logging.WARNING, logger="pipelines"):
        assert pipelines.run(raw.root, curated).status == "ok"
    assert ("registry/pact_members.xlsx, sheet 'Partnerships': 1 membership(s) name a partnership that "
            "partnerships.csv does not list, so count for none: 'LSP-CNOS' (1)") in caplog.text


def test_a_wave_answered_more_than_a_year_late_is_a_warning(published, caplog):
    raw, curated = published
    raw.write_survey(2024, rows(2025))  # answered in March 2026: the 2025 survey under the 2024 sidecar?
    with caplog.at_level(logging.WARNING, logger="pipelines"):
        assert pipelines.run(raw.root, curated).status == "ok"
    assert ("surveys/pact_survey_2024.xlsx: the sidecar says wave 2024, but its contributions were created on "
            "01 Mar 2026 (the median), more than a year after activity year 2024 ended") in caplog.text


def test_an_id_of_a_member_unlike_the_answers_is_a_warning(published, caplog):
    raw, curated = published
    when = T(2025, 3, 1, 9, 0)
    # Zeta's respondent typed Alpha's registration ID: the ID decides, and Alpha's figures are Zeta's answers
    mistyped = answer(member_id="PFS-000001", org="Zeta Logistics GmbH", country="DE", cid="z-1", created=when,
                      updated=when)
    raw.write_survey(2024, [*rows(2024)[1:], mistyped])
    with caplog.at_level(logging.WARNING, logger="pipelines"):
        assert pipelines.run(raw.root, curated).status == "ok"
    assert ("wave 2024: 1 submission(s) give a member's registration ID while their Member State and organisation "
            "name are another's (a mistyped ID takes that member's submission over): row 6: PFS-000001 (BE) answered "
            "as 'Zeta Logistics GmbH' (DE)") in caplog.text


def test_the_rest_of_an_answer_longer_than_a_cell_is_no_submission(published):
    raw, curated = published
    # EUSurvey writes an answer over 32,767 characters in pieces down its column, each in a row of its own
    practice = "Describe one good practice"
    header = [*HEADER[:12], practice, *HEADER[12:]]
    text = "Our apprenticeship scheme pairs each trainee with a mentor. " * 1200  # 72,000 characters
    first, second = rows(2024)
    pieces = [text[at:at + 32_767] for at in range(0, len(text), 32_767)]
    overflow = [[*[None] * 12, piece, *[None] * len(META)] for piece in pieces[1:]]
    raw.write_survey(2024, [[*first[:12], pieces[0], *first[12:]], *overflow, [*second[:12], None, *second[12:]]],
                     header=header)
    assert pipelines.run(raw.root, curated).status == "ok"
    submissions = pq.read_table(curated / "current" / "submissions.parquet").to_pandas()
    wave = submissions[submissions["wave"] == 2024].set_index("row")
    assert wave["status"].to_dict() == {5: "accepted", 6: "blank", 7: "blank", 8: "accepted"}
    assert wave.loc[7, "reason"] == ("the rest of row 6's answer to 'Describe one good practice', longer than a "
                                     "spreadsheet cell holds (32,767 characters)")
    assert not pq.read_table(curated / "current" / "rejects.parquet").num_rows


def test_an_anonymous_survey_repeats_anonymous_as_its_contribution_ids(published):
    raw, curated = published
    # EUSurvey writes 'Anonymous' in the Contribution ID column of every row of an anonymous survey
    for wave in (2022, 2023):
        raw.write_survey(wave, [[*r[:-5], "Anonymous", *r[-4:]] for r in rows(wave)])
    assert pipelines.run(raw.root, curated, force=True).status == "ok"
    submissions = pq.read_table(curated / "current" / "submissions.parquet").to_pandas()
    assert submissions["status"].eq("accepted").all() and submissions["contribution_id"].eq("Anonymous").all()


def test_an_older_export_relabelled_as_the_next_wave(published):
    raw, curated = published
    # the 2023 export again (exported March 2024, answered in 2024... of 2023), its sidecar saying 2024
    raw.write_survey(2023, rows(2023, cid_prefix="again"), spec=survey_spec(2024), name="pact_survey_2024.xlsx")
    message = stops(raw, curated)
    assert message.startswith("surveys/pact_survey_2024.xlsx, row 2: the sidecar says wave 2024, but the export is "
                              "dated 31 Mar 2024, before activity year 2024 ended")
    assert "survey.ran_early" in message


def test_contributions_created_before_the_year_ended_give_the_wave_away(published):
    raw, curated = published
    early = T(2024, 6, 1, 9, 0)
    wrong = [answer(cid="x-1", created=early, updated=early), answer(cid="x-2", created=early, updated=early)]
    path = raw.write_survey(2024, wrong)
    assert path.name == "pact_survey_2024.xlsx"
    message = stops(raw, curated)
    assert "2 of its 2 contributions were created before activity year 2024 ended (from 01 Jun 2024 to 01 Jun " \
           "2024, median 01 Jun 2024)" in message
    # a survey that really ran early says so, and goes through
    raw.write_survey(2024, wrong, spec=survey_spec(2024, ran_early="a pilot wave answered in June 2024"))
    assert pipelines.run(raw.root, curated).status == "ok"


def test_the_same_export_under_two_waves(published):
    raw, curated = published
    again = rows(2024)
    again[0][-5] = "c2023-1"  # a contribution already ingested as wave 2023
    raw.write_survey(2024, again)
    message = stops(raw, curated)
    assert "contribution c2023-1 is in wave 2023 (surveys/pact_survey_2023.xlsx, row 5) and in wave 2024" in message


def test_a_multiplier_of_1000_kept_for_a_wave_asked_in_euro(published):
    raw, curated = published
    spec = survey_spec(2024, multipliers={"investment_eur": 1000})  # the 2023 wave asked in thousands; 2024 not
    raw.write_survey(2024, rows(2024, invest=1200), spec=spec)
    message = stops(raw, curated)
    assert message == (
        "implausible change in wave 2024: investment_eur total 3,600,000 EUR in 2024 against 3,000 in 2023 "
        "(1,200.0 times); likely cause: the sidecar multiplies investment_eur by 1,000: does this wave's question "
        "really ask in thousands? Members whose value moved 500 times or more: PFS-000001: 1,000 -> 1,200,000 EUR; "
        "PFS-000002: 2,000 -> 2,400,000 EUR. If the change is real, acknowledge it in the sidecar under "
        "survey.expected_changes with a reason")


def test_an_acknowledged_change_is_published_and_shown(published):
    raw, curated = published
    reason = "2024 counts every learner of the new national apprenticeship scheme"
    raw.write_survey(2024, rows(2024, people=100 * JUMP_FACTOR * 3), spec=survey_spec(
        2024, expected_changes=[{"indicator": "people_trained", "reason": reason}]))
    assert pipelines.run(raw.root, curated).status == "ok"
    changes = pq.read_table(curated / "current" / "expected_changes.parquet").to_pylist()
    assert changes == [{"wave": 2024, "indicator": "people_trained", "previous_wave": 2023, "previous_total": 150,
                        "total": 4500, "factor": 30.0, "reason": reason}]


def test_an_acknowledgement_names_a_known_indicator(published):
    raw, curated = published
    raw.write_survey(2024, rows(2024), spec=survey_spec(
        2024, expected_changes=[{"indicator": "people_trainde", "reason": "typo"}]))
    message = stops(raw, curated)
    assert "expected_changes.0.indicator" in message and "unknown indicator 'people_trainde'" in message


def test_the_committed_sample_moves_well_within_the_bound():
    """The published totals change by less than 2.5x between waves: no false alarm on the bundled data."""
    import pandas as pd

    facts = pd.DataFrame({"year": [2022, 2023, 2024], "member_id": ["a", "a", "a"],
                          "indicator": ["people_trained"] * 3, "value": [2_000_000, 1_500_000, 2_600_000]})
    assert wave_jumps(facts) == []


@pytest.mark.parametrize(("factor", "multiplier", "cause"), [
    (1000, 1000, "the sidecar multiplies investment_eur by 1,000"),
    (1000, 1, "a multiplier of 1000 missing from one of the two sidecars"),
    (1 / 1000, 1, "asks in thousands but the sidecar has no multiplier"),
    (50, 1, "a unit or decimal-separator mistake, or an export of another wave"),
])
def test_likely_causes(factor, multiplier, cause):
    spec = SurveySpec.model_validate(survey_spec(2024, multipliers={"investment_eur": multiplier}
                                                 if multiplier != 1 else {}))
    jump = Jump(2024, 2023, "investment_eur", "total", 1_000_000, round(1_000_000 * factor))
    assert cause in likely_cause(jump, spec)


def test_test_entries_made_before_the_year_ended_do_not_count_against_the_wave(published):
    raw, curated = published
    early = T(2024, 11, 2, 9, 0)  # the secretariat tried the form before the 2024 wave opened
    tests = [answer(org="TEST - please ignore", member_id=None, cid=f"t-{k}", user="qa@test.example",
                    created=early, updated=early) for k in range(3)]
    raw.write_survey(2024, [*tests, *rows(2024)])
    assert pipelines.run(raw.root, curated).status == "ok"

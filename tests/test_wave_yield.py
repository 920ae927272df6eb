"""What each wave yields, judged before publishing (`checks.wave_yield`): a sidecar column mapped to the wrong
question, a wrong decimal separator or an empty export would otherwise publish a wave without its figures."""

from __future__ import annotations

import shutil
from collections import Counter

import pytest

from pipelines.__main__ import main
from pipelines.checks import WaveOutcome, wave_yield
from pipelines.errors import PipelineError
from pipelines.sidecar import SurveySpec
from tests.conftest import COMMITTED_RAW, survey_spec

Q_PEOPLE, Q_INVEST = "People trained in 2023", "Investment in 2023"


def outcome(statuses: dict[str, int], *, rejected: dict[tuple[str | None, str], int] | None = None,
            given: dict[str, int] | None = None, previous: tuple[int, frozenset[str]] | None = None) -> WaveOutcome:
    spec = SurveySpec.model_validate(survey_spec(2023) | {"indicators": {Q_PEOPLE: "people_trained",
                                                                         Q_INVEST: "investment_eur"}})
    rejected = rejected or {}
    reasons = Counter({code: n for (column, code), n in rejected.items() if column == "Country"})
    every = {"people_trained": 40, "investment_eur": 30, "commitments_reported": 25, "commitments_progressing": 20}
    return WaveOutcome(2023, spec, ["surveys/s2023.xlsx"], Counter(statuses), reasons, Counter(rejected),
                       every if given is None else given, previous)


def test_a_usual_wave_passes_without_a_word():
    assert wave_yield(outcome({"accepted": 40, "superseded": 2, "rejected": 1, "test": 1})) == []


def test_most_rows_rejected_stop_the_run_naming_the_cause_and_its_column():
    with pytest.raises(PipelineError, match=r"wave 2023: 35 of its 40 answering rows are rejected "
                                            r"\(unknown_member_state 35 at column 'Country'\)") as error:
        wave_yield(outcome({"accepted": 5, "rejected": 35}, rejected={("Country", "unknown_member_state"): 35}))
    assert error.value.file == "surveys/s2023.xlsx"


def test_a_share_of_rows_rejected_is_a_warning():
    warnings = wave_yield(outcome({"accepted": 36, "rejected": 4}, rejected={("Country", "unknown_member_state"): 4}))
    assert warnings == ["wave 2023: 4 of its 40 answering rows are rejected (unknown_member_state 4 at column "
                        "'Country')"]


def test_an_indicator_without_a_single_value_stops_the_run():
    with pytest.raises(PipelineError, match=r"maps 'Investment in 2023' to investment_eur, but none of its 40 "
                                            r"accepted submissions gives a value there \(31 answers rejected: "
                                            r"ambiguous_number 31\)") as error:
        wave_yield(outcome({"accepted": 40}, rejected={(Q_INVEST, "ambiguous_number"): 31},
                           given={"people_trained": 40, "commitments_reported": 25, "commitments_progressing": 20}))
    assert error.value.column == Q_INVEST


def test_many_answers_to_one_indicator_rejected_is_a_warning():
    warnings = wave_yield(outcome({"accepted": 40}, rejected={(Q_PEOPLE, "ambiguous_number"): 12}))
    assert warnings == [f"wave 2023: 12 of the 52 answers to {Q_PEOPLE!r} (people_trained) are rejected "
                        "(ambiguous_number 12): is survey.number_format or the unit right?"]


def test_an_indicator_the_previous_wave_gave_but_this_sidecar_does_not_map_is_a_warning():
    warnings = wave_yield(outcome({"accepted": 40}, previous=(2022, frozenset({"people_trained", "people_reached"}))))
    assert warnings == ["wave 2023's sidecar maps no question to people_reached, which wave 2022 gave: was the "
                        "question dropped from the survey, or its line from the sidecar?"]


def test_a_small_wave_is_judged_only_when_nothing_comes_out_of_it():
    assert wave_yield(outcome({"accepted": 2, "rejected": 3}, given={})) == []
    warnings = wave_yield(outcome({"rejected": 3}, rejected={("Country", "unknown_member_state"): 3}, given={}))
    assert warnings == ["wave 2023: 3 of its 3 answering rows are rejected (unknown_member_state 3 at column "
                        "'Country')"]


def test_an_export_without_a_contribution_stops_the_run():
    with pytest.raises(PipelineError, match="holds no contribution"):
        wave_yield(outcome({}))


def test_a_sidecar_mapping_the_member_state_to_another_question_stops_check_and_run(tmp_path, capsys):
    raw = tmp_path / "raw"
    shutil.copytree(COMMITTED_RAW, raw)
    sidecar = raw / "surveys" / "pact_survey_2024.zip.source.yml"
    text = sidecar.read_text(encoding="utf-8")
    assert "country: Member State" in text
    sidecar.write_text(text.replace("country: Member State",
                                    "country: Industrial ecosystems (select all that apply)"), encoding="utf-8")
    assert main(["check", "--raw", str(raw), "--curated", str(tmp_path / "curated")]) == 1
    assert "wave 2024: 1,250 of its 1,250 answering rows are rejected (unknown_member_state 1,249" in \
        capsys.readouterr().err
    assert main(["--raw", str(raw), "--curated", str(tmp_path / "curated")]) == 1
    assert not (tmp_path / "curated" / "current").exists()

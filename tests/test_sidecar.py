"""Every committed sidecar loads; a broken one fails loudly, naming the file and the key."""

from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path

import pytest
import yaml
from python_calamine import CalamineWorkbook

from pipelines.readers import discover
from pipelines.sample.eusurvey import meta_header, write_eusurvey_xlsx
from pipelines.schema import REPORTED_INDICATORS
from pipelines.sidecar import SIDECAR_SUFFIX, SidecarError, load_sidecar
from pipelines.steps.questions import read_survey

ROOT = Path(__file__).resolve().parents[1]
RAW = ROOT / "data" / "raw"
SURVEY = RAW / "surveys" / "pact_survey_2023.xlsx"
REGISTRY = RAW / "registry" / "pact_members.xlsx"


def committed_data_files() -> list[Path]:
    return sorted(p.with_name(p.name.removesuffix(SIDECAR_SUFFIX)) for p in RAW.rglob(f"*{SIDECAR_SUFFIX}"))


def test_every_raw_file_has_a_sidecar_and_every_sidecar_a_file():
    data_files = sorted(p for p in RAW.rglob("*") if p.is_file() and not p.name.endswith(SIDECAR_SUFFIX))
    assert data_files, "data/raw is empty"
    assert data_files == committed_data_files()


@pytest.mark.parametrize("data_file", committed_data_files(), ids=lambda p: str(p.relative_to(RAW)))
def test_every_committed_sidecar_loads_and_matches_its_file(data_file):
    sidecar = load_sidecar(data_file)
    assert sidecar.read.format in (None, data_file.suffix.lstrip("."))
    if sidecar.kind == "survey":
        raw = next(f for f in discover(RAW) if f.path == data_file)
        parts = read_survey(raw)  # every column the sidecar names is found in every workbook, or this raises
        assert parts and raw.rows > 0
        assert sorted(set(sidecar.survey.indicators.values())) == sorted(REPORTED_INDICATORS)
        assert sidecar.synthetic is True
    elif data_file.suffix == ".xlsx":
        sheets = set(CalamineWorkbook.from_path(str(data_file)).sheet_names)
        declared = {sidecar.read.sheet} if sidecar.read.sheet else set(sidecar.read.sheets.values())
        assert declared <= sheets, f"{data_file.name}: sidecar names sheets {declared - sheets} the workbook lacks"


def _broken_copy(tmp_path: Path, source: Path, edit) -> Path:
    """Copy `source` and its sidecar into tmp_path, with `edit` applied to the sidecar's mapping."""
    target = tmp_path / source.name
    shutil.copyfile(source, target)
    doc = yaml.safe_load(Path(f"{source}{SIDECAR_SUFFIX}").read_text(encoding="utf-8"))
    edit(doc)
    Path(f"{target}{SIDECAR_SUFFIX}").write_text(yaml.safe_dump(doc, sort_keys=False), encoding="utf-8")
    return target


def test_a_misspelt_key_names_the_file_and_the_key(tmp_path):
    def misspell(doc):
        doc["survey"]["number_fromat"] = doc["survey"].pop("number_format")

    target = _broken_copy(tmp_path, SURVEY, misspell)
    with pytest.raises(SidecarError) as err:
        load_sidecar(target)
    message = str(err.value)
    assert f"{target.name}{SIDECAR_SUFFIX}" in message
    assert "survey.number_fromat" in message


def test_a_misspelt_top_level_key_is_refused(tmp_path):
    def misspell(doc):
        doc["license"] = doc.pop("licence")

    target = _broken_copy(tmp_path, REGISTRY, misspell)
    with pytest.raises(SidecarError) as err:
        load_sidecar(target)
    assert f"{target.name}{SIDECAR_SUFFIX}" in str(err.value)
    # both sides of the typo are named: the unknown key and the required one it was meant to be
    assert "key 'license'" in str(err.value)
    assert "key 'licence'" in str(err.value)


def test_an_unknown_indicator_names_the_file_the_key_and_the_question(tmp_path):
    question = next(iter(load_sidecar(SURVEY).survey.indicators))

    def unknown(doc):
        doc["survey"]["indicators"][question] = "people_trainned"

    target = _broken_copy(tmp_path, SURVEY, unknown)
    with pytest.raises(SidecarError) as err:
        load_sidecar(target)
    message = str(err.value)
    assert f"{target.name}{SIDECAR_SUFFIX}" in message
    assert "survey.indicators" in message and "people_trainned" in message and question in message


def test_a_missing_sheet_names_the_file_and_the_key(tmp_path):
    def no_sheet(doc):
        del doc["read"]["sheets"]

    target = _broken_copy(tmp_path, REGISTRY, no_sheet)
    with pytest.raises(SidecarError) as err:
        load_sidecar(target)
    assert f"{target.name}{SIDECAR_SUFFIX}" in str(err.value)
    assert "read.sheet" in str(err.value)


def test_a_missing_sidecar_is_an_error_naming_the_data_file(tmp_path):
    orphan = tmp_path / "pact_survey_2030.xlsx"
    shutil.copyfile(SURVEY, orphan)
    with pytest.raises(SidecarError, match=r"pact_survey_2030\.xlsx: missing sidecar"):
        load_sidecar(orphan)


def test_the_readme_example_reads_an_export_in_the_real_layout(tmp_path):
    """The README's example sidecar, against a German-labelled export with its questions: every name resolves."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme[readme.index("## Adding a raw file: the sidecar"):]
    example = section[section.index("```yaml") + len("```yaml"):]
    example = example[: example.index("```")]
    data_file = tmp_path / "surveys" / "pact_survey_2025.xlsx"
    Path(f"{data_file}{SIDECAR_SUFFIX}").parent.mkdir(parents=True)
    Path(f"{data_file}{SIDECAR_SUFFIX}").write_text(example, encoding="utf-8")
    sidecar = load_sidecar(data_file)
    assert sidecar.survey.wave == 2025
    assert sidecar.survey.multipliers == {}, "no multiplier a user would copy by mistake"
    assert set(sidecar.survey.indicators.values()) == set(REPORTED_INDICATORS)
    survey = sidecar.survey
    questions = [survey.identity.member_id, survey.identity.organisation, survey.identity.country,
                 *survey.indicators, *survey.commitment_progress.columns, *survey.personal]
    write_eusurvey_xlsx(data_file, alias=survey.alias, export_date=dt.datetime(2026, 3, 20, 9, 0),
                        header=[*questions, *meta_header("de")], rows=[])
    (raw,) = discover(tmp_path)
    (part,) = read_survey(raw)
    assert part.spec.meta.user_name == "Nutzername"
    assert part.spec.test_entries[1].column == "Nutzername"

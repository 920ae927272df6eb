"""Survey exports exactly as EUSurvey writes them (docs/eusurvey_export.md), read end to end.

Every form of a real export on small files written here (xlsx, ods, a zip of two workbooks, a wide export
continued on `Content1`, the legacy .xls as a committed fixture), with the meta columns labelled in any of
EUSurvey's languages, repeated question titles, XML-escaped names and "show shortnames" suffixes; each must give
the figures of the same answers in the plain layout. The committed 2024 wave, rewritten by hand in other real
layouts, must give the same facts as the committed file.
"""

from __future__ import annotations

import datetime as dt
import io
import shutil
import zipfile
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq
import pytest
import yaml
from odf.opendocument import OpenDocumentSpreadsheet
from odf.table import Table, TableCell, TableRow
from odf.text import P
from python_calamine import CalamineWorkbook

import pipelines
from pipelines.errors import PipelineError
from pipelines.eusurvey import META_LABELS, HeaderIndex, meta_role, resolve_meta, unescape_xml
from pipelines.sample.eusurvey import META_ROLES, meta_header, write_eusurvey_xlsx, write_eusurvey_zip
from pipelines.sidecar import MetaColumns
from tests.conftest import (
    COMMITTED_RAW,
    HEADER,
    META,
    Q_C1,
    Q_COUNTRY,
    Q_ID,
    Q_INVEST,
    Q_ORG,
    Q_PEOPLE,
    Q_STAKE,
    TinyRaw,
    answer,
    sidecar,
    survey_spec,
    write_sidecar,
)

QUESTIONS = HEADER[: -len(META)]
T = dt.datetime


def rows_2022() -> list[list[object]]:
    """Three contributions, newest first: member 2, then member 1 twice (the later one counts)."""
    return [
        answer(member_id="PFS-000002", org="Beta Costruzioni S.r.l.", country="IT", people=40, programmes=1,
               invest=2500.5, reached=300, stakeholders=2, c1="Completed", cid="c-3", user="bea@beta.example",
               created=T(2023, 3, 5, 10, 0), updated=T(2023, 3, 6, 11, 30), lang="it"),
        answer(people=120, programmes=3, invest=10000, reached=800, stakeholders=4, c2="Delayed", cid="c-2",
               created=T(2023, 3, 2, 9, 0), updated=T(2023, 3, 4, 9, 0), lang="fr"),
        answer(cid="c-1", created=T(2023, 3, 1, 9, 0), updated=T(2023, 3, 1, 9, 0), lang="fr"),
    ]


# The figures of rows_2022(): member 1's later submission (c-2) and member 2's only one (c-3).
FIGURES_2022 = {
    ("PFS-000001", "people_trained"): 120, ("PFS-000001", "training_programmes"): 3,
    ("PFS-000001", "investment_eur"): 1_000_000, ("PFS-000001", "people_reached"): 800,
    ("PFS-000001", "stakeholders_joined"): 4, ("PFS-000001", "commitments_reported"): 2,
    ("PFS-000001", "commitments_progressing"): 1,
    ("PFS-000002", "people_trained"): 40, ("PFS-000002", "training_programmes"): 1,
    ("PFS-000002", "investment_eur"): 250_050, ("PFS-000002", "people_reached"): 300,
    ("PFS-000002", "stakeholders_joined"): 2, ("PFS-000002", "commitments_reported"): 1,
    ("PFS-000002", "commitments_progressing"): 1,
}


def header_in(language: str) -> list[str]:
    return [*QUESTIONS, *meta_header(language)]


def add_export(raw: TinyRaw, name: str, *, spec: dict | None = None, read: dict | None = None) -> Path:
    """The sidecar of an export written at surveys/`name` (no format: it is taken from the file name)."""
    path = raw.root / "surveys" / name
    path.parent.mkdir(parents=True, exist_ok=True)
    write_sidecar(path, sidecar("survey", read or {"sheet": "Content", "header_row": 4},
                                title="Pact survey 2022 (test)", survey=spec or survey_spec(2022)))
    return path


def write_xlsx(raw: TinyRaw, name: str, rows, *, header=None, spec=None, **kwargs) -> Path:
    path = add_export(raw, name, spec=spec)
    write_eusurvey_xlsx(path, alias="PactSurvey2022", export_date=T(2023, 4, 3, 8, 15),
                        header=header or header_in("en"), rows=rows, **kwargs)
    return path


def run(raw: TinyRaw, curated: Path) -> dict[str, pd.DataFrame]:
    assert pipelines.run(raw.root, curated).status == "ok"
    return {name: pq.read_table(curated / "current" / f"{name}.parquet").to_pandas()
            for name in ("facts", "submissions", "rejects", "questions")}


def figures(tables: dict[str, pd.DataFrame]) -> dict[tuple[str, str], int]:
    facts = tables["facts"]
    return dict(zip(zip(facts["member_id"], facts["indicator"], strict=True), facts["value"].tolist(), strict=True))


# ------------------------------------------------------------------------------------------------ meta columns

@pytest.mark.parametrize("language", sorted(META_LABELS["contribution_id"]))
def test_meta_labels_of_every_eusurvey_language_are_found(language):
    labels = meta_header(language)
    index = HeaderIndex([*QUESTIONS, *labels], [*QUESTIONS, *labels], [""] * (len(QUESTIONS) + len(labels)),
                        shortnames=False, file="x.xlsx", sheet="Content", header_row=4)
    meta = resolve_meta(index, MetaColumns())
    assert [getattr(meta, role) for role in META_ROLES] == labels
    # the exporter's fallbacks when a message is missing differ only in case
    assert meta_role("Contribution Id") == meta_role("CONTRIBUTION ID") == "contribution_id"
    assert meta_role("User Name") == "user_name" and meta_role("Last Update") == "last_update"


@pytest.mark.parametrize("language", ["en", "de", "fr", "pl", "el"])
def test_an_export_labelled_in_any_language_gives_the_same_figures(raw_tree, tmp_path, language):
    write_xlsx(raw_tree, "pact_survey_2022.xlsx", rows_2022(), header=header_in(language))
    tables = run(raw_tree, tmp_path / "curated")
    assert figures(tables) == FIGURES_2022
    subs = tables["submissions"].set_index("contribution_id")
    assert subs.loc["c-1", "status"] == "superseded" and subs.loc["c-2", "status"] == "accepted"
    assert subs.loc["c-3", "created_at"] == pd.Timestamp("2023-03-05 10:00")
    roles = tables["questions"].set_index("column")["role"]
    assert {roles[label] for label in meta_header(language)} <= {"meta", "personal"}
    assert roles[META_LABELS["user_name"][language]] == "personal"


def test_meta_columns_that_cannot_be_found_stop_the_run_listing_the_labels(raw_tree, tmp_path):
    header = [*QUESTIONS, "Ref", "Who", "Made", "Changed", "Lang"]
    write_xlsx(raw_tree, "pact_survey_2022.xlsx", rows_2022(), header=header)
    with pytest.raises(PipelineError) as err:
        pipelines.run(raw_tree.root, tmp_path / "curated")
    message = str(err.value)
    assert message.startswith("surveys/pact_survey_2022.xlsx, sheet 'Content', row 4: ")
    assert "contribution_id, creation_date, last_update" in message
    for label in ("'Contribution ID'", "'Kennnummer des Beitrags'", "'Erstellungsdatum'", "'Last update'"):
        assert label in message
    assert "survey.meta" in message


def test_a_sidecar_may_name_meta_columns_an_export_labels_otherwise(raw_tree, tmp_path):
    header = [*QUESTIONS, "Ref", "Who", "Made", "Changed", "Lang"]
    spec = survey_spec(2022, meta={"contribution_id": "Ref", "user_name": "Who", "creation_date": "Made",
                                   "last_update": "Changed", "languages": "Lang"},
                       test_entries=[{"column": "Who", "pattern": r"@test\.example$"}])
    write_xlsx(raw_tree, "pact_survey_2022.xlsx", rows_2022(), header=header, spec=spec)
    tables = run(raw_tree, tmp_path / "curated")
    assert figures(tables) == FIGURES_2022
    assert tables["questions"].set_index("column").loc["Who", "role"] == "personal"


def test_anonymous_answers_and_a_missing_user_column_are_no_problem(raw_tree, tmp_path):
    header = [h for h in header_in("en") if h != "User name"]
    rows = [[c for i, c in enumerate(r) if i != len(QUESTIONS) + 1] for r in rows_2022()]
    write_xlsx(raw_tree, "pact_survey_2022.xlsx", rows, header=header,
               spec=survey_spec(2022, test_entries=[{"column": Q_ORG, "pattern": r"(?i)^test\b"}]))
    assert figures(run(raw_tree, tmp_path / "curated")) == FIGURES_2022

    anonymous = [[*r[:len(QUESTIONS) + 1], "Anonymous", *r[len(QUESTIONS) + 2:]] for r in rows_2022()]
    write_xlsx(raw_tree, "pact_survey_2022.xlsx", anonymous)
    tables = run(raw_tree, tmp_path / "curated2")
    assert figures(tables) == FIGURES_2022
    assert "Anonymous" not in set(tables["rejects"].get("value", pd.Series(dtype=str)))


# ----------------------------------------------------------------------------------------- repeated titles

def test_an_unmapped_repeated_title_is_kept_as_context(raw_tree, tmp_path):
    header = [*QUESTIONS[:-1], "Comments", QUESTIONS[-1], "Comments", *meta_header("en")]
    rows = [[*r[: len(QUESTIONS) - 1], "first", r[len(QUESTIONS) - 1], "second", *r[len(QUESTIONS):]]
            for r in rows_2022()]
    write_xlsx(raw_tree, "pact_survey_2022.xlsx", rows, header=header)
    tables = run(raw_tree, tmp_path / "curated")
    assert figures(tables) == FIGURES_2022
    questions = tables["questions"].set_index("column")
    assert questions.loc["Comments [1]", "role"] == questions.loc["Comments [2]", "role"] == "unmapped"
    assert questions.loc["Comments [2]", "question"] == "Comments"


def _two_people_questions(raw_tree: TinyRaw, mapping: str) -> Path:
    """A second section asks the people question again; its answer is 7 for everyone."""
    header = [*QUESTIONS, Q_PEOPLE, *meta_header("en")]
    rows = [[*r[: len(QUESTIONS)], 7, *r[len(QUESTIONS):]] for r in rows_2022()]
    indicators = {k: v for k, v in survey_spec(2022)["indicators"].items() if k != Q_PEOPLE} | {
        mapping: "people_trained"}
    return write_xlsx(raw_tree, "pact_survey_2022.xlsx", rows, header=header,
                      spec=survey_spec(2022, indicators=indicators))


def test_a_mapped_repeated_title_says_which_column_it_means(raw_tree, tmp_path):
    _two_people_questions(raw_tree, f"{Q_PEOPLE} [2]")
    got = figures(run(raw_tree, tmp_path / "curated"))
    assert got[("PFS-000001", "people_trained")] == got[("PFS-000002", "people_trained")] == 7
    _two_people_questions(raw_tree, f"{Q_PEOPLE} [1]")
    assert figures(run(raw_tree, tmp_path / "curated2")) == FIGURES_2022


def test_an_ambiguous_mapping_names_the_columns_and_the_way_to_choose(raw_tree, tmp_path):
    _two_people_questions(raw_tree, Q_PEOPLE)
    with pytest.raises(PipelineError) as err:
        pipelines.run(raw_tree.root, tmp_path / "curated")
    message = str(err.value)
    assert message.startswith(f"surveys/pact_survey_2022.xlsx, sheet 'Content', row 4, column '{Q_PEOPLE}': ")
    assert "2 columns have this title: Content!D" in message and "Content!M" in message
    assert f"write '{Q_PEOPLE} [1]' or '{Q_PEOPLE} [2]'" in message
    assert not (tmp_path / "curated" / "current").exists()


# ------------------------------------------------------------------------------------- the forms of an export

def test_a_wide_export_continued_on_content1_reads_as_one_table(raw_tree, tmp_path):
    rows = rows_2022()
    rows[1][HEADER.index(Q_STAKE)] = "a few"  # on Content1 with 5 columns per sheet
    write_xlsx(raw_tree, "pact_survey_2022.xlsx", rows, max_columns=5)
    assert CalamineWorkbook.from_path(str(raw_tree.root / "surveys" / "pact_survey_2022.xlsx")).sheet_names == [
        "Content", "Content1", "Content2", "Content3"]
    tables = run(raw_tree, tmp_path / "curated")
    expected = {k: v for k, v in FIGURES_2022.items() if k != ("PFS-000001", "stakeholders_joined")}
    assert figures(tables) == expected
    reject = tables["rejects"].set_index("column").loc[Q_STAKE]
    assert (reject["sheet"], reject["row"], reject["reason_code"]) == ("Content1", 6, "not_a_number")
    facts = tables["facts"].set_index(["member_id", "indicator"])
    assert facts.loc[("PFS-000001", "people_trained"), "sheet"] == "Content"


def _write_ods(path: Path, rows: list[list[object]]) -> None:
    doc = OpenDocumentSpreadsheet()
    table = Table(name="Content")
    for row in rows:
        line = TableRow()
        for value in row:
            if value is None or value == "":
                cell = TableCell()
            elif isinstance(value, dt.datetime):
                cell = TableCell(valuetype="date", datevalue=value.isoformat())
                cell.addElement(P(text=value.strftime("%d/%m/%Y %H:%M")))
            elif isinstance(value, int | float):
                cell = TableCell(valuetype="float", value=value)
                cell.addElement(P(text=str(value)))
            else:
                cell = TableCell(valuetype="string")
                cell.addElement(P(text=value))
            line.addElement(cell)
        table.addElement(line)
    doc.spreadsheet.addElement(table)
    doc.save(str(path))


def test_an_ods_export(raw_tree, tmp_path):
    path = add_export(raw_tree, "pact_survey_2022.ods")
    _write_ods(path, [["Alias", "PactSurvey2022"], ["Export Date", T(2023, 4, 3, 8, 15)], [], header_in("es"),
                      *rows_2022()])
    assert figures(run(raw_tree, tmp_path / "curated")) == FIGURES_2022


def test_an_xls_export(raw_tree, tmp_path):
    """The legacy Excel format, from a committed fixture (Italian labels): tests/fixtures/make_xls_export.py."""
    path = add_export(raw_tree, "pact_survey_2022.xls")
    shutil.copyfile(Path(__file__).parent / "fixtures" / "eusurvey_2022.xls", path)
    tables = run(raw_tree, tmp_path / "curated")
    assert figures(tables) == FIGURES_2022
    assert set(tables["submissions"]["source_file"]) == {"surveys/pact_survey_2022.xls"}


def test_a_zip_of_two_workbooks_is_one_wave_with_each_workbook_named(raw_tree, tmp_path):
    path = add_export(raw_tree, "pact_survey_2022.zip")
    rows = rows_2022()
    write_eusurvey_zip(path, parts=[("Content_Export_PactSurvey2022_1.xlsx", rows[:1]),
                                    ("Content_Export_PactSurvey2022_2.xlsx", rows[1:])],
                       alias="PactSurvey2022", export_date=T(2023, 4, 3, 8, 15), header=header_in("de"))
    tables = run(raw_tree, tmp_path / "curated")
    assert figures(tables) == FIGURES_2022
    subs = tables["submissions"].set_index("contribution_id")
    assert subs.loc["c-3", ["source_file", "row"]].tolist() == [
        "surveys/pact_survey_2022.zip/Content_Export_PactSurvey2022_1.xlsx", 5]
    assert subs.loc["c-1", ["source_file", "row", "status"]].tolist() == [
        "surveys/pact_survey_2022.zip/Content_Export_PactSurvey2022_2.xlsx", 6, "superseded"]
    facts = tables["facts"]
    assert set(facts.loc[facts["member_id"] == "PFS-000001", "source_file"]) == {
        "surveys/pact_survey_2022.zip/Content_Export_PactSurvey2022_2.xlsx"}
    assert set(tables["questions"]["source_file"]) == {"surveys/pact_survey_2022.zip"}


def test_a_zip_without_a_workbook_is_a_clear_error(raw_tree, tmp_path):
    path = add_export(raw_tree, "pact_survey_2022.zip")
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("uploads/report.pdf", b"%PDF-1.4")
    with pytest.raises(PipelineError, match=r"surveys/pact_survey_2022\.zip: the zip archive holds no xlsx"):
        pipelines.run(raw_tree.root, tmp_path / "curated")


def test_rows_newest_first_or_oldest_first_give_the_same_figures(raw_tree, tmp_path):
    write_xlsx(raw_tree, "pact_survey_2022.xlsx", list(reversed(rows_2022())))
    assert figures(run(raw_tree, tmp_path / "curated")) == FIGURES_2022


# ------------------------------------------------------------------------------------------------- free text

def test_xml_escaped_names_are_unescaped_before_matching(raw_tree, tmp_path):
    members = [("PFS-000001", "Smith & Sons Construction", "company", "Large (250 or more staff)", "BE",
                "Construction", dt.date(2021, 3, 1))]
    raw_tree.write_registry(members=members, memberships=[], commitments=[])
    row = answer(member_id=None, org="Smith &amp; Sons Construction", cid="c-9", created=T(2023, 3, 1, 9, 0),
                 updated=T(2023, 3, 1, 9, 0))
    write_xlsx(raw_tree, "pact_survey_2022.xlsx", [row])
    tables = run(raw_tree, tmp_path / "curated")
    assert tables["submissions"].loc[0, "status"] == "accepted"
    assert tables["submissions"].loc[0, "member_id"] == "PFS-000001"
    assert unescape_xml("A &lt;b&gt; &apos;c&apos; &#233; &#x41; &copy") == "A <b> 'c' é A &copy"


def test_shortnames_in_headers_and_answers_are_stripped_when_the_sidecar_says_so(raw_tree, tmp_path):
    shortnames = {Q_ID: "Q1", Q_ORG: "Q2", Q_COUNTRY: "Q3", Q_PEOPLE: "Q4", Q_INVEST: "Q6", Q_C1: "M1"}
    header = [f"{h} ({shortnames.get(h, 'X' + str(i))})" for i, h in enumerate(QUESTIONS)] + meta_header("en")
    rows = rows_2022()
    for r in rows:
        for i, h in enumerate(QUESTIONS):
            if h in (Q_C1, HEADER[HEADER.index(Q_C1) + 1]) and r[i]:
                r[i] = f"{r[i]}(ID{i})"
        r[QUESTIONS.index(Q_COUNTRY)] = f"{r[QUESTIONS.index(Q_COUNTRY)]}(ID99)"
        r[QUESTIONS.index(Q_PEOPLE)] = str(r[QUESTIONS.index(Q_PEOPLE)])  # numbers may come as text
    write_xlsx(raw_tree, "pact_survey_2022.xlsx", rows, header=header,
               spec=survey_spec(2022, show_shortnames=True))
    tables = run(raw_tree, tmp_path / "curated")
    assert figures(tables) == FIGURES_2022
    questions = tables["questions"].set_index("column")
    assert questions.loc[f"{Q_PEOPLE} (Q4)", "question"] == Q_PEOPLE


# ------------------------------------------------------------------- the committed wave, rewritten by hand

def _cells(book: CalamineWorkbook) -> list[list[object]]:
    return book.get_sheet_by_name("Content").to_python(skip_empty_area=False)


def _committed_2024() -> tuple[list[str], list[list[object]], dt.datetime]:
    """The committed 2024 export's header and rows (both workbooks, in order) and its export date."""
    header, rows, exported = None, [], None
    with zipfile.ZipFile(COMMITTED_RAW / "surveys" / "pact_survey_2024.zip") as archive:
        for name in sorted(archive.namelist()):
            cells = _cells(CalamineWorkbook.from_filelike(io.BytesIO(archive.read(name))))
            header, exported = cells[3], cells[1][1]
            rows += [[None if c == "" else c for c in r] for r in cells[4:]]
    return header, rows, exported


def _relabelled(header: list[str], language: str) -> list[str]:
    return [META_LABELS[meta_role(h)][language] if meta_role(h) else h for h in header]


def _facts_of(raw_root: Path, curated: Path) -> pd.DataFrame:
    assert pipelines.run(raw_root, curated).status == "ok"
    facts = pq.read_table(curated / "current" / "facts.parquet").to_pandas()
    facts = facts[facts["year"] == 2024].drop(columns=["source_file", "sheet", "row"])
    return facts.sort_values(["member_id", "indicator"]).reset_index(drop=True)


def test_the_committed_2024_wave_in_other_real_layouts_gives_the_same_facts(tmp_path):
    committed = _facts_of(COMMITTED_RAW, tmp_path / "committed")
    header, rows, exported = _committed_2024()
    sidecar_text = (COMMITTED_RAW / "surveys" / "pact_survey_2024.zip.source.yml").read_text(encoding="utf-8")
    assert yaml.safe_load(sidecar_text)["read"].get("format") is None  # one sidecar for any of the forms

    def tree(name: str) -> Path:
        root = tmp_path / name
        shutil.copytree(COMMITTED_RAW, root)
        (root / "surveys" / "pact_survey_2024.zip").unlink()
        (root / "surveys" / "pact_survey_2024.zip.source.yml").unlink()
        return root

    # one xlsx, English labels (the committed sidecar, only its file name changed)
    english = tree("english")
    target = english / "surveys" / "pact_survey_2024.xlsx"
    write_eusurvey_xlsx(target, alias="PactForSkills_Survey2024", export_date=exported,
                        header=_relabelled(header, "en"), rows=rows)
    Path(f"{target}.source.yml").write_text(sidecar_text, encoding="utf-8")
    pd.testing.assert_frame_equal(_facts_of(english, tmp_path / "c_english"), committed)

    # German labels, zipped as two workbooks split elsewhere than the committed file
    german = tree("german")
    target = german / "surveys" / "Content_Export_PactForSkills_Survey2024.zip"
    cut = len(rows) // 3
    while all(c is None or (isinstance(c, str) and not c.strip()) for c in rows[cut - 1]):
        cut += 1  # a workbook never ends on an empty row
    write_eusurvey_zip(target, parts=[("part_1.xlsx", rows[:cut]), ("part_2.xlsx", rows[cut:])],
                       alias="PactForSkills_Survey2024", export_date=exported, header=_relabelled(header, "de"))
    Path(f"{target}.source.yml").write_text(sidecar_text, encoding="utf-8")
    pd.testing.assert_frame_equal(_facts_of(german, tmp_path / "c_german"), committed)

"""Shared fixtures: a tiny raw tree in the exact layout users drop into data/raw/, built in code.

`raw_tree(tmp_path)` gives a `TinyRaw` with the committed reference tables and corrections file, a five-member
registry workbook (Members / Partnerships / Commitments) and helpers to add survey waves written by
`pipelines.sample.eusurvey.write_eusurvey_xlsx`, each with its sidecar. Tests change one thing and run the pipeline.
"""

from __future__ import annotations

import csv
import datetime as dt
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
import xlsxwriter
import yaml

from pipelines.sample.eusurvey import write_eusurvey_xlsx

if TYPE_CHECKING:  # the runner is imported where a fixture runs it
    from pipelines.runner import RunResult

REPO = Path(__file__).resolve().parents[1]
COMMITTED_RAW = REPO / "data" / "raw"

MEMBER_HEADER = ("Registration ID", "Organisation", "Type of organisation", "Size", "Country",
                 "Industrial ecosystems", "Date of registration")
MEMBERSHIP_HEADER = ("Registration ID", "Partnership", "Joined on")
COMMITMENT_HEADER = ("Registration ID", "Commitment no.", "Charter principle", "Pledged number of people",
                     "Commitment")

MEMBERS = [
    ("PFS-000001", "Alpha Build SA", "company", "Large (250 or more staff)", "BE", "Construction;Digital",
     dt.date(2021, 3, 1)),
    ("PFS-000002", "Beta Costruzioni S.r.l.", "SME", "Small (10-49 staff)", "IT", "Construction", dt.date(2021, 6, 15)),
    ("PFS-000003", "Gamma Digital Academy", "education and training provider", "Medium (50-249 staff)", "GR",
     "Digital", dt.date(2022, 1, 10)),
    ("PFS-000004", "Délta Cloud SAS", "company", "Large (250 or more staff)", "FR", "DIGI", dt.date(2022, 5, 20)),
    ("PFS-000005", "Epsilon Care Network", "civil-society organisation", "Small (10-49 staff)", "IT", "Health",
     dt.date(2022, 9, 1)),
]
MEMBERSHIPS = [
    ("PFS-000001", "LSP-CONS", dt.date(2022, 3, 1)),
    ("PFS-000001", "RSP-LOMB", dt.date(2023, 1, 15)),
    ("PFS-000002", "LSP-CONS", dt.date(2023, 6, 1)),
    ("PFS-000003", "LSP-DIGI", dt.date(2022, 9, 1)),
]
COMMITMENTS = [
    ("PFS-000001", 1, 1, 500, "Train 500 site workers in digital tools"),
    ("PFS-000001", 2, 2, None, "Build a regional skills partnership"),
    ("PFS-000002", 1, 1, 40, "Upskill all staff"),
]

# A wave's questions; every survey in the tests uses these unless it passes its own header.
Q_ID = "Your Pact for Skills registration ID"
Q_ORG = "Name of your organisation"
Q_COUNTRY = "Country of your organisation"
Q_PEOPLE = "How many people took part in up- or reskilling you provided or funded?"
Q_PROGRAMMES = "How many training programmes did you update or develop?"
Q_INVEST = "How much did you invest in up- and reskilling (EUR)?"
Q_REACHED = "How many people did your promotion reach?"
Q_STAKE = "How many stakeholders joined your skills partnerships or networks?"
Q_C1 = "How is your commitment progressing?: Commitment 1"
Q_C2 = "How is your commitment progressing?: Commitment 2"
Q_CONTACT = "Contact person"
Q_ECOS = "Which ecosystems do you work in?"
# EUSurvey's meta columns as an English export labels them (pipelines/eusurvey.py has every language's labels)
META = ("Contribution ID", "User name", "Creation date", "Last update", "Languages")
HEADER = (Q_ID, Q_ORG, Q_COUNTRY, Q_PEOPLE, Q_PROGRAMMES, Q_INVEST, Q_REACHED, Q_STAKE, Q_C1, Q_C2, Q_CONTACT,
          Q_ECOS, *META)
PROGRESSING = ["Progressing as planned", "Completed"]
NOT_PROGRESSING = ["Delayed", "Not started"]


def answer(member_id: str | None = "PFS-000001", org: str | None = "Alpha Build SA", country: str | None = "BE",
           people=100, programmes=2, invest=1000, reached=500, stakeholders=3, c1="Progressing as planned",
           c2=None, contact="Ana Example", ecos="Construction;Digital", cid="c-1", user="ana@alpha.example",
           created="01/03/2023 09:00", updated="01/03/2023 09:00", lang="EN") -> list[object]:
    """One survey row in HEADER order (None = empty cell)."""
    return [member_id, org, country, people, programmes, invest, reached, stakeholders, c1, c2, contact, ecos,
            cid, user, created, updated, lang]


def survey_spec(wave: int, **changes) -> dict:
    spec = {
        "wave": wave,
        "alias": f"PactSurvey{wave}",
        "identity": {"member_id": Q_ID, "organisation": Q_ORG, "country": Q_COUNTRY},
        "indicators": {Q_PEOPLE: "people_trained", Q_PROGRAMMES: "training_programmes",
                       Q_INVEST: "investment_eur", Q_REACHED: "people_reached", Q_STAKE: "stakeholders_joined"},
        "commitment_progress": {"columns": [Q_C1, Q_C2], "progressing": PROGRESSING,
                                "not_progressing": NOT_PROGRESSING},
        "personal": [Q_CONTACT],
        "test_entries": [{"column": "User Name", "pattern": r"@test\.example$"}],
    }
    spec.update(changes)
    return spec


def sidecar(kind: str, read: dict, *, title: str, survey: dict | None = None, table: str | None = None,
            synthetic: bool = True) -> dict:
    data = {"title": title, "kind": kind, "publisher": "tests", "received": "2025-01-15",
            "licence": "test data", "synthetic": synthetic, "read": read}
    if table:
        data["table"] = table
    if survey:
        data["survey"] = survey
    return data


def write_sidecar(data_file: Path, content: dict) -> Path:
    path = data_file.with_name(data_file.name + ".source.yml")
    path.write_text(yaml.safe_dump(content, sort_keys=False, allow_unicode=True), encoding="utf-8")
    return path


@dataclass
class TinyRaw:
    root: Path
    surveys: dict[int, Path] = field(default_factory=dict)

    @property
    def registry(self) -> Path:
        return self.root / "registry" / "pact_members.xlsx"

    def write_registry(self, members=MEMBERS, memberships=MEMBERSHIPS, commitments=COMMITMENTS) -> Path:
        path = self.registry
        path.parent.mkdir(parents=True, exist_ok=True)
        workbook = xlsxwriter.Workbook(str(path))
        dates = workbook.add_format({"num_format": "yyyy-mm-dd"})
        for name, header, rows in (("Members", MEMBER_HEADER, members), ("Partnerships", MEMBERSHIP_HEADER, memberships),
                                   ("Commitments", COMMITMENT_HEADER, commitments)):
            sheet = workbook.add_worksheet(name)
            sheet.write_row(0, 0, header)
            for r, row in enumerate(rows, start=1):
                for c, value in enumerate(row):
                    if isinstance(value, dt.date):
                        sheet.write_datetime(r, c, dt.datetime.combine(value, dt.time()), dates)
                    elif value is not None:
                        sheet.write(r, c, value)
        workbook.close()
        write_sidecar(path, sidecar("registry", {
            "format": "xlsx", "header_row": 1,
            "sheets": {"members": "Members", "memberships": "Partnerships", "commitments": "Commitments"},
        }, title="Pact member registry (test)", table="members, memberships, commitments"))
        return path

    def write_survey(self, wave: int, rows: list[list[object]], *, header=HEADER, spec: dict | None = None,
                     sheet: str = "Content", name: str | None = None) -> Path:
        path = self.root / "surveys" / (name or f"pact_survey_{wave}.xlsx")
        write_eusurvey_xlsx(path, alias=f"PactSurvey{wave}", export_date=dt.datetime(wave + 1, 3, 31, 12, 0),
                            header=list(header), rows=rows, sheet=sheet)
        write_sidecar(path, sidecar("survey", {"format": "xlsx", "sheet": "Content", "header_row": 4},
                                    title=f"Pact survey {wave} (test)", survey=spec or survey_spec(wave)))
        self.surveys[wave] = path
        return path

    def write_corrections(self, rows: list[dict]) -> Path:
        path = self.root / "corrections" / "corrections.csv"
        columns = ["correction_id", "wave", "contribution_id", "member_id", "indicator", "action", "value",
                   "reason", "corrected_by", "corrected_on"]
        with path.open("w", encoding="utf-8", newline="") as handle:
            writer = csv.DictWriter(handle, fieldnames=columns)
            writer.writeheader()
            for row in rows:
                writer.writerow({c: row.get(c, "") for c in columns})
        return path


def make_raw(root: Path) -> TinyRaw:
    """The committed reference tables and (empty) corrections file, plus the tiny registry; no survey yet."""
    for part in ("reference", "corrections"):
        shutil.copytree(COMMITTED_RAW / part, root / part)
    raw = TinyRaw(root)
    raw.write_registry()
    return raw


@pytest.fixture
def raw_tree(tmp_path: Path) -> TinyRaw:
    return make_raw(tmp_path / "raw")


@pytest.fixture
def raw(tmp_path: Path) -> TinyRaw:
    """The tiny tree with one 2022 wave of two members."""
    tree = make_raw(tmp_path / "raw")
    tree.write_survey(2022, [answer(cid="c-1"), answer(member_id="PFS-000002", org="Beta", cid="c-2", people=7)])
    return tree


@dataclass(frozen=True)
class SampleRun:
    raw: Path  # the committed data/raw
    curated: Path
    result: RunResult


@pytest.fixture(scope="session")
def sample_run(tmp_path_factory: pytest.TempPathFactory) -> SampleRun:
    """The bundled sample (data/raw) through the pipeline once per session. Tests read it and write nothing
    under it: one that needs to change the data builds its own."""
    from pipelines.runner import run

    if not any(COMMITTED_RAW.rglob("*.source.yml")):
        pytest.skip("no bundled sample in data/raw")
    curated = tmp_path_factory.mktemp("sample") / "curated"
    result = run(COMMITTED_RAW, curated, progress=False)
    assert result.status == "ok"
    return SampleRun(COMMITTED_RAW, curated, result)


@pytest.fixture
def curated(tmp_path: Path, raw: TinyRaw) -> Path:
    """A curated directory holding one good snapshot of `raw`."""
    from pipelines.runner import run

    path = tmp_path / "curated"
    assert run(raw.root, path, progress=False).status == "ok"
    return path

"""The hostile-input corpus: every case is a change made in code to a small valid raw tree.

Each case says what the pipeline must do with it: stop with one clear error naming the place (file, and where
they apply sheet, row and column), or run and land the bad cells in `rejects` with their reason codes (and the
good values in `facts`). Cases are plain data so the test can count them and report what it tried.
"""

from __future__ import annotations

import datetime as dt
import functools
import io
import os
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import xlsxwriter
import yaml

from pipelines.sample.eusurvey import write_eusurvey_xlsx
from tests.conftest import (
    HEADER,
    Q_COUNTRY,
    Q_ID,
    Q_INVEST,
    Q_ORG,
    Q_PEOPLE,
    Q_PROGRAMMES,
    Q_REACHED,
    Q_STAKE,
    TinyRaw,
    answer,
    sidecar,
    survey_spec,
    write_sidecar,
)

SURVEY = "surveys/pact_survey_2022.xlsx"
ORG = {"PFS-000001": "Alpha Build SA", "PFS-000002": "Beta Costruzioni S.r.l.", "PFS-000003": "Gamma Digital Academy",
       "PFS-000004": "Délta Cloud SAS", "PFS-000005": "Epsilon Care Network"}
COUNTRY = {"PFS-000001": "BE", "PFS-000002": "IT", "PFS-000003": "GR", "PFS-000004": "FR", "PFS-000005": "IT"}


def row(member: str, cid: str, **values: object) -> list[object]:
    """A valid survey answer of `member`, with the given cells changed."""
    cells: dict[str, object] = {"org": ORG[member], "country": COUNTRY[member], "user": f"{cid}@members.example"}
    cells.update(values)
    return answer(member_id=member, cid=cid, **cells)


def base_rows() -> list[list[object]]:
    return [row("PFS-000001", "c-1"), row("PFS-000002", "c-2", people=40), row("PFS-000003", "c-3", people=7)]


def write_base(raw: TinyRaw) -> None:
    """The valid tree every case starts from: tiny registry, reference tables and one 2022 wave of 3 answers."""
    raw.write_survey(2022, base_rows())


@dataclass(frozen=True)
class Case:
    name: str
    build: Callable[[TinyRaw], None]
    outcome: str  # "error" | "rejects" | "accepted"
    message: str = ""  # regular expression the one-line error must match
    file: str | None = None
    sheet: str | None = None
    row: int | None = None
    column: str | None = None
    rejects: tuple[tuple[int, str, str], ...] = ()  # (row, column, reason_code) that must be in rejects
    facts: dict[tuple[str, str], int] = field(default_factory=dict)  # (member_id, indicator) -> stored value
    statuses: dict[int, str] = field(default_factory=dict)  # survey row -> submission status


def survey_with(rows: list[list[object]], **kwargs: object) -> Callable[[TinyRaw], None]:
    def build(raw: TinyRaw) -> None:
        raw.write_survey(2022, rows, **kwargs)
    return build


def _survey_path(raw: TinyRaw) -> Path:
    return raw.root / SURVEY


def _truncate(raw: TinyRaw) -> None:
    path = _survey_path(raw)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])


def _garbage(raw: TinyRaw) -> None:
    _survey_path(raw).write_bytes(os.urandom(4096))


def _empty_file(raw: TinyRaw) -> None:
    _survey_path(raw).write_bytes(b"")


def _html_as_xlsx(raw: TinyRaw) -> None:
    # What a web export mislabelled as .xlsx looks like.
    _survey_path(raw).write_bytes(b"<html><body><table><tr><td>1</td></tr></table></body></html>")


def _zip_without_workbook(raw: TinyRaw) -> None:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        archive.writestr("hello.txt", "not a workbook")
    _survey_path(raw).write_bytes(buffer.getvalue())


def _corrupt_sheet_xml(raw: TinyRaw) -> None:
    path = _survey_path(raw)
    source = zipfile.ZipFile(io.BytesIO(path.read_bytes()))
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for info in source.infolist():
            data = source.read(info.filename)
            if info.filename.startswith("xl/worksheets/sheet"):
                data = data[: len(data) // 2]  # XML cut mid-element
            archive.writestr(info, data)
    path.write_bytes(buffer.getvalue())


@functools.lru_cache(maxsize=2)
def zip_bomb_bytes(inflated_mb: int) -> bytes:
    """A workbook whose one sheet XML inflates to `inflated_mb` MB (a run of spaces inside the XML, ~1000:1)."""
    buffer = io.BytesIO()
    head = ('<?xml version="1.0" encoding="UTF-8"?><worksheet xmlns="http://schemas.openxmlformats.org/'
            'spreadsheetml/2006/main"><sheetData>')
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as archive:
        archive.writestr("[Content_Types].xml",
                         '<?xml version="1.0"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/'
                         'content-types"><Default Extension="xml" ContentType="application/xml"/>'
                         '<Override PartName="/xl/workbook.xml" ContentType="application/vnd.openxmlformats-'
                         'officedocument.spreadsheetml.sheet.main+xml"/><Override PartName="/xl/worksheets/'
                         'sheet1.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.'
                         'worksheet+xml"/></Types>')
        archive.writestr("_rels/.rels",
                         '<?xml version="1.0"?><Relationships xmlns="http://schemas.openxmlformats.org/package/'
                         '2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/'
                         'officeDocument/2006/relationships/officeDocument" Target="xl/workbook.xml"/>'
                         '</Relationships>')
        archive.writestr("xl/workbook.xml",
                         '<?xml version="1.0"?><workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/'
                         '2006/main" xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships">'
                         '<sheets><sheet name="Content" sheetId="1" r:id="rId1"/></sheets></workbook>')
        archive.writestr("xl/_rels/workbook.xml.rels",
                         '<?xml version="1.0"?><Relationships xmlns="http://schemas.openxmlformats.org/package/'
                         '2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/'
                         'officeDocument/2006/relationships/worksheet" Target="worksheets/sheet1.xml"/>'
                         '</Relationships>')
        with archive.open("xl/worksheets/sheet1.xml", "w", force_zip64=True) as sheet:
            sheet.write(head.encode())
            block = b" " * (1 << 20)
            for _ in range(inflated_mb):
                sheet.write(block)
            sheet.write(b"</sheetData></worksheet>")
    return buffer.getvalue()


def _zip_bomb(raw: TinyRaw) -> None:
    _survey_path(raw).write_bytes(zip_bomb_bytes(512))


def _wrong_sheet(raw: TinyRaw) -> None:
    raw.write_survey(2022, base_rows(), sheet="Sheet1")


def _header_row_missing(raw: TinyRaw) -> None:
    # A workbook whose Content sheet stops before the header row (rows 1-2 only).
    path = _survey_path(raw)
    workbook = xlsxwriter.Workbook(str(path))
    sheet = workbook.add_worksheet("Content")
    sheet.write_row(0, 0, ["Alias", "PactSurvey2022"])
    sheet.write_row(1, 0, ["Export Date", "31/03/2023 12:00"])
    workbook.close()


def _question_missing(raw: TinyRaw) -> None:
    header = [h for h in HEADER if h != Q_STAKE]
    rows = [r[: HEADER.index(Q_STAKE)] + r[HEADER.index(Q_STAKE) + 1:] for r in base_rows()]
    raw.write_survey(2022, rows, header=header, spec=survey_spec(2022))


def _merged_and_hidden(raw: TinyRaw) -> None:
    """Merged cells across two answers' people counts, a hidden row and a hidden column, as Excel writes them."""
    path = _survey_path(raw)
    workbook = xlsxwriter.Workbook(str(path))
    sheet = workbook.add_worksheet("Content")
    sheet.write_row(0, 0, ["Alias", "PactSurvey2022"])
    sheet.write_row(1, 0, ["Export Date", "31/03/2023 12:00"])
    sheet.write_row(3, 0, list(HEADER))
    rows = base_rows()
    for r, values in enumerate(rows, start=4):
        for c, value in enumerate(values):
            if value is not None:
                sheet.write(r, c, value)
    people = HEADER.index(Q_PEOPLE)
    # Rows 5 and 6 (PFS-000001, PFS-000002) share one merged people cell: only the first keeps its value.
    sheet.merge_range(4, people, 5, people, 999)
    sheet.set_row(6, None, None, {"hidden": True})  # PFS-000003's answer, hidden but still data
    sheet.set_column(HEADER.index(Q_REACHED), HEADER.index(Q_REACHED), None, None, {"hidden": True})
    workbook.close()


def _sidecar_extra_key(raw: TinyRaw) -> None:
    path = Path(str(_survey_path(raw)) + ".source.yml")
    content = yaml.safe_load(path.read_text(encoding="utf-8"))
    content["read"]["path"] = "../../../etc/passwd"
    path.write_text(yaml.safe_dump(content), encoding="utf-8")


def _sidecar_python_tag(raw: TinyRaw) -> None:
    path = Path(str(_survey_path(raw)) + ".source.yml")
    path.write_text("title: !!python/object/apply:os.system ['touch /tmp/pwned-by-sidecar']\n", encoding="utf-8")


def _sidecar_billion_laughs(raw: TinyRaw) -> None:
    path = Path(str(_survey_path(raw)) + ".source.yml")
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x]"]
    for i in range(1, 9):
        lines.append(f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 9) + "]")
    lines.append("title: *a8")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def _sidecar_missing(raw: TinyRaw) -> None:
    Path(str(_survey_path(raw)) + ".source.yml").unlink()


def _symlinked_data_outside(raw: TinyRaw) -> None:
    outside = raw.root.parent / "outside" / "secret.csv"
    outside.parent.mkdir(parents=True, exist_ok=True)
    outside.write_text("not for the pipeline\n", encoding="utf-8")
    link = raw.root / "reference" / "extra.csv"
    link.symlink_to(outside)
    write_sidecar(link, sidecar("reference", {"format": "csv"}, title="escaping link", table="extra"))


def _symlinked_sidecar_outside(raw: TinyRaw) -> None:
    real = Path(str(_survey_path(raw)) + ".source.yml")
    outside = raw.root.parent / "outside" / "survey.source.yml"
    outside.parent.mkdir(parents=True, exist_ok=True)
    outside.write_bytes(real.read_bytes())
    real.unlink()
    real.symlink_to(outside)


def _symlinked_dir_outside(raw: TinyRaw) -> None:
    outside = raw.root.parent / "outside-dir"
    (outside).mkdir(parents=True, exist_ok=True)
    write_eusurvey_xlsx(outside / "pact_survey_2023.xlsx", alias="x", export_date=dt.datetime(2024, 1, 1),
                        header=list(HEADER), rows=base_rows())
    write_sidecar(outside / "pact_survey_2023.xlsx", sidecar("survey", {"format": "xlsx", "sheet": "Content",
                                                                         "header_row": 4},
                                                          title="outside", survey=survey_spec(2023)))
    (raw.root / "surveys" / "more").symlink_to(outside, target_is_directory=True)


def _reference_latin1(raw: TinyRaw) -> None:
    path = raw.root / "reference" / "member_states.csv"
    text = path.read_text(encoding="utf-8")
    path.write_bytes(text.replace("Czechia", "Česko").replace("Greece", "Ελλάδα").encode("cp1252", "replace")
                     + "Ünïcödé\n".encode("latin-1"))


def _reference_utf16(raw: TinyRaw) -> None:
    path = raw.root / "reference" / "ecosystems.csv"
    path.write_bytes(path.read_text(encoding="utf-8").encode("utf-16"))


def _reference_bom_crlf(raw: TinyRaw) -> None:
    for name in ("ecosystems.csv", "member_states.csv"):
        path = raw.root / "reference" / name
        text = path.read_text(encoding="utf-8").replace("\r\n", "\n").replace("\n", "\r\n")
        path.write_bytes("\ufeff".encode() + text.encode("utf-8"))


def _reference_nul(raw: TinyRaw) -> None:
    path = raw.root / "reference" / "ecosystems.csv"
    path.write_bytes(path.read_bytes() + b"x\x00y,1,2\n")


def _corrections_bom_unknown(raw: TinyRaw) -> None:
    path = raw.write_corrections([
        {"correction_id": "K1", "wave": "2022", "contribution_id": "c-404", "member_id": "PFS-000001",
         "indicator": "people_trained", "action": "set", "value": "5", "reason": "typo", "corrected_by": "staff",
         "corrected_on": "2025-01-20"},
    ])
    path.write_bytes("\ufeff".encode() + path.read_bytes())


def _corrections_latin1(raw: TinyRaw) -> None:
    path = raw.write_corrections([
        {"correction_id": "K1", "wave": "2022", "contribution_id": "c-1", "member_id": "PFS-000001",
         "indicator": "people_trained", "action": "set", "value": "5", "reason": "Fehler in der Übermittlung",
         "corrected_by": "staff", "corrected_on": "2025-01-20"},
    ])
    path.write_bytes(path.read_text(encoding="utf-8").encode("latin-1"))


def _unsupported_type(raw: TinyRaw) -> None:
    path = raw.root / "surveys" / "pact_survey_2021.pdf"  # EUSurvey exports results as PDF too
    path.write_bytes(b"%PDF-1.4\n" + b"\x00" * 512)


def _huge_cell(raw: TinyRaw) -> None:
    raw.write_survey(2022, [*base_rows(), row("PFS-000004", "c-4", org="D" * 32_000, people="9" * 20_000)])


CASES: tuple[Case, ...] = (
    # ------------------------------------------------------------------ unreadable or mislabelled files: stop
    Case("truncated xlsx", _truncate, "error", r"not a readable xlsx", file=SURVEY),
    Case("random bytes as xlsx", _garbage, "error", r"not a readable xlsx", file=SURVEY),
    Case("empty file as xlsx", _empty_file, "error", r"not a readable xlsx", file=SURVEY),
    Case("html saved as xlsx", _html_as_xlsx, "error", r"not a readable xlsx", file=SURVEY),
    Case("zip without a workbook", _zip_without_workbook, "error", r"not a readable xlsx", file=SURVEY),
    Case("sheet xml cut mid-element", _corrupt_sheet_xml, "error", r"cannot read the sheet|not a readable",
         file=SURVEY),
    Case("zip bomb (512 MB of sheet xml)", _zip_bomb, "error", r"refused as a possible zip bomb", file=SURVEY),
    Case("wrong sheet", _wrong_sheet, "error", r"sheet not found.*'Sheet1'", file=SURVEY, sheet="Content"),
    Case("file ends before the header row", _header_row_missing, "error", r"ends before the header row 4",
         file=SURVEY, sheet="Content", row=4),
    Case("a mapped question is missing", _question_missing, "error", r"header row does not have it",
         file=SURVEY, sheet="Content", row=4, column=Q_STAKE),
    Case("a mapped title repeated", survey_with(base_rows(), header=[*HEADER[:-1], HEADER[0]]), "error",
         r"2 columns have this title: Content!A .*Content!Q .*write '.* \[1\]' or '.* \[2\]'", file=SURVEY,
         sheet="Content", row=4, column=HEADER[0]),
    Case("data beyond the last header column", survey_with([*base_rows()[:2], [*base_rows()[2], "stray"]]),
         "error", r"beyond the last column", file=SURVEY, sheet="Content", row=7),
    Case("unsupported file type (.pdf)", _unsupported_type, "error", r"unsupported file type '\.pdf'",
         file="surveys/pact_survey_2021.pdf"),
    # --------------------------------------------------------------------------------- sidecars: stop
    Case("sidecar missing", _sidecar_missing, "error", r"missing sidecar", file=SURVEY),
    Case("sidecar with a path key pointing outside data/raw", _sidecar_extra_key, "error",
         r"read\.path.*[Ee]xtra inputs are not permitted", file=SURVEY),
    Case("sidecar with a python object tag", _sidecar_python_tag, "error", r"not valid YAML", file=SURVEY),
    Case("sidecar billion laughs", _sidecar_billion_laughs, "error", r"key 'title'|not valid|expected",
         file=SURVEY),
    # ------------------------------------------------------------------------ escaping data/raw: stop
    Case("data file symlinked outside data/raw", _symlinked_data_outside, "error", r"outside the raw",
         file="reference/extra.csv"),
    Case("sidecar symlinked outside data/raw", _symlinked_sidecar_outside, "error", r"outside the raw",
         file=SURVEY + ".source.yml"),
    Case("directory symlinked outside data/raw", _symlinked_dir_outside, "error", r"outside the raw",
         file="surveys/more"),
    # --------------------------------------------------------------------------------- CSV encodings
    Case("reference table in cp1252", _reference_latin1, "error", r"cannot decode the file as utf-8",
         file="reference/member_states.csv"),
    Case("reference table in UTF-16", _reference_utf16, "error", r"cannot decode the file as utf-8",
         file="reference/ecosystems.csv"),
    Case("reference table with a NUL byte and an empty key", _reference_nul, "error",
         r"key column 'order' is empty", file="reference/ecosystems.csv", row=16, column="order"),
    Case("corrections in latin-1", _corrections_latin1, "error", r"cannot decode the file as utf-8",
         file="corrections/corrections.csv"),
    Case("reference tables with BOM and CRLF", _reference_bom_crlf, "accepted",
         facts={("PFS-000001", "people_trained"): 100}),
    Case("corrections with BOM naming an unknown submission", _corrections_bom_unknown, "accepted",
         facts={("PFS-000001", "people_trained"): 100}),
    # ------------------------------------------------------------------------------ cells: reject
    Case("dates as text", survey_with([*base_rows(), row("PFS-000004", "c-4", created="2023-03-01",
                                                         updated="1st of March")]),
         "rejects", rejects=((8, "Creation date", "invalid_timestamp"),), statuses={8: "rejected"}),
    Case("numbers with every separator style", survey_with([
        row("PFS-000001", "c-1", people="1,500", programmes="2 500", invest="1\u00a0000\u202f000",
            reached="1'234'567", stakeholders="+12"),
        row("PFS-000002", "c-2", people="1.500", programmes="1,5", invest="1.500,50", reached="1_000",
            stakeholders="12.0"),
        row("PFS-000003", "c-3", people=" 42 ", programmes=3.0, invest="1,000,000.25"),
    ]), "rejects",
         rejects=((6, Q_PROGRAMMES, "not_a_number"), (6, Q_INVEST, "not_a_number"),
                  (6, Q_REACHED, "not_a_number")),
         facts={("PFS-000001", "people_trained"): 1500, ("PFS-000001", "training_programmes"): 2500,
                ("PFS-000001", "investment_eur"): 100_000_000, ("PFS-000001", "people_reached"): 1_234_567,
                ("PFS-000001", "stakeholders_joined"): 12, ("PFS-000002", "stakeholders_joined"): 12,
                ("PFS-000003", "people_trained"): 42, ("PFS-000003", "training_programmes"): 3,
                ("PFS-000003", "investment_eur"): 100_000_025}),
    Case("text in numbers", survey_with([*base_rows()[:2], row("PFS-000003", "c-3", people="about 100",
                                                               programmes="n/a", invest="€ 5", reached="NaN",
                                                               stakeholders="inf")]),
         "rejects", rejects=((7, Q_PEOPLE, "not_a_number"), (7, Q_PROGRAMMES, "not_a_number"),
                             (7, Q_INVEST, "not_a_number"), (7, Q_REACHED, "not_a_number"),
                             (7, Q_STAKE, "not_a_number")),
         statuses={7: "accepted"}),
    Case("negatives", survey_with([*base_rows()[:2], row("PFS-000003", "c-3", people=-5, programmes="-1",
                                                         invest="\u22121000")]),
         "rejects", rejects=((7, Q_PEOPLE, "negative_value"), (7, Q_PROGRAMMES, "negative_value"),
                             (7, Q_INVEST, "negative_value"))),
    Case("absurdly large values", survey_with([*base_rows()[:2], row("PFS-000003", "c-3", people=1e300,
                                                                     programmes="9" * 40, invest=2**63)]),
         "rejects", rejects=((7, Q_PEOPLE, "implausible_value"), (7, Q_PROGRAMMES, "implausible_value"), (7, Q_INVEST, "implausible_value"))),
    Case("formula strings", survey_with([*base_rows()[:2], row("PFS-000003", "c-3",
                                                               people='=HYPERLINK("http://evil.example","x")',
                                                               programmes="@SUM(A1)", invest="+cmd|' /C calc'!A0",
                                                               contact="=1+1")]),
         "rejects", rejects=((7, Q_PEOPLE, "not_a_number"), (7, Q_PROGRAMMES, "not_a_number"),
                             (7, Q_INVEST, "not_a_number"))),
    Case("duplicate submissions", survey_with([
        *base_rows(),
        row("PFS-000001", "c-1b", people=300, updated="02/03/2023 09:00"),
        row("PFS-000001", "c-1c", people=200, created="01/03/2023 08:00", updated="01/03/2023 08:00"),
    ]), "accepted", facts={("PFS-000001", "people_trained"): 300},
         statuses={5: "superseded", 8: "accepted", 9: "superseded"}),
    Case("unknown codes", survey_with([
        *base_rows(),
        answer(member_id="PFS-999999", org="Nobody Ltd", country="BE", cid="c-9", user="x@y.example"),
        row("PFS-000004", "c-4", country="XX"),
    ]), "rejects", rejects=((8, Q_ID, "unknown_member"), (9, Q_COUNTRY, "unknown_member_state")),
         statuses={8: "rejected", 9: "rejected"}),
    Case("markup in an organisation name", survey_with([
        *base_rows(), answer(member_id="PFS-000004", org="<script>alert(1)</script>", country="FR", cid="c-4",
                             user="x@y.example", people=11)]),
         "accepted", facts={("PFS-000004", "people_trained"): 11}),
    Case("merged and hidden cells", _merged_and_hidden, "accepted",
         facts={("PFS-000001", "people_trained"): 999, ("PFS-000003", "people_trained"): 7,
                ("PFS-000003", "people_reached"): 500},
         statuses={5: "accepted", 6: "accepted", 7: "accepted"}),
    Case("a 32,000-character cell and a 20,000-digit number", _huge_cell, "rejects",
         rejects=((8, Q_PEOPLE, "implausible_value"),)),
    # an export taken before the survey opened would publish the wave as if nobody had answered
    Case("header-only survey", survey_with([]), "error", message="holds no contribution",
         file="surveys/pact_survey_2022.xlsx"),
)

__all__ = ["CASES", "Q_ORG", "Q_PROGRAMMES", "Case", "write_base", "zip_bomb_bytes"]

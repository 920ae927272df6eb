"""Survey exports as they arrive after something happened to them on the way: a continuation sheet edited on its
own, a zip protected with a password, respondents' uploads in the zip.

Each must stop the run with a message saying what happened and what to do, or, for the uploads, read exactly as
the export without them. The files are written here: the password-protected zip keeps its content unencrypted
and carries the mark a reader goes by (each entry's encryption flag).
"""

from __future__ import annotations

import io
import struct
import zipfile
from pathlib import Path

import openpyxl
import pytest

import pipelines
from pipelines.errors import PipelineError
from pipelines.sample.eusurvey import write_eusurvey_zip
from tests.test_eusurvey_exports import FIGURES_2022, T, add_export, figures, header_in, rows_2022, run, write_xlsx

WIDE = "surveys/pact_survey_2022.xlsx"


# ------------------------------------------------------------------------------------- continuation sheets

def _wide_export_edited(raw_tree, first: int, amount: int) -> None:
    """A wide export (5 columns per sheet: Content to Content3) whose Content1 lost `amount` rows from
    spreadsheet row `first` on, deleted by hand on that sheet only."""
    path = write_xlsx(raw_tree, "pact_survey_2022.xlsx", rows_2022(), max_columns=5)
    book = openpyxl.load_workbook(path)
    book["Content1"].delete_rows(first, amount)
    book.save(path)


@pytest.mark.parametrize(("first", "amount"), [(6, 1), (6, 2)], ids=["a row in the middle", "the last rows"])
def test_a_continuation_sheet_that_lost_rows_stops_the_run(raw_tree, tmp_path, first, amount):
    _wide_export_edited(raw_tree, first, amount)
    with pytest.raises(PipelineError) as err:
        pipelines.run(raw_tree.root, tmp_path / "curated")
    message = str(err.value)
    assert message.startswith(
        f"{WIDE}, sheet 'Content1': sheet 'Content1' has {3 - amount} rows under its header but sheet 'Content' has 3")
    assert "a row deleted or sorted on one sheet only would give answers to other members" in message
    assert "export the survey again and use it unedited" in message
    assert not (tmp_path / "curated" / "current").exists()


# ------------------------------------------------------------------------------------------------- zips

def _password_protected(data: bytes) -> bytes:
    """The zip `data` with bit 0 of every entry's flags set (encrypted), in its local header and in the central
    directory, as a zip tool writes a password-protected zip; the content itself stays as it was."""
    out = bytearray(data)
    for info in zipfile.ZipFile(io.BytesIO(data)).infolist():
        out[info.header_offset + 6] |= 0x1
    end = out.rfind(b"PK\x05\x06")
    count, _, at = struct.unpack_from("<HII", out, end + 10)
    for _ in range(count):
        assert out[at:at + 4] == b"PK\x01\x02"
        out[at + 8] |= 0x1
        at += 46 + sum(struct.unpack_from("<HHH", out, at + 28))
    return bytes(out)


def _zip_of_two(raw_tree) -> Path:
    path = add_export(raw_tree, "pact_survey_2022.zip")
    rows = rows_2022()
    write_eusurvey_zip(path, parts=[("Content_Export_PactSurvey2022_1.xlsx", rows[:1]),
                                    ("Content_Export_PactSurvey2022_2.xlsx", rows[1:])],
                       alias="PactSurvey2022", export_date=T(2023, 4, 3, 8, 15), header=header_in("en"))
    return path


def test_a_password_protected_zip_stops_the_run_naming_a_workbook_in_it(raw_tree, tmp_path):
    path = _zip_of_two(raw_tree)
    path.write_bytes(_password_protected(path.read_bytes()))
    assert all(info.flag_bits & 0x1 for info in zipfile.ZipFile(path).infolist())
    with pytest.raises(PipelineError) as err:
        pipelines.run(raw_tree.root, tmp_path / "curated")
    assert str(err.value) == (
        "surveys/pact_survey_2022.zip: Content_Export_PactSurvey2022_1.xlsx in the zip archive is password-protected "
        "(encrypted): export it again without a password")


def test_files_respondents_uploaded_are_not_read_from_the_zip(raw_tree, tmp_path, caplog):
    path = _zip_of_two(raw_tree)
    plain = figures(run(raw_tree, tmp_path / "plain"))
    assert plain == FIGURES_2022
    upload = io.BytesIO()
    book = openpyxl.Workbook()
    book.active.title = "Plan"  # no Content sheet: read as a workbook, it would stop the run
    book.save(upload)
    with zipfile.ZipFile(path, "a") as archive:
        archive.writestr("abc-123/Upload_1/plan.xlsx", upload.getvalue())
        archive.writestr("abc-123/Upload_2/report.pdf", b"%PDF-1.4")
    with caplog.at_level("INFO", logger="pipelines.readers"):
        tables = run(raw_tree, tmp_path / "curated")
    assert figures(tables) == plain
    assert set(tables["submissions"]["source_file"]) == {
        "surveys/pact_survey_2022.zip/Content_Export_PactSurvey2022_1.xlsx",
        "surveys/pact_survey_2022.zip/Content_Export_PactSurvey2022_2.xlsx"}
    assert "abc-123/Upload_1/plan.xlsx is a file a respondent uploaded; not read" in caplog.text

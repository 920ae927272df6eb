"""Survey exports as they arrive after something happened to them on the way: a continuation sheet edited on its
own, a zip or a workbook protected with a password, an .xls renamed .xlsx, respondents' uploads in the zip.

Each must stop the run with a message saying what happened and what to do, or, for the uploads, read exactly as
the export without them. The files are written here: the password-protected ones keep their content unencrypted
and carry the marks a reader goes by (a zip entry's encryption flag, the streams Office's encryption writes).
"""

from __future__ import annotations

import io
import shutil
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


# ------------------------------------------------------------------------- workbooks that are not what they say

def _compound_file(streams: dict[str, bytes]) -> bytes:
    """An OLE compound file (CFB version 3, 512-byte sectors) holding `streams`, each at least 4096 bytes so
    that it is stored in sectors of its own, not the mini stream: sector 0 the FAT, sector 1 the directory."""
    free, end, fat_sector, no_stream = 0xFFFFFFFF, 0xFFFFFFFE, 0xFFFFFFFD, 0xFFFFFFFF

    def entry(name: str, kind: int, start: int, size: int, right: int = no_stream, child: int = no_stream) -> bytes:
        encoded = (name + "\0").encode("utf-16-le")
        return (encoded.ljust(64, b"\0") + struct.pack("<HBBIII", len(encoded), kind, 1, no_stream, right, child)
                + bytes(36) + struct.pack("<IQ", start, size))

    fat = [fat_sector, end]
    directory = [entry("Root Entry", 5, end, 0, child=1)]
    data = b""
    for k, (name, content) in enumerate(streams.items()):
        assert len(content) >= 4096 and len(content) % 512 == 0
        start = len(fat)
        fat += [*range(start + 1, start + len(content) // 512), end]
        directory.append(entry(name, 2, start, len(content), right=k + 2 if k + 1 < len(streams) else no_stream))
        data += content
    assert len(fat) <= 128 and len(directory) <= 4
    header = (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(16)
              + struct.pack("<HHHHH6xIIIIIIIII", 0x3E, 3, 0xFFFE, 9, 6, 0, 1, 1, 0, 4096, end, 0, end, 0)
              + struct.pack("<109I", 0, *[free] * 108))
    fat_bytes = struct.pack("<128I", *fat, *[free] * (128 - len(fat)))
    directory_bytes = b"".join(directory).ljust(512, b"\0")
    return header + fat_bytes + directory_bytes + data


@pytest.mark.parametrize("name", ["pact_survey_2022.xlsx", "pact_survey_2022.xls"])
def test_a_password_protected_workbook_is_said_to_be_one(raw_tree, tmp_path, name):
    path = add_export(raw_tree, name)
    path.write_bytes(_compound_file({"EncryptionInfo": bytes(4096), "EncryptedPackage": bytes(4096)}))
    with pytest.raises(PipelineError) as err:
        pipelines.run(raw_tree.root, tmp_path / "curated")
    assert str(err.value) == (
        f"surveys/{name}: the workbook is password-protected (encrypted): save it again without a password")


def test_an_xls_named_xlsx_is_said_to_be_one(raw_tree, tmp_path):
    path = add_export(raw_tree, "pact_survey_2022.xlsx")
    shutil.copyfile(Path(__file__).parent / "fixtures" / "eusurvey_2022.xls", path)
    with pytest.raises(PipelineError) as err:
        pipelines.run(raw_tree.root, tmp_path / "curated")
    assert str(err.value) == (
        "surveys/pact_survey_2022.xlsx: this looks like an .xls (Excel 97-2003) file named .xlsx: rename it to .xls")


def test_a_zip_missing_a_numbered_part_stops_the_run(raw_tree, tmp_path):
    path = _zip_of_two(raw_tree)
    rows = rows_2022()
    # the zip made again by hand, its second workbook left out
    write_eusurvey_zip(path, parts=[("Content_Export_PactSurvey2022_1.xlsx", rows[:1]),
                                    ("Content_Export_PactSurvey2022_3.xlsx", rows[1:])],
                       alias="PactSurvey2022", export_date=T(2023, 4, 3, 8, 15), header=header_in("en"))
    with pytest.raises(PipelineError) as err:
        pipelines.run(raw_tree.root, tmp_path / "curated")
    assert str(err.value) == (
        f"{path.relative_to(raw_tree.root).as_posix()}: the zip holds parts 1, 3 of the export "
        "'Content_Export_PactSurvey2022' but not part 2: use the zip EUSurvey gave, or add the missing workbook")


def test_a_header_moved_up_by_a_deleted_row_is_named(raw_tree, tmp_path):
    path = write_xlsx(raw_tree, "pact_survey_2022.xlsx", rows_2022())
    book = openpyxl.load_workbook(path)
    book["Content"].delete_rows(3)  # the blank row between the export date and the header, removed by hand
    book.save(path)
    with pytest.raises(PipelineError) as err:
        pipelines.run(raw_tree.root, tmp_path / "curated")
    assert str(err.value) == (
        "surveys/pact_survey_2022.xlsx, sheet 'Content', row 4: the export's header is on row 3, not on row 4 as the "
        "sidecar's read.header_row says (EUSurvey writes it on row 4, under a blank row 3): was a row deleted or "
        "added above it? Use the export as EUSurvey gave it, or set read.header_row: 3")

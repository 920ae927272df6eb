"""A registry sheet read column by column (fastexcel into Arrow) gives exactly the cells the cell-by-cell read gives.

Each workbook is written here as an operator's spreadsheet program would write it; `read_xlsx` is compared with the
cell-by-cell read (python-calamine) of the same bytes, and each case says which way it must have been read: typed
columns where every column holds one type of cell, cell by cell wherever the typed read could differ.
"""

from __future__ import annotations

import datetime as dt
import io
import logging
import re

import openpyxl
import pytest
import xlsxwriter
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pipelines import readers
from pipelines.errors import PipelineError
from pipelines.normalise import SpreadsheetCell
from pipelines.readers import ColumnRows

SHEET = "Members"


def workbook(rows: list[list[object]], *, first_row: int = 0, first_column: int = 0) -> bytes:
    """An xlsx of one sheet holding `rows` from the given corner; dates and date-times with a date format."""
    out = io.BytesIO()
    book = xlsxwriter.Workbook(out, {"in_memory": True})
    date_format = book.add_format({"num_format": "yyyy-mm-dd"})
    time_format = book.add_format({"num_format": "yyyy-mm-dd hh:mm:ss"})
    sheet = book.add_worksheet(SHEET)
    for r, row in enumerate(rows, start=first_row):
        for c, value in enumerate(row, start=first_column):
            if value is None:
                continue
            if isinstance(value, (dt.datetime, dt.time)):
                sheet.write_datetime(r, c, value, time_format)
            elif isinstance(value, dt.date):
                sheet.write_datetime(r, c, dt.datetime.combine(value, dt.time()), date_format)
            elif isinstance(value, str):
                sheet.write_string(r, c, value)
            else:
                sheet.write(r, c, value)
    book.close()
    return out.getvalue()


def cell_by_cell(content: bytes, header_row: int = 1) -> readers.Sheet:
    book = readers.open_workbook(content, "registry.xlsx", "xlsx")
    return readers._under_header("registry.xlsx", SHEET, header_row, readers.sheet_cells(book, SHEET))


def read(content: bytes, header_row: int = 1) -> readers.Sheet:
    return readers.read_xlsx(content, "registry.xlsx", "xlsx", SHEET, header_row)


def assert_same_sheet(content: bytes, *, typed: bool, header_row: int = 1) -> readers.Sheet:
    """`read_xlsx` equals the cell-by-cell read, value and type of every cell, and was read as `typed` says."""
    got, expected = read(content, header_row), cell_by_cell(content, header_row)
    assert isinstance(got.rows, ColumnRows) is typed
    assert got.header == expected.header
    assert [[(type(c), c) for c in row] for row in got.rows] == [[(type(c), c) for c in row] for row in expected.rows]
    assert [list(c) for c in got.columns] == [list(c) for c in expected.columns]
    return got


HEADER = ["Registration ID", "Organisation", "Pledged", "Joined", "Updated at", "Active", "Notes"]


def test_columns_of_one_type_each_are_read_typed_with_the_same_cells():
    rows = [HEADER,
            ["PFS-000001", "Acme GmbH", 1500, dt.date(2021, 3, 4), dt.datetime(2021, 3, 4, 10, 30, 15), True, None],
            ["PFS-000002", "  spaced  ", None, dt.date(2022, 1, 1), dt.datetime(2022, 1, 1), False, None],
            ["PFS-000003", "", 2.5, None, None, None, None]]
    sheet = assert_same_sheet(workbook(rows), typed=True)
    assert sheet.rows[0][3] == dt.date(2021, 3, 4) and type(sheet.rows[0][3]) is dt.date
    assert sheet.rows[1][4] == dt.date(2022, 1, 1)  # a date-time at midnight is a date, as calamine gives it
    assert sheet.rows[0][4] == dt.datetime(2021, 3, 4, 10, 30, 15)
    assert sheet.rows[2][2:] == [2.5, "", "", "", ""]
    assert sheet.rows[-1] == sheet.rows[2] and sheet.rows[1:2] == [sheet.rows[1]]


def test_a_title_above_the_header_and_a_header_with_line_breaks_are_read_typed():
    rows = [["Member registry, May 2025"], ["Registration\nID", "Organisation  name"], ["PFS-000001", "Acme"]]
    sheet = assert_same_sheet(workbook(rows), typed=True, header_row=2)
    assert sheet.header == ["Registration ID", "Organisation name"] and sheet.first_row == 3


def test_a_column_mixing_text_and_numbers_far_down_is_read_cell_by_cell():
    # fastexcel guesses a column's type from its first 1,000 rows unless told to look at all: a number at row 1,500
    # of a text column would have become text, and a text date in a date column would have become empty
    rows = [HEADER[:2]] + [[f"PFS-{i:06d}", "x"] for i in range(1, 1500)] + [[42, "x"]]
    sheet = assert_same_sheet(workbook(rows), typed=False)
    assert sheet.rows[-1][0] == 42.0
    dates = [["Joined"]] + [[dt.date(2021, 1, 1)]] * 1200 + [["31/12/2021"]]
    assert assert_same_sheet(workbook(dates), typed=False).rows[-1] == ["31/12/2021"]


@pytest.mark.parametrize("case, rows, corner", [
    ("the table starts at B2", [HEADER[:2], ["PFS-000001", "Acme"]], (1, 1)),
    ("a header cell is empty", [["Registration ID", None, "Organisation"], ["PFS-000001", "x", "Acme"]], (0, 0)),
    ("a cell right of the header", [HEADER[:2], ["PFS-000001", "Acme", "stray"]], (0, 0)),
    ("spaces in rows below the table", [HEADER[:2], ["PFS-000001", "Acme"], [None, None], [" ", None]], (0, 0)),
    ("a time of day without a date", [["Registration ID", "At"], ["PFS-000001", dt.time(10, 30)]], (0, 0)),
    ("a header that is a title text 'Name_1' beside 'Name'", [["Name", "Name_1"], ["a", "b"]], (0, 0)),
])
def test_what_the_typed_read_could_get_wrong_is_read_cell_by_cell(case, rows, corner, caplog):
    content = workbook(rows, first_row=corner[0], first_column=corner[1])
    with caplog.at_level(logging.WARNING):
        try:
            expected = cell_by_cell(content)
        except PipelineError as exc:  # the cell-by-cell read refuses it: so must read_xlsx, with the same message
            with pytest.raises(PipelineError, match=re.escape(str(exc).split(":")[-1].strip()[:40])):
                read(content)
            return
    got = read(content)
    assert not isinstance(got.rows, ColumnRows), case
    assert (got.header, list(got.rows)) == (expected.header, list(expected.rows))


def test_a_header_written_twice_stops_the_run_as_it_did():
    content = workbook([["Registration ID", "Registration ID"], ["PFS-000001", "PFS-000002"]])
    with pytest.raises(PipelineError, match="names this column twice"):
        read(content)


def test_formulas_are_read_cell_by_cell_and_come_as_formulas():
    path = io.BytesIO()
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.title = SHEET
    sheet.append(["Registration ID", "Pledged"])
    sheet.append(["PFS-000001", "=1+1"])
    book.save(path)
    got = read(path.getvalue())
    assert not isinstance(got.rows, ColumnRows)
    cell = got.rows[0][1]
    assert isinstance(cell, SpreadsheetCell) and (cell.kind, cell.text) == ("formula", "=1+1")


def test_a_missing_sheet_is_named_by_the_cell_by_cell_read():
    with pytest.raises(PipelineError, match="sheet not found"):
        readers.read_xlsx(workbook([HEADER]), "registry.xlsx", "xlsx", "Commitments", 1)


_TEXT = st.text(st.characters(codec="utf-8", exclude_categories=("Cs", "Cc")), max_size=6)
_CELLS = {
    "text": st.one_of(st.none(), _TEXT, st.sampled_from(["", " ", "PFS-000001", "a&b"])),
    "number": st.one_of(st.none(), st.integers(-10**9, 10**9), st.floats(-1e9, 1e9, allow_nan=False).map(round)),
    "date": st.one_of(st.none(), st.dates(dt.date(1900, 3, 1), dt.date(2100, 1, 1))),
    "datetime": st.one_of(st.none(), st.datetimes(dt.datetime(1900, 3, 1), dt.datetime(2100, 1, 1)).map(
        lambda d: d.replace(microsecond=0))),
    "bool": st.one_of(st.none(), st.booleans()),
}


@st.composite
def sheets(draw) -> tuple[list[list[object]], bool | None]:
    """A header and up to 8 rows of random cells, a column of one kind each, or the first of any kinds; and whether
    it must be read typed (None: a mixed column may or may not hold two kinds)."""
    kinds = draw(st.lists(st.sampled_from(sorted(_CELLS)), min_size=1, max_size=4))
    mixed = draw(st.booleans())
    height = draw(st.integers(0, 8))
    columns = []
    for i, kind in enumerate(kinds):
        cells = st.one_of(*_CELLS.values()) if mixed and i == 0 else _CELLS[kind]
        columns.append(draw(st.lists(cells, min_size=height, max_size=height)))
    rows = [list(row) for row in zip(*columns, strict=True)]
    while rows and all(c is None for c in rows[-1]):  # nothing written there: no row at all
        rows.pop()
    blank_end = bool(rows) and all(c is None or (isinstance(c, str) and not c.strip()) for c in rows[-1])
    return [[f"Column {i}" for i in range(len(kinds))], *rows], None if mixed else not blank_end


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(sheets())
def test_any_sheet_reads_as_the_cell_by_cell_read_reads_it(drawn):
    rows, typed = drawn
    content = workbook(rows)
    try:
        expected = cell_by_cell(content)
    except PipelineError:
        with pytest.raises(PipelineError):
            read(content)
        return
    got = read(content)
    assert got.header == expected.header
    assert [[(type(c), c) for c in row] for row in got.rows] == [[(type(c), c) for c in row] for row in expected.rows]
    if typed is not None:
        assert isinstance(got.rows, ColumnRows) is typed


@pytest.mark.parametrize("cells, starts", [
    (b'<c r="A1" t="s"><v>0</v></c>', True),
    (b'<c r="A1" t="inlineStr"><is><t>ID</t></is></c>', True),
    (b'<c r="A1" s="3"/><c r="B1" t="s"><v>0</v></c>', False),  # a styled empty cell: the range starts later
    (b'<c r="A1" s="3"></c>', False),
    (b'<c r="B2" t="s"><v>0</v></c>', False),
    (b'<c t="s"><v>0</v></c>', False),  # a cell without a reference: where it stands is not known here
    (b'<c r="A1" t="s"><v>0</v>', False),  # never closed
])
def test_the_typed_read_is_tried_only_on_a_sheet_whose_first_cell_is_a1_with_a_value(cells, starts):
    part = b'<worksheet><cols><col min="1"/></cols><sheetData><row r="1">' + cells + b"</row></sheetData></worksheet>"
    assert readers._starts_at_a1(part) is starts

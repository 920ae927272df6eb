"""Cells that are not plain values, and sheets that reach far beyond their data.

A formula in a mapped cell is rejected whatever its cached result, Excel error values are rejected, a number
whose reading is ambiguous in its wave's locale is rejected, and stray cells far beyond the data are ignored with a
warning instead of being allocated. Each case on a small workbook written here, through the real pipeline.
"""

from __future__ import annotations

import hashlib
import logging
import re
import struct
import zipfile
from pathlib import Path

import openpyxl
import pyarrow.parquet as pq
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import pipelines
from pipelines import readers
from pipelines.sample.eusurvey import Formula
from tests.conftest import HEADER, Q_INVEST, Q_PEOPLE, Q_PROGRAMMES, Q_REACHED, Q_STAKE, TinyRaw, answer, survey_spec

SURVEY = "surveys/pact_survey_2022.xlsx"


def tables(curated: Path) -> dict:
    return {name: pq.read_table(curated / "current" / f"{name}.parquet").to_pandas()
            for name in ("facts", "rejects", "submissions")}


def member_values(facts, member: str = "PFS-000001") -> dict[str, int]:
    mine = facts[facts["member_id"] == member]
    return dict(zip(mine["indicator"], mine["value"].tolist(), strict=True))


def rejects_by_column(rejects) -> dict[str, tuple]:
    return {r.column: (r.sheet, r.row, r.reason_code, r.value, r.reason) for r in rejects.itertuples()}


def test_formulas_and_error_values_in_mapped_cells_are_rejected(raw_tree: TinyRaw, tmp_path):
    raw_tree.write_survey(2022, [
        answer(people=Formula("=1+1", 2), programmes=Formula("=1/0", "#DIV/0!"), invest=Formula("=B5*0", 0),
               reached=500, stakeholders=3),
    ])
    got = tables(tmp_path / "curated") if pipelines.run(raw_tree.root, tmp_path / "curated") else None
    assert member_values(got["facts"]) == {"people_reached": 500, "stakeholders_joined": 3,
                                           "commitments_reported": 1, "commitments_progressing": 1}
    rejects = rejects_by_column(got["rejects"])
    sheet, row, code, value, reason = rejects[Q_PEOPLE]
    assert (sheet, row, code, value) == ("Content", 5, "formula", "=1+1")
    assert "'=1+1'" in reason and "'2'" in reason and "typed, not computed" in reason
    assert rejects[Q_PROGRAMMES][2:4] == ("formula", "=1/0")
    assert rejects[Q_INVEST][2:4] == ("formula", "=B5*0")
    assert got["submissions"].loc[0, "status"] == "accepted"  # a bad value rejects that value only


def test_an_excel_error_value_and_a_formula_without_cached_value_are_rejected(raw_tree: TinyRaw, tmp_path):
    path = raw_tree.write_survey(2022, [answer(people=100, programmes=2, reached=500, stakeholders=3)])
    book = openpyxl.load_workbook(path)  # a copy edited by hand: openpyxl keeps no cached results
    sheet = book["Content"]
    sheet.cell(row=5, column=HEADER.index(Q_PEOPLE) + 1, value="#VALUE!")  # an error value
    sheet.cell(row=5, column=HEADER.index(Q_REACHED) + 1, value="=SUM(D5:E5)")
    sheet.cell(row=5, column=HEADER.index(Q_STAKE) + 1, value="#N/A")
    book.save(path)
    pipelines.run(raw_tree.root, tmp_path / "curated")
    got = tables(tmp_path / "curated")
    rejects = rejects_by_column(got["rejects"])
    assert rejects[Q_PEOPLE][2:4] == ("spreadsheet_error", "#VALUE!")
    assert rejects[Q_STAKE][2:4] == ("spreadsheet_error", "#N/A")
    assert rejects[Q_REACHED][2:4] == ("formula", "=SUM(D5:E5)")
    assert "#VALUE!" in rejects[Q_PEOPLE][4]
    assert member_values(got["facts"])["training_programmes"] == 2


@pytest.mark.parametrize(("separator", "typed", "expected"), [
    (".", "38.000", None), (".", "38,000", 38_000), (".", "1.500", None), (".", "12.5", None),
    (",", "38,000", None), (",", "38.000", 38_000), (",", "1.5", None),
])
def test_a_number_ambiguous_in_its_waves_locale_is_rejected(raw_tree: TinyRaw, tmp_path, separator, typed, expected):
    spec = survey_spec(2022, number_format={"decimal_separator": separator})
    raw_tree.write_survey(2022, [answer(people=typed)], spec=spec)
    pipelines.run(raw_tree.root, tmp_path / "curated")
    got = tables(tmp_path / "curated")
    assert member_values(got["facts"]).get("people_trained") == expected
    if expected is None:
        (code, value, reason) = rejects_by_column(got["rejects"])[Q_PEOPLE][2:]
        if typed.count(separator) == 1 and len(typed.split(separator)[1]) == 3:
            assert code == "ambiguous_number" and value == typed
            assert "neither reading is taken" in reason and f"{int(typed.replace(separator, '')):,}" in reason
        else:
            assert code in ("not_a_number", "not_whole")  # 12.5 people, 1,5 people in a comma wave: not whole


def test_money_with_three_decimals_is_ambiguous_too(raw_tree: TinyRaw, tmp_path):
    raw_tree.write_survey(2022, [answer(invest="2.500")])
    pipelines.run(raw_tree.root, tmp_path / "curated")
    got = tables(tmp_path / "curated")
    assert rejects_by_column(got["rejects"])[Q_INVEST][2] == "ambiguous_number"
    assert "investment_eur" not in member_values(got["facts"])


def _digest(root: Path) -> str:
    digest = hashlib.sha256()
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        digest.update(path.relative_to(root).as_posix().encode() + path.read_bytes())
    return digest.hexdigest()


@pytest.mark.parametrize("cell", ["XFD1048576", "A1048576", "ZZ5"])
def test_a_stray_space_far_beyond_the_data_is_ignored_with_a_warning(raw_tree: TinyRaw, tmp_path, caplog, cell):
    path = raw_tree.write_survey(2022, [answer(), answer(member_id="PFS-000002", org="Beta", country="IT", cid="c-2",
                                                         people=40)])
    book = openpyxl.load_workbook(path)
    book["Content"][cell] = " "
    book.save(path)
    raw_before = _digest(raw_tree.root)
    with caplog.at_level(logging.WARNING, logger="pipelines"):
        result = pipelines.run(raw_tree.root, tmp_path / "curated")
    assert result.status == "ok"
    got = tables(tmp_path / "curated")
    assert len(got["submissions"]) == 2, "the stray cell is not a contribution"
    assert member_values(got["facts"])["people_trained"] == 100
    assert member_values(got["facts"], "PFS-000002")["people_trained"] == 40
    warned = " ".join(r.getMessage() for r in caplog.records if r.levelno == logging.WARNING)
    assert cell in warned and "pact_survey_2022.xlsx" in warned
    assert _digest(raw_tree.root) == raw_before


def test_data_far_beyond_the_header_stops_the_run_naming_the_row(raw_tree: TinyRaw, tmp_path):
    path = raw_tree.write_survey(2022, [answer()])
    book = openpyxl.load_workbook(path)
    book["Content"]["XFD5"] = "surprise"
    book.save(path)
    with pytest.raises(pipelines.PipelineError) as err:
        pipelines.run(raw_tree.root, tmp_path / "curated")
    assert str(err.value).startswith(f"{SURVEY}, sheet 'Content', row 5: a cell holds data beyond the last column")
    assert not (tmp_path / "curated" / "current").exists()


def test_a_sheet_that_declares_a_small_extent_but_reaches_far_is_still_bounded(raw_tree: TinyRaw, tmp_path):
    """The declared <dimension> is not trusted: python-calamine allocates by the cells it finds."""
    path = raw_tree.write_survey(2022, [answer()])
    book = openpyxl.load_workbook(path)
    book["Content"]["XFD1048576"] = " "
    book.save(path)
    with zipfile.ZipFile(path) as archive:
        parts = {item.filename: archive.read(item.filename) for item in archive.infolist()}
    sheet = "xl/worksheets/sheet1.xml"
    parts[sheet] = re.sub(rb'<dimension ref="[^"]*"/>', b'<dimension ref="A1:Q5"/>', parts[sheet])
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in parts.items():
            archive.writestr(name, data)
    assert b'<dimension ref="A1:Q5"/>' in zipfile.ZipFile(path).read(sheet)
    assert pipelines.run(raw_tree.root, tmp_path / "curated").status == "ok"
    assert member_values(tables(tmp_path / "curated")["facts"])["people_trained"] == 100


def _sheet_xml(refs: list[str]) -> bytes:
    return b"".join(f'<row r="{r.lstrip("ABCDEFGHIJKLMNOPQRSTUVWXYZ")}"><c r="{r}"><v>1</v></c></row>'.encode()
                    for r in refs)


def test_a_tall_table_is_read_whole_but_a_stray_cell_below_a_small_one_is_not(monkeypatch):
    """A sheet reaches past MAX_SHEET_ROWS only with as many cells as rows (the 100x registry's commitments)."""
    tall = [f"A{n}" for n in range(1, readers.MAX_SHEET_ROWS + 50_001)]
    assert readers._within_bounds(_sheet_xml(tall))
    assert not readers._within_bounds(_sheet_xml([*tall[:10], f"A{readers.MAX_SHEET_ROWS + 1}"]))
    assert not readers._within_bounds(_sheet_xml([*tall, f"A{2 * len(tall)}"]))
    assert not readers._within_bounds(_sheet_xml(["A1", "AAA2"]))
    # ... and only a narrow one: a tall sheet reaching column AA could ask for a rectangle of 702 columns.
    assert not readers._within_bounds(_sheet_xml([*tall, "AA3"]))
    # ... never past Excel's last row, however many cells it holds.
    monkeypatch.setattr(readers, "EXCEL_ROWS", len(tall) - 1)
    assert not readers._within_bounds(_sheet_xml(tall))


@pytest.mark.parametrize("bound", [1, 9, 10, 99, 100, 909, 1000, 400_000, 656_657, 1_048_576])
def test_the_row_bound_pattern_matches_exactly_the_numbers_above_it(bound):
    pattern = re.compile(readers._greater_than(bound) + "$")
    numbers = [*range(0, 2_000), *range(max(0, bound - 2_000), bound + 2_000), 10 * bound, 10 * bound + 7]
    assert [n for n in numbers if pattern.match(str(n))] == [n for n in numbers if n > bound]


_XML_BITS = [b' r="', b" r='", b'"', b"'", b"<c", b"<f>", b"<f/>", b"<fx", b"A", b"AA", b"AAA", b"XFD", b"0", b"00",
             b"1", b"4", b"400000", b"400001", b"1048576", b"9999999", b"\xc3", b"\xa9", b"\xff", b"\n", b" ",
             b's="0"']


@settings(max_examples=400, deadline=None)
@given(st.lists(st.sampled_from(_XML_BITS), max_size=14))
def test_the_sheet_searches_find_what_python_re_finds(bits):
    """The bounds and formula searches run on RE2 (through Arrow) for speed: over any bytes, odd ones included, they
    find exactly what Python's bytes patterns find."""
    part = b"".join(bits)
    for pattern in (readers._out_of_bounds(readers.MAX_SHEET_ROWS), readers._out_of_bounds(656_657, letters=2),
                    readers._FORMULA.pattern):
        assert readers._found(part, pattern) == (re.search(pattern, part) is not None), (pattern, part)


def _rewrite_sheet(path: Path, edit) -> None:
    """The workbook at `path` with its first worksheet's XML passed through `edit`, as a hand-made file would be."""
    with zipfile.ZipFile(path) as archive:
        parts = {item.filename: archive.read(item.filename) for item in archive.infolist()}
    parts["xl/worksheets/sheet1.xml"] = edit(parts["xl/worksheets/sheet1.xml"])
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in parts.items():
            archive.writestr(name, data)


@pytest.mark.parametrize("reference", ['s="0" r="XFD1048576"', "r='XFD1048576'", 's="0" r=\'A900000\''])
def test_a_far_reference_is_found_wherever_its_attribute_stands(reference):
    """XML lets a cell's attributes come in any order and in either quote; python-calamine reads them all."""
    near = f'<row r="1"><c r="A1"><v>1</v></c></row><row r="2"><c {reference}><v>1</v></c></row>'.encode()
    assert not readers._within_bounds(near)
    assert readers._within_bounds(near.replace(reference.encode(), b's="0" r="B2"'))


def test_a_stray_cell_written_with_its_style_first_is_still_bounded(raw_tree: TinyRaw, tmp_path, caplog):
    """A cell of row 5 whose own reference is XFD1048576: only the cell's reference says how far the sheet reaches,
    and it does not come first among the cell's attributes (read unbounded, it asks for 17 billion cells)."""
    path = raw_tree.write_survey(2022, [answer()])
    book = openpyxl.load_workbook(path)
    book["Content"]["XFD5"] = " "
    book.save(path)
    _rewrite_sheet(path, lambda xml: xml.replace(b'<c r="XFD5"', b'<c s="0" r=\'XFD1048576\''))
    with caplog.at_level(logging.WARNING, logger="pipelines"):
        assert pipelines.run(raw_tree.root, tmp_path / "curated").status == "ok"
    assert member_values(tables(tmp_path / "curated")["facts"])["people_trained"] == 100
    warned = " ".join(r.getMessage() for r in caplog.records)
    assert "ignored 1 cell(s) holding only spaces far beyond the data" in warned  # read cell by cell, in its row


_STRICT = {b"http://schemas.openxmlformats.org/spreadsheetml/2006/main": b"http://purl.oclc.org/ooxml/spreadsheetml/main",
           b"http://schemas.openxmlformats.org/officeDocument/2006/relationships":
               b"http://purl.oclc.org/ooxml/officeDocument/relationships"}


def _prefixed(xml: bytes) -> bytes:
    """The worksheet's elements under the prefix `x:`, as the .NET Open XML SDK writes them."""
    xml = xml.replace(b'xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"',
                      b'xmlns:x="http://schemas.openxmlformats.org/spreadsheetml/2006/main"')
    return re.sub(rb"<(/?)(?![?!])([A-Za-z]+)([ >/])", rb"<\1x:\2\3", xml)


def _strict(path: Path) -> None:
    """The workbook saved as "Strict Open XML": every part in the strict namespaces."""
    with zipfile.ZipFile(path) as archive:
        parts = {item.filename: archive.read(item.filename) for item in archive.infolist()}
    for name, data in parts.items():
        for transitional, strict in _STRICT.items():
            data = data.replace(transitional, strict)
        parts[name] = data
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in parts.items():
            archive.writestr(name, data)


@pytest.mark.parametrize("layout", ["prefixed", "strict"])
def test_formulas_are_rejected_in_prefixed_and_strict_workbooks(raw_tree: TinyRaw, tmp_path, layout):
    path = raw_tree.write_survey(2022, [answer(people=Formula("=1+1", 2), reached=500, stakeholders=3)])
    if layout == "prefixed":
        _rewrite_sheet(path, _prefixed)
        assert b"<x:f>" in zipfile.ZipFile(path).read("xl/worksheets/sheet1.xml")
    else:
        _strict(path)
    pipelines.run(raw_tree.root, tmp_path / "curated")
    got = tables(tmp_path / "curated")
    assert "people_trained" not in member_values(got["facts"])
    assert rejects_by_column(got["rejects"])[Q_PEOPLE][:4] == ("Content", 5, "formula", "=1+1")


def test_special_cells_are_found_with_their_attributes_in_any_order():
    xml = (b'<row r="5"><c t="n" r="B5"><f>1+1</f><v>2</v></c><c t="e" r="C5"><v>#DIV/0!</v></c>'
           b'<c r="D5" t="e"/><c r="E5" t="e"><v></v></c><c r="F5" t="inlineStr"><is><t>no # here</t></is></c></row>')
    assert readers.xlsx_special_cells(xml) == {(4, 1): ("formula", "=1+1"), (4, 2): ("error", "#DIV/0!")}
    # a sheet without any '#' has no error value: the error-typed cells without one stay blank, as calamine reads them
    assert readers.xlsx_special_cells(xml.replace(b"<v>#DIV/0!</v>", b"").replace(b"# ", b"")) == {
        (4, 1): ("formula", "=1+1")}


def test_a_sheet_that_inflates_to_more_than_it_declares_is_refused(raw_tree: TinyRaw, tmp_path):
    path = raw_tree.write_survey(2022, [answer()])
    data = bytearray(path.read_bytes())
    with zipfile.ZipFile(path) as archive:
        info = archive.getinfo("xl/worksheets/sheet1.xml")
    # the central directory's entry for the sheet: its uncompressed size at offset 24, now 100 bytes short
    entry = next(at for at in readers._all(bytes(data), b"PK\x01\x02")
                 if data[at + 46:at + 46 + len(info.filename)] == info.filename.encode())
    data[entry + 24:entry + 28] = (info.file_size - 100).to_bytes(4, "little")
    path.write_bytes(bytes(data))
    with pytest.raises(pipelines.PipelineError) as err:
        pipelines.run(raw_tree.root, tmp_path / "curated")
    message = str(err.value)
    assert message.startswith(f"{SURVEY}, sheet 'Content'") and "xl/worksheets/sheet1.xml" in message
    assert "declared" in message
    assert not (tmp_path / "curated" / "current").exists()


def test_a_sheet_part_whose_compressed_bytes_are_damaged_stops_the_run_naming_the_part(raw_tree: TinyRaw, tmp_path):
    path = raw_tree.write_survey(2022, [answer()])
    content = bytearray(path.read_bytes())
    info = zipfile.ZipFile(path).getinfo("xl/worksheets/sheet1.xml")
    name_length, extra_length = struct.unpack("<HH", content[info.header_offset + 26:info.header_offset + 30])
    data = info.header_offset + 30 + name_length + extra_length  # where the part's compressed bytes start
    content[data:data + 8] = b"\xff" * 8  # the deflate stream's first block: an invalid block type
    path.write_bytes(bytes(content))
    with pytest.raises(pipelines.PipelineError) as err:
        pipelines.run(raw_tree.root, tmp_path / "curated")
    assert str(err.value).startswith(f"{SURVEY}, sheet 'Content': cannot unzip the sheet's part "
                                     "xl/worksheets/sheet1.xml: xl/worksheets/sheet1.xml cannot be inflated"), err.value
    assert not (tmp_path / "curated" / "current").exists()


def test_an_empty_header_row_is_named():
    with pytest.raises(pipelines.PipelineError) as err:
        readers._under_header("surveys/s.xlsx", "Content", 3, [["Alias", "A"], ["Export Date", ""], ["", ""], ["Q", ""]])
    assert str(err.value) == "surveys/s.xlsx, sheet 'Content', row 3: the header row is empty"

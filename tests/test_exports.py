"""The pure export builders, read back with real readers (csv, openpyxl, zipfile)."""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
import zipfile

import openpyxl
import pandas as pd
import plotly.graph_objects as go
import pytest

from dashboard.exports import (
    Column,
    Definition,
    ExportMeta,
    ExportTable,
    InputFile,
    export_filename,
    figure_for_export,
    neutralise,
    to_csv_bytes,
    to_xlsx_bytes,
    zip_bytes,
)

HOSTILE = ['=HYPERLINK("http://x","y")', "@SUM(A1)", "+1+2", "-2+3", "\tcmd", "\r=1", "\n=1",
           # full-width forms and the minus sign, and a formula start after leading blanks of any width
           "\uff1dHYPERLINK(\"http://x\")", "\uff0b1+2", "\uff0d2+3", "\uff20SUM(A1)", "\u22122+3", " =1+1",
           "\u00a0=1+1", "\u3000\uff1d1+1"]


def _meta(**overrides) -> ExportMeta:
    values = dict(
        view="Explore - chart",
        title="People up-/reskilled by member, 2022–2024",
        subtitle="EU total counts each member once",
        indicator="people_trained",
        breakdown="member",
        years=(2022, 2024),
        vintage_id="20250101T000000Z-abc123",
        vintage_created="2025-01-01T00:00:00+00:00",
        synthetic=True,
        permalink="http://127.0.0.1:8050/explore?indicator=people_trained&by=member&vintage=20250101T000000Z-abc123",
        filters=(("Indicator", "People up-/reskilled"), ("Member State", "Ελλάδα (EL)")),
        waves=(2022, 2023, 2024),
        definitions=(Definition("people_trained", "People up-/reskilled", "people",
                                "People who took part in up- or reskilling.", "each member counted once"),),
        inputs=(InputFile("data/raw/surveys/pact_survey_2022.xlsx", "survey", "a" * 64, 470,
                          "Pact survey 2022", "European Commission", "2023-04-01", "https://example.eu/s"),),
        flags=("s", "n"),
        notes=("Figures across partnerships are not additive.",),
        coverage="reported by 3 of 3 members",
        exported_at=dt.datetime(2025, 5, 1, 12, 0, tzinfo=dt.UTC),
    )
    values.update(overrides)
    return ExportMeta(**values)


def _table() -> ExportTable:
    frame = pd.DataFrame({
        "year": pd.array([2022, 2023, 2024] + [2024] * len(HOSTILE), dtype="Int16"),
        "member": ["Société Générale d'Études", "Øresund Kommune", "Ελληνική Εταιρεία", *HOSTILE],
        "value": pd.array([2_000_000, 1_500_000, None, *range(1, len(HOSTILE) + 1)], dtype="Int64"),
        "investment": [160_000_000.0, 150_000_000.5, float("nan")] + [0.25] * len(HOSTILE),
        "share": [90.0, 87.5, None] + [1.0] * len(HOSTILE),
        "published": [True, False, None] + [False] * len(HOSTILE),
        "flags": ["s", "s n", "s b"] + ["s"] * len(HOSTILE),
    })
    columns = (
        Column("year", "Year", "integer"),
        Column("member", "Member"),
        Column("value", "People up-/reskilled (people)", "integer"),
        Column("investment", "Investment (EUR)", "euro"),
        Column("share", "Commitments progressing (%)", "percent"),
        Column("published", "Equals published figure", "boolean"),
        Column("flags", "Flags", "flags"),
    )
    return ExportTable(frame, columns, _meta())


@pytest.mark.parametrize("text", HOSTILE)
def test_neutralise_prefixes_formula_starters(text):
    assert neutralise(text) == "'" + text


@pytest.mark.parametrize("text", ["Agri-food", "1,500", "EL", "", "e=mc2", "'quoted"])
def test_neutralise_leaves_ordinary_text(text):
    assert neutralise(text) == text


def test_csv_has_bom_units_typed_numbers_and_inert_names():
    table = _table()
    data = to_csv_bytes(table)
    assert data.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(data.decode("utf-8-sig"), newline="")))
    assert rows[0] == ["Year", "Member", "People up-/reskilled (people)", "Investment (EUR)",
                       "Commitments progressing (%)", "Equals published figure", "Flags"]
    assert rows[1] == ["2022", "Société Générale d'Études", "2000000", "160000000.00", "90", "TRUE", "s"]
    assert rows[2] == ["2023", "Øresund Kommune", "1500000", "150000000.50", "87.5", "FALSE", "s n"]
    # Missing values are empty cells, not "nan" / "<NA>".
    assert rows[3] == ["2024", "Ελληνική Εταιρεία", "", "", "", "", "s b"]
    members = [r[1] for r in rows[4:]]
    assert members == ["'" + h for h in HOSTILE]
    assert all(not m.startswith(("=", "+", "-", "@", "\t", "\r")) for m in members)
    # Numbers equal the frame's exactly.
    assert [int(r[2]) for r in rows[4:]] == table.frame["value"].iloc[3:].astype(int).tolist()
    assert len(rows) == len(table.frame) + 1


def test_xlsx_sheets_typed_numbers_frozen_header_and_inert_names():
    table = _table()
    book = openpyxl.load_workbook(io.BytesIO(to_xlsx_bytes(table)))
    assert book.sheetnames == ["Data", "Definitions", "Sources", "Filters"]
    ws = book["Data"]
    assert [c.value for c in ws[1]] == [c.header for c in table.columns]
    assert ws.freeze_panes == "A2"
    assert ws.auto_filter.ref == f"A1:G{1 + 3 + len(HOSTILE)}"
    assert ws["C2"].value == 2_000_000 and ws["C2"].data_type == "n"
    assert ws["C2"].number_format == "#,##0"
    assert ws["D3"].value == pytest.approx(150_000_000.5) and ws["D3"].number_format == "#,##0.00"
    assert ws["E3"].value == pytest.approx(87.5)
    assert ws["F2"].value is True and ws["F3"].value is False
    assert ws["C4"].value is None and ws["D4"].value is None
    assert ws["G3"].value == "s n"
    # openpyxl hands back a carriage return in its OOXML escaped form.
    members = [ws.cell(row=r, column=2).value.replace("_x000D_", "\r") for r in range(5, 5 + len(HOSTILE))]
    assert members == ["'" + h for h in HOSTILE]
    for r in range(1, ws.max_row + 1):
        for cell in ws[r]:
            assert cell.data_type != "f", f"{cell.coordinate} is a formula: {cell.value!r}"
    assert [ws.cell(row=r, column=3).value for r in range(5, 5 + len(HOSTILE))] == list(range(1, len(HOSTILE) + 1))
    # Columns are wide enough for their header or values (xlsxwriter writes explicit widths).
    assert ws.column_dimensions["B"].width >= len("Société Générale d'Études")


def test_xlsx_metadata_sheets_say_where_numbers_come_from():
    book = openpyxl.load_workbook(io.BytesIO(to_xlsx_bytes(_table())))
    definitions = [[c.value for c in row] for row in book["Definitions"].iter_rows()]
    assert definitions[0] == ["Indicator", "Label", "Unit", "Definition", "Counting rule"]
    assert definitions[1][:3] == ["people_trained", "People up-/reskilled", "people"]
    flat = [v for row in definitions for v in row if v]
    assert "Flags" in flat and "s" in flat and "n" in flat
    assert "Figures across partnerships are not additive." in flat

    sources = {row[0].value: row[1].value for row in book["Sources"].iter_rows() if row[0].value}
    assert sources["Data vintage"] == "20250101T000000Z-abc123"
    assert sources["Survey waves"] == "2022, 2023, 2024"
    assert sources["Synthetic sample"].startswith("yes")
    file_rows = [[c.value for c in row] for row in book["Sources"].iter_rows()
                 if row[0].value == "data/raw/surveys/pact_survey_2022.xlsx"]
    assert file_rows[0][1:8] == ["survey", "Pact survey 2022", "European Commission", "2023-04-01", 470, "a" * 64,
                                 "https://example.eu/s"]

    filters = {row[0].value: row[1] for row in book["Filters"].iter_rows() if row[0].value}
    assert filters["Member State"].value == "Ελλάδα (EL)"
    assert filters["Permalink"].value == _meta().permalink
    assert filters["Permalink"].hyperlink.target == _meta().permalink
    assert filters["Data vintage"].value == "20250101T000000Z-abc123"


def test_xlsx_neutralises_hostile_metadata_too():
    meta = _meta(filters=(("Partnership", "=cmd|' /C calc'!A0"),), permalink="=HYPERLINK(\"http://x\")")
    table = ExportTable(_table().frame, _table().columns, meta)
    book = openpyxl.load_workbook(io.BytesIO(to_xlsx_bytes(table)))
    for ws in book.worksheets:
        for row in ws.iter_rows():
            for cell in row:
                assert cell.data_type != "f"
                if isinstance(cell.value, str):
                    assert not cell.value.startswith(("=", "+", "-", "@", "\t", "\r")), (ws.title, cell.value)
    filters = {row[0].value: row[1].value for row in book["Filters"].iter_rows() if row[0].value}
    assert filters["Partnership"] == "'=cmd|' /C calc'!A0"
    assert filters["Permalink"] == "'=HYPERLINK(\"http://x\")"


def test_xlsx_several_views_in_one_workbook():
    first, second = _table(), _table()
    book = openpyxl.load_workbook(io.BytesIO(to_xlsx_bytes([first, second], sheet_names=["KPIs", "Cumulative"])))
    assert book.sheetnames == ["KPIs", "Cumulative", "Definitions", "Sources", "Filters"]
    assert book["Cumulative"]["C2"].value == 2_000_000
    book = openpyxl.load_workbook(io.BytesIO(to_xlsx_bytes([first, second], sheet_names=["sources", "Sources"])))
    assert book.sheetnames == ["Data sources", "Data Data Sources", "Definitions", "Sources", "Filters"]


def test_export_table_rejects_unknown_columns():
    with pytest.raises(ValueError, match="nope"):
        ExportTable(pd.DataFrame({"a": [1]}), (Column("nope", "Nope"),), _meta())


def test_file_names_carry_indicator_breakdown_years_and_vintage():
    meta = _meta(filters=())
    assert export_filename(meta, "csv") == "pact_people-trained_by-member_2022-2024_20250101t000000z-abc123.csv"
    assert export_filename(_meta(years=(2024, 2024), breakdown=None, filters=()), "xlsx", part="chart") == (
        "pact_people-trained_2024_chart_20250101t000000z-abc123.xlsx")
    assert export_filename(_meta(slug="progress-pace", indicator="people_trained", breakdown=None, filters=()),
                           "png") == "pact_progress-pace_2022-2024_20250101t000000z-abc123.png"
    hostile = _meta(indicator="../../etc/passwd", vintage_id="a/b\\c")
    name = export_filename(hostile, "png")
    assert "/" not in name and "\\" not in name and ".." not in name


def test_figure_for_export_carries_title_subtitle_source_and_flags():
    fig = go.Figure(go.Bar(x=["2022", "2023"], y=[2, 1.5]))
    out = figure_for_export(fig, _meta(title="People <trained>"))
    assert "People &lt;trained&gt;" in out.layout.title.text
    assert "Ελλάδα (EL)" in out.layout.title.subtitle.text
    assert "EU total counts each member once" in out.layout.title.subtitle.text
    credit = out.layout.annotations[-1].text
    assert "Source: Pact for Skills annual member survey 2022–2024" in credit
    assert "data vintage 20250101T000000Z-abc123" in credit
    assert "SYNTHETIC SAMPLE" in credit
    assert "Flag s = synthetic sample" in credit and "Flag n = not published" in credit
    assert "Coverage: reported by 3 of 3 members." in credit
    assert len(fig.layout.annotations) == 0, "the on-screen figure must not be changed"


def test_figure_for_export_keeps_the_on_screen_title_and_subtitle():
    fig = go.Figure(go.Bar(x=["a"], y=[1]), layout={
        "title": {"text": "Members over time", "subtitle": {"text": "Registry and published counts"}},
        "margin": {"b": 110}, "height": 900})
    out = figure_for_export(fig, _meta(subtitle="", filters=()))
    assert out.layout.title.text == "<b>Members over time</b>"
    assert out.layout.title.subtitle.text == "Registry and published counts"
    # The credit block gets room below the figure's own bottom margin (legends live there).
    assert out.layout.margin.b > 110 and out.layout.height > 900


def test_two_views_with_different_filters_never_share_a_file_name():
    """The filters the name does not already carry (indicator, breakdown, years) are in it, readable and with a
    digest, so a download of Greece and one of Germany never overwrite each other."""
    greece = export_filename(_meta(), "csv")  # filters: the indicator (already named) and Member State EL
    germany = export_filename(_meta(filters=(("Indicator", "People up-/reskilled"), ("Member State", "Germany (DE)"))),
                              "csv")
    assert greece.startswith("pact_people-trained_by-member_2022-2024_el-") and greece.endswith(
        "_20250101t000000z-abc123.csv")
    assert germany.startswith("pact_people-trained_by-member_2022-2024_germany-de-")
    assert greece != germany
    long = export_filename(_meta(filters=(("Member State", "Belgium (BE), Bulgaria (BG), Czechia (CZ), Denmark (DK), "
                                                           "Germany (DE)"),)), "csv")
    assert len(long) <= 120 and re.fullmatch(r"[a-z0-9._-]+", long)


def test_zip_holds_files_in_order():
    data = zip_bytes({"a/briefing.docx": b"x" * 100, "data.xlsx": b"yz"})
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        assert archive.namelist() == ["a/briefing.docx", "data.xlsx"]
        assert archive.read("data.xlsx") == b"yz"
        assert archive.testzip() is None
    with pytest.raises(ValueError, match="unsafe"):
        zip_bytes({"../evil": b""})

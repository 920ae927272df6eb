"""Page exports end to end: the real query layer over curated Parquet, every file read back with a real reader.

Two data sets: the bundled sample run through the real pipeline (published figures, the briefing pack), and the
dashboard's tiny fixture snapshot with hostile text planted in fields members type (member type, partnership
name), to prove every export writes them inert.
"""

from __future__ import annotations

import csv
import io
import shutil
import zipfile
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import docx
import openpyxl
import pandas as pd
import pyarrow as pa
import pytest
import yaml

from dashboard import data
from dashboard.export_views import PAGE_PATHS, pack_bytes, page_export, query_from_args
from dashboard.exports import figure_for_export, to_csv_bytes, to_xlsx_bytes
from tests.dashboard_fixtures import fixture_tables, write_curated_snapshot

REPO = Path(__file__).resolve().parents[1]
BASE = "http://127.0.0.1:8050"
HOSTILE_TYPE = '=HYPERLINK("http://x","y")'
HOSTILE_PARTNERSHIP = "@SUM(A1)"
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


@pytest.fixture(scope="module")
def app():
    import dashboard.app

    return dashboard.app


@pytest.fixture(scope="module")
def sample_curated(sample_run):
    return sample_run.curated


@pytest.fixture
def on_sample(sample_curated, monkeypatch, app):
    monkeypatch.setenv(data.CURATED_ENV, str(sample_curated))
    data.reset()
    yield sample_curated
    data.reset()


@pytest.fixture(scope="module")
def hostile_curated(tmp_path_factory):
    tables = fixture_tables()
    members = tables["members"].to_pylist()
    for row in members:
        if row["member_id"] == "M002":
            row["member_type"] = HOSTILE_TYPE
    partnerships = tables["partnerships"].to_pylist()
    for row in partnerships:
        if row["partnership_id"] == "RSP-LOMB":
            row["name"] = HOSTILE_PARTNERSHIP
    changed = {
        "members": pa.Table.from_pylist(members, schema=tables["members"].schema),
        "partnerships": pa.Table.from_pylist(partnerships, schema=tables["partnerships"].schema),
    }
    curated = tmp_path_factory.mktemp("hostile") / "curated"
    write_curated_snapshot(curated, tables=changed)
    return curated


@pytest.fixture
def on_hostile(hostile_curated, monkeypatch, app):
    monkeypatch.setenv(data.CURATED_ENV, str(hostile_curated))
    data.reset()
    yield hostile_curated
    data.reset()


def _csv_rows(content: bytes) -> list[list[str]]:
    assert content.startswith(b"\xef\xbb\xbf")
    return list(csv.reader(io.StringIO(content.decode("utf-8-sig"), newline="")))


def _sheet_rows(content: bytes, sheet: str = "Data") -> list[list[object]]:
    book = openpyxl.load_workbook(io.BytesIO(content))
    return [[c.value for c in row] for row in book[sheet].iter_rows()]


def test_explore_files_equal_the_query_layer(on_sample):
    """The cross-table: the EU-27 row, then every Member State in protocol order; each year's figure and the
    range's equal the query layer's breakdown; ":" where a Member State has no figure, its flags saying why."""
    query = {"indicator": "people_trained", "by": "member_state", "from": "2023", "to": "2024",
             "ecosystem": ["CONS", "DIGI"]}
    export = page_export("explore", query, BASE)
    vintage = data.resolve_vintage(None).vintage
    selection = data.Filters(ecosystems=("CONS", "DIGI"))
    expected = data.breakdown(vintage, "people_trained", "member_state", 2023, 2024, selection)
    assert not expected.empty
    table = export.view("explore").table
    rows = _csv_rows(to_csv_bytes(table))
    header = rows[0]
    assert header[:6] == ["Member State code", "Member State", "2023 (people)", "2023 flags", "2024 (people)",
                          "2024 flags"]
    codes = [r[0] for r in rows[1:]]
    assert codes == ["EU27_2020", *(c for c, _ in data.dimensions(vintage).member_states)]
    in_range = header.index("2023–2024 (people)")
    by_code = {r[0]: r for r in rows[1:]}
    for key, value in zip(expected["key"], expected["value"], strict=True):
        assert int(by_code[key][in_range]) == int(value)
    for year in (2023, 2024):
        yearly = data.breakdown(vintage, "people_trained", "member_state", year, year, selection)
        column = header.index(f"{year} (people)")
        assert {r[0]: int(r[column]) for r in rows[2:] if r[column] != ":"} == dict(
            zip(yearly["key"], yearly["value"].astype(int), strict=True))
    total = data.yearly_totals(vintage, "people_trained", selection)
    assert int(by_code["EU27_2020"][header.index("2024 (people)")]) == int(total.set_index("year").loc[2024, "value"])
    assert all("m" in r[in_range + 1].split() for r in rows[2:] if r[0] not in set(expected["key"]))
    # A narrow selection leaves Member States with no figure: listed all the same, ":" and flagged m.
    narrow = page_export("explore", {**query, "ecosystem": "CONS", "type": "SME", "from": "2024"}, BASE)
    narrow_rows = _csv_rows(to_csv_bytes(narrow.view("explore").table))
    empty = [r for r in narrow_rows[2:] if r[2] == ":"]
    assert len(narrow_rows) == 29 and empty and all(r[3].split()[-1] == "m" for r in empty)
    sheet = _sheet_rows(to_xlsx_bytes(table))
    assert [r[in_range] for r in sheet[1:]] == [":" if r[in_range] == ":" else int(r[in_range]) for r in rows[1:]]
    filters = dict(r[:2] for r in _sheet_rows(to_xlsx_bytes(table), "Filters"))
    assert filters["Years"] == "2023–2024"
    assert "Construction (CONS)" in filters["Industrial ecosystem"]
    link = urlsplit(export.permalink)
    assert link.path == "/explore"
    assert parse_qs(link.query)["vintage"] == [vintage.vintage_id]


def test_explore_by_year_carries_coverage_and_published_figures(on_sample):
    export = page_export("explore", {"indicator": "training_programmes", "by": "year"}, BASE)
    frame = export.view("explore").table.frame
    assert list(frame["year"]) == [2022, 2023, 2024]
    assert list(frame["value"]) == [15_500, 32_500, 48_000]
    rows = _csv_rows(to_csv_bytes(export.view("explore").table))
    header = rows[0]
    assert header[1] == "Training programmes updated or developed (programmes)"
    assert [r[header.index("Computed vs published")] for r in rows[1:]] == list(frame["comparison"])
    assert all("s" in r[header.index("Flags")].split() for r in rows[1:])


def test_every_page_view_opens_in_every_format(on_sample):
    for page in PAGE_PATHS:
        export = page_export(page, {}, BASE)
        assert export.views, page
        for view in export.views:
            rows = _csv_rows(to_csv_bytes(view.table))
            assert len(rows) == len(view.table.frame) + 1, (page, view.key)
            sheet = _sheet_rows(to_xlsx_bytes(view.table))
            assert len(sheet) == len(view.table.frame) + 1, (page, view.key)
            numeric = [i for i, c in enumerate(view.table.columns) if c.kind in ("integer", "decimal", "euro")]
            for r in sheet[1:]:
                assert all(r[i] is None or isinstance(r[i], (int, float)) for i in numeric), (page, view.key, r)


def test_progress_pack_holds_the_published_figures_and_the_permalink(on_sample):
    export = page_export("progress", {}, BASE)
    name, content = pack_bytes(export)
    assert name.endswith("_briefing.zip") and export.vintage.vintage_id.lower() in name
    with zipfile.ZipFile(io.BytesIO(content)) as archive:
        names = archive.namelist()
        document = docx.Document(io.BytesIO(archive.read(next(n for n in names if n.endswith("briefing.docx")))))
        workbook = openpyxl.load_workbook(io.BytesIO(archive.read(next(n for n in names if n.endswith(".xlsx")))))
        pngs = [n for n in names if n.endswith(".png")]
    headline = {row.cells[0].text: [c.text.split(" [")[0] for c in row.cells[1:]]
                for row in document.tables[0].rows[1:]}
    assert [c.text for c in document.tables[0].rows[0].cells] == ["Indicator", "2022", "2023", "2024"]
    assert headline["People up-/reskilled (people)"] == ["2,000,000", "1,500,000", "2,600,000"]
    assert headline["Training programmes updated or developed (programmes)"] == ["15,500", "32,500", "48,000"]
    assert headline["Investment in up-/reskilling (EUR)"][:2] == ["€160,000,000", "€150,000,000"]
    assert headline["Stakeholders joined in partnerships (stakeholders)"][0] == "21,500"
    assert headline["People reached by promotion (people)"][0] == "19,000,000"
    assert headline["Commitments progressing (%)"][0] == "90.0%"
    text = "\n".join(p.text for p in document.paragraphs)
    assert ("2.6 million people trained in 2024, 73% above 2023 (the survey question changed in 2024, so the change "
            "may partly reflect the new wording).") in text  # the 2024 questions were reworded: a break in series
    assert "the over 25 million pledged by the partnerships is reached in 2034" in text
    # whose commitment the goal is, in the source's own words
    assert "“Together, all large-scale skills partnerships under the Pact have pledged to upskill and reskill over " \
           "25 million people by 2030.”" in text
    assert "2022: 461 survey respondents" in text
    links = {rel.target_ref for rel in document.part.rels.values() if rel.reltype.endswith("/hyperlink")}
    assert export.permalink in links
    assert workbook.sheetnames[:5] == ["kpis", "cumulative", "pace", "members", "partnerships"]
    if shutil.which("chromium"):
        assert len(pngs) == 4 and len(document.inline_shapes) == 4
    # The permalink reproduces the view: same vintage, same rows.
    again = page_export("progress", query_from_args(parse_qs(urlsplit(export.permalink).query)), BASE)
    assert again.vintage == export.vintage and again.permalink == export.permalink
    for first, second in zip(export.views, again.views, strict=True):
        pd.testing.assert_frame_equal(first.table.frame, second.table.frame)


def test_hostile_text_is_inert_in_every_export(on_hostile):
    hostile = (HOSTILE_TYPE, HOSTILE_PARTNERSHIP)
    checked = 0
    for page, query in (("explore", {"by": "member_type"}), ("explore", {"by": "partnership"}),
                        ("partnerships", {}), ("progress", {})):
        export = page_export(page, query, BASE)
        for view in export.views:
            text_columns = [i for i, c in enumerate(view.table.columns) if c.kind in ("text", "flags")]
            for row in _csv_rows(to_csv_bytes(view.table))[1:]:
                for cell in (row[i] for i in text_columns):
                    assert not cell.startswith(FORMULA_STARTS), (page, view.key, cell)
                    if cell.lstrip("'") in hostile:
                        assert cell == "'" + cell.lstrip("'")
                        checked += 1
            book = openpyxl.load_workbook(io.BytesIO(to_xlsx_bytes(view.table)))
            for ws in book.worksheets:
                for row in ws.iter_rows():
                    for cell in row:
                        assert cell.data_type != "f", (page, view.key, ws.title, cell.coordinate)
                        if cell.data_type == "s":
                            assert not cell.value.startswith(FORMULA_STARTS), (page, view.key, cell.value)
    # The hostile member type and partnership name really went through the exports.
    assert checked >= 3


def test_hostile_names_are_inert_in_the_briefing(on_hostile):
    _, content = pack_bytes(page_export("explore", {"by": "partnership"}, BASE),
                            render=lambda *a, **k: (_ for _ in ()).throw(RuntimeError("no images in this test")))
    with zipfile.ZipFile(io.BytesIO(content)) as archive:
        name = next(n for n in archive.namelist() if n.endswith("briefing.docx"))
        document = docx.Document(io.BytesIO(archive.read(name)))
    cells = [c.text for t in document.tables for row in t.rows for c in row.cells]
    assert "'" + HOSTILE_PARTNERSHIP in cells
    assert HOSTILE_PARTNERSHIP not in cells
    assert any("could not be drawn" in p.text for p in document.paragraphs)


def test_public_mode_exports_withhold_and_flag_small_cells(on_sample, monkeypatch):
    monkeypatch.setenv("PACT_PUBLIC", "1")
    data.reset()
    query = {"indicator": "people_trained", "by": "member_state", "ecosystem": "CONS", "type": "SME"}
    table = page_export("explore", query, BASE).view("explore").table
    vintage = data.resolve_vintage(None).vintage
    expected = data.breakdown(vintage, "people_trained", "member_state", 2022, 2024,
                              data.Filters(ecosystems=("CONS",), member_types=("SME",)))
    rows = _csv_rows(to_csv_bytes(table))
    header, rows = rows[0], {r[0]: r for r in rows[2:]}
    in_range = header.index("2022–2024 (people)")
    withheld = [r for r in rows.values() if "c" in r[in_range + 1].split()]
    assert withheld, "the sample has small cells for this selection"
    assert all(r[in_range] == ":" for r in withheld)
    for key, value in zip(expected["key"], expected["value"], strict=True):
        assert rows[key][in_range] == (":" if pd.isna(value) else str(int(value)))
    assert all("c" not in r[in_range + 1].split() for r in rows.values() if r[in_range] != ":")


def test_the_sources_sheet_names_the_publisher_and_source_of_every_input(on_sample):
    """Every sidecar has a publisher and its sources; the workbook's Sources sheet carries both for each file."""
    export = page_export("explore", {}, BASE)
    book = openpyxl.load_workbook(io.BytesIO(to_xlsx_bytes([v.table for v in export.views])))
    rows = [[c.value for c in row] for row in book["Sources"].iter_rows()]
    header = next(i for i, r in enumerate(rows) if r[:2] == ["File", "Kind"])
    assert rows[header][3] == "Publisher" and rows[header][7] == "Source URL"
    files = [r for r in rows[header + 1:] if r[0]]
    assert len(files) == 12
    raw = Path(__file__).resolve().parents[1] / "data" / "raw"
    for r in files:
        sidecar = yaml.safe_load((raw / f"{r[0].split('/')[0]}/{r[0].split('/')[1]}.source.yml").read_text())
        assert r[3] == sidecar["publisher"], r[0]
        assert (r[7] or "") == " ; ".join(sidecar.get("sources") or []), r[0]
    assert sum(1 for r in files if r[7]) == 11  # all but the team's own corrections file cite public pages


def test_chart_images_carry_every_flag_and_the_source_they_come_from(on_sample):
    """The cumulative chart's 2024 figure is across a break in series and published only as a derived figure: its
    image says so (b, d), as the headline card does; the members and partnerships charts credit the registry and
    the reference tables, not the survey."""
    views = {v.key: v for v in page_export("progress", {}, BASE).views}
    cumulative = views["cumulative"].table
    flags_2024 = cumulative.frame.set_index("year").loc[2024, "flags"].split()
    assert {"b", "d"} <= set(flags_2024) and {"b", "d"} <= set(cumulative.meta.flags)
    exported = figure_for_export(views["cumulative"].figure, cumulative.meta).to_json()
    assert "b = " in exported and "d = " in exported
    assert views["members"].table.meta.source_line.startswith("Source: Pact for Skills member registry")
    partnerships = views["partnerships"].table.meta
    assert "survey" not in partnerships.source_line and "SYNTHETIC" not in partnerships.source_line
    assert views["cumulative"].table.meta.source_line.startswith("Source: Pact for Skills annual member survey")


def test_a_partnerships_pack_names_the_benchmark_it_was_made_with(on_sample):
    export = page_export("partnerships", {"partnership": "LSP-CONS", "group": "kind",
                                          "indicator": "people_trained", "year": "2024"}, BASE)
    def no_chromium(*_args, **_kwargs) -> bytes:
        raise RuntimeError("charts are not drawn in this test")

    _name, content = pack_bytes(export, render=no_chromium)
    with zipfile.ZipFile(io.BytesIO(content)) as archive:
        document = docx.Document(io.BytesIO(archive.read(next(n for n in archive.namelist()
                                                              if n.endswith("briefing.docx")))))
    text = "\n".join(p.text for p in document.paragraphs)
    assert "Filters: none" not in text
    assert "Partnership: Construction" in text and "Year: 2024" in text
    # the first key point is about the benchmark the pack was made from, not an EU total
    points = [p.text for p in document.paragraphs if p.style.name == "List Bullet"]
    assert points[0].startswith("Construction") and "rank" in points[0] and "in 2024" in points[0]


def test_a_share_changes_in_points_in_every_export_as_on_the_page(on_sample):
    """The commitments share fell from 92% to 88%: the page says "-4 pts"; the exports say -4 percentage points,
    never a relative "-4.3%"."""
    kpis = next(v for v in page_export("progress", {"year": "2024"}, BASE).views if v.key == "kpis").table.frame
    share = kpis.set_index("indicator").loc["commitments_progressing_share"]
    assert pd.isna(share["change"])
    assert share["change_points"] == pytest.approx(share["value"] - share["previous"])
    people = kpis.set_index("indicator").loc["people_trained"]
    assert pd.isna(people["change_points"]) and people["change"] == pytest.approx(
        (people["value"] / people["previous"] - 1) * 100)

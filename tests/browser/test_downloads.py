"""Downloads in headless Chromium: the export links and the briefing-pack button deliver real files through the
browser's own download machinery (Playwright's download event), on the production server (gunicorn)."""

from __future__ import annotations

import csv
import io
import re
import zipfile

import docx
import openpyxl
import pytest

from tests.browser.conftest import WAIT_MS, PageProbe

pytestmark = pytest.mark.browser

PACK_WAIT_MS = 120_000  # the first pack in a worker starts Chromium for the charts


def _download(probe: PageProbe, locator, tmp_path, timeout: float = WAIT_MS):
    with probe.page.expect_download(timeout=timeout) as info:
        locator.click()
    download = info.value
    assert download.failure() is None
    target = tmp_path / download.suggested_filename
    download.save_as(target)
    return download.suggested_filename, target.read_bytes()


def test_csv_and_xlsx_links_follow_the_selection(app_page: PageProbe, tmp_path):
    page = app_page.page
    app_page.open("/explore?by=member_state")
    # Change the indicator on screen: the links must follow the new selection without a reload.
    page.select_option("#explore-indicator", "training_programmes")
    page.wait_for_url(re.compile(r"[?&]indicator=training_programmes(&|$)"), timeout=WAIT_MS)
    csv_link = page.get_by_role("link", name="Download this selection as CSV")
    csv_link.wait_for(timeout=WAIT_MS)
    page.wait_for_function(
        "() => document.querySelector('a[aria-label=\"Download this selection as CSV\"]')"
        ".getAttribute('href').includes('indicator=training_programmes')", timeout=WAIT_MS)

    name, content = _download(app_page, csv_link, tmp_path)
    assert name.startswith("pact_training-programmes_by-member-state_2022-2024_") and name.endswith(".csv")
    rows = list(csv.reader(io.StringIO(content.decode("utf-8-sig"), newline="")))
    # The cross-table: Member States × years, the range, the EU-27 row first; ":" where there is no figure.
    header = rows[0]
    assert header[:3] == ["Member State code", "Member State", "2022 (programmes)"]
    in_range = header.index("2022–2024 (programmes)")
    assert rows[1][0] == "EU27_2020" and len(rows) == 1 + 1 + 27  # header, EU-27, every Member State
    assert all(r[in_range].isdigit() or r[in_range] == ":" for r in rows[1:])

    name, content = _download(app_page, page.get_by_role("link", name="Download this selection as XLSX"), tmp_path)
    assert name.endswith(".xlsx")
    book = openpyxl.load_workbook(io.BytesIO(content))
    assert book.sheetnames == ["Data", "Definitions", "Sources", "Filters"]
    data_rows = list(book["Data"].iter_rows(min_row=2, values_only=True))
    eu_total = 48_000 + 32_500 + 15_500
    assert data_rows[0][in_range] == eu_total
    assert sum(r[in_range] for r in data_rows[1:] if isinstance(r[in_range], int | float)) == eu_total
    filters = {r[0].value: r[1].value for r in book["Filters"].iter_rows() if r[0].value}
    assert "indicator=training_programmes" in filters["Permalink"]
    app_page.assert_clean()


def test_chart_image_links_deliver_png_and_svg(app_page: PageProbe, tmp_path):
    page = app_page.page
    app_page.open("/")
    name, content = _download(app_page, page.get_by_role("link", name="Download the cumulative chart as SVG"),
                              tmp_path, timeout=PACK_WAIT_MS)
    assert name.endswith(".svg") and content.startswith(b"<svg")
    assert b"Cumulative people up-/reskilled" in content and b"data vintage" in content
    name, content = _download(app_page, page.get_by_role("link", name="Download the pace chart as PNG"), tmp_path,
                              timeout=PACK_WAIT_MS)
    assert name.endswith(".png") and content.startswith(b"\x89PNG")
    app_page.assert_clean()


def test_briefing_pack_button_delivers_the_pack(app_page: PageProbe, tmp_path):
    page = app_page.page
    app_page.open("/")
    button = page.get_by_role("button", name="Briefing pack (ZIP)")
    name, content = _download(app_page, button, tmp_path, timeout=PACK_WAIT_MS)
    assert name.startswith("pact_progress_2022-2024_") and name.endswith("_briefing.zip")
    status = page.get_by_role("status").filter(has_text="Briefing pack ready")
    status.wait_for(timeout=WAIT_MS)
    assert button.is_enabled()
    with zipfile.ZipFile(io.BytesIO(content)) as archive:
        names = archive.namelist()
        document = docx.Document(io.BytesIO(archive.read(next(n for n in names if n.endswith("briefing.docx")))))
    assert sum(n.endswith(".png") for n in names) == 4
    people = next(row for row in document.tables[0].rows if row.cells[0].text.startswith("People up-/reskilled"))
    assert [c.text.split(" [")[0] for c in people.cells[1:]] == ["2,000,000", "1,500,000", "2,600,000"]
    app_page.assert_clean()

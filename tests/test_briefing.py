"""Briefing sentences and the Word document, read back with python-docx."""

from __future__ import annotations

import datetime as dt
import io
import math
import re
import struct
import zipfile
import zlib
from pathlib import Path

import docx
import pytest

from dashboard import app as _app  # noqa: F401  (registers the pages and their exports)
from dashboard.briefing import (
    MIN_COLUMN_CM,
    Briefing,
    ChartImage,
    DataTable,
    HeadlineCell,
    HeadlineRow,
    build_docx,
    change_sentence,
    column_widths_cm,
    coverage_text,
    exact,
    humanise,
    share_sentence,
    short_span,
    target_sentence,
)

PERMALINK = "http://127.0.0.1:8050/?vintage=v20250101"


def _tiny_png() -> bytes:
    """A valid 2x2 PNG written by hand, so the test needs no image library."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    raw = b"".join(b"\x00" + b"\xff\x00\x00" * 2 for _ in range(2))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 2, 2, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))


@pytest.mark.parametrize(("value", "unit", "text"), [
    (2_600_000, "people", "2.6 million"),
    (2_000_000, "people", "2 million"),
    (15_500, "programmes", "15,500"),
    (160_000_000, "EUR", "€160 million"),
    (1_250_000_000, "EUR", "€1.3 billion"),
    (42_000, "", "42,000"),
])
def test_humanise(value, unit, text):
    assert humanise(value, unit) == text


def test_exact_and_spans():
    assert exact(2_000_000, "people") == "2,000,000"
    assert exact(150_000_000.5, "EUR") == "€150,000,000"
    assert exact(None) == "–" and exact(math.nan) == "–"
    assert exact(90.0, "%") == "90.0%"
    assert short_span(2022, 2024) == "2022–24" and short_span(2024, 2024) == "2024"
    assert short_span(1999, 2001) == "1999–2001"


def test_change_sentences_are_computed_from_the_figures():
    assert change_sentence("people_trained", "people", 2024, 2_600_000, 2023, 1_500_000) == (
        "2.6 million people trained in 2024, 73% above 2023.")
    assert change_sentence("people_trained", "people", 2023, 1_500_000, 2022, 2_000_000) == (
        "1.5 million people trained in 2023, 25% below 2022.")
    assert change_sentence("training_programmes", "programmes", 2024, 48_000, 2023, 32_500) == (
        "48,000 training programmes updated or developed in 2024, 48% above 2023.")
    assert change_sentence("investment_eur", "EUR", 2023, 150e6, 2022, 160e6) == (
        "€150 million invested in up- and reskilling in 2023, 6% below 2022.")
    assert change_sentence("people_reached", "people", 2022, 19e6, None, None) == (
        "19 million people reached by promotion in 2022.")
    assert change_sentence("people_trained", "people", 2024, None, 2023, 1.0) is None
    assert "no figure for 2023" in change_sentence("stakeholders_joined", "stakeholders", 2024, 42_000, 2023, None)


def test_share_sentence():
    assert share_sentence(2022, 0.9, None, None) == "90% of reported commitments progressing in 2022."
    assert share_sentence(2023, 0.85, 2022, 0.9) == (
        "85% of reported commitments progressing in 2023, 5 percentage points down on 2022.")


def test_target_sentences_follow_the_pace():
    # 6.1 M trained over 2022-24: 2.03 M a year; 18.9 M remain, 9.3 years at that pace -> during 2034.
    pace = 6_100_000 / 3
    text = target_sentence(people=25_000_000, qualifier="over", first_year=2022, latest_year=2024,
                           cumulative=6_100_000, achieved_pace=pace, projected_year=2024 + math.ceil(18.9e6 / pace),
                           deadline_year=2030, needed_pace=18_900_000 / 6)
    assert text == ("At the 2022–24 pace (2 million a year), the over 25 million pledged by the partnerships is "
                    "reached in 2034, 4 years after its 2030 deadline; reaching it by 2030 needs 3.2 million a year "
                    "from 2025.")
    text = target_sentence(people=10_000_000, qualifier="", first_year=2022, latest_year=2024, cumulative=6_100_000,
                           achieved_pace=pace, projected_year=2026, deadline_year=None, needed_pace=None,
                           pledge_text="“... over 10 million people in the coming years.”")
    assert text == ("At the 2022–24 pace (2 million a year), the 10 million pledged by the partnerships is reached in "
                    "2026 (the pledge has no deadline). The pledge as the source words it: “... over 10 million "
                    "people in the coming years.”")
    assert target_sentence(people=5_000_000, qualifier="", first_year=2022, latest_year=2024, cumulative=6_100_000,
                           achieved_pace=pace, projected_year=2024, deadline_year=None, needed_pace=None) == (
        "The 5 million pledged by the partnerships has been reached: 6.1 million people trained in 2022–2024.")


def test_coverage_text():
    assert coverage_text(455, 461, 1012) == "reported by 455 of 461 respondents (1,012 members registered)"


def _briefing(**overrides) -> Briefing:
    values = dict(
        title="Pact for Skills – Progress briefing",
        view="Progress",
        vintage_id="v20250101",
        permalink=PERMALINK,
        years=(2022, 2023, 2024),
        headline=(
            HeadlineRow("people_trained", "People up-/reskilled", "people", (
                HeadlineCell(2_000_000, "s", "2,000,000 (published)"),
                HeadlineCell(1_500_000, "s"), HeadlineCell(2_600_000, "s n"))),
            HeadlineRow("investment_eur", "Investment", "EUR", (
                HeadlineCell(160_000_000, "s"), HeadlineCell(150_000_000, "s"), HeadlineCell(None, "s n"))),
        ),
        sentences=("2.6 million people trained in 2024, 73% above 2023.",),
        coverage=("2022: reported by 455 of 461 respondents",),
        charts=(ChartImage("Cumulative people trained", _tiny_png(), "Source: test."),),
        tables=(DataTable("Members", ("Member", "People"), (('=HYPERLINK("http://x","y")', "12"),
                                                            ("Bad\x01name", "3"))),),
        filters=(("Ecosystem", "Agri-food"),),
        sources=(("Pact survey 2022", "https://example.eu/survey"), ("Registry", "data/raw/registry/x.xlsx")),
        notes=("An EU total counts each member once.",),
        flags=("s", "n"),
        synthetic=True,
        exported_at=dt.datetime(2025, 5, 1, 9, 30, tzinfo=dt.UTC),
    )
    values.update(overrides)
    return Briefing(**values)


def _text(document) -> str:
    parts = [p.text for p in document.paragraphs]
    for table in document.tables:
        for row in table.rows:
            parts.extend(cell.text for cell in row.cells)
    return "\n".join(parts)


def test_docx_holds_headline_sentences_chart_permalink_and_sources():
    document = docx.Document(io.BytesIO(build_docx(_briefing())))
    text = _text(document)
    assert "Pact for Skills – Progress briefing" in text
    assert "2.6 million people trained in 2024, 73% above 2023." in text
    assert "Synthetic sample" in text
    headline = document.tables[0]
    assert [c.text for c in headline.rows[0].cells] == ["Indicator", "2022", "2023", "2024"]
    assert [c.text for c in headline.rows[1].cells] == [
        "People up-/reskilled (people)", "2,000,000 [s]", "1,500,000 [s]", "2,600,000 [s n]"]
    assert [c.text for c in headline.rows[2].cells][3] == "– [s n]"
    assert "Published by the Commission: People up-/reskilled, 2022: 2,000,000 (published)." in text
    assert "2022: reported by 455 of 461 respondents" in text
    assert len(document.inline_shapes) == 1
    assert "Ecosystem: Agri-food" in text
    links = {rel.target_ref for rel in document.part.rels.values() if rel.reltype.endswith("/hyperlink")}
    assert links == {PERMALINK, "https://example.eu/survey"}
    assert "Flag [n]: not published" in text
    assert "data/raw/registry/x.xlsx" in text
    assert document.core_properties.comments == f"Data vintage v20250101; permalink {PERMALINK}"


def test_docx_table_text_is_inert_and_xml_safe():
    document = docx.Document(io.BytesIO(build_docx(_briefing())))
    members = [row.cells[0].text for row in document.tables[1].rows[1:]]
    assert members == ['\'=HYPERLINK("http://x","y")', "Badname"]


def test_docx_without_charts_says_why():
    document = docx.Document(io.BytesIO(build_docx(_briefing(charts=(), problems=("Charts could not be drawn.",)))))
    assert len(document.inline_shapes) == 0
    assert "Charts could not be drawn." in _text(document)


def test_screen_and_briefing_round_a_figure_the_same_way() -> None:
    from dashboard.briefing import humanise
    from dashboard.formatting import compact

    # 3.15 M is 3.149999... as a binary float; both must read it as a person does
    assert compact(3_150_000) == "3.2 M"
    assert humanise(3_150_000) == "3.2 million"
    assert compact(2_450_000) == "2.5 M" and humanise(2_450_000) == "2.5 million"


def test_a_change_across_a_break_in_series_carries_the_caveat():
    plain = change_sentence("people_trained", "people", 2024, 2_600_000, 2023, 1_500_000)
    caveated = change_sentence("people_trained", "people", 2024, 2_600_000, 2023, 1_500_000, break_in_series=True)
    assert caveated == plain[:-1] + " (the survey question changed in 2024, so the change may partly reflect the new " \
                                    "wording)."
    # no change stated, nothing to caveat
    assert change_sentence("people_trained", "people", 2024, 2_600_000, None, None, break_in_series=True) == (
        "2.6 million people trained in 2024.")


def test_no_change_on_a_page_or_in_a_pack_crosses_a_break_without_its_caveat(tmp_path, monkeypatch):
    """On the committed sample every indicator's question was reworded in 2024: the Progress cards, their text
    alternative and the briefing's key points all say so beside each change."""
    import json

    import plotly

    from dashboard import data, ui
    from dashboard.export_views import pack_bytes, page_export
    from pipelines.runner import run

    curated = tmp_path / "curated"
    run(Path(__file__).resolve().parents[1] / "data" / "raw", curated, progress=False)
    monkeypatch.setenv(data.CURATED_ENV, str(curated))
    data.reset()
    vintage = data.resolve_vintage(None).vintage
    kpis = data.kpis(vintage, 2024)
    broken = [k for k in kpis if k.flags.break_in_series and k.change is not None]
    assert broken, "the sample rewords its 2024 questions"
    for kpi in broken:
        card = json.dumps(ui.kpi_card(kpi), cls=plotly.utils.PlotlyJSONEncoder)
        assert "the survey question changed in 2024" in card
    summary = ui.kpi_summary(kpis)
    assert summary.count("on 2023; the survey question changed in 2024") == len(
        [k for k in broken if k.unit != "share"])
    _, pack = pack_bytes(page_export("progress", {}, ""), render=lambda *args, **kwargs: _tiny_png())
    with zipfile.ZipFile(io.BytesIO(pack)) as archive:
        name = next(n for n in archive.namelist() if n.endswith(".docx"))
        text = "\n".join(p.text for p in docx.Document(io.BytesIO(archive.read(name))).paragraphs)
    changes = [line for line in text.splitlines() if re.search(r"\d% (above|below) 20\d\d", line)]
    assert changes, "the key points state changes on the previous year"
    for line in changes:
        assert "the survey question changed in 2024" in line, line
    data.reset()


def test_the_briefing_is_a4_and_wide_tables_fit_on_landscape_pages_in_parts():
    ledger = DataTable(
        "Pledges and what members reported",
        ("Partnership", *[f"Column {i}" for i in range(1, 18)]),
        tuple((f"Regional skills partnership {n}", *["upskill 5% of the workforce each year by 2030"] * 2,
               *[f"{n * 1000:,}"] * 15) for n in range(1, 4)),
    )
    document = docx.Document(io.BytesIO(build_docx(_briefing(tables=(ledger,)))))
    first = document.sections[0]
    assert (round(first.page_width.cm, 1), round(first.page_height.cm, 1)) == (21.0, 29.7)
    landscape = [s for s in document.sections if s.page_width > s.page_height]
    assert len(landscape) == 1 and (round(landscape[0].page_width.cm, 1), round(landscape[0].page_height.cm, 1)) == (
        29.7, 21.0)
    assert document.sections[-1].page_width < document.sections[-1].page_height  # back to portrait after it
    parts = document.tables[1:]
    assert len(parts) == 3  # 18 columns: the name plus at most 8 others per part
    for part in parts:
        assert part.rows[0].cells[0].text == "Partnership"
        widths = [cell.width.cm for cell in part.rows[0].cells]
        assert min(widths) >= 1.5 and sum(widths) <= 25.7 + 0.01
    text = _text(document)
    assert "Part 1 of 3" in text and "Part 3 of 3" in text


def test_formatted_numbers_read_as_written_in_word_while_formulas_stay_inert():
    table = DataTable("Changes", ("Indicator", "Change"),
                      (("People", "-4.3"), ("Share", "−4 pts"), ("Investment", "€1,200"), ('=1+1', "+12%"),
                       ("+40% up-/reskilling participation by 2025", "-")))
    document = docx.Document(io.BytesIO(build_docx(_briefing(tables=(table,)))))
    cells = [[c.text for c in row.cells] for row in document.tables[1].rows[1:]]
    assert cells == [["People", "-4.3"], ["Share", "−4 pts"], ["Investment", "€1,200"], ["'=1+1", "+12%"],
                     ["+40% up-/reskilling participation by 2025", "-"]]


def test_column_widths_follow_the_text_and_fill_the_line():
    headers = ("Partnership", "Pledge, in its own terms", "Members")
    rows = [("Construction", "upskill 25% of the workforce within five years, about 3 million workers", "110")]
    widths = column_widths_cm(headers, rows, 17.0)
    assert abs(sum(widths) - 17.0) < 1e-9
    assert widths[1] == max(widths) and widths[2] == min(widths) >= MIN_COLUMN_CM

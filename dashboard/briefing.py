"""The briefing pack: sentences written from the data, and the Word document that carries them.

Pure: figures in, text and DOCX bytes out. The caller (dashboard/export_views.py) takes every number from the
query layer, so a sentence such as "2.6 million people trained in 2024, 73% above 2023" is computed from the
same figures the page shows and never typed in. Word has no place for a live formula in running text, but a table
pasted into a spreadsheet could gain one: table text goes through `neutralise`, formatted numbers excepted.
"""

from __future__ import annotations

import datetime as dt
import io
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass, field

import docx
from docx.enum.section import WD_ORIENT, WD_SECTION
from docx.enum.table import WD_TABLE_ALIGNMENT
from docx.enum.text import WD_ALIGN_PARAGRAPH
from docx.opc.constants import RELATIONSHIP_TYPE
from docx.oxml import OxmlElement
from docx.oxml.ns import qn
from docx.shared import Cm, Pt, RGBColor

from dashboard.exports import FLAG_LEGEND, neutralise
from dashboard.formatting import (
    BREAK_CAVEAT,
    count,
    exact,
    humanise,
    percent,
    short_span,
    year_span,
)
from pipelines import indicators

# How each indicator reads in a sentence ("<quantity> <phrase> in <year>"), from the indicator catalogue.
SENTENCE_PHRASES: dict[str, str] = indicators.briefing_phrases()
_NOT_XML = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


# --------------------------------------------------------------------------------------------------------------
# Sentences
# --------------------------------------------------------------------------------------------------------------


def change_sentence(
    indicator: str, unit: str, year: int, value: float | None, previous_year: int | None, previous: float | None,
    break_in_series: bool = False,
) -> str | None:
    """'2.6 million people trained in 2024, 73% above 2023.' (None when there is no figure for the year); across
    a break in series the change carries the caveat."""
    if value is None or math.isnan(value):
        return None
    phrase = SENTENCE_PHRASES.get(indicator, indicator.replace("_", " "))
    quantity = humanise(value, unit)
    sentence = f"{quantity} {phrase} in {year}"
    if previous_year is not None and previous is not None and not math.isnan(previous) and previous != 0:
        change = round((value / previous - 1.0) * 100)
        if change > 0:
            sentence += f", {change}% above {previous_year}"
        elif change < 0:
            sentence += f", {-change}% below {previous_year}"
        else:
            sentence += f", about the same as {previous_year}"
        if break_in_series:
            sentence += f" ({BREAK_CAVEAT.format(year=year)})"
    elif previous_year is not None:
        sentence += f" (no figure for {previous_year} to compare)"
    return sentence[0].upper() + sentence[1:] + "."


def share_sentence(year: int, share: float | None, previous_year: int | None, previous: float | None) -> str | None:
    """'90% of reported commitments progressing in 2022.' (share as a fraction)."""
    if share is None or math.isnan(share):
        return None
    sentence = f"{percent(share)} of reported commitments progressing in {year}"
    if previous_year is not None and previous is not None and not math.isnan(previous):
        points = round((share - previous) * 100)
        if points:
            sentence += f", {abs(points)} percentage point{'s' if abs(points) != 1 else ''} " \
                        f"{'up' if points > 0 else 'down'} on {previous_year}"
    return sentence + "."


def target_sentence(
    *,
    people: int,
    qualifier: str,
    first_year: int,
    latest_year: int,
    cumulative: float,
    achieved_pace: float,
    projected_year: int | None,
    deadline_year: int | None,
    needed_pace: float | None,
    pledge_text: str = "",
) -> str:
    """'At the 2022–24 pace (2 million a year), the over 25 million pledged by the partnerships is reached in 2034,
    …', followed by the pledge in the source's words (`pledge_text`) when given."""
    target = f"{qualifier + ' ' if qualifier else ''}{humanise(people)} pledged by the partnerships"
    source = f" The pledge as the source words it: {pledge_text}" if pledge_text else ""
    if cumulative >= people:
        return (f"The {target} has been reached: {humanise(cumulative)} people trained in "
                f"{year_span(first_year, latest_year)}.{source}")
    pace = f"At the {short_span(first_year, latest_year)} pace ({humanise(achieved_pace)} a year)"
    if projected_year is None:
        return f"{pace}, the {target} is not reached.{source}"
    sentence = f"{pace}, the {target} is reached in {projected_year}"
    if deadline_year is not None:
        if projected_year <= deadline_year:
            sentence += f", within its {deadline_year} deadline"
        else:
            late = projected_year - deadline_year
            sentence += f", {late} year{'s' if late != 1 else ''} after its {deadline_year} deadline"
        if needed_pace is not None:
            sentence += (f"; reaching it by {deadline_year} needs {humanise(needed_pace)} a year "
                         f"from {latest_year + 1}")
    else:
        sentence += " (the pledge has no deadline)"
    return sentence + "." + source


def coverage_text(reporting: int, respondents: int, registered: int | None = None) -> str:
    """'reported by 455 of 461 respondents (1,012 members registered)'."""
    text = f"reported by {count(reporting)} of {count(respondents)} respondents"
    if registered:
        text += f" ({count(registered)} members registered)"
    return text


# --------------------------------------------------------------------------------------------------------------
# The document
# --------------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class HeadlineCell:
    value: float | None
    flags: str = ""  # flag codes, e.g. "s n"
    published: str = ""  # e.g. "nearly 1,500,000 (published)"


@dataclass(frozen=True)
class HeadlineRow:
    indicator: str
    label: str
    unit: str
    cells: tuple[HeadlineCell, ...]  # one per `Briefing.years`


@dataclass(frozen=True)
class ChartImage:
    title: str
    png: bytes
    caption: str = ""


@dataclass(frozen=True)
class DataTable:
    """A small table of the view's rows (already formatted text) for the document."""

    title: str
    headers: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]
    note: str = ""


@dataclass(frozen=True)
class Briefing:
    title: str
    view: str
    vintage_id: str
    permalink: str
    years: tuple[int, ...]
    headline: tuple[HeadlineRow, ...]
    sentences: tuple[str, ...] = ()
    coverage: tuple[str, ...] = ()  # one line per year
    charts: tuple[ChartImage, ...] = ()
    tables: tuple[DataTable, ...] = ()
    filters: tuple[tuple[str, str], ...] = ()
    sources: tuple[tuple[str, str], ...] = ()  # (what, URL or file)
    notes: tuple[str, ...] = ()
    flags: tuple[str, ...] = ()
    vintage_created: str = ""
    synthetic: bool = False
    problems: tuple[str, ...] = ()  # e.g. a chart that could not be rendered
    exported_at: dt.datetime = field(default_factory=lambda: dt.datetime.now(dt.UTC).replace(microsecond=0))


def _clean(text: str) -> str:
    """python-docx refuses characters XML 1.0 cannot hold (a pasted control character in a member's name)."""
    return _NOT_XML.sub("", text)


def _add_hyperlink(paragraph, url: str, text: str) -> None:
    # python-docx reads hyperlinks but has no API to write one: build the run by hand.
    r_id = paragraph.part.relate_to(url, RELATIONSHIP_TYPE.HYPERLINK, is_external=True)
    link = OxmlElement("w:hyperlink")
    link.set(qn("r:id"), r_id)
    run = OxmlElement("w:r")
    props = OxmlElement("w:rPr")
    colour = OxmlElement("w:color")
    colour.set(qn("w:val"), "0563C1")
    underline = OxmlElement("w:u")
    underline.set(qn("w:val"), "single")
    props.append(colour)
    props.append(underline)
    run.append(props)
    node = OxmlElement("w:t")
    node.text = _clean(text)
    node.set(qn("xml:space"), "preserve")
    run.append(node)
    link.append(run)
    paragraph._p.append(link)


# A formatted number ("-4.3", "−4 pts", "€1,200", "12%") or text that opens with a signed number ("+40% up-/reskilling
# participation by 2025") is not a formula, even pasted into a spreadsheet: it stays as written instead of gaining
# the apostrophe that keeps text inert.
_FORMATTED_NUMBER = re.compile(r"[-+\u2212]?€?\d[\d,.\u00a0\u202f]*\s*(%|pts?)?")
_SIGNED_NUMBER_FIRST = re.compile(r"[-+\u2212]\s?€?\d")


def _inert(text: str) -> str:
    if len(text.strip()) <= 1 or _FORMATTED_NUMBER.fullmatch(text) or _SIGNED_NUMBER_FIRST.match(text):
        return text  # a lone "-" (no figure) is no formula either
    return neutralise(text)


def _table(document, headers: Sequence[str], rows: Sequence[Sequence[str]], *, numeric_from: int = 1,
           font_size: float | None = None):
    table = document.add_table(rows=1, cols=len(headers))
    table.style = "Light Grid Accent 1"
    table.alignment = WD_TABLE_ALIGNMENT.CENTER
    for cell, text in zip(table.rows[0].cells, headers, strict=True):
        cell.text = _clean(_inert(text))
        for run in cell.paragraphs[0].runs:
            run.bold = True
    for values in rows:
        cells = table.add_row().cells
        for col, (cell, text) in enumerate(zip(cells, values, strict=True)):
            cell.text = _clean(_inert(str(text)))
            if col >= numeric_from and _FORMATTED_NUMBER.fullmatch(str(text).split(" [")[0]):
                cell.paragraphs[0].alignment = WD_ALIGN_PARAGRAPH.RIGHT
    if font_size:
        for row in table.rows:
            for cell in row.cells:
                for paragraph in cell.paragraphs:
                    _small(paragraph, font_size)
    return table


# A4 in centimetres, and the text width between 2 cm margins in each orientation.
A4 = (21.0, 29.7)
MARGIN_CM = 2.0
# Above this many columns a data table goes on a landscape page; above WIDE_TABLE_COLUMNS it is split into parts
# that each repeat the first column, so no column is narrower than a short word.
LANDSCAPE_FROM_COLUMNS = 7
WIDE_TABLE_COLUMNS = 9
MIN_COLUMN_CM = 1.6
# The width of one character of bold 8–9 pt text and a cell's inner padding, in centimetres.
CHAR_CM, PADDING_CM = 0.2, 0.4


def _page(section, *, landscape: bool) -> None:
    short, long = Cm(A4[0]), Cm(A4[1])
    section.orientation = WD_ORIENT.LANDSCAPE if landscape else WD_ORIENT.PORTRAIT
    section.page_width, section.page_height = (long, short) if landscape else (short, long)
    section.left_margin = section.right_margin = section.top_margin = section.bottom_margin = Cm(MARGIN_CM)


def column_widths_cm(headers: Sequence[str], rows: Sequence[Sequence[str]], text_width_cm: float) -> list[float]:
    """Widths in proportion to each column's typical text (long pledge sentences wrap in a wide column, numbers get
    what they need), none under MIN_COLUMN_CM, adding up to the text width."""
    def need(col: int) -> float:
        lengths = sorted(len(str(r[col])) for r in rows) or [0]
        typical = lengths[int(0.9 * (len(lengths) - 1))]  # the 90th percentile: one outlier does not widen a column
        return max(typical, max((len(w) for w in str(headers[col]).split()), default=0), 4)

    needs = [need(c) for c in range(len(headers))]
    # no header word is broken across lines: "Pledged" needs about 1.8 cm in bold 8 pt
    floors = [max(MIN_COLUMN_CM, CHAR_CM * max((len(w) for w in str(h).split()), default=0) + PADDING_CM)
              for h in headers]
    widths: dict[int, float] = {}
    while True:  # pin the columns that fall below their floor, then share what is left among the others
        free = [c for c in range(len(needs)) if c not in widths]
        left = text_width_cm - sum(widths.values())
        share = {c: left * needs[c] / sum(needs[f] for f in free) for c in free}
        pinned = {c: floors[c] for c, w in share.items() if w < floors[c]}
        if not pinned or len(pinned) == len(free):
            widths.update(share)
            break
        widths.update(pinned)
    return [widths[c] for c in range(len(needs))]


def table_parts(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> list[tuple[list[str], list[list[str]]]]:
    """The table as parts of at most WIDE_TABLE_COLUMNS columns, each repeating the first (the row's name)."""
    if len(headers) <= WIDE_TABLE_COLUMNS:
        return [(list(headers), [list(r) for r in rows])]
    step = WIDE_TABLE_COLUMNS - 1
    parts = []
    for start in range(1, len(headers), step):
        columns = [0, *range(start, min(start + step, len(headers)))]
        parts.append(([headers[c] for c in columns], [[r[c] for c in columns] for r in rows]))
    return parts


def _data_table(document, table: DataTable) -> None:
    """A view's table on A4: portrait when narrow, else on a landscape page of its own, split when very wide."""
    landscape = len(table.headers) >= LANDSCAPE_FROM_COLUMNS
    if landscape:
        _page(document.add_section(WD_SECTION.NEW_PAGE), landscape=True)
    document.add_heading(_clean(table.title), level=1)
    text_width = (A4[1] if landscape else A4[0]) - 2 * MARGIN_CM
    parts = table_parts(table.headers, table.rows)
    for number, (headers, rows) in enumerate(parts, start=1):
        if len(parts) > 1:
            _small(document.add_paragraph(f"Part {number} of {len(parts)}: {', '.join(headers[1:])}"))
        part = _table(document, headers, rows, font_size=8 if landscape else None)
        _widths(part, [Cm(w) for w in column_widths_cm(headers, rows, text_width)])
    if table.note:
        _small(document.add_paragraph(_clean(table.note)))
    if landscape:
        _page(document.add_section(WD_SECTION.NEW_PAGE), landscape=False)


def _widths(table, widths: Sequence) -> None:
    # Word reads the cell widths, LibreOffice the grid: set both so the first column is not squeezed.
    table.autofit = False
    for row in table.rows:
        for cell, width in zip(row.cells, widths, strict=False):
            cell.width = width
    for column, width in zip(table.columns, widths, strict=False):
        column.width = width


def _small(paragraph, size: float = 9) -> None:
    for run in paragraph.runs:
        run.font.size = Pt(size)


def build_docx(briefing: Briefing) -> bytes:
    """The briefing as a Word document: headline figures, key points, charts, the view, notes and sources."""
    document = docx.Document()
    _page(document.sections[0], landscape=False)  # python-docx's template is US Letter; the EU's paper is A4
    styles = document.styles
    styles["Normal"].font.name = "Calibri"
    styles["Normal"].font.size = Pt(10.5)
    props = document.core_properties
    props.title = _clean(briefing.title)
    props.subject = "Pact for Skills monitoring briefing"
    props.author = "Pact Monitor"
    props.comments = _clean(f"Data vintage {briefing.vintage_id}; permalink {briefing.permalink}")
    props.created = briefing.exported_at.replace(tzinfo=None)

    document.add_heading(_clean(briefing.title), level=0)
    meta = document.add_paragraph()
    meta.add_run(_clean(f"{briefing.view} · data vintage {briefing.vintage_id}"))
    if briefing.vintage_created:
        meta.add_run(_clean(f" (built {briefing.vintage_created})"))
    meta.add_run(f" · exported {briefing.exported_at:%Y-%m-%d %H:%M} UTC")
    _small(meta)
    if briefing.synthetic:
        warning = document.add_paragraph()
        run = warning.add_run(
            "Synthetic sample: member-level data are invented and only the totals are calibrated to the "
            "Commission's published figures. Do not quote these figures as official statistics."
        )
        run.bold = True
        run.font.color.rgb = RGBColor(0x9C, 0x00, 0x06)

    if briefing.sentences:
        document.add_heading("Key points", level=1)
        for sentence in briefing.sentences:
            document.add_paragraph(_clean(sentence), style="List Bullet")

    if briefing.headline:
        document.add_heading("Headline figures", level=1)
        headers = ["Indicator", *(str(y) for y in briefing.years)]
        rows = []
        for row in briefing.headline:
            cells = []
            for cell in row.cells:
                text = exact(cell.value, row.unit)
                cells.append(f"{text} [{cell.flags}]" if cell.flags else text)
            label = f"{row.label} ({row.unit})" if row.unit not in ("", "%") else f"{row.label} (%)"
            rows.append([label, *cells])
        headline_table = _table(document, headers, rows)
        _widths(headline_table, [Cm(5.2)] + [Cm(11.8 / max(len(briefing.years), 1))] * len(briefing.years))
        published = [
            f"{row.label}, {year}: {cell.published}"
            for row in briefing.headline for year, cell in zip(briefing.years, row.cells, strict=True)
            if cell.published
        ]
        if published:
            published_note = document.add_paragraph(
                "Published by the Commission: " + "; ".join(published) + "."
            )
            _small(published_note)
        for line in briefing.coverage:
            _small(document.add_paragraph(_clean(line)))

    if briefing.charts or briefing.problems:
        document.add_heading("Charts", level=1)
        for chart in briefing.charts:
            document.add_picture(io.BytesIO(chart.png), width=Cm(17))
            caption = document.add_paragraph()
            caption.add_run(_clean(chart.title)).bold = True
            if chart.caption:
                caption.add_run(" " + _clean(chart.caption))
            _small(caption)
        for problem in briefing.problems:
            _small(document.add_paragraph(_clean(problem)))

    for table in briefing.tables:
        _data_table(document, table)

    document.add_heading("This view", level=1)
    filters = briefing.filters or (("Filters", "none (all data)"),)
    for label, value in filters:
        paragraph = document.add_paragraph()
        paragraph.add_run(_clean(f"{label}: ")).bold = True
        paragraph.add_run(_clean(value))
    paragraph = document.add_paragraph()
    paragraph.add_run("Permalink (reproduces this view on this data vintage): ").bold = True
    if briefing.permalink.startswith(("http://", "https://")):
        _add_hyperlink(paragraph, briefing.permalink, briefing.permalink)
    else:
        paragraph.add_run(_clean(briefing.permalink))

    document.add_heading("Notes and sources", level=1)
    number = 0
    for note in briefing.notes:
        number += 1
        _small(document.add_paragraph(_clean(f"{number}. {note}")))
    for code in briefing.flags:
        number += 1
        _small(document.add_paragraph(_clean(f"{number}. Flag [{code}]: {FLAG_LEGEND.get(code, code)}.")))
    for what, where in briefing.sources:
        number += 1
        paragraph = document.add_paragraph(_clean(f"{number}. {what}: "))
        if where.startswith(("http://", "https://")):
            _add_hyperlink(paragraph, where, where)
        else:
            paragraph.add_run(_clean(where))
        _small(paragraph)

    buffer = io.BytesIO()
    document.save(buffer)
    return buffer.getvalue()

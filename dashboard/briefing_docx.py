"""The briefing as a Word document (python-docx), apart from dashboard/briefing.py so that python-docx and lxml
are loaded only when a briefing pack is asked for (`briefing.build_docx` imports this module), never by a worker
that only serves pages."""

from __future__ import annotations

import io
from collections.abc import Sequence

import docx
from docx.enum.section import WD_ORIENT, WD_SECTION
from docx.enum.table import WD_TABLE_ALIGNMENT
from docx.enum.text import WD_ALIGN_PARAGRAPH
from docx.opc.constants import RELATIONSHIP_TYPE
from docx.oxml import OxmlElement
from docx.oxml.ns import qn
from docx.shared import Cm, Pt, RGBColor

from dashboard.briefing import (
    _FORMATTED_NUMBER,
    A4,
    LANDSCAPE_FROM_COLUMNS,
    MARGIN_CM,
    Briefing,
    DataTable,
    _clean,
    _inert,
    column_widths_cm,
    table_parts,
)
from dashboard.exports import FLAG_LEGEND
from dashboard.formatting import exact


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


def _page(section, *, landscape: bool) -> None:
    short, long = Cm(A4[0]), Cm(A4[1])
    section.orientation = WD_ORIENT.LANDSCAPE if landscape else WD_ORIENT.PORTRAIT
    section.page_width, section.page_height = (long, short) if landscape else (short, long)
    section.left_margin = section.right_margin = section.top_margin = section.bottom_margin = Cm(MARGIN_CM)


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


def build(briefing: Briefing) -> bytes:
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

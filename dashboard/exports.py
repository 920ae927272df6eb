"""Pure export builders: the rows behind a view plus its metadata in, file bytes out.

Nothing here queries data or touches the app: a caller (dashboard/export_views.py) gets the rows from the
query layer and describes them with an `ExportTable`; these functions turn that into CSV, XLSX, an annotated
chart figure and a ZIP. Every text cell of every export goes through `neutralise`, because a member's name is
typed by the member and a spreadsheet would run `=HYPERLINK(...)` or `@SUM(A1)` as a formula (OWASP "CSV
injection").
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import html
import io
import math
import re
import textwrap
import zipfile
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

import pandas as pd
import plotly.graph_objects as go

from dashboard.disclosure import THRESHOLD
from dashboard.formatting import year_span

if TYPE_CHECKING:
    import xlsxwriter

# OWASP's list of characters that make a spreadsheet treat a cell as a formula (or DDE command), with the
# full-width forms that spreadsheets in East Asian locales also take as formula starts, and the minus sign.
FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r", "\n", "\uff1d", "\uff0b", "\uff0d", "\uff20", "\u2212")
# An apostrophe is what Excel itself shows for a "text that looks like a formula"; it is inert in every
# spreadsheet and visible, so a reader sees the value was altered on the way out.
INERT_PREFIX = "'"

ColumnKind = Literal["text", "integer", "decimal", "euro", "percent", "boolean", "date", "flags"]

# Eurostat writes flags as short codes in their own column with a legend; these are ours.
FLAG_LEGEND: dict[str, str] = {
    "s": "synthetic sample: member-level data invented, totals calibrated to published figures",
    "n": "not published: the Commission published no figure for this indicator and year",
    "b": "break in series: the survey question changed in this wave",
    "p": "provisional",
    "d": "derived: the published counterpart is arithmetic on published figures",
    "m": "missing: no member in this cell reported the indicator (shown as “:”)",
    "c": "confidential: withheld in public mode (it does not follow from the published totals, or would reveal "
         f"what fewer than {THRESHOLD} members reported)",
}

XLSX_MAX_COL_WIDTH = 60
CHART_WIDTH = 1100
CHART_HEIGHT = 620


def neutralise(text: str) -> str:
    """Make a text cell inert in a spreadsheet: prefix it when it starts like a formula, also after leading blanks
    (spaces of any width), which a spreadsheet may skip before reading the formula."""
    if text.lstrip(" \u00a0\u3000\u2007\u202f").startswith(FORMULA_TRIGGERS):
        return INERT_PREFIX + text
    return text


@dataclass(frozen=True)
class Column:
    """One exported column: the frame's column `key`, shown under `header` (which carries the unit)."""

    key: str
    header: str
    kind: ColumnKind = "text"
    missing: str = ""  # written for a missing value (":" in Eurostat-style tables; CSV and XLSX only)


@dataclass(frozen=True)
class Definition:
    indicator: str
    label: str
    unit: str
    definition: str
    counting_rule: str


@dataclass(frozen=True)
class InputFile:
    """A raw file the data vintage was built from, with what its sidecar says about it."""

    path: str
    kind: str
    sha256: str
    rows: int | None = None
    title: str = ""
    publisher: str = ""
    received: str = ""
    source_url: str = ""


@dataclass(frozen=True)
class ExportMeta:
    """Everything a file needs to say where its numbers come from and how to get them again."""

    view: str  # e.g. "Explore - chart"
    title: str  # e.g. "People up-/reskilled by industrial ecosystem, 2022-2024"
    vintage_id: str
    permalink: str
    subtitle: str = ""
    indicator: str | None = None
    breakdown: str | None = None
    slug: str | None = None  # names the file when it is not one indicator by one breakdown
    years: tuple[int, int] | None = None
    vintage_created: str = ""
    synthetic: bool = False
    filters: tuple[tuple[str, str], ...] = ()  # (label, value shown) in display order
    waves: tuple[int, ...] = ()
    definitions: tuple[Definition, ...] = ()
    inputs: tuple[InputFile, ...] = ()
    flags: tuple[str, ...] = ()  # flag codes that occur in the rows
    notes: tuple[str, ...] = ()  # e.g. "Figures across partnerships are not additive."
    coverage: str = ""  # e.g. "reported by 461 of 461 respondents (2022)"
    source: str = ""  # the credit when the figures do not come from the survey (the registry, reference tables)
    exported_at: dt.datetime = field(default_factory=lambda: dt.datetime.now(dt.UTC).replace(microsecond=0))

    @property
    def source_line(self) -> str:
        """The one-line credit printed under a chart."""
        parts = [f"Source: {self.source}" if self.source else "Source: Pact for Skills annual member survey"]
        if self.waves and not self.source:
            parts[0] += f" {year_span(self.waves[0], self.waves[-1])}"
        parts.append(f"Pact Monitor, data vintage {self.vintage_id}")
        if self.synthetic:
            parts.append("SYNTHETIC SAMPLE, not official figures")
        return "; ".join(parts) + "."

    @property
    def flag_lines(self) -> tuple[str, ...]:
        return tuple(f"{code} = {FLAG_LEGEND.get(code, code)}" for code in self.flags)


@dataclass(frozen=True)
class ExportTable:
    """The rows behind one view (never mutated here) and how to present them."""

    frame: pd.DataFrame
    columns: tuple[Column, ...]
    meta: ExportMeta

    def __post_init__(self) -> None:
        missing = [c.key for c in self.columns if c.key not in self.frame.columns]
        if missing:
            raise ValueError(f"export columns not in the rows: {', '.join(missing)}")


_SLUG = re.compile(r"[^a-z0-9]+")


def _slug(text: str) -> str:
    return _SLUG.sub("-", text.lower()).strip("-")


# Filter values long enough to recognise a download by; a digest of all of them keeps two views apart. Filters the
# name already carries (indicator, breakdown, years) are left out.
FILENAME_FILTER_CHARS = 40
NAMED_ELSEWHERE = frozenset({"Indicator", "Breakdown", "Years", "Year"})


def export_filename(meta: ExportMeta, ext: str, *, part: str | None = None) -> str:
    """`pact_<indicator or slug>[_by-<breakdown>]_<years>[_<filters>]_[<part>]_<vintage>.<ext>`, only
    [a-z0-9._-]: two views with different filters never download under the same name."""
    pieces = ["pact"]
    pieces.append(_slug(meta.slug or meta.indicator or meta.view))
    if meta.breakdown:
        pieces.append("by-" + _slug(meta.breakdown))
    if meta.years:
        first, last = meta.years
        pieces.append(str(first) if first == last else f"{first}-{last}")
    filters = tuple((label, value) for label, value in meta.filters if label not in NAMED_ELSEWHERE)
    if filters:
        values = _slug(" ".join(str(value) for _, value in filters))[:FILENAME_FILTER_CHARS].strip("-")
        digest = hashlib.sha256(repr(filters).encode("utf-8")).hexdigest()[:6]
        pieces.append(f"{values}-{digest}" if values else digest)
    if part:
        pieces.append(_slug(part))
    pieces.append(_slug(meta.vintage_id) or "vintage")
    return "_".join(p for p in pieces if p) + "." + ext.lstrip(".").lower()


def _is_missing(value: Any) -> bool:
    if value is None or value is pd.NA or value is pd.NaT:
        return True
    return isinstance(value, float) and math.isnan(value)


def _as_text(value: Any) -> str:
    if isinstance(value, (list, tuple)):
        return " ".join(str(v) for v in value)
    return str(value)


def _csv_cell(value: Any, kind: ColumnKind) -> str:
    if _is_missing(value):
        return ""
    if kind == "integer":
        return str(int(value))
    if kind == "euro":
        return f"{float(value):.2f}"
    if kind in ("decimal", "percent"):
        text = f"{float(value):.6f}".rstrip("0").rstrip(".")
        return text if text not in ("", "-0") else "0"
    if kind == "boolean":
        return "TRUE" if bool(value) else "FALSE"
    if kind == "date":
        return pd.Timestamp(value).date().isoformat()
    return neutralise(_as_text(value))


def _records(table: ExportTable) -> Iterable[tuple[Any, ...]]:
    keys = [c.key for c in table.columns]
    return table.frame[keys].itertuples(index=False, name=None)


def to_csv_bytes(table: ExportTable) -> bytes:
    """The view's rows as CSV: UTF-8 with a BOM (so Excel reads accents), RFC 4180 line ends, plain numbers."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow([neutralise(c.header) for c in table.columns])
    for record in _records(table):
        writer.writerow([c.missing if _is_missing(v) else _csv_cell(v, c.kind)
                         for v, c in zip(record, table.columns, strict=True)])
    return buffer.getvalue().encode("utf-8-sig")


class _Sheet:
    """Tracks the widest text per column so the workbook opens with readable widths."""

    def __init__(self, book: xlsxwriter.Workbook, name: str, formats: Mapping[str, Any]):
        self.ws = book.add_worksheet(name)
        self.fmt = formats
        self.widths: dict[int, int] = {}
        self.long_cells: list[tuple[int, int, int]] = []  # (row, col, length) of text that may wrap

    def _width(self, col: int, text: str) -> None:
        longest = max((len(line) for line in text.split("\n")), default=0)
        self.widths[col] = max(self.widths.get(col, 0), longest)

    def text(self, row: int, col: int, value: Any, fmt: str | None = None) -> None:
        if _is_missing(value):
            self.ws.write_blank(row, col, None, self.fmt.get(fmt) if fmt else None)
            return
        text = neutralise(_as_text(value))
        # write_string, never write(): write() would turn a string that looks like a formula into one.
        self.ws.write_string(row, col, text, self.fmt[fmt] if fmt else None)
        self._width(col, text)
        if len(text) > XLSX_MAX_COL_WIDTH - 2:
            self.long_cells.append((row, col, len(text)))

    def number(self, row: int, col: int, value: Any, fmt: str) -> None:
        if _is_missing(value):
            self.ws.write_blank(row, col, None, self.fmt[fmt])
            return
        number = float(value)
        self.ws.write_number(row, col, int(number) if fmt == "integer" else number, self.fmt[fmt])
        self._width(col, f"{number:,.2f}" if fmt == "euro" else f"{number:,.0f}")

    def finish(self, *, minimum: int = 8, wrap_over: int = XLSX_MAX_COL_WIDTH) -> None:
        for col, width in self.widths.items():
            if width + 2 > wrap_over:
                self.ws.set_column(col, col, wrap_over, self.fmt["wrap"])
            else:
                self.ws.set_column(col, col, max(width + 2, minimum))
        # LibreOffice does not grow a row for wrapped text written by a library: give such rows their height.
        lines: dict[int, int] = {}
        for row, col, length in self.long_cells:
            if self.widths.get(col, 0) + 2 > wrap_over:
                # Column widths count digits; a proportional font fits about 15% more letters per line.
                lines[row] = max(lines.get(row, 1), math.ceil(length / (wrap_over * 1.15)))
        for row, count in lines.items():
            if count > 1:
                self.ws.set_row(row, 15 * count)
        # Printed or converted to PDF, a sheet is one page wide (landscape A4) with the header on every page.
        self.ws.set_landscape()
        self.ws.set_paper(9)
        self.ws.fit_to_pages(1, 0)
        self.ws.set_margins(left=0.5, right=0.5, top=0.6, bottom=0.6)


def _formats(book: xlsxwriter.Workbook) -> dict[str, Any]:
    return {
        "header": book.add_format({"bold": True, "text_wrap": True, "valign": "top", "bottom": 1}),
        "title": book.add_format({"bold": True, "font_size": 13}),
        "label": book.add_format({"bold": True, "valign": "top"}),
        "wrap": book.add_format({"text_wrap": True, "valign": "top"}),
        "integer": book.add_format({"num_format": "#,##0"}),
        "decimal": book.add_format({"num_format": "#,##0.0##"}),
        "euro": book.add_format({"num_format": "#,##0.00"}),
        "percent": book.add_format({"num_format": "0.0"}),
        "date": book.add_format({"num_format": "yyyy-mm-dd"}),
        "warning": book.add_format({"bold": True, "font_color": "#9C0006"}),
        "no_figure": book.add_format({"align": "right"}),  # ":" in a number column lines up with the numbers
    }


def _write_data_sheet(sheet: _Sheet, table: ExportTable) -> None:
    ws = sheet.ws
    for col, column in enumerate(table.columns):
        sheet.text(0, col, column.header, "header")
    for row, record in enumerate(_records(table), start=1):
        for col, (value, column) in enumerate(zip(record, table.columns, strict=True)):
            if column.kind in ("integer", "decimal", "euro", "percent"):
                if column.missing and _is_missing(value):
                    sheet.text(row, col, column.missing, "no_figure")
                else:
                    sheet.number(row, col, value, column.kind)
            elif column.kind == "boolean":
                if _is_missing(value):
                    ws.write_blank(row, col, None)
                else:
                    ws.write_boolean(row, col, bool(value))
            elif column.kind == "date" and not _is_missing(value):
                ws.write_datetime(row, col, pd.Timestamp(value).to_pydatetime(), sheet.fmt["date"])
                sheet._width(col, "yyyy-mm-dd")
            else:
                sheet.text(row, col, value)
    ws.freeze_panes(1, 0)
    ws.repeat_rows(0)
    if table.columns:
        ws.autofilter(0, 0, max(len(table.frame), 1), len(table.columns) - 1)
    sheet.finish()


def _write_definitions(sheet: _Sheet, tables: Sequence[ExportTable]) -> None:
    headers = ("Indicator", "Label", "Unit", "Definition", "Counting rule")
    for col, text in enumerate(headers):
        sheet.text(0, col, text, "header")
    seen: dict[str, Definition] = {}
    for table in tables:
        for definition in table.meta.definitions:
            seen.setdefault(definition.indicator, definition)
    row = 1
    for d in seen.values():
        for col, text in enumerate((d.indicator, d.label, d.unit, d.definition, d.counting_rule)):
            sheet.text(row, col, text, "wrap" if col >= 3 else None)
        row += 1
    flags = sorted({code for t in tables for code in t.meta.flags})
    row += 1
    sheet.text(row, 0, "Flags", "title")
    row += 1
    sheet.text(row, 0, "Code", "header")
    sheet.text(row, 1, "Meaning", "header")
    for code in flags or FLAG_LEGEND:
        row += 1
        sheet.text(row, 0, code)
        sheet.text(row, 1, FLAG_LEGEND.get(code, code))
    notes = list(dict.fromkeys(n for t in tables for n in t.meta.notes))
    if notes:
        row += 2
        sheet.text(row, 0, "Notes", "title")
        for note in notes:
            row += 1
            sheet.text(row, 0, note)
    sheet.finish()


def _write_sources(sheet: _Sheet, meta: ExportMeta, inputs: Sequence[InputFile]) -> None:
    rows: list[tuple[str, str]] = [
        ("Data vintage", meta.vintage_id),
        ("Vintage created", meta.vintage_created),
        ("Survey waves", ", ".join(str(w) for w in meta.waves)),
        ("Synthetic sample", "yes: member-level data are invented; do not quote as official" if meta.synthetic
         else "no"),
        ("Produced by", "Pact Monitor"),
    ]
    for row, (label, value) in enumerate(rows):
        sheet.text(row, 0, label, "label")
        sheet.text(row, 1, value, "warning" if label == "Synthetic sample" and meta.synthetic else None)
    start = len(rows) + 1
    sheet.text(start, 0, "Input files", "title")
    headers = ("File", "Kind", "Title", "Publisher", "Received", "Rows", "SHA-256", "Source URL")
    for col, text in enumerate(headers):
        sheet.text(start + 1, col, text, "header")
    for row, f in enumerate(inputs, start=start + 2):
        for col, value in enumerate((f.path, f.kind, f.title, f.publisher, f.received)):
            sheet.text(row, col, value)
        if f.rows is None:
            sheet.ws.write_blank(row, 5, None)
        else:
            sheet.number(row, 5, f.rows, "integer")
        sheet.text(row, 6, f.sha256)
        sheet.text(row, 7, f.source_url)
    sheet.finish()


def _write_filters(sheet: _Sheet, tables: Sequence[ExportTable]) -> None:
    meta = tables[0].meta
    rows: list[tuple[str, str]] = [("View", meta.view)]
    rows += [("Title", t.meta.title) for t in tables]
    rows += list(meta.filters) or [("Filters", "none (all data)")]
    rows += [("Data vintage", meta.vintage_id), ("Exported at (UTC)", meta.exported_at.isoformat())]
    for row, (label, value) in enumerate(rows):
        sheet.text(row, 0, label, "label")
        sheet.text(row, 1, value)
    row = len(rows)
    sheet.text(row, 0, "Permalink", "label")
    # The permalink is built by the app from validated state; the link text is still neutralised by text().
    if meta.permalink.startswith(("http://", "https://")) and len(meta.permalink) <= 2000:
        sheet.ws.write_url(row, 1, meta.permalink, string=meta.permalink)
        sheet._width(1, meta.permalink)
    else:
        sheet.text(row, 1, meta.permalink)
    sheet.text(row + 2, 0, "Open the permalink to see this exact view again; it pins the data vintage.")
    sheet.finish()


def to_xlsx_bytes(tables: ExportTable | Sequence[ExportTable], *, sheet_names: Sequence[str] | None = None) -> bytes:
    """One or more views as a workbook: data sheet(s), then Definitions, Sources and Filters.

    Numbers are written as numbers with a display format (never as text), headers carry units, flags sit in
    their own column, the header row is frozen. The metadata sheets describe the first table's view.
    """
    table_list = [tables] if isinstance(tables, ExportTable) else list(tables)
    if not table_list:
        raise ValueError("nothing to export")
    names = list(sheet_names) if sheet_names else (
        ["Data"] if len(table_list) == 1 else [f"Data {i}" for i in range(1, len(table_list) + 1)]
    )
    if len(names) != len(table_list):
        raise ValueError("one sheet name per table")
    import xlsxwriter  # imported here: only a workbook download needs it, not every worker serving pages

    buffer = io.BytesIO()
    # in_memory avoids temp files; strings_to_formulas/urls off so nothing a member typed becomes live.
    book = xlsxwriter.Workbook(buffer, {
        "in_memory": True, "strings_to_formulas": False, "strings_to_urls": False, "strings_to_numbers": False,
    })
    book.set_properties({
        "title": table_list[0].meta.title,
        "subject": "Pact for Skills monitoring figures",
        "author": "Pact Monitor",
        "comments": f"Data vintage {table_list[0].meta.vintage_id}; permalink {table_list[0].meta.permalink}",
    })
    formats = _formats(book)
    used = {"definitions", "sources", "filters"}
    for name, table in zip(names, table_list, strict=True):
        sheet = _sheet_name(name)
        # A view may be called like a metadata sheet ("sources" on About); Excel compares names case-blind.
        while sheet.lower() in used:
            sheet = _sheet_name("Data " + sheet)
        used.add(sheet.lower())
        _write_data_sheet(_Sheet(book, sheet, formats), table)
    _write_definitions(_Sheet(book, "Definitions", formats), table_list)
    inputs = list(dict.fromkeys(f for t in table_list for f in t.meta.inputs))
    _write_sources(_Sheet(book, "Sources", formats), table_list[0].meta, inputs)
    _write_filters(_Sheet(book, "Filters", formats), table_list)
    book.close()
    return buffer.getvalue()


_BAD_SHEET_CHARS = re.compile(r"[\[\]:*?/\\]")


def _sheet_name(name: str) -> str:
    return _BAD_SHEET_CHARS.sub(" ", name).strip()[:31] or "Data"


VIEW_LABELS = frozenset({"Indicator", "Breakdown", "Years", "Year"})


def _wrap(text: str, width_px: int, char_px: float = 7.2) -> list[str]:
    """Escaped lines short enough for the image (plotly never wraps a title or subtitle itself)."""
    if not text:
        return []
    limit = max(40, int((width_px - 60) / char_px))
    return [_plot_text(line) for line in textwrap.wrap(text, limit)]


def _plot_text(text: str) -> str:
    """Plotly renders a small HTML subset in titles and annotations; data-derived text must stay literal."""
    return html.escape(text, quote=False)


def figure_for_export(
    fig: go.Figure, meta: ExportMeta, *, width: int = CHART_WIDTH, height: int = CHART_HEIGHT
) -> go.Figure:
    """A copy of the on-screen figure that carries its title, subtitle, source line and flags inside the image.

    The on-screen title is kept (it is what the reader saw); the subtitle gains the active filters, and a credit
    block (source, vintage, coverage, flags, notes) goes into a bottom margin grown to fit it.
    """
    out = go.Figure(fig)
    notes = [meta.source_line]
    if meta.coverage:
        notes.append(f"Coverage: {meta.coverage}.")
    notes.extend(f"Flag {line}." for line in meta.flag_lines)
    notes.extend(meta.notes)
    own_title = out.layout.title.text if out.layout.title and out.layout.title.text else None
    own_subtitle = out.layout.title.subtitle.text if out.layout.title and out.layout.title.subtitle else None
    # Indicator, breakdown and years are already in the title; the subtitle adds what narrows the selection.
    filters = "; ".join(f"{label}: {value}" for label, value in meta.filters if label not in VIEW_LABELS)
    # An on-screen subtitle already says what the reader saw (the pages put the selection there); keep it as is.
    subtitle = "<br>".join(_wrap(own_subtitle or " · ".join(p for p in (meta.subtitle, filters) if p), width))
    margin = out.layout.margin
    own_bottom = margin.b if margin.b is not None else 40
    notes_px = 16 * len(notes) + 14
    legend_items = sum(1 for t in out.data if t.showlegend is not False and t.name)
    legend = out.layout.legend
    legend_below = (out.layout.showlegend is not False and legend_items > 1 and legend.y is not None and legend.y < 0)
    legend_px = 24 * math.ceil(legend_items / 3) + 10 if legend_below else 0
    margin_top = max(margin.t or 0, (84 + 16 * subtitle.count("<br>")) if subtitle else 70)
    margin_bottom = max(own_bottom, 50) + legend_px + notes_px
    margin_left = max(margin.l or 0, 70)
    total_height = max(height, (out.layout.height or 0) + margin_bottom - own_bottom + 40)
    out.update_layout(
        width=width,
        height=total_height,
        title={
            "text": f"<b>{own_title if own_title else _plot_text(meta.title)}</b>",
            "subtitle": {"text": subtitle, "font": {"size": 13, "color": "#555555"}} if subtitle else None,
            "x": 0.01, "xanchor": "left", "y": 0.98, "yanchor": "top", "font": {"size": 18},
        },
        margin={"t": margin_top, "b": margin_bottom, "l": margin_left, "r": max(margin.r or 0, 30)},
        paper_bgcolor="white",
    )
    if legend_below:
        # On screen the legend hangs below the plot in plot units; in a fixed-size image it is pinned in pixels
        # just above the credit block, so the two never overlap.
        out.update_layout(legend={"yref": "container", "y": (notes_px + 4) / total_height, "yanchor": "bottom"})
    # Pixel shifts keep the credit block at the bottom edge, below axis labels and legends, whatever the size.
    out.add_annotation(
        text="<br>".join(_plot_text(n) for n in notes),
        xref="paper", yref="paper", x=0, y=0, xanchor="left", yanchor="bottom",
        xshift=-margin_left + 12, yshift=-margin_bottom + 8,
        showarrow=False, align="left", font={"size": 11, "color": "#444444"},
    )
    return out


def zip_bytes(files: Mapping[str, bytes], *, when: dt.datetime | None = None) -> bytes:
    """A deflated ZIP of `name -> content`; entries keep the given order and one timestamp."""
    stamp = (when or dt.datetime.now(dt.UTC)).timetuple()[:6]
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, content in files.items():
            if name.startswith("/") or ".." in name.split("/"):
                raise ValueError(f"unsafe name in archive: {name!r}")
            info = zipfile.ZipInfo(name, date_time=stamp)
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, content)
    return buffer.getvalue()

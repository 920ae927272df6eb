"""The generic export machinery: a page's exports as its registered builder makes them (dashboard/export_registry.py,
the builders live in the page modules), and the briefing pack of any page.

A page's query string is parsed by the page's own parser, so an export reproduces exactly the view on screen,
with the data vintage pinned in its permalink. Nothing here writes SQL or names a page: every number comes from a
dashboard.data function, every view from the page that shows it.
"""

from __future__ import annotations

import dataclasses
import logging
import math
from collections.abc import Callable, Iterator, Mapping, Sequence

import pandas as pd

from dashboard import analysis, data
from dashboard.briefing import (
    Briefing,
    ChartImage,
    DataTable,
    HeadlineCell,
    HeadlineRow,
    build_docx,
    change_sentence,
    share_sentence,
    target_sentence,
)
from dashboard.export_registry import (
    ExportRequest,
    ExportUnavailable,
    PageExport,
    View,
    flag_codes,
    page_exports,
    registered,
)
from dashboard.exports import (
    ExportTable,
    export_filename,
    figure_for_export,
    to_xlsx_bytes,
    zip_bytes,
)
from dashboard.formatting import count, exact, fixed, percent, year_span

__all__ = ["PAGE_PATHS", "ExportUnavailable", "PageExport", "View", "pack_bytes", "page_export", "query_from_args"]

log = logging.getLogger(__name__)


class _PagePaths(Mapping[str, str]):
    """Each exporting page's path, read from the registry when asked (the pages register as the app loads them)."""

    def __getitem__(self, page: str) -> str:
        return registered()[page].path

    def __iter__(self) -> Iterator[str]:
        return iter(registered())

    def __len__(self) -> int:
        return len(registered())


PAGE_PATHS: Mapping[str, str] = _PagePaths()


def query_from_args(args: Mapping[str, Sequence[str]]) -> dict[str, object]:
    """A query string as Dash Pages hands it to `layout(**query)`: one value as a string, repeats as a list."""
    return {key: (list(values) if len(values) > 1 else values[0]) for key, values in args.items() if values}


def page_export(page: str, query: Mapping[str, object], base_url: str) -> PageExport:
    """Every view of `page` for the state its query string describes (parsed as the page parses it)."""
    exports = page_exports(page)
    choice = data.resolve_vintage(query.get("vintage"))
    if choice.vintage is None:
        raise ExportUnavailable("no curated data yet: run the pipeline (make run)")
    request = ExportRequest(exports, choice.vintage, query, base_url)
    if choice.message:
        request.messages.append(choice.message)
    built = exports.build(request)
    return PageExport(page, choice.vintage, built.context.permalink, built.views, tuple(request.messages))


# --------------------------------------------------------------------------------------------------------------
# The briefing pack
# --------------------------------------------------------------------------------------------------------------

HEADLINE_INDICATORS = data.KPI_INDICATORS


def _headline(vintage: data.Vintage) -> tuple[tuple[int, ...], tuple[HeadlineRow, ...], tuple[str, ...],
                                                tuple[str, ...]]:
    """EU totals of every headline indicator for every wave, the change sentences and the coverage lines."""
    dims = data.dimensions(vintage)
    years = dims.years
    rows: list[HeadlineRow] = []
    sentences: list[str] = []
    for indicator in HEADLINE_INDICATORS:
        meta = data.indicator_meta(vintage, indicator)
        frame = data.yearly_totals(vintage, indicator).set_index("year")
        cells = []
        for year in years:
            if year not in frame.index:
                cells.append(HeadlineCell(None))
                continue
            r = frame.loc[year]
            value = None if pd.isna(r["value"]) else float(r["value"])
            published = ""
            if r["published_value"] is not None and not pd.isna(r["published_value"]):
                qualifier = f"{r['published_qualifier']} " if r["published_qualifier"] else ""
                published = f"{qualifier}{exact(float(r['published_value']), meta.unit)} ({r['published_status']})"
            cells.append(HeadlineCell(value, flag_codes(
                synthetic=bool(r["synthetic"]), not_published=bool(r["not_published"]),
                break_in_series=bool(r["break_in_series"]), derived=r["published_status"] == "derived"),
                published))
        rows.append(HeadlineRow(indicator, meta.label, meta.unit, tuple(cells)))
        values = {y: c.value for y, c in zip(years, cells, strict=True)}
        reported = [y for y in years if values[y] is not None]
        if reported:
            year = reported[-1]
            before = [y for y in years if y < year]
            previous_year = before[-1] if before else None
            sentence = change_sentence(indicator, meta.unit, year, values[year], previous_year,
                                       values.get(previous_year) if previous_year else None,
                                       break_in_series=data.break_in_series(vintage, indicator, year))
            if sentence:
                sentences.append(sentence)
    progress = data.commitments_progress(vintage).set_index("year")
    shares = [None if y not in progress.index or pd.isna(progress.loc[y, "share"])
              else float(progress.loc[y, "share"]) for y in years]
    rows.append(HeadlineRow("commitments_progressing_share", "Commitments progressing", "%", tuple(
        HeadlineCell(None if s is None else s * 100, flag_codes(synthetic=data.is_synthetic(vintage)))
        for s in shares)))
    with_share = [(y, s) for y, s in zip(years, shares, strict=True) if s is not None]
    if with_share:
        y, s = with_share[-1]
        prev = with_share[-2] if len(with_share) > 1 else (None, None)
        text = share_sentence(y, s, prev[0], prev[1])
        if text:
            sentences.append(text)
    rates = data.response_rates(vintage)
    coverage = tuple(
        f"{int(r.year)}: {count(r.n_respondents)} survey respondents of {count(r.n_registered)} members registered "
        f"at the end of the year" + (f" (response rate {percent(r.response_rate)})"
                                     if not math.isnan(r.response_rate) else "") + "."
        for r in rates.itertuples()
    )
    cumulative = data.cumulative_people_trained(vintage)
    for t in analysis.target_progress(cumulative, data.targets(vintage)):
        sentences.append(target_sentence(
            people=t.people, qualifier=t.qualifier, first_year=t.first_year, latest_year=t.latest_year,
            cumulative=t.cumulative, achieved_pace=t.achieved_pace, projected_year=t.projected_year,
            deadline_year=t.deadline_year, needed_pace=t.needed_pace, pledge_text=t.text,
        ))
    return years, tuple(rows), tuple(sentences), coverage


def _doc_table(table: ExportTable, limit: int = 40) -> DataTable | None:
    frame = table.frame
    if frame.empty:
        return None
    shown = frame.head(limit)
    rows = []
    for record in shown[[c.key for c in table.columns]].itertuples(index=False, name=None):
        cells = []
        for value, column in zip(record, table.columns, strict=True):
            if value is None or (not isinstance(value, str) and pd.isna(value)):
                cells.append("–")
            elif column.kind == "euro":
                cells.append(exact(float(value), "EUR"))
            elif column.kind in ("integer",):
                cells.append(count(int(value)) if column.key not in ("year", "previous_year", "version") and
                             "year" not in column.key else str(int(value)))
            elif column.kind in ("decimal", "percent"):
                cells.append(fixed(float(value), 0 if float(value).is_integer() else 1, half_up=False))
            else:
                cells.append(str(value))
        rows.append(tuple(cells))
    note = f"First {limit} of {len(frame)} rows; all rows are in the workbook." if len(frame) > limit else ""
    return DataTable(table.meta.title, tuple(c.header for c in table.columns), tuple(rows), note)


def pack_bytes(
    export: PageExport,
    render: Callable[..., bytes] | None = None,
) -> tuple[str, bytes]:
    """The briefing pack of a page: (file name, ZIP bytes) holding the Word briefing, the XLSX and the PNGs."""
    from dashboard import images  # imported here: starting Chromium is only for packs and images

    render = render or images.render
    vintage = export.vintage
    info = data.vintage_info(vintage)
    years, headline, eu_sentences, coverage = _headline(vintage)
    # what this view shows comes first; the EU headline sentences follow
    sentences = (*(v.summary for v in export.views if v.summary), *eu_sentences)
    first = export.views[0].table.meta
    charts: list[ChartImage] = []
    pngs: dict[str, bytes] = {}
    problems: list[str] = []
    for view in export.views:
        if view.figure is None:
            continue
        try:
            png = render(figure_for_export(view.figure, view.table.meta), "png")
        except Exception as exc:  # a pack without pictures beats no pack: say so in the document
            log.warning("chart %s not rendered: %s", view.key, exc)
            problems.append(f"The chart “{view.table.meta.title}” could not be drawn on the server ({exc}); "
                            "its figures are in the workbook.")
            continue
        pngs[f"charts/{len(pngs) + 1:02d}_{view.key}.png"] = png
        charts.append(ChartImage(view.table.meta.title, png, view.table.meta.source_line))
    # A view with no picture (a table view, or a chart that could not be drawn) goes into the document as a table.
    drawn = {chart.title for chart in charts}
    tables = tuple(t for t in (_doc_table(v.table) for v in export.views if v.table.meta.title not in drawn)
                   if t is not None)
    sources = [(f.title or f.path, f.path) for f in first.inputs]
    sources += [(f"Published figure: {r.indicator} {year_span(int(r.period_start), int(r.period_end))}",
                 str(r.source_url).split(" ; ")[0])
                for r in data.published_vs_computed(vintage).itertuples() if r.source_url]
    flags = sorted({code for row in headline for cell in row.cells for code in cell.flags.split()}
                   | {code for v in export.views for code in v.table.meta.flags})
    notes = list(dict.fromkeys(n for v in export.views for n in v.table.meta.notes))
    notes.append("Figures are computed by Pact Monitor from the survey waves listed below; each published "
                 "figure is shown beside the computed one where the Commission published one.")
    page_title = page_exports(export.page).title
    briefing = Briefing(
        title=f"Pact for Skills – {page_title} briefing",
        view=page_title, vintage_id=vintage.vintage_id, permalink=export.permalink,
        years=years, headline=headline, sentences=sentences, coverage=coverage, charts=tuple(charts),
        # every selection the views were made with (a benchmark's partnership, group, indicator and year included)
        tables=tables, filters=tuple(dict.fromkeys(f for v in export.views for f in v.table.meta.filters)),
        sources=tuple(dict.fromkeys(sources)), notes=tuple(notes),
        flags=tuple(flags), vintage_created=info.created_at, synthetic=info.synthetic, problems=tuple(problems),
    )
    pack_meta = first if export.page == "explore" else dataclasses.replace(
        first, slug=export.page, indicator=None, breakdown=None,
        years=(years[0], years[-1]) if years else first.years)
    stem = export_filename(pack_meta, "zip").rsplit(".", 1)[0]
    workbook = to_xlsx_bytes([v.table for v in export.views], sheet_names=[v.key for v in export.views])
    files = {
        f"{stem}/briefing.docx": build_docx(briefing),
        f"{stem}/{stem}.xlsx": workbook,
        **{f"{stem}/{name}": png for name, png in pngs.items()},
    }
    return f"{stem}_briefing.zip", zip_bytes(files)

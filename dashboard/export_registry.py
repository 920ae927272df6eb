"""The page export registry: each page module (dashboard/pages/) registers what it exports, next to its layout and
callbacks, in the spirit of datasette's output renderers. This module holds the registry and the vocabulary a
page's export builder speaks (views, the request, the shared metadata); dashboard/export_views.py holds the generic
machinery (resolving the vintage, the permalink, the briefing pack) and never names a page.

It imports neither the app nor a page, so a page can import it while Dash Pages is still loading the pages.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace

import pandas as pd
import plotly.graph_objects as go

from dashboard import data, state
from dashboard.exports import (
    Definition,
    ExportMeta,
    ExportTable,
    InputFile,
    figure_for_export,
    to_csv_bytes,
    to_xlsx_bytes,
)

NOT_ADDITIVE = ("A member in several partnerships counts in each, so figures across partnerships are not additive: "
                "never sum or stack them.")
EU_TOTAL_RULE = "An EU total counts each member once; a breakdown by ecosystem uses the member's primary ecosystem."


class ExportUnavailable(RuntimeError):
    """No curated data to export (the pipeline has not run)."""


class FormatUnavailable(RuntimeError):
    """This server cannot write the format now (chart images without a working Chromium)."""


@dataclass(frozen=True)
class View:
    """One chart or table of a page: its rows and, for a chart, the on-screen figure."""

    key: str
    table: ExportTable
    figure: go.Figure | None = None
    summary: str = ""  # what the view shows, in a sentence: the briefing's first key points

    @property
    def formats(self) -> tuple[str, ...]:
        """The file formats this view exports to: its rows always, a picture only for a chart."""
        return tuple(f.ext for f in VIEW_FORMATS.values() if not f.chart or self.figure is not None)


# --------------------------------------------------------------------------------------------------------------
# File formats of one view (the export bar's links and the /export/<page>/<view>.<ext> route read them here)
# --------------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ExportFormat:
    ext: str
    label: str  # on the download link
    icon: str  # Bootstrap icon class
    media_type: str
    chart: bool  # a picture of the view's chart, so only for a view with a figure
    write: Callable[[View], bytes]


def _image(fmt: str) -> Callable[[View], bytes]:
    def write(view: View) -> bytes:
        from dashboard import images  # imported here: starting Chromium is only for chart images

        try:
            return images.render(figure_for_export(view.figure, view.table.meta), fmt)  # type: ignore[arg-type]
        except images.ImageRenderError as exc:
            raise FormatUnavailable(str(exc)) from exc

    return write


VIEW_FORMATS: dict[str, ExportFormat] = {f.ext: f for f in (
    ExportFormat("csv", "CSV", "bi-filetype-csv", "text/csv; charset=utf-8", False,
                 lambda view: to_csv_bytes(view.table)),
    ExportFormat("xlsx", "XLSX", "bi-file-earmark-spreadsheet",
                 "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", False,
                 lambda view: to_xlsx_bytes(view.table)),
    ExportFormat("png", "PNG", "bi-file-earmark-image", "image/png", True, _image("png")),
    ExportFormat("svg", "SVG", "bi-filetype-svg", "image/svg+xml", True, _image("svg")),
)}


@dataclass(frozen=True)
class PageExport:
    page: str
    vintage: data.Vintage
    permalink: str
    views: tuple[View, ...]
    messages: tuple[str, ...] = ()

    def view(self, key: str) -> View:
        for view in self.views:
            if view.key == key:
                return view
        raise KeyError(key)

    @property
    def keys(self) -> tuple[str, ...]:
        return tuple(v.key for v in self.views)


# --------------------------------------------------------------------------------------------------------------
# Shared metadata
# --------------------------------------------------------------------------------------------------------------


def flag_codes(*, synthetic: bool = False, not_published: bool = False, break_in_series: bool = False,
               derived: bool = False, missing: bool = False, withheld: bool = False) -> str:
    """Eurostat-style flag codes for one figure (legend in dashboard.exports.FLAG_LEGEND); `missing`: no member in
    the cell reported, `withheld`: members reported but public mode shows no figure."""
    codes = [code for code, on in (("s", synthetic), ("n", not_published), ("b", break_in_series), ("d", derived),
                                   ("m", missing), ("c", withheld)) if on]
    return " ".join(codes)


def withheld_cells(frame: pd.DataFrame) -> list[bool]:
    """Members reported yet no value: the query layer withheld it (public mode's disclosure control)."""
    return [bool(n) and pd.isna(v) for v, n in zip(frame["value"], frame["n_reporting"], strict=True)]


def _codes_in(frame: pd.DataFrame, column: str = "flags") -> tuple[str, ...]:
    if column not in frame.columns:
        return ()
    found = {code for text in frame[column].dropna() for code in str(text).split()}
    return tuple(code for code in ("s", "n", "b", "p", "d", "m", "c") if code in found)


def counting_rule(meta: data.IndicatorMeta) -> str:
    parts = ["EU total counts each member once"]
    parts.append("summed over members" if meta.sum_over_members else "not summed over members")
    parts.append("summed over years in a range" if meta.sum_over_years
                 else "a stock: a range shows its last year only, never a sum over years")
    parts.append("partnership figures are not additive")
    return "; ".join(parts)


def definitions(vintage: data.Vintage, indicators: Sequence[str] | None = None) -> tuple[Definition, ...]:
    catalogue = data.indicator_catalogue(vintage)
    chosen = [m for m in catalogue if indicators is None or m.indicator in indicators]
    return tuple(Definition(m.indicator, m.label, m.unit, m.definition, counting_rule(m)) for m in chosen)


def _inputs(vintage: data.Vintage) -> tuple[InputFile, ...]:
    return tuple(InputFile(path=i.path, kind=i.kind, sha256=i.sha256, rows=i.rows, title=i.title,
                           publisher=i.publisher, received=i.received, source_url=i.source_url)
                 for i in data.manifest(vintage).inputs)


@dataclass(frozen=True)
class ExportContext:
    """What every view of one page request shares."""

    vintage: data.Vintage
    info: data.VintageInfo
    dims: data.Dimensions
    permalink: str
    title: str  # the page's name, as in the navigation bar
    filters: tuple[tuple[str, str], ...]
    inputs: tuple[InputFile, ...]

    def meta(self, title: str, *, frame: pd.DataFrame | None = None, **fields) -> ExportMeta:
        flags = fields.pop("flags", None)
        if flags is None:
            flags = _codes_in(frame) if frame is not None else (("s",) if self.info.synthetic else ())
        return ExportMeta(
            view=fields.pop("view", self.title), title=title, vintage_id=self.vintage.vintage_id,
            permalink=self.permalink, vintage_created=self.info.created_at,
            synthetic=fields.pop("synthetic", self.info.synthetic), filters=fields.pop("filters", self.filters),
            waves=self.dims.years, inputs=self.inputs, flags=tuple(flags), **fields,
        )


@dataclass
class ExportRequest:
    """One export request as a page's builder sees it: the resolved vintage, the query string (parsed by the page,
    as the page parses it) and the messages any correction of it leaves."""

    page: PageExports
    vintage: data.Vintage
    query: Mapping[str, object]
    base_url: str
    messages: state.Messages = field(default_factory=state.Messages)

    def context(self, search: str, filters: tuple[tuple[str, str], ...] = ()) -> ExportContext:
        """The shared metadata of the views, for the view on screen at `search` (the permalink's query string)."""
        permalink = self.base_url.rstrip("/") + self.page.path + search
        return ExportContext(self.vintage, data.vintage_info(self.vintage), data.dimensions(self.vintage),
                             permalink, self.page.title, filters, _inputs(self.vintage))


@dataclass(frozen=True)
class PageViews:
    """What a page's export builder returns: the shared metadata (with the permalink) and the views."""

    context: ExportContext
    views: tuple[View, ...]


Builder = Callable[[ExportRequest], PageViews]
# The data URL (/api/v1/data.<fmt>) answers with the rows a page makes from its query string and one or two
# breakdowns (Explore's tidy cells).
DataUrlBuilder = Callable[[ExportRequest, tuple[str, ...]], ExportTable]


@dataclass(frozen=True)
class PageExports:
    page: str  # the page's id, as in its component ids and the export URLs (/export/<page>/...)
    path: str
    title: str
    build: Builder
    data_url: DataUrlBuilder | None = None  # set by register_data_url: the page answers the data URL


_REGISTRY: dict[str, PageExports] = {}


def register(page: str, *, path: str, title: str) -> Callable[[Builder], Builder]:
    """Decorator: `build` makes every view `page` exports. Use the same path and title as `register_page`."""

    def decorate(build: Builder) -> Builder:
        _REGISTRY[page] = PageExports(page, path, title, build)
        return build

    return decorate


def register_data_url(page: str) -> Callable[[DataUrlBuilder], DataUrlBuilder]:
    """Decorator, after `register`: `build` makes the data URL's rows from the page's query and the breakdowns."""

    def decorate(build: DataUrlBuilder) -> DataUrlBuilder:
        _REGISTRY[page] = replace(_REGISTRY[page], data_url=build)
        return build

    return decorate


def registered() -> Mapping[str, PageExports]:
    """Every page with exports, in the order the pages were registered (empty until dashboard.app is imported)."""
    return dict(_REGISTRY)


def page_exports(page: str) -> PageExports:
    if page in _REGISTRY:
        return _REGISTRY[page]
    if not _REGISTRY:
        raise ExportUnavailable(f"the {page} page is not registered: import dashboard.app first")
    raise KeyError(page)

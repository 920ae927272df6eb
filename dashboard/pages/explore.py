"""Explore (`/explore`): any indicator by year, ecosystem, Member State, partnership or member type, with
filters and a year range; chart, EU map and table views of the same selection. Clicking a bar or a country
sets the matching filter (clicking it again clears it)."""

from __future__ import annotations

import dataclasses
from concurrent.futures import Future
from typing import Any

import dash_bootstrap_components as dbc
import pandas as pd
from dash import Input, Output, Patch, State, callback, ctx, dcc, html, no_update, register_page

from dashboard import crosstab, data, figures, ui
from dashboard.briefing import coverage_text
from dashboard.components.export_bar import export_links, pack_button, register_export_bar
from dashboard.crosstab import CellQuery
from dashboard.data import IndicatorMeta, Vintage
from dashboard.disclosure import THRESHOLD
from dashboard.export_registry import (
    EU_TOTAL_RULE,
    NOT_ADDITIVE,
    ExportContext,
    ExportRequest,
    PageViews,
    View,
    definitions,
    flag_codes,
    register,
    register_data_url,
    withheld_cells,
)
from dashboard.exports import Column, ColumnKind, ExportTable
from dashboard.formatting import count, full, year_span
from dashboard.measures import MEASURES, NO_FIGURE
from dashboard.state import (
    BREAKDOWN_LABELS,
    ExploreState,
    Messages,
    explore_defaults,
    grid_sort,
    parse_explore,
)

PAGE_ID = "explore"
PATH = "/explore"
NAME = "Explore"
TITLE = "Explore the indicators"


class ID:
    """The page's component ids, each written once (the tests and the browser suite name the same strings)."""

    BY = "explore-by"
    CHANGE = "explore-change"
    CHART = "explore-chart"
    CHART_SUMMARY = "explore-chart-summary"
    COUNTRY = "explore-country"
    ECOSYSTEM = "explore-ecosystem"
    GRID = "explore-grid"
    GRID_CAPTION = "explore-grid-caption"
    INDICATOR = "explore-indicator"
    LINES = "explore-lines"
    LINES_SUMMARY = "explore-lines-summary"
    MAP = "explore-map"
    MAP_SUMMARY = "explore-map-summary"
    MAP_YEAR = "explore-map-year"
    MEASURE = "explore-measure"
    PARTNERSHIP = "explore-partnership"
    RESET = "explore-reset"
    SHOW = "explore-show"
    STATUS = "explore-status"
    TYPE = "explore-type"
    VIEW = "explore-view"
    VINTAGE = "explore-vintage"
    YEAR_FROM = "explore-year-from"
    YEAR_TO = "explore-year-to"


FILTER_IDS = (ID.ECOSYSTEM, ID.COUNTRY, ID.PARTNERSHIP, ID.TYPE)

VIEW_LABELS = (("chart", "Chart"), ("lines", "Over time"), ("map", "EU map"), ("table", "Table"))
RANGE = "range"  # the map year control's "the whole year range"
NO_CHANGE = "none"  # the change control's "no change columns" (dbc.Select keeps "" for its placeholder)
DEFAULT_LINES = 5  # the lines view draws the total and this many of the largest categories unless told otherwise

register_page(__name__, path=PATH, name=NAME, title=f"{NAME} · Pact Monitor", order=1)
ui.register_url_sync(PAGE_ID)
ui.register_view_switch(ID.VIEW, [v for v, _ in VIEW_LABELS])
for _control in (*FILTER_IDS, ID.SHOW):
    ui.register_selection_summary(_control)
register_export_bar(PAGE_ID)


def layout(**query: object) -> html.Div:
    return ui.vintage_layout(PAGE_ID, TITLE, query,
                             lambda vintage, choice, messages: _page(vintage, choice, query, messages))


def _indicators(vintage: Vintage) -> tuple[IndicatorMeta, ...]:
    return data.indicator_catalogue(vintage)


def _state(vintage: Vintage, query: dict, messages: Messages, pinned: str | None) -> ExploreState:
    dims = data.dimensions(vintage)
    names = [m.indicator for m in _indicators(vintage)]
    parsed = parse_explore(query, dims, names, messages)
    return ExploreState(**{**parsed.__dict__, "vintage": pinned})


def _page(vintage: Vintage, choice: data.VintageChoice, query: dict, messages: Messages) -> html.Div:
    pinned = vintage.vintage_id if choice.pinned else None
    state = _state(vintage, query, messages, pinned)
    dims = data.dimensions(vintage)
    totals = status_totals(vintage, state)
    # Each view is drawn when shown: switching views runs the callbacks that draw them.
    view = build_view(vintage, state, chart=state.view == "chart", table=state.view == "table")
    lines: dict[str, Any] = build_lines(vintage, state, messages) if state.view == "lines" else {
        "lines": figures.placeholder("Over time", "Loading the lines…"), "lines_summary": "", "line_options": [],
        "lines_shown": ()}
    search = _search(vintage, state)
    map_fig, map_text = build_map(vintage, state) if state.view == "map" else (
        figures.placeholder("EU map", "Loading the map…", figures.MAP_HEIGHT), "")
    pairs = [(f"{a}-{b}", f"{a} to {b}") for a in dims.years for b in dims.years if a < b]
    controls = ui.control_card([
        ui.select(ID.INDICATOR, "Indicator", [(m.indicator, m.label) for m in _indicators(vintage)],
                  state.indicator),
        ui.select(ID.BY, "Break down by", list(BREAKDOWN_LABELS.items()), state.by),
        ui.select(ID.MEASURE, "Measure", [(m.key, m.label) for m in MEASURES.values()], state.measure),
        dbc.Row([
            dbc.Col(ui.select(ID.YEAR_FROM, "From year", [(y, str(y)) for y in dims.years], state.year_from)),
            dbc.Col(ui.select(ID.YEAR_TO, "To year", [(y, str(y)) for y in dims.years], state.year_to)),
        ], className="g-2"),
        ui.select(ID.CHANGE, "Table: change between", [(NO_CHANGE, "no change columns"), *pairs],
                  state.change or NO_CHANGE),
        html.Hr(className="my-2"),
        html.P("Filters (empty = all members)", className="small fw-semibold mb-1"),
        ui.multi_select(ID.ECOSYSTEM, "Industrial ecosystem (primary)", dims.ecosystems, state.ecosystems),
        ui.multi_select(ID.COUNTRY, "Member State", dims.member_states, state.countries),
        ui.multi_select(ID.PARTNERSHIP, "Partnership (members since joining)", dims.partnerships,
                        state.partnerships),
        ui.multi_select(ID.TYPE, "Member type", [(t, t) for t in dims.member_types], state.member_types),
        html.A("Reset the selection", href="/explore" + (f"?vintage={pinned}" if pinned else ""),
               className="small", id=ID.RESET),
    ])
    map_year = ui.select(ID.MAP_YEAR, "Map year", [(RANGE, "the year range, summed"),
                                                   *[(y, str(y)) for y in dims.years]],
                         state.map_year if state.map_year is not None else RANGE)
    panes = html.Div([
        html.Div(ui.chart(ID.CHART, view["figure"], view["summary"], filename=view["filename"]),
                 id=ui.pane_id(ID.VIEW, "chart"), hidden=state.view != "chart"),
        html.Div([
            ui.multi_select(ID.SHOW, "Lines shown", lines["line_options"], lines["lines_shown"]),
            ui.chart(ID.LINES, lines["lines"], lines["lines_summary"], filename=view["filename"] + "-lines"),
        ], id=ui.pane_id(ID.VIEW, "lines"), hidden=state.view != "lines"),
        html.Div([html.Div(map_year, className="map-year"),
                  ui.chart(ID.MAP, map_fig, map_text, filename=view["filename"] + "-map", geo=True)],
                 id=ui.pane_id(ID.VIEW, "map"), hidden=state.view != "map"),
        html.Div([
            html.P(view["table_caption"], id=ID.GRID_CAPTION, className="small text-body-secondary"),
            ui.grid(ID.GRID, view["rows"], view["columns"], height=420, column_size=None, pinned_top=view["pinned"]),
        ], id=ui.pane_id(ID.VIEW, "table"), hidden=state.view != "table"),
    ])
    tabs = html.Div([ui.view_switch(ID.VIEW, VIEW_LABELS, state.view, "Show the selection as"), panes])
    body = [dbc.Row([
        dbc.Col(controls, lg=3),
        dbc.Col([pack_button(PAGE_ID),
                 html.Div(status_line(vintage, state, totals), id=ID.STATUS, className="status-line mb-2",
                          **ui.aria(live="polite")),
                 tabs, export_links(PAGE_ID, "explore", search, what="this selection")], lg=9),
    ])]
    return ui.page(PAGE_ID, TITLE,
                   "Any indicator by year, industrial ecosystem, Member State, partnership or member type, as a "
                   "total, per reporting member, as a share or as a change. Click a bar or a country to filter on "
                   "it.",
                   body, choice, messages,
                   [*ui.url_sync(PAGE_ID, search),
                    dcc.Store(id=ID.VINTAGE, data=pinned)])


def _filters_text(vintage: Vintage, state: ExploreState) -> str:
    dims = data.dimensions(vintage)
    parts = []
    for label, by, codes in (("ecosystem", "ecosystem", state.ecosystems), ("Member State", "member_state",
                             state.countries), ("partnership", "partnership", state.partnerships)):
        if codes:
            parts.append(f"{label}: " + ", ".join(dims.label(by, c) for c in codes))
    if state.member_types:
        parts.append("member type: " + ", ".join(state.member_types))
    return "; ".join(parts) if parts else "all members"


def measured_meta(meta: IndicatorMeta, measure: str) -> IndicatorMeta:
    """The indicator as a measure shows it: its label and unit (a share or a change is a ratio)."""
    chosen = MEASURES[measure]
    return dataclasses.replace(meta, label=chosen.title(meta.label), unit=chosen.unit or meta.unit)


def _cell_query(state: ExploreState, by: tuple[str, ...], filters: data.Filters | None = None) -> CellQuery:
    return CellQuery(state.indicator, by, state.year_from, state.year_to,
                     state.filters if filters is None else filters, state.measure, state.change_years)


def _chart_frame(vintage: Vintage, state: ExploreState) -> pd.DataFrame:
    """The bars: key, label, value, raw_value, n_reporting (largest first; years in order)."""
    if state.measure == "total":
        frame = data.breakdown(vintage, state.indicator, state.by, state.year_from, state.year_to,
                               _filters_beside(state))
        if state.by == "year":
            frame = frame[frame["key"].astype(int).between(state.year_from, state.year_to)].reset_index(drop=True)
        return frame
    cells = crosstab.measured(vintage, _cell_query(state, (state.by,), _filters_beside(state)))
    cells = cells[cells[state.by] != data.total_row(state.by)[0]] if state.by != "year" else cells
    frame = cells.rename(columns={state.by: "key", f"{state.by}_label": "label"})
    frame = frame[frame["n_reporting"].gt(0)]
    frame = frame.sort_values("key") if state.by == "year" else frame.sort_values(["value", "label"],
                                                                                  ascending=[False, True])
    return frame[["key", "label", "value", "raw_value", "n_reporting"]].reset_index(drop=True)


def build_view(vintage: Vintage, state: ExploreState, *, chart: bool = True, table: bool = True) -> dict[str, Any]:
    """Everything the chart and table views show for one selection (pure apart from the cached queries). A view
    left out is built when shown, as the lines and the map are: without `chart`, the chart is a placeholder; without
    `table`, the table's rows and columns are empty."""
    meta = data.indicator_meta(vintage, state.indicator)
    shown_meta = measured_meta(meta, state.measure)
    year_from, year_to = data.effective_years(meta, state.by, state.year_from, state.year_to)
    filters_text = _filters_text(vintage, state)
    # A filter on the dimension broken down by highlights its bars among all of them: filtering would collapse the
    # chart to the chosen bars, and a click on a bar would leave nothing to compare it with. By year, the bars'
    # cells are the table's rows too.
    frame = _chart_frame(vintage, state) if chart or (table and state.by == "year") else None
    if frame is not None and chart:
        stock_note = ("" if meta.sum_over_years or state.by == "year"
                      else f" {meta.label} is a stock: the last year of the range is shown.")
        if state.measure == "change" and state.by != "year":
            stock_note += f" Each bar is the change from the survey year before {state.year_to} to {state.year_to}."
            year_from = year_to = state.year_to
        selected = {"ecosystem": state.ecosystems, "member_state": state.countries,
                    "partnership": state.partnerships, "member_type": state.member_types}.get(state.by, ())
        figure = figures.breakdown_figure(frame, shown_meta, state.by, year_from, year_to,
                                          f"Selection: {filters_text}", selected)
        summary = (figures.breakdown_summary(frame, shown_meta, state.by, year_from, year_to) + stock_note
                   + _withheld_note(frame))
    else:
        figure, summary = figures.placeholder(figures.breakdown_title(shown_meta, state.by, state.year_from,
                                                                      state.year_to), "Loading the chart…"), ""
    pinned = None
    withheld_note = ""
    if not table:
        rows, columns = pd.DataFrame(), []
    elif frame is not None and state.by == "year":
        rows, columns = _grid_frame(frame, shown_meta, state.by), _grid_columns(shown_meta, state.by, state.sort)
        withheld_note = _withheld_note(frame)
    else:
        rows, columns = _cross_grid(vintage, state, shown_meta)
        withheld_note = _withheld_note(rows)
        # The total row stays on top whatever the sort (as in Eurostat's tables).
        pinned, rows = rows.iloc[:1], rows.iloc[1:].reset_index(drop=True)
    by_year_then_range = ": by year, then the range" if state.by != "year" and crosstab.per_year_columns(
        state.year_from, state.year_to, state.measure) else ""
    return {
        "figure": figure,
        "summary": summary,
        "rows": rows,
        "pinned": pinned,
        "columns": columns,
        "table_caption": (f"{figures.breakdown_title(shown_meta, state.by, state.year_from, state.year_to)}"
                          f"{by_year_then_range}. Selection: "
                          f"{filters_text}." + (f" {figures.NOT_ADDITIVE_NOTE}" if state.by == "partnership" else "")
                          + (" “:” marks a cell with no figure; its flags say why (m: nobody reported, c: "
                             "withheld)." if state.by != "year" else "") + withheld_note),
        "filename": _filename(state),
    }


def build_lines(vintage: Vintage, state: ExploreState, messages: Messages | None = None) -> dict[str, Any]:
    """The lines view: the chosen categories (default: the total and the largest few) over the year range."""
    meta = data.indicator_meta(vintage, state.indicator)
    frame = crosstab.series(vintage, _cell_query(state, (state.by,)))
    options = list(dict(zip(frame["key"], frame["label"], strict=True)).items())
    known = {key for key, _ in options}
    unknown = [code for code in state.show if code not in known]
    if unknown and messages is not None:
        messages.ignored("line", ", ".join(unknown), f"not a category of the breakdown by "
                         f"{BREAKDOWN_LABELS[state.by].lower()}")
    shown = [code for code in state.show if code in known] or _default_lines(frame, state.by)
    chosen = frame[frame["key"].isin(shown)]
    chosen = chosen.assign(_order=chosen["key"].map({k: n for n, k in enumerate(shown)})).sort_values(
        ["_order", "year"], kind="stable").drop(columns="_order")
    breaks = [y for y in crosstab.breaks(vintage, state.indicator) if state.year_from <= y <= state.year_to]
    shown_meta = measured_meta(meta, state.measure)
    subtitle = f"Selection: {_filters_text(vintage, state)}"
    return {
        "lines": figures.lines_figure(chosen, shown_meta, state.by, state.year_from, state.year_to, breaks, subtitle),
        "lines_summary": figures.lines_summary(chosen, shown_meta, state.by, state.year_from, state.year_to),
        "line_options": options,
        "lines_shown": tuple(shown),
    }


def _default_lines(frame: pd.DataFrame, by: str) -> list[str]:
    """The total and the categories with the largest figures over the range (their own values, whatever the
    measure)."""
    total = data.total_row(None if by == "year" else by)[0]
    sizes = frame[frame["key"] != total].groupby("key", sort=False)["figure"].sum(min_count=1).dropna()
    largest = sizes.sort_values(ascending=False, kind="stable").index[:DEFAULT_LINES].tolist()
    return [total, *largest]


def _cross_grid(vintage: Vintage, state: ExploreState, meta: IndicatorMeta) -> tuple[pd.DataFrame, list[dict]]:
    """The table view of a non-year breakdown: category × year, the range, and the chosen change."""
    table = crosstab.cross_table(vintage, _cell_query(state, (state.by,)))
    years = [c for c in table.columns if c.isdigit()]
    rows = table.rename(columns={y: f"y{y}" for y in years} | {f"{y}_flags": f"y{y}_flags" for y in years})
    range_meta = measured_meta(data.indicator_meta(vintage, state.indicator),
                               "total" if state.measure == "change" else state.measure)
    columns: list[dict] = [{"field": "label", "headerName": BREAKDOWN_LABELS[state.by], "filter": "agTextColumnFilter",
                            "pinned": "left", "minWidth": 200}]
    for year in years:
        columns.append(ui.cross_column(f"y{year}", year, meta.unit, f"y{year}_flags", state.measure == "change"))
    columns.append(ui.cross_column("value", f"{year_span(state.year_from, state.year_to)}"
                                   f"{'' if range_meta.sum_over_years else ' (last year)'}", range_meta.unit, "flags"))
    columns.append(ui.number_column("n_reporting", "Members reporting"))
    if state.change_years:
        first, last = state.change_years
        columns.append(ui.cross_column("change", f"Change {first}–{last}", range_meta.unit, "change_flags", True))
        columns.append(ui.cross_column("change_pct", f"Change {first}–{last} (%)", "share", "change_flags", True))
    columns.append({"field": "flags", "headerName": "Flags", "width": 90})
    for column in columns:  # the sort from the URL (a column this breakdown lacks is left unsorted)
        if column["field"] == state.sort.lstrip("-"):
            column["sort"] = "desc" if state.sort.startswith("-") else "asc"
    return rows, columns


SAME_DIMENSION = {"ecosystem": "ecosystems", "member_state": "countries", "partnership": "partnerships",
                  "member_type": "member_types"}


def _filters_beside(state: ExploreState) -> data.Filters:
    """The selection's filters without the one on the breakdown's own dimension (its values are highlighted)."""
    field = SAME_DIMENSION.get(state.by)
    return dataclasses.replace(state.filters, **{field: ()}) if field else state.filters


def _filename(state: ExploreState) -> str:
    return f"pact-{state.indicator}-by-{state.by}-{year_span(state.year_from, state.year_to)}".replace("–", "-")


def _withheld(frame: pd.DataFrame) -> pd.Series:
    """Cells with reporting members and no value: withheld by the public deployment's disclosure control."""
    return frame["value"].isna() & frame["n_reporting"].gt(0)


def _withheld_note(frame: pd.DataFrame) -> str:
    withheld = int(_withheld(frame).sum())
    if not withheld:
        return ""
    return (f" {withheld} figure{'s' if withheld > 1 else ''} withheld: this public deployment shows a figure only "
            "where it follows from the published totals (EU, and by ecosystem, Member State, member type and "
            f"partnership) without revealing what fewer than {THRESHOLD} members reported.")


def _grid_frame(frame: pd.DataFrame, meta: IndicatorMeta, by: str) -> pd.DataFrame:
    out = pd.DataFrame({
        "label": frame["label"],
        "value": frame["value"],
        "n_reporting": frame["n_reporting"],
    })
    total = frame["value"].sum()
    # Shares of the shown cells only would mislead when some are withheld: then no share is given.
    if by != "partnership" and total and not _withheld(frame).any():
        out["share"] = frame["value"] / total
    return out


def _grid_columns(meta: IndicatorMeta, by: str, sort: str = "") -> list[dict]:
    columns = [
        {"field": "label", "headerName": BREAKDOWN_LABELS[by], "filter": "agTextColumnFilter", "flex": 2},
        ui.number_column("value", f"{meta.label} ({meta.unit})", meta.unit, flex=1),
        ui.number_column("n_reporting", "Members reporting", flex=1),
    ]
    if by != "partnership":
        columns.append(ui.number_column("share", "Share of selection", "share", flex=1))
    for column in columns:  # the sort from the URL (a column this breakdown lacks is left unsorted)
        if column["field"] == sort.lstrip("-"):
            column["sort"] = "desc" if sort.startswith("-") else "asc"
    return columns


def status_totals(vintage: Vintage, state: ExploreState) -> Future[pd.DataFrame]:
    """The selection's yearly totals for its status line, asked before the views are built: a data-layer thread
    answers them meanwhile (the first time, 2-11 ms of a view's time at 100x)."""
    return data.ahead(data.yearly_totals, vintage, state.indicator, state.filters)


def status_line(vintage: Vintage, state: ExploreState, asked: Future[pd.DataFrame]) -> list:
    """The selection's total, its coverage per year and its flags, from its yearly totals (`status_totals`)."""
    meta = data.indicator_meta(vintage, state.indicator)
    totals = asked.result()
    rows = totals[totals["year"].between(state.year_from, state.year_to)]
    coverage = " · ".join(
        f"{int(r.year)}: {count(int(r.n_reporting))} of {count(int(r.n_respondents))} respondents"
        for r in rows.itertuples()
    )
    badges: list[Any] = []
    for r in rows.itertuples():
        if r.break_in_series:
            badges.append(dbc.Badge(f"break in series {int(r.year)}", color="warning", text_color="dark",
                                    className="me-1 fw-normal",
                                    title="The survey question changed that year: compare with care"))
        if not r.not_published and r.comparison:
            badges.append(dbc.Badge(
                f"{int(r.year)} {ui.comparison_words(r.comparison, r.published_status)}"
                f" ({(r.published_qualifier + ' ') if r.published_qualifier else ''}"
                f"{full(r.published_value, meta.unit)})",
                color={"equal": "success", "consistent": "info"}.get(r.comparison, "danger"),
                className="me-1 fw-normal"))
    if not state.filters.is_empty:
        badges.append(dbc.Badge("breakdowns are not published", color="light", text_color="dark",
                                className="me-1 fw-normal border"))
    if meta.sum_over_years:
        # A withheld year leaves the range's total unknown, not the sum of the other years.
        total_value = None if _withheld(rows).any() else rows["value"].sum(min_count=1)
        total = (f"{full(total_value, meta.unit)} {meta.unit if meta.unit != 'EUR' else ''} in "
                 f"{year_span(state.year_from, state.year_to)}, each member counted once")
    else:
        last = rows[rows["year"] == state.year_to]
        total = f"{full(last['value'].iloc[0] if not last.empty else None, meta.unit)} in {state.year_to}"
    return [
        html.Div([html.Strong("Selection total: "), total.replace("  ", " "), "."]),
        html.Div([html.Strong("Reported by: "), coverage or "no survey year in range"], className="text-body-secondary"),
        html.Div(badges) if badges else None,
    ]


def build_map(vintage: Vintage, state: ExploreState) -> tuple[Any, str]:
    """The EU map of the selection's measure: the year range, or the one year of the map's year control."""
    meta = data.indicator_meta(vintage, state.indicator)
    year_from, year_to = (state.map_year, state.map_year) if state.map_year is not None else (
        data.effective_years(meta, "member_state", state.year_from, state.year_to))
    if state.measure == "change":
        year_from = year_to
    query = CellQuery(state.indicator, ("member_state",), year_from, year_to, state.filters, state.measure)
    cells = crosstab.measured(vintage, query)
    frame = cells[cells["member_state"] != data.total_row("member_state")[0]].rename(
        columns={"member_state": "key", "member_state_label": "label"})
    frame = frame[frame["n_reporting"].gt(0)].sort_values(["value", "label"], ascending=[False, True])
    shown_meta = measured_meta(meta, state.measure)
    subtitle = f"Selection: {_filters_text(vintage, state)}"
    n_states = len(data.dimensions(vintage).member_states)
    return (figures.map_figure(frame, shown_meta, year_from, year_to, subtitle),
            figures.map_summary(frame, shown_meta, year_from, year_to, n_states))


CONTROL_INPUTS = [
    Input(ID.INDICATOR, "value"),
    Input(ID.BY, "value"),
    Input(ID.YEAR_FROM, "value"),
    Input(ID.YEAR_TO, "value"),
    Input(ID.ECOSYSTEM, "value"),
    Input(ID.COUNTRY, "value"),
    Input(ID.PARTNERSHIP, "value"),
    Input(ID.TYPE, "value"),
    Input(ID.VIEW, "value"),
    Input(ID.MEASURE, "value"),
    Input(ID.CHANGE, "value"),
    Input(ID.SHOW, "value"),
    Input(ID.MAP_YEAR, "value"),
]


def _triggered() -> object:
    """The control that fired the running callback (None outside one, as when a test calls it directly)."""
    try:
        return ctx.triggered_id
    except Exception:  # dash raises MissingCallbackContextException outside a callback
        return None


def parse_controls(
    values: tuple, pinned: object, sort: str = ""
) -> tuple[data.VintageChoice, ExploreState | None, Messages]:
    """Control values (and the grid's sort), checked exactly like a URL query."""
    indicator, by, year_from, year_to, eco, country, partnership, mtype, view, measure, change, show, map_year = values
    if _triggered() == ID.BY:
        show = None  # the lines of another breakdown: start again from its largest
    query = {"indicator": indicator, "by": by, "from": year_from, "to": year_to, "ecosystem": eco,
             "country": country, "partnership": partnership, "type": mtype, "view": view, "sort": sort,
             "measure": measure, "change": None if change == NO_CHANGE else change, "show": show,
             "year": None if map_year == RANGE else map_year}
    messages = Messages()
    choice = data.resolve_vintage(pinned)
    if choice.vintage is None:
        return choice, None, messages
    pinned_id = choice.vintage.vintage_id if choice.pinned else None
    return choice, _state(choice.vintage, query, messages, pinned_id), messages


@callback(
    Output(ID.CHART, "figure"),
    Output(ID.CHART_SUMMARY, "children"),
    Output(ID.GRID, "rowData"),
    Output(ID.GRID, "columnDefs"),
    Output(ID.GRID_CAPTION, "children"),
    Output(ID.STATUS, "children"),
    Output(ui.permalink_id(PAGE_ID), "data"),
    Output(ui.messages_id(PAGE_ID), "children"),
    Output(ID.GRID, "dashGridOptions"),
    Output(ID.LINES, "figure"),
    Output(ID.LINES_SUMMARY, "children"),
    Output(ID.SHOW, "options"),
    Output(ID.SHOW, "value"),
    Output(ID.LINES, "style"),
    Output(ID.CHART, "style"),  # last: the figure's height (see ui.graph_style)
    *CONTROL_INPUTS,
    State(ID.GRID, "columnState"),
    State(ID.VINTAGE, "data"),
    prevent_initial_call=True,
)
def update_view(*args: object):
    choice, state, messages = parse_controls(args[:-2], args[-1], grid_sort(args[-2]))
    if state is None or choice.vintage is None:
        return (no_update,) * 15
    totals = status_totals(choice.vintage, state)
    lines = build_lines(choice.vintage, state) if state.view == "lines" else None
    view = build_view(choice.vintage, state, chart=state.view == "chart", table=state.view == "table")
    grid: tuple[object, object, object] = (no_update,) * 3  # hidden: filled when the table is shown
    if state.view == "table":
        pinned = Patch()  # only the pinned total row changes among the grid's options
        pinned["pinnedTopRowData"] = ui.grid_records(view["pinned"]) if view["pinned"] is not None else []
        grid = (ui.grid_records(view["rows"]), view["columns"], pinned)
    rows, columns, options = grid
    alerts = ui.message_alerts(messages, PAGE_ID).children if messages else None
    if lines is not None:
        # Codes left from another breakdown are dropped quietly: the boxes on screen are what was chosen.
        choices = [{"label": text, "value": key} for key, text in lines["line_options"]]
        drawn: tuple = (lines["lines"], lines["lines_summary"], choices, list(lines["lines_shown"]),
                        ui.graph_style(lines["lines"]))
    else:
        drawn = (no_update,) * 5
    return (view["figure"], view["summary"], rows, columns, view["table_caption"],
            status_line(choice.vintage, state, totals),
            _search(choice.vintage, state), alerts, options, *drawn, ui.graph_style(view["figure"]))


def _search(vintage: Vintage, state: ExploreState) -> str:
    return state.search(explore_defaults(data.dimensions(vintage), [m.indicator for m in _indicators(vintage)]))


@callback(
    Output(ui.permalink_id(PAGE_ID), "data", allow_duplicate=True),
    Input(ID.GRID, "columnState"),
    *[State(c.component_id, c.component_property) for c in CONTROL_INPUTS],
    State(ID.VINTAGE, "data"),
    prevent_initial_call=True,
)
def sort_to_url(column_state: object, *args: object):
    """Sorting the table changes the permalink only (the grid sorts its own rows)."""
    choice, state, _messages = parse_controls(args[:-1], args[-1], grid_sort(column_state))
    return no_update if state is None or choice.vintage is None else _search(choice.vintage, state)


@callback(
    Output(ID.MAP, "figure"),
    Output(ID.MAP_SUMMARY, "children"),
    *CONTROL_INPUTS,
    State(ID.VINTAGE, "data"),
    prevent_initial_call=True,
)
def update_map(*args: object):
    choice, state, _messages = parse_controls(args[:-1], args[-1])
    if state is None or choice.vintage is None or state.view != "map":
        return no_update, no_update
    return build_map(choice.vintage, state)


@callback(
    Output(ID.ECOSYSTEM, "value"),
    Output(ID.COUNTRY, "value"),
    Output(ID.PARTNERSHIP, "value"),
    Output(ID.TYPE, "value"),
    Output(ID.YEAR_FROM, "value"),
    Output(ID.YEAR_TO, "value"),
    Input(ID.CHART, "clickData"),
    Input(ID.MAP, "clickData"),
    State(ID.BY, "value"),
    State(ID.ECOSYSTEM, "value"),
    State(ID.COUNTRY, "value"),
    State(ID.PARTNERSHIP, "value"),
    State(ID.TYPE, "value"),
    prevent_initial_call=True,
)
def apply_click(chart_click: object, map_click: object, by: object, eco: object, country: object,
                partnership: object, mtype: object):
    """A clicked bar or country becomes the filter of its dimension; clicking the only selected one clears it."""
    unchanged = [no_update] * 6
    source = ctx.triggered_id
    click = map_click if source == ID.MAP else chart_click
    key = _clicked_key(click)
    if key is None:
        return unchanged
    dimension = "member_state" if source == ID.MAP else by
    if dimension == "year":
        return [no_update] * 4 + [key, key]
    slot = {"ecosystem": 0, "member_state": 1, "partnership": 2, "member_type": 3}.get(str(dimension))
    if slot is None:
        return unchanged
    current = [eco, country, partnership, mtype][slot]
    result: list[object] = list(unchanged)
    result[slot] = [] if current == [key] else [key]
    return result


def _clicked_key(click: object) -> str | None:
    """The category key carried in a clicked point's customdata (never trusted further than a string)."""
    try:
        point = click["points"][0]  # type: ignore[index]
        key = point["customdata"][0]
    except (TypeError, KeyError, IndexError):
        return None
    return key if isinstance(key, str) and len(key) <= 80 else None


# --------------------------------------------------------------------------------------------------------------
# Exports: the rows behind the chart, map and table, and the figure on screen
# --------------------------------------------------------------------------------------------------------------


def _unit(meta: data.IndicatorMeta) -> str:
    return "%" if meta.unit == "share" else meta.unit


def _value_column(meta: data.IndicatorMeta, key: str = "value", header: str | None = None,
                  ratio: bool = False) -> Column:
    """A figure's column (`ratio`: a figure divided by members, never whole); a missing figure reads ":"
    (Eurostat's convention), the flags beside it say why."""
    kind: ColumnKind = ("euro" if meta.unit == "EUR" else "percent" if meta.unit == "share"
                        else "integer" if meta.scale == 1 and not ratio else "decimal")
    return Column(key, header or f"{meta.label} ({meta.unit})", kind, missing=NO_FIGURE)


def _explore_filters(dims: data.Dimensions, st: ExploreState) -> tuple[tuple[str, str], ...]:
    def names(pairs: tuple[tuple[str, str], ...], codes: tuple[str, ...]) -> str:
        lookup = dict(pairs)
        return ", ".join(f"{lookup.get(c, c)} ({c})" for c in codes)

    shown = []
    if st.ecosystems:
        shown.append(("Industrial ecosystem", names(dims.ecosystems, st.ecosystems)))
    if st.countries:
        shown.append(("Member State", names(dims.member_states, st.countries)))
    if st.partnerships:
        shown.append(("Partnership", names(dims.partnerships, st.partnerships)))
    if st.member_types:
        shown.append(("Member type", ", ".join(st.member_types)))
    return tuple(shown)


def explore_table(vintage: data.Vintage, st: ExploreState, ctx: ExportContext) -> ExportTable:
    """The rows behind the Explore chart, map and table: one indicator by one dimension over the year range."""
    meta = data.indicator_meta(vintage, st.indicator)
    year_from, year_to = data.effective_years(meta, st.by, st.year_from, st.year_to)
    by_label = BREAKDOWN_LABELS[st.by]
    title = f"{meta.label} by {by_label.lower()}, {year_span(year_from, year_to)}"
    selection = (("Indicator", f"{meta.label} ({st.indicator})"), ("Breakdown", by_label),
                 ("Years", year_span(year_from, year_to)), *ctx.filters)
    notes = [EU_TOTAL_RULE]
    if st.by == "year":
        frame = data.yearly_totals(vintage, st.indicator, st.filters)
        frame = frame[frame["year"].between(year_from, year_to)].reset_index(drop=True)
        frame["flags"] = [
            flag_codes(synthetic=r.synthetic, not_published=r.not_published, break_in_series=r.break_in_series,
                       derived=r.published_status == "derived", withheld=hidden)
            for r, hidden in zip(frame.itertuples(), withheld_cells(frame), strict=True)
        ]
        columns: tuple[Column, ...] = (
            Column("year", "Year", "integer"),
            _value_column(meta),
            Column("flags", "Flags"),
            Column("n_reporting", "Members reporting", "integer"),
            Column("n_respondents", "Survey respondents", "integer"),
            Column("n_registered", "Members registered at year end", "integer"),
            Column("published_value", f"Published figure ({meta.unit})",
                   "euro" if meta.unit == "EUR" else "decimal"),
            Column("published_qualifier", "Published qualifier"),
            Column("comparison", "Computed vs published"),
        )
        if st.measure != "total":
            shown_meta = measured_meta(meta, st.measure)
            measured = crosstab.measured(vintage, _cell_query(st, ("year",)))
            frame["measure"] = frame["year"].astype(str).map(dict(zip(measured["year"], measured["value"],
                                                                       strict=True)))
            if shown_meta.unit == "share":
                frame["measure"] = frame["measure"] * 100
            columns = (*columns[:2], _value_column(shown_meta, "measure", f"{shown_meta.label} ({_unit(shown_meta)})",
                                                   st.measure == "per_member"), *columns[2:])
            selection = (*selection, ("Measure", MEASURES[st.measure].label))
        coverage = "; ".join(
            f"{int(r.year)}: {coverage_text(int(r.n_reporting), int(r.n_respondents))}" for r in frame.itertuples()
        )
    else:
        frame = crosstab.cross_table(vintage, _cell_query(st, (st.by,)))
        years = [c for c in frame.columns if c.isdigit()]
        shown_meta = measured_meta(meta, st.measure)
        range_meta = measured_meta(meta, "total" if st.measure == "change" else st.measure)
        if st.measure != "total":
            title = f"{shown_meta.label} by {by_label.lower()}, {year_span(st.year_from, st.year_to)}"
            selection = (*selection, ("Measure", MEASURES[st.measure].label))
        per_year: list[Column] = []
        for year in years:
            per_year += [_value_column(shown_meta, year, f"{year} ({_unit(shown_meta)})", st.measure == "per_member"),
                         Column(f"{year}_flags", f"{year} flags")]
        change: list[Column] = []
        if st.change_years:
            first, last = st.change_years
            change = [_value_column(range_meta, "change", f"Change {first}-{last} ({_unit(range_meta)})"),
                      Column("change_pct", f"Change {first}-{last} (%)", "percent", missing=NO_FIGURE),
                      Column("change_flags", f"Change {first}-{last} flags")]
        columns = (
            Column("key", f"{by_label} code"),
            Column("label", by_label),
            *per_year,
            _value_column(range_meta, "value", f"{year_span(year_from, year_to)} ({_unit(range_meta)})",
                          st.measure == "per_member"),
            Column("flags", f"{year_span(year_from, year_to)} flags"),
            Column("n_reporting", "Members reporting", "integer"),
            *change,
        )
        frame = frame.copy()
        for column in columns:  # percent columns hold per cent (as every export does), the cells ratios
            if column.kind == "percent":
                frame[column.key] = frame[column.key] * 100
        notes.append(f"“{NO_FIGURE}” marks a cell with no figure; its flags say why (m: no member in it reported, "
                     "c: withheld). The first row counts every member of the selection once.")
        coverage = (f"{int(frame['n_reporting'].iloc[0])} members of the selection reporting in "
                    f"{year_span(year_from, year_to)}")
        if st.by == "partnership":
            notes.append(NOT_ADDITIVE)
    table_meta = ctx.meta(
        title, frame=frame, indicator=st.indicator, breakdown=st.by, years=(year_from, year_to),
        filters=selection, definitions=definitions(vintage, [st.indicator]), notes=tuple(notes),
        coverage=coverage, subtitle=f"{meta.definition}",
    )
    return ExportTable(frame, columns, table_meta)



@register(PAGE_ID, path=PATH, title=NAME)
def export_views(request: ExportRequest) -> PageViews:
    vintage = request.vintage
    st = _state(vintage, dict(request.query), request.messages, vintage.vintage_id)
    ctx = request.context(_search(vintage, st), _explore_filters(data.dimensions(vintage), st))
    # The map always shows Member States, whatever the bar chart's breakdown (and its own year, when one is
    # chosen): its rows are that breakdown. The lines view's rows are the cross-table of its categories and years.
    shown = st
    if st.view == "map":
        year_from, year_to = (st.map_year, st.map_year) if st.map_year is not None else (st.year_from, st.year_to)
        shown = dataclasses.replace(st, by="member_state", year_from=year_from, year_to=year_to)
    table = explore_table(vintage, shown, ctx)
    if st.view == "map":
        figure, summary = build_map(vintage, st)
    elif st.view == "lines":
        lines = build_lines(vintage, st)
        figure, summary = lines["lines"], lines["lines_summary"]
    else:
        view = build_view(vintage, shown, table=False)
        figure, summary = view["figure"], view["summary"]
    return PageViews(ctx, (View(PAGE_ID, table, figure, summary),))


@register_data_url(PAGE_ID)
def data_url_table(request: ExportRequest, by: tuple[str, ...]) -> ExportTable:
    """The data URL's tidy rows for the query (already checked strictly) and one or two breakdowns."""
    vintage = request.vintage
    st = _state(vintage, dict(request.query), request.messages, vintage.vintage_id)
    ctx = request.context(_search(vintage, st), _explore_filters(data.dimensions(vintage), st))
    return crosstab.tidy_table(vintage, _cell_query(st, by), ctx)

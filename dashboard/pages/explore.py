"""Explore (`/explore`): any indicator by year, ecosystem, Member State, partnership or member type, with
filters and a year range; chart, EU map and table views of the same selection. Clicking a bar or a country
sets the matching filter (clicking it again clears it)."""

from __future__ import annotations

import dataclasses
from typing import Any

import dash_bootstrap_components as dbc
import pandas as pd
from dash import Input, Output, State, callback, ctx, dcc, html, no_update, register_page

from dashboard import data, figures, ui
from dashboard.briefing import coverage_text
from dashboard.components.export_bar import export_links, pack_button, register_export_bar
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
    withheld_cells,
)
from dashboard.exports import Column, ExportTable
from dashboard.formatting import count, full, year_span
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
    CHART = "explore-chart"
    CHART_SUMMARY = "explore-chart-summary"
    COUNTRY = "explore-country"
    ECOSYSTEM = "explore-ecosystem"
    GRID = "explore-grid"
    GRID_CAPTION = "explore-grid-caption"
    INDICATOR = "explore-indicator"
    MAP = "explore-map"
    MAP_SUMMARY = "explore-map-summary"
    PARTNERSHIP = "explore-partnership"
    RESET = "explore-reset"
    STATUS = "explore-status"
    TYPE = "explore-type"
    VIEW = "explore-view"
    VINTAGE = "explore-vintage"
    YEAR_FROM = "explore-year-from"
    YEAR_TO = "explore-year-to"


FILTER_IDS = (ID.ECOSYSTEM, ID.COUNTRY, ID.PARTNERSHIP, ID.TYPE)

VIEW_LABELS = (("chart", "Chart"), ("map", "EU map"), ("table", "Table"))

register_page(__name__, path=PATH, name=NAME, title=f"{NAME} · Pact Monitor", order=1)
ui.register_url_sync(PAGE_ID)
ui.register_view_switch(ID.VIEW, [v for v, _ in VIEW_LABELS])
for _control in FILTER_IDS:
    ui.register_selection_summary(_control)
register_export_bar(PAGE_ID)


def layout(**query: object) -> html.Div:
    return ui.data_layout(PAGE_ID, TITLE, query, lambda choice, messages: _page(choice, query, messages))


def _indicators(vintage: Vintage) -> tuple[IndicatorMeta, ...]:
    return data.indicator_catalogue(vintage)


def _state(vintage: Vintage, query: dict, messages: Messages, pinned: str | None) -> ExploreState:
    dims = data.dimensions(vintage)
    names = [m.indicator for m in _indicators(vintage)]
    parsed = parse_explore(query, dims, names, messages)
    return ExploreState(**{**parsed.__dict__, "vintage": pinned})


def _page(choice: data.VintageChoice, query: dict, messages: Messages) -> html.Div:
    vintage = choice.vintage
    pinned = vintage.vintage_id if choice.pinned else None
    state = _state(vintage, query, messages, pinned)
    dims = data.dimensions(vintage)
    view = build_view(vintage, state)
    search = _search(vintage, state)
    map_fig, map_text = build_map(vintage, state) if state.view == "map" else (
        figures.empty_figure("EU map", "Loading the map…").update_layout(height=figures.MAP_HEIGHT), "")
    controls = ui.control_card([
        ui.select(ID.INDICATOR, "Indicator", [(m.indicator, m.label) for m in _indicators(vintage)],
                  state.indicator),
        ui.select(ID.BY, "Break down by", list(BREAKDOWN_LABELS.items()), state.by),
        dbc.Row([
            dbc.Col(ui.select(ID.YEAR_FROM, "From year", [(y, str(y)) for y in dims.years], state.year_from)),
            dbc.Col(ui.select(ID.YEAR_TO, "To year", [(y, str(y)) for y in dims.years], state.year_to)),
        ], className="g-2"),
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
    panes = html.Div([
        html.Div(ui.chart(ID.CHART, view["figure"], view["summary"], filename=view["filename"]),
                 id=ui.pane_id(ID.VIEW, "chart"), hidden=state.view != "chart"),
        html.Div(ui.chart(ID.MAP, map_fig, map_text, filename=view["filename"] + "-map", geo=True),
                 id=ui.pane_id(ID.VIEW, "map"), hidden=state.view != "map"),
        html.Div([
            html.P(view["table_caption"], id=ID.GRID_CAPTION, className="small text-body-secondary"),
            ui.grid(ID.GRID, view["rows"], view["columns"], height=420, column_size=None),
        ], id=ui.pane_id(ID.VIEW, "table"), hidden=state.view != "table"),
    ])
    tabs = html.Div([ui.view_switch(ID.VIEW, VIEW_LABELS, state.view, "Show the selection as"), panes])
    body = [dbc.Row([
        dbc.Col(controls, lg=3),
        dbc.Col([pack_button(PAGE_ID),
                 html.Div(view["status"], id=ID.STATUS, className="status-line mb-2", **{"aria-live": "polite"}),
                 tabs, export_links(PAGE_ID, "explore", search, what="this selection")], lg=9),
    ])]
    return ui.page(PAGE_ID, TITLE,
                   "Any indicator by year, industrial ecosystem, Member State, partnership or member type. Click a "
                   "bar or a country to filter on it.",
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


def build_view(vintage: Vintage, state: ExploreState) -> dict[str, Any]:
    """Everything the chart and table views show for one selection (pure apart from the cached queries)."""
    meta = data.indicator_meta(vintage, state.indicator)
    year_from, year_to = data.effective_years(meta, state.by, state.year_from, state.year_to)
    # A filter on the dimension broken down by highlights its bars among all of them: filtering would collapse the
    # chart to the chosen bars, and a click on a bar would leave nothing to compare it with.
    frame = data.breakdown(vintage, state.indicator, state.by, state.year_from, state.year_to,
                           _filters_beside(state))
    if state.by == "year":
        frame = frame[frame["key"].astype(int).between(state.year_from, state.year_to)].reset_index(drop=True)
    filters_text = _filters_text(vintage, state)
    stock_note = ("" if meta.sum_over_years or state.by == "year"
                  else f" {meta.label} is a stock: the last year of the range is shown.")
    subtitle = f"Selection: {filters_text}"
    selected = {"ecosystem": state.ecosystems, "member_state": state.countries,
                "partnership": state.partnerships, "member_type": state.member_types}.get(state.by, ())
    figure = figures.breakdown_figure(frame, meta, state.by, year_from, year_to, subtitle, selected)
    summary = figures.breakdown_summary(frame, meta, state.by, year_from, year_to) + stock_note + _withheld_note(frame)
    return {
        "figure": figure,
        "summary": summary,
        "rows": _grid_frame(frame, meta, state.by),
        "columns": _grid_columns(meta, state.by, state.sort),
        "table_caption": (f"{figures.breakdown_title(meta, state.by, year_from, year_to)}. Selection: "
                          f"{filters_text}." + (f" {figures.NOT_ADDITIVE_NOTE}" if state.by == "partnership" else "")
                          + _withheld_note(frame)),
        "status": status_line(vintage, state, meta),
        "filename": _filename(state),
    }


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


def status_line(vintage: Vintage, state: ExploreState, meta: IndicatorMeta) -> list:
    """The selection's total, its coverage per year and its flags."""
    totals = data.yearly_totals(vintage, state.indicator, state.filters)
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
    meta = data.indicator_meta(vintage, state.indicator)
    year_from, year_to = data.effective_years(meta, "member_state", state.year_from, state.year_to)
    frame = data.breakdown(vintage, state.indicator, "member_state", state.year_from, state.year_to, state.filters)
    subtitle = f"Selection: {_filters_text(vintage, state)}"
    n_states = len(data.dimensions(vintage).member_states)
    return (figures.map_figure(frame, meta, year_from, year_to, subtitle),
            figures.map_summary(frame, meta, year_from, year_to, n_states))


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
]


def parse_controls(
    values: tuple, pinned: object, sort: str = ""
) -> tuple[data.VintageChoice, ExploreState | None, Messages]:
    """Control values (and the grid's sort), checked exactly like a URL query."""
    indicator, by, year_from, year_to, eco, country, partnership, mtype, view = values
    query = {"indicator": indicator, "by": by, "from": year_from, "to": year_to, "ecosystem": eco,
             "country": country, "partnership": partnership, "type": mtype, "view": view, "sort": sort}
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
    Output(ID.CHART, "style"),  # last: the figure's height (see ui.graph_style)
    *CONTROL_INPUTS,
    State(ID.GRID, "columnState"),
    State(ID.VINTAGE, "data"),
    prevent_initial_call=True,
)
def update_view(*args: object):
    choice, state, messages = parse_controls(args[:-2], args[-1], grid_sort(args[-2]))
    if state is None:
        return (no_update,) * 9
    view = build_view(choice.vintage, state)
    rows = ui.grid_records(view["rows"])
    alerts = ui.message_alerts(messages, PAGE_ID).children if messages else None
    return (view["figure"], view["summary"], rows, view["columns"], view["table_caption"], view["status"],
            _search(choice.vintage, state), alerts, ui.graph_style(view["figure"]))


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
    return no_update if state is None else _search(choice.vintage, state)


@callback(
    Output(ID.MAP, "figure"),
    Output(ID.MAP_SUMMARY, "children"),
    *CONTROL_INPUTS,
    State(ID.VINTAGE, "data"),
    prevent_initial_call=True,
)
def update_map(*args: object):
    choice, state, _messages = parse_controls(args[:-1], args[-1])
    if state is None or state.view != "map":
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
    result = list(unchanged)
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


def _value_column(meta: data.IndicatorMeta) -> Column:
    kind = "euro" if meta.unit == "EUR" else ("integer" if meta.scale == 1 else "decimal")
    return Column("value", f"{meta.label} ({meta.unit})", kind)


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
        columns = (
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
        coverage = "; ".join(
            f"{int(r.year)}: {coverage_text(int(r.n_reporting), int(r.n_respondents))}" for r in frame.itertuples()
        )
    else:
        frame = data.breakdown(vintage, st.indicator, st.by, year_from, year_to, st.filters)
        breaks = any(data.break_in_series(vintage, st.indicator, y) for y in range(year_from, year_to + 1))
        # The Commission publishes EU totals only: no breakdown row has a published counterpart.
        frame["flags"] = [flag_codes(synthetic=ctx.info.synthetic, not_published=True, break_in_series=breaks,
                                     withheld=hidden) for hidden in withheld_cells(frame)]
        columns = (
            Column("key", f"{by_label} code"),
            Column("label", by_label),
            _value_column(meta),
            Column("flags", "Flags"),
            Column("n_reporting", "Members reporting", "integer"),
        )
        coverage = f"{int(frame['n_reporting'].sum()) if st.by != 'partnership' else 'see'} members reporting"
        if st.by == "partnership":
            notes.append(NOT_ADDITIVE)
            coverage = "members reporting per partnership in the table (a member may count in several)"
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
    # The map always shows Member States, whatever the bar chart's breakdown: its rows are that breakdown.
    shown = dataclasses.replace(st, by="member_state") if st.view == "map" else st
    table = explore_table(vintage, shown, ctx)
    view = build_view(vintage, shown)
    figure = build_map(vintage, st)[0] if st.view == "map" else view["figure"]
    return PageViews(ctx, (View(PAGE_ID, table, figure, view["summary"]),))

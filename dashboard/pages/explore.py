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
from dashboard.components.export_bar import export_links, pack_button, register_export_bar
from dashboard.data import IndicatorMeta, Vintage
from dashboard.formatting import full, years_label
from dashboard.state import (
    BREAKDOWN_LABELS,
    ExploreState,
    Messages,
    explore_defaults,
    grid_sort,
    parse_explore,
)

PAGE_ID = "explore"
TITLE = "Explore the indicators"
FILTER_IDS = ("explore-ecosystem", "explore-country", "explore-partnership", "explore-type")

VIEW_LABELS = (("chart", "Chart"), ("map", "EU map"), ("table", "Table"))

register_page(__name__, path="/explore", name="Explore", title="Explore · Pact Monitor", order=1)
ui.register_url_sync(PAGE_ID)
ui.register_view_switch("explore-view", [v for v, _ in VIEW_LABELS])
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
        ui.select("explore-indicator", "Indicator", [(m.indicator, m.label) for m in _indicators(vintage)],
                  state.indicator),
        ui.select("explore-by", "Break down by", list(BREAKDOWN_LABELS.items()), state.by),
        dbc.Row([
            dbc.Col(ui.select("explore-year-from", "From year", [(y, str(y)) for y in dims.years], state.year_from)),
            dbc.Col(ui.select("explore-year-to", "To year", [(y, str(y)) for y in dims.years], state.year_to)),
        ], className="g-2"),
        html.Hr(className="my-2"),
        html.P("Filters (empty = all members)", className="small fw-semibold mb-1"),
        ui.multi_select("explore-ecosystem", "Industrial ecosystem (primary)", dims.ecosystems, state.ecosystems),
        ui.multi_select("explore-country", "Member State", dims.member_states, state.countries),
        ui.multi_select("explore-partnership", "Partnership (members since joining)", dims.partnerships,
                        state.partnerships),
        ui.multi_select("explore-type", "Member type", [(t, t) for t in dims.member_types], state.member_types),
        html.A("Reset the selection", href="/explore" + (f"?vintage={pinned}" if pinned else ""),
               className="small", id="explore-reset"),
    ])
    panes = html.Div([
        html.Div(ui.chart("explore-chart", view["figure"], view["summary"], filename=view["filename"]),
                 id="explore-view-pane-chart", hidden=state.view != "chart"),
        html.Div(ui.chart("explore-map", map_fig, map_text, filename=view["filename"] + "-map", geo=True),
                 id="explore-view-pane-map", hidden=state.view != "map"),
        html.Div([
            html.P(view["table_caption"], id="explore-grid-caption", className="small text-body-secondary"),
            ui.grid("explore-grid", view["rows"], view["columns"], height=420, column_size=None),
        ], id="explore-view-pane-table", hidden=state.view != "table"),
    ])
    tabs = html.Div([ui.view_switch("explore-view", VIEW_LABELS, state.view, "Show the selection as"), panes])
    body = [dbc.Row([
        dbc.Col(controls, lg=3),
        dbc.Col([pack_button(PAGE_ID),
                 html.Div(view["status"], id="explore-status", className="status-line mb-2", **{"aria-live": "polite"}),
                 tabs, export_links(PAGE_ID, "explore", search, what="this selection")], lg=9),
    ])]
    return ui.page(PAGE_ID, TITLE,
                   "Any indicator by year, industrial ecosystem, Member State, partnership or member type. Click a "
                   "bar or a country to filter on it.",
                   body, choice, messages,
                   [*ui.url_sync(PAGE_ID, search),
                    dcc.Store(id="explore-vintage", data=pinned)])


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
    return f"pact-{state.indicator}-by-{state.by}-{years_label(state.year_from, state.year_to)}".replace("–", "-")


def _withheld(frame: pd.DataFrame) -> pd.Series:
    """Cells with reporting members and no value: withheld by the public deployment's disclosure control."""
    return frame["value"].isna() & frame["n_reporting"].gt(0)


def _withheld_note(frame: pd.DataFrame) -> str:
    withheld = int(_withheld(frame).sum())
    if not withheld:
        return ""
    return (f" {withheld} figure{'s' if withheld > 1 else ''} withheld: this public deployment shows a figure only "
            "where it follows from the published totals (EU, and by ecosystem, Member State, member type and "
            "partnership) without revealing what fewer than 3 members reported.")


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
        f"{int(r.year)}: {int(r.n_reporting):,} of {int(r.n_respondents):,} respondents"
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
                f"{int(r.year)} {r.comparison} {r.published_status or 'published'} figure"
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
                 f"{years_label(state.year_from, state.year_to)}, each member counted once")
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
    Input("explore-indicator", "value"),
    Input("explore-by", "value"),
    Input("explore-year-from", "value"),
    Input("explore-year-to", "value"),
    Input("explore-ecosystem", "value"),
    Input("explore-country", "value"),
    Input("explore-partnership", "value"),
    Input("explore-type", "value"),
    Input("explore-view", "value"),
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
    Output("explore-chart", "figure"),
    Output("explore-chart-summary", "children"),
    Output("explore-grid", "rowData"),
    Output("explore-grid", "columnDefs"),
    Output("explore-grid-caption", "children"),
    Output("explore-status", "children"),
    Output("explore-permalink", "data"),
    Output("explore-messages", "children"),
    Output("explore-chart", "style"),  # last: the figure's height (see ui.graph_style)
    *CONTROL_INPUTS,
    State("explore-grid", "columnState"),
    State("explore-vintage", "data"),
    prevent_initial_call=True,
)
def update_view(*args: object):
    choice, state, messages = parse_controls(args[:-2], args[-1], grid_sort(args[-2]))
    if state is None:
        return (no_update,) * 9
    view = build_view(choice.vintage, state)
    rows = ui.grid_records(view["rows"])
    alerts = ui.message_alerts(messages, "explore").children if messages else None
    return (view["figure"], view["summary"], rows, view["columns"], view["table_caption"], view["status"],
            _search(choice.vintage, state), alerts, ui.graph_style(view["figure"]))


def _search(vintage: Vintage, state: ExploreState) -> str:
    return state.search(explore_defaults(data.dimensions(vintage), [m.indicator for m in _indicators(vintage)]))


@callback(
    Output("explore-permalink", "data", allow_duplicate=True),
    Input("explore-grid", "columnState"),
    *[State(c.component_id, c.component_property) for c in CONTROL_INPUTS],
    State("explore-vintage", "data"),
    prevent_initial_call=True,
)
def sort_to_url(column_state: object, *args: object):
    """Sorting the table changes the permalink only (the grid sorts its own rows)."""
    choice, state, _messages = parse_controls(args[:-1], args[-1], grid_sort(column_state))
    return no_update if state is None else _search(choice.vintage, state)


@callback(
    Output("explore-map", "figure"),
    Output("explore-map-summary", "children"),
    *CONTROL_INPUTS,
    State("explore-vintage", "data"),
    prevent_initial_call=True,
)
def update_map(*args: object):
    choice, state, _messages = parse_controls(args[:-1], args[-1])
    if state is None or state.view != "map":
        return no_update, no_update
    return build_map(choice.vintage, state)


@callback(
    Output("explore-ecosystem", "value"),
    Output("explore-country", "value"),
    Output("explore-partnership", "value"),
    Output("explore-type", "value"),
    Output("explore-year-from", "value"),
    Output("explore-year-to", "value"),
    Input("explore-chart", "clickData"),
    Input("explore-map", "clickData"),
    State("explore-by", "value"),
    State("explore-ecosystem", "value"),
    State("explore-country", "value"),
    State("explore-partnership", "value"),
    State("explore-type", "value"),
    prevent_initial_call=True,
)
def apply_click(chart_click: object, map_click: object, by: object, eco: object, country: object,
                partnership: object, mtype: object):
    """A clicked bar or country becomes the filter of its dimension; clicking the only selected one clears it."""
    unchanged = [no_update] * 6
    source = ctx.triggered_id
    click = map_click if source == "explore-map" else chart_click
    key = _clicked_key(click)
    if key is None:
        return unchanged
    dimension = "member_state" if source == "explore-map" else by
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


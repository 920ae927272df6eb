"""Partnerships (`/partnerships`): every partnership's pledge beside what its members reported, and one partnership
against its peers (same kind or same ecosystem): median, quartiles, rank and trend. Peers are named as in the
ledger, and unnamed everywhere in a public deployment."""

from __future__ import annotations

import dataclasses
from typing import Any

import dash_bootstrap_components as dbc
import pandas as pd
from dash import Input, Output, State, callback, dcc, html, no_update, register_page

from dashboard import analysis, data, figures, ui
from dashboard.analysis import SMALL_PEER_GROUP
from dashboard.components.export_bar import export_links, pack_button, register_export_bar
from dashboard.data import Vintage
from dashboard.disclosure import public_mode
from dashboard.export_registry import (
    NOT_ADDITIVE,
    ExportContext,
    ExportRequest,
    PageViews,
    View,
    definitions,
    flag_codes,
    register,
)
from dashboard.exports import Column, ExportTable
from dashboard.formatting import compact, exact, full
from dashboard.state import PEER_GROUPS, Messages, PartnershipsState, parse_partnerships, partnerships_defaults

PAGE_ID = "partnerships"
PATH = "/partnerships"
NAME = "Partnerships"
TITLE = "Partnerships: pledges, members' reports and peers"


class ID:
    """The page's component ids, each written once (the tests and the browser suite name the same strings)."""

    GROUP = "partnerships-group"
    INDICATOR = "partnerships-indicator"
    LEDGER = "partnerships-ledger"
    LEDGER_SUMMARY = "partnerships-ledger-summary"
    NAMING = "partnerships-naming"
    PARTNERSHIP = "partnerships-partnership"
    PEER = "partnerships-peer"
    PEER_CHART = "partnerships-peer-chart"
    STATS = "partnerships-stats"
    TREND = "partnerships-trend"
    TREND_CHART = "partnerships-trend-chart"
    VINTAGE = "partnerships-vintage"
    YEAR = "partnerships-year"


register_page(__name__, path=PATH, name=NAME, title=f"{NAME} · Pact Monitor", order=2)
ui.register_url_sync(PAGE_ID)
register_export_bar(PAGE_ID)


def layout(**query: object) -> html.Div:
    return ui.vintage_layout(PAGE_ID, TITLE, query,
                             lambda vintage, choice, messages: _page(vintage, choice, query, messages))


def _preferred(vintage: Vintage) -> str | None:
    """Default partnership: the one with the most members (a sensible first view, not a judgement)."""
    frame = data.partnerships(vintage)
    if frame.empty:
        return None
    return str(frame.sort_values(["n_members", "partnership_id"], ascending=[False, True])["partnership_id"].iloc[0])


def _state(vintage: Vintage, query: dict, messages: Messages, pinned: str | None) -> PartnershipsState:
    dims = data.dimensions(vintage)
    names = [m.indicator for m in data.indicator_catalogue(vintage) if m.sum_over_members]
    parsed = parse_partnerships(query, dims, names, messages, _preferred(vintage))
    return PartnershipsState(parsed.partnership, parsed.group, parsed.indicator, parsed.year, pinned)


def _defaults(vintage: Vintage) -> PartnershipsState:
    dims = data.dimensions(vintage)
    names = [m.indicator for m in data.indicator_catalogue(vintage) if m.sum_over_members]
    return partnerships_defaults(dims, names, _preferred(vintage))


def _page(vintage: data.Vintage, choice: data.VintageChoice, query: dict, messages: Messages) -> html.Div:
    pinned = vintage.vintage_id if choice.pinned else None
    state = _state(vintage, query, messages, pinned)
    dims = data.dimensions(vintage)
    ledger = data.partnership_ledger(vintage)
    latest = data.latest_year(vintage)
    indicators = [(m.indicator, m.label) for m in data.indicator_catalogue(vintage) if m.sum_over_members]
    controls = ui.control_card([
        dbc.Row([
            dbc.Col(ui.select(ID.PARTNERSHIP, "Partnership", dims.partnerships, state.partnership), lg=4),
            dbc.Col(ui.select(ID.GROUP, "Compare with", list(PEER_GROUPS.items()), state.group), lg=3),
            dbc.Col(ui.select(ID.INDICATOR, "Indicator", indicators, state.indicator), lg=3),
            dbc.Col(ui.select(ID.YEAR, "Survey year", [(y, str(y)) for y in dims.years], state.year),
                    lg=2),
        ], className="g-2"),
        html.P(_naming_note(), className="small text-body-secondary mb-0", id=ID.NAMING),
    ], title="Benchmark")
    bench = benchmark_view(vintage, state)
    search = state.search(_defaults(vintage))
    body = [
        pack_button(PAGE_ID),
        html.H2("Pledges and what members reported", className="section-title mt-0"),
        html.P(
            ["Members reported = people up-/reskilled by the partnership's members in all their activity, each "
             "counted from the year it joined: the survey does not ask what they did through the partnership, so "
             "this is context for a pledge, not its delivery. A member in several partnerships counts in each, so ",
             html.Strong("figures across partnerships are not additive"),
             " and no total is shown. The ratio to the pledge is shown only where the pledge is a number of people; "
             "a pledge as a share of the workforce, or in other terms, is shown as written."],
            className="small text-body-secondary"),
        ui.grid(ID.LEDGER, _ledger_rows(ledger), LEDGER_COLUMNS, height=330),
        html.P(_ledger_summary(ledger, latest), className="small text-body-secondary mt-1",
               id=ID.LEDGER_SUMMARY),
        export_links(PAGE_ID, "ledger", search, what="the pledges and what members reported", images=False),
        html.H2("One partnership against its peers", className="section-title"),
        controls,
        dbc.Row([
            dbc.Col([html.Div(bench["peer"], id=ID.PEER),
                     export_links(PAGE_ID, "peers", search, what="the peer comparison")], lg=7),
            dbc.Col([html.Div(bench["trend"], id=ID.TREND),
                     export_links(PAGE_ID, "trend", search, what="the trend against peers")], lg=5),
        ]),
    ]
    return ui.page(PAGE_ID, TITLE,
                   "Each partnership's pledge in its own terms beside what its members reported, and where one "
                   "partnership stands among its peers.",
                   body, choice, messages,
                   [*ui.url_sync(PAGE_ID, search),
                    dcc.Store(id=ID.VINTAGE, data=pinned)])


LEDGER_COLUMNS = [
    {"field": "name", "headerName": "Partnership", "filter": "agTextColumnFilter", "minWidth": 230, "flex": 3,
     "pinned": "left", "tooltipField": "name"},
    {"field": "kind", "headerName": "Kind", "minWidth": 105, "flex": 1},
    {"field": "scope", "headerName": "Ecosystem / region", "minWidth": 150, "flex": 2, "tooltipField": "scope"},
    {"field": "launched", "headerName": "Launched", "minWidth": 115, "flex": 1},
    {"field": "pledge_text", "headerName": "Pledge, in its own terms", "minWidth": 240, "flex": 4,
     "tooltipField": "pledge_text"},
    ui.number_column("pledge_people", "Pledged people", minWidth=110, flex=1),
    {"field": "pledge_year", "headerName": "By", "minWidth": 70, "flex": 1},
    ui.number_column("n_members", "Members", minWidth=125, flex=1),
    ui.number_column("delivered", "Members reported (all activity)", minWidth=130, flex=1),
    ui.number_column("share_attained", "Members reported / pledge", "share", minWidth=110, flex=1),
]


def _naming_note() -> str:
    """The one naming rule of the page, said where the reader chooses the comparison."""
    if public_mode():
        return ("This is a public deployment: peers are shown as Peer 1, Peer 2… by rank in every group, and only "
                "figures released under the disclosure rule appear.")
    return (f"Peers are named, as in the ledger above. In a group of fewer than {SMALL_PEER_GROUP} partnerships "
            "with data the median and quartiles rest on few values.")


def _ledger_rows(ledger: pd.DataFrame) -> pd.DataFrame:
    out = ledger.copy()
    out["scope"] = out["ecosystem"].where(out["ecosystem"].notna(), out["region"])
    out["launched"] = [d.strftime("%b %Y") if d is not None and d == d else "unknown" for d in out["launched_on"]]
    out["pledge_year"] = out["pledge_year"].astype(object).where(out["pledge_year"].notna(), None)
    return out[["partnership_id", "name", "kind", "scope", "launched", "pledge_text", "pledge_people", "pledge_year",
                "n_members", "delivered", "share_attained", "n_reporting_latest"]]


def _ledger_summary(ledger: pd.DataFrame, latest: int | None) -> str:
    people = ledger[ledger["share_attained"].notna()]
    # no "reached" verdict: members' reported activity is not what they did through the partnership
    text = (f"{len(ledger)} partnerships; {len(people)} pledge a number of people, set beside what their members "
            f"reported to {latest}.")
    others = len(ledger) - len(people)
    if others:
        text += (f" {others} pledge in other terms (a share of the workforce, actions, or not yet quantified): "
                 "their pledge is shown as written.")
    return text + (" Members reported counts all their up-/reskilling, not only what they did through the "
                   "partnership.")


def benchmark_view(vintage: Vintage, state: PartnershipsState) -> dict[str, Any]:
    if state.partnership is None or state.year is None:
        empty = html.P("No partnership or survey year in the data.", className="text-body-secondary")
        return {"peer": empty, "trend": html.Div()}
    meta = data.indicator_meta(vintage, state.indicator)
    bench = data.peer_benchmark(vintage, state.partnership, state.group, state.indicator, state.year)
    rows = [{"Partnership": label, "Value": full(value, meta.unit)} for label, value in bench.peers]
    stats = [{"Statistic": "Median", "Value": full(bench.median, meta.unit)},
             {"Statistic": "Lower quartile", "Value": full(bench.q1, meta.unit)},
             {"Statistic": "Upper quartile", "Value": full(bench.q3, meta.unit)},
             {"Statistic": "Rank (1 = highest)", "Value": f"{bench.rank} of {bench.n_with_data}"
              if bench.rank else "–"}]
    filename = f"pact-{state.partnership}-{state.indicator}-{state.year}-peers"
    key_figures = dbc.Row([
        # two tiles a row on a phone, four from md up; a figure never breaks inside ("105.3 / k")
        dbc.Col(_stat("Value", compact(bench.value, meta.unit)), xs=6, md=3),
        dbc.Col(_stat("Rank", f"{bench.rank} / {bench.n_with_data}" if bench.rank else "–"), xs=6, md=3),
        dbc.Col(_stat("Peer median", compact(bench.median, meta.unit)), xs=6, md=3),
        dbc.Col(_stat("Quartiles", f"{compact(bench.q1, meta.unit)}–{compact(bench.q3, meta.unit)}"), xs=6, md=3),
    ], className="g-2 mb-2", id=ID.STATS)
    peer = html.Div([
        key_figures,
        ui.chart(ID.PEER_CHART, figures.peer_figure(bench, meta), figures.peer_summary(bench, meta),
                 html.Div([ui.simple_table(rows), ui.simple_table(stats)]), filename=filename),
    ])
    trend_rows = [{"Year": y, bench.name: full(own, meta.unit), "Peer median": full(median, meta.unit)}
                  for y, own, median in bench.trend]
    trend_text = "; ".join(f"{y}: {full(own, meta.unit)} (median {full(median, meta.unit)})"
                           for y, own, median in bench.trend)
    trend = ui.chart(ID.TREND_CHART, figures.trend_figure(bench, meta),
                     f"{bench.name}, {meta.label.lower()} by year against the peer median: {trend_text}.",
                     ui.simple_table(trend_rows), filename=f"pact-{state.partnership}-{state.indicator}-trend")
    return {"peer": peer, "trend": trend}


def _stat(label: str, value: str) -> html.Div:
    return html.Div([html.Div(label, className="small text-body-secondary"),
                     html.Div(value, className="fw-bold fs-5 text-nowrap")],
                    className="border rounded px-2 py-1 h-100 stat-tile")


@callback(
    Output(ID.PEER, "children"),
    Output(ID.TREND, "children"),
    Output(ui.permalink_id(PAGE_ID), "data"),
    Output(ui.messages_id(PAGE_ID), "children"),
    Input(ID.PARTNERSHIP, "value"),
    Input(ID.GROUP, "value"),
    Input(ID.INDICATOR, "value"),
    Input(ID.YEAR, "value"),
    State(ID.VINTAGE, "data"),
    prevent_initial_call=True,
)
def update_benchmark(partnership: object, group: object, indicator: object, year: object, pinned: object):
    choice = data.resolve_vintage(pinned)
    if choice.vintage is None:
        return no_update, no_update, no_update, no_update
    messages = Messages()
    pinned_id = choice.vintage.vintage_id if choice.pinned else None
    state = _state(choice.vintage, {"partnership": partnership, "group": group, "indicator": indicator,
                                    "year": year}, messages, pinned_id)
    view = benchmark_view(choice.vintage, state)
    alerts = ui.message_alerts(messages, PAGE_ID).children if messages else None
    return view["peer"], view["trend"], state.search(_defaults(choice.vintage)), alerts


# --------------------------------------------------------------------------------------------------------------
# Exports: the rows behind each view, and the figures on screen
# --------------------------------------------------------------------------------------------------------------


LEDGER_EXPORT_COLUMNS = (
    Column("partnership_id", "Partnership code"), Column("name", "Partnership"), Column("kind", "Kind"),
    Column("ecosystem", "Industrial ecosystem"), Column("region", "Region"), Column("launched_on", "Launched", "date"),
    Column("pledge_kind", "Pledge kind"), Column("pledge_text", "Pledge (own terms)"),
    Column("pledge_people", "Pledged people (people)", "integer"), Column("pledge_share", "Pledged share", "decimal"),
    Column("pledge_year", "Pledge year", "integer"), Column("n_members", "Members", "integer"),
    Column("delivered", "Members reported to date, all their activity (people)", "integer"),
    Column("share_attained", "Members reported / pledge (%)", "percent"),
    Column("pace_achieved", "Members reported a year (people)", "decimal"),
    Column("n_reporting_latest", "Members reporting (latest wave)", "integer"),
    Column("flags", "Flags"),
)


def partnerships_views(vintage: data.Vintage, st: PartnershipsState, ctx: ExportContext) -> tuple[View, ...]:
    ledger = data.partnership_ledger(vintage)
    ledger["share_attained"] = ledger["share_attained"] * 100
    ledger["launched_on"] = pd.to_datetime(ledger["launched_on"]).dt.date
    ledger["flags"] = flag_codes(synthetic=ctx.info.synthetic, not_published=True)
    latest = data.latest_year(vintage)
    ledger_meta = ctx.meta("Each partnership's pledge beside what its members reported", frame=ledger, slug="partnerships-ledger",
                           years=(ctx.dims.years[0], latest) if ctx.dims.years and latest else None, filters=(),
                           definitions=definitions(vintage, ["people_trained"]), notes=(NOT_ADDITIVE,),
                           view="Partnerships - ledger")
    # The page shows the ledger as a grid, not a chart: the pack carries it as a table.
    views = [View("ledger", ExportTable(ledger, LEDGER_EXPORT_COLUMNS, ledger_meta))]
    if st.partnership is None or st.year is None:
        return tuple(views)
    meta = data.indicator_meta(vintage, st.indicator)
    bench = analysis.peer_benchmark(data.partnerships(vintage), data.partnership_values(vintage, st.indicator),
                                    st.partnership, st.group, st.year)
    peers = pd.DataFrame({"rank": range(1, len(bench.peers) + 1), "partnership": [p for p, _ in bench.peers],
                          "value": [v for _, v in bench.peers]})
    peers["is_selected"] = peers["partnership"] == bench.name
    peers["flags"] = flag_codes(synthetic=ctx.info.synthetic, not_published=True)
    stats = (("Median", bench.median), ("Lower quartile", bench.q1), ("Upper quartile", bench.q3))
    selection = (("Partnership", f"{bench.name} ({st.partnership})"), ("Peers", bench.group_label),
                 ("Indicator", f"{meta.label} ({st.indicator})"), ("Year", str(st.year)),
                 *((label, exact(v, meta.unit)) for label, v in stats))
    value_column = Column("value", f"{meta.label} ({meta.unit})", "euro" if meta.unit == "EUR" else "decimal")
    peer_meta = ctx.meta(f"{bench.name} among {bench.group_label}: {meta.label.lower()}, {st.year}", frame=peers,
                         indicator=st.indicator, breakdown="peer", years=(st.year, st.year), filters=selection,
                         definitions=definitions(vintage, [st.indicator]),
                         notes=(NOT_ADDITIVE, "Peers are named as in the ledger; a public deployment shows them "
                                "as Peer 1, Peer 2... by rank."),
                         view="Partnerships - peers")
    views.append(View("peers", ExportTable(peers, (
        Column("rank", "Rank (1 = highest)", "integer"), Column("partnership", "Partnership"), value_column,
        Column("is_selected", "Selected partnership", "boolean"), Column("flags", "Flags"),
    ), peer_meta), figures.peer_figure(bench, meta), figures.peer_summary(bench, meta)))
    trend = pd.DataFrame(bench.trend, columns=["year", "value", "peer_median"])
    trend["value"] = trend["value"].astype("float64")
    trend["peer_median"] = trend["peer_median"].astype("float64")
    trend["flags"] = flag_codes(synthetic=ctx.info.synthetic, not_published=True)
    trend_meta = ctx.meta(f"{bench.name}: {meta.label.lower()} by year against the peer median", frame=trend,
                          indicator=st.indicator, breakdown="year", filters=selection[:3],
                          years=(int(trend["year"].min()), int(trend["year"].max())) if len(trend) else None,
                          definitions=definitions(vintage, [st.indicator]), notes=(NOT_ADDITIVE,),
                          view="Partnerships - trend")
    views.append(View("trend", ExportTable(trend, (
        Column("year", "Year", "integer"), dataclasses.replace(value_column, header=f"{bench.name} ({meta.unit})"),
        Column("peer_median", f"Peer median ({meta.unit})", "decimal"), Column("flags", "Flags"),
    ), trend_meta), figures.trend_figure(bench, meta)))
    return tuple(views)


@register(PAGE_ID, path=PATH, title=NAME)
def export_views(request: ExportRequest) -> PageViews:
    vintage = request.vintage
    st = _state(vintage, dict(request.query), request.messages, vintage.vintage_id)
    ctx = request.context(st.search(_defaults(vintage)))
    return PageViews(ctx, partnerships_views(vintage, st, ctx))

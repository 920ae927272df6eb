"""Progress (`/`): headline figures for a survey year, cumulative people trained against each pledge version,
pace needed vs achieved, projected year, and membership growth."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

import dash_bootstrap_components as dbc
import pandas as pd
from dash import Input, Output, State, callback, dcc, html, no_update, register_page

from dashboard import analysis, data, figures, ui
from dashboard.analysis import TargetProgress, target_progress
from dashboard.components import pledges
from dashboard.components.export_bar import export_links, pack_button, register_export_bar
from dashboard.export_registry import (
    EU_TOTAL_RULE,
    ExportContext,
    ExportRequest,
    PageViews,
    View,
    definitions,
    flag_codes,
    register,
)
from dashboard.exports import Column, ExportTable
from dashboard.formatting import compact, count, full, round_figure, year_span
from dashboard.state import Messages, ProgressState, parse_progress

PAGE_ID = "progress"
PATH = "/"
NAME = "Progress"
TITLE = "Progress toward the Pact's pledges"


class ID:
    """The page's component ids, each written once (the tests and the browser suite name the same strings)."""

    HEADLINE = "progress-headline"
    KPIS = "progress-kpis"
    KPIS_SUMMARY = "progress-kpis-summary"
    MEMBERS_CHART = "progress-members-chart"
    PACE_CHART = "progress-pace-chart"
    PARTNERSHIPS_CHART = "progress-partnerships-chart"
    TARGET_STATUS = "progress-target-status"
    TARGETS_CHART = "progress-targets-chart"
    TARGETS_TABLE = "progress-targets-table"
    VINTAGE = "progress-vintage"
    YEAR = "progress-year"


register_page(__name__, path=PATH, name=NAME, title=f"{NAME} · Pact Monitor", order=0)
ui.register_url_sync(PAGE_ID)
register_export_bar(PAGE_ID)


def layout(**query: object) -> html.Div:
    return ui.vintage_layout(PAGE_ID, TITLE, query,
                             lambda vintage, choice, messages: _page(vintage, choice, query, messages))


def _page(vintage: data.Vintage, choice: data.VintageChoice, query: dict, messages: Messages) -> html.Div:
    dims = data.dimensions(vintage)
    state = parse_progress(query, dims, messages)
    pinned = vintage.vintage_id if choice.pinned else None
    state = ProgressState(year=state.year, vintage=pinned)
    latest = data.latest_year(vintage)
    search = state.search(latest)
    cumulative = data.cumulative_people_trained(vintage)
    progress = target_progress(cumulative, data.targets(vintage))
    charts = snapshot_charts(vintage)
    controls = ui.control_card([
        ui.select(ID.YEAR, "Survey year (activity year)", [(y, str(y)) for y in dims.years], state.year),
        html.P("EU totals: each member counts once. Change is on the previous survey year; badges compare each "
               "figure with the one the Commission published.", className="small text-body-secondary mb-0"),
    ], title="Year")
    headline = html.Div([
        html.P(figures.progress_headline(cumulative, progress, latest is not None and data.break_in_series(
            vintage, "people_trained", latest)), className="lead mb-2", id=ID.HEADLINE),
        pack_button(PAGE_ID),
    ])
    body = [
        dbc.Row([dbc.Col(headline, lg=8, xl=9), dbc.Col(controls, lg=4, xl=3)], className="align-items-start"),
        html.Div(kpi_section(vintage, state.year), id=ID.KPIS),
        export_links(PAGE_ID, "kpis", search, what="the headline figures", images=False),
        html.H2("People up-/reskilled against the partnerships' pledges", className="section-title"),
        dbc.Row([
            dbc.Col([charts.targets, export_links(PAGE_ID, "cumulative", search, what="the cumulative chart")], lg=7),
            dbc.Col(charts.status, lg=5),
        ]),
        dbc.Row([
            dbc.Col([charts.pace, export_links(PAGE_ID, "pace", search, what="the pace chart")], lg=4),
            dbc.Col([charts.members, export_links(PAGE_ID, "members", search, what="the members chart")], lg=4),
            dbc.Col([charts.partnerships,
                     export_links(PAGE_ID, "partnerships", search, what="the partnerships chart")], lg=4),
        ], className="mt-2"),
    ]
    return ui.page(PAGE_ID, TITLE,
                   "Where the Pact for Skills stands: the latest survey year's figures, cumulative progress toward "
                   "the partnerships' pledges (10 million, then over 25 million by 2030: the Pact's headline goals), "
                   "and membership growth.",
                   body, choice, messages, [*ui.url_sync(PAGE_ID, search), _vintage_store(pinned)])


def _vintage_store(pinned: str | None) -> dcc.Store:
    return dcc.Store(id=ID.VINTAGE, data=pinned)


def kpi_section(vintage: data.Vintage, year: int | None) -> list:
    if year is None:
        return [dbc.Alert("No survey year in the data.", color="secondary")]
    kpis = data.kpis(vintage, year)
    cards = [dbc.Col(ui.kpi_card(k), className="col-6 col-md-4 col-xl mb-2") for k in kpis]
    return [
        html.H2(f"Headline figures, {year}", className="section-title mt-0"),
        dbc.Row(cards, className="g-2"),
        html.P(ui.kpi_summary(kpis), className="visually-hidden", id=ID.KPIS_SUMMARY),
    ]


def target_status(progress: tuple[TargetProgress, ...]) -> html.Div:
    if not progress:
        return html.Div("No pledge or no people-trained figures in the data.", id=ID.TARGET_STATUS)
    rows = [{
        "Pledge": f"{(t.qualifier + ' ') if t.qualifier else ''}{round_figure(t.people)}",
        "Deadline": str(t.deadline_year) if t.deadline_year else "none",
        "To date": compact(t.cumulative),
        "Pace achieved": f"{compact(t.achieved_pace)}/yr",
        "Pace needed": f"{compact(t.needed_pace)}/yr" if t.needed_pace is not None else "–",
        "Projected": str(t.projected_year) if t.projected_year else "–",
        "Status": t.status,
    } for t in progress]
    colours = {"reached": "success", "on track": "success", "off track": "danger", "no deadline": "secondary"}
    return html.Div([
        html.H3("On track?", className="h6 mt-2"),
        html.Div([html.P([dbc.Badge(t.status, color=colours.get(t.status, "secondary"), className="me-2"),
                          figures.target_sentence(t)], className="small") for t in progress],
                 className="target-status"),
        ui.simple_table(rows, caption="Each pledge version, as announced (never overwritten)",
                        table_id=ID.TARGETS_TABLE),
        pledges.pledge_quotes(progress),
        html.P("Cumulative = the sum of the survey years (each wave reports one activity year). The projection "
               "assumes the average yearly figure of the survey years so far continues.",
               className="small text-body-secondary"),
    ], id=ID.TARGET_STATUS)


def _cumulative_rows(cumulative: pd.DataFrame) -> list[dict]:
    return [{"Year": int(y), "People trained": full(v), "Cumulative": full(c)}
            for y, v, c in zip(cumulative["year"], cumulative["value"], cumulative["cumulative"], strict=True)]


def _targets_summary(cumulative: pd.DataFrame, progress: tuple[TargetProgress, ...]) -> str:
    if cumulative.empty:
        return "No people-trained figures yet."
    return " ".join(figures.target_sentence(t) for t in progress) or (
        f"{compact(float(cumulative['cumulative'].iloc[-1]))} people trained to date.")


def _pace_summary(cumulative: pd.DataFrame, progress: tuple[TargetProgress, ...]) -> str:
    if cumulative.empty:
        return "No people-trained figures yet."
    achieved = ", ".join(f"{int(y)}: {compact(v)}" for y, v in zip(cumulative["year"], cumulative["value"],
                                                                     strict=True))
    needed = "; ".join(f"{compact(t.needed_pace)} a year needed from {t.latest_year + 1} for the "
                       f"{round_figure(t.people)} pledged by {t.deadline_year}"
                       for t in progress if t.needed_pace is not None)
    return f"Achieved per year: {achieved}." + (f" {needed}." if needed else "")


@dataclasses.dataclass(frozen=True)
class SnapshotCharts:
    targets: html.Figure
    status: html.Div
    pace: html.Figure
    members: html.Figure
    partnerships: html.Figure


@data.cached
def snapshot_charts(vintage: data.Vintage) -> SnapshotCharts:
    """The page's charts, which depend on the snapshot alone (the year control changes the cards only), built once
    per snapshot and public mode: at boot by a worker (dashboard.wsgi), not on every visit, where plotly's checks
    of each new figure were about half of the page's time at 100x. Dash only reads a component to send it."""
    cumulative = data.cumulative_people_trained(vintage)
    progress = target_progress(cumulative, data.targets(vintage))
    return SnapshotCharts(
        targets=ui.chart(ID.TARGETS_CHART, figures.targets_figure(cumulative, progress),
                         _targets_summary(cumulative, progress), ui.simple_table(_cumulative_rows(cumulative)),
                         filename="pact-people-trained-vs-targets"),
        status=target_status(progress),
        pace=ui.chart(ID.PACE_CHART, figures.pace_figure(cumulative, progress), _pace_summary(cumulative, progress),
                      ui.simple_table(figures.pace_rows(cumulative, progress)),
                      filename="pact-pace-needed-vs-achieved"),
        members=_members_chart(vintage),
        partnerships=_partnerships_chart(vintage),
    )


def _members_chart(vintage: data.Vintage) -> html.Figure:
    registry = data.members_over_time(vintage)
    published = data.membership_timeline(vintage)
    latest = (f"{count(int(registry['members'].iloc[-1]))} members registered by {registry['as_of'].iloc[-1]:%d %b %Y}"
              if not registry.empty else "No members")
    pub = published[published["members"].notna()]
    pub_text = "; ".join(f"{d:%b %Y}: {(q + ' ') if q else ''}{count(int(m))}" for d, q, m in
                         zip(pub["as_of"], pub["qualifier"].fillna(""), pub["members"], strict=True))
    rows = [{"Date": f"{d:%d %b %Y}", "Published members": f"{(q + ' ') if q else ''}{count(int(m))}"}
            for d, q, m in zip(pub["as_of"], pub["qualifier"].fillna(""), pub["members"], strict=True)]
    return ui.chart(ID.MEMBERS_CHART, figures.members_figure(registry, published),
                    f"{latest} in the registry. Published counts: {pub_text or 'none'}.",
                    ui.simple_table(rows), filename="pact-members-over-time")


def _partnerships_chart(vintage: data.Vintage) -> html.Figure:
    launches = data.partnerships_over_time(vintage)
    published = data.membership_timeline(vintage)
    rows = [{"Known by": f"{d:%d %b %Y}", "Kind": k, "To date": int(n)}
            for d, k, n in zip(launches["as_of"], launches["kind"], launches["partnerships"], strict=True)]
    return ui.chart(ID.PARTNERSHIPS_CHART, figures.partnerships_figure(launches, published),
                    partnerships_caption(launches, data.undated_partnerships(vintage), published),
                    ui.simple_table(rows), filename="pact-partnerships-over-time")


def partnerships_caption(launches: pd.DataFrame, undated: dict[str, int], published: pd.DataFrame) -> str:
    """The reference table's count beside the latest published one, with the difference said where they differ."""
    totals = launches.groupby("kind")["partnerships"].max() if not launches.empty else pd.Series(dtype="int64")
    text = ("Counted from the day the sources place each partnership by (its launch, else the end of the period "
            "they give): " + (", ".join(f"{int(n)} {kind}" for kind, n in totals.items()) or "none") + ".")
    if undated:
        text += " Named but placed in no year: " + ", ".join(f"{n} {kind}" for kind, n in sorted(undated.items())) + "."
    for column, kind in (("large_scale_partnerships", "large-scale"), ("regional_partnerships", "regional")):
        counted = published[published[column].notna()]
        if counted.empty:
            continue
        latest = counted.iloc[-1]
        count = int(latest[column])
        named = int(totals.get(kind, 0)) + undated.get(kind, 0)
        text += f" Published {latest['as_of']:%b %Y}: {count} {kind}"
        text += (" (the same count)." if named == count
                 else f"; the sources name {named} of them, so the other {count - named} are not in the table."
                 if named < count else f"; the table holds {named}.")
    return text


@callback(
    Output(ID.KPIS, "children"),
    Output(ui.permalink_id(PAGE_ID), "data"),
    Input(ID.YEAR, "value"),
    State(ID.VINTAGE, "data"),
    prevent_initial_call=True,
)
def update_year(year: object, pinned: object):
    """Year changed: parse it like a URL value, rebuild the cards, update the permalink."""
    choice = data.resolve_vintage(pinned)
    if choice.vintage is None:
        return no_update, no_update
    messages = Messages()
    dims = data.dimensions(choice.vintage)
    state = parse_progress({"year": year}, dims, messages)
    state = ProgressState(year=state.year, vintage=choice.vintage.vintage_id if choice.pinned else None)
    children = kpi_section(choice.vintage, state.year)
    if messages:
        children = [ui.message_alerts(messages, ID.YEAR), *children]
    return children, state.search(data.latest_year(choice.vintage))


# --------------------------------------------------------------------------------------------------------------
# Exports: the rows behind each view, and the figures on screen
# --------------------------------------------------------------------------------------------------------------


def _kpi_frame(kpis: Sequence[data.Kpi]) -> pd.DataFrame:
    rows = []
    for k in kpis:
        share = k.unit == "share"
        scale = 100.0 if share else 1.0
        rows.append({
            "indicator": k.key, "label": k.label, "unit": "%" if share else k.unit, "year": k.year,
            "value": None if k.value is None else k.value * scale,
            "previous_year": k.previous_year,
            "previous": None if k.previous is None else k.previous * scale,
            # a share changes in percentage points, as the page says ("-4 pts"); a count changes in per cent
            "change": None if k.change is None or share else k.change * 100,
            "change_points": (k.value - k.previous) * 100 if share and k.value is not None and k.previous is not None else None,
            "flags": flag_codes(synthetic=k.flags.synthetic, not_published=k.flags.not_published,
                                break_in_series=k.flags.break_in_series,
                                derived=k.flags.published_status == "derived"),
            "n_reporting": k.coverage.reporting, "n_respondents": k.coverage.respondents,
            "n_registered": k.coverage.registered,
            "published_value": None if k.flags.published_value is None else k.flags.published_value * scale,
            "published_qualifier": k.flags.published_qualifier, "comparison": k.flags.comparison,
        })
    frame = pd.DataFrame(rows)
    for column in ("value", "previous", "change", "change_points", "published_value"):
        frame[column] = frame[column].astype("float64")
    frame["previous_year"] = frame["previous_year"].astype("Int64")
    return frame


KPI_COLUMNS = (
    Column("indicator", "Indicator code"),
    Column("label", "Indicator"),
    Column("unit", "Unit"),
    Column("year", "Year", "integer"),
    Column("value", "Value (in unit)", "decimal"),
    Column("flags", "Flags"),
    Column("previous_year", "Previous year", "integer"),
    Column("previous", "Previous year's value (in unit)", "decimal"),
    Column("change", "Change on previous year (%)", "percent"),
    Column("change_points", "Change on previous year (percentage points, for shares)", "decimal"),
    Column("n_reporting", "Members reporting", "integer"),
    Column("n_respondents", "Survey respondents", "integer"),
    Column("n_registered", "Members registered at year end", "integer"),
    Column("published_value", "Published figure (in unit)", "decimal"),
    Column("published_qualifier", "Published qualifier"),
    Column("comparison", "Computed vs published"),
)


def _people_trained_flags(vintage: data.Vintage, year: int, synthetic: bool) -> str:
    """The same flags the year's headline card carries: break in series, published or derived, not published."""
    published = data.published_figure(vintage, "people_trained", year, year)
    return flag_codes(synthetic=synthetic, not_published=published is None,
                      break_in_series=data.break_in_series(vintage, "people_trained", year),
                      derived=published is not None and published.get("status") == "derived")


def progress_views(vintage: data.Vintage, st: ProgressState, ctx: ExportContext) -> tuple[View, ...]:
    year = st.year if st.year is not None else data.latest_year(vintage)
    if year is None:
        return ()
    kpi = _kpi_frame(data.kpis(vintage, year))
    kpis_meta = ctx.meta(f"Headline figures, {year}", frame=kpi, years=(year, year), slug="progress-headline",
                         definitions=definitions(vintage), notes=(EU_TOTAL_RULE,),
                         filters=(("Year", str(year)),), view="Progress - headline figures")
    views = [View("kpis", ExportTable(kpi, KPI_COLUMNS, kpis_meta))]

    cumulative = data.cumulative_people_trained(vintage)
    progress = analysis.target_progress(cumulative, data.targets(vintage))
    frame = cumulative.rename(columns={"value": "people_trained"}).copy()
    for t in progress:
        frame[f"path_{t.target_id}"] = [analysis.path_value(t.path, int(y)) for y in frame["year"]]
        frame[f"path_{t.target_id}"] = frame[f"path_{t.target_id}"].astype("float64")
    frame["flags"] = [_people_trained_flags(vintage, int(y), ctx.info.synthetic) for y in frame["year"]]
    columns = [
        Column("year", "Year", "integer"),
        Column("people_trained", "People up-/reskilled in the year (people)", "integer"),
        Column("cumulative", "Cumulative people up-/reskilled (people)", "integer"),
        Column("flags", "Flags"),
        Column("n_reporting", "Members reporting", "integer"),
    ]
    columns += [Column(f"path_{t.target_id}", f"Required path to the {t.qualifier + ' ' if t.qualifier else ''}"
                       f"{count(t.people)} pledge (people)", "decimal") for t in progress if t.path]
    first, last = (int(frame["year"].min()), int(frame["year"].max())) if len(frame) else (year, year)
    cum_meta = ctx.meta(f"Cumulative people up-/reskilled against the partnerships' pledges, {year_span(first, last)}",
                        frame=frame, indicator="people_trained", slug="progress-cumulative-vs-targets",
                        years=(first, last),
                        definitions=definitions(vintage, ["people_trained"]), notes=(EU_TOTAL_RULE,),
                        filters=(), view="Progress - cumulative vs pledges")
    views.append(View("cumulative", ExportTable(frame, tuple(columns), cum_meta),
                      figures.targets_figure(cumulative, progress)))

    targets = pd.DataFrame([{
        "target_id": t.target_id, "version": t.version, "people": t.people, "qualifier": t.qualifier,
        "announced_year": t.announced_year, "deadline_year": t.deadline_year, "cumulative": t.cumulative,
        "remaining": t.remaining, "achieved_pace": t.achieved_pace, "needed_pace": t.needed_pace,
        "projected_year": t.projected_year, "status": t.status, "text": t.text,
    } for t in progress])
    if len(targets):
        for column in ("announced_year", "deadline_year", "projected_year"):
            targets[column] = targets[column].astype("Int64")
        targets["needed_pace"] = targets["needed_pace"].astype("float64")
    target_columns = (
        Column("target_id", "Pledge"), Column("version", "Version", "integer"),
        Column("people", "Pledge (people)", "integer"), Column("qualifier", "Qualifier"),
        Column("announced_year", "Announced", "integer"), Column("deadline_year", "Deadline", "integer"),
        Column("cumulative", "Cumulative to date (people)", "integer"),
        Column("remaining", "Remaining (people)", "integer"),
        Column("achieved_pace", "Pace achieved (people a year)", "decimal"),
        Column("needed_pace", "Pace needed to the deadline (people a year)", "decimal"),
        Column("projected_year", "Projected year reached at the achieved pace", "integer"),
        Column("status", "Status"), Column("text", "Pledge as the source words it"),
    )
    pace_meta = ctx.meta("Pace needed and achieved toward each pledge", frame=None, indicator="people_trained",
                         slug="progress-pace", years=(first, last), filters=(),
                         definitions=definitions(vintage, ["people_trained"]), view="Progress - pace")
    views.append(View("pace", ExportTable(targets if len(targets) else pd.DataFrame(
        columns=[c.key for c in target_columns]), target_columns, pace_meta),
        figures.pace_figure(cumulative, progress)))

    registry = data.members_over_time(vintage)
    published = data.membership_timeline(vintage)
    members = pd.concat([
        pd.DataFrame({"as_of": registry["as_of"], "source": "registry (date joined)",
                      "members": registry["members"].astype("Int64"), "qualifier": "", "source_url": ""}),
        pd.DataFrame({"as_of": published["as_of"], "source": "published count",
                      "members": published["members"].astype("Int64"),
                      "qualifier": published["qualifier"].fillna(""), "source_url": published["source_url"]}),
    ], ignore_index=True).sort_values(["as_of", "source"], kind="stable").reset_index(drop=True)
    members["flags"] = [flag_codes(synthetic=ctx.info.synthetic and src.startswith("registry"))
                        for src in members["source"]]
    member_meta = ctx.meta("Members over time: registry and published counts", frame=members,
                           slug="progress-members", source="Pact for Skills member registry (date joined) and the "
                           "Commission's published counts", filters=(), view="Progress - membership growth")
    views.append(View("members", ExportTable(members, (
        Column("as_of", "Date", "date"), Column("source", "Source"),
        Column("members", "Members (count)", "integer"), Column("qualifier", "Published qualifier"),
        Column("flags", "Flags"), Column("source_url", "Published at"),
    ), member_meta), figures.members_figure(registry, published)))

    launches = data.partnerships_over_time(vintage)
    long_published = pd.concat([
        pd.DataFrame({"as_of": published["as_of"], "kind": kind, "source": "published count",
                      "partnerships": published[column].astype("Int64"),
                      "qualifier": published["qualifier"].fillna(""), "source_url": published["source_url"]})
        for kind, column in (("large-scale", "large_scale_partnerships"), ("regional", "regional_partnerships"))
    ], ignore_index=True)
    long_published = long_published[long_published["partnerships"].notna()]
    growth = pd.concat([
        pd.DataFrame({"as_of": launches["as_of"], "kind": launches["kind"], "source": "known to date",
                      "partnerships": launches["partnerships"].astype("Int64"), "qualifier": "", "source_url": ""}),
        long_published,
    ], ignore_index=True).sort_values(["as_of", "kind", "source"], kind="stable").reset_index(drop=True)
    growth["flags"] = ""
    growth_meta = ctx.meta("Partnerships over time: known to date and published counts", frame=growth,
                           slug="progress-partnerships", source="partnerships compiled from public sources (see "
                           "the Sources sheet) and the Commission's published counts", synthetic=False,
                           filters=(), view="Progress - partnerships growth")
    views.append(View("partnerships", ExportTable(growth, (
        Column("as_of", "Date", "date"), Column("kind", "Kind"), Column("source", "Source"),
        Column("partnerships", "Partnerships (count)", "integer"), Column("qualifier", "Published qualifier"),
        Column("source_url", "Published at"),
    ), growth_meta), figures.partnerships_figure(launches, published)))
    return tuple(views)


@register(PAGE_ID, path=PATH, title=NAME)
def export_views(request: ExportRequest) -> PageViews:
    dims = data.dimensions(request.vintage)
    st = parse_progress(request.query, dims, request.messages)
    st = dataclasses.replace(st, vintage=request.vintage.vintage_id)
    ctx = request.context(st.search(dims.years[-1] if dims.years else None))
    return PageViews(ctx, progress_views(request.vintage, st, ctx))

"""Data (`/data`): what was ingested, when and from which files; rows accepted / superseded / test / blank /
rejected per wave; the rejects with their reasons; corrections applied; response rate per wave; and the
Commission's published figures beside the figures computed here."""

from __future__ import annotations

import dataclasses

import dash_bootstrap_components as dbc
import pandas as pd
from dash import Input, Output, State, callback, clientside_callback, dcc, html, no_update, register_page

from dashboard import data, figures, ui
from dashboard.components.export_bar import export_links, pack_button, register_export_bar
from dashboard.data import Vintage
from dashboard.export_registry import ExportContext, ExportRequest, PageViews, View, register
from dashboard.exports import Column, ExportTable
from dashboard.formatting import count, fixed, full, percent
from dashboard.state import DataState, Messages, parse_data

PAGE_ID = "data"
PATH = "/data"
NAME = "Data"
TITLE = "Data: provenance and quality"


class ID:
    """The page's component ids, each written once (the tests and the browser suite name the same strings)."""

    CHANGES = "data-changes"
    CHANGES_TABLE = "data-changes-table"
    CORRECTIONS = "data-corrections"
    CORRECTIONS_COUNTS = "data-corrections-counts"
    CORRECTIONS_GRID = "data-corrections-grid"
    INPUTS = "data-inputs"
    PUBLISHED = "data-published"
    PUBLISHED_SUMMARY = "data-published-summary"
    REJECTS = "data-rejects"
    REJECTS_SUMMARY = "data-rejects-summary"
    REJECTS_VIEW = "data-rejects-view"
    RESPONSE = "data-response"
    RESPONSE_CHART = "data-response-chart"
    RUNS = "data-runs"
    STATUS = "data-status"
    VINTAGE = "data-vintage"
    WAVE = "data-wave"
    # the sections' headings: what each section is labelled by, and where the page's contents links land
    CHANGES_HEADING = "changes"
    CORRECTIONS_HEADING = "corrections"
    INPUTS_HEADING = "inputs"
    PUBLISHED_HEADING = "published"
    REJECTS_HEADING = "rejects"
    ROWS_HEADING = "rows"
    RUNS_HEADING = "runs"


register_page(__name__, path=PATH, name=NAME, title=f"{NAME} · Pact Monitor", order=3)
ui.register_url_sync(PAGE_ID)
register_export_bar(PAGE_ID)


def layout(**query: object) -> html.Div:
    return ui.vintage_layout(PAGE_ID, TITLE, query,
                             lambda vintage, choice, messages: _page(vintage, choice, query, messages))


def _page(vintage: data.Vintage, choice: data.VintageChoice, query: dict, messages: Messages) -> html.Div:
    pinned = vintage.vintage_id if choice.pinned else None
    dims = data.dimensions(vintage)
    parsed = parse_data(query, dims, messages)
    state = DataState(parsed.wave, pinned)
    info = data.vintage_info(vintage)
    rates = data.response_rates(vintage)
    statuses = data.status_counts(vintage)
    published = data.published_vs_computed(vintage)
    body = [
        pack_button(PAGE_ID),
        html.Nav(html.Ul([html.Li(html.A(text, href=f"#{anchor}"), className="list-inline-item") for text, anchor in (
            ("Published vs computed", ID.PUBLISHED_HEADING), ("Survey rows", ID.ROWS_HEADING),
            ("Rejects", ID.REJECTS_HEADING), ("Corrections", ID.CORRECTIONS_HEADING), ("Changes", ID.CHANGES_HEADING),
            ("Input files", ID.INPUTS_HEADING), ("Pipeline runs", ID.RUNS_HEADING))],
            className="list-inline small mb-2"), **ui.aria(label="Sections of this page")),
        html.P([f"Data vintage {info.vintage_id}, built {info.created_at} from {info.inputs} input files",
                " (synthetic sample)." if info.synthetic else "."], className="small"),
        _section(ID.PUBLISHED_HEADING, "The Commission's published figures beside the figures computed here", [
            html.P("Equal: the same number. Consistent: within what the published wording allows (“nearly”: up to 5% "
                   "below; “more than”/“over”: up to 10% above; a round figure: within its rounding, at most 0.5%). Derived "
                   "figures are the Commission's figures combined by arithmetic (e.g. 2024 = cumulative − 2022–23).",
                   className="small text-body-secondary"),
            ui.grid(ID.PUBLISHED, _published_rows(published, {m.indicator: m.label for m in
                                                                  data.indicator_catalogue(vintage)}),
                    PUBLISHED_COLUMNS, height=340),
            html.P(_published_summary(published), className="small mt-1", id=ID.PUBLISHED_SUMMARY),
            export_links(PAGE_ID, "published", state.search(), what="the published-vs-computed table", images=False),
        ]),
        _section(ID.ROWS_HEADING, "Survey rows per wave, and response rate", [dbc.Row([
            dbc.Col([
                ui.simple_table(_status_rows(statuses), caption="Every raw row is accounted for: rows read = "
                                "accepted + superseded + test + blank + rejected", table_id=ID.STATUS,
                                numeric=("Accepted", "Superseded", "Test", "Blank", "Rejected", "Rows read")),
                ui.simple_table(_rate_rows(rates), caption="Respondents and members registered by the end of the "
                                "activity year", table_id=ID.RESPONSE,
                                numeric=("Respondents", "Registered", "Response rate")),
            ], lg=7),
            dbc.Col([ui.chart(ID.RESPONSE_CHART, figures.response_figure(rates), _rate_summary(rates),
                             filename="pact-response-rate"),
                     export_links(PAGE_ID, "waves", state.search(), what="the survey rows and response rates")], lg=5),
        ])]),
        _section(ID.REJECTS_HEADING, "Rejected values and rows", [
            dbc.Row([dbc.Col(ui.select(ID.WAVE, "Survey wave", [("all", "All waves")] +
                                       [(y, str(y)) for y in dims.years], state.wave or "all"), md=3)]),
            html.Div(rejects_view(vintage, state.wave), id=ID.REJECTS_VIEW),
            export_links(PAGE_ID, "rejects", state.search(), what="the rejects of the chosen wave", images=False),
        ]),
        _section(ID.CORRECTIONS_HEADING, "Corrections applied", [
            corrections_view(vintage),
            export_links(PAGE_ID, "corrections", state.search(), what="the corrections", images=False),
        ]),
        _section(ID.CHANGES_HEADING, "Large changes on the previous wave, acknowledged", [expected_changes_view(vintage)]),
        _section(ID.INPUTS_HEADING, "Input files of this vintage", [
            ui.grid(ID.INPUTS, data.inputs(vintage), INPUT_COLUMNS, height=260),
        ]),
        _section(ID.RUNS_HEADING, "Pipeline runs (newest first)", [
            ui.grid(ID.RUNS, data.runs(), RUN_COLUMNS, height=260),
            html.P("Failed runs are listed too; a failed run never replaces the current data. Warnings are what a "
                   "run published anyway but someone should look at (python -m pipelines check lists them).",
                   className="small text-body-secondary mt-1"),
        ]),
    ]
    return ui.page(PAGE_ID, TITLE,
                   "What was ingested, from which files, what was rejected and why, and how the figures computed "
                   "here compare with those the Commission published.",
                   body, choice, messages,
                   [*ui.url_sync(PAGE_ID, state.search()), dcc.Store(id=ID.VINTAGE, data=pinned)])


def _section(anchor: str, title: str, children: list) -> html.Section:
    return html.Section([html.H2(title, className="section-title", id=anchor), *children],
                        **ui.aria(labelledby=anchor))


PUBLISHED_COLUMNS = [
    {"field": "indicator", "headerName": "Indicator", "minWidth": 220, "tooltipField": "indicator"},
    {"field": "period", "headerName": "Period", "minWidth": 100},
    {"field": "period_kind", "headerName": "Kind", "minWidth": 100},
    {"field": "published_text", "headerName": "Published", "minWidth": 150},
    {"field": "computed_text", "headerName": "Computed here", "minWidth": 150},
    {"field": "computed_from", "headerName": "Computed from", "minWidth": 160, "tooltipField": "computed_from"},
    {"field": "comparison", "headerName": "Comparison", "minWidth": 130,
     "cellClassRules": {"text-success fw-semibold": "params.value == 'equal'",
                        "text-danger fw-semibold": "params.value == 'differs'"}},
    {"field": "status", "headerName": "Status", "minWidth": 100},
    {"field": "derivation", "headerName": "Derivation", "minWidth": 160, "tooltipField": "derivation"},
    {"field": "source_url", "headerName": "Source", "minWidth": 200, "tooltipField": "source_url"},
]


EXTRA_LABELS = {"respondents": "Survey respondents", "commitments_progressing_share": "Share of commitments "
                "progressing", "members": "Members registered", "large_scale_partnerships": "Large-scale partnerships",
                "regional_partnerships": "Regional partnerships",
                "members_valuing_pact_share": "Respondents who consider the Pact valuable",
                "lsp_members_workforce_trained_share": "Share of their workforce that large-scale partnership "
                "members trained"}


def _published_rows(frame: pd.DataFrame, labels: dict[str, str] | None = None) -> pd.DataFrame:
    names = {**EXTRA_LABELS, **(labels or {})}
    out = frame.sort_values(["period_end", "period_start", "indicator"]).copy()
    out["indicator"] = [names.get(code, code) for code in out["indicator"]]
    out["period"] = [str(s) if s == e else f"{s}–{e}" for s, e in zip(out["period_start"], out["period_end"],
                                                                       strict=True)]
    out["published_text"] = [f"{(q + ' ') if q else ''}{_figure(v, u)}" for q, v, u in
                              zip(out["qualifier"].fillna(""), out["published"], out["unit"], strict=True)]
    out["computed_text"] = [_figure(v, u) for v, u in zip(out["computed"], out["unit"], strict=True)]
    return out[["indicator", "period", "period_kind", "published_text", "computed_text", "computed_from",
                "comparison", "status", "derivation", "source_url"]]


def _figure(value: float | None, unit: str) -> str:
    if value is None or (isinstance(value, float) and pd.isna(value)):
        return "–"
    return percent(float(value)) if unit == "share" else full(float(value), "EUR" if unit == "EUR" else "")


def _published_summary(frame: pd.DataFrame) -> str:
    counts = frame["comparison"].value_counts()
    parts = [f"{int(n)} {word}" for word, n in counts.items()]
    return f"{len(frame)} published figures: " + ", ".join(parts) + "." if len(frame) else "No published figures."


def _status_rows(frame: pd.DataFrame) -> list[dict]:
    return [{"Wave": int(r.year), "Accepted": f"{count(int(r.accepted))}", "Superseded": f"{count(int(r.superseded))}",
             "Test": f"{count(int(r.test))}", "Blank": f"{count(int(r.blank))}", "Rejected": f"{count(int(r.rejected))}",
             "Rows read": f"{count(int(r.rows_read))}"} for r in frame.itertuples()]


def _rate_rows(frame: pd.DataFrame) -> list[dict]:
    return [{"Wave": int(r.year), "Respondents": f"{count(int(r.n_respondents))}",
             "Registered": f"{count(int(r.n_registered))}", "Response rate": percent(r.response_rate)}
            for r in frame.itertuples()]


def _rate_summary(frame: pd.DataFrame) -> str:
    return "Response rate per wave: " + "; ".join(
        f"{int(r.year)}: {percent(r.response_rate)} ({count(int(r.n_respondents))} of {count(int(r.n_registered))})"
        for r in frame.itertuples()) + "."


REJECT_COLUMNS = [
    {"field": "source_file", "headerName": "File", "minWidth": 200, "tooltipField": "source_file"},
    {"field": "sheet", "headerName": "Sheet", "minWidth": 90},
    ui.number_column("row", "Row", minWidth=80),
    {"field": "column", "headerName": "Column", "minWidth": 160, "tooltipField": "column"},
    {"field": "value", "headerName": "Value as received", "minWidth": 140},
    {"field": "reason_code", "headerName": "Reason code", "minWidth": 140},
    {"field": "reason", "headerName": "Reason", "minWidth": 260, "tooltipField": "reason"},
]


def rejects_summary(vintage: Vintage, wave: int | None) -> str:
    frame = data.wave_rejects(vintage, wave)
    total = data.reject_count(vintage)
    counts = frame["reason_code"].value_counts()
    summary = (f"{count(len(frame))} rejects" + (f" in the {wave} wave" if wave else "") + ": "
               + ", ".join(f"{count(n)} {code}" for code, n in counts.items()) + "." if len(frame) else "No rejects.")
    if total > data.MAX_REJECT_ROWS:
        summary += f" The grid holds the first {count(data.MAX_REJECT_ROWS)} of {count(total)}."
    return summary


def rejects_view(vintage: Vintage, wave: int | None) -> list:
    """The rejects' summary and their grid, whose rows come a block at a time (`serve_rejects`)."""
    return [
        html.P(rejects_summary(vintage, wave), className="small", id=ID.REJECTS_SUMMARY),
        ui.paged_grid(ID.REJECTS, REJECT_COLUMNS, height=320),
    ]


CORRECTION_COLUMNS = [
    {"field": "correction_id", "headerName": "Correction", "minWidth": 110},
    {"field": "wave", "headerName": "Wave", "minWidth": 80},
    {"field": "member_id", "headerName": "Member", "minWidth": 110},
    {"field": "indicator", "headerName": "Indicator", "minWidth": 150},
    {"field": "action", "headerName": "Action", "minWidth": 90},
    ui.number_column("old_value", "Old value"),
    ui.number_column("new_value", "New value"),
    {"field": "status", "headerName": "Status", "minWidth": 110},
    {"field": "reason", "headerName": "Reason", "minWidth": 220, "tooltipField": "reason"},
    {"field": "corrected_by", "headerName": "By", "minWidth": 100},
    {"field": "corrected_on", "headerName": "On", "minWidth": 110},
]


def corrections_view(vintage: Vintage) -> html.Div:
    frame = data.corrections(vintage)
    if frame.empty:
        return html.Div(html.P("No corrections: every figure is as the members reported it (after validation).",
                               className="small"), id=ID.CORRECTIONS)
    if tuple(frame.columns) == data.PUBLIC_CORRECTION_COLUMNS:  # public mode: how many, never which or why
        rows = [{"Wave": int(r.wave), "Indicator": r.indicator, "Action": r.action, "Status": r.status,
                 "Corrections": int(r.corrections)} for r in frame.itertuples()]
        return html.Div([
            html.P(f"{int(frame['corrections'].sum())} corrections in the corrections file, counted by wave and "
                   "indicator; which submissions they concern is not shown in public mode.", className="small"),
            ui.simple_table(rows, table_id=ID.CORRECTIONS_COUNTS, numeric=("Corrections",)),
        ], id=ID.CORRECTIONS)
    frame = frame.assign(corrected_on=frame["corrected_on"].astype(str))
    applied = int((frame["status"] == "applied").sum())
    return html.Div([
        html.P(f"{len(frame)} corrections in the corrections file; {applied} applied.", className="small"),
        ui.grid(ID.CORRECTIONS_GRID, frame, CORRECTION_COLUMNS, height=240),
    ], id=ID.CORRECTIONS)


def expected_changes_view(vintage: Vintage) -> html.Div:
    """The jumps a sidecar acknowledged: a wave's total ten times the previous wave's (or a tenth) stops the
    pipeline unless the sidecar gives the reason shown here."""
    frame = data.expected_changes(vintage)
    note = html.P("A wave whose total, or median per member, of an indicator is ten times the previous wave's or a "
                  "tenth of it stops the pipeline (a unit or wave mistake?) unless the wave's sidecar acknowledges "
                  "the change with a reason.", className="small text-body-secondary")
    if frame.empty:
        return html.Div([note, html.P("No change was acknowledged: no indicator moved that much.", className="small")],
                        id=ID.CHANGES)
    metas = {m.indicator: m for m in data.indicator_catalogue(vintage)}
    rows = []
    for r in frame.itertuples():
        meta = metas[r.indicator]
        rows.append({
            "Wave": int(r.wave), "Indicator": meta.label,
            "Previous wave": "" if pd.isna(r.previous_wave) else int(r.previous_wave),
            "Before": "" if pd.isna(r.previous_total) else f"{fixed(r.previous_total / meta.scale, 0, half_up=False)} {meta.unit}",
            "This wave": "" if pd.isna(r.total) else f"{fixed(r.total / meta.scale, 0, half_up=False)} {meta.unit}",
            "Change": "" if pd.isna(r.factor) else f"×{fixed(r.factor, 2, half_up=False)}", "Reason": r.reason,
        })
    return html.Div([note, ui.simple_table(rows, table_id=ID.CHANGES_TABLE,
                                           numeric=("Before", "This wave", "Change"))], id=ID.CHANGES)


INPUT_COLUMNS = [
    {"field": "path", "headerName": "File", "minWidth": 240, "tooltipField": "path"},
    {"field": "kind", "headerName": "Kind", "minWidth": 100},
    {"field": "title", "headerName": "Title", "minWidth": 260, "tooltipField": "title"},
    {"field": "received", "headerName": "Received", "minWidth": 110},
    ui.number_column("rows", "Rows"),
    {"field": "sha256", "headerName": "SHA-256", "minWidth": 300, "tooltipField": "sha256",
     "cellClass": "font-monospace small"},
]

RUN_COLUMNS = [
    {"field": "started", "headerName": "Started", "minWidth": 180},
    {"field": "status", "headerName": "Status", "minWidth": 100,
     "cellClassRules": {"text-danger fw-semibold": "params.value == 'failed'"}},
    {"field": "vintage_id", "headerName": "Vintage", "minWidth": 220},
    ui.number_column("duration_s", "Seconds"),
    ui.number_column("inputs", "Inputs"),
    ui.number_column("rows_read", "Rows read"),
    {"field": "error", "headerName": "Error", "minWidth": 260, "tooltipField": "error"},
    {"field": "warnings", "headerName": "Warnings", "minWidth": 260, "tooltipField": "warnings"},
]


def _chosen(wave: object, pinned: object) -> tuple[data.VintageChoice, DataState | None]:
    """The vintage and the state of the wave control, checked like a URL query."""
    choice = data.resolve_vintage(pinned)
    if choice.vintage is None:
        return choice, None
    parsed = parse_data({"wave": wave}, data.dimensions(choice.vintage), Messages())
    return choice, DataState(parsed.wave, choice.vintage.vintage_id if choice.pinned else None)


@callback(
    Output(ID.REJECTS_SUMMARY, "children"),
    Output(ui.permalink_id(PAGE_ID), "data"),
    Input(ID.WAVE, "value"),
    State(ID.VINTAGE, "data"),
    prevent_initial_call=True,
)
def update_wave(wave: object, pinned: object):
    """Another wave: its summary and permalink (the grid, emptied in the browser, asks for its rows again)."""
    choice, state = _chosen(wave, pinned)
    if choice.vintage is None or state is None:
        return no_update, no_update
    return rejects_summary(choice.vintage, state.wave), state.search()


@callback(
    Output(ID.REJECTS, "getRowsResponse"),
    Input(ID.REJECTS, "getRowsRequest"),
    State(ID.WAVE, "value"),
    State(ID.VINTAGE, "data"),
    prevent_initial_call=True,
)
def serve_rejects(request: object, wave: object, pinned: object):
    """The block of rejects the grid asks for as the reader scrolls, sorts or filters."""
    choice, state = _chosen(wave, pinned)
    if choice.vintage is None or state is None or not isinstance(request, dict):
        return no_update
    return ui.grid_block(data.wave_rejects(choice.vintage, state.wave), request)


# A wave chosen: the grid drops the rows it holds and asks for the new wave's (ag-grid's infinite cache).
clientside_callback(
    """function (wave, gridId) {
        window.dash_ag_grid.getApiAsync(gridId).then(function (api) { api.purgeInfiniteCache(); });
        return window.dash_clientside.no_update;
    }""",
    Output(ID.REJECTS, "className"),
    Input(ID.WAVE, "value"),
    State(ID.REJECTS, "id"),
    prevent_initial_call=True,
)


# --------------------------------------------------------------------------------------------------------------
# Exports: the rows behind each view, and the figures on screen
# --------------------------------------------------------------------------------------------------------------


def data_views(vintage: data.Vintage, st: DataState, ctx: ExportContext) -> tuple[View, ...]:
    wave_filter = (("Survey wave", str(st.wave)),) if st.wave else (("Survey wave", "all"),)
    published = data.published_vs_computed(vintage)
    pub_meta = ctx.meta("Published figures beside the figures computed here", frame=None, slug="data-published",
                        filters=(), view="Data - published vs computed",
                        flags=("s",) if ctx.info.synthetic else ())
    views = [View("published", ExportTable(published, (
        Column("figure_id", "Figure"), Column("indicator", "Indicator"),
        Column("period_start", "From", "integer"), Column("period_end", "To", "integer"),
        Column("period_kind", "Period kind"), Column("unit", "Unit"), Column("qualifier", "Qualifier"),
        Column("published", "Published value (in unit)", "decimal"),
        Column("computed", "Computed here (in unit)", "decimal"), Column("comparison", "Comparison"),
        Column("status", "Published or derived"), Column("derivation", "Derivation"),
        Column("source_url", "Source"),
    ), pub_meta))]
    rates = data.response_rates(vintage)
    rates["response_rate"] = rates["response_rate"] * 100
    statuses = data.status_counts(vintage)
    waves = rates.merge(statuses, on="year", how="outer").sort_values("year").reset_index(drop=True)
    count_columns = [Column(s, f"Rows {s}", "integer") for s in ("accepted", "superseded", "test", "blank",
                                                                  "rejected")]
    wave_meta = ctx.meta("Survey rows and response rate per wave", frame=None, slug="data-waves", filters=(),
                         view="Data - waves", flags=("s",) if ctx.info.synthetic else ())
    views.append(View("waves", ExportTable(waves, (
        Column("year", "Survey wave (activity year)", "integer"), Column("rows_read", "Rows read", "integer"),
        *count_columns, Column("n_respondents", "Respondents", "integer"),
        Column("n_registered", "Members registered at year end", "integer"),
        Column("response_rate", "Response rate (%)", "percent"),
    ), wave_meta), figures.response_figure(data.response_rates(vintage))))
    rejects = data.wave_rejects(vintage, st.wave)
    reject_meta = ctx.meta("Rejected values and rows, with reasons", frame=None, slug="data-rejects",
                           filters=wave_filter, view="Data - rejects", flags=(),
                           notes=(f"At most {count(data.MAX_REJECT_ROWS)} rows; the full list is rejects.parquet in the "
                                  "snapshot.",))
    views.append(View("rejects", ExportTable(rejects, (
        Column("source_file", "File"), Column("sheet", "Sheet"), Column("row", "Row", "integer"),
        Column("column", "Column"), Column("contribution_id", "Contribution Id"),
        Column("value", "Value as received"), Column("reason_code", "Reason code"), Column("reason", "Reason"),
    ), reject_meta)))
    corrections = data.corrections(vintage)
    public_columns = (Column("wave", "Wave", "integer"), Column("indicator", "Indicator"), Column("action", "Action"),
                      Column("status", "Status"), Column("corrections", "Corrections", "integer"))
    correction_columns = [
        Column("correction_id", "Correction"), Column("wave", "Wave", "integer"),
        Column("contribution_id", "Contribution Id"), Column("member_id", "Member"), Column("indicator", "Indicator"),
        Column("action", "Action"), Column("old_value", "Old value", "integer"),
        Column("new_value", "New value", "integer"), Column("status", "Status"), Column("reason", "Reason"),
        Column("corrected_by", "By"), Column("corrected_on", "On", "date"),
    ]
    if "detail" in corrections.columns:
        correction_columns.append(Column("detail", "Detail"))
    if tuple(corrections.columns) == data.PUBLIC_CORRECTION_COLUMNS:  # public mode: counts only
        correction_columns = list(public_columns)
    corr_meta = ctx.meta("Corrections applied to reported values", frame=None, slug="data-corrections", filters=(),
                         view="Data - corrections", flags=())
    views.append(View("corrections", ExportTable(corrections, tuple(correction_columns), corr_meta)))
    return tuple(views)


@register(PAGE_ID, path=PATH, title=NAME)
def export_views(request: ExportRequest) -> PageViews:
    st = parse_data(request.query, data.dimensions(request.vintage), request.messages)
    st = dataclasses.replace(st, vintage=request.vintage.vintage_id)
    ctx = request.context(st.search())
    return PageViews(ctx, data_views(request.vintage, st, ctx))

"""Layout builders shared by the pages: plain functions returning components (testable without a browser)."""

from __future__ import annotations

import logging
import operator
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Literal, TypedDict

import dash_ag_grid as dag
import dash_bootstrap_components as dbc
import pandas as pd
from dash import dcc, html

from dashboard import data, style
from dashboard.data import Coverage, Flags, Kpi, Vintage, VintageChoice
from dashboard.formatting import BREAK_CAVEAT, CURRENCY, CURRENCY_SIGN, change, clip, compact, count, full
from dashboard.state import Messages
from pipelines.indicators import CATALOGUE

log = logging.getLogger(__name__)


# --------------------------------------------------------------------------------------------------------------
# ARIA attributes
# --------------------------------------------------------------------------------------------------------------

# Dash's components take any `aria-*` attribute at runtime (their generated __init__ ends in **kwargs), but a name
# with a hyphen can only be passed as `**{"aria-label": ...}`, and a plain dict[str, str] unpacked into a call makes
# the type checker try every str value against every typed parameter. A TypedDict names its keys, which no
# parameter has, so they go to **kwargs and the call type-checks.
Aria = TypedDict("Aria", {
    "aria-hidden": str, "aria-label": str, "aria-labelledby": str, "aria-live": str, "aria-controls": str,
    "aria-expanded": str,
}, total=False)


def aria(*, hidden: bool = False, label: str | None = None, labelledby: str | None = None,
         live: Literal["polite", "assertive", "off"] | None = None, controls: str | None = None,
         expanded: bool | None = None) -> Aria:
    """The `aria-*` attributes for a component, to unpack into it: `html.I(className=..., **aria(hidden=True))`.

    Only the attributes asked for are set; booleans are written as HTML wants them ("true"/"false").
    """
    attrs: Aria = {}
    if hidden:
        attrs["aria-hidden"] = "true"
    if label is not None:
        attrs["aria-label"] = label
    if labelledby is not None:
        attrs["aria-labelledby"] = labelledby
    if live is not None:
        attrs["aria-live"] = live
    if controls is not None:
        attrs["aria-controls"] = controls
    if expanded is not None:
        attrs["aria-expanded"] = "true" if expanded else "false"
    return attrs


# --------------------------------------------------------------------------------------------------------------
# Page frame
# --------------------------------------------------------------------------------------------------------------


def resolve(query: Mapping[str, object]) -> tuple[VintageChoice, Messages]:
    messages = Messages()
    choice = data.resolve_vintage(query.get("vintage"))
    if choice.message:
        messages.append(choice.message)
    return choice, messages


def permalink_id(page_id: str) -> str:
    """The store holding a page's query string (the export bar and the address bar follow it)."""
    return f"{page_id}-permalink"


def messages_id(page_id: str) -> str:
    """Where a page says which settings of its link were not used."""
    return f"{page_id}-messages"


def message_alerts(messages: Sequence[str], page_id: str) -> html.Div:
    if not messages:
        return html.Div(id=messages_id(page_id), role="status")
    shown = list(messages[:8])
    if len(messages) > 8:
        shown.append(f"… and {len(messages) - 8} more.")
    return html.Div(
        dbc.Alert(
            [html.Strong("Some settings in the link were not used. "), html.Ul([html.Li(m) for m in shown],
                                                                            className="mb-0 mt-1")],
            color="warning", className="py-2",
        ),
        id=messages_id(page_id), role="status",
    )


def vintage_notice(choice: VintageChoice) -> html.Div | None:
    if choice.vintage is None or not choice.pinned:
        return None
    info = data.vintage_info(choice.vintage)
    return dbc.Alert(
        [html.I(className="bi bi-pin-angle me-2", **aria(hidden=True)),
         f"Pinned to data vintage {info.vintage_id} (built {info.created_at}). The figures are as they stood then. ",
         html.A("Show the current data", href="?", className="alert-link")],
        color="info", className="py-2", id="vintage-notice",
    )


def page(
    page_id: str,
    title: str,
    lead: str,
    body: Sequence[Any],
    choice: VintageChoice | None = None,
    messages: Sequence[str] = (),
    stores: Sequence[Any] = (),
) -> html.Div:
    header = html.Div(
        [html.H1(title, className="h3 mb-1"), html.P(lead, className="text-body-secondary mb-3")],
        className="pt-3",
    )
    notice = vintage_notice(choice) if choice else None
    return html.Div(
        [header, notice, message_alerts(messages, page_id), *body, *stores],
        id=f"{page_id}-page",
        className="pb-5",
    )


def no_data(page_id: str, title: str, reason: str, messages: Sequence[str] = ()) -> html.Div:
    return page(page_id, title, "", [dbc.Alert(
        [html.H2("No data to show yet", className="h5"), html.P(reason, className="mb-1"),
         html.P(["Build it with ", html.Code("python -m pipelines"), " (or ", html.Code("make run"), ")."],
                className="mb-0")],
        color="secondary", id=f"{page_id}-no-data",
    )], messages=messages)


def vintage_layout(page_id: str, title: str, query: Mapping[str, object],
                   build: Callable[[Vintage, VintageChoice, Messages], html.Div]) -> html.Div:
    """A data page's layout for a query string: its vintage resolved, then `build` given that vintage (never
    None, so `build` need not check it again), or a page saying why not."""
    choice, messages = resolve(query)
    vintage = choice.vintage
    if vintage is None:
        return no_data(page_id, title, "No curated snapshot exists yet.", messages)
    return guarded(page_id, title, lambda: build(vintage, choice, messages), messages)


def guarded(page_id: str, title: str, build: Callable[[], html.Div], messages: Sequence[str] = ()) -> html.Div:
    """Build a page; data that cannot be read gives a page saying so, never a server error."""
    try:
        return build()
    except data.DataUnavailable as exc:
        log.warning("%s: curated data unavailable: %s", page_id, exc)
        return no_data(page_id, title, f"The curated data could not be read: {exc}.", messages)
    except Exception:
        log.exception("%s: the page could not be built", page_id)
        return no_data(page_id, title, "This view could not be built from the current data; the error is logged.",
                       messages)


def permalink_store(page_id: str, search: str) -> dcc.Store:
    """The page's current query string; a clientside callback mirrors it into the address bar."""
    return dcc.Store(id=permalink_id(page_id), data=search)


# --------------------------------------------------------------------------------------------------------------
# Controls
# --------------------------------------------------------------------------------------------------------------


def labelled(label: str, control: Any, control_id: str, help_text: str | None = None) -> html.Div:
    children = [dbc.Label(label, html_for=control_id, className="form-label small fw-semibold mb-1"), control]
    if help_text:
        children.append(html.Div(help_text, className="form-text mt-0"))
    return html.Div(children, className="mb-2")


def select(control_id: str, label: str, options: Sequence[tuple[object, str]], value: object) -> html.Div:
    """A native <select>: labelled, keyboard-operable everywhere, nothing to learn."""
    return labelled(label, dbc.Select(
        id=control_id, options=[{"label": text, "value": str(v)} for v, text in options],
        value=None if value is None else str(value), size="sm",
    ), control_id)


def multi_select(control_id: str, label: str, options: Sequence[tuple[str, str]], value: Sequence[str]) -> html.Div:
    """A group of checkboxes behind a disclosure: native inputs, a legend, usable from the keyboard.

    (Dash 4's dcc.Dropdown leaves a focusable aria-hidden input behind, which fails WCAG 4.1.2.) The summary line
    says what is chosen; assets/zz_app/pact.js keeps it current.
    """
    chosen = [text for v, text in options if v in set(value)]
    return html.Div(
        html.Details([
            html.Summary([
                html.Span(label, className="fw-semibold"), ": ",
                html.Span(selection_text(chosen), id=f"{control_id}-chosen"),
            ], className="small", id=f"{control_id}-toggle"),
            html.Fieldset([
                html.Legend(label, className="visually-hidden"),
                dbc.Checklist(id=control_id, options=[{"label": text, "value": v} for v, text in options],
                              value=list(value), className="small checklist-scroll", input_class_name="me-1"),
            ], className="mt-1"),
        ], open=bool(value), id=f"{control_id}-details"),
        className="mb-2",
    )


def selection_text(chosen: Sequence[str]) -> str:
    if not chosen:
        return "all"
    if len(chosen) <= 2:
        return ", ".join(chosen)
    return f"{len(chosen)} selected"


def register_selection_summary(control_id: str) -> None:
    """Keep a multi_select's summary line in step with its ticks (in the browser: no round trip)."""
    from dash import ClientsideFunction, Input, Output, State, clientside_callback

    clientside_callback(
        ClientsideFunction(namespace="pact", function_name="selectionText"),
        Output(f"{control_id}-chosen", "children"),
        Input(control_id, "value"),
        State(control_id, "options"),
    )


def view_switch(control_id: str, views: Sequence[tuple[str, str]], value: str, label: str) -> html.Div:
    """Chart / map / table as a radio group styled as a button bar (Bootstrap's btn-check)."""
    return html.Div([
        html.Span(label, className="visually-hidden", id=f"{control_id}-label"),
        dbc.RadioItems(
            id=control_id, options=[{"label": text, "value": v} for v, text in views], value=value, inline=True,
            className="btn-group", input_class_name="btn-check",
            label_class_name="btn btn-outline-primary btn-sm", label_checked_class_name="active",
        ),
    ], role="group", **aria(labelledby=f"{control_id}-label"), className="mb-2")


def pane_id(control_id: str, pane: str) -> str:
    """The container a view switch shows for one of its choices."""
    return f"{control_id}-pane-{pane}"


def register_view_switch(control_id: str, panes: Sequence[str]) -> None:
    """Show the chosen pane and hide the others (in the browser: switching views costs no request)."""
    from dash import ClientsideFunction, Input, Output, clientside_callback

    clientside_callback(
        ClientsideFunction(namespace="pact", function_name="showPane"),
        [Output(pane_id(control_id, pane), "hidden") for pane in panes],
        Input(control_id, "value"),
        prevent_initial_call=True,
    )


def control_card(children: Sequence[Any], title: str = "Selection") -> dbc.Card:
    return dbc.Card(
        [dbc.CardHeader(html.H2(title, className="h6 mb-0")), dbc.CardBody(list(children), className="py-2")],
        className="mb-3 shadow-sm",
    )


# --------------------------------------------------------------------------------------------------------------
# Charts and tables
# --------------------------------------------------------------------------------------------------------------


def graph_config(filename: str, geo: bool = False) -> dcc.Graph.Config:
    config: dcc.Graph.Config = {**style.GRAPH_CONFIG, "toImageButtonOptions": {"format": "png", "filename": filename, "scale": 2}}
    if geo:
        from dash import get_asset_url

        # plotly.js would fetch map geometry from its CDN; the app serves its own copy.
        config["topojsonURL"] = get_asset_url("topojson/")
    return config


def chart(graph_id: str, figure: Any, summary: str, table: Any = None, filename: str = "pact-monitor-chart",
          extra: Sequence[Any] = (), geo: bool = False) -> html.Figure:
    """A chart with its text alternative: a caption summarising it, and its data as a table behind a disclosure."""
    children: list[Any] = [
        dcc.Loading(dcc.Graph(id=graph_id, figure=figure, config=graph_config(filename, geo),
                              style=graph_style(figure)), type="circle", delay_show=300),
        html.Figcaption(summary, id=f"{graph_id}-summary", className="small text-body-secondary mt-1"),
        *extra,
    ]
    if table is not None:
        children.append(html.Details(
            [html.Summary("Show the data as a table", className="small"), html.Div(table, id=f"{graph_id}-table")],
            className="mt-1",
        ))
    return html.Figure(children, className="mb-3", id=f"{graph_id}-figure")


def graph_style(figure: Any) -> dict[str, str]:
    """The graph's box as tall as its figure.

    With `responsive` in the config, dcc.Graph drops the figure's own height and fills its container; a container
    without a height of its own is then 0 px tall whenever the chart was first drawn while hidden (the Explore map
    behind its view switch), and the caption, export bar and footer land on top of the chart.
    """
    try:
        height = figure["layout"]["height"]
    except (KeyError, TypeError):
        height = None
    return {"height": f"{int(height or style.CHART_HEIGHT)}px"}


def simple_table(rows: Sequence[Mapping[str, object]], caption: str | None = None, table_id: str | None = None,
                 numeric: Sequence[str] = ()) -> html.Div | dbc.Table:
    """A small, plain HTML table (the text alternative of a chart, or a short list)."""
    if not rows:
        return dbc.Table([html.Tbody(html.Tr(html.Td("No rows.")))], size="sm", **_id(table_id))
    columns = list(rows[0].keys())
    head = html.Thead(html.Tr([html.Th(c, scope="col", className="text-end" if c in numeric else None)
                               for c in columns]))
    body = html.Tbody([
        html.Tr([html.Td("" if r.get(c) is None else str(r.get(c)), className="text-end" if c in numeric else None)
                 for c in columns])
        for r in rows
    ])
    parts: list[Any] = [html.Caption(caption, className="caption-top small")] if caption else []
    table = dbc.Table([*parts, head, body], size="sm", striped=True, hover=True, className="small mb-2",
                      **_id(table_id))
    # On a phone a wide table scrolls sideways inside its own box: a named region a keyboard can focus and scroll
    # with the arrow keys (WCAG 2.1.1; axe's scrollable-region-focusable), the page itself never scrolls sideways.
    return html.Div(table, className="table-responsive table-scroll", tabIndex="0", role="region",
                    **aria(label=caption or ("Table: " + ", ".join(str(c) for c in columns))[:120]))


def _id(component_id: str | None) -> dict[str, str]:
    return {"id": component_id} if component_id else {}


def grid_records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """A frame's rows as plain Python records, missing values as None (what a grid's rowData takes).

    Column by column: about 4 times faster than `DataFrame.to_dict("records")` on a 2,400-row rejects table,
    which made up most of the Data page's render time at 100x the sample; the JSON sent is the same.
    """
    names = list(frame.columns)
    columns = [_plain_values(frame[name]) for name in names]
    return [dict(zip(names, row, strict=True)) for row in zip(*columns, strict=True)]


def _plain_values(column: pd.Series) -> list[Any]:
    if column.dtype.kind in "mM":  # to_numpy leaves a missing date as NaT, whatever na_value says
        return column.astype(object).where(column.notna(), None).tolist()
    return column.to_numpy(dtype=object, na_value=None).tolist()


# What every grid shares: sortable, filterable, resizable columns, and the keyboard's way in and out.
_COLUMN_DEFAULTS = {"sortable": True, "filter": True, "resizable": True, "floatingFilter": False, "minWidth": 90,
                    "wrapHeaderText": True, "autoHeaderHeight": True}
_GRID_OPTIONS = {"animateRows": False, "ensureDomOrder": True, "enableCellTextSelection": True, "domLayout": "normal",
                 "suppressColumnVirtualisation": True,
                 # One Tab enters the grid and the next leaves it; arrow keys move between cells inside
                 # (WCAG 2.1.1 without a hundred Tab presses to get past a table).
                 "tabToNextCell": {"function": "false"}, "tabToNextHeader": {"function": "false"}}


def grid(grid_id: str, frame: pd.DataFrame, column_defs: Sequence[Mapping[str, Any]], height: int = 360,
         column_size: str | None = "responsiveSizeToFit", pinned_top: pd.DataFrame | None = None) -> dag.AgGrid:
    """A sortable, filterable grid (dash-ag-grid) of a frame's rows; `pinned_top` rows (a total) stay first
    whatever the sort."""
    records = grid_records(frame)
    return dag.AgGrid(
        id=grid_id,
        rowData=records,
        columnDefs=list(column_defs),
        # Long text (regional partnership names, pledges) wraps onto more lines of a taller row: readable whole
        # without a mouse, and two names that start alike stay distinguishable.
        defaultColDef={**_COLUMN_DEFAULTS, "wrapText": True, "autoHeight": True},
        dashGridOptions={**_GRID_OPTIONS,
                         "pinnedTopRowData": grid_records(pinned_top) if pinned_top is not None else []},
        columnSize=column_size,
        style={"height": f"{height}px", "width": "100%"},
        className="ag-theme-alpine",
    )


def paged_grid(grid_id: str, column_defs: Sequence[Mapping[str, Any]], height: int = 360,
               rows_per_block: int = 100) -> dag.AgGrid:
    """A grid of thousands of rows that the server sends a block at a time, as the reader scrolls, sorted and
    filtered there (ag-grid's infinite row model; the page's callback answers with `grid_block`). Sent whole, the
    Data page's 2,400 rejects at 100x the sample weighed 0.9 MB of the page and ~6 MB of a worker's memory."""
    return dag.AgGrid(
        id=grid_id,
        rowModelType="infinite",
        columnDefs=list(column_defs),
        # Rows keep one height: the infinite model lays out blocks before their rows arrive (long text: tooltips).
        defaultColDef=_COLUMN_DEFAULTS,
        dashGridOptions={**_GRID_OPTIONS, "cacheBlockSize": rows_per_block, "maxBlocksInCache": 20},
        columnSize="responsiveSizeToFit",
        style={"height": f"{height}px", "width": "100%"},
        className="ag-theme-alpine",
    )


# The most rows one block request gets, whatever it asks (the grid asks for 100 at a time).
MAX_BLOCK_ROWS = 1000


def _whole(value: object, default: int) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else default


def grid_block(frame: pd.DataFrame, request: Mapping[str, Any]) -> dict[str, Any]:
    """The rows a paged grid asked for (`getRowsRequest`): `frame` filtered by its filter model and sorted by its sort
    model, rows startRow to endRow (at most MAX_BLOCK_ROWS), and how many rows the filter keeps
    (`getRowsResponse`). The request comes from the browser: a part that is not what ag-grid sends is ignored."""
    kept = frame
    filters = request.get("filterModel")
    for column, model in (filters.items() if isinstance(filters, Mapping) else ()):
        if column in kept.columns and isinstance(model, Mapping):
            kept = kept[_filter_mask(kept[column], model).to_numpy(dtype=bool)]
    sorts = request.get("sortModel")
    sort = [s for s in (sorts if isinstance(sorts, list) else ())
            if isinstance(s, Mapping) and isinstance(s.get("colId"), str) and s["colId"] in kept.columns]
    if sort:
        kept = kept.sort_values([s["colId"] for s in sort], ascending=[s.get("sort") != "desc" for s in sort],
                                kind="stable", na_position="first")
    start = _whole(request.get("startRow"), 0)
    end = min(max(_whole(request.get("endRow"), start), start), start + MAX_BLOCK_ROWS)
    return {"rowData": grid_records(kept.iloc[start:end]), "rowCount": len(kept)}


# ag-grid's number and text filter types, each computed only when asked for
_NUMBER_TESTS: dict[str, Callable[[pd.Series, float], pd.Series]] = {
    "equals": operator.eq, "notEqual": operator.ne, "lessThan": operator.lt, "lessThanOrEqual": operator.le,
    "greaterThan": operator.gt, "greaterThanOrEqual": operator.ge}
_TEXT_TESTS: dict[str, Callable[[pd.Series, str], pd.Series]] = {
    "contains": lambda text, needle: text.str.contains(needle, regex=False),
    "notContains": lambda text, needle: ~text.str.contains(needle, regex=False),
    "equals": operator.eq, "notEqual": operator.ne,
    "startsWith": lambda text, needle: text.str.startswith(needle),
    "endsWith": lambda text, needle: text.str.endswith(needle)}


def _filter_mask(values: pd.Series, model: Mapping[str, Any]) -> pd.Series:
    """Which of `values` pass one column's filter model: a condition, or conditions joined by AND/OR."""
    everything = pd.Series(True, index=values.index)
    if "conditions" in model:
        conditions = model["conditions"]
        masks = [_filter_mask(values, c) for c in (conditions if isinstance(conditions, list) else ())
                 if isinstance(c, Mapping)]
        if not masks:
            return everything
        joined = masks[0]
        for mask in masks[1:]:
            joined = (joined | mask) if model.get("operator") == "OR" else (joined & mask)
        return joined
    kind, wanted = model.get("type"), model.get("filter")
    missing = values.isna() | values.astype("str").eq("")
    if kind == "blank":
        return missing
    if kind == "notBlank":
        return ~missing
    if model.get("filterType") == "number":
        if not isinstance(wanted, int | float) or isinstance(wanted, bool):
            return everything
        numbers = pd.to_numeric(values, errors="coerce")
        if kind == "inRange":  # ag-grid's default: both ends excluded
            upper = model.get("filterTo")
            if not isinstance(upper, int | float) or isinstance(upper, bool):
                return everything
            return ((numbers > wanted) & (numbers < upper)).fillna(False).astype(bool)
        compare = _NUMBER_TESTS.get(str(kind))
        if compare is None:
            return everything
        return compare(numbers, wanted).fillna(kind == "notEqual").astype(bool)
    # text, compared as ag-grid does by default: case-insensitively
    test = _TEXT_TESTS.get(str(kind))
    if test is None:
        return everything
    mask = test(values.astype("str").str.lower(), str(wanted or "").lower())
    # A cell without text passes only the negative conditions, as in ag-grid's own filters.
    return mask.fillna(False).astype(bool).where(~missing, kind in ("notContains", "notEqual"))


# A missing value in a row with reporting members was withheld by a public deployment: the cell says so.
_MISSING = "params.value == null ? (params.data && params.data.n_reporting > 0 ? 'withheld' : '') : "
EURO_FORMAT = {"function": _MISSING + f"'{CURRENCY_SIGN}' + d3.format(',.0f')(params.value)"}
PERCENT_FORMAT = {"function": "params.value == null ? '' : d3.format('.0%')(params.value)"}


def number_column(field: str, header: str, unit: str = "", **extra: Any) -> dict:
    formatter = EURO_FORMAT if unit == CURRENCY else (PERCENT_FORMAT if unit == "share" else {
        "function": _MISSING + "d3.format(',')(params.value)"})
    return {"field": field, "headerName": header, "type": "numericColumn", "filter": "agNumberColumnFilter",
            "valueFormatter": formatter, **extra}


def cross_column(field: str, header: str, unit: str, flags_field: str, signed: bool = False) -> dict:
    """A cross-table cell: ":" where there is no figure (Eurostat's convention), its flags as its tooltip."""
    sign = "+" if signed else ""
    number = (f"'{CURRENCY_SIGN}' + d3.format('{sign},.0f')(params.value)" if unit == CURRENCY else
              f"d3.format('{sign}.1%')(params.value)" if unit == "share" else
              f"d3.format('{sign},.1~f')(params.value)")
    return {"field": field, "headerName": header, "type": "numericColumn", "filter": "agNumberColumnFilter",
            "valueFormatter": {"function": f"params.value == null ? ':' : {number}"}, "tooltipField": flags_field,
            "minWidth": 110}


# --------------------------------------------------------------------------------------------------------------
# Figures with coverage and flags
# --------------------------------------------------------------------------------------------------------------


def coverage_text(coverage: Coverage) -> str:
    return (f"Reported by {count(coverage.reporting)} of {count(coverage.respondents)} respondents "
            f"({count(coverage.registered)} members registered by year end)")


def comparison_words(comparison: str, published_status: str | None) -> str:
    """"matches the published figure", "consistent with the figure derived from published totals"...: plain words
    (a "derived" figure is arithmetic on two published ones, e.g. a cumulative minus a year)."""
    what = "the figure derived from published totals" if published_status == "derived" else "the published figure"
    word = {"equal": "matches", "consistent": "consistent with", "differs": "differs from"}.get(comparison, "beside")
    return f"{word} {what}"


def flag_badges(flags: Flags, unit: str = "") -> list[Any]:
    badges: list[Any] = []
    if not flags.not_published and flags.published_value is not None:
        qualifier = f"{flags.published_qualifier} " if flags.published_qualifier else ""
        colour = {"equal": "success", "consistent": "info", "differs": "danger"}.get(flags.comparison, "secondary")
        badges.append(dbc.Badge(f"{comparison_words(flags.comparison, flags.published_status)}: {qualifier}"
                                f"{compact(flags.published_value, unit)}",
                                color=colour, className="me-1 fw-normal text-wrap", text_color=None))
    if flags.not_published:
        badges.append(dbc.Badge("not published", color="light", text_color="dark", className="me-1 fw-normal border"))
    if flags.break_in_series:
        badges.append(dbc.Badge("break in series", color="warning", text_color="dark", className="me-1 fw-normal",
                                title="The survey question changed this year: compare with earlier years with care"))
    return badges


# Card headings short enough to fit on two lines at 1366 px; the full catalogue label is the tooltip. The two
# cards that are not catalogue indicators (a count of submissions, a ratio of two indicators) are named here.
KPI_SHORT_LABELS = {
    **{i.name: i.short_label for i in CATALOGUE.indicators if i.headline},
    "respondents": "Survey respondents",
    "commitments_progressing_share": "Commitments progressing",
}


def kpi_card(kpi: Kpi) -> dbc.Card:
    value = compact(kpi.value, kpi.unit)
    if kpi.unit == "share" and kpi.value is not None:
        delta_text = (f"{(kpi.value - kpi.previous) * 100:+.0f} pts on {kpi.previous_year}"
                      if kpi.previous is not None else "no previous year")
    elif kpi.change is not None:
        delta_text = f"{change(kpi.change)} on {kpi.previous_year}"
    else:
        delta_text = f"no {kpi.previous_year} figure" if kpi.previous_year else "first survey year"
    across_break = kpi.flags.break_in_series and kpi.previous is not None
    if across_break:
        delta_text += "*"
    delta = html.Div(delta_text, className="small text-body-secondary",
                     title=BREAK_CAVEAT.format(year=kpi.year) if across_break else None)
    # registered = members who had joined by the end of the activity year, as in the response rate
    coverage = (f"{count(kpi.coverage.reporting)} of {count(kpi.coverage.respondents)} respondents reported"
                if kpi.key != "respondents"
                else f"of {count(kpi.coverage.registered)} members registered by 31 Dec {kpi.year}")
    return dbc.Card(
        dbc.CardBody([
            html.Div(KPI_SHORT_LABELS.get(kpi.key, kpi.label), title=kpi.label,
                     className="small fw-semibold text-body-secondary kpi-label"),
            html.Div(value, className="fs-3 fw-bold kpi-value", style={"color": style.EU_BLUE}),
            delta,
            html.Div(coverage, className="small text-body-secondary"),
            html.Div(flag_badges(kpi.flags, kpi.unit), className="mt-1"),
            html.Div(f"* question changed in {kpi.year}", title=BREAK_CAVEAT.format(year=kpi.year),
                     className="small text-body-secondary mt-1") if across_break else None,
        ], className="p-2"),
        className="h-100 shadow-sm kpi-card",
        id=f"kpi-{kpi.key}",
    )


def kpi_summary(kpis: Sequence[Kpi]) -> str:
    parts = []
    for kpi in kpis:
        text = f"{kpi.label}: {full(kpi.value, kpi.unit)}"
        if kpi.change is not None and kpi.unit != "share":
            caveat = f"; {BREAK_CAVEAT.format(year=kpi.year)}" if kpi.flags.break_in_series else ""
            text += f" ({change(kpi.change)} on {kpi.previous_year}{caveat})"
        parts.append(text)
    return "; ".join(parts) + "."


def shown(value: object) -> str:
    return clip(value, 80)


def register_url_sync(page_id: str) -> None:
    """Mirror `<page_id>-permalink` into the address bar (assets/pact.js), so a copied URL restores the view."""
    from dash import ClientsideFunction, Input, Output, clientside_callback

    clientside_callback(
        ClientsideFunction(namespace="pact", function_name="syncUrl"),
        Output(f"{page_id}-url-sync", "children"),
        Input(permalink_id(page_id), "data"),
    )


def url_sync(page_id: str, search: str) -> list[Any]:
    return [permalink_store(page_id, search), html.Div(id=f"{page_id}-url-sync", hidden=True)]

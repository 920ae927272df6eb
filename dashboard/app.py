"""The Dash app shell: navbar from the page registry, the synthetic-sample banner, the page container.

Pages live in dashboard/pages/ (one module each, `layout(**query)` functions: nothing is read at import time).
Production serves `server` through gunicorn (dashboard/wsgi.py); `python -m dashboard` runs it for development.
"""

from __future__ import annotations

import logging
from pathlib import Path

import dash
import dash_bootstrap_components as dbc
from dash import ClientsideFunction, Dash, Input, Output, State, callback, clientside_callback, html
from flask_compress import Compress

from dashboard import data, style
from dashboard.api import blueprint as downloads
from dashboard.limits import install_heavy_limit
from dashboard.security import install_security_headers
from dashboard.ui import aria

log = logging.getLogger(__name__)

HERE = Path(__file__).resolve().parent

app = Dash(
    # The package's name (not this module's) makes Dash import the pages as `dashboard.pages.<page>`, the same
    # modules tests and benchmarks import; with `__name__` they would load twice and register twice.
    "dashboard",
    use_pages=True,
    pages_folder=str(HERE / "pages"),
    assets_folder=str(HERE / "assets"),
    title=style.APP_TITLE,
    update_title="",  # the tab's title never turns into "Updating..." (Dash documents "" and None as the same)
    serve_locally=True,
    suppress_callback_exceptions=True,  # page layouts are functions of the query string
    meta_tags=[{"name": "viewport", "content": "width=device-width, initial-scale=1"}],
)
# The page's language for screen readers (WCAG 3.1.1); Dash's own <footer> of scripts becomes a plain <div> so
# the page keeps one content-info landmark.
app.index_string = """<!DOCTYPE html>
<html lang="en">
    <head>
        {%metas%}
        <title>{%title%}</title>
        {%favicon%}
        {%css%}
    </head>
    <body>
        {%app_entry%}
        <div class="dash-scripts">
            {%config%}
            {%scripts%}
            {%renderer%}
        </div>
    </body>
</html>"""
server = app.server
Compress(server)
# Exports, the briefing pack and the analysts' data URL (/export/..., /api/v1/...): plain HTTP downloads.
server.register_blueprint(downloads)
# At most PACT_HEAVY_LIMIT packs and chart images at once per worker; beyond that a 503 with Retry-After.
install_heavy_limit(server)
# CSP (Dash's inline scripts allowed by hash only), nosniff, frame-ancestors 'none' on every response.
install_security_headers(server, app)

SYNTHETIC_NOTE = (
    "These figures come from generated test data calibrated to the Commission's published totals. "
    "Member-level rows are invented; do not quote them as survey results."
)


def synthetic_banner(vintage_id: str | None = None) -> list:
    """The banner's content for the shown vintage (empty when the data is real)."""
    choice = data.resolve_vintage(vintage_id)
    try:
        synthetic = choice.vintage is not None and data.is_synthetic(choice.vintage)
    except data.DataUnavailable:
        synthetic = False
    if not synthetic:
        return []
    return [dbc.Container(
        [html.I(className="bi bi-exclamation-triangle-fill me-2", **aria(hidden=True)),
         html.Strong("Synthetic sample. "), SYNTHETIC_NOTE],
        fluid="xxl", className="py-1 small",
    )]


def navbar() -> html.Nav:
    links = [
        dbc.NavItem(dbc.NavLink(page["name"], href=page["relative_path"], active="exact", id=f"nav-{page['name'].lower()}"))
        for page in dash.page_registry.values()
    ]
    return html.Nav(dbc.Navbar(
        dbc.Container([
            dbc.NavbarBrand([html.I(className="bi bi-bar-chart-line-fill me-2", **aria(hidden=True)),
                             style.APP_TITLE, html.Span(" · EU Pact for Skills", className="fw-normal opacity-75 d-none d-sm-inline")],
                            href="/", className="fw-semibold"),
            # Below the md breakpoint the links fold behind a menu button (a native <button> with aria-expanded,
            # operated by Enter and Space); from md up they always show.
            html.Button(html.Span(className="navbar-toggler-icon"), id="navbar-toggler", type="button",
                        className="navbar-toggler", n_clicks=0,
                        **aria(controls="navbar-collapse", expanded=False, label="Menu")),
            dbc.Collapse(dbc.Nav(links, navbar=True, className="ms-auto", id="main-nav"),
                         id="navbar-collapse", is_open=False, navbar=True),
        ], fluid="xxl"),
        color=style.EU_BLUE, dark=True, className="py-1", tag="div", expand="md",
    ), **aria(label="Main"))


def shell() -> html.Div:
    return html.Div([
        html.A("Skip to content", href="#main", className="visually-hidden-focusable btn btn-light m-1"),
        html.Header([
            navbar(),
            html.Div(synthetic_banner(), id="synthetic-banner", role="note", className="synthetic-banner"),
        ]),
        html.Main(dbc.Container(dash.page_container, fluid="xxl"), id="main", tabIndex="-1"),
        html.Footer(dbc.Container(
            html.Small(["Pact Monitor: monitoring indicators of the EU Pact for Skills. Definitions, counting rules and "
                        "sources are on the ", html.A("About", href="/about"), " page."],
                       className="text-body-secondary"),
            fluid="xxl", className="py-3 border-top"),
        ),
    ])


app.layout = shell


# The menu button opens and closes the links; following a link closes them (in the browser: no round trip).
clientside_callback(
    ClientsideFunction(namespace="pact", function_name="toggleMenu"),
    Output("navbar-collapse", "is_open"),
    Output("navbar-toggler", "aria-expanded"),
    Input("navbar-toggler", "n_clicks"),
    Input("_pages_location", "pathname"),
    Input("_pages_location", "search"),
    State("navbar-collapse", "is_open"),
    prevent_initial_call=True,
)


@callback(Output("synthetic-banner", "children"), Input("_pages_location", "search"))
def update_banner(search: str | None) -> list:
    return synthetic_banner(requested_vintage(search))


def requested_vintage(search: object) -> str | None:
    """The `vintage` of a location's query string; a search that is not a string (no browser sends one) has none."""
    from urllib.parse import parse_qs

    query = parse_qs(search.lstrip("?")) if isinstance(search, str) else {}
    return query.get("vintage", [None])[-1]


def nav_targets(pathname: str | None, search: str | None) -> list:
    """Each navigation link's href and active state: a pinned vintage travels from page to page."""
    from urllib.parse import urlencode

    choice = data.resolve_vintage(requested_vintage(search))
    pinned = choice.vintage.vintage_id if choice.vintage is not None and choice.pinned else None
    hrefs, actives = [], []
    for page in dash.page_registry.values():
        path = page["relative_path"]
        hrefs.append(path + ("?" + urlencode({"vintage": pinned}) if pinned else ""))
        # dbc's "exact" compares the pathname with the whole href, which now carries a query.
        actives.append(path == (pathname or "/") if pinned else "exact")
    return [*hrefs, *actives]


@callback(
    [Output(f"nav-{page['name'].lower()}", "href") for page in dash.page_registry.values()]
    + [Output(f"nav-{page['name'].lower()}", "active") for page in dash.page_registry.values()],
    Input("_pages_location", "pathname"),
    Input("_pages_location", "search"),
)
def update_nav(pathname: str | None, search: str | None) -> list:
    return nav_targets(pathname, search)

"""Security headers on every response, and a content-security policy Dash really works under.

Two apps: a "component zoo" built here (every kind of component and chart the dashboard uses: bar and
scatter charts, a choropleth with the vendored topojson, ag-grid, dbc controls whose icons are data-URI SVGs,
dcc.Download, an inline clientside callback; tests/browser/test_csp.py serves it to headless Chromium), and the
real app (dashboard.app), whose every route family must carry the headers.
"""

from __future__ import annotations

import base64
import hashlib
import logging
import re
from pathlib import Path

import dash
import dash_ag_grid as dag
import dash_bootstrap_components as dbc
import plotly.graph_objects as go
import pytest
from dash import Input, Output, _callback, dcc, html

from dashboard.security import BASE_POLICY, STATIC_HEADERS, content_security_policy, install_security_headers

log = logging.getLogger(__name__)
REPO = Path(__file__).resolve().parents[1]
ASSETS = REPO / "dashboard" / "assets"


def _zoo_app() -> dash.Dash:
    app = dash.Dash("zoo", assets_folder=str(ASSETS), serve_locally=True)
    mapfig = go.Figure(go.Choropleth(locations=["FRA", "DEU", "ITA"], z=[1, 2, 3], locationmode="ISO-3"))
    mapfig.update_geos(scope="europe")
    app.layout = dbc.Container([
        dbc.Navbar(dbc.Container([dbc.NavbarBrand("zoo"), dbc.NavbarToggler(id="zoo-toggler")]), color="primary"),
        dbc.Alert("banner"), dbc.Button("press", id="zoo-btn"),
        dcc.Dropdown(["x", "y"], "x", id="zoo-dd"),
        dcc.RangeSlider(2022, 2024, 1, value=[2022, 2024], id="zoo-range"),
        dbc.Select(options=[{"label": "a", "value": "a"}], value="a", id="zoo-select"),
        dbc.Switch(id="zoo-switch", value=True, label="switch"),
        dbc.Checklist(options=[{"label": "c", "value": "c"}], value=["c"], id="zoo-check"),
        dcc.Graph(id="zoo-bar", figure=go.Figure(go.Bar(x=["a", "b"], y=[1, 2]))),
        dcc.Graph(id="zoo-map", figure=mapfig, config={"topojsonURL": "/assets/topojson/"}),
        dcc.Graph(id="zoo-line"),
        dag.AgGrid(id="zoo-grid", rowData=[{"a": 1, "b": "<b>x</b>"}], columnDefs=[{"field": "a"}, {"field": "b"}]),
        dcc.Download(id="zoo-download"), dbc.Button("download", id="zoo-dl-btn"), html.Div(id="zoo-out"),
        dbc.Tabs([dbc.Tab(label="one"), dbc.Tab(label="two")]),
    ])

    @app.callback(Output("zoo-out", "children"), Output("zoo-line", "figure"), Input("zoo-dd", "value"))
    def _answer(value: str) -> tuple[str, go.Figure]:
        return f"chose {value}", go.Figure(go.Scatter(x=[1, 2, 3], y=[3, 1, 2]))

    @app.callback(Output("zoo-download", "data"), Input("zoo-dl-btn", "n_clicks"), prevent_initial_call=True)
    def _download(_: int) -> dict[str, object]:
        return dcc.send_string("a,b\n1,2\n", "zoo.csv")

    app.clientside_callback(
        "function(n) { return n ? 'pressed' : 'not pressed'; }", Output("zoo-btn", "title"), Input("zoo-btn", "n_clicks")
    )
    install_security_headers(app.server, app)
    # An app takes every callback registered with dash.callback when it is first set up: set the zoo up now, with the
    # dashboard's page callbacks (registered globally when its pages were imported) set aside, so it neither serves
    # them nor takes them from the dashboard's own app in the same test process.
    saved_map, saved_list = dict(_callback.GLOBAL_CALLBACK_MAP), list(_callback.GLOBAL_CALLBACK_LIST)
    _callback.GLOBAL_CALLBACK_MAP.clear()
    _callback.GLOBAL_CALLBACK_LIST.clear()
    try:
        app._setup_server()
    finally:
        _callback.GLOBAL_CALLBACK_MAP.update(saved_map)
        _callback.GLOBAL_CALLBACK_LIST[:] = saved_list
    return app


@pytest.fixture(scope="module")
def zoo() -> dash.Dash:
    return _zoo_app()


def _assert_headers(headers: object, where: str) -> str:
    csp = headers.get("Content-Security-Policy")  # type: ignore[attr-defined]
    assert csp, f"{where}: no Content-Security-Policy"
    for name, value in STATIC_HEADERS.items():
        assert headers.get(name) == value, f"{where}: {name} is {headers.get(name)!r}"  # type: ignore[attr-defined]
    directives = dict(d.strip().split(" ", 1) for d in csp.split(";"))
    assert directives["frame-ancestors"] == "'none'"
    assert directives["object-src"] == "'none'"
    assert "'unsafe-inline'" not in directives["script-src"]
    assert "'unsafe-eval'" not in directives["script-src"]
    assert "*" not in csp and "http:" not in csp and "https:" not in csp
    return csp


def test_policy_text() -> None:
    csp = content_security_policy(["'sha256-abc'"])
    assert csp.startswith("default-src 'self'; script-src 'self' 'sha256-abc';")
    assert set(BASE_POLICY) <= {d.split(" ", 1)[0] for d in csp.split("; ")}


def test_headers_on_every_route_family(zoo: dash.Dash) -> None:
    client = zoo.server.test_client()
    index = client.get("/")
    assert index.status_code == 200
    csp = _assert_headers(index.headers, "/")
    # Every executable inline script of the page is allowed by its hash, and by nothing broader.
    html_text = index.get_data(as_text=True)
    executed = re.sub(r"<!--.*?-->", "", html_text, flags=re.S)  # Dash's IE-only block is a comment elsewhere
    inline = re.findall(r"<script(?![^>]*\bsrc=)(?![^>]*application/json)[^>]*>(.*?)</script>", executed, re.S)
    assert len(inline) == 2, "Dash's renderer start-up and the inline clientside callback"
    for script in inline:
        digest = base64.b64encode(hashlib.sha256(script.encode()).digest()).decode()
        assert f"'sha256-{digest}'" in csp
    bundle = re.search(r'src="(/_dash-component-suites/[^"]+)"', html_text).group(1)
    routes = {
        "GET " + bundle: client.get(bundle),
        "GET /_dash-layout": client.get("/_dash-layout"),
        "GET /_dash-dependencies": client.get("/_dash-dependencies"),
        "GET asset": client.get("/assets/topojson/europe_110m.json"),
        "GET missing asset": client.get("/assets/no-such-file.js"),
        "POST /_dash-update-component": client.post("/_dash-update-component", json={
            "output": "..zoo-out.children...zoo-line.figure..",
            "outputs": [{"id": "zoo-out", "property": "children"}, {"id": "zoo-line", "property": "figure"}],
            "inputs": [{"id": "zoo-dd", "property": "value", "value": "y"}],
            "changedPropIds": ["zoo-dd.value"],
        }),
        "POST bad callback": client.post("/_dash-update-component", data=b"{not json", content_type="application/json"),
    }
    for where, response in routes.items():
        response.get_data()
        response.close()
        _assert_headers(response.headers, where)
    assert routes["POST /_dash-update-component"].status_code == 200
    assert routes["GET missing asset"].status_code == 404
    assert routes["POST bad callback"].status_code >= 400


def test_real_app_sends_the_headers_everywhere(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from dashboard import data
    from pipelines.runner import run
    from tests.conftest import answer, make_raw

    raw = make_raw(tmp_path / "raw")
    raw.write_survey(2022, [answer(cid="c-1")])
    run(raw.root, tmp_path / "curated", progress=False)
    monkeypatch.setenv("PACT_CURATED_DIR", str(tmp_path / "curated"))
    data.reset()
    from dashboard.app import app

    checked = 0
    with app.server.test_client() as client:
        index = client.get("/").get_data(as_text=True)
        statics = re.findall(r'(?:src|href)="(/(?:_dash-component-suites|assets)/[^"]+)"', index)
        paths = ["/", "/explore", "/partnerships", "/data", "/about", "/_dash-layout", "/_dash-dependencies",
                 "/api/v1/", "/api/v1/data.csv?indicator=people_trained", "/api/v1/data.csv?indicator=nope",
                 "/assets/no-such-file.css", *statics]
        for path in paths:
            response = client.get(path)
            response.get_data()
            response.close()
            assert response.status_code < 500, path
            _assert_headers(response.headers, path)
            checked += 1
        bad = client.post("/_dash-update-component", json={"output": "nope.children", "inputs": []})
        assert bad.status_code == 400
        _assert_headers(bad.headers, "unknown callback")
    data.reset()
    log.info("real app: security headers on %d responses (%d static files)", checked + 1, len(statics))
    assert len(statics) >= 10


def test_reload_hash_is_not_found_without_hot_reload(zoo: dash.Dash) -> None:
    """Dash answers /_reload-hash in every deployment with the front-end packages it serves; off hot reload
    (production) it is a 404 like any unknown URL, and with hot reload on (development) it answers as before."""
    client = zoo.server.test_client()
    assert not zoo._dev_tools.get("hot_reload")
    for method in ("GET", "POST", "HEAD"):
        response = client.open("/_reload-hash", method=method)
        body = response.get_data(as_text=True)
        assert response.status_code == 404, (method, body[:200])
        assert "packages" not in body and "dash_bootstrap_components" not in body
        _assert_headers(response.headers, f"{method} /_reload-hash")
    # A development server with hot reload still gets its hash (set here without starting Dash's file watcher).
    dev = dash.Dash("reload_dev", serve_locally=True)
    dev.layout = html.Div("dev")
    install_security_headers(dev.server, dev)
    assert dev.server.test_client().get("/_reload-hash").status_code == 404
    dev._dev_tools["hot_reload"] = True
    answer = dev.server.test_client().get("/_reload-hash")
    assert answer.status_code == 200 and "reloadHash" in answer.get_json()


def test_production_entry_point_hides_reload_hash(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The real app as gunicorn serves it (dashboard.wsgi, debug off): /_reload-hash is a 404 with no package list."""
    from dashboard import data
    from pipelines.runner import run
    from tests.conftest import answer, make_raw

    raw = make_raw(tmp_path / "raw")
    raw.write_survey(2022, [answer(cid="c-1")])
    run(raw.root, tmp_path / "curated", progress=False)
    monkeypatch.setenv("PACT_CURATED_DIR", str(tmp_path / "curated"))
    data.reset()
    from dashboard import wsgi

    assert not wsgi.server.debug and not wsgi.app._dev_tools.get("hot_reload")
    with wsgi.server.test_client() as client:
        response = client.get("/_reload-hash")
        body = response.get_data(as_text=True)
        assert client.get("/").status_code == 200
    data.reset()
    assert response.status_code == 404, body[:300]
    assert "packages" not in body and "plotly" not in body
    _assert_headers(response.headers, "/_reload-hash")

"""Injection and exposure: hostile URL values never reach SQL as text and render as text; production is locked down.

- Every query parameter of every page, of the data URL and the vintage id, given SQL, path and script payloads:
  the layouts and the data URL answer (no server error), and the SQL text DuckDB receives — captured by
  wrapping the data layer's connection, the only one — never contains a payload (values are bound parameters).
- Every callback the app registers, called over HTTP with payloads as input values: no 500, no payload in SQL.
- A payload shows up in a layout only as text (`children`), never in a link, a source or a style.
- In Chromium (tests/browser/test_injection_inert.py): script payloads in the URL and markup in organisation names
  execute nothing and inject no element.
- Production (dashboard.wsgi) runs without debug or dev tools; every dependency is pinned in uv.lock.
"""

from __future__ import annotations

import json
import logging
import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from dash.development.base_component import Component

from tests.conftest import answer, make_raw

log = logging.getLogger(__name__)
REPO = Path(__file__).resolve().parents[1]

PAYLOADS = (
    "' OR 1=1 --",
    "x'); DROP TABLE facts; --",
    "1 UNION SELECT * FROM read_csv('/etc/passwd')",
    "$indicator",
    "../../../../etc/passwd",
    "..%2F..%2Fsnapshots%2F..%2F..%2Fetc%2Fpasswd",
    "<script>window.__pwned=1</script>",
    '"><img src=x onerror="window.__pwned=1">',
    "javascript:window.__pwned=1",
    "9" * 400,
    "\u202eEL\x00",
)
PAGES = {
    "progress": ("year", "vintage"),
    "explore": ("indicator", "by", "from", "to", "ecosystem", "country", "partnership", "type", "view", "vintage"),
    "partnerships": ("partnership", "group", "indicator", "year", "vintage"),
    "data_page": ("wave", "vintage"),
    "about": ("vintage",),
}
MARKUP_ORG = '<img src=x onerror="window.__pwned=1">Evil <b>Org</b>'


class Recorder:
    """Wraps a DuckDB connection or cursor and keeps every SQL text it is asked to run."""

    def __init__(self, target: Any, texts: list[str]) -> None:
        self._target = target
        self._texts = texts

    def execute(self, sql: str, *args: Any, **kwargs: Any) -> Recorder:
        self._texts.append(sql)
        self._target.execute(sql, *args, **kwargs)
        return self

    def sql(self, query: str, *args: Any, **kwargs: Any) -> Any:
        self._texts.append(query)
        return self._target.sql(query, *args, **kwargs)

    def cursor(self) -> Recorder:
        return Recorder(self._target.cursor(), self._texts)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._target, name)


def hostile_snapshot(root: Path) -> Path:
    """A curated directory whose members and answers carry the payloads (also served to Chromium by
    tests/browser/test_injection_inert.py)."""
    from pipelines.runner import run

    raw = make_raw(root / "raw")
    raw.write_survey(2022, [
        answer(cid="c-1"),
        answer(member_id=None, org=MARKUP_ORG, country="IT", cid="c-2", user="evil@x.example"),
        answer(member_id="PFS-000004", org="Délta Cloud SAS", country="FR", cid="c-4", user="d@x.example"),
    ])
    raw.write_survey(2023, [answer(cid="c-5", people=300, created="01/03/2024 09:00", updated="01/03/2024 09:00")])
    curated = root / "curated"
    run(raw.root, curated, progress=False)
    return curated


@pytest.fixture(scope="module")
def snapshot(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return hostile_snapshot(tmp_path_factory.mktemp("injection"))


@pytest.fixture
def sql_texts(snapshot: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    from dashboard import data
    from dashboard.data import core

    monkeypatch.setenv("PACT_CURATED_DIR", str(snapshot))
    data.reset()
    con, _ = core._connection()
    texts: list[str] = []
    monkeypatch.setitem(core._connection_state, "con", Recorder(con, texts))
    yield texts
    data.reset()


def _walk(component: Any, path: str = "") -> Iterator[tuple[str, str, Any]]:
    """(path, prop, value) of every property of a Dash component tree."""
    if isinstance(component, list | tuple):
        for i, child in enumerate(component):
            yield from _walk(child, f"{path}[{i}]")
        return
    if not isinstance(component, Component):
        return
    for prop in component._prop_names:
        value = getattr(component, prop, None)
        if value is None:
            continue
        where = f"{path}/{type(component).__name__}"
        if isinstance(value, Component | list | tuple):
            yield from _walk(value, where)
        yield where, prop, value


def _mentions(value: Any, payload: str) -> bool:
    try:
        text = value if isinstance(value, str) else json.dumps(value, default=str)
    except (TypeError, ValueError):
        return False
    return payload[:60] in text


def test_page_parameters_never_reach_sql(sql_texts: list[str]) -> None:
    import importlib

    tried = 0
    for page, params in PAGES.items():
        module = importlib.import_module(f"dashboard.pages.{page}")
        for param in params:
            for payload in PAYLOADS:
                before = len(sql_texts)
                tree = module.layout(**{param: payload})
                tried += 1
                for sql in sql_texts[before:]:
                    assert payload not in sql, f"{page}?{param}= reached SQL as text: {sql[:200]}"
                for where, prop, value in _walk(tree):
                    if prop in {"children", "id", "data"} or not _mentions(value, payload):
                        continue
                    if prop in {"value", "label"} and not payload.startswith(("<", '"', "javascript")):
                        continue
                    pytest.fail(f"{page}?{param}={payload!r} lands in {where}.{prop} = {str(value)[:200]}")
    log.info("page parameters: %d (page, parameter, payload) combinations, %d SQL statements checked", tried,
             len(sql_texts))
    assert tried == sum(len(p) for p in PAGES.values()) * len(PAYLOADS)
    assert sql_texts, "the layouts ran queries (the capture works)"


def test_data_url_parameters_never_reach_sql(sql_texts: list[str]) -> None:
    from dashboard.app import app

    params = ("indicator", "by", "from", "to", "ecosystem", "country", "partnership", "type", "vintage")
    statuses: dict[int, int] = {}
    with app.server.test_client() as client:
        for param in params:
            for payload in PAYLOADS:
                before = len(sql_texts)
                response = client.get("/api/v1/data.csv", query_string={param: payload})
                body = response.get_data(as_text=True)
                statuses[response.status_code] = statuses.get(response.status_code, 0) + 1
                assert response.status_code in (200, 400), (param, payload, response.status_code, body[:300])
                assert response.headers["Content-Type"].split(";")[0] in {"application/json", "text/csv"}
                for sql in sql_texts[before:]:
                    assert payload not in sql
        ok = client.get("/api/v1/data.csv?indicator=people_trained&by=member_state")
        assert ok.status_code == 200
    log.info("data URL: %d hostile requests, statuses %s", len(params) * len(PAYLOADS), statuses)
    assert statuses.get(400, 0) > 0


def _callback_bodies(app: Any, payload: str) -> Iterator[dict[str, Any]]:
    """One request per server-side callback with every input and state set to `payload` (string ids only).

    Clientside callbacks run in the browser: the server has no handler to call for them."""
    clientside = {entry["output"] for entry in app._callback_list if entry.get("clientside_function")}
    for key, spec in app.callback_map.items():
        if key in clientside:
            continue
        items = [*spec.get("inputs", []), *spec.get("state", [])]
        if any(not isinstance(item["id"], str) or item["id"].startswith("{") for item in items):
            continue
        names = key.strip(".").split("...") if key.startswith("..") else [key]
        if any(name.startswith("{") for name in names):
            continue
        outs = [{"id": name.rsplit(".", 1)[0], "property": name.rsplit(".", 1)[1]} for name in names]
        parsed: Any = outs if key.startswith("..") else outs[0]
        yield {
            "output": key,
            "outputs": parsed,
            "inputs": [{"id": i["id"], "property": i["property"], "value": payload} for i in spec.get("inputs", [])],
            "state": [{"id": s["id"], "property": s["property"], "value": payload} for s in spec.get("state", [])],
            "changedPropIds": [f"{i['id']}.{i['property']}" for i in spec.get("inputs", [])][:1],
        }


def test_every_callback_with_hostile_inputs(sql_texts: list[str]) -> None:
    from dashboard.app import app

    calls = 0
    with app.server.test_client() as client:
        client.get("/")  # Dash registers the callbacks of the pages on the first request
        for payload in PAYLOADS:
            for body in _callback_bodies(app, payload):
                before = len(sql_texts)
                response = client.post("/_dash-update-component", json=body)
                response.get_data()
                calls += 1
                assert response.status_code < 500, (body["output"], payload, response.get_data(as_text=True)[:500])
                for sql in sql_texts[before:]:
                    assert payload not in sql, (body["output"], sql[:200])
    log.info("callbacks: %d hostile calls, %d SQL statements checked", calls, len(sql_texts))
    assert calls >= 4 * len(PAYLOADS)


def test_production_runs_without_debug_or_dev_tools(snapshot: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PACT_CURATED_DIR", str(snapshot))
    from dashboard import wsgi

    app = wsgi.app
    assert not app.server.debug
    assert not app._dev_tools.ui and not app._dev_tools.hot_reload and not app._dev_tools.props_check
    with wsgi.server.test_client() as client:
        index = client.get("/").get_data(as_text=True)
        config = json.loads(index.split('<script id="_dash-config" type="application/json">')[1].split("</script>")[0])
        assert config["ui"] is False and config["props_check"] is False
        assert "hot_reload" not in config or not config["hot_reload"]
        # Dash always routes /_reload-hash; with hot reload off it is not there (tests/test_security_headers.py).
        assert client.get("/_reload-hash").status_code == 404
        assert "Traceback" not in client.get("/_dash-layout?x=<script>").get_data(as_text=True)


def test_every_dependency_pinned_by_the_lock() -> None:
    project = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))
    lock = tomllib.loads((REPO / "uv.lock").read_text(encoding="utf-8"))
    pinned = {p["name"]: p.get("version") for p in lock["package"]}
    wanted = [*project["project"]["dependencies"], *project["dependency-groups"]["dev"]]
    names = [w.split(">")[0].split("=")[0].split("<")[0].split("[")[0].strip().lower() for w in wanted]
    missing = [n for n in names if not pinned.get(n)]
    assert not missing, f"not pinned in uv.lock: {missing}"
    # Every locked package comes from the registry with a hash or is the project itself: nothing fetched unpinned.
    for package in lock["package"]:
        source = package.get("source", {})
        if "editable" in source or "virtual" in source:
            continue
        assert "registry" in source, package["name"]
        files = [*package.get("wheels", []), *([package["sdist"]] if "sdist" in package else [])]
        assert files and all(f.get("hash", "").startswith("sha256:") for f in files), package["name"]
    log.info("uv.lock pins %d packages; %d direct dependencies checked", len(pinned), len(names))

"""Bounded resources in a long-lived worker: snapshots that leave the kept set leave DuckDB too, heavy downloads
run under a per-worker limit, and every response says on purpose how long it may be cached.

Real parts: snapshots written by tests/dashboard_fixtures.py, pruned by the pipeline's own `prune`, read through
the data layer's one DuckDB connection; the real app's Flask test client for the limit and the headers.
RSS across rebuilds is measured by benchmarks/rebuild_memory.py, not here (no timed or sized assertions in tests).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from dashboard import data, limits
from dashboard.data import core
from dashboard.security import IMMUTABLE, NO_STORE, REVALIDATE, cache_control
from pipelines.snapshots import prune
from tests.dashboard_fixtures import write_curated_snapshot


def _duckdb_schemas() -> list[str]:
    con, _ = core._connection()
    rows = con.execute(
        "SELECT schema_name FROM duckdb_schemas() WHERE schema_name LIKE 'snapshot_%' ORDER BY schema_name"
    ).fetchall()
    return [name for (name,) in rows]


def test_a_pruned_snapshot_leaves_duckdb(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    curated = tmp_path / "curated"
    monkeypatch.setenv(data.CURATED_ENV, str(curated))
    data.reset()
    ids = [f"2025060{day}T120000Z-fixture{day}" for day in range(1, 6)]
    for vintage_id in ids[:4]:
        write_curated_snapshot(curated, vintage_id=vintage_id)
        assert data.yearly_totals(data.resolve_vintage(vintage_id).vintage, "people_trained")["value"].iloc[0] == 2000
    _, schemas = core._connection()
    assert len(schemas) == 4 and len(_duckdb_schemas()) == 4
    touched = dict(schemas)

    assert prune(curated, keep=2) == ids[:2]
    # The next snapshot a request reads is when the worker notices: the pruned ones' schemas are dropped.
    write_curated_snapshot(curated, vintage_id=ids[4])
    data.dimensions(data.resolve_vintage(None).vintage)
    _, schemas = core._connection()
    kept_paths = {str((curated / "snapshots" / v).resolve()) for v in ids[2:]}
    assert set(schemas) == kept_paths
    assert _duckdb_schemas() == sorted(schemas.values())
    assert not {touched[str((curated / "snapshots" / v).resolve())] for v in ids[:2]} & set(_duckdb_schemas())
    # A new schema never takes a dropped one's name, and the kept snapshots still answer from their own schemas.
    assert len(set(schemas.values()) | set(touched.values())) == 5
    for vintage_id in ids[2:]:
        assert data.yearly_totals(data.resolve_vintage(vintage_id).vintage, "people_trained")["value"].iloc[0] == 2000
    data.reset()


@pytest.fixture
def client(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    curated = tmp_path / "curated"
    write_curated_snapshot(curated)
    monkeypatch.setenv(data.CURATED_ENV, str(curated))
    data.reset()
    from dashboard.app import server

    with server.test_client() as test_client:
        yield test_client
    data.reset()


def test_heavy_downloads_beyond_the_limit_answer_503(client: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(limits, "HEAVY_WAIT_S", 0)
    held = 0
    try:
        while limits.HEAVY.acquire(blocking=False):  # every slot of this worker, as running packs would
            held += 1
        assert held == limits.HEAVY_LIMIT
        for path in ("/export/about/pack.zip?download_token=abc123xyz", "/export/explore/chart.png",
                     "/export/explore/chart.svg?indicator=people_trained"):
            response = client.get(path)
            assert response.status_code == 503, path
            assert response.headers["Retry-After"] == str(limits.RETRY_AFTER_S)
            assert response.get_json()["error"].startswith("the server is busy")
            assert response.headers["Cache-Control"] == NO_STORE
        pack = client.get("/export/about/pack.zip?download_token=abc123xyz")
        assert "pm_pack=abc123xyz-error;" in pack.headers["Set-Cookie"]  # the page stops waiting
        # Light requests are not limited.
        assert client.get("/export/about/indicators.csv").status_code == 200
        assert client.get("/api/v1/").status_code == 200
    finally:
        for _ in range(held):
            limits.HEAVY.release()
    response = client.get("/export/about/pack.zip?download_token=abc123xyz")
    assert response.status_code == 200, response.get_data(as_text=True)[:300]
    # The pack gave its slot back: every slot is free again.
    assert all(limits.HEAVY.acquire(blocking=False) for _ in range(limits.HEAVY_LIMIT))
    for _ in range(limits.HEAVY_LIMIT):
        limits.HEAVY.release()


def test_a_failed_heavy_download_gives_its_slot_back(client: Any) -> None:
    assert client.get("/export/nowhere/pack.zip").status_code == 404
    assert client.get("/export/explore/nope.png").status_code == 404
    assert all(limits.HEAVY.acquire(blocking=False) for _ in range(limits.HEAVY_LIMIT))
    for _ in range(limits.HEAVY_LIMIT):
        limits.HEAVY.release()


def test_cache_control_by_route_family(client: Any) -> None:
    html = client.get("/").get_data(as_text=True)
    bundles = re.findall(r'src="(/_dash-component-suites/[^"]+)"', html)
    assets = re.findall(r'(?:src|href)="(/assets/[^"]+\?m=[^"]+)"', html)
    assert bundles and assets
    expected = {
        "/": NO_STORE, "/explore?view=map": NO_STORE, "/about": NO_STORE,
        "/_dash-layout": NO_STORE, "/_dash-dependencies": NO_STORE,
        "/api/v1/": NO_STORE, "/api/v1/data.csv?indicator=people_trained": NO_STORE,
        "/export/about/indicators.csv": NO_STORE,
        "/api/v1/data.csv?indicator=nope": NO_STORE,
        "/assets/no-such-file.css": NO_STORE,
        "/_dash-component-suites/dash/x.py": NO_STORE,
        "/assets/topojson/europe_110m.json": REVALIDATE,
        **dict.fromkeys(bundles, IMMUTABLE), **dict.fromkeys(assets, IMMUTABLE),
    }
    for path, policy in expected.items():
        response = client.get(path)
        response.get_data()
        response.close()
        assert response.headers["Cache-Control"] == policy, (path, response.status_code)
    callback = client.post("/_dash-update-component", json={
        "output": "synthetic-banner.children", "outputs": {"id": "synthetic-banner", "property": "children"},
        "inputs": [{"id": "_pages_location", "property": "search", "value": ""}], "changedPropIds": []})
    assert callback.status_code == 200 and callback.headers["Cache-Control"] == NO_STORE


@pytest.mark.parametrize(("path", "args", "status", "policy"), [
    ("/_dash-component-suites/dash/deps/react@18.v4_4_1m1796397090.3.1.min.js", {}, 200, IMMUTABLE),
    ("/_dash-component-suites/dash/deps/react@18.3.1.min.js", {}, 200, REVALIDATE),
    ("/_dash-component-suites/dash/deps/react@18.3.1.min.js", {}, 304, REVALIDATE),
    ("/assets/zz_app/pact.js", {"m": "1796400340.7"}, 200, IMMUTABLE),
    ("/assets/zz_app/pact.js", {}, 200, REVALIDATE),
    ("/assets/zz_app/pact.js", {"m": "1"}, 404, NO_STORE),
    ("/_dash-update-component", {}, 200, NO_STORE),
    ("/export/about/pack.zip", {}, 503, NO_STORE),
    ("/", {}, 200, NO_STORE),
])
def test_cache_control_policy(path: str, args: dict[str, str], status: int, policy: str) -> None:
    assert cache_control(path, args, status) == policy

"""Public mode: one consistent release per indicator and year (dashboard/disclosure.py), and every view the data
layer serves derived from it.

The checks of "nothing can be recovered" are independent of the implementation: a set of unknowns is disclosed
when adding its unit vectors to the equations a reader has does not raise the rank by as many (numpy's
matrix_rank on the equations themselves, not the module's incremental eigenvalue test), and the member sets
behind every figure are recomputed from the curated Parquet with pandas, not from the module's atoms.
"""

from __future__ import annotations

import contextlib
import csv
import datetime as dt
import io
import itertools
import logging
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dashboard.disclosure import THRESHOLD, Release, disclosing_sets, plan_release, public_mode, public_rejects
from tests.conftest import TinyRaw

log = logging.getLogger(__name__)


def _disclosed(equations: np.ndarray, groups: list[list[int]]) -> list[int]:
    """Which groups of unknowns some combination of `equations` (rows) depends on alone: adding the group's unit
    vectors raises the rank by less than their number."""
    rank = np.linalg.matrix_rank(equations) if len(equations) else 0
    found = []
    for g, group in enumerate(groups):
        units = np.eye(equations.shape[1])[group]
        stacked = np.vstack([equations, units]) if len(equations) else units
        if np.linalg.matrix_rank(stacked) < rank + len(group):
            found.append(g)
    return found


def _small_sets(sizes: list[int]) -> list[list[int]]:
    """Every set of atoms holding fewer than THRESHOLD members: one atom of 1 or 2, two of 1."""
    singles = [[a] for a, n in enumerate(sizes) if n < THRESHOLD]
    pairs = [[a, b] for a, b in itertools.combinations(range(len(sizes)), 2) if sizes[a] + sizes[b] < THRESHOLD]
    return singles + pairs


# --- the pure functions, on small random releases ------------------------------------------------------------

_tables = st.integers(2, 7).flatmap(lambda m: st.tuples(
    st.lists(st.integers(1, 4), min_size=m, max_size=m),
    st.lists(st.lists(st.booleans(), min_size=m, max_size=m), min_size=1, max_size=8),
))


@settings(max_examples=300, deadline=None)
@given(_tables)
def test_disclosing_sets_match_brute_force(table: tuple[list[int], list[list[bool]]]) -> None:
    sizes, rows = table
    published = np.array(rows, dtype=float)
    basis = np.linalg.svd(published, full_matrices=False)[2][: np.linalg.matrix_rank(published)]
    small = _small_sets(sizes)
    disclosed = [small[k] for k in _disclosed(published, small)]
    alone = {a for a, *rest in disclosed if not rest}
    # A pair is reported when neither of its atoms is disclosed alone (else the atom says it all).
    expected = {tuple(s) for s in disclosed if len(s) == 1 or not alone & set(s)}
    assert set(disclosing_sets(basis, np.array(sizes))) == expected


@settings(max_examples=300, deadline=None)
@given(_tables)
def test_a_release_is_safe_and_withholds_only_what_would_disclose(table: tuple[list[int], list[list[bool]]]) -> None:
    sizes, rows = table
    candidates = np.array(rows, dtype=bool)
    release = plan_release(np.array(sizes), candidates)
    published = candidates[release.published].astype(float)
    small = _small_sets(sizes)
    assert _disclosed(published, small) == []  # nothing published discloses, alone or combined
    assert release.shows(published).all()
    before = []
    for i, row in enumerate(candidates.astype(float)):
        if release.published[i]:
            before.append(row)
            continue
        # Withheld: it does not follow from what is published, and publishing it after the candidates before it
        # would have disclosed a small set.
        assert not release.shows(row)[0]
        assert _disclosed(np.array([*before, row]), small) != []


def test_a_breakdown_withholds_its_small_cell_and_its_smallest_safe_cell() -> None:
    # Five cells of 10, 8, 6, 5 and 1 members: the total, then the cells largest first. The 1-member cell is
    # withheld; the 5-member cell is the one whose publication would give it back (total minus the others).
    sizes = np.array([10, 8, 6, 5, 1])
    candidates = np.vstack([np.ones(5, dtype=bool), np.eye(5, dtype=bool)])
    release = plan_release(sizes, candidates)
    assert release.published.tolist() == [True, True, True, True, False, False]
    # The two withheld cells' sum follows from the total and is shown; either alone is not.
    assert release.shows(np.array([[0, 0, 0, 1, 1], [0, 0, 0, 1, 0], [0, 0, 0, 0, 1]], dtype=bool)).tolist() == [
        True, False, False]


def test_a_nested_group_and_a_cross_breakdown_difference_are_caught() -> None:
    # Atoms: a (5 members), b (1), c (4). Group P = a + b, its part Q = a: Q would give b back.
    assert plan_release(np.array([5, 1, 4]), np.array([[1, 1, 0], [1, 0, 0]], dtype=bool)).published.tolist() == [
        True, False]
    # Across breakdowns: ecosystem E = a + b, country X = a + c, total = a + b + c. With the total and E
    # published, X would give b back (total - X); with b of 3 members all three are safe.
    candidates = np.array([[1, 1, 1], [1, 1, 0], [1, 0, 1]], dtype=bool)
    assert plan_release(np.array([5, 1, 4]), candidates).published.tolist() == [True, True, False]
    assert plan_release(np.array([5, 3, 4]), candidates).published.tolist() == [True, True, True]


def test_bad_inputs_are_errors() -> None:
    with pytest.raises(ValueError, match="at least one member"):
        plan_release(np.array([0, 2]), np.ones((1, 2), dtype=bool))
    with pytest.raises(ValueError, match="atoms"):
        plan_release(np.array([3, 3]), np.ones((1, 3), dtype=bool))
    with pytest.raises(ValueError, match="threshold"):
        disclosing_sets(np.eye(2), np.array([1, 1]), threshold=4)
    release = plan_release(np.array([3, 3]), np.ones((1, 2), dtype=bool))
    assert isinstance(release, Release)
    with pytest.raises(ValueError, match="atoms"):
        release.shows(np.ones((1, 3), dtype=bool))
    assert release.shows(np.zeros((1, 2), dtype=bool)).tolist() == [True]  # nobody reported: nothing to hide


def test_public_rejects_are_counts() -> None:
    rejects = pd.DataFrame({
        "source_file": ["s.xlsx"] * 3, "sheet": ["Content"] * 3, "row": [5, 6, 7],
        "column": ["Q1", "Q1", "Q2"], "contribution_id": ["c1", "c2", "c3"], "value": ["-5", "abc", "1e99"],
        "reason_code": ["negative", "not_a_number", "absurd"], "reason": ["r1", "r2", "r3"],
    })
    out = public_rejects(rejects)
    assert out["rejects"].sum() == 3
    assert not {"row", "contribution_id", "value", "member_id"} & set(out.columns)


@pytest.mark.parametrize(("value", "expected"), [("1", True), ("true", True), ("YES", True), ("0", False), ("", False)])
def test_public_mode_switch(value: str, expected: bool) -> None:
    assert public_mode({"PACT_PUBLIC": value}) is expected
    assert public_mode({}) is False


# --- applied in the data layer: every consumer gets withheld figures ----------------------------------------

PUBLIC_MEMBERS = [
    # id, organisation, type, size, country, ecosystems, joined
    *[(f"PFS-0000{i:02d}", f"Italia {i} S.p.A.", "company" if i < 6 else "SME", "Large (250 or more staff)", "IT",
       "Construction", dt.date(2021, 3, 1)) for i in range(1, 7)],
    *[(f"PFS-0000{i:02d}", f"Belgique {i} SA", "company", "Large (250 or more staff)", "BE", "Digital",
       dt.date(2021, 3, 1)) for i in range(7, 11)],
    ("PFS-000011", "Malta Skills Ltd", "company", "Small (10-49 staff)", "MT", "Digital", dt.date(2021, 3, 1)),
    ("PFS-000012", "<script>alert('fr')</script> SAS", "company", "Small (10-49 staff)", "FR", "Digital",
     dt.date(2021, 3, 1)),
]
# LSP-CONS: the six Italian members; RSP-LOMB: five of them (LSP-CONS minus RSP-LOMB is one member).
PUBLIC_MEMBERSHIPS = [(f"PFS-0000{i:02d}", "LSP-CONS", dt.date(2021, 6, 1)) for i in range(1, 7)] + [
    (f"PFS-0000{i:02d}", "RSP-LOMB", dt.date(2021, 6, 1)) for i in range(1, 6)]
PEOPLE = {m[0]: 100 * (n + 1) + 7 for n, m in enumerate(PUBLIC_MEMBERS)}  # distinct, so sums identify members


def one_wave(root: Path, members: list[tuple], memberships: list[tuple], people: dict[str, int]) -> TinyRaw:
    """A raw tree of `members` and `memberships` and one 2022 wave in which each member reports `people[id]` people
    trained, and the same small figures for the other indicators."""
    from tests.conftest import answer, make_raw

    raw = make_raw(root / "raw")
    raw.write_registry(members=members, memberships=memberships, commitments=[])
    raw.write_survey(2022, [
        answer(member_id=m[0], org=m[1], country=m[4], cid=f"c-{m[0]}", user=f"{m[0]}@x.example",
               people=people[m[0]], invest=1000, programmes=1, reached=10, stakeholders=1)
        for m in members
    ])
    return raw


def published(raw: TinyRaw) -> Path:
    from pipelines.runner import run

    curated = raw.root.parent / "curated"
    run(raw.root, curated, progress=False)
    return curated


@pytest.fixture(scope="module")
def public_snapshot(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return published(one_wave(tmp_path_factory.mktemp("public"), PUBLIC_MEMBERS, PUBLIC_MEMBERSHIPS, PEOPLE))


@pytest.fixture
def layer(public_snapshot: Path, monkeypatch: pytest.MonkeyPatch):
    from dashboard import data

    monkeypatch.setenv("PACT_CURATED_DIR", str(public_snapshot))

    def switch(public: bool):
        monkeypatch.setenv("PACT_PUBLIC", "1" if public else "0")
        data.reset()
        return data, data.resolve_vintage().vintage

    yield switch
    monkeypatch.delenv("PACT_PUBLIC")
    data.reset()


def test_releases_planned_at_boot_serve_every_indicator_first_view(layer, monkeypatch) -> None:
    from dashboard.data import public

    data, vintage = layer(True)
    assert data.plan_releases(vintage) == len(data.indicator_catalogue(vintage))
    asked: list[str] = []
    monkeypatch.setattr(public, "_query", lambda *args, **kwargs: asked.append(args[1]))  # the atoms query
    for meta in data.indicator_catalogue(vintage):
        data.breakdown(vintage, meta.indicator, "member_state", 2022, 2022, data.Filters(countries=("IT",)))
    assert asked == []


def test_breakdown_withholds_small_cells_and_a_complement(layer) -> None:
    data, vintage = layer(False)
    open_frame = data.breakdown(vintage, "people_trained", "member_state", 2022, 2022).set_index("key")
    assert open_frame.loc["MT", "value"] == PEOPLE["PFS-000011"]  # the open deployment shows everything
    data, vintage = layer(True)
    public = data.breakdown(vintage, "people_trained", "member_state", 2022, 2022).set_index("key")
    assert public["value"].isna().to_dict() == {"IT": False, "BE": True, "MT": True, "FR": True}
    assert public.loc["IT", "value"] == open_frame.loc["IT", "value"]
    # The total is shown elsewhere; total minus the shown cells covers BE+MT+FR = 6 members, never one.
    hidden = public[public["value"].isna()]
    assert len(hidden) >= 2 and hidden["n_reporting"].sum() >= THRESHOLD
    total = data.yearly_totals(vintage, "people_trained").set_index("year").loc[2022, "value"]
    assert total == sum(PEOPLE.values())
    assert total - public["value"].sum() not in {PEOPLE[m] for m in ("PFS-000011", "PFS-000012")}


def test_filters_that_isolate_members_are_withheld(layer) -> None:
    data, vintage = layer(True)

    def value(**filters: tuple[str, ...]) -> float:
        frame = data.yearly_totals(vintage, "people_trained", data.Filters(**filters)).set_index("year")
        return frame.loc[2022, "value"]

    assert pd.isna(value(countries=("MT",)))  # one member
    assert value(countries=("IT",)) == sum(PEOPLE[f"PFS-0000{i:02d}"] for i in range(1, 7))
    # Italian companies are 5 members, but Italy (6) minus them is one SME: withheld.
    assert pd.isna(value(countries=("IT",), member_types=("company",)))
    # Belgian companies are 4 members and no filter dropped adds 1 or 2, so a view-by-view check showed them.
    # But the Digital ecosystem is shown (the total minus Construction), and Digital minus the Belgian companies
    # is Malta's and France's two members: withheld, because it does not follow from the release.
    digital = value(ecosystems=("DIGI",))
    assert digital == sum(PEOPLE[f"PFS-0000{i:02d}"] for i in range(7, 13))
    assert pd.isna(value(countries=("BE",), member_types=("company",)))
    assert pd.isna(value(countries=("BE",)))  # the same figure, withheld in its own breakdown too
    # Malta and France together (a multi-value filter) follow from nothing published either.
    assert pd.isna(value(countries=("MT", "FR")))
    # Belgium, Malta and France together are the Digital ecosystem: shown, it reveals nothing new.
    assert value(countries=("BE", "MT", "FR")) == digital


def test_nested_partnerships_and_peer_values(layer) -> None:
    data, vintage = layer(False)
    assert not data.partnership_values(vintage, "people_trained")["value"].isna().any()
    data, vintage = layer(True)
    values = data.partnership_values(vintage, "people_trained").set_index("partnership_id")
    assert not pd.isna(values.loc["LSP-CONS", "value"])
    assert pd.isna(values.loc["RSP-LOMB", "value"])  # LSP-CONS minus RSP-LOMB would be PFS-000006 alone
    frame = data.breakdown(vintage, "people_trained", "partnership", 2022, 2022).set_index("key")
    assert pd.isna(frame.loc["RSP-LOMB", "value"]) and not pd.isna(frame.loc["LSP-CONS", "value"])


def test_member_level_rows_stay_on_the_server(layer) -> None:
    data, vintage = layer(True)
    rejects = data.rejects(vintage)
    assert rejects["contribution_id"].eq("").all() and rejects["value"].eq("").all()
    assert rejects["row"].isna().all()
    from dashboard.pages import data_page
    from dashboard.ui import grid_records

    # the rejects grid's blocks are those rows and no others
    assert data_page.serve_rejects({"startRow": 0, "endRow": 10_000}, "all", None)["rowData"] == grid_records(rejects)
    corrections = data.corrections(vintage)
    assert corrections["member_id"].eq("").all() if len(corrections) else True


def test_data_url_serves_withheld_figures(layer) -> None:
    layer(True)
    from dashboard.app import app

    with app.server.test_client() as client:
        response = client.get("/api/v1/data.csv?indicator=people_trained&by=member_state&from=2022&to=2022")
        body = response.get_data(as_text=True)
    assert response.status_code == 200, body[:500]
    for member in ("PFS-000011", "PFS-000012"):
        assert f"{PEOPLE[member]}" not in body  # the single members' values
    italy = sum(PEOPLE[f"PFS-0000{i:02d}"] for i in range(1, 7))
    assert f"{italy}" in body.replace(",", "")


def test_new_views_and_measures_show_no_withheld_figure(layer) -> None:
    """Cross-tables, two breakdowns, per-member and share measures and the JSON data URL apply the same release:
    no single member's value and no figure derived from a withheld one appears, and withheld cells are flagged c."""
    from dashboard import crosstab
    from dashboard.crosstab import CellQuery

    _data, vintage = layer(True)
    singles = {PEOPLE[m] for m in ("PFS-000011", "PFS-000012")}
    for measure in ("total", "per_member", "share"):
        for by in (("member_state", "year"), ("ecosystem", "member_state"), ("partnership", "member_type")):
            cells = crosstab.measured(vintage, CellQuery("people_trained", by, 2022, 2022, measure=measure))
            withheld = cells["figure"].isna() & cells["n_reporting"].gt(0)
            assert cells.loc[withheld, "value"].isna().all(), (measure, by)
            assert all("c" in f.split() for f in cells.loc[withheld, "flags"]), (measure, by)
            assert not set(cells["figure"].dropna()) & singles, (measure, by)
        state = crosstab.measured(vintage, CellQuery("people_trained", ("member_state",), 2022, 2022,
                                                     measure=measure)).set_index("member_state")
        assert state.loc[["BE", "MT", "FR"], "value"].isna().all(), measure
    from dashboard.app import app

    with app.server.test_client() as client:
        body = client.get("/api/v1/data.json?by=member_state&by=member_type&measure=per_member").get_data(as_text=True)
    assert '"records"' in body and not any(f"{v}" in body for v in singles)


def test_peer_benchmark_is_anonymous_in_public_mode(layer) -> None:
    from dashboard.analysis import peer_benchmark

    data, vintage = layer(False)
    partnerships = data.partnerships(vintage)
    big_kind = partnerships["kind"].value_counts().idxmax()
    group = partnerships[partnerships["kind"] == big_kind]
    assert len(group) >= 2
    values = pd.DataFrame({"partnership_id": group["partnership_id"], "year": 2022,
                           "value": [float(100 + i) for i in range(len(group))]})
    own = str(group["partnership_id"].iloc[0])
    names = set(group["name"]) - {group["name"].iloc[0]}
    assert names & {label for label, _ in peer_benchmark(partnerships, values, own, "kind", 2022).peers}
    layer(True)
    public = peer_benchmark(partnerships, values, own, "kind", 2022)
    assert not names & {label for label, _ in public.peers}
    withheld = values.assign(value=[float("nan")] + [float(100 + i) for i in range(1, len(group))])
    assert all(v == v for _, v in peer_benchmark(partnerships, withheld, own, "kind", 2022).peers)


def test_every_page_and_export_builds_in_public_mode(layer, caplog: pytest.LogCaptureFixture) -> None:
    """Withheld (missing) values flow through every layout, chart, table and export without an error."""
    import importlib

    from dashboard.export_views import page_export

    data, _ = layer(True)
    queries: dict[str, list[dict[str, str]]] = {
        "progress": [{}, {"year": "2022"}],
        "explore": [{"by": by, "view": view, "indicator": indicator}
                    for by in data.BREAKDOWNS for view in ("chart", "map", "table")
                    for indicator in ("people_trained", "investment_eur")]
        + [{"country": "IT", "type": "company"}, {"country": "MT"}, {"partnership": "RSP-LOMB", "by": "partnership"}],
        "partnerships": [{}, {"partnership": "RSP-LOMB"}, {"partnership": "LSP-CONS", "group": "ecosystem"}],
        "data_page": [{}, {"wave": "2022"}],
        "about": [{}],
    }
    built = 0
    caplog.set_level(logging.WARNING, logger="dashboard")
    for page, page_queries in queries.items():
        module = importlib.import_module(f"dashboard.pages.{page}")
        for query in page_queries:
            module.layout(**query)
            name = "data" if page == "data_page" else page
            export = page_export(name, query, "http://127.0.0.1")
            for view in export.views:
                assert view.table is not None
            built += 1
    errors = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
    assert errors == [], errors[:3]
    log.info("public mode: %d page states built with their exports, no error", built)
    with __import__("dashboard.app", fromlist=["app"]).app.server.test_client() as client:
        for url in ("/export/explore/explore.csv?by=member_state", "/export/explore/explore.xlsx?country=MT",
                    "/export/partnerships/ledger.csv", "/export/data/rejects.csv"):
            response = client.get(url)
            body = response.get_data()
            assert response.status_code == 200, (url, response.status_code, body[:300])
            if url.endswith("rejects.csv"):
                assert b"c-PFS" not in body  # no contribution id leaves the server


def _shown_numbers(component: object) -> set[float]:
    """Every number a layout sends to the browser: chart traces (x, y, z, customdata, text) and grid rows."""
    from dash import dcc
    from dash.development.base_component import Component

    found: set[float] = set()

    def add(values: object) -> None:
        if values is None:
            return
        if isinstance(values, str):
            for token in values.replace(",", "").replace("\u202f", "").split():
                with contextlib.suppress(ValueError):
                    found.add(float(token))
            return
        if isinstance(values, dict):
            for v in values.values():
                add(v)
            return
        if hasattr(values, "tolist"):
            values = values.tolist()
        if isinstance(values, list | tuple):
            for v in values:
                add(v)
            return
        if isinstance(values, int | float):
            found.add(float(values))

    def walk(node: object) -> None:
        if isinstance(node, list | tuple):
            for child in node:
                walk(child)
            return
        if not isinstance(node, Component):
            return
        if isinstance(node, dcc.Graph) and node.figure is not None:
            for trace in node.figure.data if hasattr(node.figure, "data") else node.figure.get("data", []):
                for attr in ("x", "y", "z", "customdata", "text", "hovertext"):
                    add(trace[attr] if attr in trace else None)  # noqa: SIM401 (a plotly trace has no .get)
        for prop in node._prop_names:
            value = getattr(node, prop, None)
            if prop == "rowData":
                add(value)
            elif isinstance(value, Component | list | tuple):
                walk(value)

    walk(component)
    return found


def test_withheld_values_never_reach_charts_or_grids(layer) -> None:
    from dashboard.pages import explore

    layer(True)
    secret = {float(PEOPLE["PFS-000011"]), float(PEOPLE["PFS-000012"])}  # Malta's and France's single members
    belgium = float(sum(PEOPLE[f"PFS-0000{i:02d}"] for i in range(7, 11)))  # the complement withheld with them
    shown: set[float] = set()
    for view in ("chart", "map", "table"):
        shown |= _shown_numbers(explore.layout(by="member_state", view=view, indicator="people_trained",
                                               **{"from": "2022", "to": "2022"}))
    italy = float(sum(PEOPLE[f"PFS-0000{i:02d}"] for i in range(1, 7)))
    assert italy in shown  # the check sees the figures that are published
    assert not (secret | {belgium}) & shown


# --- the data layer against brute force: two waves, partnerships joined between them ----------------------

_COUNTRIES = ["IT", "IT", "IT", "BE", "BE", "MT", "FR", "DE", "IT", "BE", "DE", "DE", "IT", "FR", "BE", "IT", "DE", "IT"]
_ECOSYSTEMS = ["Construction", "Digital", "Tourism"]
VARIED_MEMBERS = [
    (f"PFS-0001{i:02d}", f"Varied {i} GmbH", "SME" if i % 3 == 0 else "company", "Large (250 or more staff)",
     country, _ECOSYSTEMS[i % 3], dt.date(2021, 3, 1))
    for i, country in enumerate(_COUNTRIES)
]
# LSP-CONS gains two members in 2023; RSP-LOMB is LSP-CONS's Italian part.
VARIED_MEMBERSHIPS = [
    *[(m[0], "LSP-CONS", dt.date(2021, 6, 1)) for m in VARIED_MEMBERS[:8]],
    *[(m[0], "LSP-CONS", dt.date(2022, 9, 1)) for m in VARIED_MEMBERS[8:10]],
    *[(m[0], "RSP-LOMB", dt.date(2021, 6, 1)) for m in VARIED_MEMBERS[:3]],
    *[(m[0], "LSP-TOUR", dt.date(2022, 9, 1)) for m in VARIED_MEMBERS[10:16]],
]


@pytest.fixture(scope="module")
def varied_snapshot(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from pipelines.runner import run
    from tests.conftest import answer, make_raw

    root = tmp_path_factory.mktemp("varied")
    raw = make_raw(root / "raw")
    raw.write_registry(members=VARIED_MEMBERS, memberships=VARIED_MEMBERSHIPS, commitments=[])
    for wave, skip in ((2022, {4, 11}), (2023, {7, 15, 16})):  # a few members answer one wave only
        raw.write_survey(wave, [
            answer(member_id=m[0], org=m[1], country=m[4], cid=f"c{wave}-{m[0]}", user=f"{m[0]}@x.example",
                   people=1000 * (wave - 2020) + 10 * n, invest=1000, programmes=1, reached=10, stakeholders=1,
                   created=f"01/03/{wave + 1} 09:00", updated=f"01/03/{wave + 1} 09:00")
            for n, m in enumerate(VARIED_MEMBERS) if n not in skip
        ])
    curated = root / "curated"
    run(raw.root, curated, progress=False)
    return curated


# Filters for breakdowns and ranges: single dimensions, multi-value lists, and combinations across dimensions.
_VARIED_FILTERS = [
    {}, {"countries": ("IT",)}, {"countries": ("IT",), "member_types": ("company",)}, {"ecosystems": ("DIGI",)},
    {"partnerships": ("LSP-CONS",)}, {"partnerships": ("LSP-TOUR",), "countries": ("DE",)},
    {"countries": ("BE", "MT")}, {"member_types": ("SME",), "ecosystems": ("CONS", "TOUR")},
    {"ecosystems": ("CONS",), "countries": ("IT",)}, {"countries": ("BE", "DE", "FR", "IT")},
]
_COUNTRY_CODES = ("BE", "DE", "FR", "IT", "MT")


def _every_filter() -> list[dict[str, tuple[str, ...]]]:
    """Every list of Member States (alone and with each ecosystem), every list of ecosystems with each member
    type, every list of partnerships alone and with each Member State: the combinations a reader can click."""
    def lists(values: tuple[str, ...]) -> list[tuple[str, ...]]:
        return [combo for k in range(1, len(values) + 1) for combo in itertools.combinations(values, k)]

    found: list[dict[str, tuple[str, ...]]] = [{}]
    for countries in lists(_COUNTRY_CODES):
        found += [{"countries": countries}] + [{"countries": countries, "ecosystems": (e,)} for e in
                                                 ("CONS", "DIGI", "TOUR")]
    for ecosystems in lists(("CONS", "DIGI", "TOUR")):
        found += [{"ecosystems": ecosystems}] + [{"ecosystems": ecosystems, "member_types": (t,)} for t in
                                                   ("company", "SME")]
    for partnerships in lists(("LSP-CONS", "LSP-TOUR", "RSP-LOMB")):
        found += [{"partnerships": partnerships}] + [{"partnerships": partnerships, "countries": (c,)} for c in
                                                       _COUNTRY_CODES]
    return found


class _Reader:
    """What a reader learns: every figure shown, as an equation over the unknown (member, year) values, with
    the member sets recomputed from the curated Parquet (not from the data layer's atoms)."""

    def __init__(self, snapshot: Path) -> None:
        members = pd.read_parquet(snapshot / "members.parquet").set_index("member_id")
        memberships = pd.read_parquet(snapshot / "memberships.parquet")
        facts = pd.read_parquet(snapshot / "facts.parquet")
        self.facts = facts[facts["indicator"] == "people_trained"].reset_index(drop=True)
        self.attributes = {
            "ecosystems": members["primary_ecosystem_id"].to_dict(),
            "countries": members["country_code"].to_dict(),
            "member_types": members["member_type"].to_dict(),
        }
        self.joined = {(m, p): d.year for m, p, d in memberships[["member_id", "partnership_id", "joined_on"]]
                       .itertuples(index=False)}
        self.equations: list[np.ndarray] = []
        self.shown = self.withheld = 0

    def _in(self, member: str, year: int, filters: dict, by: str, key: object) -> bool:
        for name, values in filters.items():
            if name == "partnerships":
                if not any(self.joined.get((member, p), 9999) <= year for p in values):
                    return False
            elif self.attributes[name][member] not in values:
                return False
        if by == "year":
            return str(year) == key
        if by == "partnership":
            return self.joined.get((member, key), 9999) <= year
        if by:
            column = {"ecosystem": "ecosystems", "member_state": "countries", "member_type": "member_types"}[by]
            return self.attributes[column][member] == key
        return True

    def read(self, value: float, n_reporting: int, filters: dict, years: tuple[int, int], by: str = "",
             key: object = None) -> None:
        rows = [i for i, (m, y) in enumerate(zip(self.facts["member_id"], self.facts["year"], strict=True))
                if years[0] <= y <= years[1] and self._in(m, int(y), filters, by, key)]
        assert n_reporting == self.facts.loc[rows, "member_id"].nunique(), (filters, years, by, key)
        if pd.isna(value):
            self.withheld += bool(rows)
            return
        # The equation is right: the figure shown is the sum of exactly these members' values.
        assert value == self.facts.loc[rows, "value"].sum(), (filters, years, by, key)
        equation = np.zeros(len(self.facts))
        equation[rows] = 1.0
        self.equations.append(equation)
        self.shown += 1

    def disclosed(self) -> list[tuple[str, ...]]:
        """The members (alone or in pairs) some combination of everything read depends on alone."""
        ids = sorted(self.facts["member_id"].unique())
        unknowns = {m: list(self.facts.index[self.facts["member_id"] == m]) for m in ids}
        groups = [(m,) for m in ids] + list(itertools.combinations(ids, 2))
        found = _disclosed(np.array(self.equations), [[u for m in g for u in unknowns[m]] for g in groups])
        return [groups[k] for k in found]


def _read_everything(data, vintage, reader: _Reader) -> None:
    for filters in _every_filter():
        frame = data.yearly_totals(vintage, "people_trained", data.Filters(**filters))
        for row in frame.itertuples():
            reader.read(row.value, row.n_reporting, filters, (row.year, row.year))
    for filters in _VARIED_FILTERS:
        for by in data.BREAKDOWNS:
            for years in ((2022, 2022), (2023, 2023), (2022, 2023)):
                frame = data.breakdown(vintage, "people_trained", by, *years, data.Filters(**filters))
                for key, value, n in zip(frame["key"], frame["value"], frame["n_reporting"], strict=True):
                    reader.read(value, n, filters, years, by, key)
    values = data.partnership_values(vintage, "people_trained")
    for row in values.itertuples():
        reader.read(row.value, row.n_reporting, {}, (row.year, row.year), "partnership", row.partnership_id)


def test_no_combination_of_views_discloses_a_member(varied_snapshot: Path, monkeypatch) -> None:
    """Every figure the data layer serves for people trained, over hundreds of filter combinations (every list
    of Member States, with and without an ecosystem; lists of ecosystems with a member type; lists of
    partnerships with a Member State), every breakdown and year range, and the partnership values: taken all
    together as equations, they pin down no member's values, alone or with one other member. The same views in
    the open deployment do (the check has teeth)."""
    from dashboard import data

    monkeypatch.setenv("PACT_CURATED_DIR", str(varied_snapshot))
    readers = {}
    for public in (False, True):
        monkeypatch.setenv("PACT_PUBLIC", "1" if public else "0")
        data.reset()
        readers[public] = _Reader(Path(data.resolve_vintage().vintage.path))
        _read_everything(data, data.resolve_vintage().vintage, readers[public])
    data.reset()
    public = readers[True]
    log.info("public mode: %d figures shown, %d withheld, none discloses a member", public.shown, public.withheld)
    assert public.disclosed() == []
    assert public.shown > 150 and public.withheld > 300  # both outcomes are exercised
    assert len(readers[False].disclosed()) > 10  # the open deployment shows single members' figures


def test_a_range_cell_is_withheld_when_any_of_its_years_is(varied_snapshot: Path, monkeypatch) -> None:
    """A cell summed over years, shown while one of its years is withheld and the others are shown, gives the
    withheld year back by subtraction (and with it the small cell that year's complement protects)."""
    from dashboard import data

    monkeypatch.setenv("PACT_CURATED_DIR", str(varied_snapshot))
    monkeypatch.setenv("PACT_PUBLIC", "1")
    data.reset()
    vintage = data.resolve_vintage().vintage
    checked = withheld_by_a_year = 0
    for filters in _VARIED_FILTERS:
        for by in ("ecosystem", "member_state", "member_type"):
            single = {y: data.breakdown(vintage, "people_trained", by, y, y, data.Filters(**filters))
                      .set_index("key")["value"] for y in (2022, 2023)}
            ranged = data.breakdown(vintage, "people_trained", by, 2022, 2023, data.Filters(**filters))
            for key, value in zip(ranged["key"], ranged["value"], strict=True):
                years_hidden = [y for y in (2022, 2023) if key in single[y] and pd.isna(single[y][key])]
                if years_hidden:
                    withheld_by_a_year += 1
                    assert pd.isna(value), (filters, by, key, years_hidden)
                checked += 1
    data.reset()
    log.info("range cells: %d checked, %d withheld because one of their years is", checked, withheld_by_a_year)
    assert withheld_by_a_year > 5


def test_the_about_page_states_the_public_rule_only_in_public_mode(layer) -> None:
    from dashboard.pages import about

    layer(False)
    assert about.PUBLIC_RULE[0] not in str(about.layout())
    layer(True)
    assert about.PUBLIC_RULE[0] in str(about.layout())


@pytest.fixture(scope="module")
def two_member_snapshot(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from pipelines.runner import run
    from tests.conftest import answer, make_raw

    root = tmp_path_factory.mktemp("two")
    raw = make_raw(root / "raw")
    raw.write_registry(members=PUBLIC_MEMBERS[:2], memberships=[], commitments=[])
    raw.write_survey(2022, [answer(member_id=m[0], org=m[1], country=m[4], cid=f"c-{m[0]}", people=PEOPLE[m[0]])
                            for m in PUBLIC_MEMBERS[:2]])
    curated = root / "curated"
    run(raw.root, curated, progress=False)
    return curated


def test_eu_totals_of_two_members_are_withheld_everywhere(two_member_snapshot: Path, monkeypatch) -> None:
    """The EU total is a figure like any other: built from 2 members it is withheld on the Progress cards, in the
    yearly totals, in the commitments share and beside the published figures on the Data page."""
    from dashboard import data

    monkeypatch.setenv("PACT_CURATED_DIR", str(two_member_snapshot))
    seen = {}
    for public in (False, True):
        monkeypatch.setenv("PACT_PUBLIC", "1" if public else "0")
        data.reset()
        vintage = data.resolve_vintage().vintage
        kpis = {k.key: k.value for k in data.kpis(vintage, 2022)}
        seen[public] = (
            data.yearly_totals(vintage, "people_trained").set_index("year").loc[2022, "value"],
            kpis["people_trained"], kpis["commitments_progressing_share"],
            data.computed_figure(vintage, "people_trained", 2022, 2022),
            data.computed_figure(vintage, "commitments_progressing_share", 2022, 2022),
        )
    data.reset()
    assert seen[False][0] == seen[False][1] == seen[False][3] == PEOPLE["PFS-000001"] + PEOPLE["PFS-000002"]
    assert seen[False][2] is not None and seen[False][4] is not None
    assert pd.isna(seen[True][0]) and seen[True][1:] == (None, None, None, None)
    assert kpis["respondents"] == 2  # counts are not withheld


# --- corrections and run errors: member-level text never served in public mode ----------------------------------

@pytest.fixture(scope="module")
def corrected_snapshot(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The public tree with one value corrected (780 -> 781) and one submission excluded, then a failed run."""
    from pipelines.runner import run

    raw = one_wave(tmp_path_factory.mktemp("corrected"), PUBLIC_MEMBERS, PUBLIC_MEMBERSHIPS,
                   PEOPLE | {"PFS-000003": 780})
    raw.write_corrections([
        {"correction_id": "K1", "wave": "2022", "contribution_id": "c-PFS-000003", "member_id": "PFS-000003",
         "indicator": "people_trained", "action": "set", "value": "781", "reason": "Mrs Rossi confirmed 781 by phone",
         "corrected_by": "staff", "corrected_on": "2023-05-02"},
        {"correction_id": "K2", "wave": "2022", "contribution_id": "c-PFS-000009", "member_id": "PFS-000009",
         "indicator": "", "action": "exclude", "value": "", "reason": "duplicate of a colleague's answer",
         "corrected_by": "staff", "corrected_on": "2023-05-03"},
    ])
    curated = published(raw)
    (raw.root / "registry" / "pact_members.xlsx").write_bytes(b"not a workbook PFS-000777")  # a failed run
    with contextlib.suppress(Exception):
        run(raw.root, curated, progress=False)
    return curated


def test_corrections_and_run_errors_reveal_no_member_in_public_mode(corrected_snapshot: Path, monkeypatch) -> None:
    import importlib
    import io
    import json
    import re
    import zipfile

    import plotly

    from dashboard import data

    monkeypatch.setenv("PACT_CURATED_DIR", str(corrected_snapshot))
    secrets = ("781", "780", "Rossi", "PFS-000003", "c-PFS-000003", "PFS-000009", "c-PFS-000009", "colleague",
               "(was", "excluded", "PFS-000777", "not a readable")
    monkeypatch.setenv("PACT_PUBLIC", "0")
    data.reset()
    vintage = data.resolve_vintage().vintage
    assert set(data.corrections(vintage)["correction_id"]) == {"K1", "K2"}  # outside public mode: every detail
    assert data.runs()["error"].str.contains("registry/pact_members.xlsx").any()
    assert data.runs()["warnings"].str.contains("before their partnership was launched").any()

    monkeypatch.setenv("PACT_PUBLIC", "1")
    data.reset()
    vintage = data.resolve_vintage().vintage
    counts = data.corrections(vintage)
    assert counts.to_dict("records") == [
        {"wave": 2022, "indicator": "(whole submission)", "action": "exclude", "status": "applied", "corrections": 1},
        {"wave": 2022, "indicator": "people_trained", "action": "set", "status": "applied", "corrections": 1},
    ]
    runs = data.runs()
    assert set(runs["status"]) == {"ok", "failed"}
    assert set(runs.loc[runs["status"] == "failed", "error"]) == {"(not shown in public mode)"}
    # the published run warned of memberships dated before a launch, naming members: how many, not what
    assert runs.loc[runs["status"] == "ok", "warnings"].str.fullmatch(r"[1-9][0-9]* \(not shown in public mode\)").all()

    page = json.dumps(importlib.import_module("dashboard.pages.data_page").layout(), cls=plotly.utils.PlotlyJSONEncoder)
    served = {"page": page.encode()}
    with __import__("dashboard.app", fromlist=["app"]).app.server.test_client() as client:
        for url in ("/export/data/corrections.csv", "/export/data/corrections.xlsx", "/export/data/pack.zip"):
            response = client.get(url)
            assert response.status_code == 200, (url, response.status_code)
            served[url] = response.get_data()
    with zipfile.ZipFile(io.BytesIO(served["/export/data/pack.zip"])) as pack:
        for name in pack.namelist():
            served[name] = pack.read(name)
    for name in [n for n in served if n.endswith((".xlsx", ".docx"))]:
        with zipfile.ZipFile(io.BytesIO(served[name])) as book:  # the text of an Office file is in its XML parts
            served[name] = b" ".join(book.read(part) for part in book.namelist() if part.endswith((".xml", ".rels")))
    for name, body in served.items():
        if name.endswith(".png"):  # a chart image's compressed bytes hold any three digits now and then; no text
            continue
        for secret in secrets:  # as a word: '780' may be part of a checksum
            assert not re.search(rb"(?<![0-9A-Za-z])" + re.escape(secret.encode()) + rb"(?![0-9A-Za-z])", body), (
                name, secret)
    assert b"2 corrections in the corrections file" in served["page"]
    data.reset()


def test_vintages_cannot_be_differenced_in_public_mode(tmp_path: Path, monkeypatch) -> None:
    """Attack: exclude one member's submission, rebuild, and subtract the EU totals of the two kept vintages. Each
    vintage's release was safe alone; public mode now serves the current vintage only."""
    from dashboard import data
    from pipelines.runner import run
    from tests.conftest import answer, make_raw

    raw = make_raw(tmp_path / "raw")
    raw.write_registry(members=PUBLIC_MEMBERS, memberships=PUBLIC_MEMBERSHIPS, commitments=[])
    raw.write_survey(2022, [
        answer(member_id=m[0], org=m[1], country=m[4], cid=f"c-{m[0]}", people=PEOPLE[m[0]], invest=1000)
        for m in PUBLIC_MEMBERS])
    curated = tmp_path / "curated"
    old = run(raw.root, curated, progress=False).vintage_id
    raw.write_corrections([{"correction_id": "K1", "wave": "2022", "contribution_id": "c-PFS-000004",
                            "member_id": "PFS-000004", "action": "exclude", "reason": "test entry",
                            "corrected_by": "staff", "corrected_on": "2023-05-02"}])
    new = run(raw.root, curated, progress=False).vintage_id
    assert old != new
    monkeypatch.setenv("PACT_CURATED_DIR", str(curated))
    url = "/api/v1/data.csv?indicator=people_trained&by=year&vintage="

    def eu_total(client, vintage_id: str) -> int | None:
        response = client.get(url + vintage_id)
        if response.status_code != 200:
            return None
        rows = list(csv.reader(io.StringIO(response.get_data(as_text=True).lstrip("\ufeff"))))
        return int(float(rows[1][1]))

    monkeypatch.setenv("PACT_PUBLIC", "0")
    data.reset()
    from dashboard.app import app

    with app.server.test_client() as client:
        assert eu_total(client, old) - eu_total(client, new) == PEOPLE["PFS-000004"]  # what the attack yielded

    monkeypatch.setenv("PACT_PUBLIC", "1")
    data.reset()
    with app.server.test_client() as client:
        assert eu_total(client, new) is not None
        refused = client.get(url + old)
        assert refused.status_code == 400
        assert "has been updated: the public site serves only the current one" in refused.get_json()["details"][0]
        assert client.get("/api/v1/").get_json()["parameters"]["vintage"] == [new]
    choice = data.resolve_vintage(old)
    assert choice.vintage.vintage_id == new and choice.superseded
    assert "The figures have been updated since this link was made" in choice.message
    data.reset()


# --- members who reported 0: they add nothing to a figure, so they do not count towards the threshold -----------

# Italy: 5 members with a value and 1 who reported 0 (LSP-TOUR's only member); Belgium and Spain: 3 each with a
# value; France: 2 with a value and 1 who reported 0; Germany: 3 who reported 0, two of them the only SMEs.
ZERO_MEMBERS = [
    *[(f"PFS-0003{i:02d}", f"Zero test {i} S.p.A.", "company", "Large (250 or more staff)", "IT", "Construction",
       dt.date(2021, 3, 1)) for i in range(1, 7)],
    *[(f"PFS-0003{i:02d}", f"Zero test {i} SA", "company", "Large (250 or more staff)", "BE", "Construction",
       dt.date(2021, 3, 1)) for i in range(7, 10)],
    *[(f"PFS-0003{i:02d}", f"Zero test {i} SL", "company", "Large (250 or more staff)", "ES", "Construction",
       dt.date(2021, 3, 1)) for i in range(10, 13)],
    *[(f"PFS-0003{i:02d}", f"Zero test {i} SAS", "company", "Large (250 or more staff)", "FR", "Construction",
       dt.date(2021, 3, 1)) for i in range(13, 16)],
    *[(f"PFS-0003{i:02d}", f"Zero test {i} GmbH", "company" if i == 16 else "SME", "Large (250 or more staff)",
       "DE", "Construction", dt.date(2021, 3, 1)) for i in range(16, 19)],
]
ZERO_REPORTS = {"PFS-000306", "PFS-000315", "PFS-000316", "PFS-000317", "PFS-000318"}
ZERO_PEOPLE = {m[0]: 0 if m[0] in ZERO_REPORTS else 100 * (n + 1) + 7 for n, m in enumerate(ZERO_MEMBERS)}


@pytest.fixture(scope="module")
def zeros_snapshot(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return published(one_wave(tmp_path_factory.mktemp("zeros"), ZERO_MEMBERS,
                              [("PFS-000306", "LSP-TOUR", dt.date(2021, 6, 1))], ZERO_PEOPLE))


def _zeros_layer(snapshot: Path, monkeypatch: pytest.MonkeyPatch, public: bool):
    from dashboard import data

    monkeypatch.setenv("PACT_CURATED_DIR", str(snapshot))
    monkeypatch.setenv("PACT_PUBLIC", "1" if public else "0")
    data.reset()
    return data, data.resolve_vintage().vintage


def test_members_who_reported_zero_protect_no_one(zeros_snapshot: Path, monkeypatch) -> None:
    """France's figure is 2 members' values and a 0: the member with the smaller value would learn the other's
    exactly, so it is withheld though 3 members reported it, and a complement with it, as for any small cell.
    Belgium's 3 values are shown; Germany's 0 from 3 members is shown; LSP-TOUR's 0 (1 member) and the SMEs'
    0 (2 members) are withheld: showing them would say what those members reported."""
    data, vintage = _zeros_layer(zeros_snapshot, monkeypatch, False)
    open_frame = data.breakdown(vintage, "people_trained", "member_state", 2022, 2022).set_index("key")
    france = ZERO_PEOPLE["PFS-000313"] + ZERO_PEOPLE["PFS-000314"]
    assert open_frame.loc["FR", "value"] == france and open_frame.loc["FR", "n_reporting"] == 3

    data, vintage = _zeros_layer(zeros_snapshot, monkeypatch, True)
    frame = data.breakdown(vintage, "people_trained", "member_state", 2022, 2022).set_index("key")
    frame = frame[frame["n_reporting"] > 0]
    # Largest first by contributors: IT (5), BE (3), ES (3), FR (2). FR is small, ES its complement.
    assert frame["value"].isna().to_dict() == {"BE": False, "DE": False, "ES": True, "FR": True, "IT": False}
    assert frame["n_reporting"].to_dict() == open_frame.loc[frame.index, "n_reporting"].to_dict()  # counts stay
    assert frame.loc["BE", "value"] == sum(ZERO_PEOPLE[f"PFS-0003{i:02d}"] for i in range(7, 10))
    assert frame.loc["DE", "value"] == 0
    total = data.yearly_totals(vintage, "people_trained").set_index("year").loc[2022, "value"]
    assert total == sum(ZERO_PEOPLE.values())
    hidden = total - frame["value"].sum()  # Spain and France together: 5 members with a value
    assert hidden == france + sum(ZERO_PEOPLE[f"PFS-0003{i:02d}"] for i in range(10, 13))

    def value(**filters: tuple[str, ...]) -> float:
        return data.yearly_totals(vintage, "people_trained", data.Filters(**filters)).set_index("year").loc[2022,
                                                                                                             "value"]

    assert pd.isna(value(countries=("FR",))) and pd.isna(value(countries=("ES",)))
    assert value(countries=("BE",)) == frame.loc["BE", "value"] and value(countries=("DE",)) == 0
    assert pd.isna(value(partnerships=("LSP-TOUR",)))  # one member's 0
    assert pd.isna(value(member_types=("SME",)))  # two members' 0
    types = data.breakdown(vintage, "people_trained", "member_type", 2022, 2022).set_index("key")
    assert pd.isna(types.loc["SME", "value"]) and types.loc["SME", "n_reporting"] == 2
    partnerships = data.breakdown(vintage, "people_trained", "partnership", 2022, 2022).set_index("key")
    assert pd.isna(partnerships.loc["LSP-TOUR", "value"]) and partnerships.loc["LSP-TOUR", "n_reporting"] == 1
    values = data.partnership_values(vintage, "people_trained").set_index("partnership_id")
    assert pd.isna(values.loc["LSP-TOUR", "value"])

    from dashboard.app import app

    with app.server.test_client() as client:
        response = client.get("/api/v1/data.csv?indicator=people_trained&by=member_state&from=2022&to=2022")
        body = response.get_data(as_text=True)
    assert response.status_code == 200, body[:500]
    rows = {row[0]: row for row in csv.reader(io.StringIO(body.lstrip("\ufeff"))) if row}
    assert rows["FR"][2] == ":" and rows["FR"][4] == "3" and rows["BE"][2] != ":"
    data.reset()


@pytest.fixture(scope="module")
def zero_totals_snapshot(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Three members. People trained: two values and a 0. Programmes: two 0s, the third left blank. People
    reached: three 0s. Stakeholders: three values."""
    from tests.conftest import answer, make_raw

    root = tmp_path_factory.mktemp("zero_totals")
    raw = make_raw(root / "raw")
    raw.write_registry(members=PUBLIC_MEMBERS[:3], memberships=[], commitments=[])
    raw.write_survey(2022, [
        answer(member_id=m[0], org=m[1], country=m[4], cid=f"c-{m[0]}", user=f"{m[0]}@x.example",
               people=0 if n == 2 else PEOPLE[m[0]], programmes=None if n == 2 else 0, reached=0, stakeholders=n + 1)
        for n, m in enumerate(PUBLIC_MEMBERS[:3])
    ])
    return published(raw)


def test_eu_totals_count_members_with_a_non_zero_value(zero_totals_snapshot: Path, monkeypatch) -> None:
    """The EU total, decided from counts on the Progress cards, the yearly totals and the Data page, follows the
    same rule as every other figure: 2 values and a 0 are withheld, so are 2 members' 0s; 3 members' 0s and 3
    values are shown."""
    seen = {}
    for public in (False, True):
        data, vintage = _zeros_layer(zero_totals_snapshot, monkeypatch, public)
        kpis = {k.key: k for k in data.kpis(vintage, 2022)}
        seen[public] = {
            indicator: (data.yearly_totals(vintage, indicator).set_index("year").loc[2022, "value"],
                        data.computed_figure(vintage, indicator, 2022, 2022),
                        data.year_figure(vintage, indicator, 2022).coverage.reporting)
            for indicator in ("people_trained", "training_programmes", "people_reached", "stakeholders_joined")
        }
        seen[public]["kpi"] = (kpis["people_trained"].value, kpis["people_trained"].coverage.reporting)
    data.reset()
    assert seen[False]["people_trained"] == (PEOPLE["PFS-000001"] + PEOPLE["PFS-000002"],) * 2 + (3,)
    assert seen[False]["training_programmes"] == (0, 0, 2)
    public = seen[True]
    assert pd.isna(public["people_trained"][0]) and public["people_trained"][1:] == (None, 3)
    assert public["kpi"] == (None, 3)
    assert pd.isna(public["training_programmes"][0]) and public["training_programmes"][1:] == (None, 2)
    assert public["people_reached"] == (0, 0, 3)
    assert public["stakeholders_joined"] == (6, 6, 3)

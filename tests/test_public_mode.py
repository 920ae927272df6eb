"""Public mode: the small-cell suppression rules (dashboard/disclosure.py), checked exhaustively on tiny tables.

Every check of "nothing can be recovered" here is independent of the implementation: a withheld cell is
recoverable when its unit vector lies in the row space of the equations a reader has (numpy's matrix_rank,
not the SVD null-space test the module uses), and filter relaxations are enumerated by re-applying the
filters to the population, not by bit masks.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import itertools
import logging
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dashboard.disclosure import (
    PRIMARY,
    SECONDARY,
    THRESHOLD,
    anonymise_peers,
    differencing_risk,
    drop_member_level,
    nested_group_risk,
    public_mode,
    public_rejects,
    relaxation_exposed,
    suppress_cells,
)

log = logging.getLogger(__name__)


def _recoverable(frame: pd.DataFrame, groups: list[list[int]], withheld: list[int]) -> list[int]:
    """Withheld cells a reader can compute from the shown cells and the shown group totals."""
    if not withheld:
        return []
    position = {cell: k for k, cell in enumerate(withheld)}
    rows = []
    for index in groups:
        row = np.zeros(len(withheld))
        for i in index:
            if i in position:
                row[position[i]] = 1
        rows.append(row)
    if not rows:
        return []
    a = np.array(rows)
    base = np.linalg.matrix_rank(a)
    found = []
    for cell, k in position.items():
        unit = np.zeros(len(withheld))
        unit[k] = 1
        if np.linalg.matrix_rank(np.vstack([a, unit])) == base:
            found.append(cell)
    return found


def _check_table(frame: pd.DataFrame, margins: list[tuple[str, ...]], members: str | None = None) -> pd.DataFrame:
    out, withheld_totals = suppress_cells(frame, margins=margins, members_col=members)
    # Shown values are untouched; withheld ones are missing.
    assert len(out) == len(frame)
    for i in range(len(frame)):
        if out.loc[i, "suppressed"]:
            assert pd.isna(out.loc[i, "value"])
        else:
            assert out.loc[i, "value"] == frame.loc[i, "value"]
    counts = frame["n_members"].tolist()
    # Primary: exactly the cells built from 1 or 2 members.
    for i, n in enumerate(counts):
        assert (out.loc[i, "suppression"] == PRIMARY) == (0 < n < THRESHOLD)
        if n == 0:
            assert not out.loc[i, "suppressed"]

    def coverage(cells: list[int]) -> int:
        if members is None:
            return sum(counts[i] for i in cells)
        return len(set().union(*(set(frame.loc[i, members]) for i in cells))) if cells else 0

    groups = []
    for cols in margins:
        for i_cells in ([list(range(len(frame)))] if not cols else [
            list(ix) for ix in frame.groupby(list(cols), sort=False).indices.values()
        ]):
            key = {c: frame.loc[i_cells[0], c] for c in cols}
            # A total is visible when it covers enough members and the function did not ask to withhold it.
            if coverage(i_cells) >= THRESHOLD and key not in withheld_totals:
                groups.append(i_cells)
    withheld = [i for i in range(len(out)) if out.loc[i, "suppressed"]]
    for g in groups:
        hidden = [i for i in g if i in withheld]
        assert not hidden or (len(hidden) >= 2 and coverage(hidden) >= THRESHOLD), (frame, out, g)
    assert _recoverable(frame, groups, withheld) == [], (frame, out)
    return out, withheld_totals


def test_one_dimensional_breakdowns_exhaustively() -> None:
    """Every breakdown of 1 to 5 cells with member counts from {0, 1, 2, 3, 6} and a shown total."""
    tried = 0
    for size in range(1, 6):
        for counts in itertools.product((0, 1, 2, 3, 6), repeat=size):
            frame = pd.DataFrame({
                "cell": [f"c{i}" for i in range(size)],
                "value": [float(100 * (i + 1) * max(n, 1)) for i, n in enumerate(counts)],
                "n_members": list(counts),
            })
            _, withheld_totals = _check_table(frame, [()])
            # With one equation (the breakdown's own total) no withheld cell is ever left alone: the data
            # layer, which shows that total as the yearly total, never has to withhold it.
            assert withheld_totals == [], frame
            assert suppress_cells(frame, margins=[]).withheld_totals == []
            tried += 1
    log.info("1-D breakdowns checked: %d", tried)
    assert tried == sum(5**k for k in range(1, 6))


def test_two_dimensional_tables_exhaustively() -> None:
    """Every 2 × 2 table with counts from {0, 1, 2, 4} and every 2 × 3 table with counts from {0, 1, 4}
    (years × categories), row and column totals shown."""
    tried = totals_withheld = 0
    for shape, choices in (((2, 2), (0, 1, 2, 4)), ((2, 3), (0, 1, 4))):
        rows, cols = shape
        for counts in itertools.product(choices, repeat=rows * cols):
            frame = pd.DataFrame({
                "year": [2022 + r for r in range(rows) for _ in range(cols)],
                "cat": ["abc"[c] for _ in range(rows) for c in range(cols)],
                "value": [float(10 + i) for i in range(rows * cols)],
                "n_members": list(counts),
            })
            _, withheld_totals = _check_table(frame, [("year",), ("cat",)])
            totals_withheld += bool(withheld_totals)
            tried += 1
    log.info("2-D tables checked: %d, of which %d needed a total withheld", tried, totals_withheld)
    assert tried == 4**4 + 3**6


def test_a_total_pinning_the_only_complement_is_withheld() -> None:
    """2023: b (1 member) and c (4); c is the only non-empty cell of its column, so the column total equals c
    and c cannot hide b: the column total is withheld instead."""
    frame = pd.DataFrame({
        "year": [2022, 2022, 2022, 2023, 2023, 2023], "cat": ["a", "b", "c", "a", "b", "c"],
        "value": [0.0, 0.0, 0.0, 0.0, 7.0, 70.0], "n_members": [0, 0, 0, 0, 1, 4],
    })
    out, totals = _check_table(frame, [("year",), ("cat",)])
    assert out["suppression"].tolist() == ["", "", "", "", PRIMARY, SECONDARY]
    assert totals == [{"cat": "c"}]


@settings(max_examples=150, deadline=None)
@given(
    st.integers(min_value=2, max_value=4),
    st.integers(min_value=2, max_value=5),
    st.data(),
)
def test_random_larger_tables(n_rows: int, n_cols: int, data: st.DataObject) -> None:
    counts = data.draw(st.lists(st.sampled_from([0, 1, 1, 2, 3, 5, 9]), min_size=n_rows * n_cols,
                                max_size=n_rows * n_cols))
    frame = pd.DataFrame({
        "row": [r for r in range(n_rows) for _ in range(n_cols)],
        "col": [c for _ in range(n_rows) for c in range(n_cols)],
        "value": data.draw(st.lists(st.integers(1, 10**6), min_size=n_rows * n_cols,
                                    max_size=n_rows * n_cols)),
        "n_members": counts,
    })
    frame["value"] = frame["value"].astype("float64")
    _check_table(frame, [("row",), ("col",)])


@settings(max_examples=150, deadline=None)
@given(st.lists(st.sampled_from([0, 0, 1, 1, 2, 3, 4, 9, 40]), min_size=1, max_size=30), st.data())
def test_a_breakdown_never_needs_its_total_withheld(counts: list[int], data: st.DataObject) -> None:
    """Breakdowns as the data layer builds them (up to 27 Member States, one shown total): no total to withhold."""
    frame = pd.DataFrame({
        "cell": [f"c{i}" for i in range(len(counts))],
        "value": data.draw(st.lists(st.integers(0, 10**7), min_size=len(counts), max_size=len(counts))),
        "n_members": counts,
    })
    frame["value"] = frame["value"].astype("float64")
    _, withheld_totals = _check_table(frame, [()])
    assert withheld_totals == []


def test_repeated_members_across_years_use_member_sets() -> None:
    """One member reporting in three years of one ecosystem is still one member: the column stays protected."""
    frame = pd.DataFrame({
        "year": [2022, 2023, 2024, 2022, 2023, 2024],
        "eco": ["x", "x", "x", "y", "y", "y"],
        "value": [5.0, 6.0, 7.0, 50.0, 60.0, 70.0],
        "n_members": [1, 1, 1, 4, 4, 4],
        "members": [{"m1"}, {"m1"}, {"m1"}, {"a", "b", "c", "d"}, {"a", "b", "c", "d"}, {"a", "b", "e", "f"}],
    })
    out, _ = _check_table(frame, [("year",), ("eco",)], members="members")
    # Column x alone covers one member: its total is withheld where shown, so ecosystem y need not be; every
    # year row holds one member of x and at least 4 of y, so y's cell of each year goes too.
    assert out["suppressed"].tolist() == [True] * 6


def test_no_small_cells_means_nothing_withheld() -> None:
    frame = pd.DataFrame({"cell": list("abc"), "value": [1.0, 2.0, 3.0], "n_members": [3, 4, 0]})
    out, totals = suppress_cells(frame)
    assert totals == []
    assert not out["suppressed"].any()
    assert out["value"].tolist() == [1.0, 2.0, 3.0]


def test_secondary_picks_the_smallest_cell_and_input_is_not_mutated() -> None:
    frame = pd.DataFrame({"cell": list("abcd"), "value": [7.0, 900.0, 40.0, 41.0], "n_members": [2, 10, 4, 4]})
    before = frame.copy()
    out = suppress_cells(frame).cells
    assert out["suppression"].tolist() == [PRIMARY, "", SECONDARY, ""]
    pd.testing.assert_frame_equal(frame, before)


def test_no_margins_only_primary() -> None:
    frame = pd.DataFrame({"p": list("ab"), "value": [1.0, 2.0], "n_members": [1, 8]})
    out = suppress_cells(frame, margins=[]).cells
    assert out["suppression"].tolist() == [PRIMARY, ""]


def test_missing_count_column_is_an_error() -> None:
    with pytest.raises(KeyError, match="n_members"):
        suppress_cells(pd.DataFrame({"value": [1.0]}))


# --- differencing -------------------------------------------------------------------------------------------

FILTERS = {
    "country": lambda r, v: r["country"] == v,
    "mtype": lambda r, v: r["mtype"] == v,
    "eco": lambda r, v: r["eco"] == v,
}


def _brute_force_risk(population: pd.DataFrame, chosen: dict[str, str]) -> bool:
    names = list(chosen)

    def members(active: list[str]) -> set[str]:
        keep = population.apply(lambda r: all(FILTERS[n](r, chosen[n]) for n in active), axis=1)
        return set(population.loc[keep, "member_id"])

    selected = members(names)
    for k in range(1, len(names) + 1):
        for dropped in itertools.combinations(names, k):
            wider = members([n for n in names if n not in dropped])
            if 0 < len(wider - selected) < THRESHOLD:
                return True
    return False


@settings(max_examples=120, deadline=None)
@given(st.lists(st.tuples(st.sampled_from("AB"), st.sampled_from("xy"), st.sampled_from("pq")),
                min_size=1, max_size=12),
       st.sampled_from([("country",), ("country", "mtype"), ("country", "mtype", "eco"), ("mtype", "eco")]))
def test_differencing_matches_brute_force(rows: list[tuple[str, str, str]], filter_names: tuple[str, ...]) -> None:
    population = pd.DataFrame(rows, columns=["country", "mtype", "eco"])
    population["member_id"] = [f"m{i}" for i in range(len(population))]
    chosen = {"country": "A", "mtype": "x", "eco": "p"}
    chosen = {n: chosen[n] for n in filter_names}
    masks = []
    for _, r in population.iterrows():
        mask = 0
        for bit, name in enumerate(chosen):
            if not FILTERS[name](r, chosen[name]):
                mask |= 1 << bit
        masks.append(mask)
    units = pd.DataFrame({"member_id": population["member_id"], "fail_mask": masks})
    assert differencing_risk(units, n_filters=len(chosen)) == _brute_force_risk(population, chosen)


def test_differencing_two_filters_isolating_one_member() -> None:
    """A member failing both filters, and only it, is exposed by total(no filter) - total(both filters)."""
    units = pd.DataFrame({"member_id": ["a", "b", "c", "d"], "fail_mask": [0, 0, 0, 0b11]})
    assert differencing_risk(units, n_filters=2)
    units = pd.DataFrame({"member_id": ["a", "b", "c", "d", "e", "f"], "fail_mask": [0, 0, 0, 0b11, 0b11, 0b11]})
    assert not differencing_risk(units, n_filters=2)
    # Several facts (years) of one member count as one member.
    units = pd.DataFrame({"member_id": ["a", "b", "c", "d", "d", "d"], "fail_mask": [0, 0, 0, 1, 1, 1]})
    assert differencing_risk(units, n_filters=1)


def _added_by_relaxation(units: list[tuple[str, int]], n_filters: int) -> list[int]:
    """For every non-empty set of dropped filters, how many members enter (set arithmetic, one relaxation at a
    time): the reference the fast functions are held to."""
    added = []
    for relaxed in range(1, 1 << n_filters):
        dropped = {bit for bit in range(n_filters) if relaxed >> bit & 1}
        added.append(len({m for m, mask in units
                          if mask and {bit for bit in range(n_filters) if mask >> bit & 1} <= dropped}))
    return added


@settings(max_examples=200, deadline=None)
@given(st.integers(min_value=0, max_value=4), st.data())
def test_differencing_with_members_under_several_masks(n_filters: int, data: st.DataObject) -> None:
    """A member may fail different filters in different units (years with a partnership joined in between):
    it enters a widened selection once, with the first of its units the relaxation admits."""
    units = data.draw(st.lists(st.tuples(st.sampled_from("abcdefg"), st.integers(0, (1 << n_filters) - 1)),
                               min_size=1, max_size=20))
    expected = any(0 < n < THRESHOLD for n in _added_by_relaxation(units, n_filters))
    frame = pd.DataFrame(units, columns=["member_id", "fail_mask"])
    assert differencing_risk(frame, n_filters=n_filters) == expected


@settings(max_examples=200, deadline=None)
@given(st.integers(min_value=0, max_value=5), st.data())
def test_relaxation_exposed_matches_enumeration(n_filters: int, data: st.DataObject) -> None:
    """The subset-sum transform over a histogram of members per failed-filter mask gives the same answer as
    listing members and enumerating relaxations, for several selections (leading axis) at once."""
    n_cells = data.draw(st.integers(1, 4))
    histograms = np.array(data.draw(st.lists(
        st.lists(st.sampled_from([0, 0, 1, 2, 3, 7]), min_size=1 << n_filters, max_size=1 << n_filters),
        min_size=n_cells, max_size=n_cells)), dtype=np.int64)
    expected = []
    for histogram in histograms:
        units = [(f"m{mask}-{k}", mask) for mask, n in enumerate(histogram) for k in range(n)]
        expected.append(any(0 < n < THRESHOLD for n in _added_by_relaxation(units, n_filters)))
    assert relaxation_exposed(histograms).tolist() == expected
    assert relaxation_exposed(histograms[0]) == expected[0]  # one selection: a 0-d answer


def test_relaxation_exposed_rejects_a_partial_histogram() -> None:
    with pytest.raises(ValueError, match="2\\*\\*n"):
        relaxation_exposed(np.zeros(3, dtype=np.int64))


@settings(max_examples=150, deadline=None)
@given(st.dictionaries(st.sampled_from(["P1", "P2", "P3", "P4", "P5", "P6"]),
                       st.sets(st.sampled_from("abcdefgh"), max_size=8), max_size=6))
def test_nested_groups_match_every_pair(groups: dict[str, set[str]]) -> None:
    expected = set()
    for (name_a, a), (_, b) in itertools.permutations(groups.items(), 2):
        if a < b and 0 < len(b - a) < THRESHOLD:
            expected.add(name_a)
    assert nested_group_risk(groups) == expected


def test_nested_groups() -> None:
    groups = {
        "P1": {"a", "b", "c", "d"},
        "P2": {"a", "b", "c"},  # P1 - P2 = {d}
        "P3": {"a", "b", "c", "d", "e", "f", "g"},  # P3 - P1 = 3 members: fine
        "P4": {"x", "y", "z"},
        "P5": {"x", "y", "z"},  # same members as P4: same figure, nothing new
    }
    assert nested_group_risk(groups) == {"P2"}


def test_anonymise_peers_keeps_own_name_only() -> None:
    frame = pd.DataFrame({
        "partnership_id": ["automotive", "aerospace", "construction", "tourism"],
        "name": ["Automotive", "Aerospace", "Construction", "Tourism"],
        "value": [10.0, 30.0, 20.0, None],
    })
    out = anonymise_peers(frame, name_cols=["name"], own="construction", key_col="partnership_id")
    assert out["name"].tolist() == ["Peer 2", "Peer 1", "Construction", "Peer 3"]
    assert out["partnership_id"].tolist() == ["Peer 2", "Peer 1", "construction", "Peer 3"]
    assert not set(out["name"]) & {"Automotive", "Aerospace", "Tourism"}


def test_public_rejects_and_member_columns() -> None:
    rejects = pd.DataFrame({
        "source_file": ["s.xlsx"] * 3, "sheet": ["Content"] * 3, "row": [5, 6, 7],
        "column": ["Q1", "Q1", "Q2"], "contribution_id": ["c1", "c2", "c3"], "value": ["-5", "abc", "1e99"],
        "reason_code": ["negative", "not_a_number", "absurd"], "reason": ["r1", "r2", "r3"],
    })
    out = public_rejects(rejects)
    assert out["rejects"].sum() == 3
    assert not {"row", "contribution_id", "value", "member_id"} & set(out.columns)
    stripped = drop_member_level(pd.DataFrame({"member_id": ["m"], "year": [2022], "n": [1]}))
    assert list(stripped.columns) == ["year", "n"]


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


@pytest.fixture(scope="module")
def public_snapshot(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from pipelines.runner import run
    from tests.conftest import answer, make_raw

    root = tmp_path_factory.mktemp("public")
    raw = make_raw(root / "raw")
    raw.write_registry(members=PUBLIC_MEMBERS, memberships=PUBLIC_MEMBERSHIPS, commitments=[])
    raw.write_survey(2022, [
        answer(member_id=m[0], org=m[1], country=m[4], cid=f"c-{m[0]}", user=f"{m[0]}@x.example",
               people=PEOPLE[m[0]], invest=1000, programmes=1, reached=10, stakeholders=1)
        for m in PUBLIC_MEMBERS
    ])
    curated = root / "curated"
    run(raw.root, curated, progress=False)
    return curated


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
    # Italian companies are 5 members, but Italy (6) minus them is one SME: withheld by differencing.
    assert pd.isna(value(countries=("IT",), member_types=("company",)))
    # Belgian companies: 4 members, and dropping either filter adds 0 or >= 3 members: shown.
    assert value(countries=("BE",), member_types=("company",)) == sum(PEOPLE[f"PFS-0000{i:02d}"] for i in range(7, 11))


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


def test_peer_benchmark_is_anonymous_in_public_mode(layer) -> None:
    from dashboard.analysis import MIN_NAMED_PEER_GROUP, peer_benchmark

    data, vintage = layer(False)
    partnerships = data.partnerships(vintage)
    big_kind = partnerships["kind"].value_counts().idxmax()
    group = partnerships[partnerships["kind"] == big_kind]
    assert len(group) >= MIN_NAMED_PEER_GROUP  # large enough to be named in the open deployment
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


_VARIED_FILTERS = [
    {}, {"countries": ("IT",)}, {"countries": ("IT",), "member_types": ("company",)}, {"ecosystems": ("DIGI",)},
    {"partnerships": ("LSP-CONS",)}, {"partnerships": ("LSP-TOUR",), "countries": ("DE",)},
    {"countries": ("BE", "MT")}, {"member_types": ("SME",), "ecosystems": ("CONS", "TOUR")},
]


def test_data_layer_withholds_every_cell_brute_force_exposes(varied_snapshot: Path, monkeypatch) -> None:
    """Every figure the data layer shows for Explore, under filters and year ranges, is checked against the
    curated Parquet by enumerating filter relaxations member by member: a cell built from 1 or 2 members, or one
    that dropping some of its filters (the cell's own key included) widens by 1 or 2 members, is withheld; a
    partnership with 1 or 2 members, or nested in another with 1 or 2 more, is withheld."""
    from dashboard import data

    monkeypatch.setenv("PACT_CURATED_DIR", str(varied_snapshot))
    monkeypatch.setenv("PACT_PUBLIC", "1")
    data.reset()
    vintage = data.resolve_vintage().vintage
    snapshot = Path(vintage.path)
    members = pd.read_parquet(snapshot / "members.parquet").set_index("member_id")
    memberships = pd.read_parquet(snapshot / "memberships.parquet")
    facts = pd.read_parquet(snapshot / "facts.parquet")
    facts = facts[facts["indicator"] == "people_trained"]
    assert sorted(facts["year"].unique().tolist()) == [2022, 2023]

    def joined(member: str, partnership: str, year: int) -> bool:
        rows = memberships[(memberships["member_id"] == member) & (memberships["partnership_id"] == partnership)]
        return bool((rows["joined_on"].map(lambda d: d.year) <= year).any())

    def predicates(filters: dict[str, tuple[str, ...]]) -> list:
        tests = []
        for name, column in (("ecosystems", "primary_ecosystem_id"), ("countries", "country_code"),
                             ("member_types", "member_type")):
            if filters.get(name):
                tests.append(lambda m, y, c=column, v=filters[name]: members.loc[m, c] in v)
        if filters.get("partnerships"):
            tests.append(lambda m, y, v=filters["partnerships"]: any(joined(m, p, y) for p in v))
        return tests

    def exposed(tests: list, year: int) -> bool:
        reporting = facts.loc[facts["year"] == year, "member_id"].tolist()
        selected = {m for m in reporting if all(t(m, year) for t in tests)}
        if 0 < len(selected) < THRESHOLD:
            return True
        for k in range(1, len(tests) + 1):
            for dropped in itertools.combinations(range(len(tests)), k):
                wider = {m for m in reporting if all(t(m, year) for i, t in enumerate(tests) if i not in dropped)}
                if 0 < len(wider - selected) < THRESHOLD:
                    return True
        return False

    cell_column = {"ecosystem": "primary_ecosystem_id", "member_state": "country_code", "member_type": "member_type"}
    checked = must_withhold = shown = 0
    for filters in _VARIED_FILTERS:
        tests = predicates(filters)
        yearly = data.yearly_totals(vintage, "people_trained", data.Filters(**filters)).set_index("year")
        for year in (2022, 2023):
            if exposed(tests, year):
                must_withhold += 1
                assert pd.isna(yearly.loc[year, "value"]), (filters, year)
            checked += 1
        for by in ("year", "ecosystem", "member_state", "member_type", "partnership"):
            for year_from, year_to in ((2022, 2023), (2023, 2023)):
                frame = data.breakdown(vintage, "people_trained", by, year_from, year_to, data.Filters(**filters))
                for key, value in zip(frame["key"], frame["value"], strict=True):
                    if by == "partnership":
                        risky = _partnership_exposed(key, tests, facts, memberships, year_from, year_to, joined)
                    else:
                        if by == "year":
                            cell = [lambda m, y, k=key: str(y) == k]
                        else:
                            cell = [lambda m, y, k=key, c=cell_column[by]: members.loc[m, c] == k]
                        risky = any(exposed([*tests, *cell], y) for y in range(year_from, year_to + 1))
                    if risky:
                        must_withhold += 1
                        assert pd.isna(value), (filters, by, year_from, year_to, key)
                    shown += not pd.isna(value)
                    checked += 1
    data.reset()
    log.info("brute force: %d figures checked, %d had to be withheld, %d shown", checked, must_withhold, shown)
    assert must_withhold > 20 and shown > 20  # both outcomes are exercised


def _partnership_exposed(key, tests, facts, memberships, year_from, year_to, joined) -> bool:
    """A member kept by the filters in any year of the range counts; per year, partnership `key` is exposed when
    it holds 1 or 2 reporting members or sits inside another partnership with 1 or 2 members more."""
    in_range = facts[(facts["year"] >= year_from) & (facts["year"] <= year_to)]
    kept = {m for m, y in zip(in_range["member_id"], in_range["year"], strict=True) if all(t(m, y) for t in tests)}
    for year in range(year_from, year_to + 1):
        reporting = set(facts.loc[facts["year"] == year, "member_id"]) & kept
        groups = {p: {m for m in reporting if joined(m, p, year)} for p in memberships["partnership_id"].unique()}
        own = groups.get(key, set())
        if 0 < len(own) < THRESHOLD:
            return True
        if any(own < other and 0 < len(other - own) < THRESHOLD for other in groups.values()):
            return True
    return False


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


def test_a_total_to_withhold_withholds_the_whole_breakdown(layer, monkeypatch, caplog) -> None:
    """Should suppress_cells ever ask for the breakdown's total to be withheld, the data layer cannot hide a
    total shown on another page: it withholds every cell of the breakdown instead."""
    from dashboard import disclosure

    data, vintage = layer(True)
    shown = data.breakdown(vintage, "people_trained", "member_state", 2022, 2022)
    assert shown["value"].notna().any()
    real = disclosure.suppress_cells

    def asking_for_the_total(*args, **kwargs):
        return disclosure.Suppressed(real(*args, **kwargs).cells, [{}])

    monkeypatch.setattr(disclosure, "suppress_cells", asking_for_the_total)
    data.reset()
    with caplog.at_level(logging.WARNING, logger="dashboard"):
        frame = data.breakdown(vintage, "people_trained", "member_state", 2022, 2022)
    assert len(frame) == len(shown)
    assert frame["value"].isna().all() and frame["raw_value"].isna().all()
    assert "every cell withheld" in caplog.text

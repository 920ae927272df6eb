"""The aggregates (dashboard/data/tables.py, aggregates.py) give exactly what the SQL over the facts gives, on real
snapshots in a real DuckDB: the hand-made fixture, the same with awkward members, and the bundled sample."""

from __future__ import annotations

import datetime as dt
import itertools
import logging
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pytest

from dashboard import data
from dashboard.data import aggregates, core, membership, series, tables, totals
from dashboard.data.core import BREAKDOWNS, TOTAL, _query, has_aggregates
from dashboard.data.filters import (
    _BREAKDOWN_SQL,
    _PARTNERSHIP_BREAKDOWN_SQL,
    _YEARLY_ALL_SQL,
    _YEARLY_ALL_UNFILTERED_SQL,
    Filters,
)
from dashboard.data.totals import breakdown, yearly_totals
from pipelines.schema import TABLES
from tests.dashboard_fixtures import fixture_tables, write_curated_snapshot

BYS: list[tuple[str, ...]] = [
    *((b,) for b in BREAKDOWNS),
    *((b, "year") for b in BREAKDOWNS if b != "year"),
    ("year", "member_state"),
    (TOTAL,),
    (TOTAL, "year"),
    ("member_state", "partnership"),
    ("ecosystem", "member_type", "year"),
]
RANGES = [(2022, 2024), (2024, 2024), (2019, 2021), (2015, 2035)]  # the last two: no year, every year


def _awkward_tables() -> dict[str, pa.Table]:
    """The fixture plus a member without a Member State or a join date, a membership from before the first survey,
    and one from after the last."""
    base = fixture_tables()
    members = [*base["members"].to_pylist(), {
        "member_id": "M008", "organisation": "Theta Unplaced", "member_type": "company", "size": "small",
        "country_code": None, "primary_ecosystem_id": "CONS", "joined_on": None,
    }]
    memberships = [
        *base["memberships"].to_pylist(),
        {"member_id": "M008", "partnership_id": "LSP-CONS", "joined_on": dt.date(2019, 5, 1)},
        {"member_id": "M006", "partnership_id": "LSP-CONS", "joined_on": dt.date(2031, 1, 1)},
    ]
    facts = base["facts"].to_pylist() + [
        {**row, "member_id": "M008", "contribution_id": f"C-{row['year']}-M008"}
        for row in base["facts"].to_pylist() if row["member_id"] == "M002"
    ]
    submissions = base["submissions"].to_pylist() + [
        {**row, "member_id": "M008", "contribution_id": f"C-{row['wave']}-M008", "row": row["row"] + 100}
        for row in base["submissions"].to_pylist() if row["member_id"] == "M002"
    ]
    rows = {"members": members, "memberships": memberships, "facts": facts, "submissions": submissions}
    return {name: pa.Table.from_pylist(rows[name], schema=TABLES[name][0]) for name in rows}


@pytest.fixture(params=["fixture", "awkward", "sample"])
def vintage(request, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    if request.param == "sample":
        curated = request.getfixturevalue("sample_run").curated
    else:
        curated = tmp_path / "curated"
        write_curated_snapshot(curated, tables=_awkward_tables() if request.param == "awkward" else None)
    monkeypatch.setenv(data.CURATED_ENV, str(curated))
    data.reset()
    choice = data.resolve_vintage(None)
    assert choice.vintage is not None and has_aggregates(choice.vintage)
    yield choice.vintage
    data.reset()


def _selections(vintage) -> list[Filters]:
    dims = data.dimensions(vintage)
    ecosystems = [code for code, _ in dims.ecosystems]
    states = [code for code, _ in dims.member_states]
    partnerships = [code for code, _ in dims.partnerships]
    return [
        Filters(),
        Filters(ecosystems=(ecosystems[0],)),
        Filters(countries=tuple(states[:3])),
        Filters(member_types=(dims.member_types[0],)),
        Filters(partnerships=(partnerships[0],)),
        Filters(partnerships=(partnerships[-1],), ecosystems=tuple(ecosystems[:2])),
        Filters(partnerships=tuple(partnerships[:3])),  # answered from the facts either way
    ]


def _indicators(vintage) -> list[str]:
    """A flow and a stock (a stock is summed over years here too: the data layer picks its last year first)."""
    return ["people_trained", "stakeholders_joined"]


def _same(left: pd.DataFrame, right: pd.DataFrame, keys: list[str]) -> None:
    assert list(left.columns) == list(right.columns)
    # A key missing on both sides of the final FULL JOIN gives two rows: order by every column, not only the keys.
    order = [*keys, *(c for c in left.columns if c not in keys)]
    left, right = (f.sort_values(order, na_position="first").reset_index(drop=True) for f in (left, right))
    pd.testing.assert_frame_equal(left, right, check_dtype=False)


def test_cells_from_the_aggregates_are_the_cells_from_the_facts(vintage):
    for indicator, selection in itertools.product(_indicators(vintage), _selections(vintage)):
        for by in BYS:
            keys = [f"k{n}" for n in range(len(by))]
            if "partnership" not in by and len(selection.partnerships) > 1:
                continue  # a union of partnerships: never asked of the aggregates
            for year_from, year_to in [(2023, 2024)] if len(by) > 1 else RANGES:
                params = {"indicator": indicator, "year_from": year_from, "year_to": year_to, **selection.params()}
                expected = _query(vintage, series._cells_sql(by), params)
                _same(_query(vintage, aggregates.cells_sql(by), params), expected, keys)


def _listed(cells: dict) -> list:
    """Cells by code as sorted rows, a missing code as None (a NaN is not equal to itself), empty cells left out."""
    return sorted(((tuple(None if code != code else code for code in key), cell) for key, cell in cells.items()
                   if cell != (None, 0, 0)), key=repr)


def test_a_bundle_holds_the_cells_totals_years_and_range_of_its_dimension(vintage):
    for indicator, selection, dimension in itertools.product(_indicators(vintage), _selections(vintage),
                                                             aggregates.BUNDLED):
        if len(selection.partnerships) > 1:
            continue
        for (year_from, year_to), narrowed in itertools.product(RANGES, (False, True)):
            whole_range = (year_to, year_to) if narrowed else (year_from, year_to)  # a stock's range: its last year
            found = aggregates.bundle(vintage, indicator, dimension, (year_from, year_to), whole_range, selection)
            for by in [(dimension,), (dimension, "year"), (TOTAL,), (TOTAL, "year")]:
                span = (year_from, year_to) if "year" in by else whole_range
                params = {"indicator": indicator, "year_from": span[0], "year_to": span[1], **selection.params()}
                # Over a range without data the facts' total row is an empty cell and the bundle has none: the
                # same table once series._cells lays the cells on its grid of categories.
                expected = aggregates.cells_by_code(_query(vintage, series._cells_sql(by), params), len(by))
                assert _listed(aggregates.bundled_cells(found, by)) == _listed(expected)


def test_breakdowns_and_yearly_totals_from_the_aggregates_are_those_from_the_facts(vintage):
    for selection in _selections(vintage):
        if len(selection.partnerships) > 1:
            continue
        params = selection.params()
        if selection.is_empty:
            expected = _query(vintage, _YEARLY_ALL_UNFILTERED_SQL)
        else:
            expected = _query(vintage, _YEARLY_ALL_SQL, params)
        _same(_query(vintage, aggregates.YEARLY_ALL_SQL, params), expected, ["indicator", "year"])
        for indicator, by, (year_from, year_to) in itertools.product(_indicators(vintage), BREAKDOWNS, RANGES):
            params = {"indicator": indicator, "year_from": year_from, "year_to": year_to, **selection.params()}
            facts_sql = _PARTNERSHIP_BREAKDOWN_SQL if by == "partnership" else _BREAKDOWN_SQL
            expected = _query(vintage, facts_sql, params | ({} if by == "partnership" else {"by": by}))
            _same(_query(vintage, aggregates.breakdown_sql(by), params), expected, ["key"])


def test_respondents_and_partnership_values_from_the_aggregates_are_those_from_the_facts(vintage):
    _same(_query(vintage, aggregates.RESPONDENTS_SQL, Filters().params()), _query(vintage, totals._RESPONDENTS_SQL),
          ["year"])
    for indicator in _indicators(vintage):
        wide = {"indicator": indicator, "year_from": 0, "year_to": 9999, **Filters().params()}
        _same(_query(vintage, aggregates.PARTNERSHIP_VALUES_SQL, wide),
              _query(vintage, membership._PARTNERSHIP_VALUES_SQL, {"indicator": indicator}),
              ["partnership_id", "year"])


def test_only_a_union_of_partnerships_is_asked_of_the_facts(vintage):
    assert aggregates.serves(vintage, ("member_state",), Filters(partnerships=("A",)))
    assert aggregates.serves(vintage, ("partnership",), Filters(partnerships=("A", "B")))
    assert not aggregates.serves(vintage, ("member_state",), Filters(partnerships=("A", "B")))
    assert not aggregates.serves(vintage, (TOTAL,), Filters(partnerships=("A", "B")))


def test_a_snapshot_whose_years_do_not_fit_the_bits_is_answered_from_the_facts(tmp_path, monkeypatch):
    write_curated_snapshot(tmp_path / "curated")
    monkeypatch.setenv(data.CURATED_ENV, str(tmp_path / "curated"))
    data.reset()
    vintage = data.resolve_vintage(None).vintage
    assert vintage is not None
    def answers() -> list[pd.DataFrame]:
        return [
            yearly_totals(vintage, "people_trained"),
            *(breakdown(vintage, indicator, by, 2022, 2024)
              for indicator, by in itertools.product(_indicators(vintage), BREAKDOWNS)),
            *(series.cells_with_total(vintage, indicator, by, 2022, 2024)
              for indicator, by in itertools.product(_indicators(vintage), BYS) if TOTAL not in by),
        ]

    with_aggregates = answers()
    monkeypatch.setattr(tables, "MAX_YEAR_SPAN", 1)  # the fixture's facts and partnerships span 2022-2024
    data.reset()
    assert not has_aggregates(vintage)
    without = answers()
    for left, right in zip(with_aggregates, without, strict=True):
        pd.testing.assert_frame_equal(left, right)
    data.reset()


def _built_tables(vintage) -> dict[str, pd.DataFrame]:
    names = _query(vintage, "SELECT table_name FROM duckdb_tables() WHERE schema_name = current_schema()")
    return {name: _query(vintage, f"SELECT * FROM {name} ORDER BY ALL")
            for name in sorted(names["table_name"])}


def test_tables_built_in_bounded_memory_are_the_same_and_the_bound_is_lifted_after(sample_run, monkeypatch, caplog):
    monkeypatch.setenv(data.CURATED_ENV, str(sample_run.curated))
    monkeypatch.setattr(core, "BUILD_MEMORY", 2**40)
    data.reset()
    vintage = data.resolve_vintage(None).vintage
    assert vintage is not None
    default_limit = _query(vintage, "SELECT current_setting('memory_limit') AS limit")
    roomy = _built_tables(vintage)
    assert {"agg_values", "hot_facts", "hot_members"} <= set(roomy)
    # 48 MB is enough for the sample; 1 MB is not, and the build is done again without a bound.
    for bound, falls_back in [(48 * 2**20, False), (2**20, True)]:
        monkeypatch.setattr(core, "BUILD_MEMORY", bound)
        data.reset()
        caplog.clear()
        with caplog.at_level(logging.WARNING, logger=core.log.name):
            assert has_aggregates(vintage)
        assert any("without a bound" in r.getMessage() for r in caplog.records) is falls_back
        tight = _built_tables(vintage)
        assert list(tight) == list(roomy)
        for name in roomy:
            pd.testing.assert_frame_equal(tight[name], roomy[name], obj=name)
        # Queries after the build run without the bound.
        pd.testing.assert_frame_equal(_query(vintage, "SELECT current_setting('memory_limit') AS limit"),
                                      default_limit)
    data.reset()

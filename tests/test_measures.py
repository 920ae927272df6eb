"""Relative measures and changes (dashboard/measures.py) on hand-made frames, and the data layer's cells by two
breakdowns against pandas over the curated Parquet."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dashboard import crosstab, data, measures
from dashboard.crosstab import CellQuery
from dashboard.export_registry import flag_codes


def _frame() -> pd.DataFrame:
    return pd.DataFrame({
        "member_state": ["BE", "BE", "BE", "DE", "DE", "DE"],
        "year": ["2022", "2023", "2024", "2022", "2023", "2024"],
        "value": [10.0, 20.0, float("nan"), 0.0, 5.0, 15.0],
        "n_reporting": [2, 4, 3, 1, 1, 0],
    })


def test_per_member_and_share_leave_missing_what_they_cannot_compute():
    frame = _frame()
    assert measures.per_member(frame["value"], frame["n_reporting"]).tolist()[:2] == [5.0, 5.0]
    assert math.isnan(measures.per_member(frame["value"], frame["n_reporting"]).iloc[5])  # nobody reported
    shares = measures.share(frame["value"], pd.Series([40.0, 40.0, 40.0, 0.0, 0.0, 0.0]))
    assert shares.tolist()[:2] == [0.25, 0.5] and shares.iloc[3:].isna().all()  # no share of a zero total


def test_change_on_previous_year_is_per_category_and_never_from_a_missing_or_zero_figure():
    change = measures.change_on_previous(_frame(), ["member_state"])
    assert math.isnan(change.iloc[0]) and change.iloc[1] == pytest.approx(1.0)
    assert math.isnan(change.iloc[2])  # 2024 is withheld or missing: no change
    assert math.isnan(change.iloc[4])  # from 0: no relative change
    assert change.iloc[5] == pytest.approx(2.0)


def test_change_between_two_years_is_flagged_across_a_break():
    out = measures.change_between(_frame(), ["member_state"], 2022, 2023, breaks=[2023])
    assert out.set_index("member_state")["change"].to_dict() == {"BE": 10.0, "DE": 5.0}
    assert out["change_flags"].tolist() == ["b", "b"]
    assert measures.change_between(_frame(), ["member_state"], 2022, 2023, breaks=[2024])["change_flags"].tolist() \
        == ["", ""]


def _change_by_merging(frame: pd.DataFrame, keys: list[str], first: int, last: int, crossed: bool) -> pd.DataFrame:
    """What change_between gives, written as the outer merge of the two years' rows on the categories."""
    values = frame.assign(_year=frame["year"].astype(int))
    start = values[values["_year"] == first][[*keys, "value"]].rename(columns={"value": "_first"})
    end = values[values["_year"] == last][[*keys, "value"]].rename(columns={"value": "_last"})
    out = start.merge(end, on=keys, how="outer") if keys else pd.concat(
        [start.reset_index(drop=True), end.reset_index(drop=True)], axis=1)
    out["change"] = out["_last"].astype("float64") - out["_first"].astype("float64")
    out["change_pct"] = measures.share(out["change"], out["_first"])
    out["change_flags"] = "b" if crossed else ""
    return out.drop(columns=["_first", "_last"])


_CELL = st.tuples(st.sampled_from(["EU27_2020", "BE", "DE", "FR", "ZZ", None]), st.sampled_from(["A", "B", None]),
                  st.sampled_from([2022, 2023, 2024]),
                  st.sampled_from([None, 0.0, -0.0, 5.0, 12.5, 100.0, float("nan")]))


@settings(max_examples=300, deadline=None)
@given(cells=st.lists(_CELL, max_size=24), keys=st.sampled_from([[], ["member_state"], ["member_state", "ecosystem"]]),
       years=st.sampled_from([(2022, 2023), (2022, 2024), (2023, 2024)]), breaks=st.sampled_from([[], [2023], [2024]]))
def test_change_between_is_the_outer_merge_of_the_two_years(cells, keys, years, breaks):
    unique = {(*cell[:len(keys)], cell[2]): cell for cell in cells}.values()  # one figure per category and year
    frame = pd.DataFrame({
        **{key: pd.array([cell[n] for cell in unique], dtype="str") for n, key in enumerate(keys)},
        "year": pd.array([str(cell[2]) for cell in unique], dtype="str"),
        "value": pd.array([cell[3] for cell in unique], dtype="Float64"),
    })
    first, last = years
    expected = _change_by_merging(frame, keys, first, last, any(first < b <= last for b in breaks))
    pd.testing.assert_frame_equal(measures.change_between(frame, keys, first, last, breaks), expected,
                                  check_exact=True)


def _by_year_with_pandas(yearly: pd.DataFrame, by: str, order: list) -> pd.DataFrame:
    out = yearly.drop_duplicates(by)[[by, f"{by}_label"]].set_index(by).loc[order]
    for year, cells in yearly.groupby("year", sort=True):
        cells = cells.set_index(by).reindex(order)
        out[str(year)] = cells["value"]
        out[f"{year}_flags"] = cells["flags"]
    return out


@settings(max_examples=300, deadline=None)
@given(cells=st.lists(st.tuples(st.sampled_from(["EU27_2020", "BE", "DE", "FR", None]), st.sampled_from([2022, 2023, 2024]),
                                st.sampled_from([0.0, 5.0, 12.5, float("nan")]), st.sampled_from(["", "s", "s b", "m"])),
                      max_size=15, unique_by=lambda cell: cell[:2]))
def test_a_cross_tables_years_are_the_cells_laid_out_by_pandas(cells):
    """crosstab._by_year lays the yearly cells out in plain Python, missing codes included, as pandas would."""
    yearly = pd.DataFrame({
        "member_state": pd.array([key for key, *_ in cells], dtype="str"),
        "member_state_label": pd.array([f"{key} name" if key else None for key, *_ in cells], dtype="str"),
        "year": pd.array([str(year) for _, year, *_ in cells], dtype="str"),
        "value": np.array([value for *_, value, _ in cells], dtype="float64"),
        "flags": [flags for *_, flags in cells],
    })
    order = list(dict.fromkeys(yearly["member_state"]))
    pd.testing.assert_frame_equal(crosstab._by_year(yearly, "member_state", order),
                                  _by_year_with_pandas(yearly, "member_state", order), check_exact=True)


def test_missing_flags_say_why_and_parse_change_checks_the_years():
    assert [flag_codes(), flag_codes(synthetic=True, missing=True), flag_codes(break_in_series=True, withheld=True)] \
        == ["", "s m", "b c"]
    assert measures.parse_change("2022-2024", [2022, 2023, 2024]) == (2022, 2024)
    for bad in ("2024-2022", "2022-2025", "2022", "x-y", "2022-2022", "02022-2024"):
        assert measures.parse_change(bad, [2022, 2023, 2024]) is None, bad


@pytest.fixture
def sample(sample_run, monkeypatch):
    monkeypatch.setenv(data.CURATED_ENV, str(sample_run.curated))
    data.reset()
    yield sample_run.curated / "current"
    data.reset()


def _pandas_cells(snapshot, indicator: str) -> pd.DataFrame:
    facts = pd.read_parquet(snapshot / "facts.parquet")
    members = pd.read_parquet(snapshot / "members.parquet", columns=["member_id", "country_code",
                                                                      "primary_ecosystem_id"])
    facts = facts[facts["indicator"] == indicator].merge(members, on="member_id")
    return facts


def test_ecosystem_by_member_state_and_its_measures_equal_pandas(sample):
    vintage = data.resolve_vintage(None).vintage
    facts = _pandas_cells(sample, "people_trained")
    expected = facts.groupby(["primary_ecosystem_id", "country_code"]).agg(
        value=("value", "sum"), n=("member_id", "nunique"))
    cells = crosstab.measured(vintage, CellQuery("people_trained", ("ecosystem", "member_state"), 2022, 2024,
                                                 measure="per_member"))
    body = cells[cells["ecosystem"] != "TOTAL"].set_index(["ecosystem", "member_state"])
    dims = data.dimensions(vintage)
    assert len(body) == len(dims.ecosystems) * len(dims.member_states)  # every combination listed
    for key, row in expected.iterrows():
        assert body.loc[key, "figure"] == row["value"] and body.loc[key, "n_reporting"] == row["n"]
        assert body.loc[key, "value"] == pytest.approx(row["value"] / row["n"])
    absent = body.index.difference(expected.index)
    assert body.loc[absent, "figure"].isna().all() and (body.loc[absent, "flags"].str.split().str[-1] == "m").all()
    per_state = facts.groupby("country_code")["value"].sum()
    totals = cells[cells["ecosystem"] == "TOTAL"].set_index("member_state")["figure"]
    assert totals.dropna().to_dict() == pytest.approx(per_state.to_dict())
    share = crosstab.measured(vintage, CellQuery("people_trained", ("member_state",), 2022, 2024, measure="share"))
    share = share.set_index("member_state")["value"]
    assert share["EU27_2020"] == 1.0
    assert share.drop("EU27_2020").dropna().to_dict() == pytest.approx((per_state / per_state.sum()).to_dict())

"""dashboard/data.py on a real in-memory DuckDB over fixture Parquet, each figure checked against an independent
pandas computation from the same fixture tables, and the counting rules checked on named members."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import os
import subprocess
import sys
import threading
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dashboard import data
from dashboard.data import Filters, core
from dashboard.data.filters import _YEARLY_ALL_SQL, _YEARLY_ALL_UNFILTERED_SQL, _YEARLY_SQL
from pipelines.schema import INDICATORS
from tests.dashboard_fixtures import (
    FIXTURE_VINTAGE,
    MEMBERS,
    PARTNERSHIPS,
    _table,
    fixture_tables,
    serving_fixture_snapshot,
    write_curated_snapshot,
)

FILTER_CASES = [
    Filters(),
    Filters(ecosystems=("CONS",)),
    Filters(countries=("IT", "EL")),
    Filters(partnerships=("LSP-CONS",)),
    Filters(partnerships=("LSP-CONS", "RSP-LOMB")),
    Filters(member_types=("company",)),
    Filters(ecosystems=("CONS", "DIGI"), countries=("BE", "IT"), partnerships=("LSP-CONS",)),
    Filters(ecosystems=("TOUR",), member_types=("SME",)),  # nobody: empty but valid
]


@pytest.fixture(scope="module")
def curated(tmp_path_factory: pytest.TempPathFactory):
    with serving_fixture_snapshot(tmp_path_factory.mktemp("curated")) as root:
        yield root


@pytest.fixture(scope="module")
def vintage(curated: Path) -> data.Vintage:
    choice = data.resolve_vintage(None)
    assert choice.vintage is not None
    return choice.vintage


@pytest.fixture(scope="module")
def frames() -> dict[str, pd.DataFrame]:
    return {name: table.to_pandas() for name, table in fixture_tables().items()}


# ------------------------------------------------------------------------------------------- pandas reference


def expected_member_years(frames: dict[str, pd.DataFrame], filters: Filters) -> pd.DataFrame:
    """(member_id, from_year) in scope: registry filters, then the partnership rule (from the year joined)."""
    members = frames["members"]
    keep = pd.Series(True, index=members.index)
    if filters.ecosystems:
        keep &= members["primary_ecosystem_id"].isin(filters.ecosystems)
    if filters.countries:
        keep &= members["country_code"].isin(filters.countries)
    if filters.member_types:
        keep &= members["member_type"].isin(filters.member_types)
    scoped = members[keep][["member_id", "joined_on", "primary_ecosystem_id", "country_code", "member_type"]]
    if filters.partnerships:
        ms = frames["memberships"]
        ms = ms[ms["partnership_id"].isin(filters.partnerships)]
        first = ms.assign(from_year=pd.to_datetime(ms["joined_on"]).dt.year).groupby("member_id")["from_year"].min()
        scoped = scoped[scoped["member_id"].isin(first.index)].assign(
            from_year=scoped["member_id"].map(first))
    else:
        scoped = scoped.assign(from_year=0)
    return scoped


def expected_yearly(frames: dict[str, pd.DataFrame], indicator: str, filters: Filters) -> pd.DataFrame:
    scope = expected_member_years(frames, filters)
    facts = frames["facts"]
    facts = facts[facts["indicator"] == indicator].merge(scope, on="member_id")
    facts = facts[facts["year"] >= facts["from_year"]]
    subs = frames["submissions"]
    subs = subs[subs["status"] == "accepted"].merge(scope, on="member_id")
    subs = subs[subs["wave"] >= subs["from_year"]]
    years = sorted(set(frames["submissions"].query("status == 'accepted'")["wave"]) | set(frames["facts"]["year"]))
    rows = []
    for year in years:
        f = facts[facts["year"] == year]
        registered = scope[(pd.to_datetime(scope["joined_on"]).dt.year <= year) & (scope["from_year"] <= year)]
        rows.append({
            "year": year,
            "value": f["value"].sum() / INDICATORS[indicator].scale if len(f) else float("nan"),
            "n_reporting": f["member_id"].nunique(),
            "n_respondents": subs[subs["wave"] == year]["member_id"].nunique(),
            "n_registered": len(registered),
        })
    return pd.DataFrame(rows)


def expected_breakdown(frames, indicator: str, by: str, year_from: int, year_to: int, filters: Filters) -> dict:
    scope = expected_member_years(frames, filters)
    facts = frames["facts"]
    facts = facts[(facts["indicator"] == indicator) & facts["year"].between(year_from, year_to)]
    facts = facts.merge(scope, on="member_id")
    facts = facts[facts["year"] >= facts["from_year"]]
    scale = INDICATORS[indicator].scale
    if by == "partnership":
        ms = frames["memberships"].assign(joined_year=lambda m: pd.to_datetime(m["joined_on"]).dt.year)
        if filters.partnerships:
            ms = ms[ms["partnership_id"].isin(filters.partnerships)]
        joined = facts.merge(ms, on="member_id")
        joined = joined[joined["year"] >= joined["joined_year"]]
        grouped = joined.groupby("partnership_id")
    else:
        column = {"year": "year", "ecosystem": "primary_ecosystem_id", "member_state": "country_code",
                  "member_type": "member_type"}[by]
        grouped = facts.assign(key=facts[column].astype(str)).groupby("key")
    return {str(k): (g["value"].sum() / scale, g["member_id"].nunique()) for k, g in grouped}


# ------------------------------------------------------------------------------------------- query functions


@pytest.mark.parametrize("filters", FILTER_CASES, ids=lambda f: repr(f)[8:60])
@pytest.mark.parametrize("indicator", list(INDICATORS))
def test_yearly_totals_equal_pandas(vintage, frames, indicator, filters):
    got = data.yearly_totals(vintage, indicator, filters)
    want = expected_yearly(frames, indicator, filters)
    assert list(got["year"]) == list(want["year"])
    pd.testing.assert_series_equal(got["value"], want["value"], check_names=False, check_dtype=False)
    for column in ("n_reporting", "n_respondents", "n_registered"):
        assert list(got[column]) == list(want[column]), column


@pytest.mark.parametrize("filters", FILTER_CASES, ids=lambda f: repr(f)[8:60])
@pytest.mark.parametrize("by", data.BREAKDOWNS)
@pytest.mark.parametrize(("indicator", "years"), [("people_trained", (2022, 2024)), ("investment_eur", (2023, 2024)),
                                                  ("training_programmes", (2023, 2023))])
def test_breakdown_equals_pandas(vintage, frames, indicator, years, by, filters):
    got = data.breakdown(vintage, indicator, by, *years, filters)
    want = expected_breakdown(frames, indicator, by, *years, filters)
    assert {k: (v, n) for k, v, n in zip(got["key"], got["value"], got["n_reporting"], strict=True)} == want


def test_stock_indicator_breakdown_uses_the_last_year_of_the_range(vintage, frames):
    got = data.breakdown(vintage, "commitments_reported", "ecosystem", 2022, 2023)
    assert dict(zip(got["key"], got["value"], strict=True)) == {
        k: v for k, (v, _) in expected_breakdown(frames, "commitments_reported", "ecosystem", 2023, 2023,
                                                 Filters()).items()}


def test_breakdown_labels_and_order(vintage):
    got = data.breakdown(vintage, "people_trained", "ecosystem", 2022, 2024)
    assert list(got["label"]) == ["Construction", "Digital", "Tourism", "Health"]  # largest first
    assert list(got["value"]) == sorted(got["value"], reverse=True)
    years = data.breakdown(vintage, "people_trained", "year", 2022, 2024)
    assert list(years["key"]) == ["2022", "2023", "2024"]


# ------------------------------------------------------------------------------------------- counting rules


def test_member_in_two_partnerships_counts_in_both_and_once_in_the_eu_total(vintage):
    # M001 (1,200 people in 2023) is in LSP-CONS and RSP-LOMB.
    parts = data.breakdown(vintage, "people_trained", "partnership", 2023, 2023)
    by_key = dict(zip(parts["key"], parts["value"], strict=True))
    assert by_key["LSP-CONS"] == 1200 + 400  # M001 + M002 (joined 2023)
    assert by_key["RSP-LOMB"] == 1200 + 100  # M001 + M005 (joined Jan 2023)
    eu = data.yearly_totals(vintage, "people_trained").set_index("year").loc[2023, "value"]
    assert eu == 1200 + 400 + 800 + 100  # each member once
    assert sum(by_key.values()) != eu  # the reason partnership figures are never summed
    both = data.yearly_totals(vintage, "people_trained", Filters(partnerships=("LSP-CONS", "RSP-LOMB")))
    assert both.set_index("year").loc[2023, "value"] == 1200 + 400 + 100  # a filter on both: M001 once


def test_member_joining_a_partnership_mid_series_counts_from_that_year(vintage):
    # M002 joined LSP-CONS in April 2023: its 2022 figure (300) does not count for the partnership.
    lsp = data.yearly_totals(vintage, "people_trained", Filters(partnerships=("LSP-CONS",))).set_index("year")
    assert lsp.loc[2022, "value"] == 1000 + 250
    assert lsp.loc[2023, "value"] == 1200 + 400
    assert lsp.loc[2022, "n_registered"] == 2  # M001 and M007 had joined by the end of 2022
    assert lsp.loc[2023, "n_registered"] == 3
    values = data.partnership_values(vintage, "people_trained")
    cons = values[values["partnership_id"] == "LSP-CONS"].set_index("year")["value"]
    assert cons.to_dict() == {2022: 1250, 2023: 1600, 2024: 1500 + 500 + 350}


def test_member_that_stopped_reporting(vintage):
    # M003 reported in 2022 only; it stays registered but is neither reporting nor a respondent later.
    totals = data.yearly_totals(vintage, "people_trained", Filters(countries=("EL",))).set_index("year")
    assert totals.loc[2022, "value"] == 450
    assert totals.loc[2022, "n_reporting"] == 1
    assert pd.isna(totals.loc[2023, "value"])  # nobody reported: no value, not zero
    assert totals.loc[2023, "n_reporting"] == 0
    assert totals.loc[2023, "n_registered"] == 1
    assert totals.loc[2024, "n_registered"] == 2  # M006 registered in 2024
    digi = data.partnership_values(vintage, "people_trained").query("partnership_id == 'LSP-DIGI'")
    assert list(digi["year"]) == [2022]


def test_ecosystem_breakdown_adds_up_to_the_eu_total(vintage):
    for indicator in ("people_trained", "investment_eur", "training_programmes"):
        parts = data.breakdown(vintage, indicator, "ecosystem", 2022, 2024)
        totals = data.yearly_totals(vintage, indicator)
        assert parts["raw_value"].sum() == totals["raw_value"].sum()


def test_blank_is_not_zero_and_zero_is_a_value(vintage):
    totals = data.yearly_totals(vintage, "people_trained", Filters(ecosystems=("HLTH",))).set_index("year")
    assert totals.loc[2024, "value"] == 0  # M005 reported 0
    assert totals.loc[2024, "n_reporting"] == 1
    assert pd.isna(totals.loc[2022, "value"])  # M005 did not answer in 2022


def test_investment_is_exact_cents_shown_in_euro(vintage):
    totals = data.yearly_totals(vintage, "investment_eur").set_index("year")
    assert totals.loc[2022, "raw_value"] == 50_000_00 + 7_500_50 + 2_500_00
    assert totals.loc[2022, "value"] == 60_000.50


# ------------------------------------------------------------------------------------------- figures and flags


def test_kpis_with_change_coverage_and_flags(vintage):
    kpis = {k.key: k for k in data.kpis(vintage, 2023)}
    people = kpis["people_trained"]
    assert (people.value, people.previous, people.previous_year) == (2500, 2000, 2022)
    assert people.change == pytest.approx(0.25)
    assert people.coverage == data.Coverage(reporting=4, respondents=5, registered=6)
    assert people.flags.synthetic and not people.flags.not_published
    assert people.flags.published_value == 2600 and people.flags.published_qualifier == "nearly"
    assert people.flags.comparison == "consistent"  # 2,500 is within "nearly 2,600"
    programmes = kpis["training_programmes"]
    assert programmes.flags.published_status == "derived" and programmes.flags.comparison == "equal"
    assert kpis["respondents"].value == 5
    assert kpis["commitments_progressing_share"].value == pytest.approx(3 / 4)
    k2022 = {k.key: k for k in data.kpis(vintage, 2022)}
    assert k2022["commitments_progressing_share"].value == pytest.approx(0.9)
    assert k2022["commitments_progressing_share"].flags.comparison == "equal"
    assert k2022["respondents"].flags.comparison == "equal"
    assert k2022["people_trained"].previous is None and k2022["people_trained"].change is None
    k2024 = {k.key: k for k in data.kpis(vintage, 2024)}
    assert k2024["people_trained"].flags.break_in_series
    assert k2024["people_trained"].flags.not_published


def test_filtered_figures_are_never_compared_with_published_ones(vintage):
    figure = data.year_figure(vintage, "people_trained", 2022, Filters(ecosystems=("CONS",)))
    assert figure.flags.not_published and figure.flags.published_value is None


def test_published_vs_computed(vintage):
    frame = data.published_vs_computed(vintage).set_index("figure_id")
    assert frame.loc["F01", "comparison"] == "equal"
    assert frame.loc["F02", "comparison"] == "consistent"
    assert frame.loc["F03", "computed"] == 7950 and frame.loc["F03", "comparison"] == "equal"
    assert frame.loc["F06", "computed"] == pytest.approx(60_000.5)
    assert frame.loc["F06", "comparison"] == "consistent"  # rounded to the published 60,000
    assert frame.loc["F07", "computed"] == 4
    assert frame.loc["F08", "comparison"] == "equal"


@pytest.mark.parametrize(("computed", "published", "qualifier", "expected"), [
    (2_000_000, 2_000_000, "", "equal"),
    (1_500_000, 1_500_000, "nearly", "equal"),
    (150_000_000, 151_000_000, "nearly", "consistent"),
    (140_000_000, 151_000_000, "nearly", "differs"),
    (152_000_000, 151_000_000, "nearly", "differs"),
    (3_600_000, 3_500_000, "more than", "consistent"),
    (3_400_000, 3_500_000, "more than", "differs"),
    (42_500, 42_000, "over", "consistent"),
    (160_400_000, 160_000_000, "", "consistent"),
    (161_000_000, 160_000_000, "", "differs"),
    (0.9, 0.9, "", "equal"),
    (None, 1.0, "", ""),
])
def test_compare_published(computed, published, qualifier, expected):
    assert data.compare_published(computed, published, qualifier) == expected


def test_response_rates_and_status_counts(vintage, frames):
    rates = data.response_rates(vintage).set_index("year")
    assert rates.loc[2022, "n_respondents"] == 4 and rates.loc[2022, "n_registered"] == 6
    assert rates.loc[2024, "response_rate"] == pytest.approx(6 / 7)
    counts = data.status_counts(vintage).set_index("year")
    want = frames["submissions"].pivot_table(index="wave", columns="status", values="row", aggfunc="count", fill_value=0)
    for year in (2022, 2023, 2024):
        for status in want.columns:
            assert counts.loc[year, status] == want.loc[year, status]
        assert counts.loc[year, "rows_read"] == (frames["submissions"]["wave"] == year).sum()


def test_data_page_tables(vintage):
    assert len(data.rejects(vintage)) == 2 and data.reject_count(vintage) == 2
    assert set(data.rejects(vintage)["reason_code"]) == {"unknown_member", "negative"}
    assert list(data.corrections(vintage)["correction_id"]) == ["K1"]
    inputs = data.inputs(vintage)
    assert len(inputs) == 4 and inputs["sha256"].str.len().eq(64).all()
    assert data.survey_files(vintage, 2023) == ("surveys/pact_survey_2023.xlsx",)
    assert list(data.wave_rejects(vintage, 2024)["reason_code"]) == ["negative"]  # by the wave of its file
    assert list(data.wave_rejects(vintage, 2022)["row"]) == [] and len(data.wave_rejects(vintage, None)) == 2
    sources = data.sources(vintage)
    assert set(sources["reference_table"]) >= {"targets", "published_figures", "partnerships"}
    assert (sources["url"] == "https://example.org/source").all()


def test_runs_log_newest_first_and_tolerates_a_broken_line(curated):
    path = curated / "runs.jsonl"
    original = path.read_text(encoding="utf-8")
    try:
        with path.open("a", encoding="utf-8") as log:
            log.write("{not json\n")
            log.write(json.dumps({"started": "2025-07-01T00:00:00Z", "status": "failed", "error": "boom",
                                  "inputs": [], "counts": {}}) + "\n")
            log.write(json.dumps({"started": "2025-07-02T00:00:00Z", "status": "ok", "inputs": [], "counts": {},
                                  "warnings": ["correction K9 (wave 2022) not applied", "wave 2023: 40 of 400"]})
                      + "\n")
        runs = data.runs()
        assert list(runs["status"]) == ["ok", "failed", "unreadable", "ok"]
        assert runs.loc[0, "warnings"] == "correction K9 (wave 2022) not applied\nwave 2023: 40 of 400"
        assert runs.loc[1, "error"] == "boom" and runs.loc[1, "warnings"] == ""
    finally:
        path.write_text(original, encoding="utf-8")


def test_targets_members_and_partnership_dimensions(vintage):
    targets = data.targets(vintage)
    assert list(targets["target_id"]) == ["T10M", "T25M"]
    assert pd.isna(targets.loc[0, "deadline_year"]) and targets.loc[1, "deadline_year"] == 2030
    members = data.members_over_time(vintage)
    assert members["members"].iloc[-1] == 7 and members["members"].is_monotonic_increasing
    launches = data.partnerships_over_time(vintage)
    assert launches.groupby("kind")["partnerships"].max().to_dict() == {"large-scale": 3, "regional": 1}
    dims = data.dimensions(vintage)
    assert dims.years == (2022, 2023, 2024)
    assert [c for c, _ in dims.member_states] == ["BE", "EL", "FR", "IT"]  # protocol order
    assert dims.label("member_state", "EL") == "Greece"


def test_ledger(vintage):
    ledger = data.partnership_ledger(vintage).set_index("partnership_id")
    assert ledger.loc["LSP-CONS", "delivered"] == 1250 + 1600 + 2350
    assert ledger.loc["LSP-CONS", "share_attained"] == pytest.approx(5200 / 3000)
    assert ledger.loc["LSP-CONS", "pace_needed"] == 0  # pledge already exceeded
    assert pd.isna(ledger.loc["LSP-HLTH", "share_attained"])  # pledge is a share of the workforce
    assert ledger.loc["RSP-LOMB", "n_members"] == 2


# ------------------------------------------------------------------------------------------- vintages, safety


def test_vintage_resolution(curated, vintage):
    assert data.kept_vintages() == (FIXTURE_VINTAGE,)
    assert data.current_vintage_id() == FIXTURE_VINTAGE
    for hostile in ("nope", "../../etc", "x' OR 1=1 --", "<script>alert(1)</script>", "9" * 500, ["a", "b"], 7):
        choice = data.resolve_vintage(hostile)
        assert choice.vintage == vintage and not choice.pinned
        assert "not one of the kept snapshots" in choice.message
        assert len(choice.message) < 200


def test_pinning_an_older_vintage(tmp_path, monkeypatch):
    write_curated_snapshot(tmp_path, vintage_id="20240101T000000Z-old", make_current=False)
    newer = fixture_tables()
    write_curated_snapshot(tmp_path, vintage_id="20250101T000000Z-new", tables=newer, synthetic=False)
    monkeypatch.setenv(data.CURATED_ENV, str(tmp_path))
    assert data.kept_vintages() == ("20240101T000000Z-old", "20250101T000000Z-new")
    pinned = data.resolve_vintage("20240101T000000Z-old")
    assert pinned.pinned and pinned.vintage.vintage_id == "20240101T000000Z-old"
    current = data.resolve_vintage(None)
    assert not current.pinned and current.vintage.vintage_id == "20250101T000000Z-new"
    assert data.is_synthetic(pinned.vintage) and not data.is_synthetic(current.vintage)
    # A half-written snapshot (no manifest yet) is not a vintage.
    (tmp_path / "snapshots" / ".tmp-20250202").mkdir()
    (tmp_path / "snapshots" / "20250202T000000Z-partial").mkdir()
    assert data.kept_vintages() == ("20240101T000000Z-old", "20250101T000000Z-new")


def test_no_curated_data(tmp_path, monkeypatch):
    monkeypatch.setenv(data.CURATED_ENV, str(tmp_path / "absent"))
    assert data.kept_vintages() == ()
    choice = data.resolve_vintage("anything")
    assert choice.vintage is None and choice.message


def test_incomplete_snapshot_is_unavailable(tmp_path, monkeypatch):
    snapshot = write_curated_snapshot(tmp_path)
    (snapshot / "facts.parquet").unlink()
    monkeypatch.setenv(data.CURATED_ENV, str(tmp_path))
    with pytest.raises(data.DataUnavailable, match="facts"):
        data.yearly_totals(data.resolve_vintage(None).vintage, "people_trained")


def test_hostile_filter_values_are_bound_not_formatted(vintage):
    hostile = Filters(ecosystems=("CONS') OR 1=1 --",), countries=("'; DROP TABLE facts; --",))
    assert data.breakdown(vintage, "people_trained", "ecosystem", 2022, 2024, hostile).empty
    assert data.yearly_totals(vintage, "people_trained", hostile)["n_reporting"].sum() == 0
    assert data.breakdown(vintage, "people_trained", "ecosystem", 2022, 2024)["value"].sum() > 0  # facts intact


def test_unknown_breakdown_is_refused(vintage):
    with pytest.raises(ValueError, match="unknown breakdown"):
        data.breakdown(vintage, "people_trained", "1; DROP", 2022, 2024)


def test_results_are_handed_out_read_only(vintage):
    first = data.yearly_totals(vintage, "people_trained")
    first.loc[:, "value"] = -1
    assert (data.yearly_totals(vintage, "people_trained")["value"].dropna() > 0).all()
    frame = data.breakdown(vintage, "people_trained", "ecosystem", 2022, 2024)
    frame.loc[:, "label"] = "tampered"
    frame["extra"] = 1
    again = data.breakdown(vintage, "people_trained", "ecosystem", 2022, 2024)
    assert "extra" not in again.columns and "tampered" not in set(again["label"])
    kpi = data.kpis(vintage, 2024)[0]
    with pytest.raises(dataclasses.FrozenInstanceError):
        kpi.value = 0  # type: ignore[misc]
    assert isinstance(data.kpis(vintage, 2024), tuple)


def test_one_connection_per_process_reopened_after_fork(vintage, monkeypatch):
    data.yearly_totals(vintage, "people_trained")
    con, _ = core._connection()
    assert core._connection()[0] is con
    monkeypatch.setattr(os, "getpid", lambda: -12345)  # what a forked worker sees
    fresh, schemas = core._connection()
    assert fresh is not con and schemas == {}
    assert data.yearly_totals(vintage, "people_trained")["value"].iloc[0] == 2000
    monkeypatch.undo()
    data.reset()


def test_the_connection_runs_one_thread_and_returns_idle_memory(vintage):
    """Settings a worker's latency and memory rest on (dashboard/data/core.py: _connection)."""
    con, _ = core._connection()
    settings = dict(con.execute(
        "SELECT name, value FROM duckdb_settings() WHERE name IN "
        "('threads', 'allocator_background_threads')").fetchall())
    assert settings == {"threads": "1", "allocator_background_threads": "true"}


def test_concurrent_queries_from_threads_get_their_own_answers(vintage, frames):
    data.reset()
    cases = [(ind, f) for ind in ("people_trained", "training_programmes", "investment_eur") for f in FILTER_CASES]
    want = {(ind, f): expected_yearly(frames, ind, f)["n_reporting"].tolist() for ind, f in cases}
    errors: list[str] = []

    def worker(offset: int) -> None:
        for i in range(len(cases)):
            ind, f = cases[(i + offset) % len(cases)]
            got = core._query(vintage, _YEARLY_SQL, {"indicator": ind, **f.params()})
            if got["n_reporting"].tolist() != want[(ind, f)]:
                errors.append(f"{ind} {f}")

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert errors == []


def test_unfiltered_yearly_fast_path_equals_the_general_query(vintage):
    # Without filters the all-indicator yearly query skips the member scope; it must give the very same frame.
    general = core._query(vintage, _YEARLY_ALL_SQL, data.NO_FILTERS.params())
    fast = core._query(vintage, _YEARLY_ALL_UNFILTERED_SQL)
    assert len(fast) > 0
    pd.testing.assert_frame_equal(fast, general)


def test_unfiltered_yearly_frames_are_computed_once_per_snapshot_and_never_handed_out(vintage, monkeypatch):
    from dashboard.data import totals

    for public in ("0", "1"):
        monkeypatch.setenv("PACT_PUBLIC", public)
        for meta in data.indicator_catalogue(vintage):
            computed = totals._computed_yearly_frame(vintage, meta.indicator, data.NO_FILTERS)
            given_out = totals._yearly_frame(vintage, meta.indicator, data.NO_FILTERS)
            pd.testing.assert_frame_equal(given_out, computed)
            given_out.loc[:, "value"] = -1.0  # a caller's change stays with the caller
            pd.testing.assert_frame_equal(totals._yearly_frame(vintage, meta.indicator, data.NO_FILTERS), computed)
    # the per-question results dropped (as the benchmarks do for a question not asked before): the per-snapshot
    # frames answer without a query
    from benchmarks.adapters import clear_query_cache

    monkeypatch.setenv("PACT_PUBLIC", "0")
    clear_query_cache(keep_per_snapshot=True)
    monkeypatch.setattr(totals, "_query", lambda *args, **kwargs: pytest.fail("queried again"))
    assert len(totals._yearly_frame(vintage, "people_trained", data.NO_FILTERS)) > 0


def test_a_question_asked_ahead_is_answered_on_a_worker_thread_and_raises_its_own_error(vintage):
    asked = data.ahead(data.yearly_totals, vintage, "people_trained", data.NO_FILTERS)
    pd.testing.assert_frame_equal(asked.result(timeout=60), data.yearly_totals(vintage, "people_trained"))
    assert data.ahead(lambda: threading.current_thread().name).result(timeout=60).startswith("data-ahead")
    with pytest.raises(KeyError):
        data.ahead(data.yearly_totals, vintage, "no_such_indicator", data.NO_FILTERS).result(timeout=60)


def test_fixture_writes_the_contract_schemas(curated):
    from pipelines.schema import TABLES

    snapshot = curated / "current"
    for name, (schema, _key) in TABLES.items():
        assert pq.read_schema(snapshot / f"{name}.parquet").remove_metadata().equals(schema), name
    manifest = json.loads((snapshot / "manifest.json").read_text())
    assert manifest["vintage_id"] == FIXTURE_VINTAGE and manifest["synthetic"] is True


# ------------------------------------------------------------------------------------- one membership rule

_MEMBERSHIP = st.tuples(st.sampled_from([m[0] for m in MEMBERS]), st.sampled_from([p[0] for p in PARTNERSHIPS]),
                        st.dates(min_value=dt.date(2021, 1, 1), max_value=dt.date(2025, 6, 30)))


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(memberships=st.lists(_MEMBERSHIP, max_size=14, unique_by=lambda m: (m[0], m[1])))
def test_a_partnership_filter_and_the_partnership_breakdown_agree_on_any_registry(tmp_path_factory, memberships):
    """Filtering on a partnership and reading its row of the partnership breakdown count the same members from
    the same years, whatever the registry: two views of one partnership never disagree."""
    root = tmp_path_factory.mktemp("registry")
    tables = {"memberships": _table("memberships", [
        {"member_id": m, "partnership_id": p, "joined_on": d} for m, p, d in sorted(memberships)])}
    write_curated_snapshot(root, tables=tables)
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv(data.CURATED_ENV, str(root))
        data.reset()
        vintage = data.resolve_vintage(None).vintage
        for year in (2022, 2023, 2024):
            rows = data.breakdown(vintage, "people_trained", "partnership", year, year)
            by_key = dict(zip(rows["key"], rows["value"], strict=True))
            for partnership, *_ in PARTNERSHIPS:
                filtered = data.yearly_totals(vintage, "people_trained", Filters(partnerships=(partnership,)))
                value = filtered.set_index("year")["value"].get(year)
                value = None if value is None or pd.isna(value) else value
                assert by_key.get(partnership) == value, (partnership, year, memberships)
    data.reset()


def test_acknowledged_changes_keep_their_totals_to_the_internal_site(curated, monkeypatch):
    vintage = data.resolve_vintage(None).vintage
    row = data.expected_changes(vintage).iloc[0]
    assert (row["wave"], row["indicator"], row["previous_total"], row["total"]) == (
        2023, "training_programmes", 25, 42)
    assert row["reason"] == "the 2023 questionnaire counts modules as programmes"
    monkeypatch.setenv("PACT_PUBLIC", "1")
    data.reset()
    public = data.expected_changes(data.resolve_vintage(None).vintage).iloc[0]
    assert pd.isna(public["previous_total"]) and pd.isna(public["total"]) and pd.isna(public["factor"])
    assert public["reason"] == row["reason"]
    monkeypatch.delenv("PACT_PUBLIC")
    data.reset()


def test_a_snapshot_written_before_launched_by_counts_its_dated_partnerships(tmp_path, monkeypatch):
    """A kept snapshot from before `partnerships.launched_by` existed reads it as its launch day, so the
    partnerships chart of a permalink to it still draws (from what that snapshot knew)."""
    path = write_curated_snapshot(tmp_path) / "partnerships.parquet"
    table = pq.read_table(path)
    pq.write_table(table.drop(["launched_by"]), path)
    monkeypatch.setenv(data.CURATED_ENV, str(tmp_path))
    data.reset()
    vintage = data.resolve_vintage(None).vintage
    over_time = data.partnerships_over_time(vintage)
    assert over_time.groupby("kind")["partnerships"].max().to_dict() == {"large-scale": 3, "regional": 1}
    assert data.undated_partnerships(vintage) == {}
    data.reset()


def test_public_mode_is_part_of_every_cached_answer(curated, monkeypatch):
    """Flipping PACT_PUBLIC between two calls, with no reset(), gives each mode its own answer both ways."""
    vintage = data.resolve_vintage(None).vintage
    internal = data.expected_changes(vintage).iloc[0]
    assert internal["total"] == 42
    monkeypatch.setenv("PACT_PUBLIC", "1")
    assert pd.isna(data.expected_changes(vintage).iloc[0]["total"])
    monkeypatch.delenv("PACT_PUBLIC")
    assert data.expected_changes(vintage).iloc[0]["total"] == 42


def test_without_the_setting_the_data_layer_reads_the_repositorys_curated_directory(monkeypatch):
    """`make run` serves data/curated/ of the repository: the default must not move when the module does."""
    monkeypatch.delenv(data.CURATED_ENV, raising=False)
    repo = Path(__file__).resolve().parents[1]
    assert data.curated_dir() == repo / "data" / "curated"
    assert (data.REPO_ROOT / "pyproject.toml").is_file()


# A process that opens the data layer's connection, makes DuckDB spill to its temporary directory (a small memory
# limit and a table larger than it) and ends normally: it prints its spill directory and how many files it held.
_SPILLING_PROCESS = """
import os
from dashboard.data import core
con, _ = core._connection()
con.execute("SET memory_limit = '16MB'")
con.execute(f"CREATE TABLE {core.DB}.filler AS SELECT range AS i, md5(range::VARCHAR) AS s FROM range(1000000)")
spills = core._spill_dir(os.getpid())
print(spills, len(os.listdir(spills)))
"""


def _python(code: str, tmp: Path) -> str:
    env = {**os.environ, "TMPDIR": str(tmp)}
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120,
                          check=True, cwd=Path(__file__).resolve().parents[1])
    return done.stdout


def test_duckdb_spills_are_removed_when_the_process_ends_or_after_it_was_killed(tmp_path):
    spills, files = _python(_SPILLING_PROCESS, tmp_path).split()
    assert Path(spills).parent == tmp_path and int(files) > 0  # it did spill, under TMPDIR
    assert not Path(spills).exists()  # closed at exit: DuckDB removed its files
    # A process killed before closing leaves its directory: the next one to connect removes it, and leaves those
    # of processes still running.
    ended = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True,
                           check=True)
    stale = tmp_path / core._spill_dir(int(ended.stdout)).name
    running = tmp_path / core._spill_dir(os.getpid()).name
    for directory in (stale, running):
        directory.mkdir()
        (directory / "duckdb_temp_storage_DEFAULT-0.tmp").write_bytes(b"\0" * 1024)
    _python("from dashboard.data import core; core._connection()", tmp_path)
    assert not stale.exists() and running.is_dir()

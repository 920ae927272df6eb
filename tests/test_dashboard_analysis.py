"""Pure computations (dashboard/analysis.py, formatting, figure builders) on hand-made frames."""

from __future__ import annotations

import datetime as dt
import json
import math

import pandas as pd
import plotly.graph_objects as go
import pytest

from dashboard import figures
from dashboard.analysis import SMALL_PEER_GROUP, ledger, path_value, peer_benchmark, target_progress
from dashboard.data import IndicatorMeta
from dashboard.formatting import change, compact, full, percent

PEOPLE = IndicatorMeta("people_trained", "People up-/reskilled", "people", 1, "def", "flow", True, True, False)


def published_like_progress() -> pd.DataFrame:
    """The Pact's published path: 2.0 M, 1.5 M, 2.6 M people trained in 2022-2024."""
    frame = pd.DataFrame({"year": [2022, 2023, 2024], "value": [2.0e6, 1.5e6, 2.6e6]})
    return frame.assign(cumulative=frame["value"].cumsum())


def pact_targets() -> pd.DataFrame:
    return pd.DataFrame({
        "target_id": ["T10M", "T25M"], "version": [1, 2], "people": [10_000_000, 25_000_000],
        "qualifier": ["", "over"], "announced_on": [dt.date(2023, 5, 1), dt.date(2024, 3, 1)],
        "deadline_year": pd.array([None, 2030], dtype="Int64"), "text": ["10 M", "over 25 M by 2030"],
    })


def test_target_progress_on_the_published_figures():
    ten, twenty_five = target_progress(published_like_progress(), pact_targets())
    assert ten.cumulative == 6.1e6 and ten.remaining == pytest.approx(3.9e6)
    assert ten.achieved_pace == pytest.approx(6.1e6 / 3)
    assert ten.needed_pace is None and ten.status == "no deadline"
    assert ten.projected_year == 2024 + math.ceil(3.9e6 / (6.1e6 / 3))  # 2026
    assert ten.path == ()
    assert twenty_five.needed_pace == pytest.approx(18.9e6 / 6)  # 2025..2030
    assert twenty_five.projected_year == 2034 and twenty_five.status == "off track"
    # The path starts at the end of the year before the announcement (2023: 3.5 M) and ends at the deadline.
    assert twenty_five.path == ((2023, 3.5e6), (2030, 25e6))
    assert path_value(twenty_five.path, 2030) == 25e6
    assert path_value(twenty_five.path, 2020) is None
    sentence = figures.target_sentence(twenty_five)
    assert "Off track" in sentence and "2034" in sentence and "4 years after the deadline" in sentence
    # (25 M - 6.1 M) / 6 years = 3.15 M a year: half up, as the briefing writes it too
    assert "3.2 M a year is needed from 2025 to 2030" in sentence


def test_target_reached_and_on_track():
    progress = pd.DataFrame({"year": [2022, 2023], "value": [6e6, 6e6], "cumulative": [6e6, 12e6]})
    ten, twenty_five = target_progress(progress, pact_targets())
    assert ten.status == "reached" and ten.remaining == 0 and ten.projected_year == 2023
    assert twenty_five.status == "on track" and twenty_five.projected_year == 2026
    assert "On track" in figures.target_sentence(twenty_five)
    assert target_progress(progress.iloc[0:0], pact_targets()) == ()


def partnerships_frame(n_large: int) -> pd.DataFrame:
    rows = [{"partnership_id": f"LSP-{i}", "name": f"Large {i}", "kind": "large-scale", "ecosystem_id": "CONS",
             "ecosystem": "Construction", "region": None} for i in range(n_large)]
    rows.append({"partnership_id": "RSP-1", "name": "Region 1", "kind": "regional", "ecosystem_id": None,
                 "ecosystem": None, "region": "Lombardy"})
    return pd.DataFrame(rows)


def values_frame(n_large: int) -> pd.DataFrame:
    rows = [{"partnership_id": f"LSP-{i}", "year": year, "value": float(100 * (i + 1) + year - 2022)}
            for i in range(n_large) for year in (2022, 2023)]
    return pd.DataFrame(rows)


def test_peer_benchmark_statistics_and_rank():
    bench = peer_benchmark(partnerships_frame(6), values_frame(6), "LSP-2", "kind", 2023)
    values = pd.Series([100 * (i + 1) + 1.0 for i in range(6)])
    assert bench.value == 301 and bench.rank == 4  # 601, 501, 401 above it
    assert bench.median == values.median()
    assert (bench.q1, bench.q3) == (values.quantile(0.25), values.quantile(0.75))
    assert bench.named and next(label for label, _ in bench.peers) == "Large 5"
    assert bench.trend[0] == (2022, 300.0, values_frame(6).query("year == 2022")["value"].median())


def test_one_naming_rule_small_groups_are_named_and_flagged_as_thin():
    """The ledger beside the benchmark names every partnership with its figures, so the internal view names peers
    in every group; a small group is flagged as a thin comparison instead."""
    n = SMALL_PEER_GROUP - 1
    bench = peer_benchmark(partnerships_frame(n), values_frame(n), "LSP-0", "kind", 2023)
    labels = [label for label, _ in bench.peers]
    assert bench.named
    assert sorted(labels) == [f"Large {i}" for i in range(n)]
    summary = figures.peer_summary(bench, PEOPLE)
    assert "rest on few values" in summary and "not named" not in summary
    assert "Large 1" in figures.peer_figure(bench, PEOPLE).to_json()
    big = peer_benchmark(partnerships_frame(6), values_frame(6), "LSP-0", "kind", 2023)
    assert "rest on few values" not in figures.peer_summary(big, PEOPLE)


def test_peer_group_by_ecosystem_and_regional_without_ecosystem():
    bench = peer_benchmark(partnerships_frame(2), values_frame(2), "RSP-1", "ecosystem", 2023)
    assert bench.group_size == 1 and bench.value is None and bench.peers == ()
    with pytest.raises(KeyError):
        peer_benchmark(partnerships_frame(2), values_frame(2), "NOPE", "kind", 2023)
    with pytest.raises(ValueError, match="peer group"):
        peer_benchmark(partnerships_frame(2), values_frame(2), "LSP-0", "size", 2023)


def test_ledger_share_and_pace():
    partnerships = pd.DataFrame([
        {"partnership_id": "A", "name": "A", "kind": "large-scale", "ecosystem": "Construction", "region": None,
         "launched_on": dt.date(2022, 2, 8), "pledge_kind": "people", "pledge_text": "1,000 people by 2027",
         "pledge_people": 1000, "pledge_share": None, "pledge_year": 2027, "n_members": 3},
        {"partnership_id": "B", "name": "B", "kind": "regional", "ecosystem": None, "region": "R",
         "launched_on": None, "pledge_kind": "workforce_share_per_year", "pledge_text": "5% a year",
         "pledge_people": None, "pledge_share": 0.05, "pledge_year": None, "n_members": 1},
    ]).astype({"pledge_people": "Int64", "pledge_year": "Int64"})
    values = pd.DataFrame({"partnership_id": ["A", "A", "B"], "year": [2023, 2024, 2024],
                           "value": [100.0, 300.0, 50.0], "n_reporting": [2, 3, 1]})
    out = ledger(partnerships, values, 2024).set_index("partnership_id")
    assert out.loc["A", "delivered"] == 400 and out.loc["A", "share_attained"] == pytest.approx(0.4)
    assert out.loc["A", "pace_needed"] == pytest.approx(600 / 3)  # 2025..2027
    assert out.loc["A", "n_reporting_latest"] == 3
    assert math.isnan(out.loc["B", "share_attained"]) and math.isnan(out.loc["B", "pace_needed"])


@pytest.mark.parametrize(("value", "unit", "short", "long"), [
    (2_000_000, "people", "2.0 M", "2,000,000"),
    (15_500, "programmes", "15.5 k", "15,500"),
    (160_000_000, "EUR", "€160.0 M", "€160,000,000"),
    (60_000.5, "EUR", "€60.0 k", "€60,000.50"),
    (0.9, "share", "90%", "90.0%"),
    (461, "members", "461", "461"),
    (None, "people", "–", "–"),
    (float("nan"), "people", "–", "–"),
])
def test_number_formats(value, unit, short, long):
    assert compact(value, unit) == short
    assert full(value, unit) == long


def test_change_and_percent():
    assert change(0.733) == "+73%" and change(-0.12) == "−12%" and change(0.001) == "±0%" and change(None) == "–"
    assert percent(0.9) == "90%"


def test_breakdown_figure_never_stacks_partnerships_and_carries_the_note():
    frame = pd.DataFrame({"key": ["P1", "P2"], "label": ["One", "Two"], "value": [10.0, 5.0], "raw_value": [10, 5],
                          "n_reporting": [2, 1]})
    fig = figures.breakdown_figure(frame, PEOPLE, "partnership", 2022, 2024)
    assert isinstance(fig, go.Figure)
    assert fig.layout.barmode != "stack" and len(fig.data) == 1
    assert "Not additive" in fig.layout.title.subtitle.text
    assert fig.layout.title.text == "People up-/reskilled by partnership, 2022–2024"
    summary = figures.breakdown_summary(frame, PEOPLE, "partnership", 2022, 2024)
    assert "highest One (10)" in summary and "Not additive" in summary
    assert fig.data[0].customdata[0][0] == "P2"  # drawn bottom-up: the largest bar on top


def test_breakdown_summary_ranks_only_the_figures_shown():
    # Public mode withholds some cells (NaN with members reporting): never named highest or lowest.
    frame = pd.DataFrame({"key": ["DE", "FR", "MT"], "label": ["Germany", "France", "Malta"],
                          "value": [30.0, 20.0, float("nan")], "raw_value": [30, 20, pd.NA], "n_reporting": [9, 7, 1]})
    summary = figures.breakdown_summary(frame, PEOPLE, "member_state", 2022, 2022)
    assert "highest Germany (30)" in summary and "lowest France (20)" in summary and "Malta" not in summary
    everything_withheld = frame.assign(value=float("nan"))
    assert "highest" not in figures.breakdown_summary(everything_withheld, PEOPLE, "member_state", 2022, 2022)
    # On the chart a withheld bar is labelled, never an empty bar that reads as zero; clicking it filters.
    fig = figures.breakdown_figure(frame, PEOPLE, "member_state", 2022, 2022)
    _bars, labels = fig.data
    assert list(labels.text) == ["withheld"] and list(labels.y) == ["Malta"] and labels.customdata[0][0] == "MT"
    assert len(figures.breakdown_figure(frame.iloc[:2], PEOPLE, "member_state", 2022, 2022).data) == 1


def test_map_uses_iso3_codes_greece_included():
    frame = pd.DataFrame({"key": ["EL", "IT"], "label": ["Greece", "Italy"], "value": [3.0, 1.0],
                          "raw_value": [3, 1], "n_reporting": [1, 1]})
    fig = figures.map_figure(frame, PEOPLE, 2024, 2024)
    assert list(fig.data[0].locations) == ["GRC", "ITA"]
    assert fig.layout.geo.scope == "world" and fig.layout.geo.resolution == 50  # europe_50m lacks Cyprus
    assert "2 of 27 Member States" in figures.map_summary(frame, PEOPLE, 2024, 2024, 27)
    assert len(figures.EUROSTAT_TO_ISO3) == 27


def test_empty_selection_figures_have_titles():
    empty = pd.DataFrame(columns=["key", "label", "value", "raw_value", "n_reporting"])
    fig = figures.breakdown_figure(empty, PEOPLE, "ecosystem", 2022, 2022)
    assert fig.layout.title.text and "No member reported" in fig.layout.annotations[0].text
    assert "no member reported" in figures.breakdown_summary(empty, PEOPLE, "ecosystem", 2022, 2022)


def test_a_placeholder_is_the_empty_figure_as_a_fresh_dict_each_time():
    first = figures.placeholder("EU map", "Loading the map…", figures.MAP_HEIGHT)
    assert first == json.loads(figures.empty_figure("EU map", "Loading the map…", figures.MAP_HEIGHT).to_json())
    assert first["layout"]["height"] == figures.MAP_HEIGHT
    assert [a["text"] for a in first["layout"]["annotations"]] == ["Loading the map…"]
    first["layout"]["annotations"].clear()  # what one page does to its copy never reaches the next page
    assert figures.placeholder("EU map", "Loading the map…", figures.MAP_HEIGHT)["layout"]["annotations"]


def test_the_required_path_follows_the_stated_rule_with_only_the_announcement_year_known():
    """The sources give the year each target was announced, not the day: the path to 'over 25 million by 2030'
    (announced 2024) starts from the cumulative figure at the end of 2023 (3.5 M), as About states, never from 0."""
    targets = pact_targets().assign(announced_on=[None, None], announced_year=[2023, 2024])
    _, twenty_five = target_progress(published_like_progress(), targets)
    assert twenty_five.announced_year == 2024
    assert twenty_five.path == ((2023, 3.5e6), (2030, 25e6))
    for year in range(2023, 2031):  # the rule, year by year: a straight line from (2023, 3.5 M) to (2030, 25 M)
        assert path_value(twenty_five.path, year) == pytest.approx(3.5e6 + (25e6 - 3.5e6) * (year - 2023) / 7)
    assert path_value(twenty_five.path, 2024) == pytest.approx(6_571_428.57, abs=1)
    assert path_value(twenty_five.path, 2022) is None  # nothing was required before the target existed


def test_the_needed_pace_is_drawn_only_over_the_years_it_applies_to():
    progress = target_progress(published_like_progress(), pact_targets())
    fig = figures.pace_figure(published_like_progress(), progress)
    achieved, needed = fig.data[0], fig.data[1]
    assert list(achieved.x) == ["2022", "2023", "2024"]
    assert list(needed.x) == ["2025–30"], "not drawn across the achieved years"
    assert needed.name == "Needed a year 2025–2030 for the 25 M pledged by 2030"
    assert len(fig.data) == 2  # the 10 M pledge has no deadline: no pace is needed for it


def test_the_progress_headline_says_what_its_period_is_and_caveats_a_break():
    progress = target_progress(published_like_progress(), pact_targets())
    plain = figures.progress_headline(published_like_progress(), progress)
    # the published cumulative figure reads "since its launch in 2020"; the first survey counted up to December 2022
    assert plain.startswith("2.6 M people were up-/reskilled in 2024 (+73% on 2023); 6.1 M since the Pact's launch in "
                            "2020 (3 surveys; the first counted activity up to December 2022).")
    # the 25 M is the partnerships' pledge, not a target the Commission set
    assert "of the over 25 M the partnerships pledged for 2030" in plain
    assert "target" not in plain
    caveated = figures.progress_headline(published_like_progress(), progress, break_in_series=True)
    assert "(+73% on 2023; the survey question changed in 2024, so the change may partly reflect the new wording)" \
        in caveated


def test_map_marks_small_member_states_and_keeps_no_data_apart_from_outside_the_eu():
    frame = pd.DataFrame({"key": ["MT"], "label": ["Malta"], "value": [37370.0], "raw_value": [37370],
                          "n_reporting": [4]})
    fig = figures.map_figure(frame, PEOPLE, 2024, 2024)
    values = fig.data[0]
    assert list(values.locations) == ["MLT"]
    assert (values.zmin, values.zmax) == (0, 37370.0)  # not a degenerate 37.3696k-37.3704k colour bar
    markers = [t for t in fig.data if t.type == "scattergeo" and t.customdata is not None]
    assert [c[0] for c in markers[0].customdata] == ["MT"]  # Malta visible as a circle, clickable as its shape
    no_data = next(t for t in fig.data if t.type == "choropleth" and t.name == "no data")
    assert len(no_data.locations) == 26 and "MLT" not in no_data.locations
    assert fig.layout.geo.landcolor != no_data.colorscale[0][1]  # outside the EU is not the "no data" grey
    assert "outside the EU" in fig.layout.annotations[0].text

"""On the bundled sample, built by the real pipeline: the Progress figures equal the Pact's published ones."""

from __future__ import annotations

from collections.abc import Iterator

import pandas as pd
import pytest

from dashboard import data
from dashboard.analysis import target_progress
from dashboard.data import core
from tests.conftest import SampleRun
from tests.sample_figures import PUBLISHED


@pytest.fixture(scope="module")
def sample_vintage(sample_run: SampleRun) -> Iterator[data.Vintage]:
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv(data.CURATED_ENV, str(sample_run.curated))
        data.reset()
        choice = data.resolve_vintage(None)
        assert choice.vintage is not None
        yield choice.vintage
    data.reset()


@pytest.mark.slow
@pytest.mark.parametrize("year", sorted(PUBLISHED))
def test_progress_cards_equal_the_published_figures(sample_vintage, year):
    kpis = {k.key: k for k in data.kpis(sample_vintage, year)}
    for key, value in PUBLISHED[year].items():
        assert kpis[key].value == pytest.approx(value, abs=1e-9), (year, key)
        assert kpis[key].flags.comparison in ("equal", "consistent"), (year, key, kpis[key].flags)
        assert not kpis[key].flags.not_published
    assert kpis["people_trained"].flags.synthetic


@pytest.mark.slow
def test_cross_checks_and_targets(sample_vintage):
    compared = data.published_vs_computed(sample_vintage)
    survey = compared[compared["computed_from"] == "survey"]
    assert set(survey["comparison"]) <= {"equal", "consistent", "not computed here"}, survey
    # the published partnership counts: every large-scale count is the reference table's; the regional ones are
    # larger than the table because the sources name only some of the regional partnerships they count
    counts = compared[compared["indicator"].str.endswith("_partnerships")]
    large = counts[counts["indicator"] == "large_scale_partnerships"]
    assert len(large) == 10 and set(large["comparison"]) == {"equal"}
    regional = counts[counts["indicator"] == "regional_partnerships"]
    assert (regional["comparison"] == "differs").equals(regional["computed"] < regional["published"])
    # the registry's members on each published date, counted independently
    joined = pd.to_datetime(core._query(sample_vintage, "SELECT joined_on FROM members")["joined_on"])
    members = compared[compared["indicator"] == "members"]
    for published_on, computed in zip(members["period_kind"], members["computed"], strict=True):
        day = pd.Timestamp(published_on.removeprefix("as of "))
        assert computed == (joined <= day).sum(), published_on
    people = data.cumulative_people_trained(sample_vintage)
    assert people["cumulative"].tolist() == [2_000_000, 3_500_000, 6_100_000]
    ten, twenty_five = target_progress(people, data.targets(sample_vintage))
    assert ten.people == 10_000_000 and ten.deadline_year is None
    assert twenty_five.people == 25_000_000 and twenty_five.deadline_year == 2030
    assert twenty_five.needed_pace == pytest.approx((25e6 - 6.1e6) / 6)
    assert twenty_five.status == "off track" and twenty_five.projected_year == 2034
    breakdown = data.breakdown(sample_vintage, "people_trained", "ecosystem", 2022, 2024)
    assert breakdown["raw_value"].sum() == 6_100_000  # the primary-ecosystem breakdown adds up

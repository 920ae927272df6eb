"""The hand-compiled reference tables in data/raw/reference are complete and sourced."""

from __future__ import annotations

import csv
import datetime as dt
from pathlib import Path

import pytest

from pipelines.schema import INDICATOR_NAMES
from pipelines.sidecar import load_sidecar

ROOT = Path(__file__).resolve().parents[1]
REFERENCE = ROOT / "data" / "raw" / "reference"
CORRECTIONS = ROOT / "data" / "raw" / "corrections" / "corrections.csv"
TABLES = (
    "ecosystems", "member_states", "partnerships", "targets", "pledge_totals", "membership_timeline",
    "published_figures",
)
PROTOCOL_ORDER = [
    "BE", "BG", "CZ", "DK", "DE", "EE", "IE", "EL", "ES", "FR", "HR", "IT", "CY", "LV", "LT", "LU", "HU", "MT", "NL",
    "AT", "PL", "PT", "RO", "SI", "SK", "FI", "SE",
]


def read_csv(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(fh))


@pytest.fixture(scope="module")
def tables() -> dict[str, list[dict[str, str]]]:
    return {name: read_csv(REFERENCE / f"{name}.csv") for name in TABLES}


@pytest.mark.parametrize("name", TABLES)
def test_every_row_has_a_source_url_listed_in_the_sidecar(tables, name):
    rows = tables[name]
    assert rows, f"{name}.csv has no rows"
    sidecar = load_sidecar(REFERENCE / f"{name}.csv")
    assert sidecar.kind == "reference"
    assert sidecar.table == name
    assert sidecar.read.format == "csv"
    for i, row in enumerate(rows, start=2):
        urls = [u.strip() for u in row["source_url"].split(" ; ")]
        assert all(u.startswith(("http://", "https://")) for u in urls), f"{name}.csv row {i}: {row['source_url']!r}"
        assert set(urls) <= set(sidecar.sources), f"{name}.csv row {i}: source not listed in the sidecar"


def test_fourteen_ecosystems_in_eccp_order(tables):
    rows = tables["ecosystems"]
    assert [int(r["order"]) for r in rows] == list(range(1, 15))
    ids = [r["ecosystem_id"] for r in rows]
    assert ids == ["AERO", "AGRI", "CONS", "CCI", "DIGI", "ELEC", "EII", "RENE", "HLTH", "MOBI", "PROX", "RETL",
                   "TEXT", "TOUR"]
    assert len({r["name"] for r in rows}) == 14


def test_member_states_are_eu27_in_protocol_order_with_greek_aliases(tables):
    rows = tables["member_states"]
    assert [r["country_code"] for r in rows] == PROTOCOL_ORDER
    assert [int(r["protocol_order"]) for r in rows] == list(range(1, 28))
    greece = next(r for r in rows if r["country_code"] == "EL")
    assert greece["iso_alpha2"] == "GR"
    assert {"GR", "Greece"} <= set(greece["aliases"].split(";"))
    # every English name is itself an alias, and no alias points at two countries
    seen: dict[str, str] = {}
    for r in rows:
        aliases = r["aliases"].split(";")
        assert r["name"] in aliases
        for alias in [*aliases, r["country_code"], r["iso_alpha2"]]:
            key = alias.casefold()
            assert seen.setdefault(key, r["country_code"]) == r["country_code"], alias


def test_twenty_large_scale_partnerships_and_the_known_regional_ones(tables):
    rows = tables["partnerships"]
    ecosystems = {r["ecosystem_id"] for r in tables["ecosystems"]}
    lsps = [r for r in rows if r["kind"] == "large-scale"]
    rsps = [r for r in rows if r["kind"] == "regional"]
    assert len(lsps) == 20
    assert {r["kind"] for r in rows} == {"large-scale", "regional"}
    assert len({r["partnership_id"] for r in rows}) == len(rows)
    # the LSP the sources count but do not name is present, unnamed and without an invented pledge; the 17th is
    # SPACE4GEO (launched 25 April 2023, between the 16th and the 18th)
    unnamed = [r for r in lsps if "(not identified)" in r["name"]]
    assert [r["partnership_id"] for r in unnamed] == ["LSP-20"]
    assert all(r["ecosystem_id"] == "" and r["pledge_kind"] == "unknown" for r in unnamed)
    # every ecosystem has at least one LSP (true since the EII partnership, May 2023)
    assert {r["ecosystem_id"] for r in lsps} - {""} == ecosystems
    assert all(r["ecosystem_id"] == "" for r in rsps)
    assert {"RSP-LOMB", "RSP-ECRN", "RSP-BARI", "RSP-SUDI"} <= {r["partnership_id"] for r in rsps}
    for r in rows:
        assert r["pledge_kind"] in {"people", "workforce_share_per_year", "other", "unknown"}
        if r["launched_on"]:
            assert dt.date(2020, 11, 10) <= dt.date.fromisoformat(r["launched_on"]) <= dt.date(2025, 12, 31)
        else:
            assert r["launch_note"], f"{r['partnership_id']}: no launch date and no note saying why"
        if r["pledge_kind"] == "workforce_share_per_year":
            assert 0 < float(r["pledge_share"]) < 1
        if r["pledge_kind"] == "people":
            assert int(r["pledge_people"]) > 0
    auto = next(r for r in rows if r["partnership_id"] == "LSP-AUTO")
    assert (auto["launched_on"], auto["ecosystem_id"], float(auto["pledge_share"])) == ("2020-11-10", "MOBI", 0.05)


def test_targets_as_stated(tables):
    rows = {r["target_id"]: r for r in tables["targets"]}
    ten, twenty_five = rows["TARGET-10M"], rows["TARGET-25M-2030"]
    assert (int(ten["version"]), int(ten["people"]), ten["deadline_year"]) == (1, 10_000_000, "")
    assert "2023" in ten["announced_note"]
    assert (int(twenty_five["version"]), int(twenty_five["people"]), twenty_five["qualifier"]) == (2, 25_000_000, "over")
    assert int(twenty_five["deadline_year"]) == 2030
    assert "2024" in twenty_five["announced_note"]


def test_pledge_totals_and_membership_timeline(tables):
    pledges = {(r["as_of"][:7], int(r["people"]), r["qualifier"]) for r in tables["pledge_totals"]}
    assert {("2021-11", 1_500_000, "over"), ("2022-11", 6_000_000, "close to"), ("2023-05", 10_000_000, "over"),
            ("2024-03", 25_000_000, "over")} <= pledges
    timeline = {r["as_of"][:7]: r for r in tables["membership_timeline"]}
    assert [int(timeline[m]["members"]) for m in ("2021-11", "2023-05", "2024-03", "2025-05")] == [450, 1500, 2500, 3200]
    assert int(timeline["2025-05"]["regional_partnerships"]) == 12
    # "14 large-scale partnerships in place since the end of 2022" (first annual report)
    assert int(timeline["2022-12"]["large_scale_partnerships"]) == 14
    assert "double their pledges" in next(r["scope"] for r in tables["pledge_totals"] if r["as_of"] == "2025-05-19")


def test_space4geo_is_the_seventeenth_large_scale_partnership(tables):
    space = next(r for r in tables["partnerships"] if "SPACE4GEO" in r["name"])
    assert (space["launched_on"], space["pledge_kind"], float(space["pledge_share"]), space["pledge_year"]) == (
        "2023-04-25", "workforce_share_per_year", 0.035, "2030")


def test_may_2025_survey_shares_are_recorded_as_published(tables):
    shares = {r["indicator"]: (float(r["value"]), r["period_start"], r["unit"]) for r in tables["published_figures"]
              if r["figure_id"] in ("S3-VALUABLE", "S3-LSP-WORKFORCE")}
    assert shares == {"members_valuing_pact_share": (0.84, "2024", "share"),
                      "lsp_members_workforce_trained_share": (0.33, "2024", "share")}


def test_published_figures_cover_the_design_table_and_the_cross_checks(tables):
    rows = tables["published_figures"]
    allowed = set(INDICATOR_NAMES) | {"respondents", "commitments_progressing_share", "members",
                                      "members_valuing_pact_share", "lsp_members_workforce_trained_share"}
    assert {r["indicator"] for r in rows} <= allowed
    assert len({r["figure_id"] for r in rows}) == len(rows)
    figures = {
        (r["indicator"], int(r["period_start"]), int(r["period_end"]), r["status"]): (float(r["value"]), r["qualifier"])
        for r in rows
    }
    expected = {
        ("respondents", 2022, 2022, "published"): (461, ""),
        ("people_trained", 2022, 2022, "published"): (2_000_000, ""),
        ("training_programmes", 2022, 2022, "published"): (15_500, ""),
        ("investment_eur", 2022, 2022, "published"): (160_000_000, ""),
        ("people_reached", 2022, 2022, "published"): (19_000_000, ""),
        ("stakeholders_joined", 2022, 2022, "published"): (21_500, ""),
        ("commitments_progressing_share", 2022, 2022, "published"): (0.9, ""),
        ("people_trained", 2023, 2023, "published"): (1_500_000, "nearly"),
        ("investment_eur", 2023, 2023, "published"): (151_000_000, "nearly"),
        ("investment_eur", 2023, 2023, "derived"): (150_000_000, ""),
        ("training_programmes", 2023, 2023, "derived"): (32_500, ""),
        ("people_trained", 2024, 2024, "derived"): (2_600_000, ""),
        ("training_programmes", 2024, 2024, "published"): (48_000, "nearly"),
        ("stakeholders_joined", 2024, 2024, "published"): (42_000, "more than"),
        ("people_trained", 2022, 2023, "published"): (3_500_000, "more than"),
        ("training_programmes", 2022, 2023, "published"): (48_000, ""),
        ("investment_eur", 2022, 2023, "published"): (310_000_000, ""),
        ("people_trained", 2020, 2024, "published"): (6_100_000, "more than"),
    }
    for key, value in expected.items():
        assert figures.get(key) == value, key
    for r in rows:
        assert r["period_kind"] == ("annual" if r["period_start"] == r["period_end"] else "cumulative")
        assert r["qualifier"] in {"", "nearly", "more than", "over"}
        assert bool(r["derivation"]) == (r["status"] == "derived"), r["figure_id"]
    # each derived figure is the arithmetic on the published rows it cites
    def value(indicator, start, end, status="published"):
        return figures[(indicator, start, end, status)][0]

    assert value("training_programmes", 2023, 2023, "derived") == (
        value("training_programmes", 2022, 2023) - value("training_programmes", 2022, 2022)
    )
    assert value("people_trained", 2024, 2024, "derived") == (
        value("people_trained", 2020, 2024) - value("people_trained", 2022, 2023)
    )
    assert value("investment_eur", 2023, 2023, "derived") == (
        value("investment_eur", 2022, 2023) - value("investment_eur", 2022, 2022)
    )


def test_corrections_file_has_the_documented_header_and_no_rows():
    with CORRECTIONS.open(encoding="utf-8", newline="") as fh:
        lines = list(csv.reader(fh))
    header = ["correction_id", "wave", "contribution_id", "member_id", "indicator", "action", "value", "reason",
              "corrected_by", "corrected_on"]
    assert lines == [header]
    sidecar = load_sidecar(CORRECTIONS)
    assert sidecar.kind == "corrections"
    for column in header:
        assert f"- {column}:" in sidecar.description, column


def test_the_partnerships_the_sources_place_in_time_match_every_published_count(tables):
    """Counting each partnership from the date the sources place it by (`launched_by`), the reference table gives
    every published count of large-scale partnerships; regional ones are published as counts (6, then 12) of which
    the sources name only a few, a difference the Progress page states."""
    rows = tables["partnerships"]
    for r in rows:
        if r["launched_on"]:
            assert r["launched_by"] == r["launched_on"], r["partnership_id"]
    assert [r["partnership_id"] for r in rows if not r["launched_by"]] == ["RSP-SUDI"]  # no year in its source

    def known_by(kind: str, day: str) -> int:
        return sum(1 for r in rows if r["kind"] == kind and r["launched_by"] and r["launched_by"] <= day)

    published = [r for r in tables["membership_timeline"] if r["large_scale_partnerships"]]
    for r in published:
        if r["as_of"] == "2022-11-16":
            continue  # the same 12 as on 10 Nov 2022, counted by a news item six days later
        assert known_by("large-scale", r["as_of"]) == int(r["large_scale_partnerships"]), r["as_of"]
    regional = {r["as_of"]: int(r["regional_partnerships"]) for r in tables["membership_timeline"]
                if r["regional_partnerships"]}
    assert known_by("regional", "2025-05-19") < regional["2025-05-19"] == 12

"""Layout builders and callbacks called as plain functions over a fixture snapshot; tampered URL queries give a
clean page with a message and never reach SQL."""

from __future__ import annotations

import contextvars
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from dash import no_update
from dash._callback_context import context_value
from dash._utils import AttributeDict

from dashboard import app as app_module  # registers the pages
from dashboard import data, state
from dashboard.data import catalogue, core, filters, inventory, membership, public, totals
from dashboard.pages import about, data_page, explore, partnerships, progress
from tests.dashboard_fixtures import FIXTURE_VINTAGE, serving_fixture_snapshot, walk, write_curated_snapshot

PAGES = {"progress": progress, "explore": explore, "partnerships": partnerships, "data": data_page, "about": about}
CONTROLS = {
    "progress": [progress.ID.YEAR, progress.ID.KPIS, progress.ID.TARGETS_CHART, progress.ID.PACE_CHART,
                 progress.ID.MEMBERS_CHART, progress.ID.PARTNERSHIPS_CHART, progress.ID.TARGET_STATUS],
    "explore": ["explore-indicator", "explore-by", "explore-year-from", "explore-year-to", "explore-ecosystem",
                "explore-country", "explore-partnership", "explore-type", "explore-view", "explore-chart",
                "explore-map", "explore-grid", "explore-status"],
    "partnerships": [partnerships.ID.LEDGER, partnerships.ID.PARTNERSHIP, partnerships.ID.GROUP,
                     partnerships.ID.INDICATOR, partnerships.ID.YEAR, partnerships.ID.PEER_CHART,
                     partnerships.ID.TREND_CHART],
    "data": [data_page.ID.PUBLISHED, data_page.ID.STATUS, data_page.ID.RESPONSE, data_page.ID.REJECTS,
             data_page.ID.WAVE, data_page.ID.INPUTS, data_page.ID.RUNS, data_page.ID.CORRECTIONS],
    "about": [about.ID.INDICATORS, about.ID.RULES, about.ID.SOURCES, about.ID.VINTAGE, about.ID.VINTAGES],
}
HOSTILE = ["<script>alert(1)</script>", "x' OR '1'='1", "'; DROP TABLE facts; --", "9" * 400, "../../etc/passwd",
           "CONS\u0000", "%27%20OR%201%3D1"]


@pytest.fixture(scope="module")
def curated(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    with serving_fixture_snapshot(tmp_path_factory.mktemp("curated-pages")) as root:
        yield root


def ids(component: Any) -> set[str]:
    return {c.id for c in walk(component) if isinstance(getattr(c, "id", None), str)}


def text(component: Any) -> str:
    parts = []
    for c in walk(component):
        if isinstance(c, (str, int, float)):
            parts.append(str(c))
    return " ".join(parts)


def by_id(component: Any, wanted: str) -> Any:
    for c in walk(component):
        if getattr(c, "id", None) == wanted:
            return c
    raise KeyError(wanted)


class SqlSpy:
    """Records every SQL text and parameter reaching DuckDB through the data layer."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.calls: list[tuple[str, dict]] = []
        original = core._query

        def spy(vintage, sql, params=None):
            self.calls.append((sql, dict(params or {})))
            return original(vintage, sql, params)

        # every part of the data package calls the one _query it imported from core
        for part in (core, catalogue, filters, totals, membership, inventory, public):
            if hasattr(part, "_query"):
                monkeypatch.setattr(part, "_query", spy)

    def mentions(self, payload: str) -> bool:
        for sql, params in self.calls:
            if payload in sql:
                return True
            for value in params.values():
                values = value if isinstance(value, list) else [value]
                if any(isinstance(v, str) and payload in v for v in values):
                    return True
        return False


@pytest.mark.parametrize("name", PAGES)
def test_every_page_builds_with_its_controls(curated, name):
    page = PAGES[name].layout()
    assert page.id == f"{name}-page"
    assert not (set(CONTROLS[name]) - ids(page)), set(CONTROLS[name]) - ids(page)
    words = text(page)
    assert "could not be built" not in words and "No data to show" not in words
    assert f"{name}-messages" in ids(page) and not text(by_id(page, f"{name}-messages"))


def test_page_titles_and_paths_are_stable(curated):
    import dash

    registry = {p["path"]: p["title"] for p in dash.page_registry.values()}
    assert registry == {"/": "Progress · Pact Monitor", "/explore": "Explore · Pact Monitor",
                        "/partnerships": "Partnerships · Pact Monitor", "/data": "Data · Pact Monitor",
                        "/about": "About · Pact Monitor"}


TAMPERED = {
    "progress": [{"year": p} for p in HOSTILE] + [{"year": ["2022", "2023"]}, {"year": "2019"}, {"bogus": "1"}],
    "explore": [{"indicator": p} for p in HOSTILE] + [{"ecosystem": ["CONS", p]} for p in HOSTILE]
    + [{"by": p} for p in HOSTILE] + [{"from": p} for p in HOSTILE] + [{"country": ["BE"] * 60},
                                                                      {"view": "<b>x</b>"}, {"to": "-1"}],
    "partnerships": [{"partnership": p} for p in HOSTILE] + [{"group": p} for p in HOSTILE]
    + [{"indicator": "respondents"}, {"year": "2021"}],
    "data": [{"wave": p} for p in HOSTILE],
    "about": [{"anything": p} for p in HOSTILE],
}


@pytest.mark.parametrize(("name", "query"), [(n, q) for n, qs in TAMPERED.items() for q in qs],
                         ids=lambda v: v if isinstance(v, str) else repr(v)[:40])
def test_tampered_query_gives_a_clean_page_with_a_message(curated, monkeypatch, name, query):
    data.reset()  # so every query really runs and the spy sees it
    spy = SqlSpy(monkeypatch)
    page = PAGES[name].layout(**query)
    words = text(page)
    assert page.id == f"{name}-page"
    assert "could not be built" not in words
    messages = text(by_id(page, f"{name}-messages"))
    assert "Ignored" in messages
    assert spy.calls or name == "about"
    for value in query.values():
        for payload in value if isinstance(value, list) else [value]:
            if payload in HOSTILE:
                assert not spy.mentions(payload), f"{payload!r} reached SQL"
    assert "<script>" not in str([c for c in walk(page) if isinstance(c, str) and "<script>" in c and
                                  "“" not in c])  # only ever shown quoted, as text


def test_unknown_vintage_falls_back_with_a_message(curated):
    page = progress.layout(vintage="20990101T000000Z-nope")
    assert "not one of the kept snapshots" in text(by_id(page, "progress-messages"))
    assert progress.ID.KPIS in ids(page)


def test_pinned_vintage_is_kept_in_the_permalink(tmp_path, monkeypatch):
    write_curated_snapshot(tmp_path, vintage_id="20240101T000000Z-old", make_current=False)
    write_curated_snapshot(tmp_path, vintage_id=FIXTURE_VINTAGE)
    monkeypatch.setenv(data.CURATED_ENV, str(tmp_path))
    page = explore.layout(vintage="20240101T000000Z-old", by="year")
    assert by_id(page, "explore-permalink").data == "?by=year&vintage=20240101T000000Z-old"
    assert by_id(page, "explore-vintage").data == "20240101T000000Z-old"
    assert "Pinned to data vintage 20240101T000000Z-old" in text(by_id(page, "vintage-notice"))
    out = explore.update_view("people_trained", "member_state", "2022", "2024", [], [], [], [], "chart", *NEW_CONTROLS,
                              None, "20240101T000000Z-old")
    assert out[6] == "?by=member_state&vintage=20240101T000000Z-old"


def test_no_data_gives_a_page_saying_so(tmp_path, monkeypatch):
    monkeypatch.setenv(data.CURATED_ENV, str(tmp_path / "nothing"))
    for name, module in PAGES.items():
        page = module.layout()
        assert page.id == f"{name}-page"
        if name != "about":
            assert "No data to show yet" in text(page)


# ------------------------------------------------------------------------------------------------- callbacks

# The Explore controls added for analysts, at their defaults: measure, change columns, lines shown, map year.
NEW_CONTROLS = ("total", "none", [], "range")


def test_explore_update_view_and_permalink(curated):
    out = explore.update_view("investment_eur", "partnership", "2023", "2024", ["CONS"], [], [], [], "table",
                              *NEW_CONTROLS, None, None)
    figure, summary, rows, columns, caption, _status, search, messages, options, *_lines, graph_style = out
    assert graph_style == {"height": f"{figure['layout']['height']}px"}  # the graph's box follows the figure's height
    # The hidden chart is drawn when shown (switching views runs this callback again): a placeholder meanwhile.
    assert figure["layout"]["title"]["text"] == "Investment in up-/reskilling by partnership, 2023–2024"
    assert [a["text"] for a in figure["layout"]["annotations"]] == ["Loading the chart…"] and summary == ""
    assert "Not additive" in caption
    assert {r["label"] for r in rows} == {"Construction partnership", "Lombardy regional partnership"}
    pinned = options.to_plotly_json()["operations"][0]["params"]["value"]  # the total row, pinned on top
    assert [r["label"] for r in pinned] == ["Total (each member once)"]
    assert "share" not in {c["field"] for c in columns}  # no shares of a non-additive breakdown
    assert search == "?indicator=investment_eur&by=partnership&from=2023&ecosystem=CONS&view=table"
    assert messages is None
    vintage = data.resolve_vintage(None).vintage
    reparsed = state.parse_explore(
        {"indicator": "investment_eur", "by": "partnership", "from": "2023", "ecosystem": "CONS", "view": "table"},
        data.dimensions(vintage), [m.indicator for m in data.indicator_catalogue(vintage)], state.Messages())
    assert (reparsed.indicator, reparsed.by, reparsed.year_from, reparsed.ecosystems, reparsed.view) == (
        "investment_eur", "partnership", 2023, ("CONS",), "table")
    chart = explore.update_view("investment_eur", "partnership", "2023", "2024", ["CONS"], [], [], [], "chart",
                                *NEW_CONTROLS, None, None)
    figure, summary = chart[0], chart[1]
    assert figure.layout.title.text == "Investment in up-/reskilling by partnership, 2023–2024"
    assert not figure.layout.annotations or "Loading" not in figure.layout.annotations[0].text
    assert len(figure.data) == 1 and "Not additive" in summary


def test_a_one_year_table_does_not_repeat_the_year_as_the_range(curated):
    page = explore.layout(by="member_state", view="table", **{"from": "2023", "to": "2023"})
    assert [c["field"] for c in by_id(page, "explore-grid").columnDefs] == ["label", "value", "n_reporting", "flags"]
    # the change measure's year column holds the change, not the range's total: kept
    page = explore.layout(by="member_state", view="table", measure="change", **{"from": "2023", "to": "2023"})
    assert "y2023" in [c["field"] for c in by_id(page, "explore-grid").columnDefs]


def test_explore_table_sort_is_in_the_permalink(curated):
    controls = ("people_trained", "member_state", "2022", "2024", [], [], [], [], "table", *NEW_CONTROLS)
    # Sorting the grid (dash-ag-grid reports it in columnState) changes the permalink, and only that.
    by_members = [{"colId": "label", "sort": None}, {"colId": "n_reporting", "sort": "desc", "sortIndex": 0}]
    assert explore.sort_to_url(by_members, *controls, None) == "?by=member_state&view=table&sort=-n_reporting"
    assert explore.sort_to_url([{"colId": "label", "sort": None}], *controls, None) == "?by=member_state&view=table"
    # The URL's sort comes back as the grid's column sort, and a control change keeps it.
    page = explore.layout(by="member_state", view="table", sort="label")
    columns = {c["field"]: c.get("sort") for c in by_id(page, "explore-grid").columnDefs}
    assert columns == {"label": "asc", "y2022": None, "y2023": None, "y2024": None, "value": None,
                       "n_reporting": None, "flags": None}
    out = explore.update_view(*controls[:8], "table", *NEW_CONTROLS, [{"colId": "label", "sort": "asc"}], None)
    assert out[6] == "?by=member_state&view=table&sort=label"
    assert {c["field"]: c.get("sort") for c in out[3]}["label"] == "asc"
    # In another view the hidden table is left as it is (built again when shown); the permalink keeps the sort.
    out = explore.update_view(*controls[:8], "chart", *NEW_CONTROLS, [{"colId": "label", "sort": "asc"}], None)
    assert out[6] == "?by=member_state&sort=label"
    assert out[2] is no_update and out[3] is no_update
    # A sort that is not one of the grid's columns is ignored with a message.
    page = explore.layout(sort="organisation")
    assert "table sort" in text(page) and by_id(page, "explore-permalink").data == ""


def test_explore_callback_with_tampered_values(curated, monkeypatch):
    data.reset()
    spy = SqlSpy(monkeypatch)
    out = explore.update_view("x' OR 1=1", "<script>", "99999999999", "2024", ["CONS", "' OR 1=1"], None, None,
                              ["a" * 500], "grid", "ratio", "2024-2022", ["<b>"], "1999",
                              [{"colId": "value", "sort": "sideways"}], None)
    figure, _summary, _rows, _columns, _caption, _status, search, messages, *_rest = out
    assert figure.layout.title.text == "People up-/reskilled by industrial ecosystem, 2022–2024"
    assert "Ignored" in text(messages)
    assert search == "?ecosystem=CONS"
    assert not spy.mentions("' OR 1=1") and not spy.mentions("<script>")


def test_explore_map_only_when_visible(curated):
    from dash import no_update

    assert explore.update_map("people_trained", "ecosystem", "2022", "2024", [], [], [], [], "chart", *NEW_CONTROLS,
                              None) == (no_update, no_update)
    figure, summary = explore.update_map("people_trained", "ecosystem", "2022", "2024", [], [], [], [], "map",
                                         *NEW_CONTROLS, None)
    values = figure.data[0]  # the values' choropleth; Member States without data are a grey trace of their own
    assert values.type == "choropleth"
    assert sorted(values.locations) == ["BEL", "FRA", "GRC", "ITA"]
    assert "4 of 4 Member States have data" in summary


def run_click(trigger: str, click: dict, by: str, current: tuple) -> list:
    def call() -> list:
        context_value.set(AttributeDict(triggered_inputs=[{"prop_id": f"{trigger}.clickData", "value": click}]))
        chart = click if trigger == "explore-chart" else None
        map_click = click if trigger == "explore-map" else None
        return explore.apply_click(chart, map_click, by, *current)

    return contextvars.copy_context().run(call)


def test_clicking_a_bar_or_a_country_sets_the_filter(curated):
    from dash import no_update

    bar = {"points": [{"customdata": ["CONS", "Construction", "5,500", 3]}]}
    result = run_click("explore-chart", bar, "ecosystem", ([], [], [], []))
    assert result[0] == ["CONS"] and all(r is no_update for r in result[1:])
    again = run_click("explore-chart", bar, "ecosystem", (["CONS"], [], [], []))
    assert again[0] == []  # clicking the only selected one clears it
    country = {"points": [{"location": "GRC", "customdata": ["EL", "Greece", "450", 1]}]}
    result = run_click("explore-map", country, "ecosystem", ([], [], [], []))
    assert result[1] == ["EL"]
    year = {"points": [{"customdata": ["2023", "2023", "2,500", 4]}]}
    result = run_click("explore-chart", year, "year", ([], [], [], []))
    assert result[4:] == ["2023", "2023"]
    junk = run_click("explore-chart", {"points": [{"customdata": [{"x": 1}]}]}, "ecosystem", ([], [], [], []))
    assert all(r is no_update for r in junk)


def test_progress_year_callback(curated):
    children, search = progress.update_year("2023", None)
    assert search == "?year=2023"
    assert "Headline figures, 2023" in text(children)
    children, search = progress.update_year("'; DROP", None)
    assert search == "" and "Ignored" in text(children)


def test_partnerships_callback(curated):
    peer, _trend, search, messages = partnerships.update_benchmark("LSP-CONS", "kind", "people_trained", "2024", None)
    assert "Construction partnership" in text(peer)
    # one naming rule on the page: the ledger names every partnership, so the benchmark does too, even in a group
    # of 3, which it flags as thin
    assert "Peer 1" not in text(peer) and "Health partnership" in text(peer)
    assert "rest on few values" in text(peer)
    assert "partnership=LSP-CONS" in search or search == ""
    assert messages is None
    peer, _trend, search, messages = partnerships.update_benchmark("NOPE", "kind", "people_trained", "2024", None)
    assert "Ignored partnership" in text(messages)


def test_data_wave_callback(curated):
    summary, search = data_page.update_wave("2023", None)
    assert search == "?wave=2023"
    assert summary == "1 rejects in the 2023 wave: 1 unknown_member."
    summary, search = data_page.update_wave("all", None)
    assert search == "" and summary.startswith("2 rejects")


def test_the_rejects_grid_gets_its_rows_from_the_server_a_block_at_a_time(curated):
    grid = by_id(data_page.layout(), data_page.ID.REJECTS)
    assert grid.rowModelType == "infinite" and not getattr(grid, "rowData", None)
    block = data_page.serve_rejects({"startRow": 0, "endRow": 100}, "all", None)
    assert block["rowCount"] == 2 and {r["reason_code"] for r in block["rowData"]} == {"unknown_member", "negative"}
    block = data_page.serve_rejects({"startRow": 0, "endRow": 100}, "2023", None)
    assert block["rowCount"] == 1 and block["rowData"][0]["reason_code"] == "unknown_member"
    asked = {"startRow": 0, "endRow": 1, "sortModel": [{"colId": "reason_code", "sort": "desc"}]}
    assert data_page.serve_rejects(asked, "all", None) == {"rowData": [block["rowData"][0]], "rowCount": 2}
    # a tampered wave is read as every wave, as in a URL; a request that is not one is ignored
    assert data_page.serve_rejects({"startRow": 0, "endRow": 100}, "1999; DROP", None)["rowCount"] == 2
    assert data_page.serve_rejects(None, "all", None) is no_update


def test_progress_page_figures(curated):
    page = progress.layout(year="2022")
    people = by_id(page, "kpi-people_trained")
    words = text(people)
    assert "2,000" in words and "matches the published figure" in words and "4 of 4 respondents reported" in words
    share = text(by_id(page, "kpi-commitments_progressing_share"))
    assert "90%" in share
    status = text(by_id(page, progress.ID.TARGET_STATUS))
    assert "Off track" in status and "no deadline" in status.lower()


# ------------------------------------------------------------------------------------------------- the shell


def test_aria_attributes_reach_the_component_as_html_writes_them():
    from dash import html

    from dashboard import ui

    props = html.Button(**ui.aria(hidden=True, label="Menu", labelledby="h", live="polite", controls="nav",
                                  expanded=False)).to_plotly_json()["props"]
    assert {k: v for k, v in props.items() if k.startswith("aria-")} == {
        "aria-hidden": "true", "aria-label": "Menu", "aria-labelledby": "h", "aria-live": "polite",
        "aria-controls": "nav", "aria-expanded": "false"}
    assert ui.aria() == {} and ui.aria(expanded=True) == {"aria-expanded": "true"}


def test_app_shell_serves_and_shows_the_synthetic_banner(curated):
    client = app_module.server.test_client()
    assert client.get("/").status_code == 200
    layout = client.get("/_dash-layout")
    assert layout.status_code == 200
    assert b"Synthetic sample" in layout.data
    assert b"nav-explore" in layout.data and b"Skip to content" in layout.data
    assert app_module.update_banner("?vintage=nope")  # falls back to current: still synthetic


def test_no_banner_on_real_data(tmp_path, monkeypatch):
    write_curated_snapshot(tmp_path, synthetic=False)
    monkeypatch.setenv(data.CURATED_ENV, str(tmp_path))
    assert app_module.synthetic_banner() == []
    assert app_module.update_banner("") == []


def test_python_m_dashboard_defaults_to_loopback_without_debug(monkeypatch):
    from dashboard import __main__ as entry

    calls = {}
    monkeypatch.setattr(app_module.app, "run", lambda **kw: calls.update(kw))
    entry.main(["--port", "8123"])
    assert calls == {"host": "127.0.0.1", "port": 8123, "debug": False}


def test_navigation_keeps_a_pinned_vintage(tmp_path, monkeypatch):
    write_curated_snapshot(tmp_path, vintage_id="20240101T000000Z-old", make_current=False)
    write_curated_snapshot(tmp_path, vintage_id=FIXTURE_VINTAGE)
    monkeypatch.setenv(data.CURATED_ENV, str(tmp_path))
    out = app_module.update_nav("/explore", "?by=year&vintage=20240101T000000Z-old")
    hrefs, actives = out[:5], out[5:]
    assert hrefs == [f"{p}?vintage=20240101T000000Z-old" for p in ("/", "/explore", "/partnerships", "/data",
                                                                    "/about")]
    assert actives == [False, True, False, False, False]
    plain = app_module.update_nav("/data", "?vintage=<script>")  # unknown: not carried along
    assert plain[:5] == ["/", "/explore", "/partnerships", "/data", "/about"] and set(plain[5:]) == {"exact"}
    current = app_module.update_nav("/", f"?vintage={FIXTURE_VINTAGE}")  # the current one needs no pin
    assert current[0] == "/"


def test_the_ledger_gives_no_delivery_verdict_from_members_reported_activity(curated):
    """LSP-CONS pledged 3,000 people and its members reported more: that is all their activity, not what they did
    through the partnership, so the page never says the pledge was reached or that nothing more is needed."""
    page = partnerships.layout()
    words = text(page)
    assert "reached" not in words and "needed" not in words.lower().replace("not needed", "")
    assert "set beside what their members reported" in words
    assert "this is context for a pledge, not its delivery" in words
    headers = [c.get("headerName") for c in by_id(page, partnerships.ID.LEDGER).columnDefs]
    assert "Members reported (all activity)" in headers and "Members reported / pledge" in headers
    assert not {"Needed per year", "Share of pledge", "People trained by members"} & set(headers)


def test_member_counts_say_by_when():
    """"of 2,990 members registered" and "3,200 members registered" read as one count that disagrees with
    itself: each says the date it is taken at."""
    page = text(progress.layout())
    assert re.search(r"of [\d,]+ members registered by 31 Dec 2024", page)
    assert re.search(r"[\d,]+ members registered by \d\d [A-Z][a-z]{2} \d{4}", page)


def test_the_headline_goals_read_as_the_partnerships_pledges(curated):
    """The 10 M and over 25 M are what the partnerships pledged ("all partnerships have pledged to provide training
    to over 10 million people"), not targets the Commission set: no page calls them targets, and Progress and About
    quote each pledge with its source."""
    for name in ("progress", "about"):
        page = PAGES[name].layout()
        # file names and the titles operators gave their input files are theirs; every sentence of ours is checked
        inputs = text(by_id(page, about.ID.INPUTS)) if name == "about" else ""
        words = text(page).replace(inputs, "").replace("targets.csv", "").replace("did not set them as targets", "")
        assert not re.search(r"\btargets?\b", words, re.IGNORECASE), name
        quotes = [c for c in walk(page) if getattr(c, "className", None) == "pledge-quotes"]
        assert len(quotes) == 1, name
        assert "The partnerships' collective pledges, as the sources word them" in text(quotes[0])
        links = [c.href for c in walk(quotes[0]) if getattr(c, "href", None)]
        assert links and all(href.startswith("https://") for href in links), name
    assert "the Commission did not set them as targets" in text(by_id(about.layout(), about.ID.RULES))
    assert "60% of adults" in text(by_id(about.layout(), "about-context-goal"))


def test_the_partnerships_count_matches_the_reference_table_and_says_why_it_differs_from_the_published_one(curated):
    """Every partnership the sources place in time is counted; a published count larger than the table says how many
    the sources do not name."""
    launches = pd.DataFrame({"as_of": pd.to_datetime(["2022-01-01", "2023-01-01", "2022-06-01"]),
                             "kind": ["large-scale", "large-scale", "regional"], "partnerships": [1, 2, 1]})
    published = pd.DataFrame({"as_of": pd.to_datetime(["2024-03-21", "2025-05-19"]),
                              "large_scale_partnerships": [2.0, 2.0], "regional_partnerships": [None, 6.0]})
    caption = progress.partnerships_caption(launches, {"regional": 1}, published)
    assert "2 large-scale, 1 regional." in caption and "Named but placed in no year: 1 regional." in caption
    assert "Published May 2025: 2 large-scale (the same count)." in caption
    assert "Published May 2025: 6 regional; the sources name 2 of them, so the other 4 are not in the table." in caption

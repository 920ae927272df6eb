"""Explore in headless Chromium: filters drive the chart and the URL, the URL restores the view, the EU map draws
from the app's own geometry, and the controls work from the keyboard with a visible focus."""

import re
from urllib.parse import parse_qs, urlsplit

import pytest
from playwright.sync_api import TimeoutError as PlaywrightTimeoutError

from tests.browser.conftest import WAIT_MS, PageProbe, save_screenshots, wait_for_dash

pytestmark = pytest.mark.browser

SELECTS = ("explore-indicator", "explore-by", "explore-year-from", "explore-year-to")
FILTER_GROUPS = ("explore-ecosystem", "explore-country", "explore-partnership", "explore-type")
# dbc.Select adds a hidden, disabled empty option as its placeholder: never a choice.
ENABLED_OPTIONS = "options => options.filter(o => !o.disabled).map(o => o.value)"

# What a person sees of the selection: each select's value, each filter group's ticked boxes and summary line,
# the chosen view, and the chart's title and subtitle.
_VIEW = """([selects, filterGroups]) => {
    const view = {};
    for (const id of selects) view[id] = document.getElementById(id).value;
    for (const id of filterGroups) {
        const ticked = [...document.querySelectorAll(`#${id} input[type=checkbox]:checked`)].map(box => box.value);
        const summary = document.getElementById(`${id}-toggle`);
        view[id] = ticked.join(',') + ' | ' + (summary ? summary.innerText.trim() : '');
    }
    view.view = [...document.querySelectorAll('#explore-view input[type=radio]:checked')].map(r => r.value).join();
    const chart = document.getElementById('explore-chart');
    view.chart_heading = [...chart.querySelectorAll('.gtitle, .gtitle-subtitle')].map(t => t.textContent).join(' | ');
    return view;
}"""


def explore_view(probe: PageProbe) -> dict[str, str]:
    return probe.page.evaluate(_VIEW, [list(SELECTS), list(FILTER_GROUPS)])


def url_query(probe: PageProbe) -> dict[str, list[str]]:
    return parse_qs(urlsplit(probe.page.url).query)


def tick_first_box(probe: PageProbe, group_id: str) -> tuple[str, str]:
    """Open a filter group's disclosure, tick its first box; return the box's value and label."""
    page = probe.page
    details = page.locator(f"#{group_id}-details")
    if not details.evaluate("d => d.open"):
        page.locator(f"#{group_id}-toggle").click()
    box = page.locator(f"#{group_id} input[type=checkbox]").first
    box.wait_for(state="visible", timeout=WAIT_MS)
    value = box.get_attribute("value")
    label = page.locator(f"#{group_id} label").first.inner_text().strip()
    box.check()
    return value, label


def test_filters_update_the_chart_and_the_url_and_the_url_restores_the_view(app_page: PageProbe):
    page = app_page.page
    app_page.open("/explore")
    initial = explore_view(app_page)

    # An indicator other than the default.
    indicators = page.locator("#explore-indicator option").evaluate_all(ENABLED_OPTIONS)
    indicator = next(value for value in indicators if value != initial["explore-indicator"])
    page.select_option("#explore-indicator", indicator)
    page.wait_for_url(re.compile(rf"[?&]indicator={re.escape(indicator)}(&|$)"), timeout=WAIT_MS)
    wait_for_dash(page)
    after_indicator = explore_view(app_page)
    assert after_indicator["chart_heading"] != initial["chart_heading"]

    # A breakdown other than the default, then a Member State filter from the multi-select.
    breakdowns = page.locator("#explore-by option").evaluate_all(ENABLED_OPTIONS)
    by = next(value for value in breakdowns if value not in {initial["explore-by"], "member_state"})
    page.select_option("#explore-by", by)
    page.wait_for_url(re.compile(rf"[?&]by={re.escape(by)}(&|$)"), timeout=WAIT_MS)
    wait_for_dash(page)
    country, country_label = tick_first_box(app_page, "explore-country")
    page.wait_for_url(re.compile(rf"[?&]country={re.escape(country)}(&|$)"), timeout=WAIT_MS)
    wait_for_dash(page)
    filtered = explore_view(app_page)
    assert filtered["chart_heading"] != after_indicator["chart_heading"]
    assert country_label in filtered["chart_heading"], filtered
    assert filtered["explore-country"].startswith(f"{country} | "), filtered
    assert country_label in filtered["explore-country"], filtered
    query = url_query(app_page)
    assert (query["indicator"], query["by"], query["country"]) == ([indicator], [by], [country])

    # The copied URL, opened afresh (nothing kept in the page or its storage), shows the same view.
    copied = page.url
    page.evaluate("() => { localStorage.clear(); sessionStorage.clear(); }")
    app_page.open(copied.removeprefix(app_page.origin))
    assert page.url == copied
    assert explore_view(app_page) == filtered
    app_page.assert_clean()


# The rows' labels in display order (the label column may be pinned left; the pinned total row sits outside the body).
_GRID_ROWS = """() => [...document.querySelectorAll('#explore-grid .ag-body .ag-row')]
    .filter(row => row.querySelector('[col-id=label]'))
    .sort((a, b) => Number(a.getAttribute('row-index')) - Number(b.getAttribute('row-index')))
    .map(row => row.querySelector('[col-id=label]').textContent.trim())"""


def test_sorting_the_table_goes_into_the_url_and_the_url_restores_it(app_page: PageProbe):
    page = app_page.page
    app_page.open("/explore?by=member_state&view=table")
    page.locator("#explore-grid .ag-row").first.wait_for(timeout=WAIT_MS)
    by_value = page.evaluate(_GRID_ROWS)
    # One click on the Member State header sorts A to Z; the permalink follows.
    page.locator("#explore-grid .ag-header-cell[col-id=label] .ag-header-cell-label").click()
    page.wait_for_url(re.compile(r"[?&]sort=label(&|$)"), timeout=WAIT_MS)
    wait_for_dash(page)
    by_name = page.evaluate(_GRID_ROWS)
    assert by_name == sorted(by_name) and by_name != by_value
    # The copied URL opens on the same order, the header showing its sort.
    copied = page.url
    app_page.open(copied.removeprefix(app_page.origin))
    page.locator("#explore-grid .ag-row").first.wait_for(timeout=WAIT_MS)
    assert page.evaluate(_GRID_ROWS) == by_name
    header = page.locator("#explore-grid .ag-header-cell[col-id=label]")
    assert header.get_attribute("aria-sort") == "ascending"
    app_page.assert_clean()


def test_the_table_is_built_when_shown_for_the_selection_made_meanwhile(app_page: PageProbe):
    # The chart view leaves the hidden table empty; showing the table builds it for the selection of the moment.
    page = app_page.page
    app_page.open("/explore?by=member_state")
    assert page.locator("#explore-grid .ag-row").count() == 0
    page.select_option("#explore-indicator", "investment_eur")
    page.wait_for_url(re.compile(r"[?&]indicator=investment_eur(&|$)"), timeout=WAIT_MS)
    wait_for_dash(page)
    page.locator("#explore-view label", has_text="Table").click()
    page.wait_for_url(re.compile(r"[?&]view=table(&|$)"), timeout=WAIT_MS, wait_until="commit")
    page.locator("#explore-grid .ag-row").first.wait_for(timeout=WAIT_MS)
    wait_for_dash(page)
    names = page.evaluate(_GRID_ROWS)  # the rows drawn (the grid draws those in view)
    assert names[:3] == ["Belgium", "Bulgaria", "Czechia"], names  # every Member State, in protocol order
    pinned = page.locator("#explore-grid .ag-floating-top .ag-row [col-id=label]").first.text_content()
    assert pinned is not None and pinned.strip() == "EU-27 (total)"
    caption = page.locator("#explore-grid-caption").text_content() or ""
    assert caption.startswith("Investment"), caption
    app_page.assert_clean()


# The bar chart as drawn: its title, its bars' categories and any note written across it (the placeholder's).
_CHART_STATE = """() => {
    const graph = document.querySelector('#explore-chart .js-plotly-plot');
    const bars = graph && graph._fullData ? graph._fullData.filter(t => t.type === 'bar') : [];
    const notes = [...document.querySelectorAll('#explore-chart .annotation-text')].map(t => t.textContent);
    return {title: (document.querySelector('#explore-chart .gtitle') || {}).textContent || '',
            categories: bars.reduce((n, t) => n + (t.y || t.x || []).length, 0), notes};
}"""


def test_the_chart_is_drawn_when_shown_for_the_selection_made_meanwhile(app_page: PageProbe):
    # The table view leaves the hidden chart as a placeholder; showing the chart draws it for the selection of the
    # moment (not the one the page opened with).
    page = app_page.page
    app_page.open("/explore?by=member_state&view=table")
    page.locator("#explore-grid .ag-row").first.wait_for(timeout=WAIT_MS)
    assert page.evaluate(_CHART_STATE)["notes"] == ["Loading the chart…"]
    page.select_option("#explore-indicator", "investment_eur")
    page.wait_for_url(re.compile(r"[?&]indicator=investment_eur(&|$)"), timeout=WAIT_MS)
    wait_for_dash(page)
    page.locator("#explore-view label", has_text="Chart").click()
    page.wait_for_url(lambda url: "view=table" not in url, timeout=WAIT_MS, wait_until="commit")
    page.wait_for_function(f"() => ({_CHART_STATE})().categories > 0", timeout=WAIT_MS)
    wait_for_dash(page)
    drawn = page.evaluate(_CHART_STATE)
    assert drawn["title"].startswith("Investment") and "Member State" in drawn["title"], drawn
    assert "Loading the chart…" not in drawn["notes"] and drawn["categories"] >= 20, drawn
    app_page.assert_clean()


_MAP_STATE = """() => {
    const graph = document.querySelector('#explore-map .js-plotly-plot');
    const trace = graph && graph._fullData && graph._fullData.find(t => t.type === 'choropleth');
    const drawn = [...document.querySelectorAll('#explore-map path.choroplethlocation')]
        .filter(path => (path.getAttribute('d') || '').length > 10);
    const locations = trace ? [...trace.locations] : [];
    // plotly.js binds each drawn shape to its calcdata point, which carries the location code (loc).
    const drawnCodes = new Set(drawn.map(path => path.__data__ && path.__data__.loc));
    return {locations, drawn: drawn.length, not_drawn: locations.filter(code => !drawnCodes.has(code)),
            title: (document.querySelector('#explore-map .gtitle') || {}).textContent || ''};
}"""


def test_the_eu_map_draws_every_member_state_from_local_geometry(app_page: PageProbe):
    page = app_page.page
    app_page.open("/explore")
    page.locator("#explore-view label", has_text="map").click()
    page.wait_for_url(re.compile(r"[?&]view=map(&|$)"), timeout=WAIT_MS)
    try:
        page.wait_for_function(
            "() => document.querySelectorAll('#explore-map path.choroplethlocation').length > 0", timeout=WAIT_MS
        )
    except PlaywrightTimeoutError:
        pytest.fail(f"the map drew no country within {WAIT_MS} ms; {app_page.problems()}")
    wait_for_dash(page)
    save_screenshots(page, "explore-map")
    state = page.evaluate(_MAP_STATE)
    # Every Member State with data has its shape drawn: a file lacking one (Cyprus, Malta) would leave it out.
    assert len(state["locations"]) >= 20, state
    assert state["not_drawn"] == [], state
    assert state["drawn"] == len(state["locations"]), state
    geometry = [url for url in app_page.same_origin_requests if "/assets/topojson/" in url]
    assert geometry, "the map fetched no geometry from the app's own /assets/topojson/"
    app_page.assert_clean()


# Mark every control a person uses to set the view: visible, enabled form controls in <main>, outside the chart's
# own toolbar and the grid (which has its own keyboard model). A radio group is one stop, as in every browser;
# controls in a closed <details> are reached through its <summary>, which counts itself.
_MARK_CONTROLS = """() => {
    const main = document.querySelector('main') || document.body;
    // checkVisibility() is false inside a closed <details> too (its content is not rendered until opened).
    const shown = e => e.checkVisibility();
    const controls = [...main.querySelectorAll(
        'select, summary, textarea, button.dash-dropdown, [role=combobox], ' +
        'input:is([type=radio], [type=checkbox], [type=text], [type=number], [type=search])')]
        .filter(e => !e.disabled && !e.closest('.js-plotly-plot, .ag-root-wrapper, .dash-dropdown-content'))
        .filter(e => shown(e) || e.type === 'radio');
    return controls.map((e, i) => {
        const key = e.type === 'radio' ? `radio group ${e.name}` : (e.id || `control ${i}`);
        e.setAttribute('data-main-control', key);
        const label = e.labels && e.labels.length ? e.labels[0].innerText : (e.getAttribute('aria-label') || '');
        return `${key} (${e.tagName.toLowerCase()} "${label.trim().slice(0, 40)}")`;
    });
}"""

# Tag the focused element and describe how it looks, to compare with how it looks once focus has moved on.
_LOOK = """e => { const s = getComputedStyle(e);
    return [s.outlineStyle, s.outlineWidth, s.outlineColor, s.boxShadow, s.borderColor].join(' / '); }"""
_FOCUSED = (
    """(step) => {
    const element = document.activeElement;
    if (!element || element === document.body || element === document.documentElement) return null;
    if (element.hasAttribute('data-focus-step')) return {cycled: true};
    element.setAttribute('data-focus-step', String(step));
    const look = """
    + _LOOK
    + """;
    return {id: element.id, tag: element.tagName.toLowerCase(), text: (element.innerText || '').trim().slice(0, 40),
            control: element.getAttribute('data-main-control'), look: look(element),
            parent_look: element.parentElement ? look(element.parentElement) : ''};
}"""
)
_UNFOCUSED = (
    """(step) => {
    const element = document.querySelector(`[data-focus-step="${step}"]`);
    if (!element) return null;  // a transient element (an open menu's search box) that has since gone
    const look = """
    + _LOOK
    + """;
    return {look: look(element), parent_look: element.parentElement ? look(element.parentElement) : ''};
}"""
)
MAX_TABS = 80


def test_tab_reaches_every_main_control_with_a_visible_focus(app_page: PageProbe):
    page = app_page.page
    app_page.open("/explore")
    controls = page.evaluate(_MARK_CONTROLS)
    assert len(controls) >= len(SELECTS), controls
    stops = []
    for step in range(MAX_TABS):
        page.keyboard.press("Tab")
        focused = page.evaluate(_FOCUSED, step)
        if focused is None:
            continue
        if focused.get("cycled"):  # focus came round to the first stop again: every stop has been seen
            break
        stops.append({"step": step, **focused})
    page.evaluate("() => document.activeElement && document.activeElement.blur()")
    invisible = []
    for stop in stops:
        unfocused = page.evaluate(_UNFOCUSED, stop["step"])
        if unfocused is None:
            continue
        if stop["look"] == unfocused["look"] and stop["parent_look"] == unfocused["parent_look"]:
            invisible.append(stop)

    reached = {stop["control"] for stop in stops if stop["control"]}
    unreached = [control for control in controls if control.split(" (")[0] not in reached]
    assert set(SELECTS) <= reached, f"main selects not reached by Tab; stops: {stops}"
    assert unreached == [], f"controls not reached by Tab: {unreached}; stops: {stops}"
    assert invisible == [], f"focus not visible on: {invisible}"
    app_page.assert_clean()


def test_lines_over_time_and_the_map_year_control(app_page: PageProbe):
    """The lines view draws the total and the largest categories across the years; the map's year control draws one
    year and both land in the URL."""
    page = app_page.page
    app_page.open("/explore?by=member_state")
    page.locator("#explore-view label", has_text="Over time").click()
    page.wait_for_url(re.compile(r"[?&]view=lines(&|$)"), timeout=WAIT_MS)
    page.wait_for_function(
        "() => document.querySelectorAll('#explore-lines .scatterlayer .trace').length >= 6", timeout=WAIT_MS)
    wait_for_dash(page)
    save_screenshots(page, "explore-lines")
    legend = page.locator("#explore-lines .legendtext").all_text_contents()
    assert legend[0] == "EU-27 (total)" and len(legend) == 6, legend
    # Each year at its own place along the axis (a year-like string in a shape once collapsed them onto one).
    xs = page.evaluate("""() => [...document.querySelectorAll('#explore-lines .scatterlayer .trace')[0]
        .querySelectorAll('path.point')].map(p => Math.round(p.getBoundingClientRect().x))""")
    assert len(set(xs)) == 3 and xs == sorted(xs), xs
    assert "EU-27 (total) (2022:" in page.locator("#explore-lines-summary").inner_text()
    page.locator("#explore-view label", has_text="EU map").click()
    page.wait_for_function(
        "() => document.querySelectorAll('#explore-map path.choroplethlocation').length > 0", timeout=WAIT_MS)
    page.select_option("#explore-map-year", "2023")
    page.wait_for_url(re.compile(r"[?&]year=2023(&|$)"), timeout=WAIT_MS)
    page.wait_for_function(
        "() => ((document.querySelector('#explore-map .gtitle') || {}).textContent || '').endsWith(', 2023')",
        timeout=WAIT_MS)
    wait_for_dash(page)
    save_screenshots(page, "explore-map-2023")
    assert url_query(app_page)["year"] == ["2023"]
    app_page.assert_clean()

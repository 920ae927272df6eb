"""The dashboard for people, in headless Chromium: the Explore map switch lays the page out, the phone layout
collapses its navigation and never scrolls sideways, and the browser's Back and Forward move between views."""

import re

import pytest

from tests.browser.conftest import WAIT_MS, PageProbe, axe_violations, save_screenshots, wait_for_dash

pytestmark = [pytest.mark.browser, pytest.mark.timeout(120)]

PHONE = {"width": 390, "height": 844}

_BOX = "id => { const b = document.getElementById(id).getBoundingClientRect(); return [b.top, b.bottom, b.height]; }"


@pytest.mark.parametrize("attempt", range(3))
def test_switching_to_the_map_gives_it_room_and_the_export_bar_stays_below(app_page: PageProbe, attempt: int):
    page = app_page.page
    app_page.open("/explore")
    page.locator("#explore-view label", has_text="EU map").click()
    page.wait_for_url(re.compile(r"[?&]view=map(&|$)"), timeout=WAIT_MS)
    page.wait_for_function(
        "() => document.querySelectorAll('#explore-map path.choroplethlocation').length > 0", timeout=WAIT_MS
    )
    wait_for_dash(page)
    _top, graph_bottom, graph_height = page.evaluate(_BOX, "explore-map")
    svg_bottom = page.evaluate(
        "() => document.querySelector('#explore-map .main-svg').getBoundingClientRect().bottom")
    assert graph_height > 0, "the map's container collapsed to zero height"
    assert svg_bottom <= graph_bottom + 1, f"the map ({svg_bottom}) overflows its container ({graph_bottom})"
    caption_top = page.evaluate(_BOX, "explore-map-summary")[0]
    assert caption_top >= graph_bottom - 1, "the caption sits behind the map"
    bar_top = page.evaluate("() => document.querySelector('#explore-page .export-bar').getBoundingClientRect().top")
    assert bar_top >= graph_bottom - 1, f"the export bar ({bar_top}) overlaps the map (bottom {graph_bottom})"
    if attempt == 0:
        save_screenshots(page, "explore-map-after-switch")
    app_page.assert_clean()


def _checked_view(page) -> str:
    return page.evaluate(
        "() => [...document.querySelectorAll('#explore-view input[type=radio]:checked')].map(r => r.value).join()")


def test_back_and_forward_move_between_views(app_page: PageProbe):
    page = app_page.page
    app_page.open("/partnerships")
    app_page.open("/explore")
    page.locator("#explore-view label", has_text="Table").click()
    page.wait_for_url(re.compile(r"[?&]view=table(&|$)"), timeout=WAIT_MS, wait_until="commit")
    wait_for_dash(page)
    # wait for the URL only (a loaded machine can hold the load event past the timeout); wait_for_dash then waits
    # for the page itself
    page.evaluate("() => history.back()")
    page.wait_for_url(re.compile(r"/explore$"), timeout=WAIT_MS, wait_until="commit")
    wait_for_dash(page)
    page.wait_for_function("() => !document.querySelector('#explore-view-pane-chart').hidden", timeout=WAIT_MS)
    assert _checked_view(page) == "chart"
    page.evaluate("() => history.forward()")
    page.wait_for_url(re.compile(r"[?&]view=table(&|$)"), timeout=WAIT_MS, wait_until="commit")
    wait_for_dash(page)
    page.wait_for_function("() => !document.querySelector('#explore-view-pane-table').hidden", timeout=WAIT_MS)
    assert _checked_view(page) == "table"
    # Back twice from the table leaves Explore for the page before it, still inside the app.
    page.evaluate("() => history.back()")
    page.wait_for_url(re.compile(r"/explore$"), timeout=WAIT_MS, wait_until="commit")
    wait_for_dash(page)
    page.evaluate("() => history.back()")
    page.wait_for_url(re.compile(r"/partnerships"), timeout=WAIT_MS, wait_until="commit")
    wait_for_dash(page)
    app_page.assert_clean()


PAGES = ("/", "/explore", "/partnerships", "/data", "/about")


@pytest.fixture
def phone_page(app_page: PageProbe) -> PageProbe:
    app_page.page.set_viewport_size(PHONE)
    return app_page


@pytest.mark.parametrize("path", PAGES)
def test_on_a_phone_the_navigation_folds_and_the_page_never_scrolls_sideways(phone_page: PageProbe, path: str):
    page = phone_page.page
    phone_page.open(path)
    nav_height = page.evaluate("() => document.querySelector('header nav').getBoundingClientRect().height")
    assert nav_height <= 72, f"the folded navigation takes {nav_height} of {PHONE['height']} px"
    overflow = page.evaluate("() => document.documentElement.scrollWidth - document.documentElement.clientWidth")
    assert overflow <= 0, f"the page scrolls {overflow} px sideways at {PHONE['width']} px"
    toggler = page.locator("#navbar-toggler")
    assert toggler.get_attribute("aria-expanded") == "false"
    assert not page.locator("#main-nav").is_visible()
    toggler.focus()
    page.keyboard.press("Enter")
    page.wait_for_function("() => document.getElementById('navbar-toggler').getAttribute('aria-expanded') === 'true'",
                           timeout=WAIT_MS)
    page.locator("#main-nav").wait_for(state="visible", timeout=WAIT_MS)
    page.keyboard.press("Space")
    page.wait_for_function("() => document.getElementById('navbar-toggler').getAttribute('aria-expanded') === 'false'",
                           timeout=WAIT_MS)
    name = "progress" if path == "/" else path.strip("/")
    save_screenshots(page, f"{name}-phone")
    phone_page.assert_clean()


# Each page's main control, and a bound on the Tab presses to reach it and to reach the footer (past every grid):
# a grid is one stop, its cells are walked with the arrow keys.
MAIN_CONTROLS = {
    "/": ("progress-year", 20),
    "/explore": ("explore-indicator", 20),
    "/partnerships": ("partnerships-year", 25),
    "/data": ("data-wave", 40),
    "/about": (None, 0),
}
MAX_TABS_TO_FOOTER = 80

_FOCUS = """() => {
    const element = document.activeElement;
    return {id: element ? element.id : '', in_footer: !!(element && element.closest('footer')),
            in_grid: !!(element && element.closest('.ag-root-wrapper'))};
}"""


@pytest.mark.parametrize("path", PAGES)
def test_tab_reaches_the_main_control_and_gets_past_every_grid_in_a_few_presses(app_page: PageProbe, path: str):
    page = app_page.page
    app_page.open(path)
    target, bound = MAIN_CONTROLS[path]
    reached_target = None
    grid_stops = []
    for press in range(1, MAX_TABS_TO_FOOTER + 1):
        page.keyboard.press("Tab")
        focus = page.evaluate(_FOCUS)
        if target and reached_target is None and focus["id"] == target:
            reached_target = press
        if focus["in_grid"]:
            grid_stops.append(press)
        if focus["in_footer"]:
            break
    else:
        pytest.fail(f"{MAX_TABS_TO_FOOTER} Tab presses did not reach the footer of {path}")
    if target:
        assert reached_target is not None and reached_target <= bound, (
            f"#{target} reached after {reached_target} presses (bound {bound})")
    grids = page.locator(".ag-root-wrapper").count()
    assert len(grid_stops) <= 2 * grids, f"{len(grid_stops)} Tab stops inside {grids} grid(s) on {path}"
    app_page.assert_clean()


@pytest.mark.parametrize("width", [1366, PHONE["width"]])
@pytest.mark.parametrize("path", PAGES)
def test_no_serious_accessibility_violation_on_desktop_and_phone(app_page: PageProbe, path: str, width: int):
    page = app_page.page
    page.set_viewport_size({"width": width, "height": 844 if width < 500 else 768})
    app_page.open(path)
    violations = axe_violations(page)
    assert violations == [], f"{path} at {width} px: {violations}"


def test_printing_lays_out_every_row_of_every_grid_and_long_names_wrap(app_page: PageProbe):
    page = app_page.page
    app_page.open("/partnerships")
    grid = "#partnerships-ledger" if page.locator("#partnerships-ledger").count() else ".ag-theme-alpine"
    wrapped = page.evaluate(
        "() => [...document.querySelectorAll('.ag-cell-wrap-text')].some(c => c.getBoundingClientRect().height > 30)")
    assert wrapped, "no grid cell wraps its text onto a second line"
    page.evaluate("() => window.dispatchEvent(new Event('beforeprint'))")
    page.emulate_media(media="print")
    page.wait_for_timeout(500)
    counts = page.evaluate("""(selector) => [...document.querySelectorAll(selector)].map(el => {
        const api = window.dash_ag_grid.getApi(el.id);
        return [el.id, api.getDisplayedRowCount(), el.querySelectorAll('.ag-center-cols-container .ag-row').length];
    })""", grid)
    assert counts and all(shown == total for _id, total, shown in counts), counts
    page.emulate_media(media="screen")
    page.evaluate("() => window.dispatchEvent(new Event('afterprint'))")
    app_page.assert_clean()


_BARS = """() => [...document.querySelectorAll('#explore-chart .point path')].map(p => p.style.fill || p.getAttribute('style'))"""


def test_clicking_a_bar_highlights_it_among_the_others_instead_of_collapsing_the_chart(app_page: PageProbe):
    page = app_page.page
    app_page.open("/explore?by=ecosystem")
    page.wait_for_function("() => document.querySelectorAll('#explore-chart .point path').length >= 3",
                           timeout=WAIT_MS)
    before = page.evaluate(_BARS)
    assert len(before) >= 3, before
    box = page.locator("#explore-chart .point path").nth(1).bounding_box()
    page.mouse.click(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    page.wait_for_url(re.compile(r"[?&]ecosystem="), timeout=WAIT_MS)
    wait_for_dash(page)
    page.wait_for_function("() => new Set((" + _BARS + ")()).size === 2", timeout=WAIT_MS)
    after = page.evaluate(_BARS)
    assert len(after) == len(before), f"the chart went from {len(before)} bars to {len(after)}"
    # the same choice is a ticked box in the Member State / ecosystem filter group: the keyboard path to it
    ticked = page.evaluate("() => [...document.querySelectorAll('#explore-ecosystem input:checked')].length")
    assert ticked == 1
    app_page.assert_clean()

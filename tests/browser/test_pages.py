"""Every page in headless Chromium: renders with its own title, cleanly, offline, accessibly, with the banner."""

import pytest

from tests.browser.conftest import PageProbe, axe_violations, save_screenshots

pytestmark = pytest.mark.browser

# path -> a word its document title must contain (the page's name in the navigation)
PAGES = {
    "/": "Progress",
    "/explore": "Explore",
    "/partnerships": "Partnership",
    "/data": "Data",
    "/about": "About",
}
PAGE_NAMES = {
    "/": "progress",
    "/explore": "explore",
    "/partnerships": "partnerships",
    "/data": "data",
    "/about": "about",
}

# The innermost visible elements that mention the synthetic sample, and where they sit on the first screen.
_SYNTHETIC_NOTICES = """() => {
    const mentions = el => /synthetic/i.test(el.textContent);
    return [...document.body.querySelectorAll('*')]
        .filter(el => mentions(el) && ![...el.children].some(mentions))
        .map(el => {
            const box = el.getBoundingClientRect();
            const style = getComputedStyle(el);
            return {
                text: el.textContent.trim().slice(0, 200),
                on_first_screen: box.width > 0 && box.height > 0 && box.top < innerHeight && box.bottom > 0,
                shown: style.visibility !== 'hidden' && style.display !== 'none' && Number(style.opacity) > 0,
            };
        });
}"""

# Bootstrap's own rule for .visually-hidden: present only when bootstrap.min.css has loaded and applied.
_BOOTSTRAP_APPLIED = """() => {
    const probe = document.createElement('span');
    probe.className = 'visually-hidden';
    document.body.appendChild(probe);
    const style = getComputedStyle(probe);
    const applied = style.position === 'absolute' && style.width === '1px';
    probe.remove();
    return applied;
}"""

_STYLESHEETS = "() => [...document.styleSheets].map(sheet => sheet.href).filter(Boolean)"


@pytest.fixture(scope="module")
def titles_seen() -> dict[str, str]:
    """Document titles of the pages opened so far in this module, so each page can be compared with the others."""
    return {}


@pytest.mark.parametrize("path", PAGES)
def test_page_renders_cleanly_offline_and_accessibly(app_page: PageProbe, path: str, titles_seen: dict[str, str]):
    app_page.open(path)
    save_screenshots(app_page.page, PAGE_NAMES[path])
    # Collected, not asserted one by one, so one run reports everything that is wrong with the page.
    failures = {}

    title = app_page.page.title()
    if PAGES[path].lower() not in title.lower():
        failures["document title does not name the page"] = title
    same_title = [other for other, other_title in titles_seen.items() if other_title == title]
    if same_title:
        failures["document title shared with"] = same_title
    titles_seen[path] = title

    notices = app_page.page.evaluate(_SYNTHETIC_NOTICES)
    if not any(notice["on_first_screen"] and notice["shown"] for notice in notices):
        failures["no synthetic banner visible on the first screen"] = notices

    violations = axe_violations(app_page.page)
    if violations:
        failures["axe serious/critical violations"] = violations

    failures.update(app_page.problems())
    assert failures == {}, f"{path}: {failures}"


def test_bootstrap_loads_first_and_applies(app_page: PageProbe):
    app_page.open("/about")
    stylesheets = [href.split("?")[0] for href in app_page.page.evaluate(_STYLESHEETS)]
    app_stylesheets = [href for href in stylesheets if href.startswith(app_page.origin + "/assets/")]
    # Anything linked before Bootstrap would lose every tie against it (see dashboard/assets/vendor/LICENSES.md).
    assert app_stylesheets[:1] == [app_page.origin + "/assets/vendor/bootstrap/bootstrap.min.css"], stylesheets
    assert app_page.page.evaluate(_BOOTSTRAP_APPLIED)
    app_page.assert_clean()

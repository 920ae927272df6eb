"""The component zoo of tests/test_security_headers.py in headless Chromium: no CSP violation while the charts
draw, a callback answers, a file downloads and the chart toolbar exports a PNG."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import dash
import pytest
from playwright.sync_api import Browser, expect
from werkzeug.serving import make_server

from tests.test_security_headers import _zoo_app


@pytest.fixture(scope="module")
def zoo_url() -> Iterator[str]:
    zoo: dash.Dash = _zoo_app()
    server = make_server("127.0.0.1", 0, zoo.server, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(timeout=10)


@pytest.mark.browser
def test_dash_works_under_the_policy_in_chromium(zoo_url: str, browser: Browser) -> None:
    problems: list[str] = []
    page = browser.new_page(accept_downloads=True)
    try:
        page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: problems.append(str(e)))
        page.add_init_script(
            "document.addEventListener('securitypolicyviolation', e => "
            "console.error('CSP violation: ' + e.violatedDirective + ' ' + e.blockedURI))"
        )
        page.goto(zoo_url + "/")
        for selector in ("#zoo-bar .main-svg", "#zoo-map path.choroplethlocation", "#zoo-line .main-svg",
                         "#zoo-grid .ag-row"):
            page.wait_for_selector(selector, timeout=20_000)
        # locator assertions, not wait_for_function: a string predicate may be eval'd in the page, which the CSP
        # under test rightly refuses
        expect(page.locator("#zoo-out")).to_have_text("chose x", timeout=20_000)
        page.click("#zoo-btn")
        expect(page.locator("#zoo-btn")).to_have_attribute("title", "pressed", timeout=20_000)
        with page.expect_download(timeout=20_000) as csv_download:
            page.click("#zoo-dl-btn")
        assert csv_download.value.suggested_filename == "zoo.csv"
        page.hover("#zoo-bar .nsewdrag")
        with page.expect_download(timeout=20_000) as png_download:
            page.locator("#zoo-bar .modebar-btn[data-title='Download plot as a PNG']").click()
        assert png_download.value.suggested_filename.endswith(".png")
        page.set_viewport_size({"width": 480, "height": 800})  # collapsed navbar: the toggler's SVG icon
        page.wait_for_timeout(300)
    finally:
        page.close()
    assert problems == [], problems

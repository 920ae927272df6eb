"""Script payloads in the URL and markup in organisation names, served by gunicorn over the hostile snapshot of
tests/test_injection.py, execute nothing and inject no element in headless Chromium."""

from __future__ import annotations

import logging
import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser

from tests.test_injection import PAYLOADS, REPO, hostile_snapshot

log = logging.getLogger(__name__)


@pytest.fixture(scope="module")
def snapshot(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return hostile_snapshot(tmp_path_factory.mktemp("injection"))


@pytest.fixture
def served(snapshot: Path, tmp_path: Path) -> Iterator[str]:
    """The production entry point under gunicorn on a loopback port, over the hostile snapshot."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    log_file = (tmp_path / "gunicorn.log").open("wb")
    process = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "dashboard.wsgi:server", "--bind", f"127.0.0.1:{port}", "--workers", "1",
         "--threads", "4", "--no-control-socket"],
        cwd=REPO, stdout=log_file, stderr=subprocess.STDOUT,
        env={**os.environ, "PACT_CURATED_DIR": str(snapshot), "DASH_DISABLE_VERSION_CHECK": "true"},
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90
        while True:
            try:
                with urllib.request.urlopen(url + "/", timeout=5) as response:
                    if response.status == 200:
                        break
            except OSError:
                if process.poll() is not None or time.monotonic() > deadline:
                    pytest.fail("gunicorn did not start: " + (tmp_path / "gunicorn.log").read_text()[-3000:])
                time.sleep(0.25)
        yield url
    finally:
        process.terminate()
        process.wait(timeout=20)
        log_file.close()


@pytest.mark.browser
def test_script_payloads_render_inert_in_chromium(served: str, browser: Browser) -> None:
    from urllib.parse import quote

    scripts = [p for p in PAYLOADS if "pwned" in p]
    urls = [f"/explore?indicator={quote(p)}&country={quote(p)}" for p in scripts]
    urls += [f"/partnerships?partnership={quote(scripts[0])}", f"/data?wave={quote(scripts[1])}",
             f"/?year={quote(scripts[0])}", f"/about?vintage={quote(scripts[1])}", "/data"]
    checked = 0
    dialogs: list[str] = []
    page = browser.new_page()
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    try:
        for url in urls:
            page.goto(served + url)
            page.wait_for_selector("#_pages_content > *", timeout=20_000)
            page.wait_for_timeout(300)
            assert page.evaluate("window.__pwned === undefined"), url
            assert page.locator("img[src='x']").count() == 0, url
            assert page.locator("#_pages_content script").count() == 0, url
            assert "Evil <b>Org</b>" not in page.content()
            checked += 1
    finally:
        page.close()
    assert dialogs == []
    log.info("browser: %d hostile URLs rendered, nothing executed or injected", checked)
    assert checked == len(urls)

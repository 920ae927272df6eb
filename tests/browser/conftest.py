"""Headless-browser harness: one curated snapshot, one gunicorn server and one Chromium for the whole session.

The app is served the way production serves it (the Procfile's gunicorn command, bound to a free loopback port)
over a snapshot that the real pipeline builds from the bundled sample. Chromium is Debian's `/usr/bin/chromium`
driven by Playwright; `playwright install` is never needed. Every page records its console errors, uncaught
exceptions, failed same-origin responses and every request to another origin (aborted, so nothing leaves the
machine), and the tests assert on them.
"""

from __future__ import annotations

import contextlib
import importlib.util
import logging
import os
import re
import shlex
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import Browser, ConsoleMessage, Page, Request, Response, Route, sync_playwright

logger = logging.getLogger(__name__)

REPO = Path(__file__).resolve().parents[2]
AXE_JS = Path(__file__).parent / "vendor" / "axe.min.js"
VIEWPORT = {"width": 1366, "height": 768}
PIPELINE_TIMEOUT_S = 240
SERVER_START_TIMEOUT_S = 90
WAIT_MS = 20_000  # the upper bound of any single wait on a page
AXE_TAGS = ["wcag2a", "wcag2aa", "wcag21aa"]


# One Playwright and one Chromium for the whole session: Playwright's sync API refuses a second instance while
# one is running in the same process, so every browser test takes this fixture.
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",  # root in a container: Chromium's sandbox cannot start
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    # launch() gives every session a fresh, throw-away user-data dir (Playwright creates and deletes it), so no
    # profile, cache or cookie from an earlier run can hide a problem.
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, timeout=60_000)
        try:
            yield chromium
        finally:
            chromium.close()


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    # Keep "no browser here" a clean skip, decided before any fixture builds data or starts a server.
    if CHROMIUM.exists():
        return
    skip = pytest.mark.skip(reason=f"{CHROMIUM} is absent (`make test` installs Debian's chromium)")
    for item in items:
        if item.get_closest_marker("browser"):
            item.add_marker(skip)


# --------------------------------------------------------------------------------------------------- the data


@pytest.fixture(scope="session")
def curated_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A curated snapshot built by the real pipeline from the bundled sample in data/raw."""
    if importlib.util.find_spec("pipelines.__main__") is None:
        pytest.skip("the pipeline has not landed yet: `python -m pipelines` (pipelines/__main__.py) is missing")
    raw = REPO / "data" / "raw"
    if not any(raw.rglob("*.source.yml")):
        pytest.skip(f"no bundled sample yet: {raw} holds no *.source.yml sidecar")
    curated = tmp_path_factory.mktemp("browser-data") / "curated"
    command = [sys.executable, "-m", "pipelines", "--raw", str(raw), "--curated", str(curated)]
    started = time.monotonic()
    result = subprocess.run(
        command, cwd=REPO, capture_output=True, text=True, timeout=PIPELINE_TIMEOUT_S, check=False, env=_child_env()
    )
    if result.returncode != 0:
        pytest.fail(
            f"{shlex.join(command)} exited {result.returncode}:\n{result.stdout[-2000:]}\n{result.stderr[-4000:]}"
        )
    manifest = curated / "current" / "manifest.json"
    assert manifest.is_file(), f"the pipeline succeeded but wrote no {manifest}"
    logger.info("pipeline built %s in %.1f s", curated, time.monotonic() - started)
    return curated


def _child_env(**extra: str) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        {
            "DASH_DISABLE_VERSION_CHECK": "true",  # debug mode's version check would call out to the internet
            "PYTHONDONTWRITEBYTECODE": "1",
            "PATH": f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}",
        }
    )
    env.update(extra)
    return env


# ------------------------------------------------------------------------------------------------- the server


@dataclass
class AppServer:
    """The gunicorn process serving the app, and where its log goes."""

    url: str
    process: subprocess.Popen[bytes]
    log_path: Path

    def log_text(self) -> str:
        return self.log_path.read_text(encoding="utf-8", errors="replace")


def procfile_command(port: int) -> list[str]:
    """The Procfile's `web:` command, bound to the loopback interface only (tests never listen on 0.0.0.0)."""
    procfile = (REPO / "Procfile").read_text(encoding="utf-8")
    line = next(line for line in procfile.splitlines() if line.startswith("web:"))
    args = shlex.split(line.removeprefix("web:"))
    bind = args.index("--bind")
    args[bind + 1] = f"127.0.0.1:{port}"
    return args


def free_loopback_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def http_get(url: str, timeout_s: float = 10) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=timeout_s) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        with error:
            return error.code, error.read()


def http_post_json(url: str, body: bytes, timeout_s: float = 10) -> tuple[int, bytes]:
    request = urllib.request.Request(url, data=body, headers={"Content-Type": "application/json"}, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=timeout_s) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        with error:
            return error.code, error.read()


@contextlib.contextmanager
def gunicorn_process(curated_dir: Path, log_path: Path) -> Iterator[AppServer]:
    """Start the Procfile's command on a free loopback port; yield as soon as it is started; stop it at the end."""
    port = free_loopback_port()
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            procfile_command(port),
            cwd=REPO,
            stdout=log,
            stderr=subprocess.STDOUT,
            env=_child_env(PACT_CURATED_DIR=str(curated_dir)),
        )
    try:
        yield AppServer(url=f"http://127.0.0.1:{port}", process=process, log_path=log_path)
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


@pytest.fixture(scope="session")
def app_server(curated_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[AppServer]:
    """The app served once for the whole session, answering on / before any test uses it."""
    if importlib.util.find_spec("dashboard.app") is None:
        pytest.skip("the Dash app has not landed yet: dashboard/app.py is missing")
    log_path = tmp_path_factory.mktemp("browser-server") / "gunicorn.log"
    with gunicorn_process(curated_dir, log_path) as server:
        wait_until_serving(server)
        yield server


def wait_until_serving(server: AppServer) -> None:
    deadline = time.monotonic() + SERVER_START_TIMEOUT_S
    last_error = "no answer yet"
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            pytest.fail(f"gunicorn exited {server.process.returncode} while starting:\n{server.log_text()[-6000:]}")
        try:
            status, _ = http_get(server.url + "/", timeout_s=5)
        except OSError as error:
            last_error = repr(error)
        else:
            if status == 200:
                return
            last_error = f"HTTP {status}"
        time.sleep(0.25)
    pytest.fail(
        f"gunicorn did not serve / within {SERVER_START_TIMEOUT_S} s ({last_error}):\n{server.log_text()[-6000:]}"
    )


# ------------------------------------------------------------------------------------------------ the browser


@dataclass
class PageProbe:
    """A Playwright page on the served app, with everything that went wrong while it was open."""

    page: Page
    origin: str
    server: AppServer
    console_errors: list[str] = field(default_factory=list)
    page_errors: list[str] = field(default_factory=list)
    foreign_requests: list[str] = field(default_factory=list)
    bad_responses: list[str] = field(default_factory=list)
    failed_requests: list[str] = field(default_factory=list)
    same_origin_requests: list[str] = field(default_factory=list)
    server_log_offset: int = 0
    navigations: int = 0  # how many times the test opened a URL
    started_in: dict[Request, int] = field(default_factory=dict)  # each request: the navigation it began under

    def url(self, path: str) -> str:
        return self.origin + path

    def open(self, path: str) -> None:
        """Navigate to a path of the app and wait until Dash has rendered it and gone quiet."""
        self.navigations += 1
        self.page.goto(self.url(path), wait_until="load", timeout=WAIT_MS)
        wait_for_dash(self.page)

    def new_server_log(self) -> str:
        return self.server.log_text()[self.server_log_offset :]

    def problems(self) -> dict[str, list[str]]:
        tracebacks = [block for block in re.split(r"\n(?=\S)", self.new_server_log()) if "Traceback" in block]
        found = {
            "console errors": self.console_errors,
            "uncaught page errors": self.page_errors,
            "requests to another origin": self.foreign_requests,
            "same-origin responses >= 400": self.bad_responses,
            "same-origin requests that failed": self.failed_requests,
            "server tracebacks": tracebacks,
        }
        return {kind: items for kind, items in found.items() if items}

    def assert_clean(self) -> None:
        problems = self.problems()
        assert not problems, f"on {self.page.url}: {problems}"


def _is_same_origin(url: str, origin: str) -> bool:
    parts = urlsplit(url)
    if parts.scheme in {"data", "blob", "about"}:
        return True  # in-page content, never a network request
    return f"{parts.scheme}://{parts.netloc}" == origin


@pytest.fixture
def app_page(browser: Browser, app_server: AppServer) -> Iterator[PageProbe]:
    context = browser.new_context(viewport=VIEWPORT, service_workers="block", locale="en-GB")
    context.set_default_timeout(WAIT_MS)
    page = context.new_page()
    probe = PageProbe(page=page, origin=app_server.url, server=app_server)
    probe.server_log_offset = len(app_server.log_text())

    def route(route_request: Route) -> None:
        if _is_same_origin(route_request.request.url, probe.origin):
            route_request.continue_()
        else:
            route_request.abort("blockedbyclient")

    def on_request(request: Request) -> None:
        probe.started_in[request] = probe.navigations
        if _is_same_origin(request.url, probe.origin):
            probe.same_origin_requests.append(request.url)
        else:
            probe.foreign_requests.append(f"{request.method} {request.url}")

    def on_response(response: Response) -> None:
        if response.status >= 400 and _is_same_origin(response.url, probe.origin):
            probe.bad_responses.append(f"{response.status} {response.request.method} {response.url}")

    def on_request_failed(request: Request) -> None:
        # the browser's own favicon fetch is cancelled when a navigation starts before it ends: not the app's failure
        if "/_favicon.ico" in request.url and request.failure == "net::ERR_ABORTED":
            return
        # nor is a request of the previous page (a late callback) that the test's own navigation cancelled
        if request.failure == "net::ERR_ABORTED" and probe.started_in.get(request, probe.navigations) < probe.navigations:
            return
        if _is_same_origin(request.url, probe.origin):
            probe.failed_requests.append(f"{request.method} {request.url}: {request.failure}")

    def on_console(message: ConsoleMessage) -> None:
        if message.type == "error":
            location = message.location or {}
            probe.console_errors.append(
                f"{message.text} ({location.get('url', '?')}:{location.get('lineNumber', '?')})"
            )

    context.route("**/*", route)
    page.on("request", on_request)
    page.on("response", on_response)
    page.on("requestfailed", on_request_failed)
    page.on("console", on_console)
    page.on("pageerror", lambda error: probe.page_errors.append(str(error)))
    try:
        yield probe
    finally:
        context.close()


# --------------------------------------------------------------------------------------------------- helpers

# Dash marks a component whose callback is in flight with data-dash-is-loading; Dash Pages renders the page into
# #_pages_content. A page has settled when its content is there, nothing is loading, and no request has been in
# flight for Playwright's network-idle window (500 ms).
_DASH_SETTLED = """() => {
    const content = document.getElementById('_pages_content') || document.getElementById('react-entry-point');
    return !!content && content.childElementCount > 0
        && !document.querySelector('[data-dash-is-loading="true"]');
}"""


def wait_for_dash(page: Page) -> None:
    page.wait_for_function(_DASH_SETTLED, timeout=WAIT_MS)
    page.wait_for_load_state("networkidle", timeout=WAIT_MS)
    page.wait_for_function(_DASH_SETTLED, timeout=WAIT_MS)


_RUN_AXE = """async (tags) => {
    const results = await axe.run(document, {runOnly: {type: 'tag', values: tags}, resultTypes: ['violations']});
    return results.violations.map(v => ({
        id: v.id, impact: v.impact, help: v.help,
        nodes: v.nodes.map(n => ({target: n.target.join(' '), html: n.html.slice(0, 200), summary: n.failureSummary}))
    }));
}"""


def axe_violations(page: Page, impacts: tuple[str, ...] = ("serious", "critical")) -> list[dict]:
    """axe-core's WCAG 2.0 A/AA and 2.1 AA violations of the given impacts.

    axe is evaluated through the DevTools protocol rather than added as a <script>: the app's Content Security
    Policy rightly refuses inline scripts, and the page must be tested with that policy in force. No request is made.
    """
    page.evaluate(AXE_JS.read_text(encoding="utf-8") + "\n;undefined")
    violations = page.evaluate(_RUN_AXE, AXE_TAGS)
    return [violation for violation in violations if violation["impact"] in impacts]


def save_screenshots(page: Page, name: str) -> list[Path]:
    """Save the first screen and the whole page under $PACT_SCREENSHOTS, when it is set."""
    folder = os.environ.get("PACT_SCREENSHOTS")
    if not folder:
        return []
    target = Path(folder)
    target.mkdir(parents=True, exist_ok=True)
    first_screen = target / f"{name}.png"
    whole_page = target / f"{name}-full.png"
    page.screenshot(path=str(first_screen), timeout=WAIT_MS)
    page.screenshot(path=str(whole_page), full_page=True, timeout=WAIT_MS)
    return [first_screen, whole_page]

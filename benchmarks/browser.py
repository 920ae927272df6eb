"""Headless Chromium against the served dashboard: first paint, charts drawn, bytes on the wire, and the exact
callback payloads the browser sends (replayed later over HTTP and in-process).

Each load uses a fresh browser context, so nothing comes from the HTTP cache: the figures are a first visit.
"Charts drawn" is the moment, measured in the page's own clock from navigation start, when Dash has no callback
in flight, no component is marked loading and every Plotly graph on the page has been plotted — held for
150 ms so that a callback chain that starts another callback is not taken for the end.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

logger = logging.getLogger(__name__)

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
]
UPDATE_PATH = "/_dash-update-component"
COMPRESSIBLE = ("text/", "application/javascript", "application/json", "application/x-javascript", "image/svg")

# window.__benchSettled(needActivity): resolves with performance.now() at the first moment of a settled page (see
# the module docstring). With needActivity (after an interaction), a callback must first be seen in flight, so the
# quiet moment before the renderer has queued the request is not taken for the end; if none starts within 3 s the
# interaction triggered nothing and the promise resolves with null.
_SETTLED_JS = """
window.__benchSettled = (needActivity) => new Promise((resolve) => {
  const HOLD_MS = 150;
  const started = performance.now();
  let since = null;
  let active = !needActivity;
  const pending = () => {
    const state = window.store.getState();
    const callbacks = Object.assign({}, state.callbacks || {});
    delete callbacks.stored; delete callbacks.completed;
    return Object.values(callbacks).reduce((n, list) => n + (list ? list.length : 0), 0);
  };
  const idle = () => {
    if (!window.store || !document.querySelector('#react-entry-point')) return false;
    if (pending() > 0) { active = true; return false; }
    if (document.querySelector('[data-dash-is-loading="true"]')) { active = true; return false; }
    const pageContainer = document.querySelector('#_pages_content');
    if (pageContainer && pageContainer.children.length === 0) return false;
    for (const graph of document.querySelectorAll('.dash-graph')) {
      if (graph.offsetParent === null) continue;  // in a hidden tab: Plotly draws it when it is shown
      const plot = graph.querySelector('.js-plotly-plot');
      if (!plot || !plot._fullLayout) return false;
    }
    return active;
  };
  const tick = () => {
    const now = performance.now();
    if (needActivity && !active && now - started > 3000) { resolve(null); return; }
    if (idle()) {
      if (since === null) since = now;
      if (now - since >= HOLD_MS) { resolve(since); return; }
    } else {
      since = null;
    }
    requestAnimationFrame(tick);
  };
  tick();
});
"""

_PAINT_JS = """
() => {
  const out = {};
  for (const e of performance.getEntriesByType('paint')) out[e.name] = e.startTime;
  const nav = performance.getEntriesByType('navigation')[0];
  if (nav) { out.domContentLoaded = nav.domContentLoadedEventEnd; out.load = nav.loadEventEnd; }
  out.graphs = document.querySelectorAll('.dash-graph').length;
  out.title = document.title;
  // where the time before "charts drawn" went: the last script to arrive, and the page's content from the server
  const resources = performance.getEntriesByType('resource');
  const scripts = resources.filter(r => r.initiatorType === 'script' || r.name.endsWith('.js'));
  out.scriptsLoadedAt = scripts.reduce((m, r) => Math.max(m, r.responseEnd), 0);
  const updates = resources.filter(r => r.name.includes('/_dash-update-component'));
  out.callbacksDoneAt = updates.reduce((m, r) => Math.max(m, r.responseEnd), 0);
  out.largest = resources.slice().sort((a, b) => b.decodedBodySize - a.decodedBodySize).slice(0, 4)
    .map(r => [r.name.replace(location.origin, '').split('?')[0], r.transferSize, r.decodedBodySize]);
  return out;
}
"""


@dataclass
class PageLoad:
    view: str
    url: str
    first_paint_ms: float | None
    first_contentful_paint_ms: float | None
    charts_drawn_ms: float | None
    graphs: int
    title: str
    requests: int
    bytes_transferred: int
    bytes_decoded: int
    compressible_responses: int = 0
    uncompressed_compressible: list[str] = field(default_factory=list)
    encodings: dict[str, int] = field(default_factory=dict)
    console_errors: list[str] = field(default_factory=list)
    outside_requests: list[str] = field(default_factory=list)
    payloads: list[dict[str, Any]] = field(default_factory=list)
    interaction_ms: dict[str, float | None] = field(default_factory=dict)
    scripts_loaded_ms: float | None = None  # the last script's responseEnd
    callbacks_done_ms: float | None = None  # the last callback response before the page settled
    largest: list[list[Any]] = field(default_factory=list)  # [path, bytes transferred, bytes decoded]


def chromium_available() -> bool:
    if not Path(CHROMIUM).exists():
        return False
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return False
    return True


class Browser:
    """One Chromium for the whole benchmark; a fresh context per page load."""

    def __init__(self) -> None:
        from playwright.sync_api import sync_playwright

        self._pw = sync_playwright().start()
        self._browser = self._pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)

    def close(self) -> None:
        try:
            self._browser.close()
        finally:
            self._pw.stop()

    def __enter__(self) -> Browser:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def load(
        self, base_url: str, view: str, path: str,
        interactions: Sequence[tuple[str, Sequence[tuple[str, dict[str, Any]]]]] = (), timeout_s: float = 60.0,
        count_bytes: bool = True,
    ) -> PageLoad:
        """Open `path` cold, wait until it is settled, account for every response; then play each interaction
        (component props set through Dash's own `dash_clientside.set_props`, as a user's change would) and time it
        until the page is settled again."""
        context = self._browser.new_context(viewport={"width": 1366, "height": 768})
        page = context.new_page()
        responses: list[Any] = []
        payloads: list[dict[str, Any]] = []
        console_errors: list[str] = []
        outside: list[str] = []
        current = {"label": view}

        def on_request(request: Any) -> None:
            if not request.url.startswith(base_url):
                outside.append(request.url)
            parts = urlsplit(request.url)
            if request.method == "POST" and parts.path == UPDATE_PATH and request.post_data:
                # the renderer may add a query string (a signed request id): replayed as sent
                payloads.append({"view": current["label"], "query": parts.query,
                                 "body": json.loads(request.post_data)})

        page.on("request", on_request)
        page.on("response", lambda response: responses.append(response))
        page.on("console", lambda msg: console_errors.append(msg.text) if msg.type == "error" else None)
        page.on("pageerror", lambda exc: console_errors.append(str(exc)))
        page.add_init_script(_SETTLED_JS)
        url = base_url + path
        interaction_ms: dict[str, float | None] = {}
        try:
            page.goto(url, wait_until="load", timeout=timeout_s * 1000)
            drawn = self._settled(page, False, timeout_s, console_errors)
            paint = page.evaluate(_PAINT_JS)
            if count_bytes:
                # Bodies must have finished for sizes() to be final (fonts may still be on their way).
                page.wait_for_load_state("networkidle", timeout=timeout_s * 1000)
            transferred = 0
            body_total = 0
            encodings: dict[str, int] = {}
            uncompressed: list[str] = []
            compressible = 0
            for response in list(responses) if count_bytes else []:
                sizes = response.request.sizes()
                transferred += sizes["responseBodySize"] + sizes["responseHeadersSize"]
                headers = response.headers
                encoding = headers.get("content-encoding", "identity")
                encodings[encoding] = encodings.get(encoding, 0) + 1
                try:
                    body_total += len(response.body())
                except Exception:  # a redirect or an aborted response has no body to count
                    logger.debug("no body for %s", response.url)
                content_type = headers.get("content-type", "")
                # flask-compress leaves bodies under its minimum size alone, rightly: those are not counted
                worth_compressing = (
                    content_type.startswith(COMPRESSIBLE) and sizes["responseBodySize"] > 1024
                    and response.status == 200
                )
                compressible += worth_compressing
                if worth_compressing and encoding == "identity":
                    uncompressed.append(f"{response.url.removeprefix(base_url)} ({sizes['responseBodySize']} B)")
            requests_on_load = len(responses)
            for label, steps in interactions:
                current["label"] = f"{view}: {label}"
                start = page.evaluate("() => performance.now()")
                for component_id, props in steps:
                    page.evaluate("([id, props]) => window.dash_clientside.set_props(id, props)",
                                  [component_id, props])
                end = self._settled(page, True, timeout_s, console_errors)
                interaction_ms[label] = None if end is None else end - start
        finally:
            context.close()
        return PageLoad(
            view=view,
            url=path,
            first_paint_ms=paint.get("first-paint"),
            first_contentful_paint_ms=paint.get("first-contentful-paint"),
            charts_drawn_ms=drawn,
            graphs=int(paint.get("graphs", 0)),
            title=str(paint.get("title", "")),
            requests=requests_on_load,
            bytes_transferred=transferred,
            bytes_decoded=body_total,
            compressible_responses=compressible,
            uncompressed_compressible=uncompressed,
            encodings=encodings,
            console_errors=console_errors,
            outside_requests=outside,
            payloads=payloads,
            interaction_ms=interaction_ms,
            scripts_loaded_ms=paint.get("scriptsLoadedAt"),
            callbacks_done_ms=paint.get("callbacksDoneAt"),
            largest=paint.get("largest") or [],
        )

    @staticmethod
    def _settled(page: Any, need_activity: bool, timeout_s: float, errors: list[str]) -> float | None:
        try:
            return page.evaluate(
                f"async (need) => await Promise.race([window.__benchSettled(need), "
                f"new Promise(r => setTimeout(() => r(null), {int(timeout_s * 1000)}))])",
                need_activity,
            )
        except Exception as exc:  # a page error while waiting: recorded, the benchmark goes on
            errors.append(f"waiting for the page to settle: {exc}")
            return None

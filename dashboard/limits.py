"""Per-worker limit on the heavy downloads: briefing packs and chart images rendered on the server.

A pack renders every chart of a page through Kaleido (a headless Chromium) and builds a Word file; a PNG or SVG
renders one chart. Each holds a thread, a Chromium render and memory while it runs, so a worker runs at most
`HEAVY_LIMIT` of them at once (`PACT_HEAVY_LIMIT`, default 2 of gunicorn's 4 threads, leaving the pages and
callbacks threads to answer). A request beyond that waits up to `HEAVY_WAIT_S` for a slot, then answers 503 with
`Retry-After` rather than queueing work the worker cannot finish soon. A pack refused this way still sets the
pack cookie (`<token>-error`) so the page stops waiting for it.
"""

from __future__ import annotations

import json
import logging
import os
import re
import threading

from flask import Flask, Response, g, request

from dashboard.api import PACK_COOKIE, PACK_TOKEN  # the cookie the page's pack button polls for

log = logging.getLogger(__name__)

HEAVY_PATH = re.compile(r"^/export/[^/]+/(?:pack\.zip|[^/]+\.(?:png|svg))$")
HEAVY_LIMIT = max(1, int(os.environ.get("PACT_HEAVY_LIMIT") or 2))
HEAVY_WAIT_S = 2.0
RETRY_AFTER_S = 10
HEAVY = threading.BoundedSemaphore(HEAVY_LIMIT)


def install_heavy_limit(server: Flask) -> None:
    """Hold a slot of `HEAVY` for every heavy request `server` answers, or answer 503 when none is free."""

    @server.before_request
    def _take_slot() -> Response | None:
        if request.method not in ("GET", "HEAD") or not HEAVY_PATH.match(request.path):
            return None
        if not HEAVY.acquire(timeout=HEAVY_WAIT_S):
            log.warning("busy: %d heavy downloads running; %s answered 503", HEAVY_LIMIT, request.path)
            return busy()
        g.heavy_slot = True
        return None

    @server.teardown_request
    def _give_slot_back(_: BaseException | None) -> None:
        if g.pop("heavy_slot", False):
            HEAVY.release()


def busy() -> Response:
    body = {"error": "the server is busy making other packs and chart images; try again shortly", "details": []}
    response = Response(json.dumps(body), status=503, mimetype="application/json")
    response.headers["Retry-After"] = str(RETRY_AFTER_S)
    token = request.args.get("download_token", "")
    if request.path.endswith("/pack.zip") and PACK_TOKEN.match(token):
        response.set_cookie(PACK_COOKIE, token + "-error", max_age=300, path="/", samesite="Strict",
                            secure=request.is_secure)
    return response

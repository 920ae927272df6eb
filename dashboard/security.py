"""Security headers on every response: a content-security policy Dash works under, and the usual hardening.

The policy was found by serving the app's components (Dash 4.4 renderer, plotly.js 4 charts and maps,
dash-ag-grid, dash-bootstrap-components, dcc) to headless Chromium and reading its CSP violation reports
(tests/test_security_headers.py keeps that check):

- `script-src 'self'` plus the sha256 hashes of Dash's own inline scripts (the renderer start-up and any inline
  clientside callback; `Dash.csp_hashes()` computes them). Neither 'unsafe-inline' nor 'unsafe-eval': the SVG
  charts, maps, grids and controls need no eval. WebGL traces (`scattergl`, `scattermap`, `*gl`: plotly.js
  compiles their shaders' glue with `new Function`) would; the dashboard uses none, and the browser check of
  every page fails if one appears.
- `style-src 'self' 'unsafe-inline'`: plotly.js, dcc and ag-grid write `<style>` elements and `style`
  attributes at run time (about thirty violations without it); styles cannot run code, so this is the accepted
  trade-off.
- `img-src 'self' data: blob:`: Bootstrap's select, check and toggler icons are data-URI SVGs; the chart
  toolbar's "download as PNG" draws through a blob URL.
- `connect-src 'self'`: callbacks and the map geometry come from the app's own origin, nothing else.
- `frame-ancestors 'none'` (and X-Frame-Options: DENY for old browsers), `object-src 'none'`, `base-uri 'self'`,
  `form-action 'self'`.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from flask import Flask, Response

logger = logging.getLogger(__name__)

BASE_POLICY: dict[str, tuple[str, ...]] = {
    "default-src": ("'self'",),
    "script-src": ("'self'",),
    "style-src": ("'self'", "'unsafe-inline'"),
    "img-src": ("'self'", "data:", "blob:"),
    "font-src": ("'self'",),
    "connect-src": ("'self'",),
    "object-src": ("'none'",),
    "base-uri": ("'self'",),
    "form-action": ("'self'",),
    "frame-ancestors": ("'none'",),
}

STATIC_HEADERS: dict[str, str] = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Cross-Origin-Resource-Policy": "same-origin",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=(), payment=(), usb=(), interest-cohort=()",
}


def content_security_policy(
    script_hashes: Sequence[str] = (), policy: dict[str, tuple[str, ...]] | None = None
) -> str:
    """The CSP header value: `policy` (default `BASE_POLICY`) with the inline-script hashes added to script-src."""
    directives = dict(BASE_POLICY if policy is None else policy)
    directives["script-src"] = (*directives.get("script-src", ("'self'",)), *script_hashes)
    return "; ".join(f"{name} {' '.join(values)}" for name, values in directives.items())


def install_security_headers(
    server: Flask, dash_app: Any | None = None, *, policy: dict[str, tuple[str, ...]] | None = None
) -> None:
    """Add the CSP and hardening headers to every response `server` sends (pages, assets, `_dash-*` routes).

    With `dash_app`, the hashes of its inline scripts join script-src. They are computed at the first response,
    not here, so that clientside callbacks registered after this call (by pages imported later) are covered.
    """
    state: dict[str, str] = {}

    def csp() -> str:
        if "value" not in state:
            # Pages that register the same clientside function give the same hash several times.
            hashes = list(dict.fromkeys(dash_app.csp_hashes())) if dash_app is not None else []
            state["value"] = content_security_policy(hashes, policy)
            logger.info("content-security-policy: %d inline-script hashes", len(hashes))
        return state["value"]

    if dash_app is not None:
        _refuse_malformed_callbacks(server, dash_app)
        _hide_reload_hash(server, dash_app)

    @server.after_request
    def _add_security_headers(response: Response) -> Response:
        response.headers["Content-Security-Policy"] = csp()
        for name, value in STATIC_HEADERS.items():
            response.headers[name] = value
        return response


def _refuse_malformed_callbacks(server: Flask, dash_app: Any) -> None:
    """A callback request no page can send is a client error (400), not a server error with a traceback.

    Dash answers 500 to an unknown or clientside-only output, inputs that do not match the callback, or a
    router pathname without the leading "/": a browser never sends these, a crafted request does.
    """
    from dash.exceptions import CallbackException, UnsupportedRelativePath
    from flask import request

    update_path = dash_app.config.routes_pathname_prefix + "_dash-update-component"

    @server.before_request
    def _known_callback() -> Response | None:
        if request.method != "POST" or request.path != update_path:
            return None
        body = request.get_json(silent=True)
        output = body.get("output") if isinstance(body, dict) else None
        if not isinstance(output, str) or output not in dash_app.callback_map:
            return _bad_request("unknown callback")
        return None

    @server.errorhandler(CallbackException)
    @server.errorhandler(UnsupportedRelativePath)
    def _malformed(_: Exception) -> Response:
        return _bad_request("malformed callback request")


def _hide_reload_hash(server: Flask, dash_app: Any) -> None:
    """`/_reload-hash` answers 404 unless hot reload is on.

    Dash routes it in every deployment, though only the dev tools' hot reload (`app.run(debug=True)`) polls it;
    in production it only tells anyone who asks which front-end packages the app serves. Checked per request, so
    a development server that turns hot reload on still gets its answers.
    """
    from flask import request

    reload_path = dash_app.config.routes_pathname_prefix + "_reload-hash"

    @server.before_request
    def _no_reload_hash() -> Response | None:
        if request.path == reload_path and not dash_app._dev_tools.get("hot_reload"):
            return Response("Not Found\n", status=404, mimetype="text/plain")
        return None


def _bad_request(message: str) -> Response:
    return Response(message + "\n", status=400, mimetype="text/plain")

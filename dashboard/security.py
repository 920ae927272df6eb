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

Cache-Control is chosen per route family (`cache_control`): pages, layouts, callbacks, downloads and every error
are `no-store` (they show the data of a vintage, which changes with every pipeline run, and in public mode what is
withheld); Dash's fingerprinted bundles and the assets whose URL carries Dash's `?m=<mtime>` are immutable for a
year; any other static file is revalidated (`no-cache`).

Malformed callback requests are refused before Dash sees them (`_refuse_malformed_callbacks`): a body larger than
`MAX_CALLBACK_BYTES` is a 413, one nested deeper than `MAX_CALLBACK_DEPTH` (checked on the raw bytes, before the
JSON parser could recurse) or of the wrong shape for the callback it names is a 400 with a short JSON error, and
an exception left inside a callback is logged and answered 422.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Sequence
from typing import Any, TypeGuard

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

    prefix = dash_app.config.routes_pathname_prefix if dash_app is not None else "/"
    if dash_app is not None:
        _refuse_malformed_callbacks(server, dash_app)
        _hide_reload_hash(server, dash_app)
        _unknown_bundles_not_found(server)

    @server.after_request
    def _add_security_headers(response: Response) -> Response:
        from flask import request

        response.headers["Content-Security-Policy"] = csp()
        for name, value in STATIC_HEADERS.items():
            response.headers[name] = value
        response.headers["Cache-Control"] = cache_control(request.path, request.args, response.status_code, prefix)
        return response


NO_STORE = "no-store"
REVALIDATE = "no-cache"
IMMUTABLE = "public, max-age=31536000, immutable"


def cache_control(path: str, args: Any, status: int, prefix: str = "/") -> str:
    """The Cache-Control of one response, by route family (see the module docstring for why)."""
    from dash.fingerprint import check_fingerprint

    if status >= 400:
        return NO_STORE
    suites = prefix + "_dash-component-suites/"
    if path.startswith(suites):
        in_package = path[len(suites):].partition("/")[2]
        return IMMUTABLE if check_fingerprint(in_package)[1] else REVALIDATE
    if path.startswith(prefix + "assets/"):
        # Dash adds ?m=<file mtime> to the assets it links, so that URL changes whenever the file does.
        return IMMUTABLE if "m" in args else REVALIDATE
    return NO_STORE


# Both far above what a page sends (its callback bodies carry control values, a grid's columnState and a chart's
# clickData), far below what costs the worker anything.
MAX_CALLBACK_BYTES = 1_048_576
MAX_CALLBACK_DEPTH = 64
# Props that are strings in every component that has them (dcc.Location, links): the page router and the
# navigation callbacks read them as such.
STRING_PROPS = frozenset({"pathname", "search", "hash", "href"})
_JSON_STRING = re.compile(rb'"(?:[^"\\]++|\\.)*+"', re.S)
_BRACKET = re.compile(rb"[\[\]{}]")


def nesting_exceeds(raw: bytes, limit: int) -> bool:
    """Whether the JSON text `raw` nests arrays and objects deeper than `limit`, read without parsing it."""
    depth = 0
    for match in _BRACKET.finditer(_JSON_STRING.sub(b'""', raw)):
        if match[0] in (b"[", b"{"):
            depth += 1
            if depth > limit:
                return True
        else:
            depth -= 1
    return False


def callback_problem(body: object, callback_map: dict[str, Any]) -> str | None:
    """What is wrong with a callback request body no page could send, or None when it has the callback's shape."""
    if not isinstance(body, dict):
        return "the body must be a JSON object"
    output = body.get("output")
    if not isinstance(output, str) or output not in callback_map:
        return "unknown callback"
    spec = callback_map[output]
    outputs = body.get("outputs")
    if output.startswith(".."):
        expected = len(output.strip(".").split("..."))
        if not isinstance(outputs, list) or len(outputs) != expected:
            return f"outputs must be a list of {expected} outputs"
        if not all(_dependency_shape(o) for o in outputs):
            return "each output must be an object with an id and a property"
    elif not _dependency_shape(outputs):
        return "outputs must be an object with an id and a property"
    for key in ("inputs", "state"):
        items = body.get(key, [])
        declared = spec.get(key, [])
        if not isinstance(items, list) or len(items) != len(declared):
            return f"{key} must be a list of {len(declared)} values"
        for item, dependency in zip(items, declared, strict=True):
            problem = _item_problem(item, dependency, key)
            if problem:
                return problem
    changed = body.get("changedPropIds", [])
    if not isinstance(changed, list) or not all(isinstance(c, str) for c in changed):
        return "changedPropIds must be a list of strings"
    return None


def _dependency_shape(item: object) -> TypeGuard[dict[str, object] | list[dict[str, object]]]:
    """An output, input or state entry: {"id": <string or pattern object>, "property": <string>} or, for a
    pattern with ALL or ALLSMALLER, a list of those."""
    if isinstance(item, list):
        return all(_dependency_shape(i) and isinstance(i, dict) for i in item)
    return (isinstance(item, dict) and isinstance(item.get("id"), str | dict)
            and isinstance(item.get("property"), str))


def _item_problem(item: object, dependency: dict[str, Any], key: str) -> str | None:
    declared_id = dependency.get("id")
    pattern = isinstance(declared_id, str) and declared_id.startswith("{")
    if not _dependency_shape(item) or (isinstance(item, list) and not pattern):
        return f"each {key} entry must be an object with an id, a property and a value"
    entries = item if isinstance(item, list) else [item]
    for entry in entries:
        if entry.get("property") != dependency.get("property"):
            return f"{key} {clip_text(entry.get('property'))!r} is not what this callback reads"
        if not pattern and entry.get("id") != declared_id:
            return f"{key} {clip_text(entry.get('id'))!r} is not what this callback reads"
        value = entry.get("value")
        if entry["property"] in STRING_PROPS and value is not None and not isinstance(value, str):
            return f"{key} {entry['property']} must be a string"
    return None


def clip_text(value: object, limit: int = 40) -> str:
    text = value if isinstance(value, str) else json.dumps(value, default=str)[:limit + 1]
    return text if len(text) <= limit else text[:limit] + "…"


def _refuse_malformed_callbacks(server: Flask, dash_app: Any) -> None:
    """A callback request no page can send is a client error (4xx with a short JSON body), never a 500.

    Dash answers 500 to wrong-typed `inputs`, `state`, `outputs` or `changedPropIds`, an unknown or
    clientside-only output, a router pathname that is not a string, and JSON nested deep enough to exhaust the
    parser's recursion: a browser never sends these, a crafted request does. Whatever still fails inside a
    callback (a value no page sends, reaching code that assumed a type) is logged and answered 422.
    """
    from dash.exceptions import CallbackException, PreventUpdate, UnsupportedRelativePath
    from flask import request
    from werkzeug.exceptions import HTTPException

    update_path = dash_app.config.routes_pathname_prefix + "_dash-update-component"

    @server.before_request
    def _known_callback() -> Response | None:
        if request.method != "POST" or request.path != update_path:
            return None
        if not request.is_json:
            return _bad_request("the body must be JSON (Content-Type: application/json)", 415)
        length = request.content_length
        if length is None:
            return _bad_request("the body must state its length (Content-Length)", 411)
        if length > MAX_CALLBACK_BYTES:
            return _bad_request(f"the body is larger than {MAX_CALLBACK_BYTES} bytes", 413)
        raw = request.get_data(cache=True)
        if nesting_exceeds(raw, MAX_CALLBACK_DEPTH):
            return _bad_request(f"the body nests deeper than {MAX_CALLBACK_DEPTH} levels")
        # Cached: Dash's own request.get_json() reads this parse.
        body = request.get_json(silent=True)
        problem = callback_problem(body, dash_app.callback_map)
        return _bad_request(problem) if problem else None

    @server.errorhandler(CallbackException)
    @server.errorhandler(UnsupportedRelativePath)
    def _malformed(_: Exception) -> Response:
        return _bad_request("malformed callback request")

    # The catch-all wraps only Dash's callback view, so every other route keeps Flask's own error handling.
    endpoint = next(rule.endpoint for rule in server.url_map.iter_rules() if rule.rule == update_path)
    dispatch = server.view_functions[endpoint]

    def dispatch_or_refuse(*args: Any, **kwargs: Any) -> Any:
        try:
            return dispatch(*args, **kwargs)
        except (HTTPException, PreventUpdate, CallbackException, UnsupportedRelativePath):
            raise
        except Exception:
            body = request.get_json(silent=True)
            output = body.get("output") if isinstance(body, dict) else None
            logger.exception("callback %s failed on values no page sends; answered 422", clip_text(output, 120))
            return _bad_request("the callback cannot be computed from these values", 422)

    server.view_functions[endpoint] = dispatch_or_refuse


def _unknown_bundles_not_found(server: Flask) -> None:
    """A component-suite file Dash does not serve is a 404, not the 500 of its DependencyException."""
    from dash.exceptions import DependencyException

    @server.errorhandler(DependencyException)
    def _not_found(_: Exception) -> Response:
        return Response("Not Found\n", status=404, mimetype="text/plain")


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


def _bad_request(message: str, status: int = 400) -> Response:
    return Response(json.dumps({"error": message}) + "\n", status=status, mimetype="application/json")

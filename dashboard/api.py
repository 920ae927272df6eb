"""Downloads as plain HTTP: the analysts' data URL and the files behind every export button.

- `GET /api/v1/data.csv` and `GET /api/v1/data.parquet` take exactly the query parameters of `/explore`
  (`indicator`, `by`, `from`, `to`, `ecosystem`, `country`, `partnership`, `type`, `vintage`; repeat a filter
  for "any of") and return the rows the Explore view shows for them. The parameters are validated strictly:
  an unknown parameter, code or vintage is a 400 naming it, never a silent fallback. `GET /api/v1/` lists the
  parameters and the values this data vintage accepts, as JSON.
- `GET /export/<page>/<view>.<csv|xlsx|png|svg>` and `GET /export/<page>/pack.zip` take the page's own query
  string and return what the page's export bar offers. These parse leniently, as the page does, so a file
  always matches what is on screen.

Every file is built per request in the worker that receives it, so any number of gunicorn workers can serve
downloads with no shared state; the browser's own download machinery shows progress.
"""

from __future__ import annotations

import io
import json
import logging
import os
import re
import time
import urllib.parse

import pyarrow as pa
import pyarrow.parquet as pq
from flask import Blueprint, Response, request

from dashboard import data, state
from dashboard.export_registry import VIEW_FORMATS, FormatUnavailable
from dashboard.export_views import ExportUnavailable, PageExport, pack_bytes, page_export, query_from_args
from dashboard.exports import ExportTable, export_filename, neutralise, to_csv_bytes
from dashboard.formatting import clip

log = logging.getLogger(__name__)

blueprint = Blueprint("pact_api", __name__)

API_PREFIX = "/api/v1"
EXPORT_PREFIX = "/export"
FORMATS = {
    **{f.ext: f.media_type for f in VIEW_FORMATS.values()},
    "parquet": "application/vnd.apache.parquet",
    "zip": "application/zip",
}
_NAME = re.compile(r"^[a-z][a-z0-9-]{0,40}$")
MAX_QUERY_BYTES = 4096


class BadRequest(ValueError):
    """The query cannot be honoured; `details` say which values and why."""

    def __init__(self, details: list[str]):
        super().__init__("; ".join(details))
        self.details = details


def _attachment(content: bytes, filename: str, fmt: str) -> Response:
    response = Response(content, mimetype=FORMATS[fmt].split(";")[0])
    if ";" in FORMATS[fmt]:
        response.headers["Content-Type"] = FORMATS[fmt]
    response.headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    response.headers["Cache-Control"] = "no-store"
    return response


def _problem(status: int, message: str, details: list[str] | None = None) -> Response:
    body = {"error": message, "details": details or []}
    return Response(json.dumps(body, ensure_ascii=False), status=status, mimetype="application/json")


BASE_URL_ENV = "PACT_BASE_URL"


def base_url() -> str:
    """Where permalinks point: the deployment's public address from PACT_BASE_URL, else nothing (links relative to
    the site). Never the request's Host header, which any client can set (a link to evil.example in an export)."""
    configured = os.environ.get(BASE_URL_ENV, "").strip().rstrip("/")
    parts = urllib.parse.urlsplit(configured)
    if not configured or parts.scheme not in ("http", "https") or not parts.netloc or parts.query or parts.fragment:
        if configured:
            log.warning("%s=%r is not an http(s) address without query or fragment: permalinks are relative",
                        BASE_URL_ENV, configured)
        return ""
    return configured


def _checked_query() -> dict[str, object]:
    if len(request.query_string) > MAX_QUERY_BYTES:
        raise BadRequest([f"the query string is longer than {MAX_QUERY_BYTES} bytes"])
    return query_from_args(request.args.to_dict(flat=False))


# --------------------------------------------------------------------------------------------------------------
# The data URL
# --------------------------------------------------------------------------------------------------------------


def strict_explore(query: dict[str, object], base_url: str) -> PageExport:
    """The Explore export for `query`, or BadRequest listing every value that is not accepted."""
    if "view" in query:
        # `view` only picks chart/map/table on screen; the rows are the same, so it is accepted and ignored.
        query = {k: v for k, v in query.items() if k != "view"}
    choice = data.resolve_vintage(query.get("vintage"))
    if choice.superseded:
        raise BadRequest([f"Data vintage “{clip(query.get('vintage'))}” has been updated: the public site serves only "
                          f"the current one, listed at {API_PREFIX}/"])
    if choice.message:
        raise BadRequest([f"Unknown data vintage “{clip(query.get('vintage'))}”: the kept vintages are listed at "
                          f"{API_PREFIX}/"])
    if choice.vintage is None:
        raise ExportUnavailable("no curated data yet: run the pipeline (make run)")
    messages = state.Messages()
    dims = data.dimensions(choice.vintage)
    indicators = tuple(m.indicator for m in data.indicator_catalogue(choice.vintage))
    state.parse_explore(query, dims, indicators, messages)
    if messages:
        # The page's parser says "Ignored …" because a page falls back to defaults; the API refuses instead.
        raise BadRequest([m.removeprefix("Ignored ")[:1].upper() + m.removeprefix("Ignored ")[1:] for m in messages])
    return page_export("explore", query, base_url)


def _parquet_bytes(table: ExportTable) -> bytes:
    frame = table.frame[[c.key for c in table.columns]].copy()
    for column in table.columns:
        if column.kind == "integer":
            # Counts arrive as float64 from sums; a reader should get int64 (nullable where a value is missing).
            frame[column.key] = frame[column.key].round().astype("Int64")
        elif column.kind in ("text", "flags"):
            frame[column.key] = [None if v is None or (isinstance(v, float) and v != v) else neutralise(str(v))
                                 for v in frame[column.key]]
    arrow = pa.Table.from_pandas(frame, preserve_index=False)
    fields = [
        arrow.schema.field(c.key).with_metadata({"header": c.header, "kind": c.kind}) for c in table.columns
    ]
    meta = table.meta
    schema = pa.schema(fields, metadata={
        "title": meta.title, "vintage_id": meta.vintage_id, "permalink": meta.permalink,
        "synthetic": str(meta.synthetic).lower(), "source": meta.source_line,
        "filters": json.dumps(dict(meta.filters), ensure_ascii=False),
    })
    buffer = io.BytesIO()
    pq.write_table(arrow.cast(schema), buffer)
    return buffer.getvalue()


@blueprint.get(f"{API_PREFIX}/data.<fmt>")
def data_url(fmt: str) -> Response:
    if fmt not in ("csv", "parquet"):
        return _problem(404, f"unknown format {neutralise(fmt)[:20]!r}: use data.csv or data.parquet")
    try:
        export = strict_explore(_checked_query(), base_url())
    except BadRequest as exc:
        return _problem(400, "invalid query: nothing was returned", exc.details)
    except ExportUnavailable as exc:
        return _problem(503, str(exc))
    table = export.view("explore").table
    content = to_csv_bytes(table) if fmt == "csv" else _parquet_bytes(table)
    response = _attachment(content, export_filename(table.meta, fmt), fmt)
    response.headers["X-Pact-Vintage"] = export.vintage.vintage_id
    response.headers["Link"] = f'<{export.permalink}>; rel="alternate"; type="text/html"'
    return response


@blueprint.get(f"{API_PREFIX}/")
@blueprint.get(API_PREFIX)
def api_index() -> Response:
    choice = data.resolve_vintage(None)
    if choice.vintage is None:
        return _problem(503, "no curated data yet: run the pipeline (make run)")
    dims = data.dimensions(choice.vintage)
    body = {
        "endpoints": [f"{API_PREFIX}/data.csv", f"{API_PREFIX}/data.parquet"],
        "description": "The rows of the Explore view for the same query parameters as /explore. Repeat a filter "
                       "parameter for 'any of'. Unknown parameters or values give a 400 naming them.",
        "parameters": {
            "indicator": [m.indicator for m in data.indicator_catalogue(choice.vintage)],
            "by": list(data.BREAKDOWNS),
            "from": list(dims.years), "to": list(dims.years),
            "ecosystem": [c for c, _ in dims.ecosystems],
            "country": [c for c, _ in dims.member_states],
            "partnership": [c for c, _ in dims.partnerships],
            "type": list(dims.member_types),
            "vintage": list(data.served_vintages()),
        },
        "current_vintage": choice.vintage.vintage_id,
        "example": f"{base_url()}{API_PREFIX}/data.csv?indicator=people_trained&by=member_state&from="
                   f"{dims.years[0] if dims.years else ''}",
    }
    return Response(json.dumps(body, ensure_ascii=False, indent=2), mimetype="application/json")


# --------------------------------------------------------------------------------------------------------------
# The export bar's files
# --------------------------------------------------------------------------------------------------------------


def _page_export_or_error(page: str, drop: tuple[str, ...] = ()) -> PageExport | Response:
    if not _NAME.match(page):
        return _problem(404, "no such page")
    try:
        query = {k: v for k, v in _checked_query().items() if k not in drop}
        return page_export(page, query, base_url())
    except KeyError:
        return _problem(404, "this page has no exports")
    except BadRequest as exc:
        return _problem(400, "invalid query: nothing was returned", exc.details)
    except ExportUnavailable as exc:
        return _problem(503, str(exc))


@blueprint.get(f"{EXPORT_PREFIX}/<page>/<view>.<fmt>")
def export_file(page: str, view: str, fmt: str) -> Response:
    if fmt not in VIEW_FORMATS or not _NAME.match(view):
        return _problem(404, "no such export")
    export = _page_export_or_error(page)
    if isinstance(export, Response):
        return export
    try:
        chosen = export.view(view)
    except KeyError:
        return _problem(404, f"the {page} page has no view {view!r}; it has {', '.join(export.keys)}")
    if fmt not in chosen.formats:
        return _problem(404, f"the {view} view is a table: download CSV or XLSX")
    try:
        content = VIEW_FORMATS[fmt].write(chosen)
    except FormatUnavailable as exc:
        log.error("%s", exc)
        return _problem(503, "chart images are unavailable on this server", [str(exc)])
    return _attachment(content, export_filename(chosen.table.meta, fmt), fmt)


PACK_TOKEN = re.compile(r"^[a-z0-9]{6,40}$")
PACK_COOKIE = "pm_pack"


@blueprint.get(f"{EXPORT_PREFIX}/<page>/pack.zip")
def export_pack(page: str) -> Response:
    # The page's pack button adds a one-time token; the cookie carrying it back tells the page the pack was
    # sent (or failed), so it can stop its progress display. The token is not part of the view's state.
    token = request.args.get("download_token", "")
    response: Response
    try:
        export = _page_export_or_error(page, drop=("download_token",))
        if isinstance(export, Response):
            response = export
        else:
            started = time.perf_counter()
            filename, content = pack_bytes(export)
            log.info("briefing pack for %s built in %.2f s (%d bytes)", page, time.perf_counter() - started,
                     len(content))
            response = _attachment(content, filename, "zip")
    except Exception:
        log.exception("briefing pack for %s failed", page)
        response = _problem(500, "the briefing pack could not be made")
    if PACK_TOKEN.match(token):
        value = token if response.status_code == 200 else token + "-error"
        response.set_cookie(PACK_COOKIE, value, max_age=300, path="/", samesite="Strict", secure=request.is_secure)
    return response

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
import math
import numbers
import os
import re
import time
import urllib.parse

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
from flask import Blueprint, Response, request

from dashboard import data, state
from dashboard.api_docs import API_PREFIX, DATA_FORMATS, PARAMETER_DOCS, allowed_values, openapi_document
from dashboard.export_registry import (
    VIEW_FORMATS,
    ExportRequest,
    FormatUnavailable,
    page_exports,
)
from dashboard.export_views import ExportUnavailable, PageExport, pack_bytes, page_export, query_from_args
from dashboard.exports import FLAG_LEGEND, ExportTable, export_filename, neutralise, to_csv_bytes
from dashboard.formatting import clip

log = logging.getLogger(__name__)

blueprint = Blueprint("pact_api", __name__)

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


MAX_BREAKDOWNS = 2


def strict_explore(query: dict[str, object]) -> tuple[data.Vintage, dict[str, object], tuple[str, ...]]:
    """The vintage, the query with its first breakdown and every breakdown asked for (one or two), or BadRequest
    listing every value that is not accepted."""
    # `view`, `show`, `year` and `sort` only arrange the page on screen; the rows are the same, so they are ignored.
    query = {k: v for k, v in query.items() if k not in ("view", "show", "year", "sort")}
    choice = data.resolve_vintage(query.get("vintage"))
    if choice.superseded:
        raise BadRequest([f"Data vintage “{clip(query.get('vintage'))}” has been updated: the public site serves only "
                          f"the current one, listed at {API_PREFIX}/"])
    if choice.message:
        raise BadRequest([f"Unknown data vintage “{clip(query.get('vintage'))}”: the kept vintages are listed at "
                          f"{API_PREFIX}/"])
    if choice.vintage is None:
        raise ExportUnavailable("no curated data yet: run the pipeline (make run)")
    raw_by = query.get("by")
    by = tuple(raw_by) if isinstance(raw_by, list) else ((raw_by,) if raw_by else ("ecosystem",))
    problems = []
    if len(by) > MAX_BREAKDOWNS:
        problems.append(f"At most {MAX_BREAKDOWNS} breakdowns (by) in one call, not {len(by)}")
    elif len(set(by)) != len(by):
        problems.append(f"The two breakdowns must differ, not “{clip(by[0])}” twice")
    problems += [f"Breakdown “{clip(b)}”: not one of {', '.join(data.BREAKDOWNS)}" for b in by
                 if b not in data.BREAKDOWNS]
    single = {**query, "by": by[0]}
    messages = state.Messages()
    dims = data.dimensions(choice.vintage)
    indicators = tuple(m.indicator for m in data.indicator_catalogue(choice.vintage))
    state.parse_explore({k: v for k, v in single.items() if k != "by" or v in data.BREAKDOWNS}, dims, indicators,
                        messages)
    # The page's parser says "Ignored …" because a page falls back to defaults; the API refuses instead.
    problems += [m.removeprefix("Ignored ")[:1].upper() + m.removeprefix("Ignored ")[1:] for m in messages]
    if problems:
        raise BadRequest(problems)
    return choice.vintage, single, tuple(str(b) for b in by)


def data_table(query: dict[str, object], base_url: str) -> ExportTable:
    vintage, single, by = strict_explore(query)
    exports = page_exports("explore")
    if exports.data_url is None:
        raise ExportUnavailable("the Explore page serves no data URL")
    return exports.data_url(ExportRequest(exports, vintage, single, base_url), by)


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
    if fmt not in DATA_FORMATS:
        return _problem(404, f"unknown format {neutralise(fmt)[:20]!r}: use data.csv, data.parquet or data.json")
    try:
        table = data_table(_checked_query(), base_url())
    except BadRequest as exc:
        return _problem(400, "invalid query: nothing was returned", exc.details)
    except ExportUnavailable as exc:
        return _problem(503, str(exc))
    if fmt == "json":
        response = Response(json.dumps(json_document(table), ensure_ascii=False, allow_nan=False),
                            mimetype="application/json")
    else:
        content = to_csv_bytes(table) if fmt == "csv" else _parquet_bytes(table)
        response = _attachment(content, export_filename(table.meta, fmt), fmt)
    response.headers["X-Pact-Vintage"] = table.meta.vintage_id
    response.headers["Link"] = f'<{table.meta.permalink}>; rel="alternate"; type="text/html"'
    return response


def _json_value(value: object, kind: str) -> object:
    """A cell as JSON: null where there is no figure (JSON has no NaN), numbers as numbers, the rest as text."""
    if value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value)):
        return None
    if kind in ("integer", "decimal", "euro", "percent") and isinstance(value, numbers.Real):
        return round(float(value)) if kind == "integer" else float(value)
    return str(value)


def json_document(table: ExportTable) -> dict[str, object]:
    """The data URL as JSON: the records (null where there is no figure) and what a reader needs to use them."""
    meta = table.meta
    records = [
        {c.key: _json_value(v, c.kind) for c, v in zip(table.columns, row, strict=True)}
        for row in table.frame[[c.key for c in table.columns]].itertuples(index=False, name=None)
    ]
    return {
        "metadata": {
            "title": meta.title,
            "vintage": {"id": meta.vintage_id, "created": meta.vintage_created},
            "permalink": meta.permalink,
            "synthetic": meta.synthetic,
            "source": meta.source_line,
            "parameters": dict(meta.filters),
            "columns": [{"key": c.key, "header": c.header, "kind": c.kind} for c in table.columns],
            "units": {d.indicator: d.unit for d in meta.definitions},
            "definitions": [{"indicator": d.indicator, "label": d.label, "unit": d.unit, "definition": d.definition,
                             "counting_rule": d.counting_rule} for d in meta.definitions],
            "flags": dict(FLAG_LEGEND),
            "coverage": "n_reporting of n_respondents per record: members who reported the indicator, of the "
                        "survey respondents in the cell",
            "notes": list(meta.notes),
        },
        "records": records,
    }


@blueprint.get(f"{API_PREFIX}/")
@blueprint.get(API_PREFIX)
def api_index() -> Response:
    choice = data.resolve_vintage(None)
    if choice.vintage is None:
        return _problem(503, "no curated data yet: run the pipeline (make run)")
    values = allowed_values(choice.vintage)
    years = values["from"]
    body = {
        "endpoints": [f"{API_PREFIX}/data.{fmt}" for fmt in DATA_FORMATS],
        "openapi": f"{API_PREFIX}/openapi.json",
        "description": "The cells of the Explore view for the same query parameters as /explore, with one or two "
                       "breakdowns. Repeat a filter parameter for 'any of'. Unknown parameters or values give a 400 "
                       "naming them.",
        "parameters": values,
        "parameter_docs": {name: {"description": text, "repeatable": repeatable}
                           for name, (text, repeatable) in PARAMETER_DOCS.items()},
        "current_vintage": choice.vintage.vintage_id,
        "example": f"{base_url()}{API_PREFIX}/data.json?indicator=people_trained&by=member_state&by=year&from="
                   f"{years[0] if years else ''}",
    }
    return Response(json.dumps(body, ensure_ascii=False, indent=2), mimetype="application/json")


@blueprint.get(f"{API_PREFIX}/openapi.json")
def openapi() -> Response:
    choice = data.resolve_vintage(None)
    if choice.vintage is None:
        return _problem(503, "no curated data yet: run the pipeline (make run)")
    return Response(json.dumps(openapi_document(choice.vintage), ensure_ascii=False, indent=2),
                    mimetype="application/json")


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

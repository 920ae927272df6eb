"""What the data URL accepts, said once: the parameter list of `GET /api/v1/` and the OpenAPI description served at
`/api/v1/openapi.json` are both made from PARAMETER_DOCS and the codes of the served data vintage."""

from __future__ import annotations

from dashboard import data
from dashboard.exports import FLAG_LEGEND
from dashboard.measures import MEASURES

API_PREFIX = "/api/v1"
DATA_FORMATS = {"csv": "text/csv", "parquet": "application/vnd.apache.parquet", "json": "application/json"}

# name -> (description, repeatable)
PARAMETER_DOCS: dict[str, tuple[str, bool]] = {
    "indicator": ("The indicator (default people_trained).", False),
    "by": ("One or two breakdowns (repeat for two, e.g. by=member_state&by=year); default ecosystem. Every "
           "category is listed, in reference order (Member States in protocol order), with a total row first.",
           True),
    "from": ("First survey year of the range (default the first).", False),
    "to": ("Last survey year of the range (default the last). Without `year` among the breakdowns the range is "
           "summed; a stock shows its last year.", False),
    "measure": ("total (default), per_member (per reporting member), share (of the selection's total) or change "
                "(on the previous survey year). A measure of a withheld figure is withheld.", False),
    "change": ("Add the change of the figure between two survey years, e.g. change=2022-2024: absolute, relative "
               "and flagged b when a break in series falls between them.", False),
    "ecosystem": ("Keep members whose primary industrial ecosystem is any of these (repeatable).", True),
    "country": ("Keep members in any of these Member States (Eurostat codes, repeatable).", True),
    "partnership": ("Keep members of any of these partnerships, from the year they joined (repeatable).", True),
    "type": ("Keep members of any of these types (repeatable).", True),
    "vintage": ("A kept data vintage; default the current one.", False),
}


def allowed_values(vintage: data.Vintage) -> dict[str, list[object]]:
    """The values each parameter accepts in this vintage (None: free-form, checked when asked)."""
    dims = data.dimensions(vintage)
    pairs = [f"{a}-{b}" for a in dims.years for b in dims.years if a < b]
    return {
        "indicator": [m.indicator for m in data.indicator_catalogue(vintage)],
        "by": list(data.BREAKDOWNS),
        "from": list(dims.years),
        "to": list(dims.years),
        "measure": list(MEASURES),
        "change": list(pairs),
        "ecosystem": [c for c, _ in dims.ecosystems],
        "country": [c for c, _ in dims.member_states],
        "partnership": [c for c, _ in dims.partnerships],
        "type": list(dims.member_types),
        "vintage": list(data.served_vintages()),
    }


def _schema(values: list[object], repeatable: bool) -> dict[str, object]:
    item: dict[str, object] = {"type": "integer" if values and isinstance(values[0], int) else "string"}
    if values:
        item["enum"] = values
    return {"type": "array", "items": item, "maxItems": 2 if repeatable and values == list(data.BREAKDOWNS) else 50} \
        if repeatable else item


def openapi_document(vintage: data.Vintage) -> dict[str, object]:
    """An OpenAPI 3.1 description of the data URL, with the codes this vintage accepts."""
    values = allowed_values(vintage)
    parameters = [
        {"name": name, "in": "query", "required": False, "description": text,
         "schema": _schema(values[name], repeatable), **({"style": "form", "explode": True} if repeatable else {})}
        for name, (text, repeatable) in PARAMETER_DOCS.items()
    ]
    problem = {"description": "The query names a value that is not accepted; nothing is returned.",
               "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Problem"}}}}
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Pact Monitor data URL",
            "version": "1",
            "description": "The figures behind the Explore page as data: one indicator by one or two breakdowns, "
                           "with coverage and flags. Flags: " + "; ".join(f"{k} = {v}" for k, v in FLAG_LEGEND.items()),
        },
        "paths": {
            f"{API_PREFIX}/data.{{format}}": {
                "get": {
                    "summary": "The cells of one indicator by one or two breakdowns",
                    "operationId": "getData",
                    "parameters": [
                        {"name": "format", "in": "path", "required": True, "description": "The file format.",
                         "schema": {"type": "string", "enum": list(DATA_FORMATS)}},
                        *parameters,
                    ],
                    "responses": {
                        "200": {
                            "description": "One row per cell, total rows first. CSV writes ':' where there is no "
                                           "figure; Parquet and JSON write null. The flags column says why.",
                            "content": {
                                "text/csv": {"schema": {"type": "string"}},
                                "application/vnd.apache.parquet": {"schema": {"type": "string",
                                                                              "contentEncoding": "binary"}},
                                "application/json": {"schema": {"$ref": "#/components/schemas/DataDocument"}},
                            },
                        },
                        "400": problem,
                        "404": problem,
                        "503": {"description": "No curated data yet.",
                                "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Problem"}}}},
                    },
                },
            },
            f"{API_PREFIX}/": {
                "get": {"summary": "Every parameter and the values this vintage accepts", "operationId": "getIndex",
                        "responses": {"200": {"description": "The parameters, as JSON.",
                                              "content": {"application/json": {"schema": {"type": "object"}}}}}},
            },
        },
        "components": {
            "schemas": {
                "Problem": {"type": "object", "required": ["error", "details"],
                            "properties": {"error": {"type": "string"},
                                           "details": {"type": "array", "items": {"type": "string"}}}},
                "DataDocument": {
                    "type": "object", "required": ["metadata", "records"],
                    "properties": {
                        "metadata": {"type": "object", "required": ["title", "vintage", "permalink", "columns", "flags"],
                                     "properties": {"title": {"type": "string"}, "permalink": {"type": "string"},
                                                    "vintage": {"type": "object"}, "columns": {"type": "array"},
                                                    "flags": {"type": "object"}, "units": {"type": "object"}}},
                        "records": {"type": "array", "items": {"type": "object"}},
                    },
                },
            },
        },
    }

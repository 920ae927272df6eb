"""Callback server time over HTTP: the exact POST /_dash-update-component bodies the browser sent, replayed against
gunicorn on 127.0.0.1 one at a time (no concurrency: this measures the time of one request, not throughput).

The time is the client's round trip on the loopback interface, to the last byte of the response as sent (the body
is read without decoding it, so client-side decompression is not counted). It is an upper bound of the server time.
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass
from typing import Any

import requests

from benchmarks.timing import Stats

logger = logging.getLogger(__name__)

UPDATE_PATH = "/_dash-update-component"
BROWSER_HEADERS = {
    "Content-Type": "application/json",
    "Accept": "application/json",
    "Accept-Encoding": "gzip, deflate, br, zstd",
}


def outputs_label(payload: dict[str, Any]) -> str:
    """'graph.figure + table.rowData' from a payload's outputs (a dict, or a list for multi-output callbacks)."""
    outputs = payload.get("outputs")
    items = outputs if isinstance(outputs, list) else [outputs]
    parts = []
    for item in items:
        if not isinstance(item, dict):
            continue
        ident = item.get("id")
        if isinstance(ident, dict):
            ident = json.dumps(ident, sort_keys=True, separators=(",", ":"))
        parts.append(f"{ident}.{item.get('property')}")
    return " + ".join(parts) or str(payload.get("output"))


def inputs_label(payload: dict[str, Any]) -> str:
    """The triggering inputs with their values, short: what makes two calls of one callback different."""
    parts = []
    for item in payload.get("inputs", []):
        if isinstance(item, dict) and "id" in item:
            value = json.dumps(item.get("value"), sort_keys=True, default=str)
            parts.append(f"{item['id']}.{item.get('property')}={value[:60]}")
    return ", ".join(parts)


def unique_payloads(payloads: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Captured requests ({"query", "body"}) without repeats of the same body."""
    seen: set[str] = set()
    unique = []
    for payload in payloads:
        key = json.dumps(payload["body"], sort_keys=True)
        if key not in seen:
            seen.add(key)
            unique.append(payload)
    return unique


@dataclass
class HttpResult:
    view: str
    callback: str
    inputs: str
    status: int
    content_encoding: str
    bytes_sent: int
    first_s: float  # the very first request of this payload: a cold server-side cache
    stats: Stats


def replay(base_url: str, view: str, captured: dict[str, Any], *, repeat: int, warmup: int = 1) -> HttpResult:
    payload = captured["body"]
    body = json.dumps(payload).encode()
    url = base_url + UPDATE_PATH + (f"?{captured['query']}" if captured.get("query") else "")
    samples: list[float] = []
    first = 0.0
    status = 0
    encoding = ""
    size = 0
    with requests.Session() as session:
        for index in range(warmup + repeat):
            start = time.perf_counter()
            response = session.post(url, data=body, headers=BROWSER_HEADERS, stream=True, timeout=120)
            raw = response.raw.read(decode_content=False)
            elapsed = time.perf_counter() - start
            response.close()
            status = response.status_code
            encoding = response.headers.get("Content-Encoding", "identity")
            size = len(raw)
            if index == 0:
                first = elapsed
            if index >= warmup:
                samples.append(elapsed)
    if status not in (200, 204):
        logger.warning("%s %s answered HTTP %s", view, outputs_label(payload), status)
    return HttpResult(view, outputs_label(payload), inputs_label(payload), status, encoding, size, first,
                      Stats.of(samples, warmup=warmup))

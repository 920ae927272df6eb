"""Callback server time in-process: the dashboard imported in a fresh interpreter over one curated snapshot.

Run as `python -m benchmarks.inprocess --curated DIR --payloads FILE --out FILE` by the harness, once per scale, so
that each scale starts from an empty cache and a process of its own (the dashboard opens its data lazily, once per
process). Two figures per captured browser payload:
- `function`: the page's callback function called directly with the payload's values (its query and figure
  building, nothing of Dash's), with a callback context built from the payload so that `ctx.triggered_id` works;
- `dispatch`: the same payload POSTed through Flask's test client: Dash's dispatch, JSON serialisation of the
  figure and response compression included, sockets and gunicorn excluded.
Plus the query layer against plain pandas (see `benchmarks.queries`).
"""

from __future__ import annotations

import argparse
import contextvars
import gc
import json
import logging
import os
import sys
import time
from pathlib import Path
from typing import Any

from benchmarks import adapters
from benchmarks.httpbench import BROWSER_HEADERS, UPDATE_PATH, inputs_label, outputs_label
from benchmarks.timing import Stats

logger = logging.getLogger("benchmarks.inprocess")


def _callback_context(payload: dict[str, Any]) -> Any:
    from dash._utils import AttributeDict, inputs_to_dict

    g = AttributeDict({})
    g.inputs_list = payload.get("inputs", [])
    g.states_list = payload.get("state", [])
    g.outputs_list = payload.get("outputs", [])
    g.input_values = inputs_to_dict(g.inputs_list)
    g.state_values = inputs_to_dict(g.states_list)
    g.triggered_inputs = [
        {"prop_id": x, "value": g.input_values.get(x)} for x in payload.get("changedPropIds", [])
    ]
    g.updated_props = {}
    g.cookies = {}
    g.headers = {}
    g.args = {}
    g.path = UPDATE_PATH
    g.remote = "127.0.0.1"
    g.origin = None
    g.custom_data = AttributeDict({})
    return g


def _flat_values(items: list[Any]) -> list[Any]:
    """Argument values in declaration order; a pattern-matching (ALL/MATCH) input is a list of its values."""
    values = []
    for item in items:
        if isinstance(item, list):
            values.append([sub.get("value") for sub in item])
        else:
            values.append(item.get("value"))
    return values


def call_function(app: Any, payload: dict[str, Any]) -> Any:
    """Call the page's own callback function with the payload's inputs and states, inside a callback context."""
    from dash._callback_context import context_value

    entry = app.callback_map[payload["output"]]
    func = getattr(entry["callback"], "__wrapped__", entry["callback"])
    args = _flat_values(payload.get("inputs", [])) + _flat_values(payload.get("state", []))
    ctx = _callback_context(payload)

    def run() -> Any:
        context_value.set(ctx)
        return func(*args)

    with app.server.test_request_context(UPDATE_PATH, method="POST"):
        return contextvars.copy_context().run(run)


def _timed(fn: Any, repeat: int, before: Any = None) -> Stats:
    samples = []
    for _ in range(repeat):
        if before is not None:
            before()
        start = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - start)
    return Stats.of(samples, warmup=1)


def _cold() -> None:
    adapters.clear_query_cache(keep_per_snapshot=True)


def time_payloads(app: Any, payloads: list[dict[str, Any]], repeat: int) -> list[dict[str, Any]]:
    client = app.server.test_client()
    results = []
    for item in payloads:
        payload = item["payload"]["body"]
        query = item["payload"].get("query")
        row: dict[str, Any] = {
            "view": item["view"], "callback": outputs_label(payload), "inputs": inputs_label(payload),
        }
        try:
            call_function(app, payload)  # warm-up
            row["function"] = _timed(lambda p=payload: call_function(app, p), repeat).as_dict()
            # Cold: the data layer's per-question results dropped before each call, as for a filter combination
            # this worker has not been asked before (its per-snapshot dimensions stay).
            if adapters.can_clear_query_cache():
                row["function_cold"] = _timed(
                    lambda p=payload: call_function(app, p), repeat, before=_cold
                ).as_dict()
        except Exception as exc:  # recorded, not fatal: one odd callback must not hide the others' figures
            row["function_error"] = f"{type(exc).__name__}: {exc}"[:300]
        body = json.dumps(payload)
        url = UPDATE_PATH + (f"?{query}" if query else "")
        status: list[int] = []

        def dispatch(url: str = url, body: str = body, status: list[int] = status) -> None:
            response = client.post(url, data=body, headers=BROWSER_HEADERS)
            response.get_data()
            status.append(response.status_code)

        dispatch()  # warm-up
        row["dispatch"] = _timed(dispatch, repeat).as_dict()
        if adapters.can_clear_query_cache():
            row["dispatch_cold"] = _timed(dispatch, repeat, before=_cold).as_dict()
        row["status"] = status[-1]
        results.append(row)
    return results


def profile(app: Any, rows: list[dict[str, Any]], payloads: list[dict[str, Any]], top: int) -> list[dict]:
    """cProfile the `top` slowest callbacks (cold cache): where their time goes, by cumulative time."""
    import cProfile
    import io
    import pstats

    timed = [(row, item) for row, item in zip(rows, payloads, strict=True) if "function" in row]
    key = "function_cold" if all("function_cold" in row for row, _ in timed) else "function"
    timed.sort(key=lambda pair: pair[0][key]["median"], reverse=True)
    out = []
    for row, item in timed[:top]:
        _cold()
        profiler = cProfile.Profile()
        start = time.perf_counter()
        profiler.runcall(call_function, app, item["payload"]["body"])
        total = time.perf_counter() - start
        buffer = io.StringIO()
        stats = pstats.Stats(profiler, stream=buffer)
        stats.strip_dirs().sort_stats("cumulative").print_stats(18)
        lines = [line.rstrip() for line in buffer.getvalue().splitlines() if line.strip()]
        start_at = next((i for i, line in enumerate(lines) if line.lstrip().startswith("ncalls")), 0)
        out.append({"view": row["view"], "callback": row["callback"], "inputs": row["inputs"],
                    "total_ms": total * 1000, "top": lines[start_at:]})
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.inprocess")
    parser.add_argument("--curated", type=Path, required=True)
    parser.add_argument("--payloads", type=Path, required=True)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--repeat", type=int, default=10)
    parser.add_argument("--query-repeat", type=int, default=5)
    parser.add_argument("--profile", type=int, default=0, help="profile this many of the slowest callbacks")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s", stream=sys.stderr)
    os.environ.update(adapters.dashboard_env(args.curated))
    os.environ.setdefault("DASH_DISABLE_VERSION_CHECK", "true")

    start = time.perf_counter()
    from dashboard.app import app

    # The first request runs Dash's one-off server set-up (as wsgi.py's warm-up does in production).
    with app.server.test_client() as client:
        client.get("/")
    import_s = time.perf_counter() - start
    # As wsgi.py's boot ends: what was built so far is kept out of the cyclic collector's full collections.
    gc.collect()
    gc.freeze()

    payloads = json.loads(args.payloads.read_text())
    out: dict[str, Any] = {"import_and_first_request_s": import_s}
    out["callbacks"] = time_payloads(app, payloads, args.repeat)
    if args.profile:
        out["profiles"] = profile(app, out["callbacks"], payloads, args.profile)

    from benchmarks import queries

    out["queries"] = queries.compare(args.curated, repeat=args.query_repeat)
    args.out.write_text(json.dumps(out, indent=1, default=str))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""Load test: 50 concurrent users clicking through every page of the dashboard served by gunicorn on 127.0.0.1.

`python -m benchmarks.load [--users 50] [--duration 120] [--workers 4] [--threads 4] [--out FILE]`

1. Builds a curated snapshot from data/raw (the bundled sample) under benchmarks/.cache/load/ with the pipeline.
2. Serves it with gunicorn (benchmarks.server: the Procfile's command, loopback only, several workers).
3. Records what a browser really sends: headless Chromium opens every view of the benchmark harness and plays
   its interactions (benchmarks.adapters.VIEWS / INTERACTIONS); every POST /_dash-update-component is kept.
4. Replays it from `--users` threads, each a user with its own connection pool, for `--duration` seconds:
   per visit of a view, GET the page, GET /_dash-layout and /_dash-dependencies, then every callback the
   browser sent on that view, in order. A user's first visit also fetches the page's scripts and styles (a
   browser with an empty cache).
5. Writes the latency percentiles per request kind, requests served and errors to `--out`
   (benchmarks/load_results.md). An error is any status other than 200/204, a refused or reset connection, a
   timeout, or a callback answer that is not Dash's JSON.

The client runs on the same machine as the server (2 cores here), so the latencies include the client's own
share of the CPU: they are an upper bound for a remote user, not a lower one.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import logging
import re
import statistics
import threading
import time
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import requests

from benchmarks import adapters, machine, server
from benchmarks.browser import UPDATE_PATH, Browser
from benchmarks.httpbench import BROWSER_HEADERS, outputs_label

logger = logging.getLogger("benchmarks.load")
REPO = Path(__file__).resolve().parent.parent
CACHE = REPO / "benchmarks" / ".cache" / "load"
RESULTS = REPO / "benchmarks" / "load_results.md"


@dataclass
class Visit:
    """What one view costs a browser: the page, Dash's two start-up requests, its callbacks, its static files."""

    view: str
    path: str
    callbacks: list[dict[str, Any]]
    statics: list[str] = field(default_factory=list)


@dataclass
class Sample:
    kind: str
    seconds: float
    ok: bool
    detail: str = ""


def build_curated() -> Path:
    curated = CACHE / "curated"
    label, call = adapters.pipeline_runner()
    logger.info("building the curated snapshot from data/raw (%s)", label)
    call(REPO / "data" / "raw", curated)
    return curated


def record_visits(base_url: str) -> list[Visit]:
    """Open every view in Chromium with its interactions; keep the callbacks it sent and the files it loaded."""
    visits = []
    with Browser() as browser:
        for view, path in adapters.views():
            load = browser.load(base_url, view, path, adapters.interactions(path))
            if load.console_errors:
                logger.warning("%s: console errors while recording: %s", path, load.console_errors[:3])
            statics = sorted(set(_page_statics(base_url, path)))
            visits.append(Visit(view, path, list(load.payloads), statics))
            logger.info("recorded %-45s %3d callbacks, %3d static files", path, len(load.payloads), len(statics))
    return visits


def _page_statics(base_url: str, path: str) -> list[str]:
    html = requests.get(base_url + path, timeout=30).text
    return re.findall(r'(?:src|href)="(/(?:_dash-component-suites|assets)/[^"]+)"', html)


def check_callback(response: requests.Response) -> str:
    if response.status_code == 204:
        return ""
    if response.status_code != 200:
        return f"HTTP {response.status_code}"
    try:
        answer = response.json()
    except ValueError:
        return "callback answer is not JSON"
    if not isinstance(answer, dict) or "response" not in answer:
        return "callback answer without 'response'"
    return ""


def user(base_url: str, visits: list[Visit], deadline: float, samples: list[Sample], lock: threading.Lock,
         number: int) -> None:
    """One user: visits every view in turn (starting at a different one per user) until the deadline."""
    mine: list[Sample] = []
    first = True
    order = visits[number % len(visits):] + visits[: number % len(visits)]
    with requests.Session() as session:
        session.headers["Accept-Encoding"] = BROWSER_HEADERS["Accept-Encoding"]

        def timed(kind: str, method: str, url: str, **kwargs: Any) -> None:
            start = time.perf_counter()
            try:
                response = session.request(method, base_url + url, timeout=60, **kwargs)
                body = response.content
                problem = check_callback(response) if kind.startswith("callback") else (
                    "" if response.status_code == 200 else f"HTTP {response.status_code}")
                del body
            except requests.RequestException as exc:
                problem = type(exc).__name__
            mine.append(Sample(kind, time.perf_counter() - start, not problem, problem))

        while time.monotonic() < deadline:
            for visit in order:
                if time.monotonic() >= deadline:
                    break
                timed("page", "GET", visit.path)
                if first:
                    for static in visit.statics:
                        timed("static file", "GET", static)
                    first = False
                timed("_dash-layout", "GET", "/_dash-layout")
                timed("_dash-dependencies", "GET", "/_dash-dependencies")
                for payload in visit.callbacks:
                    query = f"?{payload['query']}" if payload.get("query") else ""
                    timed(f"callback {visit.path.split('?')[0]}", "POST", UPDATE_PATH + query,
                          data=json.dumps(payload["body"]), headers={"Content-Type": "application/json"})
    with lock:
        samples.extend(mine)


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    rank = max(0, min(len(ordered) - 1, round(q / 100 * len(ordered) + 0.5) - 1))
    return ordered[rank]


def summarise(samples: list[Sample]) -> list[dict[str, Any]]:
    kinds: dict[str, list[Sample]] = defaultdict(list)
    for sample in samples:
        kinds[sample.kind].append(sample)
    kinds["all requests"] = samples
    rows = []
    for kind, group in sorted(kinds.items(), key=lambda kv: (kv[0] == "all requests", kv[0])):
        ms = [s.seconds * 1000 for s in group]
        rows.append({
            "kind": kind, "requests": len(group), "errors": sum(not s.ok for s in group),
            "p50": percentile(ms, 50), "p95": percentile(ms, 95), "p99": percentile(ms, 99), "max": max(ms),
            "mean": statistics.fmean(ms),
        })
    return rows


def write_results(out: Path, rows: list[dict[str, Any]], settings: dict[str, Any], meta: dict[str, Any],
                  errors: dict[str, int], visits: list[Visit]) -> None:
    total = rows[-1]
    lines = [
        "# Load test: concurrent users clicking through every page",
        "",
        "Produced by `python -m benchmarks.load` (" + " ".join(f"--{k} {v}" for k, v in settings.items()) + ").",
        f"Run on {meta.get('date', dt.datetime.now(dt.UTC).isoformat(timespec='seconds'))}, "
        f"{meta.get('cpu', '?')} ({meta.get('cores', '?')} cores), {meta.get('ram_gb', '?')} GB RAM, "
        f"commit {meta.get('commit', '?')}; client and server on the same machine (127.0.0.1); load average "
        f"at start {meta.get('load_average_at_start')} (other work on the machine inflates the latencies).",
        "",
        f"**{total['requests']:,} requests served in {settings['duration']} s to {settings['users']} concurrent "
        f"users, {total['errors']} errors** ({total['requests'] / settings['duration']:.0f} requests/s; gunicorn "
        f"{settings['workers']} workers × {settings['threads']} threads over the bundled sample).",
        "",
        "Each user visits every view in turn (" + ", ".join(f"`{v.path}`" for v in visits) + "): the page, "
        "`/_dash-layout`, `/_dash-dependencies`, then each callback Chromium sent on that view while its "
        "interactions were played; a user's first visit also fetches the scripts and styles.",
        "",
        "| request kind | requests | errors | p50 ms | p95 ms | p99 ms | max ms | mean ms |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for row in rows:
        name = f"**{row['kind']}**" if row["kind"] == "all requests" else row["kind"]
        lines.append(f"| {name} | {row['requests']:,} | {row['errors']} | {row['p50']:.0f} | {row['p95']:.0f} | "
                     f"{row['p99']:.0f} | {row['max']:.0f} | {row['mean']:.0f} |")
    lines += ["", "Callbacks recorded per view: " + ", ".join(f"`{v.path}` {len(v.callbacks)}" for v in visits)
              + "."]
    if errors:
        lines += ["", "Errors by cause: " + ", ".join(f"{k}: {n}" for k, n in sorted(errors.items())) + "."]
    out.write_text("\n".join(lines) + "\n", encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.load", description=__doc__.split("\n")[0])
    parser.add_argument("--users", type=int, default=50)
    parser.add_argument("--duration", type=float, default=120.0, help="seconds of load (e.g. 10 for a smoke test)")
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")

    curated = build_curated()
    with server.gunicorn(curated, CACHE / "logs", workers=args.workers, threads=args.threads) as srv:
        visits = record_visits(srv.base_url)
        samples: list[Sample] = []
        lock = threading.Lock()
        deadline = time.monotonic() + args.duration
        logger.info("%d users for %.0f s against %s", args.users, args.duration, srv.base_url)
        users = [threading.Thread(target=user, args=(srv.base_url, visits, deadline, samples, lock, n))
                 for n in range(args.users)]
        started = time.monotonic()
        for thread in users:
            thread.start()
        for thread in users:
            thread.join()
        elapsed = time.monotonic() - started
        peaks = srv.peak_rss_mb()
    rows = summarise(samples)
    errors: dict[str, int] = defaultdict(int)
    for sample in samples:
        if not sample.ok:
            errors[f"{sample.kind}: {sample.detail}"] += 1
    meta = machine.describe(REPO)
    settings = {"users": args.users, "duration": int(args.duration), "workers": args.workers,
                "threads": args.threads}
    write_results(args.out, rows, settings, meta, dict(errors), visits)
    total = rows[-1]
    logger.info("%d requests in %.0f s, %d errors; p50 %.0f ms, p95 %.0f ms, p99 %.0f ms; worker peak RSS %s",
                total["requests"], elapsed, total["errors"], total["p50"], total["p95"], total["p99"], peaks)
    logger.info("wrote %s (callbacks recorded: %s)", args.out,
                {v.path: [outputs_label(p["body"]) for p in v.callbacks][:2] for v in visits})
    return 0 if total["errors"] == 0 else 1


if __name__ == "__main__":
    raise SystemExit(main())

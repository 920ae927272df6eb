"""The dashboard at one scale: browser loads, HTTP replay of the browser's callback payloads, worker memory, then
the in-process figures (callbacks and the query layer against plain pandas) in a fresh interpreter."""

from __future__ import annotations

import json
import logging
import subprocess
import sys
from pathlib import Path
from typing import Any

from benchmarks import adapters, httpbench, server
from benchmarks.timing import Stats

logger = logging.getLogger(__name__)

REPO = Path(__file__).resolve().parent.parent


def _ms_stats(values: list[float | None]) -> dict[str, Any] | None:
    present = [v for v in values if v is not None]
    return Stats.of(present).as_dict() if present else None


def run(scale: int, curated: Path, work: Path, settings: Any, rec: Any, browser: Any) -> None:
    results = rec.results
    captured: list[dict[str, Any]] = []
    with server.gunicorn(curated, work / "logs") as srv:
        if browser is None:
            rec.skip("browser", scale, "no /usr/bin/chromium or playwright: no browser figures and no payloads")
        elif "browser" in settings.sections or "dashboard" in settings.sections:
            for view, path in adapters.views(quick=settings.quick):
                steps = adapters.interactions(path, quick=settings.quick)
                logger.info("browser %dx: %s, %d interaction(s) (%d loads after a first, cold-server load)", scale,
                            path, len(steps), settings.browser_loads)
                # the first load is cold (server caches empty) and is the one whose bytes are counted
                warm = settings.browser_loads if scale == max(settings.scales) else min(1, settings.browser_loads)
                loads = [browser.load(srv.base_url, view, path, steps, count_bytes=i == 0) for i in range(1 + warm)]
                first, later = loads[0], loads[1:] or loads[:1]
                captured += [{"view": p["view"], "payload": p} for p in first.payloads]
                results["browser"].append({
                    "scale": scale, "view": view, "path": path, "title": first.title, "graphs": first.graphs,
                    "first_paint_ms": _ms_stats([x.first_paint_ms for x in later]),
                    "first_contentful_paint_ms": _ms_stats([x.first_contentful_paint_ms for x in later]),
                    "charts_drawn_ms": _ms_stats([x.charts_drawn_ms for x in later]),
                    "charts_drawn_first_ms": first.charts_drawn_ms,
                    "scripts_loaded_ms": _ms_stats([x.scripts_loaded_ms for x in later]),
                    "callbacks_done_ms": _ms_stats([x.callbacks_done_ms for x in later]),
                    "largest_responses": first.largest,
                    "requests": first.requests, "bytes_transferred": first.bytes_transferred,
                    "bytes_decoded": first.bytes_decoded, "encodings": first.encodings,
                    "compressible_responses": first.compressible_responses,
                    "uncompressed_compressible": first.uncompressed_compressible,
                    "callbacks_sent": len(first.payloads),
                    "console_errors": sorted(set(first.console_errors + [e for x in later for e in x.console_errors])),
                    "outside_requests": sorted(set(first.outside_requests)),
                })
                for label, _ in steps:
                    if first.interaction_ms.get(label) is None:
                        rec.skip("browser", scale, f"{view}: interaction {label!r} sent no callback request (a control "
                                 "renamed? see benchmarks/adapters.py INTERACTIONS)")
                    results["interactions"].append({
                        "scale": scale, "view": view, "interaction": label,
                        "drawn_ms": _ms_stats([x.interaction_ms.get(label) for x in later]),
                        "first_ms": first.interaction_ms.get(label),
                        "callbacks_sent": sum(1 for p in first.payloads if p["view"] == f"{view}: {label}"),
                    })
        # one replay per distinct request body, whichever view sent it first (every page sends the banner's)
        captured = [{"view": p["view"], "payload": p} for p in httpbench.unique_payloads([c["payload"] for c in captured])]
        if "dashboard" in settings.sections and captured:
            for item in captured:
                result = httpbench.replay(srv.base_url, item["view"], item["payload"], repeat=settings.http_repeat)
                row = {"scale": scale, **{k: v for k, v in result.__dict__.items() if k != "stats"},
                       "stats": result.stats.as_dict()}
                results["callbacks_http"].append(row)
            slowest = max(results["callbacks_http"], key=lambda r: r["stats"]["p95"] if r["scale"] == scale else 0)
            logger.info("http %dx: %d payloads replayed %d times; slowest p95 %.1f ms (%s: %s)", scale,
                        len(captured), settings.http_repeat, slowest["stats"]["p95"] * 1000, slowest["view"],
                        slowest["callback"])
        peaks = srv.peak_rss_mb()
        workers = [v for k, v in peaks.items() if k.startswith("worker") and v is not None]
        results["memory"].append({
            "scale": scale, "peaks": peaks, "peak_worker_mb": max(workers) if workers else None,
            "workers": srv.workers, "threads": srv.threads,
        })
    if "dashboard" not in settings.sections:
        return
    payload_file = work / f"payloads-{scale}x.json"
    payload_file.write_text(json.dumps(captured))
    out_file = work / f"inprocess-{scale}x.json"
    # at 100x a cold-cache dispatch or a pandas answer takes up to half a second: three runs give the median there
    repeat = settings.repeat if scale < 100 else min(3, settings.repeat)
    cmd = [
        sys.executable, "-m", "benchmarks.inprocess", "--curated", str(curated), "--payloads", str(payload_file),
        "--out", str(out_file), "--repeat", str(repeat), "--query-repeat", str(repeat),
    ]
    if settings.profile and scale == max(settings.scales):
        cmd += ["--profile", "3"]
    logger.info("in-process %dx: callbacks and query layer vs plain pandas (fresh interpreter)", scale)
    done = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"in-process benchmark failed: {done.stderr[-3000:]}")
    data = json.loads(out_file.read_text())
    for row in data.get("callbacks", []):
        results["callbacks_inprocess"].append({"scale": scale, **row})
    for row in data.get("queries", []):
        results["queries"].append({"scale": scale, **row})
    for row in data.get("profiles", []):
        results["profiles"].append({"scale": scale, **row})
    results.setdefault("inprocess_import_s", {})[str(scale)] = data.get("import_and_first_request_s")

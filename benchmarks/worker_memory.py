"""`python -m benchmarks.worker_memory --curated DIR [--label TEXT] [--out FILE]`: a served worker's memory.

The memory part of `python -m benchmarks`, alone, over a curated directory built beforehand (so the before and
after of a change are measured on one snapshot, without the pipeline benchmarks around them):

1. gunicorn serves DIR as the Procfile does (benchmarks.server: its workers and threads, loopback only);
2. each worker's RSS is read once it has booted: imports, the app and its warm-up request;
3. Chromium opens every view of the harness with its interactions (benchmarks.adapters.VIEWS / INTERACTIONS), and
   every callback request it sent is replayed once more over HTTP;
4. each worker's peak RSS (VmHWM) is read before gunicorn stops.

Appends one JSON line per run to `--out` (default benchmarks/worker_memory.jsonl) with the machine's load
average before and after. A record, not a test: nothing passes or fails.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import logging
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from benchmarks import adapters, httpbench, machine, server

logger = logging.getLogger("benchmarks.worker_memory")
HERE = Path(__file__).resolve().parent


def _git(*args: str) -> str:
    done = subprocess.run(["git", *args], cwd=HERE.parent, capture_output=True, text=True, check=False)
    return done.stdout.strip()


def measure(curated: Path, save_payloads: Path | None = None) -> dict[str, Any]:
    from benchmarks.browser import Browser

    with tempfile.TemporaryDirectory(prefix="worker_memory_") as tmp, server.gunicorn(curated, Path(tmp)) as srv:
        booted = {f"worker{i + 1}": round((server.status_kb(pid, "VmRSS") or 0) / 1024, 1)
                  for i, pid in enumerate(sorted(server.children(srv.process.pid)))}
        payloads: list[dict[str, Any]] = []
        started = time.perf_counter()
        with Browser() as browser:
            for view, path in adapters.views():
                load = browser.load(srv.base_url, view, path, adapters.interactions(path))
                payloads += load.payloads
        unique = httpbench.unique_payloads(payloads)
        if save_payloads is not None:
            save_payloads.write_text(json.dumps(unique))
        for payload in unique:
            httpbench.replay(srv.base_url, payload["view"], payload, repeat=1, warmup=0)
        peaks = srv.peak_rss_mb()
    workers = [v for k, v in peaks.items() if k.startswith("worker") and v is not None]
    return {"booted_rss_mb": booted, "peaks_mb": peaks, "peak_worker_mb": max(workers) if workers else None,
            "workers": srv.workers, "threads": srv.threads, "views": len(adapters.views()),
            "callbacks_replayed": len(unique), "seconds": round(time.perf_counter() - started, 1)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.worker_memory", description=__doc__.split("\n")[0])
    parser.add_argument("--curated", type=Path, required=True, help="a curated directory (python -m pipelines)")
    parser.add_argument("--label", default="", help="what is measured, e.g. '100x, before'")
    parser.add_argument("--out", type=Path, default=HERE / "worker_memory.jsonl")
    parser.add_argument("--save-payloads", type=Path, help="also write the callback requests the browser sent (JSON)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    load_before = machine.load_average()
    row = {"when": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"), "label": args.label,
           "commit": _git("rev-parse", "--short", "HEAD"),
           "dirty": bool(_git("status", "--porcelain", "--", ".", f":!{args.out.name}", f":!**/{args.out.name}")),
           "curated": str(args.curated), "load_average_before": load_before,
           **measure(args.curated, args.save_payloads), "load_average_after": machine.load_average()}
    with args.out.open("a") as out:
        out.write(json.dumps(row) + "\n")
    sys.stdout.write(json.dumps(row, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""`python -m benchmarks.rebuild_memory [--rebuilds 20]`: a worker's memory across pipeline rebuilds.

A long-lived dashboard worker sees every new snapshot the pipeline publishes. Each one it reads gets a DuckDB
schema with in-memory copies of the hot tables (dashboard/data/core.py); the pipeline keeps 5 snapshots and prunes the
rest. This measures what that costs over `--rebuilds` rebuilds: one process plays the worker (the real app
through Flask's test client) and, after each `python -m pipelines --force` (a subprocess, as in production, so its
own memory is not counted), requests the data URL and the Explore layout, which read the new vintage. After each
request it records the process's RSS, the DuckDB schemas it holds and DuckDB's own memory.

Run twice, each in a fresh process: as the data layer is (schemas of pruned snapshots dropped) and with the drop
disabled (every schema kept, the behaviour before). Writes rebuild_memory.md and rebuild_memory.json beside this
file. A record, not a test: nothing here passes or fails.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
REPO = HERE.parent


def rss_mib() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def worker(raw: Path, rebuilds: int, keep_schemas: bool) -> dict[str, Any]:
    """Play one worker through `rebuilds` rebuilds; return its per-rebuild figures."""
    os.environ.setdefault("DASH_DISABLE_VERSION_CHECK", "true")
    with tempfile.TemporaryDirectory(prefix="rebuild_memory_") as tmp:
        curated = Path(tmp) / "curated"
        os.environ["PACT_CURATED_DIR"] = str(curated)
        from dashboard import data
        from dashboard.data import core

        if keep_schemas:
            # the behaviour before schemas were dropped (patched where the connection code calls it)
            core._drop_removed_snapshots = lambda con, schemas: None
        data.reset()
        from dashboard.app import server

        rows = []
        client = server.test_client()
        for i in range(rebuilds + 1):
            subprocess.run([sys.executable, "-m", "pipelines", "--raw", str(raw), "--curated", str(curated),
                            "--force"], check=True, cwd=REPO, capture_output=True)
            vintage = data.current_vintage_id()
            for path in ("/api/v1/data.csv?indicator=people_trained&by=member_state", "/explore?by=partnership",
                         "/_dash-layout"):
                response = client.get(path)
                response.get_data()
                response.close()
                assert response.status_code == 200, (path, response.status_code)
            con, schemas = core._connection()
            duckdb_bytes = con.execute("SELECT coalesce(sum(memory_usage_bytes), 0) FROM duckdb_memory()").fetchone()[0]
            rows.append({"rebuild": i, "vintage": vintage, "kept_snapshots": len(data.kept_vintages()),
                         "schemas": len(schemas), "rss_mib": round(rss_mib(), 1),
                         "duckdb_mib": round(duckdb_bytes / 2**20, 1)})
        data.reset()
    return {"keep_schemas": keep_schemas, "rows": rows}


def report(runs: list[dict[str, Any]], rebuilds: int, raw: Path) -> str:
    raw = raw.resolve()
    raw = raw.relative_to(REPO) if raw.is_relative_to(REPO) else raw
    lines = [
        "# A worker's memory across pipeline rebuilds",
        "",
        f"`python -m benchmarks.rebuild_memory --rebuilds {rebuilds}` on {platform.node() or 'this machine'} "
        f"({platform.python_version()}, raw inputs `{raw}`). Rebuild 0 is the first snapshot; after each rebuild the "
        "worker requests the data URL, `/explore?by=partnership` and `/_dash-layout`. RSS is the worker's "
        "resident set (MiB), DuckDB the memory DuckDB reports for itself (`duckdb_memory()`, MiB).",
        "",
        "| rebuild | kept | schemas (dropped) | RSS (dropped) | DuckDB (dropped) | schemas (kept) | RSS (kept) | DuckDB (kept) |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    dropped, kept = (next(r["rows"] for r in runs if r["keep_schemas"] is flag) for flag in (False, True))
    for a, b in zip(dropped, kept, strict=True):
        lines.append(f"| {a['rebuild']} | {a['kept_snapshots']} | {a['schemas']} | {a['rss_mib']} | {a['duckdb_mib']} "
                     f"| {b['schemas']} | {b['rss_mib']} | {b['duckdb_mib']} |")
    lines += ["", "\"dropped\": the data layer as it is (a pruned snapshot's schema is dropped when the worker first "
              "reads a newer one). \"kept\": the drop disabled, every schema since the worker started kept.", ""]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--raw", type=Path, default=REPO / "data" / "raw")
    parser.add_argument("--rebuilds", type=int, default=20)
    parser.add_argument("--out", type=Path, default=HERE)
    parser.add_argument("--worker", choices=("drop", "keep"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        sys.stdout.write(json.dumps(worker(args.raw.resolve(), args.rebuilds, keep_schemas=args.worker == "keep")) + "\n")
        return
    runs = []
    for mode in ("drop", "keep"):
        # A fresh process each: RSS is only comparable between workers that started the same way.
        done = subprocess.run([sys.executable, "-m", "benchmarks.rebuild_memory", "--worker", mode, "--raw",
                               str(args.raw.resolve()), "--rebuilds", str(args.rebuilds)],
                              check=True, cwd=REPO, capture_output=True, text=True)
        runs.append(json.loads(done.stdout.strip().splitlines()[-1]))
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "rebuild_memory.json").write_text(json.dumps(runs, indent=2) + "\n", encoding="utf-8")
    text = report(runs, args.rebuilds, args.raw)
    (args.out / "rebuild_memory.md").write_text(text, encoding="utf-8")
    sys.stdout.write(text)


if __name__ == "__main__":
    main()

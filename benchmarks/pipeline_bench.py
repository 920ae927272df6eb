"""The pipeline at one scale: full ingest from nothing, the plain baseline on the same files, a re-run with
unchanged inputs, and the check that the pipeline and the baseline produced the same facts."""

from __future__ import annotations

import logging
import shutil
from pathlib import Path
from typing import Any

import pandas as pd

from benchmarks import adapters, plain_pipeline
from benchmarks.timing import measure, ratio

logger = logging.getLogger(__name__)

FACT_KEY = ["year", "member_id", "indicator"]
REPO = Path(__file__).resolve().parent.parent


def _fresh(path: Path) -> Path:
    shutil.rmtree(path, ignore_errors=True)
    path.mkdir(parents=True)
    return path


def run(
    scale: int, raw: Path, work: Path, *, repeat: int, warmup: int, budget_s: float, profile: bool = False,
) -> tuple[dict[str, Any], Path]:
    """Measure and compare; return the result row and the curated directory the last full run built."""
    runner_name, runner = adapters.pipeline_runner()
    curated_root = work / f"curated-{scale}x"

    def fresh_curated() -> None:
        shutil.rmtree(curated_root, ignore_errors=True)

    def full_run() -> object:
        return runner(raw, curated_root)

    logger.info("pipeline %dx: full ingest from nothing, up to %d run(s) after %d warm-up (budget %.0f s)",
                scale, repeat, warmup, budget_s)
    full, _ = measure(full_run, repeat=repeat, warmup=warmup, budget_s=budget_s, before_each=fresh_curated)

    logger.info("pipeline %dx: re-run with unchanged inputs", scale)
    rerun, _ = measure(full_run, repeat=repeat, warmup=0)

    baseline_out = work / f"baseline-{scale}x"
    logger.info("pipeline %dx: plain pandas+openpyxl baseline, up to %d run(s) (budget %.0f s)",
                scale, repeat, budget_s)
    baseline, tables = measure(
        lambda: plain_pipeline.run(raw, baseline_out), repeat=repeat, warmup=warmup, budget_s=budget_s,
        before_each=lambda: _fresh(baseline_out),
    )
    row: dict[str, Any] = {
        "scale": scale, "runner": runner_name, "full": full.as_dict(), "rerun": rerun.as_dict(),
        "baseline": baseline.as_dict(), "speedup": ratio(baseline, full),
    }
    row.update(compare(curated_root / "current", tables))
    shutil.rmtree(baseline_out, ignore_errors=True)
    if profile:
        row["profile"] = profile_run(runner, raw, work / f"profiled-{scale}x")
    return row, curated_root


def profile_run(runner: Any, raw: Path, curated: Path, top: int = 30) -> list[str]:
    """One full ingest under cProfile: the functions with the most cumulative time (cProfile roughly doubles the
    run time, so these are shares, not timings)."""
    import cProfile
    import io
    import pstats

    shutil.rmtree(curated, ignore_errors=True)
    profiler = cProfile.Profile()
    profiler.runcall(runner, raw, curated)
    buffer = io.StringIO()
    pstats.Stats(profiler, stream=buffer).sort_stats("cumulative").print_stats(top)
    shutil.rmtree(curated, ignore_errors=True)
    lines = [line.rstrip().replace(str(REPO) + "/", "") for line in buffer.getvalue().splitlines() if line.strip()]
    start = next((i for i, line in enumerate(lines) if line.lstrip().startswith("ncalls")), 0)
    return lines[start:]


def compare(current: Path, baseline: dict[str, pd.DataFrame]) -> dict[str, Any]:
    """Facts must be equal on every column the baseline computes; submissions and rejects are compared by count."""
    notes: list[str] = []
    facts = pd.read_parquet(current / "facts.parquet")
    mine = baseline["facts"]
    columns = [c for c in mine.columns if c in facts.columns]
    left = facts[columns].sort_values(FACT_KEY).reset_index(drop=True)
    right = mine[columns].sort_values(FACT_KEY).reset_index(drop=True)
    for column in columns:
        right[column] = right[column].astype(left[column].dtype)
    equal = left.equals(right)
    if not equal:
        merged = left.merge(right, on=FACT_KEY, how="outer", suffixes=("_pipeline", "_baseline"), indicator=True)
        only_p = int((merged["_merge"] == "left_only").sum())
        only_b = int((merged["_merge"] == "right_only").sum())
        both = merged[merged["_merge"] == "both"]
        differing = [
            c for c in columns if c not in FACT_KEY
            and (both[f"{c}_pipeline"].astype(str) != both[f"{c}_baseline"].astype(str)).any()
        ]
        notes.append(f"facts differ: {only_p} rows only in the pipeline, {only_b} only in the baseline, "
                     f"columns differing on shared rows: {', '.join(differing) or 'none'}")
        sample = merged[merged["_merge"] != "both"].head(3)
        for row in sample.to_dict("records"):
            side = "pipeline" if row["_merge"] == "left_only" else "baseline"
            notes.append(f"e.g. {row['year']} {row['member_id']} {row['indicator']} only in the {side}")
    submissions = pd.read_parquet(current / "submissions.parquet")
    status_p = submissions["status"].value_counts().sort_index().to_dict()
    status_b = baseline["submissions"]["status"].value_counts().sort_index().to_dict()
    if status_p != status_b:
        notes.append(f"submission statuses differ: pipeline {status_p}, baseline {status_b}")
    rejects = pd.read_parquet(current / "rejects.parquet")
    if len(rejects) != len(baseline["rejects"]):
        notes.append(f"rejects: pipeline {len(rejects)}, baseline {len(baseline['rejects'])}")
    members = pd.read_parquet(current / "members.parquet", columns=["member_id"])
    return {
        "facts_equal": equal,
        "facts_columns_compared": columns,
        "facts_rows": len(facts),
        "submission_statuses": status_p,
        "baseline_submission_statuses": status_b,
        "rejects": len(rejects),
        "baseline_rejects": len(baseline["rejects"]),
        "members": len(members),
        "survey_rows": len(submissions),
        "compare_notes": notes,
    }

"""The pipeline at one scale: full ingest from nothing and the plain baseline on the same files, run alternately, a re-run with
unchanged inputs, and the check that the pipeline and the baseline produced the same facts."""

from __future__ import annotations

import json
import logging
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pandas as pd

from benchmarks import adapters
from benchmarks.timing import Contender, Timed, measure, measure_alternating, median_ratio

logger = logging.getLogger(__name__)

FACT_KEY = ["year", "member_id", "indicator"]
REPO = Path(__file__).resolve().parent.parent


def _fresh(path: Path) -> Path:
    shutil.rmtree(path, ignore_errors=True)
    path.mkdir(parents=True)
    return path


def in_own_process(contender: str, raw: Path, out: Path, snapshot: Path | None = None) -> Timed:
    """One run of a contender in a fresh Python process (benchmarks/contender.py), as timed by that process."""
    command = [sys.executable, "-m", "benchmarks.contender", contender, str(raw), str(out)]
    if snapshot is not None:
        command += ["--snapshot", str(snapshot)]
    done = subprocess.run(command, cwd=REPO, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} exited {done.returncode}: {done.stderr[-3000:]}")
    return Timed(**json.loads(done.stdout.strip().splitlines()[-1]))


def run(
    scale: int, raw: Path, work: Path, *, rounds: int, repeat: int, warmup: int, profile: bool = False,
) -> tuple[dict[str, Any], Path]:
    """Measure and compare; return the result row and the curated directory the last full run built.

    The pipeline, the baseline and the bare parse floor run in turn (pipeline, baseline, floor, pipeline, ...)
    `rounds` times each, so that a change of load on a shared machine falls on all of them instead of deciding
    the ratios; each run in a process of its own (`in_own_process`). The floor writes the tables the pipeline has
    just published."""
    runner_name, runner = adapters.pipeline_runner()
    curated_root = work / f"curated-{scale}x"
    baseline_out = work / f"baseline-{scale}x"
    floor_out = work / f"floor-{scale}x"
    contenders = [
        Contender("pipeline", lambda: in_own_process("pipeline", raw, curated_root),
                  before_each=lambda: shutil.rmtree(curated_root, ignore_errors=True)),
        Contender("baseline", lambda: in_own_process("baseline", raw, baseline_out),
                  before_each=lambda: _fresh(baseline_out)),
        Contender("floor", lambda: in_own_process("floor", raw, floor_out, (curated_root / "current").resolve()),
                  before_each=lambda: _fresh(floor_out)),
    ]
    logger.info("pipeline %dx: full ingest from nothing vs the plain pandas+calamine baseline and the bare parse "
                "floor, in turn, each in a process of its own, %d round(s) after %d warm-up round(s)",
                scale, rounds, warmup)
    measured, _ = measure_alternating(contenders, rounds=rounds, warmup=warmup)
    pipeline, baseline, floor = measured["pipeline"], measured["baseline"], measured["floor"]
    shutil.rmtree(floor_out, ignore_errors=True)

    logger.info("pipeline %dx: re-run with unchanged inputs", scale)
    rerun, _ = measure(lambda: runner(raw, curated_root), repeat=repeat, warmup=0)  # in this process: a short run

    loads = [r[k] for side in measured.values() for r in side["runs"] for k in ("load_before", "load_after")
             if r[k] is not None]
    row: dict[str, Any] = {
        "scale": scale, "runner": f"{runner_name.removesuffix(' in-process')}, each contender in a process of its own",
        "baseline_engine": "pandas.read_excel(engine='calamine')",
        "rounds": len(pipeline["runs"]), "warmup_rounds": warmup,
        "full": pipeline["wall"], "full_cpu": pipeline["cpu"],
        "baseline": baseline["wall"], "baseline_cpu": baseline["cpu"],
        "speedup": median_ratio(baseline["wall"], pipeline["wall"]),
        "speedup_cpu": median_ratio(baseline["cpu"], pipeline["cpu"]),
        "floor": floor["wall"], "floor_cpu": floor["cpu"],
        "over_floor_cpu": median_ratio(pipeline["cpu"], floor["cpu"]),  # pipeline CPU / floor CPU
        "runs": sorted(({"contender": name, **r} for name, side in measured.items() for r in side["runs"]),
                       key=lambda r: (r["round"], r["contender"] != "pipeline")),
        "load_1min_range": [min(loads), max(loads)] if loads else None,
        "rerun": rerun.as_dict(),
    }
    tables = {name: pd.read_parquet(baseline_out / f"{name}.parquet") for name in ("facts", "submissions", "rejects")}
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

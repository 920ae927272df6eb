"""The benchmark harness runs end to end and writes a well-formed results file (no timing is asserted: speed is
measured by `make bench`, never by a test)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_quick_run_writes_well_formed_results(tmp_path: Path) -> None:
    out = tmp_path / "out"
    cache = tmp_path / "cache"
    command = [
        sys.executable, "-m", "benchmarks", "--quick", "--scales", "1", "--repeat", "1",
        "--out", str(out), "--cache", str(cache),
    ]
    env = {**os.environ, "DASH_DISABLE_VERSION_CHECK": "true", "PYTHONDONTWRITEBYTECODE": "1"}
    done = subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=280, check=False, env=env)
    assert done.returncode == 0, f"exit {done.returncode}\n{done.stderr[-6000:]}"

    results = json.loads((out / "results.json").read_text())
    assert results["errors"] == []
    assert results["machine"]["cores"] >= 1 and results["machine"]["python"].startswith("3.11")
    assert results["settings"]["quick"] is True and results["settings"]["scales"] == [1]

    [dataset] = results["datasets"]
    assert dataset["scale"] == 1 and not dataset["generated"] and dataset["files"] > 0

    [pipeline] = results["pipeline"]
    for key in ("full", "baseline", "full_cpu", "baseline_cpu", "floor", "floor_cpu", "rerun"):
        stats = pipeline[key]
        assert stats["n"] == len(stats["samples"]) >= 1
        assert stats["minimum"] <= stats["median"] <= stats["maximum"]
    assert pipeline["speedup"] == pytest.approx(pipeline["baseline"]["median"] / pipeline["full"]["median"])
    assert pipeline["speedup_cpu"] == pytest.approx(
        pipeline["baseline_cpu"]["median"] / pipeline["full_cpu"]["median"])
    assert pipeline["over_floor_cpu"] == pytest.approx(
        pipeline["full_cpu"]["median"] / pipeline["floor_cpu"]["median"])
    assert "calamine" in pipeline["baseline_engine"] and "process of its own" in pipeline["runner"]
    # the contenders take turns, one run each per round, every run with its CPU time and the load around it
    assert [r["contender"] for r in pipeline["runs"]] == ["pipeline", "baseline", "floor"] * pipeline["rounds"]
    assert all(r["cpu"] > 0 and "load_before" in r and "load_after" in r for r in pipeline["runs"])
    # each measured in its own process, with the kernel's part of that CPU and the page faults behind it
    assert all(0 <= r["sys"] <= r["cpu"] and r["faults"] > 0 for r in pipeline["runs"])
    assert "of which system" in (out / "results.md").read_text()
    # the baseline is only a fair yardstick when it computes the same facts as the pipeline
    assert pipeline["facts_equal"] is True, pipeline["compare_notes"]
    assert pipeline["facts_rows"] > 0 and pipeline["members"] > 0

    targets = {t["target"]: t for t in results["targets"]}
    assert set(targets) == {"pipeline_speedup", "pipeline_floor", "query_speedup", "callback_p95", "callback_cold",
                            "worker_rss", "first_paint", "compressed"}
    assert targets["pipeline_speedup"]["measured"] == pytest.approx(pipeline["speedup_cpu"])
    assert targets["pipeline_floor"]["measured"] == pytest.approx(pipeline["over_floor_cpu"])

    skipped = {s["section"] for s in results["skipped"]}
    if "browser" not in skipped and "dashboard" not in skipped:
        assert {b["path"] for b in results["browser"]} == {"/", "/explore"}
        assert all(b["first_paint_ms"] is not None and b["bytes_transferred"] > 0 for b in results["browser"])
        assert results["callbacks_http"], "the browser's callback requests were captured and replayed"
        assert all(c["status"] == 200 for c in results["callbacks_http"])
        assert results["callbacks_inprocess"] and results["queries"]
        assert all(q["equal"] for q in results["queries"]), [q["name"] for q in results["queries"] if not q["equal"]]
        for q in results["queries"]:
            assert q["speedup_mem_cold"] == pytest.approx(q["pandas_mem"]["median"] / q["duckdb"]["median"])
            assert q["speedup_mem_warm"] == pytest.approx(q["pandas_mem"]["median"] / q["duckdb_warm"]["median"])
        assert targets["query_speedup"]["measured"] == pytest.approx(
            min(q["speedup_mem_cold"] for q in results["queries"]))
        assert results["memory"][0]["peak_worker_mb"] > 0

    markdown = (out / "results.md").read_text()
    for heading in ("# Pact Monitor benchmarks", "## Targets", "## Pipeline: full ingest"):
        assert heading in markdown
    assert "python -m benchmarks --quick" in markdown
    assert not any(cache.glob("work-*")), "the harness removes its work directory"

"""`python -m benchmarks [--scales 1,10,100] [--repeat N] [--quick]`: the performance benchmarks of issue 6.

For each scale: the raw tree (the committed sample at 1x; generated once and cached outside git at 10x and 100x),
the pipeline against a plain pandas+calamine baseline (run alternately, wall and CPU time), then the dashboard over the snapshot the pipeline built:
headless Chromium (first paint, charts drawn, bytes on the wire, and the callback payloads the browser sends),
those payloads replayed over HTTP against gunicorn (p50/p95) and in-process, the query layer against plain pandas,
and the gunicorn workers' peak RSS. Writes results.json and results.md (default: beside this file) and prints the
targets table. A section that cannot run (a part not built yet, no Chromium) is recorded as skipped; a section that
fails is recorded as an error and the others still run.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import shutil
import sys
import time
import traceback
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from tqdm import tqdm

from benchmarks import adapters, datasets, machine, pipeline_bench, report

logger = logging.getLogger("benchmarks")

REPO = Path(__file__).resolve().parent.parent
HERE = Path(__file__).resolve().parent


class Settings:
    """How much to run. A measurement that takes seconds is repeated `--repeat` times; the full ingest runs
    pipeline and baseline alternately for `ingest_rounds` rounds (three at 100x, which makes the 100x pipeline
    section take about three times the two ingests); a warm-up run is made where it is cheap (the smallest scale), since after it the
    process has every module imported and the larger scales have nothing left to warm."""

    def __init__(self, args: argparse.Namespace) -> None:
        self.scales: list[int] = sorted({int(s) for s in args.scales.split(",") if s.strip()})
        self.quick: bool = args.quick
        self.repeat: int = args.repeat if args.repeat is not None else (1 if args.quick else 5)
        self.rounds: int | None = args.rounds
        self.http_repeat: int = 2 if args.quick else max(12, self.repeat * 2)
        self.browser_loads: int = 0 if args.quick else 2
        self.cache: Path = args.cache
        self.out: Path = args.out
        self.sections: set[str] = set(args.only.split(",")) if args.only else {"pipeline", "dashboard", "browser"}
        self.profile: bool = not args.quick
        self.profile_pipeline: bool = args.profile_pipeline

    def ingest_rounds(self, scale: int) -> int:
        """Alternating rounds (pipeline, baseline) of the full ingest: `--rounds` if given, else one when quick,
        three at 100x (where one round takes minutes) and `--repeat` below it."""
        if self.rounds is not None:
            return self.rounds
        if self.quick:
            return 1
        return 3 if scale >= 100 else self.repeat

    def warmup(self, scale: int) -> int:
        return 0 if self.quick or scale > min(self.scales) else 1


class Recorder:
    """Holds the results and turns a failing section into a recorded error instead of a crash."""

    def __init__(self, settings: Settings, command: str) -> None:
        self.results: dict[str, Any] = {
            "machine": machine.describe(REPO),
            "settings": {
                "command": command, "scales": settings.scales, "repeat": settings.repeat,
                "rounds": settings.rounds, "http_repeat": settings.http_repeat, "browser_loads": settings.browser_loads,
                "quick": settings.quick,
            },
            "datasets": [], "pipeline": [], "queries": [], "callbacks_inprocess": [], "callbacks_http": [],
            "memory": [], "browser": [], "interactions": [], "profiles": [], "skipped": [], "errors": [],
        }

    def skip(self, section: str, scale: int | None, reason: str) -> None:
        logger.warning("skipped %s at %sx: %s", section, scale, reason)
        self.results["skipped"].append({"section": section, "scale": scale, "reason": reason})

    @contextlib.contextmanager
    def section(self, name: str, scale: int | None) -> Iterator[None]:
        start = time.perf_counter()
        logger.info("── %s at %sx", name, scale)
        try:
            yield
        except Exception as exc:
            logger.exception("%s at %sx failed", name, scale)
            tail = traceback.format_exc().strip().splitlines()[-1]
            self.results["errors"].append({"section": name, "scale": scale, "error": f"{tail}"[:500],
                                           "exception": type(exc).__name__})
        finally:
            logger.info("── %s at %sx done in %.1f s", name, scale, time.perf_counter() - start)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__.split("\n\n")[0])
    parser.add_argument("--scales", default="1,10,100", help="comma-separated scale factors (default 1,10,100)")
    parser.add_argument("--repeat", type=int, default=None, help="timed runs per measurement (default 5; 1 quick)")
    parser.add_argument("--rounds", type=int, default=None,
                        help="alternating pipeline/baseline rounds per scale (default: --repeat, 3 at 100x; 1 quick)")
    parser.add_argument("--quick", action="store_true", help="one run of everything, few requests: proves it runs")
    parser.add_argument("--out", type=Path, default=HERE, help="where results.md and results.json go")
    parser.add_argument("--cache", type=Path, default=datasets.DEFAULT_CACHE, help="generated raw trees (gitignored)")
    parser.add_argument("--only", default="", help="comma-separated sections: pipeline,dashboard,browser")
    parser.add_argument("--profile-pipeline", action="store_true",
                        help="also run the pipeline once under cProfile at each scale (slow) and report where it spends")
    return parser.parse_args(argv)


def bench_scale(scale: int, settings: Settings, rec: Recorder, work: Path, browser_session: Any) -> None:
    results = rec.results
    try:
        tree = datasets.raw_tree(scale, cache_dir=settings.cache)
    except RuntimeError as exc:
        rec.skip("data", scale, str(exc))
        return
    size = datasets.tree_size(tree.path)
    dataset = {"scale": scale, "path": str(tree.path), "generated": tree.generated,
               "generate_seconds": tree.generate_seconds, **size}
    results["datasets"].append(dataset)

    curated: Path | None = None
    if "pipeline" in settings.sections:
        if not adapters.pipeline_available():
            rec.skip("pipeline", scale, "the pipeline (python -m pipelines) is not in this tree yet")
        else:
            with rec.section("pipeline", scale):
                row, curated = pipeline_bench.run(
                    scale, tree.path, work, rounds=settings.ingest_rounds(scale), repeat=settings.repeat,
                    warmup=settings.warmup(scale), profile=settings.profile_pipeline,
                )
                results["pipeline"].append(row)
                dataset["members"] = row.get("members")
                dataset["survey_rows"] = row.get("survey_rows")
                logger.info("pipeline %dx: %.2f s vs baseline %.2f s (wall %.1fx, CPU %.1fx, %d rounds), "
                            "re-run %.2f s, facts equal: %s", scale, row["full"]["median"],
                            row["baseline"]["median"], row["speedup"] or 0, row["speedup_cpu"] or 0, row["rounds"],
                            row["rerun"]["median"], row["facts_equal"])
    if curated is None or not (curated / "current").exists():
        if {"dashboard", "browser"} & settings.sections:
            rec.skip("dashboard", scale, "no curated snapshot at this scale (the pipeline did not run)")
        return
    if not ({"dashboard", "browser"} & settings.sections):
        return
    if not adapters.dashboard_available():
        rec.skip("dashboard", scale, "the dashboard (dashboard/app.py) is not in this tree yet")
        return
    from benchmarks import dashboard_bench

    with rec.section("dashboard", scale):
        dashboard_bench.run(scale, curated, work, settings, rec, browser_session)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s",
                        stream=sys.stderr)
    os.environ.setdefault("DASH_DISABLE_VERSION_CHECK", "true")
    # the pipeline's own per-run summary would drown the benchmark's progress lines
    logging.getLogger("pipelines").setLevel(logging.WARNING)
    settings = Settings(args)
    command = " ".join(["python -m benchmarks", *(sys.argv[1:] if argv is None else argv)])
    rec = Recorder(settings, command)
    started = time.perf_counter()
    work = settings.cache / f"work-{os.getpid()}"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)

    browser_session = None
    try:
        if "browser" in settings.sections or "dashboard" in settings.sections:
            from benchmarks.browser import Browser, chromium_available

            if chromium_available() and adapters.dashboard_available():
                browser_session = Browser()
        for scale in tqdm(settings.scales, desc="scales", unit="scale", disable=not sys.stderr.isatty()):
            bench_scale(scale, settings, rec, work, browser_session)
    finally:
        if browser_session is not None:
            browser_session.close()
        shutil.rmtree(work, ignore_errors=True)
    rec.results["settings"]["total_seconds"] = time.perf_counter() - started
    rec.results["machine"]["load_average_at_end"] = machine.load_average()
    json_path, md_path = report.write(rec.results, settings.out)
    sys.stdout.write(_summary(rec.results))
    logger.info("wrote %s and %s in %.0f s", md_path, json_path, rec.results["settings"]["total_seconds"])
    return 1 if rec.results["errors"] else 0


def _summary(results: dict[str, Any]) -> str:
    md = report.markdown(results)
    start = md.find("## Targets")
    end = md.find("\n## ", start + 5)
    return md[start:end if end > 0 else None] + "\n"


if __name__ == "__main__":
    raise SystemExit(main())

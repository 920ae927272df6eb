"""The few places where the benchmarks touch the product: how to run the pipeline, serve the app, find its pages.

Kept in one module so that a renamed entry point is fixed once, and so that a part that has not landed yet is
reported as "not available" by the harness instead of crashing it.
"""

from __future__ import annotations

import importlib
import importlib.util
import inspect
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent

# The dashboard reads the snapshot under $PACT_CURATED_DIR/current (the browser tests' convention).
CURATED_ENV = "PACT_CURATED_DIR"


def pipeline_available() -> bool:
    return importlib.util.find_spec("pipelines.__main__") is not None


def dashboard_available() -> bool:
    return importlib.util.find_spec("dashboard.app") is not None


def wsgi_target() -> str:
    return "dashboard.wsgi:server"


def dashboard_env(curated_dir: Path) -> dict[str, str]:
    return {CURATED_ENV: str(curated_dir)}


def _cache_module() -> object | None:
    """The loaded module holding the data layer's result cache: dashboard/data/core.py, or (before the data layer
    became a package) dashboard/data.py. The package re-exports public names only."""
    return sys.modules.get("dashboard.data.core") or sys.modules.get("dashboard.data")


def can_clear_query_cache() -> bool:
    data = _cache_module()
    return data is not None and callable(getattr(data, "_clear_caches", None))


def clear_query_cache(*, keep_per_snapshot: bool = False, also: tuple[str, ...] = ()) -> None:
    """Empty the data layer's result cache (not its connection), so the next call runs its queries again.

    With `keep_per_snapshot`, results that depend on nothing but the snapshot (dimensions, catalogue, published
    figures: every worker computes them once, on its first page) stay; only the results that depend on what the
    user picked (indicator, filters, years) go — the state of a worker asked a question for the first time.
    `also` names per-snapshot functions to drop all the same (the one being measured).
    """
    data = _cache_module()
    if data is None:
        return
    caches = getattr(data, "_caches", None)
    if not keep_per_snapshot or not isinstance(caches, list):
        clear = getattr(data, "_clear_caches", None)
        if callable(clear):
            clear()
        return
    for cache in caches:
        try:
            params = set(inspect.signature(cache.__wrapped__).parameters)
        except (AttributeError, TypeError, ValueError):
            params = set()
        name = getattr(cache.__wrapped__, "__name__", "")
        if not params or not params <= {"vintage", "path"} or name in also:
            cache.cache_clear()


def pipeline_runner() -> tuple[str, Callable[[Path, Path], object]]:
    """The cheapest faithful way to run the whole pipeline: `pipelines.run(raw, curated)` in this process when it
    exists (no interpreter start-up or import time in the figure), otherwise `python -m pipelines`."""
    try:
        module = importlib.import_module("pipelines")
    except ImportError:
        module = None
    run = getattr(module, "run", None) if module is not None else None
    if callable(run):
        params = inspect.signature(run).parameters
        raw_kw = next((k for k in ("raw_dir", "raw") if k in params), None)
        cur_kw = next((k for k in ("curated_dir", "curated") if k in params), None)
        quiet = {k: False for k in ("progress", "show_progress") if k in params}

        def call(raw: Path, curated: Path) -> object:
            if raw_kw and cur_kw:
                return run(**{raw_kw: raw, cur_kw: curated}, **quiet)
            return run(raw, curated, **quiet)

        return "pipelines.run() in-process", call

    def subprocess_call(raw: Path, curated: Path) -> object:
        cmd = [sys.executable, "-m", "pipelines", "--raw", str(raw), "--curated", str(curated)]
        done = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, check=False)
        if done.returncode != 0:
            raise RuntimeError(f"{' '.join(cmd)} exited {done.returncode}: {done.stderr[-3000:]}")
        return done

    return "python -m pipelines (subprocess)", subprocess_call


# The views a person opens: every page at its default state plus a few states opened from a link (the page's
# layout is built on the server from the URL), each as the URL that reproduces it.
VIEWS: tuple[tuple[str, str], ...] = (
    ("progress", "/"),
    ("explore", "/explore"),
    ("explore: map from a link", "/explore?by=member_state&view=map&indicator=investment_eur"),
    ("partnerships", "/partnerships"),
    ("data", "/data"),
    ("about", "/about"),
)
PAGE_PATHS = ("/", "/explore", "/partnerships", "/data", "/about")

Step = tuple[str, dict[str, object]]  # (component id, props), set as a user's change would set them
# Each page's main interactions, played in order on the loaded page (each one starts from the state the previous
# one left). Values are the controls' own option values (dbc.Select values are strings) and reference codes.
INTERACTIONS: dict[str, tuple[tuple[str, tuple[Step, ...]], ...]] = {
    "/": (
        ("year 2023", (("progress-year", {"value": "2023"}),)),
        ("year 2024", (("progress-year", {"value": "2024"}),)),
    ),
    "/explore": (
        ("indicator: investment", (("explore-indicator", {"value": "investment_eur"}),)),
        ("by Member State", (("explore-by", {"value": "member_state"}),)),
        ("EU map view", (("explore-view", {"value": "map"}),)),
        ("filter: Construction", (("explore-ecosystem", {"value": ["CONS"]}),)),
        ("chart view, by partnership", (("explore-view", {"value": "chart"}),
                                        ("explore-by", {"value": "partnership"}))),
        ("click a bar", (("explore-chart", {"clickData": {"points": [{"customdata": ["LSP-CONS"]}]}}),)),
        ("table view, by member type", (("explore-view", {"value": "table"}),
                                        ("explore-by", {"value": "member_type"}))),
        ("by year, people trained", (("explore-by", {"value": "year"}),
                                     ("explore-indicator", {"value": "people_trained"}))),
        ("lines over time, by Member State", (("explore-by", {"value": "member_state"}),
                                              ("explore-view", {"value": "lines"}))),
        ("share of the total", (("explore-measure", {"value": "share"}),)),
        ("cross-table with a change", (("explore-view", {"value": "table"}),
                                       ("explore-change", {"value": "2022-2024"}))),
        ("map of one year", (("explore-view", {"value": "map"}), ("explore-map-year", {"value": "2023"}))),
    ),
    "/partnerships": (
        ("peers: same ecosystem", (("partnerships-group", {"value": "ecosystem"}),)),
        ("indicator: investment", (("partnerships-indicator", {"value": "investment_eur"}),)),
        ("partnership: Construction", (("partnerships-partnership", {"value": "LSP-CONS"}),)),
        ("year 2023", (("partnerships-year", {"value": "2023"}),)),
    ),
    "/data": (
        ("wave 2023", (("data-wave", {"value": "2023"}),)),
        ("all waves", (("data-wave", {"value": "all"}),)),
    ),
}


QUICK_PATHS = ("/", "/explore")


def views(*, quick: bool = False) -> list[tuple[str, str]]:
    """(label, path with query) of every view the browser and HTTP benchmarks open; quick: two pages."""
    if quick:
        return [(label, path) for label, path in VIEWS if path in QUICK_PATHS]
    return list(VIEWS)


def interactions(path: str, *, quick: bool = False) -> tuple[tuple[str, tuple[Step, ...]], ...]:
    played = INTERACTIONS.get(path, ())
    return played[:1] if quick else played

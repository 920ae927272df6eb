"""Timing: warm-up, several runs, and the statistics quoted in the results (median and spread, never one time).

These machines are noisy, so every figure is the median of several runs after a warm-up run, with min, max and
the interquartile range beside it, and the result says how many runs it is made of. Two contenders compared by a
ratio run alternately (`measure_alternating`), each run with its wall time, its CPU time and the load average
around it, so that the ratio does not depend on which side happened to run while the machine was busy.
"""

from __future__ import annotations

import os
import resource
import statistics
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass
class Stats:
    """Seconds of `n` timed runs (after `warmup` untimed ones)."""

    n: int
    warmup: int
    median: float
    minimum: float
    maximum: float
    q1: float
    q3: float
    p95: float
    samples: list[float] = field(default_factory=list)

    @classmethod
    def of(cls, samples: list[float], warmup: int = 0) -> Stats:
        if not samples:
            raise ValueError("no samples")
        ordered = sorted(samples)
        if len(ordered) >= 2:
            q1, _, q3 = statistics.quantiles(ordered, n=4, method="inclusive")
        else:
            q1 = q3 = ordered[0]
        return cls(
            n=len(ordered),
            warmup=warmup,
            median=statistics.median(ordered),
            minimum=ordered[0],
            maximum=ordered[-1],
            q1=q1,
            q3=q3,
            p95=percentile(ordered, 95),
            samples=list(samples),
        )

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    @property
    def median_ms(self) -> float:
        return self.median * 1000


def percentile(values: list[float], pct: float) -> float:
    """Linear-interpolated percentile (numpy's default method), without numpy in the hot path."""
    ordered = sorted(values)
    if len(ordered) == 1:
        return ordered[0]
    rank = (len(ordered) - 1) * pct / 100
    low = int(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def measure(
    fn: Callable[[], object],
    *,
    repeat: int,
    warmup: int = 1,
    before_each: Callable[[], object] | None = None,
) -> tuple[Stats, object]:
    """Run `fn` `warmup` times untimed, then up to `repeat` times timed; return the stats and the last result.

    `before_each` runs outside the timed region (e.g. clearing a cache so that every run is a cold query).
    """
    result: object = None
    for _ in range(warmup):
        if before_each is not None:
            before_each()
        result = fn()
    samples: list[float] = []
    for _ in range(max(1, repeat)):
        if before_each is not None:
            before_each()
        start = time.perf_counter()
        result = fn()
        samples.append(time.perf_counter() - start)
    return Stats.of(samples, warmup=warmup), result


def usage() -> tuple[float, float, int]:
    """(user+sys CPU seconds, of which sys, minor page faults) of this process (all its threads: DuckDB's and
    Arrow's included) and of its reaped children (a contender run as a subprocess)."""
    own = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    kernel = own.ru_stime + children.ru_stime
    return own.ru_utime + children.ru_utime + kernel, kernel, own.ru_minflt + children.ru_minflt


def cpu_seconds() -> float:
    """User+sys CPU of this process and its reaped children (`usage`)."""
    return usage()[0]


def _load_1min() -> float | None:
    try:
        return os.getloadavg()[0]
    except OSError:
        return None


@dataclass
class Contender:
    """One side of a comparison: what to time, and what to do before each run outside the timed region. A run that
    times itself (in a process of its own) returns `Timed`, whose figures are taken instead of the caller's."""

    name: str
    run: Callable[[], object]
    before_each: Callable[[], object] | None = None


@dataclass(frozen=True)
class Timed:
    """Seconds measured by the run itself; `sys` is the part of `cpu` spent in the kernel on the run's behalf
    (mostly first touches of fresh memory, counted in `faults`), which moves with the machine's state."""

    wall: float
    cpu: float
    sys: float | None = None
    faults: int | None = None


def measure_alternating(
    contenders: list[Contender], *, rounds: int, warmup: int = 0,
) -> tuple[dict[str, dict[str, Any]], dict[str, object]]:
    """Run the contenders in turn (A B A B ...), `rounds` times each after `warmup` untimed turns.

    Alternating spreads a change of machine load over every contender instead of letting it land on whichever ran
    at that moment. Each run records wall time, CPU time (less sensitive to other jobs on the machine, but blind to
    time spent waiting) and the 1-minute load average before and after. Returns per contender
    {"wall": Stats, "cpu": Stats, "runs": [...]} as dicts, and each contender's last result.
    """
    last: dict[str, object] = {}
    for _ in range(warmup):
        for c in contenders:
            if c.before_each is not None:
                c.before_each()
            last[c.name] = c.run()
    runs: dict[str, list[dict[str, Any]]] = {c.name: [] for c in contenders}
    for round_index in range(max(1, rounds)):
        for c in contenders:
            if c.before_each is not None:
                c.before_each()
            load_before = _load_1min()
            cpu_start = cpu_seconds()
            start = time.perf_counter()
            result = last[c.name] = c.run()
            wall, cpu = time.perf_counter() - start, cpu_seconds() - cpu_start
            row: dict[str, Any] = {"round": round_index, "wall": wall, "cpu": cpu}
            if isinstance(result, Timed):
                row.update(wall=result.wall, cpu=result.cpu, sys=result.sys, faults=result.faults)
            runs[c.name].append({**row, "load_before": load_before, "load_after": _load_1min()})
    out = {}
    for name, rows in runs.items():
        out[name] = {
            "wall": Stats.of([r["wall"] for r in rows], warmup=warmup).as_dict(),
            "cpu": Stats.of([r["cpu"] for r in rows], warmup=warmup).as_dict(),
            "runs": rows,
        }
    return out, last


def median_ratio(baseline: dict[str, Any] | None, candidate: dict[str, Any] | None) -> float | None:
    """`ratio` for the stats dicts of `measure_alternating`."""
    if not baseline or not candidate or candidate["median"] <= 0:
        return None
    return baseline["median"] / candidate["median"]


def ratio(baseline: Stats | None, candidate: Stats | None) -> float | None:
    """How many times faster the candidate is than the baseline (median over median); >1 means faster."""
    if baseline is None or candidate is None or candidate.median <= 0:
        return None
    return baseline.median / candidate.median

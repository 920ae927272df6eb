"""Timing: warm-up, several runs, and the statistics quoted in the results (median and spread, never one time).

These machines are noisy, so every figure is the median of several runs after a warm-up run, with min, max and
the interquartile range beside it. A long measurement (a 100x baseline ingest takes minutes) gets fewer runs:
`runs_within` caps the count so that one measurement stays within its time budget, and the result says how many
runs it is made of.
"""

from __future__ import annotations

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
    budget_s: float | None = None,
    before_each: Callable[[], object] | None = None,
) -> tuple[Stats, object]:
    """Run `fn` `warmup` times untimed, then up to `repeat` times timed; return the stats and the last result.

    `before_each` runs outside the timed region (e.g. clearing a cache so that every run is a cold query).
    With `budget_s`, runs stop early once the timed ones have used the budget (at least one timed run is always
    made), so a slow baseline cannot blow the total wall time.
    """
    result: object = None
    for _ in range(warmup):
        if before_each is not None:
            before_each()
        result = fn()
    samples: list[float] = []
    spent = 0.0
    for _ in range(max(1, repeat)):
        if before_each is not None:
            before_each()
        start = time.perf_counter()
        result = fn()
        elapsed = time.perf_counter() - start
        samples.append(elapsed)
        spent += elapsed
        if budget_s is not None and spent >= budget_s:
            break
    return Stats.of(samples, warmup=warmup), result


def ratio(baseline: Stats | None, candidate: Stats | None) -> float | None:
    """How many times faster the candidate is than the baseline (median over median); >1 means faster."""
    if baseline is None or candidate is None or candidate.median <= 0:
        return None
    return baseline.median / candidate.median

"""Integer-exact allocation of a published total over respondents, skewed like real survey answers.

Pure functions over numpy arrays: weights in, integers out, summing exactly to the total asked for.
"""

from __future__ import annotations

import numpy as np


def largest_remainder(total: int, weights: np.ndarray) -> np.ndarray:
    """Split `total` into integers proportional to `weights` (Hamilton's method); the parts sum to `total`."""
    if total < 0:
        raise ValueError(f"cannot allocate a negative total {total}")
    weights = np.asarray(weights, dtype=np.float64)
    if weights.size == 0:
        if total:
            raise ValueError(f"cannot allocate {total} over no one")
        return np.zeros(0, dtype=np.int64)
    share = weights / weights.sum() * total
    parts = np.floor(share).astype(np.int64)
    short = int(total - parts.sum())
    if short:
        # stable order so that equal remainders resolve the same way on every platform
        order = np.argsort(-(share - parts), kind="stable")[:short]
        parts[order] += 1
    return parts


def round_like_people_do(values: np.ndarray) -> np.ndarray:
    """Round each value to two significant digits (4,338 -> 4,300), as respondents report estimates."""
    values = np.asarray(values, dtype=np.int64)
    out = values.copy()
    big = values >= 100
    if big.any():
        magnitude = 10 ** (np.floor(np.log10(values[big])).astype(np.int64) - 1)
        out[big] = (values[big] + magnitude // 2) // magnitude * magnitude
    return out


def allocate_positive(
    total: int, weights: np.ndarray, *, round_most: bool = True, exact_count: int | None = None
) -> np.ndarray:
    """Allocate `total` as positive integers (>= 1 each) skewed by `weights`, summing exactly to `total`.

    With `round_most`, all but the largest `exact_count` values (default: 2% of them, at least 3) are rounded to
    two significant digits; the largest ones absorb the difference, so the total stays exact.
    """
    n = len(weights)
    if n == 0:
        if total:
            raise ValueError(f"cannot allocate {total} over no one")
        return np.zeros(0, dtype=np.int64)
    if total < n:
        raise ValueError(f"cannot give {n} respondents a positive share of {total}")
    # everyone gets 1 first: nobody who answered a positive number ends up with 0
    parts = 1 + largest_remainder(total - n, weights)
    if not round_most or n < 4:
        return parts
    keep = exact_count if exact_count is not None else max(3, n // 50)
    keep = min(keep, n)
    top = np.argsort(-parts, kind="stable")[:keep]
    rounded = np.maximum(round_like_people_do(parts), 1)
    rounded[top] = parts[top]
    diff = int(total - rounded.sum())
    absorbed = rounded[top] + largest_remainder(abs(diff), rounded[top].astype(np.float64)) * np.sign(diff)
    if (absorbed < 1).any():
        # the rounding moved more than the largest answers can absorb: keep the unrounded exact split
        return parts
    rounded[top] = absorbed
    return rounded


def lognormal_weights(rng: np.random.Generator, size_factor: np.ndarray, sigma: float = 1.1) -> np.ndarray:
    """Skewed weights: a log-normal draw per respondent times a factor for the organisation's size."""
    return np.exp(rng.normal(0.0, sigma, size=len(size_factor))) * size_factor

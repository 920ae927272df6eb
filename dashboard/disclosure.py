"""Public-mode statistical disclosure control: one consistent release per indicator and year, as pure functions.

In public mode (`PACT_PUBLIC=1`) no figure may let a reader work out what 1 or 2 members reported, from one view
or by combining any number of them. Members count towards that threshold only as contributors, with a non-zero
value: a member who reported 0 adds nothing to any figure, so (assuming, conservatively, that a reader knows who
reported 0) it protects no one, and a figure of two members' values and a third's 0 is one member's value to the
other.

Deciding suppression view by view cannot keep that promise: a cell withheld as the complement of a small one in
one breakdown can be shown as a filtered total in another view, and the small cell comes back by subtraction. So
suppression is decided once per indicator and year, over the finest cells every view is built from, and every view
is derived from that decision:

1. **Atoms.** The contributors (members who reported a non-zero value of the indicator in the year), grouped by
   everything a filter or a breakdown can select on (primary ecosystem, Member State, member type, the
   partnerships joined by that year). Every figure a page, an export or the data URL can show is the sum over a
   set of atoms (and of zeros).
2. **The release.** Candidate figures are taken in a fixed order of importance: the EU total, then each
   ecosystem, Member State, member type and partnership, the largest first. Each is published only if, with
   everything published before it, no linear combination of published figures involves fewer than `THRESHOLD`
   contributors (`disclosing_sets`, exact linear algebra). A figure built from 1 or 2 fails at once (primary
   suppression); a figure that would complete the subtraction giving a small one back fails too (secondary
   suppression: the smallest safe one is the last of its breakdown, so it is the one withheld); so does a
   partnership nested in another with 1 or 2 members more, or any subtler combination across breakdowns.
3. **Views.** A figure is shown only when it follows from the release (`Release.shows`: it lies in the span of the
   published figures), whatever filters, breakdown or year range produced it. Everything a reader can see, on any
   number of pages, is then a combination of published figures, none of which discloses fewer than `THRESHOLD`
   contributors. A figure with no contributor holds no atom, so follows from any release: the data layer shows
   it (a 0) only when 0 or at least `THRESHOLD` members reported it, since otherwise the 0 would be theirs. A
   figure over several years is shown when each of its years is.
4. **No member-level rows.** Rejects and corrections are shown as counts by reason, never row by row.

Member counts ("reported by n of N members") are not withheld: who is a Pact member is public (the Pact's member
list), the reported values are not.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd

THRESHOLD = 3
# Numerical tolerance on squared lengths. A vector counts as following from the published figures when its squared
# distance to their span is below it (rounding leaves ~1e-25 for 0/1 vectors over 1e5 atoms); a combination
# counts as disclosing when it comes within it of living on small atoms alone (erring towards withholding).
_TOL = 1e-9


def public_mode(environ: Mapping[str, str] | None = None) -> bool:
    """True when the deployment is public (`PACT_PUBLIC=1`, `true` or `yes`)."""
    env = os.environ if environ is None else environ
    return env.get("PACT_PUBLIC", "").strip().lower() in {"1", "true", "yes"}


@dataclass(frozen=True)
class Release:
    """Which candidate figures of one indicator and year are published, and the span they open to a reader."""

    published: np.ndarray  # bool, one per candidate
    spanning: np.ndarray  # bool rows over the atoms: the published figures that each added something new

    @property
    def basis(self) -> np.ndarray:
        """Orthonormal rows spanning the published figures (computed when asked: a few MB at 100x the sample,
        against the bool rows' few hundred kB kept in the cache)."""
        if self.spanning.shape[0] == 0:
            return np.zeros((0, self.spanning.shape[1]))
        q, _ = np.linalg.qr(self.spanning.T.astype(np.float64))
        return q.T

    def shows(self, views: np.ndarray, basis: np.ndarray | None = None) -> np.ndarray:
        """For each view (a bool row over the atoms: the atoms its figure sums), whether that figure follows
        from the published ones. An empty view (nobody reported) reveals nothing and is shown. `basis`: this
        release's `basis`, when the caller keeps it."""
        views = np.atleast_2d(np.asarray(views, dtype=np.float64))
        if views.shape[1] != self.spanning.shape[1]:
            raise ValueError(f"Release.shows: views have {views.shape[1]} atoms, the release {self.spanning.shape[1]}")
        return _residual(views, self.basis if basis is None else basis) <= _TOL


def plan_release(sizes: np.ndarray, candidates: np.ndarray, *, threshold: int = THRESHOLD) -> Release:
    """Publish the candidates in order, each only if the published set then discloses no fewer than `threshold`
    members (see the module docstring). `sizes`: members per atom (in public mode, the contributors: members with
    a non-zero value); `candidates`: bool, one row per candidate figure over the atoms.

    Incremental: the Gram matrix of the published span restricted to the small atoms is kept, and its
    eigenvalues of 1 count the published vectors living on small atoms alone. A candidate that leaves that count
    unchanged leaves that space unchanged, so it can disclose nothing new; only one that grows it is checked
    set by set (`_disclosing`)."""
    sizes = np.asarray(sizes, dtype=np.int64)
    candidates = np.atleast_2d(np.asarray(candidates, dtype=bool))
    if candidates.shape[1] != len(sizes):
        raise ValueError(f"plan_release: {candidates.shape[1]} atoms in the candidates, {len(sizes)} sizes")
    if (sizes <= 0).any():
        raise ValueError("plan_release: every atom holds at least one member")
    _check_threshold(threshold)
    small = np.flatnonzero(sizes < threshold)
    rows = np.zeros((len(candidates), len(sizes)))  # the basis is rows[:rank]
    rank = 0
    gram = np.zeros((0, 0))  # rows[:rank, small] @ rows[:rank, small].T
    on_small = 0  # the dimension of the published vectors living on small atoms alone
    published = np.zeros(len(candidates), dtype=bool)
    spanning: list[int] = []
    for i, row in enumerate(candidates):
        direction = _new_direction(row.astype(np.float64), rows[:rank])
        if direction is None:  # nothing new: already follows from what is published (or empty)
            published[i] = True
            continue
        cross = rows[:rank, small] @ direction[small]
        trial_gram = np.block([
            [gram, cross[:, np.newaxis]],
            [cross[np.newaxis, :], np.array([[direction[small] @ direction[small]]])],
        ])
        rows[rank] = direction
        inside = _small_space(rows[: rank + 1, small], trial_gram)
        if len(inside) > on_small and _disclosing(inside, small, sizes, threshold):
            continue
        rank, gram, on_small = rank + 1, trial_gram, len(inside)
        published[i] = True
        spanning.append(i)
    return Release(published=published, spanning=candidates[spanning])


def disclosing_sets(basis: np.ndarray, sizes: np.ndarray, *, threshold: int = THRESHOLD) -> list[tuple[int, ...]]:
    """The sets of atoms holding fewer than `threshold` members on which some combination of the published
    figures (rows of the orthonormal `basis`) depends alone; empty when the release is safe.

    A combination involving only atoms of fewer than `threshold` members in all lies in the published span and
    in the span of those atoms' unit vectors: the published vectors living on small atoms alone are found first
    (`_small_space`), then a set of atoms discloses when some unit vector on it lies in that space. With
    `threshold` 3 such a set is one atom of 1 or 2 members or two atoms of 1 member each.
    """
    _check_threshold(threshold)
    sizes = np.asarray(sizes, dtype=np.int64)
    small = np.flatnonzero(sizes < threshold)
    if small.size == 0 or basis.shape[0] == 0:
        return []
    restricted = basis[:, small]
    return _disclosing(_small_space(restricted, restricted @ restricted.T), small, sizes, threshold)


def _check_threshold(threshold: int) -> None:
    if not 1 <= threshold <= 3:
        raise ValueError(f"disclosure checks sets of one or two atoms, so a threshold of 1 to 3, not {threshold}")


def _small_space(restricted: np.ndarray, gram: np.ndarray) -> np.ndarray:
    """Orthonormal rows (over the small atoms) spanning the published vectors that live on small atoms alone.

    `restricted` is the orthonormal basis cut to the small atoms and `gram` its Gram matrix: a combination c of
    the basis has its whole length on the small atoms exactly when c is an eigenvector of `gram` with
    eigenvalue 1, and then c @ restricted is that vector."""
    if gram.shape[0] == 0:
        return np.zeros((0, restricted.shape[1]))
    values, vectors = np.linalg.eigh(gram)
    keep = values >= 1.0 - _TOL
    return (vectors[:, keep].T @ restricted) / np.sqrt(values[keep])[:, np.newaxis]


def _disclosing(inside: np.ndarray, small: np.ndarray, sizes: np.ndarray, threshold: int) -> list[tuple[int, ...]]:
    """The atoms (one of 1 or 2 members, or two of 1 member) on which some vector of the space spanned by
    `inside` (orthonormal rows over the atoms `small`) lives alone."""
    if inside.shape[0] == 0:
        return []
    weight = (inside**2).sum(axis=0)  # per small atom, the squared length of its unit vector's projection
    found: list[tuple[int, ...]] = [(int(small[k]),) for k in np.flatnonzero(weight >= 1.0 - _TOL)]
    # Two atoms of one member each: a unit vector on them lies in the space when the 2-column restriction has a
    # singular value of 1. That value is at most the sum of the two weights, so one of the pair weighs at least
    # a half and the other at least 1 minus the first.
    if threshold < 3:
        return found
    singles = np.flatnonzero((sizes[small] == 1) & (weight > _TOL) & (weight < 1.0 - _TOL))
    for a in singles[weight[singles] >= 0.5 - _TOL]:
        others = singles[(singles != a) & (weight[singles] >= 1.0 - weight[a] - _TOL)]
        if others.size == 0:
            continue
        cross = inside[:, others].T @ inside[:, a]
        half_sum = (weight[a] + weight[others]) / 2
        half_gap = (weight[a] - weight[others]) / 2
        largest = half_sum + np.sqrt(half_gap**2 + cross**2)
        for b in others[largest >= 1.0 - _TOL]:
            pair = tuple(sorted((int(small[a]), int(small[b]))))
            if pair not in found:
                found.append(pair)
    return found


def public_rejects(rejects: pd.DataFrame) -> pd.DataFrame:
    """Rejects as counts per file, sheet and reason: no row, contribution, member or value leaves the server."""
    keys = [c for c in ("source_file", "sheet", "column", "reason_code", "reason") if c in rejects.columns]
    if not keys:
        return pd.DataFrame({"rejects": pd.Series(dtype="int64")})
    return (
        rejects.groupby(keys, dropna=False, sort=True)
        .size()
        .rename("rejects")
        .reset_index()
    )


def _new_direction(vector: np.ndarray, basis: np.ndarray) -> np.ndarray | None:
    """The unit component of `vector` outside the span of `basis` (orthonormal rows), or None when it has none.
    Orthogonalised twice: once is not enough in floating point when the vector is nearly in the span."""
    residual = vector - basis.T @ (basis @ vector)
    residual -= basis.T @ (basis @ residual)
    norm = float(residual @ residual)
    if norm <= _TOL:
        return None
    return residual / np.sqrt(norm)


def _residual(views: np.ndarray, basis: np.ndarray) -> np.ndarray:
    """Squared distance of each row of `views` from the span of `basis` (orthonormal rows), computed from the
    residual itself rather than as a difference of squared lengths, which would cancel."""
    residual = views - (views @ basis.T) @ basis
    return (residual**2).sum(axis=1)

"""Public-mode statistical disclosure control: small-cell suppression as pure functions.

In public mode (`PACT_PUBLIC=1`) no figure may let a reader work out one member's reported value. The rules,
applied by `dashboard/data.py` to every result before any page, export or URL sees it:

1. **Primary suppression.** A figure built from 1 or 2 members (fewer than `THRESHOLD`) is withheld. A figure
   built from 0 members is not secret (nobody reported) and stays as it is.
2. **Secondary suppression.** Where cells add up to a total the reader can also see (a breakdown and its total;
   the rows and the columns of a year × category table), one withheld cell could be recovered as total minus
   the others. So in every such group the withheld cells are at least two and together cover at least
   `THRESHOLD` members; more cells are withheld (the smallest first) until that holds, across all groups, until
   nothing changes.
3. **Differencing.** Two filter combinations must not isolate a few members: if a selection S can be widened to
   a selection R by dropping any subset of its filters, the members in R but not in S must be none or at least
   `THRESHOLD`, otherwise total(R) - total(S) would disclose them. `differencing_risk` decides this from each
   unit's set of failed filters, `relaxation_exposed` from the count of members per set of failed filters
   (what `data.py` gets from one grouped query for every cell of a breakdown at once), so neither needs one
   query per combination.
4. **Nested groups.** Overlapping groups (partnerships: a member may be in several) can still be differenced
   when one group's members are a subset of another's; `nested_group_risk` finds those pairs.
5. **No member-level rows.** Rejects and corrections are shown as counts by reason, never row by row.

Member counts ("reported by n of N members") are not withheld: who is a Pact member is public (the Pact's
member list), the reported values are not.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping, Sequence
from typing import NamedTuple

import numpy as np
import pandas as pd

THRESHOLD = 3
PRIMARY = "primary"
SECONDARY = "secondary"
SUPPRESSED_LABEL = "withheld (fewer than 3 members)"

# Columns that identify a member or a submission; never sent to the browser in public mode.
MEMBER_LEVEL_COLUMNS = (
    "member_id", "contribution_id", "organisation", "row", "value", "old_value", "new_value",
    "created_at", "updated_at", "submitted_at", "corrected_by",
)


def public_mode(environ: Mapping[str, str] | None = None) -> bool:
    """True when the deployment is public (`PACT_PUBLIC=1`, `true` or `yes`)."""
    env = os.environ if environ is None else environ
    return env.get("PACT_PUBLIC", "").strip().lower() in {"1", "true", "yes"}


class Suppressed(NamedTuple):
    """The cells with withheld values marked, and the group totals that must be withheld too."""

    cells: pd.DataFrame
    withheld_totals: list[dict[str, object]]  # e.g. [{"ecosystem_id": "tourism"}]; {} is the overall total


def suppress_cells(
    frame: pd.DataFrame,
    *,
    margins: Sequence[Sequence[str]] = ((),),
    count_col: str = "n_members",
    members_col: str | None = None,
    value_cols: Sequence[str] = ("value",),
    threshold: int = THRESHOLD,
) -> Suppressed:
    """Withhold small cells and enough complementary cells that no withheld value can be recovered.

    `frame` has one row per published cell, its member count in `count_col` and its figures in `value_cols`.
    `margins` lists the additive groups the reader can see totals of: each entry names the columns that are
    constant within a group whose cells add up to a shown total. `[()]` (the default) is one breakdown with its
    overall total; `[("year",), ("ecosystem_id",)]` is a year × ecosystem table with both row and column totals;
    `[]` means the cells add up to nothing shown (only primary suppression applies).

    `members_col`, when given, holds each cell's member ids (any iterable): needed when a member can sit in
    several cells of a group (the years of one ecosystem), where counts do not add up. Without it the cells of
    a group are taken to hold distinct members (a partition: Member States, primary ecosystems, member types).

    A group's total is taken to be shown only when it covers at least `threshold` members (otherwise it is
    withheld where it appears, by the same rule). Within every shown group, the withheld cells are none, or at
    least two covering at least `threshold` members; and no withheld cell is determined by the shown figures
    (checked exactly, by linear algebra over the group equations). Cells are added cheapest first (fewest
    members, then smallest value), skipping a cell that would itself be determined; where no cell can break an
    exposure, the smallest total involved is withheld instead and reported in `withheld_totals`.

    Returns the cells (a new frame: withheld values set to missing, plus `suppressed` (bool) and `suppression`
    ("", "primary" or "secondary")) and the totals the caller must withhold.
    """
    if count_col not in frame.columns:
        raise KeyError(f"suppress_cells: frame has no member-count column {count_col!r}")
    out = frame.copy().reset_index(drop=True)
    counts = [int(c) for c in out[count_col].fillna(0).astype("int64")]
    members = None if members_col is None else [frozenset(m) for m in out[members_col]]
    reason = ["" for _ in range(len(out))]
    for i, n in enumerate(counts):
        if 0 < n < threshold:
            reason[i] = PRIMARY

    def coverage(cells: Iterable[int]) -> int:
        cells = list(cells)
        if members is None:
            return sum(counts[i] for i in cells)
        return len(frozenset().union(*(members[i] for i in cells))) if cells else 0

    groups: list[tuple[dict[str, object], list[int]]] = [
        (key, index)
        for cols in margins
        for key, index in _group_indices(out, list(cols))
        if coverage(index) >= threshold
    ]
    withheld_totals: list[dict[str, object]] = []

    def withheld() -> list[int]:
        return [i for i, r in enumerate(reason) if r]

    def complement(index: list[int]) -> int | None:
        # A zero-member cell is known to be empty: withholding it protects nothing. A cell that the shown
        # totals pin down protects nothing either, so the cheapest cell that stays undetermined is taken.
        candidates = sorted(
            (i for i in index if not reason[i] and counts[i] > 0),
            key=lambda i: (counts[i], _magnitude(out, value_cols, i), i),
        )
        shown = [g for _, g in groups]
        for i in candidates:
            if i not in _determined_cells(shown, [*withheld(), i]):
                return i
        return candidates[0] if candidates else None

    while True:
        changed = False
        for _, index in groups:
            hidden = [i for i in index if reason[i]]
            if not hidden or (len(hidden) >= 2 and coverage(hidden) >= threshold):
                continue
            pick = complement(index)
            if pick is not None:
                reason[pick] = SECONDARY
                changed = True
        if changed:
            continue
        exposed = _determined_cells([g for _, g in groups], withheld())
        if not exposed:
            break
        before = len(exposed)
        for cell in exposed:
            for _, index in sorted(
                (g for g in groups if cell in g[1]), key=lambda g: sum(1 for i in g[1] if reason[i])
            ):
                pick = complement(index)
                if pick is not None and len(_determined_cells([g for _, g in groups], [*withheld(), pick])) < before:
                    reason[pick] = SECONDARY
                    changed = True
                    break
            if changed:
                break
        if changed:
            continue
        # No cell breaks the exposure: withhold the smallest total that takes part in it.
        involved = [g for g in groups if any(reason[i] for i in g[1])]
        drop = min(involved, key=lambda g: (coverage(g[1]), len(g[1])))
        groups.remove(drop)
        withheld_totals.append(drop[0])

    suppressed = pd.Series([bool(r) for r in reason], index=out.index, dtype=bool)
    for col in value_cols:
        out[col] = out[col].astype("Float64") if _is_numeric(out[col]) else out[col].astype(object)
        out.loc[suppressed, col] = pd.NA
    out["suppressed"] = suppressed
    out["suppression"] = pd.Series(reason, index=out.index, dtype=object).astype(str)
    return Suppressed(out, withheld_totals)


def differencing_risk(units: pd.DataFrame, *, n_filters: int, threshold: int = THRESHOLD) -> bool:
    """True when some widening of a filtered selection would isolate 1 or 2 members.

    `units` has one row per unit that could enter the figure under some relaxation of the filters (for a
    member-level figure: a (member, year) fact of the indicator), with `member_id` and `fail_mask`: bit k set
    when the unit fails filter k. The selection is the units with mask 0. Dropping the filters in a set T
    widens it by the units whose failed filters all lie in T; for every non-empty T, the members added must be
    none or at least `threshold`.
    """
    if n_filters < 0 or n_filters > 16:
        raise ValueError(f"differencing_risk: n_filters must be within 0..16, got {n_filters}")
    failing = units.loc[units["fail_mask"] != 0, ["member_id", "fail_mask"]].drop_duplicates()
    if failing.empty:
        return False
    masks = failing["fail_mask"].astype("int64").to_numpy()
    size = 1 << n_filters
    if failing["member_id"].is_unique:
        # Each member fails under one mask: the members added by T are a sum of per-mask counts.
        return bool(relaxation_exposed(np.bincount(masks, minlength=size), threshold=threshold))
    # A member failing under several masks enters with the first of them that T covers: count each member
    # once per relaxation, grouped by its set of masks (few distinct sets in practice).
    relaxed = np.arange(size, dtype=np.int64)
    added = np.zeros(size, dtype=np.int64)
    signatures = failing.groupby("member_id", sort=False)["fail_mask"].agg(lambda m: tuple(sorted(set(m))))
    for signature, n_members in signatures.value_counts(sort=False).items():
        covered = np.zeros(size, dtype=bool)
        for mask in signature:
            covered |= (np.int64(mask) & ~relaxed) == 0
        added += covered * int(n_members)
    added = added[1:]
    return bool(((added > 0) & (added < threshold)).any())


def relaxation_exposed(counts: np.ndarray, *, threshold: int = THRESHOLD) -> np.ndarray:
    """Rule 3 on a histogram: whether some widening of the selection isolates 1 or 2 members.

    `counts[..., m]` is the number of members that fail exactly the filters in bit mask `m` (each member under
    one mask; mask 0 is the selection); the last axis has length 2**n for n filters, leading axes hold
    independent selections (one per cell of a breakdown). Dropping the filters in T adds the members of every
    non-zero mask inside T: a sum over subsets, computed for all T at once by the subset-sum (zeta) transform,
    so the cost is n * 2**n per selection, whatever the number of members. Returns a bool per selection.
    """
    counts = np.asarray(counts, dtype=np.int64)
    size = counts.shape[-1]
    n_filters = size.bit_length() - 1
    if size != 1 << n_filters:
        raise ValueError(f"relaxation_exposed: the last axis must have 2**n entries, got {size}")
    lead = counts.shape[:-1]
    subset_sums = counts.reshape(-1, size).copy()
    for bit in range(n_filters):
        step = 1 << bit
        # Entries with the bit set gain the entries without it: after every bit, entry T sums all masks in T.
        view = subset_sums.reshape(len(subset_sums), size // (2 * step), 2, step)
        view[:, :, 1, :] += view[:, :, 0, :]
    added = subset_sums[:, 1:] - subset_sums[:, :1]
    return ((added > 0) & (added < threshold)).any(axis=1).reshape(lead)


def nested_group_risk(members_by_group: Mapping[str, Iterable[str]], *, threshold: int = THRESHOLD) -> set[str]:
    """Groups whose figure, differenced with a group nested in or around it, isolates 1 or 2 members.

    For every pair where one group's members are a subset of the other's and the difference holds 1 or 2
    members, the smaller group is returned: withholding it breaks the subtraction (the larger one may still be
    shown, it alone reveals nothing). Pairs with equal membership give the same figure twice and disclose
    nothing.
    """
    sets = {name: frozenset(members) for name, members in members_by_group.items()}
    # Only groups whose sizes differ by 1 to threshold - 1 can form such a pair: the subset test runs on those.
    by_size: dict[int, list[str]] = {}
    for name, members in sets.items():
        by_size.setdefault(len(members), []).append(name)
    risky: set[str] = set()
    for size, smaller in by_size.items():
        for gap in range(1, threshold):
            for name_b in by_size.get(size + gap, ()):
                b = sets[name_b]
                risky.update(name_a for name_a in smaller if sets[name_a] <= b)
    return risky


def anonymise_peers(
    frame: pd.DataFrame,
    *,
    name_cols: Sequence[str],
    own: str | None,
    key_col: str,
    value_col: str = "value",
    label: str = "Peer",
) -> pd.DataFrame:
    """Replace every peer's identifying columns with "Peer 1..k", numbered by value, not by name.

    The row whose `key_col` equals `own` (the partnership the user picked) keeps its name. Numbering by value
    (largest first) rather than by the original order keeps an alphabetical order from giving names away.
    """
    out = frame.copy().reset_index(drop=True)
    is_own = out[key_col] == own if own is not None else pd.Series(False, index=out.index)
    peers = out.index[~is_own]
    order = out.loc[peers].sort_values(value_col, ascending=False, na_position="last", kind="stable").index
    labels = {i: f"{label} {n}" for n, i in enumerate(order, start=1)}
    for col in [*name_cols, key_col]:
        out[col] = out[col].astype(object)
        for i, text in labels.items():
            out.loc[i, col] = text
    return out


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


def drop_member_level(frame: pd.DataFrame, columns: Iterable[str] = MEMBER_LEVEL_COLUMNS) -> pd.DataFrame:
    """A copy without the columns that identify a member or a submission."""
    return frame.drop(columns=[c for c in columns if c in frame.columns])


def _group_indices(frame: pd.DataFrame, cols: list[str]) -> list[tuple[dict[str, object], list[int]]]:
    if not cols:
        return [({}, list(frame.index))]
    found = []
    for key, index in frame.groupby(cols, dropna=False, sort=True).indices.items():
        values = key if isinstance(key, tuple) else (key,)
        found.append((dict(zip(cols, values, strict=True)), [int(i) for i in index]))
    return found


def _magnitude(frame: pd.DataFrame, value_cols: Sequence[str], i: int) -> float:
    for col in value_cols:
        value = frame.loc[i, col]
        try:
            return abs(float(value))
        except (TypeError, ValueError):
            continue
    return 0.0


def _determined_cells(groups: list[list[int]], withheld: list[int]) -> list[int]:
    """Withheld cells whose value follows from the shown figures and group totals.

    Each group is one equation over its withheld cells (the shown cells are known). A cell is determined
    exactly when its unit vector lies in the row space of those equations, i.e. when every vector of the null
    space is zero at that cell.
    """
    if not withheld:
        return []
    position = {cell: k for k, cell in enumerate(withheld)}
    rows = []
    for index in groups:
        row = np.zeros(len(withheld))
        for i in index:
            if i in position:
                row[position[i]] = 1.0
        if row.any():
            rows.append(row)
    if not rows:
        return []
    matrix = np.array(rows)
    _, singular, vt = np.linalg.svd(matrix)
    rank = int((singular > 1e-9).sum())
    null_space = vt[rank:]
    if null_space.shape[0] == 0:
        return list(withheld)
    return [cell for cell, k in position.items() if np.abs(null_space[:, k]).max() < 1e-9]


def _is_numeric(series: pd.Series) -> bool:
    return pd.api.types.is_numeric_dtype(series)

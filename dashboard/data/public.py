"""Public mode (PACT_PUBLIC=1): the release decided once per indicator and year (dashboard/disclosure.py), applied to every figure the data layer returns."""

from __future__ import annotations

import functools
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from dashboard import disclosure
from dashboard.data.core import TOTAL, Vintage, _cached, _caches, _query
from dashboard.data.filters import NO_FILTERS, Filters, _annual_sums

# --------------------------------------------------------------------------------------------------------------
# Public mode (PACT_PUBLIC=1): small-cell suppression, applied here so every page, export and URL gets it
# --------------------------------------------------------------------------------------------------------------
# The rules are dashboard/disclosure.py's: one release per indicator and year, decided over the atoms (the
# members who reported a non-zero value, grouped by everything a filter or a breakdown selects on), and every
# figure shown only when it follows from that release, so no combination of views gives back what one view
# withholds; a figure nobody contributed a non-zero value to is shown only when 0 or at least THRESHOLD members
# reported it (`_figure_shown`). Withheld figures become missing values (NaN): every consumer already shows a
# missing value as "no figure". Member counts stay: who is a Pact member is public, values are not.

# Per year, the reporting members grouped by primary ecosystem, Member State, member type and the partnerships
# they had joined by that year (a partnership counts its members from the year they joined, as in every query):
# per group, how many reported a non-zero value (the contributors: only they count towards the threshold) and
# how many reported 0. A group may hold zeros only: it is no atom of the release, but views still count its
# members, so a figure made of 1 or 2 members' zeros is withheld.
_ATOMS_SQL = """
WITH reporting AS (
    SELECT
        year,
        mi,
        coalesce(value <> 0, false) AS contributes
    FROM hot_facts
    WHERE ic = (SELECT ic FROM hot_indicators WHERE indicator = $indicator)
),
joined AS (
    SELECT
        r.year,
        r.mi,
        r.contributes,
        list_sort(list_distinct(list(ms.partnership_id))) AS partnerships
    FROM reporting AS r
    LEFT JOIN hot_memberships AS ms
        ON ms.mi = r.mi
       AND ms.joined_year <= r.year
    GROUP BY r.year, r.mi, r.contributes
)
SELECT
    CAST(j.year AS INTEGER) AS year,
    m.primary_ecosystem_id AS ecosystem,
    m.country_code AS member_state,
    m.member_type,
    j.partnerships,
    count(*) FILTER (WHERE j.contributes) AS n_contributors,
    count(*) FILTER (WHERE NOT j.contributes) AS n_zeros
FROM joined AS j
JOIN hot_members AS m USING (mi)
GROUP BY ALL
ORDER BY ALL
"""

# Filter name -> the atom column it selects on; a breakdown by ecosystem, member_state or member_type uses the
# atom column of the same name.
_FILTER_COLUMNS = (("ecosystems", "ecosystem"), ("countries", "member_state"), ("member_types", "member_type"))
_CELL_COLUMNS = ("ecosystem", "member_state", "member_type")


def _figure_shown(n_contributors: object, n_reporting: object) -> np.ndarray:
    """The rule on a figure's counts, before any combination: not built from 1 or 2 members with a non-zero value
    (a member who reported 0 adds nothing to it, so protects no one), and, when no member's value is non-zero, not
    from 1 or 2 members' zeros (the 0 shown would be theirs). Vectorised over arrays of counts."""
    contributors = np.asarray(n_contributors, dtype=np.int64)
    reporting = np.asarray(n_reporting, dtype=np.int64)

    def small(n: np.ndarray) -> np.ndarray:
        return (n >= 1) & (n < disclosure.THRESHOLD)

    return ~small(contributors) & ((contributors > 0) | ~small(reporting))


@dataclass(frozen=True)
class _YearRelease:
    """One indicator's groups of reporting members in one year and the release decided over those with a
    contributor (the atoms)."""

    atoms: pd.DataFrame  # ecosystem, member_state, member_type, n_contributors, n_zeros (every group)
    partnership_ids: tuple[str, ...]
    joined: np.ndarray  # bool, groups x partnership_ids: the partnerships each group's members had joined
    contributing: np.ndarray  # bool per group: it holds a contributor, so it is an atom of the release
    release: disclosure.Release

    def scope(self, filters: Filters) -> np.ndarray:
        """The atoms a selection keeps (filters combine with "and", values within one with "or")."""
        kept = np.ones(len(self.atoms), dtype=bool)
        for name, column in _FILTER_COLUMNS:
            values = getattr(filters, name)
            if values:
                kept &= self.atoms[column].isin(values).to_numpy(dtype=bool)
        if filters.partnerships:
            kept &= self.in_any(filters.partnerships)
        return kept

    def in_any(self, partnerships: tuple[str, ...]) -> np.ndarray:
        columns = [k for k, p in enumerate(self.partnership_ids) if p in partnerships]
        return np.any(self.joined[:, columns], axis=1)

    def cell(self, by: str, key: object) -> np.ndarray:
        """The atoms in one cell of a breakdown (by ecosystem, member_state, member_type or partnership)."""
        if by == "partnership":
            return self.in_any((str(key),))
        return _attribute_cell(self.atoms, by, key)


def _attribute_cell(atoms: pd.DataFrame, column: str, key: object) -> np.ndarray:
    """The atoms whose `column` is `key` (a missing key: the atoms where it is missing, as SQL groups them)."""
    values = atoms[column]
    return (values.isna() if pd.isna(key) else values == key).to_numpy(dtype=bool)


def _plan_year(groups: pd.DataFrame) -> _YearRelease:
    ids = tuple(sorted({p for listed in groups["partnerships"] for p in listed}))
    position = {p: k for k, p in enumerate(ids)}
    joined = np.zeros((len(groups), len(ids)), dtype=bool)
    for row, listed in enumerate(groups["partnerships"]):
        joined[row, [position[p] for p in listed]] = True
    groups = groups[["ecosystem", "member_state", "member_type", "n_contributors", "n_zeros"]].reset_index(drop=True)
    contributing = groups["n_contributors"].to_numpy(dtype=np.int64) > 0
    # The release is decided over the contributors alone: a member who reported 0 adds nothing to any figure, so
    # (assuming a reader knows who reported 0) it protects no one.
    atoms = groups[contributing].reset_index(drop=True)
    atom_joined = joined[contributing]
    sizes = atoms["n_contributors"].to_numpy(dtype=np.int64)
    # The order of importance: the EU total, then each breakdown's cells, largest first (so a breakdown's
    # complement is its smallest cell that is safe on its own).
    candidates = [np.ones(len(atoms), dtype=bool)]
    for column in _CELL_COLUMNS:
        cells = atoms.groupby(column, dropna=False, sort=True)["n_contributors"].sum()
        for key in cells.sort_values(ascending=False, kind="stable").index:
            candidates.append(_attribute_cell(atoms, column, key))
    members = (atom_joined * sizes[:, np.newaxis]).sum(axis=0)
    for k in sorted(range(len(ids)), key=lambda k: (-members[k], ids[k])):
        candidates.append(atom_joined[:, k])
    release = disclosure.plan_release(sizes, np.array(candidates, dtype=bool).reshape(len(candidates), len(atoms)))
    return _YearRelease(groups, ids, joined, contributing, release)


@_cached
def _releases(vintage: Vintage, indicator: str) -> dict[int, _YearRelease]:
    """Per year with facts (non-zero or not), the indicator's release (shared by every cached result: never
    altered)."""
    frame = _query(vintage, _ATOMS_SQL, {"indicator": indicator})
    return {int(year): _plan_year(atoms) for year, atoms in frame.groupby("year", sort=True)}


def plan_releases(vintage: Vintage) -> int:
    """Decide every indicator's release before a public worker takes requests: the first view of an indicator
    would otherwise wait for it (at 100x the sample ~0.2 s each, most of that view's ~0.5 s). Returns how many
    indicators were planned."""
    codes = _query(vintage, "SELECT indicator FROM hot_indicators ORDER BY indicator")["indicator"]
    for indicator in codes:
        _releases(vintage, str(indicator))
    _eu_counts(vintage)
    return len(codes)


@functools.lru_cache(maxsize=3)
def _basis(vintage: Vintage, indicator: str, year: int) -> np.ndarray:
    """The basis of one year's release, kept for the few last asked: each view of a selection needs it, and it costs
    ~25 ms to compute at 100x the sample but ~8 MB to keep, so only one indicator's years are kept (public mode)."""
    return _releases(vintage, indicator)[year].release.basis


_caches.append(_basis)  # emptied with the data layer's other caches


def _shown(
    vintage: Vintage, indicator: str, filters: Filters, by: str, keys: list[object], year_from: int, year_to: int
) -> np.ndarray:
    """Per key, whether its figure (the cell of breakdown `by`, or with `by=""` the filtered total, one key)
    follows from the release in every year of the range."""
    if not by:
        return cells_shown(vintage, indicator, filters, (), [()], year_from, year_to)
    return cells_shown(vintage, indicator, filters, (by,), [(key,) for key in keys], year_from, year_to)


def cells_shown(
    vintage: Vintage,
    indicator: str,
    filters: Filters,
    by: tuple[str, ...],
    keys: list[tuple[object, ...]],
    year_from: int,
    year_to: int,
) -> np.ndarray:
    """Per cell (its key in each dimension of `by`, a year as text), whether its figure follows from the release
    in every year of the range and, in each year, meets `_figure_shown` (a cell of 1 or 2 members' zeros follows
    from any release: it holds no atom). A cell of two breakdowns is the intersection of their cells, so it shows
    only where that intersection itself follows from what was released."""
    shown = np.ones(len(keys), dtype=bool)
    for year, planned in _releases(vintage, indicator).items():
        if not year_from <= year <= year_to:
            continue
        scope = planned.scope(filters)
        views = np.empty((len(keys), len(scope)), dtype=bool)
        for row, cell_keys in enumerate(keys):
            view = scope
            for dimension, key in zip(by, cell_keys, strict=True):
                if dimension == "year":
                    view = view if str(key) == str(year) else np.zeros_like(scope)
                elif dimension != TOTAL:
                    view = view & planned.cell(dimension, key)
            views[row] = view
        on_atoms = views[:, planned.contributing]
        shown &= planned.release.shows(on_atoms, _basis(vintage, indicator, year))
        # A view with no atom follows from any release; its members, if any, all reported 0 (groups of zeros
        # only, a handful): the rule on counts decides it.
        no_atom = ~on_atoms.any(axis=1)
        if no_atom.any():
            zeros_only = ~planned.contributing
            reporting = views[np.ix_(no_atom, zeros_only)].astype(np.int64) @ planned.atoms["n_zeros"].to_numpy(
                dtype=np.int64)[zeros_only]
            shown[no_atom] &= _figure_shown(np.zeros_like(reporting), reporting)
    return shown


def _withhold(frame: pd.DataFrame, shown: np.ndarray) -> pd.DataFrame:
    frame = frame.copy()
    frame["value"] = frame["value"].where(shown, float("nan")).astype("float64")
    frame["raw_value"] = frame["raw_value"].astype("Float64").where(shown, pd.NA)
    return frame


@_cached
def _eu_counts(vintage: Vintage) -> dict[tuple[str, int], tuple[int, int]]:
    """Per (indicator, year) with facts: (members reporting, contributors with a non-zero value). Shared by every
    caller: never altered."""
    frame = _annual_sums(vintage)
    columns = (frame[c].tolist() for c in ("indicator", "year", "n_reporting", "n_contributors"))
    return {(str(indicator), int(year)): (int(reporting), int(contributors))
            for indicator, year, reporting, contributors in zip(*columns, strict=True)}


def _eu_total_shown(vintage: Vintage, indicator: str, years: Iterable[int]) -> np.ndarray:
    """Per year, whether the indicator's EU total is shown. It is the release's first figure: published unless
    built from 1 or 2 contributors with a non-zero value, and (`_figure_shown`) a 0 from 1 or 2 members' zeros is
    withheld too. Deciding it from the counts spares the Progress and Data pages a release per indicator."""
    counts = _eu_counts(vintage)
    found = [counts.get((indicator, int(year)), (0, 0)) for year in years]
    return _figure_shown([c for _, c in found], [r for r, _ in found])


def _withhold_yearly(vintage: Vintage, indicator: str, filters: Filters, frame: pd.DataFrame) -> pd.DataFrame:
    if filters.is_empty:
        shown = _eu_total_shown(vintage, indicator, frame["year"])
    else:
        shown = np.array([_shown(vintage, indicator, filters, "", [None], y, y)[0] for y in frame["year"]], dtype=bool)
    return _withhold(frame, shown)


def _withhold_breakdown(
    vintage: Vintage, indicator: str, by: str, year_from: int, year_to: int, filters: Filters, frame: pd.DataFrame
) -> pd.DataFrame:
    return _withhold(frame, _shown(vintage, indicator, filters, by, list(frame["key"]), year_from, year_to))


def _withhold_partnership_values(vintage: Vintage, indicator: str, frame: pd.DataFrame) -> pd.DataFrame:
    shown = np.ones(len(frame), dtype=bool)
    for year, rows in frame.groupby("year", sort=False).indices.items():
        keys = list(frame["partnership_id"].iloc[rows])
        shown[rows] = _shown(vintage, indicator, NO_FILTERS, "partnership", keys, int(year), int(year))
    return _withhold(frame, shown)


def _public_rejects(vintage: Vintage) -> pd.DataFrame:
    """Rejects as counts per file, column and reason: a reject's row, submission, value and its reason text
    (which quotes the value) are member-level and stay on the server."""
    frame = _query(vintage, 'SELECT source_file, sheet, "column", reason_code FROM rejects')
    counts = disclosure.public_rejects(frame)
    return pd.DataFrame({
        "source_file": counts["source_file"],
        "sheet": counts["sheet"],
        "row": pd.array([pd.NA] * len(counts), dtype="Int32"),
        "column": counts["column"],
        "contribution_id": "",
        "value": "",
        "reason_code": counts["reason_code"],
        "reason": [f"{n} value(s) or row(s) rejected (public mode: details withheld)" for n in counts["rejects"]],
    })

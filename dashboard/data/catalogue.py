"""The snapshot's manifest, its dimensions (years, ecosystems, Member States, partnerships, member types) and the indicator catalogue."""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from dashboard.data.core import DataUnavailable, Vintage, _cached, _query
from pipelines.schema import INDICATOR_NAMES
from pipelines.snapshots import MANIFEST, Manifest

# --------------------------------------------------------------------------------------------------------------
# Manifest, dimensions, catalogue
# --------------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class VintageInfo:
    vintage_id: str
    created_at: str
    synthetic: bool
    inputs: int
    counts: tuple[tuple[str, object], ...]


@_cached
def _manifest(path: str) -> str:
    manifest = Path(path) / MANIFEST
    try:
        return manifest.read_text(encoding="utf-8")
    except OSError as exc:
        raise DataUnavailable(f"cannot read {manifest}: {exc}") from exc


def manifest(vintage: Vintage) -> Manifest:
    """The snapshot's manifest.json, read by the contract the runner writes it with."""
    try:
        value = json.loads(_manifest(vintage.path))
    except json.JSONDecodeError as exc:
        raise DataUnavailable(f"manifest of {vintage.vintage_id} is not valid JSON: {exc}") from exc
    if not isinstance(value, dict):
        raise DataUnavailable(f"manifest of {vintage.vintage_id} is not a JSON object")
    return Manifest.from_json(value)


@_cached
def vintage_info(vintage: Vintage) -> VintageInfo:
    m = manifest(vintage)
    return VintageInfo(
        vintage_id=m.vintage_id or vintage.vintage_id,
        created_at=m.created_at,
        synthetic=m.synthetic,
        inputs=len(m.inputs),
        counts=tuple(sorted((str(k), v) for k, v in m.counts.items())),
    )


def is_synthetic(vintage: Vintage) -> bool:
    return vintage_info(vintage).synthetic


@dataclass(frozen=True)
class IndicatorMeta:
    indicator: str
    label: str
    unit: str
    scale: int
    definition: str
    kind: str
    sum_over_members: bool
    sum_over_years: bool
    sum_over_partnerships: bool


@_cached
def _catalogue(vintage: Vintage) -> pd.DataFrame:
    return _query(vintage, "SELECT * FROM indicators ORDER BY indicator")


@_cached
def indicator_catalogue(vintage: Vintage) -> tuple[IndicatorMeta, ...]:
    """The pipeline's indicator catalogue, in the contract's order (people trained first)."""
    frame = _catalogue(vintage)
    by_name = {row["indicator"]: row for row in frame.to_dict("records")}
    order = [name for name in INDICATOR_NAMES if name in by_name] + sorted(set(by_name) - set(INDICATOR_NAMES))
    return tuple(
        IndicatorMeta(
            indicator=name,
            label=str(by_name[name]["label"]),
            unit=str(by_name[name]["unit"]),
            scale=int(by_name[name]["scale"]),
            definition=str(by_name[name]["definition"]),
            kind=str(by_name[name]["kind"]),
            sum_over_members=bool(by_name[name]["sum_over_members"]),
            sum_over_years=bool(by_name[name]["sum_over_years"]),
            sum_over_partnerships=bool(by_name[name]["sum_over_partnerships"]),
        )
        for name in order
    )


def indicator_meta(vintage: Vintage, indicator: str) -> IndicatorMeta:
    for meta in indicator_catalogue(vintage):
        if meta.indicator == indicator:
            return meta
    raise KeyError(indicator)


@dataclass(frozen=True)
class Dimensions:
    """Codes and labels a page may offer (and the only values a URL may select)."""

    years: tuple[int, ...]
    ecosystems: tuple[tuple[str, str], ...]
    member_states: tuple[tuple[str, str], ...]
    partnerships: tuple[tuple[str, str], ...]
    member_types: tuple[str, ...]
    partnership_kinds: tuple[tuple[str, str], ...] = field(default=())

    @functools.cached_property
    def _labels(self) -> dict[str, dict[str, str]]:
        # Built once per snapshot's Dimensions (a cached, frozen value): label() is called for every cell.
        return {"ecosystem": dict(self.ecosystems), "member_state": dict(self.member_states),
                "partnership": dict(self.partnerships)}

    def label(self, by: str, key: object) -> str:
        lookup = self._labels.get(by)
        if lookup is None:
            return str(key)
        return lookup.get(str(key), str(key))


@_cached
def dimensions(vintage: Vintage) -> Dimensions:
    years = _query(
        vintage,
        """
        SELECT DISTINCT wave AS year
        FROM hot_accepted
        UNION
        SELECT DISTINCT year
        FROM hot_facts
        ORDER BY year
        """,
    )
    ecosystems = _query(vintage, 'SELECT ecosystem_id, name FROM ecosystems ORDER BY "order", ecosystem_id')
    states = _query(vintage, "SELECT country_code, name FROM member_states ORDER BY protocol_order, country_code")
    partnerships = _query(vintage, "SELECT partnership_id, name, kind FROM partnerships ORDER BY kind, name")
    types = _query(
        vintage, "SELECT DISTINCT member_type FROM members WHERE member_type IS NOT NULL ORDER BY member_type"
    )
    return Dimensions(
        years=tuple(int(y) for y in years["year"]),
        ecosystems=tuple(zip(ecosystems["ecosystem_id"], ecosystems["name"], strict=True)),
        member_states=tuple(zip(states["country_code"], states["name"], strict=True)),
        partnerships=tuple(zip(partnerships["partnership_id"], partnerships["name"], strict=True)),
        member_types=tuple(str(t) for t in types["member_type"]),
        partnership_kinds=tuple(zip(partnerships["partnership_id"], partnerships["kind"], strict=True)),
    )


def latest_year(vintage: Vintage) -> int | None:
    years = dimensions(vintage).years
    return years[-1] if years else None



@_cached
def partnerships(vintage: Vintage) -> pd.DataFrame:
    """Reference rows of every partnership with its member count."""
    frame = _query(
        vintage,
        """
        WITH member_counts AS (
            SELECT
                partnership_id,
                count(DISTINCT member_id) AS n_members
            FROM memberships
            GROUP BY partnership_id
        )
        SELECT
            p.*,
            e.name AS ecosystem,
            coalesce(mc.n_members, 0) AS n_members
        FROM partnerships AS p
        LEFT JOIN ecosystems AS e USING (ecosystem_id)
        LEFT JOIN member_counts AS mc USING (partnership_id)
        ORDER BY p.kind, p.name
        """,
    )
    frame["n_members"] = frame["n_members"].astype("int64")
    frame["pledge_people"] = frame["pledge_people"].astype("Int64")
    frame["pledge_year"] = frame["pledge_year"].astype("Int64")
    return frame


def inputs(vintage: Vintage) -> pd.DataFrame:
    """The input files of a snapshot with their checksums, as listed in its manifest."""
    columns = ["path", "kind", "rows", "sha256", "title", "received"]
    rows = [{c: getattr(entry, c) for c in columns} for entry in manifest(vintage).inputs]
    return pd.DataFrame(rows, columns=columns)

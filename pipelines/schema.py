"""Column contracts of the curated tables, and the indicator lists read from the catalogue (indicators.yml).

Declared as data so that the pipeline's finishing step, the dashboard's data layer and the tests all check
against one definition. Every curated table is written as `<table>.parquet` with exactly this schema, sorted
by its key.

Money: `facts.value` is int64 for every indicator; for `investment_eur` it holds **euro cents** (the
catalogue's `scale` is 100), so that a value reported as "1.234,56" or in thousands of euro stays exact.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import pyarrow as pa

from pipelines.indicators import CATALOGUE, Indicator, reported

INDICATORS: dict[str, Indicator] = {i.name: i for i in CATALOGUE.indicators}
INDICATOR_NAMES: tuple[str, ...] = CATALOGUE.names()
# Indicators a survey question maps to directly; the two commitment ones come from the progress matrix.
REPORTED_INDICATORS: tuple[str, ...] = reported()

SUBMISSION_STATUSES = ("accepted", "superseded", "test", "blank", "rejected")

_date = pa.date32()
_ts = pa.timestamp("us")
_str = pa.string()

TABLES: dict[str, tuple[pa.Schema, tuple[str, ...]]] = {
    # name: (schema, sort key)
    "ecosystems": (pa.schema([
        ("ecosystem_id", _str), ("name", _str), ("short_name", _str), ("order", pa.int16()), ("source_url", _str),
    ]), ("order",)),
    "member_states": (pa.schema([
        ("country_code", _str), ("name", _str), ("protocol_order", pa.int16()), ("iso_alpha2", _str),
        ("source_url", _str),
    ]), ("protocol_order",)),
    "partnerships": (pa.schema([
        ("partnership_id", _str), ("name", _str), ("kind", _str),  # "large-scale" | "regional"
        ("ecosystem_id", _str), ("region", _str), ("launched_on", _date),
        ("launched_by", _date),  # by when the sources place it: launched_on, else the end of the period they give
        ("pledge_kind", _str),  # "people" | "workforce_share_per_year" | "other" | "unknown"
        ("pledge_people", pa.int64()), ("pledge_share", pa.float64()), ("pledge_year", pa.int16()),
        ("pledge_text", _str), ("source_url", _str),
    ]), ("partnership_id",)),
    "members": (pa.schema([
        ("member_id", _str), ("organisation", _str), ("member_type", _str), ("size", _str),
        ("country_code", _str), ("primary_ecosystem_id", _str), ("joined_on", _date),
    ]), ("member_id",)),
    "member_ecosystems": (pa.schema([
        ("member_id", _str), ("ecosystem_id", _str), ("is_primary", pa.bool_()),
    ]), ("member_id", "ecosystem_id")),
    "memberships": (pa.schema([
        ("member_id", _str), ("partnership_id", _str), ("joined_on", _date),
    ]), ("member_id", "partnership_id")),
    "commitments": (pa.schema([
        ("member_id", _str), ("commitment_no", pa.int16()), ("principle", pa.int16()),
        ("pledged_people", pa.int64()), ("text", _str),
    ]), ("member_id", "commitment_no")),
    "targets": (pa.schema([
        ("target_id", _str), ("version", pa.int16()), ("people", pa.int64()), ("qualifier", _str),
        ("announced_on", _date), ("announced_year", pa.int16()), ("deadline_year", pa.int16()), ("text", _str),
        ("source_url", _str),
    ]), ("version",)),
    "pledge_totals": (pa.schema([
        ("as_of", _date), ("people", pa.int64()), ("qualifier", _str), ("scope", _str), ("source_url", _str),
    ]), ("as_of",)),
    "membership_timeline": (pa.schema([
        ("as_of", _date), ("members", pa.int64()), ("large_scale_partnerships", pa.int64()),
        ("regional_partnerships", pa.int64()), ("qualifier", _str), ("source_url", _str),
    ]), ("as_of",)),
    "published_figures": (pa.schema([
        ("figure_id", _str), ("indicator", _str), ("period_start", pa.int16()), ("period_end", pa.int16()),
        ("period_kind", _str),  # "annual" | "cumulative"
        ("value", pa.float64()), ("unit", _str), ("qualifier", _str),  # "" | "nearly" | "more than" | "over"
        ("status", _str),  # "published" | "derived"
        ("derivation", _str), ("source_url", _str),
    ]), ("indicator", "period_start", "period_end", "figure_id")),
    "indicators": (pa.schema([
        ("indicator", _str), ("label", _str), ("unit", _str), ("scale", pa.int64()), ("definition", _str),
        ("kind", _str), ("sum_over_members", pa.bool_()), ("sum_over_years", pa.bool_()),
        ("sum_over_partnerships", pa.bool_()),
    ]), ("indicator",)),
    "questions": (pa.schema([
        ("wave", pa.int16()), ("source_file", _str), ("column", _str), ("question", _str),
        ("role", _str),  # "indicator" | "commitment_progress" | "identity" | "personal" | "meta" | "unmapped"
        ("indicator", _str), ("multiplier", pa.int64()), ("break_in_series", pa.bool_()),
    ]), ("wave", "column")),
    "submissions": (pa.schema([
        ("wave", pa.int16()), ("source_file", _str), ("sheet", _str), ("row", pa.int32()),
        ("contribution_id", _str), ("member_id", _str), ("created_at", _ts), ("updated_at", _ts),
        ("status", _str), ("reason_code", _str), ("reason", _str),
    ]), ("wave", "source_file", "row")),
    "facts": (pa.schema([
        ("year", pa.int16()), ("member_id", _str), ("indicator", _str), ("value", pa.int64()),
        ("source_file", _str), ("sheet", _str), ("row", pa.int32()), ("column", _str),
        ("contribution_id", _str), ("submitted_at", _ts), ("corrected", pa.bool_()),
    ]), ("year", "member_id", "indicator")),
    "rejects": (pa.schema([
        ("source_file", _str), ("sheet", _str), ("row", pa.int32()), ("column", _str),
        ("contribution_id", _str), ("value", _str), ("reason_code", _str), ("reason", _str),
    ]), ("source_file", "row", "column")),
    "expected_changes": (pa.schema([  # jumps on the previous wave a sidecar acknowledged, as measured
        ("wave", pa.int16()), ("indicator", _str), ("previous_wave", pa.int16()), ("previous_total", pa.int64()),
        ("total", pa.int64()), ("factor", pa.float64()), ("reason", _str),
    ]), ("wave", "indicator")),
    "corrections_applied": (pa.schema([
        ("correction_id", _str), ("wave", pa.int16()), ("contribution_id", _str), ("member_id", _str),
        ("indicator", _str), ("old_value", pa.int64()), ("new_value", pa.int64()), ("action", _str),
        ("reason", _str), ("corrected_by", _str), ("corrected_on", _date), ("status", _str),  # "applied" | "not applied"
        ("detail", _str),  # what the pipeline did, or why it could not apply the correction
    ]), ("correction_id",)),
}


@dataclass(frozen=True, slots=True)
class Reject:
    """One `rejects` row: a value or a row that did not land, where it was and why. The one way steps build it."""

    source_file: str
    sheet: str | None
    row: int
    column: str | None
    contribution_id: str | None
    value: str | None  # the cell as text; None for a personal column or an empty cell
    reason_code: str
    reason: str

    def record(self) -> dict[str, object]:
        return dataclasses.asdict(self)


def indicator_table() -> pa.Table:
    """The catalogue as the curated `indicators` table."""
    schema = TABLES["indicators"][0]
    rows = [{"indicator": i.name} | i.model_dump(include=set(schema.names) - {"indicator"}) for i in CATALOGUE.indicators]
    return pa.Table.from_pylist(rows, schema=schema).sort_by([("indicator", "ascending")])

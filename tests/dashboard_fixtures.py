"""A tiny curated snapshot built in code, in the exact layout and schemas the pipeline writes.

`fixture_tables()` returns every table of `pipelines.schema.TABLES` as a pyarrow Table (exact schema, sorted by
its key); `write_curated_snapshot()` writes them as `snapshots/<vintage>/<table>.parquet` + `manifest.json`, points
`current` at the snapshot and appends a run-log line, as the pipeline does. Tests compute their expectations
independently from the same tables with pandas.

The cast is small but covers the counting rules:
- M001 is in two partnerships (LSP-CONS and RSP-LOMB): it counts in both, and once in the EU total;
- M002 joined LSP-CONS in 2023 (mid-series): its 2022 figures do not count for the partnership;
- M003 reported in 2022 only (stopped reporting);
- M004 belongs to no partnership;
- M006 registered in 2024 (not registered at the end of 2022 or 2023);
- 2024 asks "people trained" with new wording (break in series).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from pipelines.schema import TABLES, indicator_table

FIXTURE_VINTAGE = "20250601T120000Z-fixture1"
SOURCE_URL = "https://example.org/source"

ECOSYSTEMS = [
    ("CONS", "Construction", "Construction", 3),
    ("DIGI", "Digital", "Digital", 5),
    ("HLTH", "Health", "Health", 9),
    ("TOUR", "Tourism", "Tourism", 14),
]
MEMBER_STATES = [
    ("BE", "Belgium", 1, "BE"),
    ("EL", "Greece", 8, "GR"),
    ("FR", "France", 10, "FR"),
    ("IT", "Italy", 12, "IT"),
]
# member_id, organisation, member_type, size, country, primary ecosystem, joined_on
MEMBERS = [
    ("M001", "Alpha Build SA", "company", "large", "BE", "CONS", dt.date(2021, 3, 1)),
    ("M002", "Beta Costruzioni Srl", "SME", "small", "IT", "CONS", dt.date(2021, 6, 15)),
    ("M003", "Gamma Digital Academy", "education and training provider", "medium", "EL", "DIGI", dt.date(2022, 1, 10)),
    ("M004", "Delta Cloud SAS", "company", "large", "FR", "DIGI", dt.date(2022, 5, 20)),
    ("M005", "Epsilon Care Network", "civil-society organisation", "small", "IT", "HLTH", dt.date(2022, 9, 1)),
    ("M006", "Zeta Hotels", "company", "medium", "EL", "TOUR", dt.date(2024, 2, 1)),
    ("M007", "Eta Builders Guild", "social partner / trade union", "medium", "FR", "CONS", dt.date(2021, 1, 5)),
]
SECONDARY_ECOSYSTEMS = [("M001", "DIGI"), ("M005", "TOUR")]
PARTNERSHIPS = [
    # id, name, kind, ecosystem, region, launched_on, pledge_kind, pledge_people, pledge_share, pledge_year, text
    ("LSP-CONS", "Construction partnership", "large-scale", "CONS", None, dt.date(2022, 2, 8), "people",
     3000, None, 2027, "25% of the workforce within 5 years, about 3,000 people"),
    ("LSP-DIGI", "Digital partnership", "large-scale", "DIGI", None, dt.date(2022, 7, 18), "unknown",
     None, None, None, "targets to follow"),
    ("LSP-HLTH", "Health partnership", "large-scale", "HLTH", None, dt.date(2022, 12, 13), "workforce_share_per_year",
     None, 0.05, None, "5% of the workforce a year"),
    ("RSP-LOMB", "Lombardy regional partnership", "regional", None, "Lombardy (ITC4)", dt.date(2022, 12, 16),
     "other", None, None, None, "stakeholders and workshops"),
]
MEMBERSHIPS = [
    ("M001", "LSP-CONS", dt.date(2022, 3, 1)),
    ("M001", "RSP-LOMB", dt.date(2022, 12, 20)),
    ("M002", "LSP-CONS", dt.date(2023, 4, 1)),
    ("M003", "LSP-DIGI", dt.date(2022, 8, 1)),
    ("M005", "LSP-HLTH", dt.date(2023, 1, 15)),
    ("M005", "RSP-LOMB", dt.date(2023, 1, 20)),
    ("M007", "LSP-CONS", dt.date(2022, 2, 10)),
]
# (year, member) -> {indicator: value}; investment in euro cents. Missing key = not reported.
FACTS: dict[tuple[int, str], dict[str, int]] = {
    (2022, "M001"): {"people_trained": 1000, "training_programmes": 10, "investment_eur": 50_000_00,
                     "people_reached": 20_000, "stakeholders_joined": 40,
                     "commitments_reported": 4, "commitments_progressing": 4},
    (2022, "M002"): {"people_trained": 300, "training_programmes": 2, "investment_eur": 7_500_50,
                     "commitments_reported": 2, "commitments_progressing": 1},
    (2022, "M003"): {"people_trained": 450, "training_programmes": 5, "people_reached": 1_000,
                     "commitments_reported": 3, "commitments_progressing": 3},
    (2022, "M007"): {"people_trained": 250, "training_programmes": 3, "investment_eur": 2_500_00,
                     "stakeholders_joined": 10, "commitments_reported": 1, "commitments_progressing": 1},
    (2023, "M001"): {"people_trained": 1200, "training_programmes": 12, "investment_eur": 55_000_00,
                     "commitments_reported": 4, "commitments_progressing": 3},
    (2023, "M002"): {"people_trained": 400, "training_programmes": 1},
    (2023, "M004"): {"people_trained": 800, "training_programmes": 6, "investment_eur": 30_000_00},
    (2023, "M005"): {"people_trained": 100, "people_reached": 5_000},
    (2024, "M001"): {"people_trained": 1500, "training_programmes": 15, "stakeholders_joined": 60},
    (2024, "M002"): {"people_trained": 500, "training_programmes": 4},
    (2024, "M004"): {"people_trained": 900, "training_programmes": 7, "investment_eur": 31_000_00},
    (2024, "M005"): {"people_trained": 0, "people_reached": 8_000},
    (2024, "M006"): {"people_trained": 200, "training_programmes": 1},
    (2024, "M007"): {"people_trained": 350},
}
# Accepted submissions are the (year, member) keys above plus respondents that reported nothing usable.
EXTRA_RESPONDENTS = [(2023, "M007")]
PUBLISHED = [
    # figure_id, indicator, start, end, kind, value, unit, qualifier, status, derivation
    ("F01", "people_trained", 2022, 2022, "annual", 2000.0, "people", "", "published", ""),
    ("F02", "people_trained", 2023, 2023, "annual", 2600.0, "people", "nearly", "published", ""),
    ("F03", "people_trained", 2022, 2024, "cumulative", 7950.0, "people", "", "published", ""),
    ("F04", "training_programmes", 2022, 2022, "annual", 20.0, "programmes", "", "published", ""),
    ("F05", "training_programmes", 2023, 2023, "annual", 19.0, "programmes", "", "derived", "39 - 20"),
    ("F06", "investment_eur", 2022, 2022, "annual", 60_000.0, "EUR", "", "published", ""),
    ("F07", "respondents", 2022, 2022, "annual", 4.0, "members", "", "published", ""),
    ("F08", "commitments_progressing_share", 2022, 2022, "annual", 0.9, "share", "", "published", ""),
]


def _table(name: str, rows: list[dict]) -> pa.Table:
    schema, key = TABLES[name]
    table = pa.Table.from_pylist(rows, schema=schema)
    return table.sort_by([(column, "ascending") for column in key]) if rows else table


def _accepted_keys() -> list[tuple[int, str]]:
    return sorted(set(FACTS) | set(EXTRA_RESPONDENTS))


def fixture_tables() -> dict[str, pa.Table]:
    """Every curated table of the fixture, with its exact schema, sorted by its key."""
    ts = dt.datetime(2025, 3, 1, 9, 30)
    member_cols = ("member_id", "organisation", "member_type", "size", "country_code", "primary_ecosystem_id",
                   "joined_on")
    part_cols = ("partnership_id", "name", "kind", "ecosystem_id", "region", "launched_on", "pledge_kind",
                 "pledge_people", "pledge_share", "pledge_year", "pledge_text")
    facts = []
    for (year, member_id), values in sorted(FACTS.items()):
        for indicator, value in values.items():
            facts.append({
                "year": year, "member_id": member_id, "indicator": indicator, "value": value,
                "source_file": f"surveys/pact_survey_{year}.xlsx", "sheet": "Content", "row": 5,
                "column": indicator, "contribution_id": f"C-{year}-{member_id}", "submitted_at": ts,
                "corrected": False,
            })
    submissions = [
        {"wave": year, "source_file": f"surveys/pact_survey_{year}.xlsx", "sheet": "Content", "row": 5 + i,
         "contribution_id": f"C-{year}-{member_id}", "member_id": member_id, "created_at": ts, "updated_at": ts,
         "status": "accepted", "reason_code": "", "reason": ""}
        for i, (year, member_id) in enumerate(_accepted_keys())
    ]
    submissions += [
        {"wave": 2022, "source_file": "surveys/pact_survey_2022.xlsx", "sheet": "Content", "row": 40,
         "contribution_id": "C-2022-M001-old", "member_id": "M001", "created_at": ts, "updated_at": ts,
         "status": "superseded", "reason_code": "superseded", "reason": "a later submission of M001 counts"},
        {"wave": 2023, "source_file": "surveys/pact_survey_2023.xlsx", "sheet": "Content", "row": 41,
         "contribution_id": "C-2023-test", "member_id": None, "created_at": ts, "updated_at": ts,
         "status": "test", "reason_code": "test_entry", "reason": "organisation matches the test pattern"},
        {"wave": 2023, "source_file": "surveys/pact_survey_2023.xlsx", "sheet": "Content", "row": 42,
         "contribution_id": "C-2023-x", "member_id": None, "created_at": ts, "updated_at": ts,
         "status": "rejected", "reason_code": "unknown_member", "reason": "no member with ID or name"},
        {"wave": 2024, "source_file": "surveys/pact_survey_2024.xlsx", "sheet": "Content", "row": 43,
         "contribution_id": None, "member_id": None, "created_at": None, "updated_at": None,
         "status": "blank", "reason_code": "blank", "reason": "no question answered"},
    ]
    questions = []
    for year in (2022, 2023, 2024):
        for indicator in ("people_trained", "training_programmes", "investment_eur", "people_reached",
                          "stakeholders_joined"):
            questions.append({
                "wave": year, "source_file": f"surveys/pact_survey_{year}.xlsx", "column": f"Q {indicator}",
                "question": f"How many ({indicator}) in {year}?", "role": "indicator", "indicator": indicator,
                "multiplier": 1000 if (year == 2023 and indicator == "investment_eur") else 1,
                "break_in_series": year == 2024 and indicator == "people_trained",
            })
    return {
        "ecosystems": _table("ecosystems", [
            {"ecosystem_id": e, "name": n, "short_name": s, "order": o, "source_url": SOURCE_URL}
            for e, n, s, o in ECOSYSTEMS
        ]),
        "member_states": _table("member_states", [
            {"country_code": c, "name": n, "protocol_order": o, "iso_alpha2": iso, "source_url": SOURCE_URL}
            for c, n, o, iso in MEMBER_STATES
        ]),
        "partnerships": _table("partnerships", [
            # every fixture partnership has a launch day, so it is also the date by which it is known
            dict(zip(part_cols, row, strict=True)) | {"launched_by": row[5], "source_url": SOURCE_URL}
            for row in PARTNERSHIPS
        ]),
        "members": _table("members", [dict(zip(member_cols, row, strict=True)) for row in MEMBERS]),
        "member_ecosystems": _table("member_ecosystems", [
            {"member_id": m[0], "ecosystem_id": m[5], "is_primary": True} for m in MEMBERS
        ] + [{"member_id": m, "ecosystem_id": e, "is_primary": False} for m, e in SECONDARY_ECOSYSTEMS]),
        "memberships": _table("memberships", [
            {"member_id": m, "partnership_id": p, "joined_on": d} for m, p, d in MEMBERSHIPS
        ]),
        "commitments": _table("commitments", [
            {"member_id": "M001", "commitment_no": 1, "principle": 1, "pledged_people": 2000, "text": "train staff"},
            {"member_id": "M001", "commitment_no": 2, "principle": 2, "pledged_people": None, "text": "partner"},
            {"member_id": "M004", "commitment_no": 1, "principle": 1, "pledged_people": 500, "text": "upskill"},
        ]),
        "targets": _table("targets", [
            {"target_id": "T10M", "version": 1, "people": 10_000, "qualifier": "", "announced_on": dt.date(2023, 5, 1),
             "announced_year": 2023, "deadline_year": None, "text": "10 thousand in the coming years", "source_url": SOURCE_URL},
            {"target_id": "T25M", "version": 2, "people": 25_000, "qualifier": "over",
             "announced_on": dt.date(2024, 3, 1), "announced_year": 2024, "deadline_year": 2030, "text": "over 25 thousand by 2030",
             "source_url": SOURCE_URL},
        ]),
        "pledge_totals": _table("pledge_totals", [
            {"as_of": dt.date(2021, 11, 10), "people": 1_500, "qualifier": "", "scope": "all members",
             "source_url": SOURCE_URL},
            {"as_of": dt.date(2024, 3, 1), "people": 25_000, "qualifier": "over", "scope": "all members",
             "source_url": SOURCE_URL},
        ]),
        "membership_timeline": _table("membership_timeline", [
            {"as_of": dt.date(2021, 11, 10), "members": 3, "large_scale_partnerships": None,
             "regional_partnerships": None, "qualifier": "over", "source_url": SOURCE_URL},
            {"as_of": dt.date(2023, 5, 1), "members": 5, "large_scale_partnerships": 3, "regional_partnerships": 1,
             "qualifier": "", "source_url": SOURCE_URL},
        ]),
        "published_figures": _table("published_figures", [
            dict(zip(("figure_id", "indicator", "period_start", "period_end", "period_kind", "value", "unit",
                      "qualifier", "status", "derivation"), row, strict=True)) | {"source_url": SOURCE_URL}
            for row in PUBLISHED
        ]),
        "indicators": indicator_table(),
        "questions": _table("questions", questions),
        "submissions": _table("submissions", submissions),
        "facts": _table("facts", facts),
        "rejects": _table("rejects", [
            {"source_file": "surveys/pact_survey_2023.xlsx", "sheet": "Content", "row": 42, "column": "Member ID",
             "contribution_id": "C-2023-x", "value": "PFS-99999", "reason_code": "unknown_member",
             "reason": "no member with this ID or organisation name"},
            {"source_file": "surveys/pact_survey_2024.xlsx", "sheet": "Content", "row": 12, "column": "Q people",
             "contribution_id": "C-2024-M002", "value": "-5", "reason_code": "negative",
             "reason": "a count cannot be negative"},
        ]),
        "expected_changes": _table("expected_changes", [
            {"wave": 2023, "indicator": "training_programmes", "previous_wave": 2022, "previous_total": 25,
             "total": 42, "factor": 42 / 25, "reason": "the 2023 questionnaire counts modules as programmes"},
        ]),
        "corrections_applied": _table("corrections_applied", [
            {"correction_id": "K1", "wave": 2024, "contribution_id": "C-2024-M007", "member_id": "M007",
             "indicator": "people_trained", "old_value": 3500, "new_value": 350, "action": "set",
             "reason": "typo confirmed by the member", "corrected_by": "staff", "corrected_on": dt.date(2025, 4, 2),
             "status": "applied"},
        ]),
    }


def write_curated_snapshot(
    curated_dir: Path,
    *,
    vintage_id: str = FIXTURE_VINTAGE,
    synthetic: bool = True,
    tables: dict[str, pa.Table] | None = None,
    make_current: bool = True,
    created_at: str = "2025-06-01T12:00:00Z",
) -> Path:
    """Write a complete snapshot under `curated_dir/snapshots/<vintage_id>/`; return the snapshot directory.

    `tables` replaces fixture tables by name (each must carry the exact schema).
    """
    all_tables = fixture_tables() | (tables or {})
    snapshot = Path(curated_dir) / "snapshots" / vintage_id
    snapshot.mkdir(parents=True, exist_ok=False)
    for name, (schema, _key) in TABLES.items():
        table = all_tables[name]
        if not table.schema.equals(schema):
            raise ValueError(f"fixture table {name} does not carry the contract schema")
        pq.write_table(table, snapshot / f"{name}.parquet")
    inputs = [
        {"path": f"surveys/pact_survey_{y}.xlsx", "sha256": f"{y:04d}" + "ab" * 30, "kind": "survey", "rows": 9,
         "title": f"Pact for Skills annual survey {y} (synthetic sample)", "received": f"{y + 1}-04-01"}
        for y in (2022, 2023, 2024)
    ] + [{"path": "reference/targets.csv", "sha256": "cd" * 32, "kind": "reference", "rows": 2,
          "title": "Pact for Skills targets", "received": "2025-05-20"}]
    manifest = {
        "vintage_id": vintage_id,
        "created_at": created_at,
        "synthetic": synthetic,
        "inputs": inputs,
        "counts": {name: all_tables[name].num_rows for name in TABLES},
    }
    (snapshot / "manifest.json").write_text(json.dumps(manifest, indent=2), encoding="utf-8")
    if make_current:
        link = Path(curated_dir) / "current"
        tmp = Path(curated_dir) / f".current-{vintage_id}"
        tmp.symlink_to(Path("snapshots") / vintage_id)
        os.replace(tmp, link)
    run = {"started": created_at, "finished": created_at, "duration_s": 1.25, "status": "ok",
           "vintage_id": vintage_id, "inputs": [{"path": i["path"], "sha256": i["sha256"]} for i in inputs],
           "counts": {"rows_read": 16}, "error": None}
    with (Path(curated_dir) / "runs.jsonl").open("a", encoding="utf-8") as log:
        log.write(json.dumps(run) + "\n")
    return snapshot


@contextlib.contextmanager
def serving_fixture_snapshot(root: Path) -> Iterator[Path]:
    """The fixture snapshot written under `root` and served by the data layer for the duration (a module fixture)."""
    from dashboard import data

    write_curated_snapshot(root)
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv(data.CURATED_ENV, str(root))
        data.reset()
        yield root
    data.reset()


def walk(component: Any) -> Iterator[Any]:
    """Every Dash component of a layout and every text in it, depth first."""
    if isinstance(component, (list, tuple)):
        for child in component:
            yield from walk(child)
        return
    yield component
    children = getattr(component, "children", None)
    if children is not None:
        yield from walk(children)

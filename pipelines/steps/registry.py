"""The member registry: data/raw/registry/pact_members.xlsx -> members, member_ecosystems, memberships,
commitments.

In: the registry workbook (sheets named by the sidecar's read.sheets: members, partnerships, commitments) and the
reference tables (ecosystems, partnerships, member_states). Out: the four tables, Member States as Eurostat codes
(GR -> EL), ecosystems and partnerships as reference ids, dates typed; and the index the survey step joins on
(normalised member ID, normalised organisation name). A registry cell that names an unknown country, ecosystem or
partnership becomes a reject row (the rest of the member stays); a duplicated member ID is fatal.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from dataclasses import dataclass

from pipelines.context import Context
from pipelines.errors import PipelineError
from pipelines.normalise import (
    ValueProblem,
    cell_text,
    clean_id,
    is_blank,
    normalise_country,
    normalise_label,
    normalise_member_id,
    org_name_keys,
    parse_date,
    parse_number,
    split_multi,
)
from pipelines.readers import RawFile, Sheet, read_xlsx, require_columns
from pipelines.rules import RegistryIndex
from pipelines.schema import Reject
from pipelines.steps.reference import ReferenceHandoff

log = logging.getLogger(__name__)

# Registry header -> curated column, per sheet. Constants, so that a renamed source column fails loudly.
MEMBER_COLUMNS = {
    "Registration ID": "member_id",
    "Organisation": "organisation",
    "Type of organisation": "member_type",
    "Size": "size",
    "Country": "country_code",
    "Industrial ecosystems": "ecosystems",  # ';'-joined names or ids, the primary one first
    "Date of registration": "joined_on",
}
MEMBERSHIP_COLUMNS = {"Registration ID": "member_id", "Partnership": "partnership_id", "Joined on": "joined_on"}
COMMITMENT_COLUMNS = {
    "Registration ID": "member_id", "Commitment no.": "commitment_no", "Charter principle": "principle",
    "Pledged number of people": "pledged_people", "Commitment": "text",
}
SHEETS = {"members": MEMBER_COLUMNS, "memberships": MEMBERSHIP_COLUMNS, "commitments": COMMITMENT_COLUMNS}
# The sidecar's read.sheets keys each table; "partnerships" is accepted for the memberships sheet.
SHEET_KEYS = {"members": ("members",), "memberships": ("memberships", "partnerships"), "commitments": ("commitments",)}
DATE_FORMATS = ("%Y-%m-%d", "%d/%m/%Y")


@dataclass(frozen=True)
class RegistryHandoff:
    index: RegistryIndex  # how a survey answer finds its member


def run(ctx: Context) -> None:
    # load
    raw = registry_file(ctx)
    sheets = {table: read_registry_sheet(raw, table) for table in SHEETS}
    raw.rows = sum(len(s.rows) for s in sheets.values())
    countries = ctx.work.get(ReferenceHandoff).country_lookup
    ecosystems = ecosystem_lookup(ctx.table("ecosystems").to_pylist())
    partnerships = {p["partnership_id"] for p in ctx.table("partnerships").to_pylist()}
    # process
    rejects: list[Reject] = []
    members, member_ecosystems = member_records(sheets["members"], countries, ecosystems, rejects)
    by_key = {normalise_member_id(m["member_id"]): m["member_id"] for m in members}  # unique: member_records saw to it
    memberships = membership_records(sheets["memberships"], by_key, partnerships, rejects)
    commitments = commitment_records(sheets["commitments"], by_key, rejects)
    index = registry_index(members, by_key)
    # save
    ctx.save("members", members)
    ctx.save("member_ecosystems", member_ecosystems)
    ctx.save("memberships", memberships)
    ctx.save("commitments", commitments)
    ctx.rejects += rejects
    ctx.work.put(RegistryHandoff(index))


def registry_file(ctx: Context) -> RawFile:
    files = ctx.files_of("registry")
    if len(files) != 1:
        raise PipelineError(
            f"expected exactly one member registry (data/raw/registry/), found {len(files)}: "
            + ", ".join(f.rel for f in files)
        )
    return files[0]


def read_registry_sheet(raw: RawFile, table: str) -> Sheet:
    spec = raw.sidecar.read
    key = next((k for k in SHEET_KEYS[table] if k in spec.sheets), None)
    if key is None:
        raise PipelineError(f"the sidecar's read.sheets does not say which sheet holds {table!r}", file=raw.rel)
    sheet = read_xlsx(raw, spec.sheets[key], spec.header_row)
    require_columns(sheet.header, list(SHEETS[table]), file=raw.rel, sheet=sheet.sheet, header_row=sheet.header_row)
    return sheet


def ecosystem_lookup(ecosystems: list[dict]) -> dict[str, str]:
    """Ecosystem id, name or short name (any case) -> ecosystem id."""
    lookup = {}
    for e in ecosystems:
        for spelling in (e["ecosystem_id"], e["name"], e["short_name"]):
            if spelling:
                lookup[normalise_label(spelling)] = e["ecosystem_id"]
    return lookup


def _rows(sheet: Sheet, columns: dict[str, str]):
    positions = {target: sheet.column(source) for source, target in columns.items()}
    for offset, cells in enumerate(sheet.rows):
        if all(is_blank(c) for c in cells):
            continue
        yield sheet.first_row + offset, {target: cells[i] for target, i in positions.items()}


def _reject(rejects: list[Reject], sheet: Sheet, row: int, column: str, value: object, code: str,
            reason: str) -> None:
    # a registry row has no Contribution Id: it is not a survey submission
    rejects.append(Reject(sheet.file, sheet.sheet, row, column, None, cell_text(value) or None, code, reason))


def _date(sheet: Sheet, row: int, column: str, value: object):
    for fmt in DATE_FORMATS:
        try:
            return parse_date(value, fmt)
        except ValueProblem:
            continue
    raise PipelineError(f"{cell_text(value)!r} is not a date (yyyy-mm-dd or dd/mm/yyyy)",
                        file=sheet.file, sheet=sheet.sheet, row=row, column=column)


def _source_columns(columns: dict[str, str]) -> dict[str, str]:
    """target field -> the sheet's column header it is read from (for messages naming the column)."""
    return {target: source for source, target in columns.items()}


def member_records(
    sheet: Sheet, countries: dict[str, str], ecosystems: dict[str, str], rejects: list[Reject],
) -> tuple[list[dict], list[dict]]:
    members, member_ecosystems = [], []
    seen: dict[str, int] = {}
    col = _source_columns(MEMBER_COLUMNS)
    for row, cells in _rows(sheet, MEMBER_COLUMNS):
        member_id = clean_id(cells["member_id"])
        if not member_id:
            raise PipelineError("a member without a registration ID", file=sheet.file, sheet=sheet.sheet, row=row,
                                column=col["member_id"])
        key = normalise_member_id(member_id)
        if key in seen:
            raise PipelineError(f"registration ID {member_id!r} is already used on row {seen[key]}",
                                file=sheet.file, sheet=sheet.sheet, row=row, column=col["member_id"])
        seen[key] = row
        try:
            country = normalise_country(cells["country_code"], countries)
        except ValueProblem as exc:
            _reject(rejects, sheet, row, col["country_code"], cells["country_code"], exc.code, exc.reason)
            country = None
        ids = []
        for name in split_multi(cells["ecosystems"]):
            ecosystem = ecosystems.get(normalise_label(name))
            if ecosystem is None:
                _reject(rejects, sheet, row, col["ecosystems"], name, "unknown_ecosystem",
                        f"{name!r} is not one of the 14 industrial ecosystems")
            elif ecosystem not in ids:
                ids.append(ecosystem)
        members.append({
            "member_id": member_id, "organisation": cell_text(cells["organisation"]) or None,
            "member_type": cell_text(cells["member_type"]) or None, "size": cell_text(cells["size"]) or None,
            "country_code": country, "primary_ecosystem_id": ids[0] if ids else None,
            "joined_on": _date(sheet, row, col["joined_on"], cells["joined_on"]),
        })
        member_ecosystems += [
            {"member_id": member_id, "ecosystem_id": e, "is_primary": i == 0} for i, e in enumerate(ids)
        ]
    return members, member_ecosystems


def membership_records(
    sheet: Sheet, by_key: dict[str, str], partnerships: set[str], rejects: list[Reject],
) -> list[dict]:
    records: dict[tuple[str, str], dict] = {}
    col = _source_columns(MEMBERSHIP_COLUMNS)
    for row, cells in _rows(sheet, MEMBERSHIP_COLUMNS):
        member_id = by_key.get(normalise_member_id(cells["member_id"]))
        partnership = clean_id(cells["partnership_id"])
        if member_id is None:
            _reject(rejects, sheet, row, col["member_id"], cells["member_id"], "unknown_member",
                    "no member with this registration ID in the Members sheet")
            continue
        if partnership not in partnerships:
            _reject(rejects, sheet, row, col["partnership_id"], partnership, "unknown_partnership",
                    f"{partnership!r} is not in partnerships.csv")
            continue
        joined = _date(sheet, row, col["joined_on"], cells["joined_on"])
        if joined is None:
            # without it no one can say from which wave the member's figures count for the partnership
            _reject(rejects, sheet, row, col["joined_on"], None, "missing_join_date",
                    f"the membership of {member_id} in {partnership} has no join date; it is not counted until "
                    "the registry gives one")
            continue
        key = (member_id, partnership)
        if key in records:
            # the same membership listed twice: the earlier join date is when the member's figures start counting
            joined = min(joined, records[key]["joined_on"])
        records[key] = {"member_id": member_id, "partnership_id": partnership, "joined_on": joined}
    return list(records.values())


def commitment_records(sheet: Sheet, by_key: dict[str, str], rejects: list[Reject]) -> list[dict]:
    records = []
    seen = set()
    col = _source_columns(COMMITMENT_COLUMNS)
    for row, cells in _rows(sheet, COMMITMENT_COLUMNS):
        member_id = by_key.get(normalise_member_id(cells["member_id"]))
        if member_id is None:
            _reject(rejects, sheet, row, col["member_id"], cells["member_id"], "unknown_member",
                    "no member with this registration ID in the Members sheet")
            continue
        try:
            number = int(parse_number(cells["commitment_no"]))
            principle = int(parse_number(cells["principle"])) if cell_text(cells["principle"]) else None
            pledged = int(parse_number(cells["pledged_people"])) if cell_text(cells["pledged_people"]) else None
        except ValueProblem as exc:
            raise PipelineError(exc.reason, file=sheet.file, sheet=sheet.sheet, row=row) from exc
        if (member_id, number) in seen:
            raise PipelineError(f"commitment {number} of {member_id} is listed twice", file=sheet.file,
                                sheet=sheet.sheet, row=row, column=col["commitment_no"])
        seen.add((member_id, number))
        records.append({"member_id": member_id, "commitment_no": number, "principle": principle,
                        "pledged_people": pledged, "text": cell_text(cells["text"]) or None})
    return records


def registry_index(members: list[dict], by_key: dict[str, str]) -> RegistryIndex:
    by_full: dict[str, list[str]] = defaultdict(list)
    by_name: dict[str, list[str]] = defaultdict(list)
    for m in members:
        full, name = org_name_keys(m["organisation"])
        if full:
            by_full[full].append(m["member_id"])
            by_name[name].append(m["member_id"])
    return RegistryIndex(
        by_id=by_key,
        by_full_name={name: tuple(ids) for name, ids in by_full.items()},
        by_name={name: tuple(ids) for name, ids in by_name.items()},
        country={m["member_id"]: m["country_code"] for m in members},
    )

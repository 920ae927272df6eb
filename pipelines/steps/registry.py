"""The member registry: data/raw/registry/pact_members.xlsx -> members, member_ecosystems, memberships,
commitments.

In: the registry workbook (sheets named by the sidecar's read.sheets: members, partnerships, commitments) and the
reference tables (ecosystems, partnerships, member_states). Out: the four tables, Member States as Eurostat codes
(GR -> EL), ecosystems and partnerships as reference ids, dates typed; and the index the survey step joins on
(normalised member ID, normalised organisation name). A registry cell that names an unknown country, ecosystem or
partnership becomes a reject row (the rest of the member stays), and memberships of an unknown partnership are
also a warning; a duplicated member ID, or a join date after the registry was received, is fatal.
"""

from __future__ import annotations

import datetime as dt
import logging
import operator
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import chain, compress, count, repeat
from typing import NoReturn, cast

from pipelines import columns
from pipelines.columns import attempt, blank_offsets, by_value
from pipelines.context import Context
from pipelines.errors import PipelineError, first_few
from pipelines.normalise import (
    ValueProblem,
    cell_text,
    is_blank,
    normalise_country,
    normalise_label,
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
FOUNDING_LEAD = dt.timedelta(days=366)  # how long before its launch a partnership's founding members may join


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
    launches = {p["partnership_id"]: p["launched_on"] for p in ctx.table("partnerships").to_pylist()}
    # process
    rejects: list[Reject] = []
    members, member_ecosystems, by_key = member_records(sheets["members"], countries, ecosystems, rejects)
    memberships = membership_records(sheets["memberships"], by_key, launches, raw.sidecar.received, rejects)
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
    sheet = read_xlsx(raw.content, raw.rel, raw.format, spec.sheets[key], spec.header_row)
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


def _columns(sheet: Sheet, columns: dict[str, str]) -> tuple[list[int], dict[str, Sequence[object]]]:
    """The sheet's non-blank rows as columns: (row numbers, target field -> its cells)."""
    cells = sheet.columns
    # a row is blank when every cell is, its first among them
    blank = {offset for offset in blank_offsets(cells[0]) if all(is_blank(c) for c in sheet.rows[offset])}
    rows = list(range(sheet.first_row, sheet.first_row + len(sheet.rows)))
    if blank:
        kept = [offset for offset in range(len(sheet.rows)) if offset not in blank]
        cells = [[column[offset] for offset in kept] for column in cells]
        rows = [rows[offset] for offset in kept]
    return rows, {target: cells[sheet.column(source)] for source, target in columns.items()}


def _reject(rejects: list[Reject], sheet: Sheet, row: int, column: str, value: object, code: str,
            reason: str) -> None:
    # a registry row has no Contribution Id: it is not a survey submission
    rejects.append(Reject(sheet.file, sheet.sheet, row, column, None, cell_text(value) or None, code, reason))


def registry_date(value: object) -> dt.date | None:
    """A registry date cell (yyyy-mm-dd or dd/mm/yyyy text, or a real date); blank -> None."""
    for fmt in DATE_FORMATS:
        try:
            return parse_date(value, fmt)
        except ValueProblem:
            continue
    raise ValueProblem("invalid_date", f"{cell_text(value)!r} is not a date (yyyy-mm-dd or dd/mm/yyyy)")


def _source_columns(columns: dict[str, str]) -> dict[str, str]:
    """target field -> the sheet's column header it is read from (for messages naming the column)."""
    return {target: source for source, target in columns.items()}


def _optional_text(cells: Sequence[object]) -> list[str | None]:
    return [text or None for text in columns.texts(cells)]


def member_records(
    sheet: Sheet, countries: dict[str, str], ecosystems: dict[str, str], rejects: list[Reject],
) -> tuple[dict[str, list], dict[str, list], dict[str, str]]:
    """(members, member_ecosystems) as columns, and each member by its normalised registration ID."""
    rows, cells = _columns(sheet, MEMBER_COLUMNS)
    col = _source_columns(MEMBER_COLUMNS)
    member_ids = columns.ids(cells["member_id"])
    keys = columns.member_keys(member_ids)
    joined = by_value(cells["joined_on"], attempt(registry_date))
    if "" in member_ids or len(set(keys)) < len(keys) or columns.any_problem(joined):
        _stop_at_first_bad_member(sheet, rows, member_ids, keys, joined, col)

    countries_found = by_value(cells["country_code"], attempt(lambda v: normalise_country(v, countries)))
    for i in compress(count(), map(isinstance, countries_found, repeat(ValueProblem))):
        found = cast(ValueProblem, countries_found[i])
        _reject(rejects, sheet, rows[i], col["country_code"], cells["country_code"][i], found.code, found.reason)

    def ecosystem_ids(value: object) -> tuple[list[str], list[str]]:
        """(the ecosystem ids named, primary first, once each; the names that are no ecosystem)"""
        ids: list[str] = []
        unknown = []
        for name in split_multi(value):
            ecosystem = ecosystems.get(normalise_label(name))
            if ecosystem is None:
                unknown.append(name)
            elif ecosystem not in ids:
                ids.append(ecosystem)
        return ids, unknown

    named = by_value(cells["ecosystems"], ecosystem_ids)
    for i in compress(count(), map(operator.itemgetter(1), named)):  # a cell naming a stranger
        unknown = named[i][1]  # one reject per cell (a cell is where a reject points), naming every stranger in it
        names = ", ".join(repr(name) for name in unknown)
        verdict = "is not one" if len(unknown) == 1 else "are not any"
        _reject(rejects, sheet, rows[i], col["ecosystems"], "; ".join(unknown), "unknown_ecosystem",
                f"{names} {verdict} of the 14 industrial ecosystems")
    members: dict[str, list] = {
        "member_id": member_ids, "organisation": _optional_text(cells["organisation"]),
        "member_type": by_value(cells["member_type"], lambda v: cell_text(v) or None),
        "size": by_value(cells["size"], lambda v: cell_text(v) or None),
        "country_code": [None if isinstance(c, ValueProblem) else c for c in countries_found],
        "primary_ecosystem_id": [ids[0] if ids else None for ids, _ in named],
        "joined_on": joined,
    }
    # one row per ecosystem a member names, the primary first (flattened without a call of ours per member)
    ids_named = list(map(operator.itemgetter(0), named))
    counts = list(map(len, ids_named))
    primary_first = [[True] + [False] * (n - 1) for n in range(max(counts, default=0) + 1)]
    member_ecosystems: dict[str, list] = {
        "member_id": list(chain.from_iterable(map(repeat, member_ids, counts))),
        "ecosystem_id": list(chain.from_iterable(ids_named)),
        "is_primary": list(chain.from_iterable(map(primary_first.__getitem__, counts))),
    }
    return members, member_ecosystems, dict(zip(keys, member_ids, strict=True))  # keys unique: checked above


def _stop_at_first_bad_member(sheet: Sheet, rows: list[int], member_ids: list[str], keys: list[str],
                              joined: list, col: dict[str, str]) -> NoReturn:
    """The first member row, in sheet order, that stops the run: no ID, an ID already used, or a date that is not."""
    seen: dict[str, int] = {}
    for row, member_id, key, date in zip(rows, member_ids, keys, joined, strict=True):
        if not member_id:
            raise PipelineError("a member without a registration ID", file=sheet.file, sheet=sheet.sheet, row=row,
                                column=col["member_id"])
        if key in seen:
            raise PipelineError(f"registration ID {member_id!r} is already used on row {seen[key]}",
                                file=sheet.file, sheet=sheet.sheet, row=row, column=col["member_id"])
        seen[key] = row
        if isinstance(date, ValueProblem):
            raise PipelineError(date.reason, file=sheet.file, sheet=sheet.sheet, row=row, column=col["joined_on"])
    raise AssertionError("no member row stops the run")  # pragma: no cover - called only when one does


def _members_named(cells: Sequence[object], by_key: dict[str, str]) -> list[str | None]:
    """The member each registration ID cell names (None: no member has it), found once per distinct cell."""
    return columns.per_distinct(cells, lambda ids: [by_key.get(key) for key in columns.member_keys(ids)])


def membership_records(
    sheet: Sheet, by_key: dict[str, str], launches: dict[str, dt.date | None], received: dt.date,
    rejects: list[Reject],
) -> dict[str, list]:
    """One record per member and partnership. A join date after the registry was received stops the run, and one
    more than a year before the partnership was launched is a warning: a mistyped year would count the member's
    figures for the partnership from the wrong wave (or never), and nothing else would show it."""
    records: dict[tuple[str, str], dict] = {}
    unknown: Counter[str] = Counter()  # partnership IDs that partnerships.csv does not list -> memberships
    early: list[str] = []  # memberships dated more than a year before their partnership's launch
    rows, cells = _columns(sheet, MEMBERSHIP_COLUMNS)
    col = _source_columns(MEMBERSHIP_COLUMNS)
    member_ids = _members_named(cells["member_id"], by_key)
    partnership_ids = columns.ids(cells["partnership_id"])
    dates = by_value(cells["joined_on"], attempt(registry_date))
    for row, member_id, partnership, joined, cell in zip(rows, member_ids, partnership_ids, dates,
                                                          cells["member_id"], strict=True):
        if member_id is None:
            _reject(rejects, sheet, row, col["member_id"], cell, "unknown_member",
                    "no member with this registration ID in the Members sheet")
            continue
        if partnership not in launches:
            _reject(rejects, sheet, row, col["partnership_id"], partnership, "unknown_partnership",
                    f"{partnership!r} is not in partnerships.csv")
            unknown[partnership] += 1
            continue
        if isinstance(joined, ValueProblem):
            raise PipelineError(joined.reason, file=sheet.file, sheet=sheet.sheet, row=row, column=col["joined_on"])
        if joined is None:
            # without it no one can say from which wave the member's figures count for the partnership
            _reject(rejects, sheet, row, col["joined_on"], None, "missing_join_date",
                    f"the membership of {member_id} in {partnership} has no join date; it is not counted until "
                    "the registry gives one")
            continue
        if joined > received:
            raise PipelineError(f"{member_id} joined {partnership} on {joined:%d %b %Y}, after the registry was "
                                f"received ({received:%d %b %Y}): a mistyped date?",
                                file=sheet.file, sheet=sheet.sheet, row=row, column=col["joined_on"])
        launched = launches[partnership]
        # founding members may join in the months before the launch; a mistyped year (2004 for 2024) goes further
        if launched is not None and joined < launched - FOUNDING_LEAD:
            early.append(f"row {row}: {member_id} joined {partnership} on {joined:%d %b %Y}, launched "
                         f"{launched:%d %b %Y}")
        key = (member_id, partnership)
        if key in records:
            # the same membership listed twice: the earlier join date is when the member's figures start counting
            joined = min(joined, records[key]["joined_on"])
        records[key] = {"member_id": member_id, "partnership_id": partnership, "joined_on": joined}
    if early:  # the launch dates come from public sources and may be rough, so the operator decides
        log.warning("%s, sheet %r, column %r: %d membership(s) dated more than a year before their partnership was "
                    "launched count for it from that year: mistyped years? %s", sheet.file, sheet.sheet,
                    col["joined_on"], len(early), first_few(early, 5, "; "))
    if unknown:  # a typo in either file drops every membership of the partnership from its figures
        log.warning("%s, sheet %r: %d membership(s) name a partnership that partnerships.csv does not list, so count "
                    "for none: %s", sheet.file, sheet.sheet, sum(unknown.values()),
                    ", ".join(f"{p!r} ({n})" for p, n in unknown.most_common(10)))
    return {name: [r[name] for r in records.values()] for name in ("member_id", "partnership_id", "joined_on")}


def _whole(value: object) -> int:
    return int(parse_number(value))


def _optional_whole(value: object) -> int | None:
    return int(parse_number(value)) if cell_text(value) else None


def commitment_records(sheet: Sheet, by_key: dict[str, str], rejects: list[Reject]) -> dict[str, list]:
    rows, cells = _columns(sheet, COMMITMENT_COLUMNS)
    col = _source_columns(COMMITMENT_COLUMNS)
    member_ids = _members_named(cells["member_id"], by_key)
    for i in compress(count(), map(operator.is_, member_ids, repeat(None))):
        _reject(rejects, sheet, rows[i], col["member_id"], cells["member_id"][i], "unknown_member",
                "no member with this registration ID in the Members sheet")
    known = list(compress(count(), map(operator.is_not, member_ids, repeat(None))))
    if len(known) < len(rows):
        rows, member_ids = [rows[i] for i in known], [member_ids[i] for i in known]
        cells = {name: [column[i] for i in known] for name, column in cells.items()}
    numbers = by_value(cells["commitment_no"], attempt(_whole))
    principles = by_value(cells["principle"], attempt(_optional_whole))
    pledged = by_value(cells["pledged_people"], attempt(_optional_whole))
    pairs = list(zip(member_ids, numbers, strict=True))
    if len(set(pairs)) < len(pairs) or any(columns.any_problem(values) for values in (numbers, principles, pledged)):
        _stop_at_first_bad_commitment(sheet, rows, pairs, list(zip(numbers, principles, pledged, strict=True)), col)
    return {"member_id": member_ids, "commitment_no": numbers, "principle": principles, "pledged_people": pledged,
            "text": _optional_text(cells["text"])}


def _stop_at_first_bad_commitment(sheet: Sheet, rows: list[int], pairs: list[tuple], parsed: list[tuple],
                                  col: dict[str, str]) -> NoReturn:
    """The first commitment row of a known member, in sheet order, that stops the run: a number that is not one,
    or a commitment listed twice."""
    seen = set()
    for row, (member_id, number), values in zip(rows, pairs, parsed, strict=True):
        problem = next((v for v in values if isinstance(v, ValueProblem)), None)
        if problem is not None:
            raise PipelineError(problem.reason, file=sheet.file, sheet=sheet.sheet, row=row)
        if (member_id, number) in seen:
            raise PipelineError(f"commitment {number} of {member_id} is listed twice", file=sheet.file,
                                sheet=sheet.sheet, row=row, column=col["commitment_no"])
        seen.add((member_id, number))
    raise AssertionError("no commitment row stops the run")  # pragma: no cover - called only when one does


def registry_index(members: dict[str, list], by_key: dict[str, str]) -> RegistryIndex:
    full_keys, name_keys = columns.org_name_keys(members["organisation"])
    return RegistryIndex(
        by_id=by_key,
        by_full_name=columns.grouped(full_keys, members["member_id"]),
        by_name=columns.grouped(name_keys, members["member_id"]),
        country=dict(zip(members["member_id"], members["country_code"], strict=True)),
    )

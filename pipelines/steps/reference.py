"""Reference tables: data/raw/reference/<table>.csv -> ecosystems, member_states, partnerships, targets,
pledge_totals, membership_timeline, published_figures.

In: one CSV per table whose header holds the curated contract's columns (member_states also `aliases`, the other
spellings of a code, ';'-separated, e.g. GR for EL). Out: the same tables typed to the contract. These tables are
kept by hand, so a bad cell is a fatal error naming file, row and column rather than a reject.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd
import pyarrow as pa

from pipelines.context import Context
from pipelines.errors import PipelineError
from pipelines.normalise import ValueProblem, cell_text, clean_id, country_lookup, parse_date, parse_number
from pipelines.readers import RawFile, Sheet, read_csv, require_columns
from pipelines.schema import TABLES

REFERENCE_TABLES = (
    "ecosystems", "member_states", "partnerships", "targets", "pledge_totals", "membership_timeline",
    "published_figures",
)
# Source-only columns the reference CSVs carry besides the contract's.
EXTRA_COLUMNS = {"member_states": ("aliases",)}
# Text columns where "" is a value of its own (no qualifier, no derivation) rather than a missing one.
EMPTY_IS_VALUE = {"qualifier", "derivation"}
TRUE_WORDS = {"true", "yes", "y", "1"}
FALSE_WORDS = {"false", "no", "n", "0"}


@dataclass(frozen=True)
class ReferenceHandoff:
    country_lookup: dict[str, str]  # every Member State spelling (code, ISO code, name, alias) -> Eurostat code


def run(ctx: Context) -> None:
    # load
    files = reference_files(ctx)
    sheets = {name: read_csv(raw) for name, raw in files.items()}
    for name, raw in files.items():
        raw.rows = len(sheets[name].rows)
    # process
    tables = {name: typed_records(name, sheet) for name, sheet in sheets.items()}
    lookup = _check_reference(tables, sheets)
    # save
    for name in REFERENCE_TABLES:
        ctx.save(name, tables[name])
    ctx.work.put(ReferenceHandoff(lookup))


def reference_files(ctx: Context) -> dict[str, RawFile]:
    """table name -> its file; a missing or duplicated reference table is fatal."""
    found: dict[str, RawFile] = {}
    for raw in ctx.files_of("reference"):
        name = raw.sidecar.table or raw.path.stem
        if name not in REFERENCE_TABLES:
            raise PipelineError(
                f"unknown reference table {name!r} (sidecar 'table'); known: {', '.join(REFERENCE_TABLES)}",
                file=raw.rel,
            )
        if name in found:
            raise PipelineError(f"reference table {name!r} is also given by {found[name].rel}", file=raw.rel)
        found[name] = raw
    for name in REFERENCE_TABLES:
        if name not in found:
            raise PipelineError(f"reference table {name!r} is missing (expected data/raw/reference/{name}.csv)")
    return found


def typed_records(name: str, sheet: Sheet) -> list[dict]:
    """A reference CSV -> records typed to the contract of table `name`."""
    schema = TABLES[name][0]
    expected = list(schema.names) + list(EXTRA_COLUMNS.get(name, ()))
    require_columns(sheet.header, expected, file=sheet.file, sheet=sheet.sheet, header_row=sheet.header_row)
    positions = {c: sheet.column(c) for c in expected}
    records = []
    for offset, cells in enumerate(sheet.rows):
        row_number = sheet.first_row + offset
        if all(not cell_text(c) for c in cells):
            continue
        record = {}
        for field in schema:
            raw_value = cells[positions[field.name]]
            if field.name in TABLES[name][1] or field.name.endswith("_id"):  # keys and references to keys
                raw_value = clean_id(raw_value)
            try:
                record[field.name] = _typed(raw_value, field)
            except ValueProblem as exc:
                raise PipelineError(exc.reason, file=sheet.file, row=row_number, column=field.name) from exc
        for key in TABLES[name][1]:
            # A key column identifies the row and orders the table: an empty one is an error in the file,
            # named here rather than left to the contract check after the step.
            if record.get(key) is None:
                raise PipelineError(f"the key column {key!r} is empty", file=sheet.file, row=row_number, column=key)
        records.append(record)
    return records


def _typed(value: object, field: pa.Field) -> object:
    text = cell_text(value)
    kind = field.type
    if pa.types.is_string(kind):
        if not text:
            return "" if field.name in EMPTY_IS_VALUE else None
        return text
    if not text:
        return None
    if pa.types.is_integer(kind):
        number = parse_number(text, ".")
        if number != number.to_integral_value():
            raise ValueProblem("not_whole", f"{text!r} is not a whole number")
        return int(number)
    if pa.types.is_floating(kind):
        return float(parse_number(text, "."))
    if pa.types.is_date(kind):
        return parse_date(text)
    if pa.types.is_boolean(kind):
        word = text.casefold()
        if word in TRUE_WORDS:
            return True
        if word in FALSE_WORDS:
            return False
        raise ValueProblem("not_boolean", f"{text!r} is not true or false")
    raise TypeError(f"no reader for {field}")  # pragma: no cover - the contract uses only the types above


def _check_reference(tables: dict[str, list[dict]], sheets: dict[str, Sheet]) -> dict[str, str]:
    """Cross-table sanity checks, before anything is written; returns every Member State spelling -> code."""
    ecosystems = {r["ecosystem_id"] for r in tables["ecosystems"]}
    for record in tables["partnerships"]:
        if record["ecosystem_id"] is not None and record["ecosystem_id"] not in ecosystems:
            raise PipelineError(
                f"partnership {record['partnership_id']!r} names unknown ecosystem {record['ecosystem_id']!r}",
                file=sheets["partnerships"].file, column="ecosystem_id",
            )
    states = sheets["member_states"]
    try:
        return country_lookup(member_states_frame(states))
    except ValueError as exc:
        raise PipelineError(f"ambiguous Member State spelling: {exc}", file=states.file, column="aliases") from exc


def member_states_frame(sheet: Sheet) -> pd.DataFrame:
    """The member_states CSV as a frame with the columns `country_lookup` reads."""
    columns = ["country_code", "iso_alpha2", "name", "aliases"]
    return pd.DataFrame(
        [[cell_text(cells[sheet.column(c)]) for c in columns] for cells in sheet.rows], columns=columns,
    )

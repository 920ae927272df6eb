"""Write spreadsheets in the layout EUSurvey gives a results export (pipelines/eusurvey.py, docs/eusurvey_export.md).

Row 1 `Alias | <alias>`, row 2 `Export Date | <date-time cell>`, row 3 blank, row 4 the header (questions, then the
meta columns labelled in the exporting user's language), answers from row 5. Past 254 columns the columns continue
on sheets `Content1`, `Content2`, ..., each with the same first rows. A large export is several such workbooks in
one zip. Date-times are date-time cells (`dd/mm/yyyy hh:mm`). Rows are streamed (XlsxWriter constant-memory mode),
so hundreds of thousands of rows stay within minutes and a few MB. Used by the sample generator and by tests
that build the exact layout users drop in.
"""

from __future__ import annotations

import datetime as dt
import tempfile
import zipfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import xlsxwriter

from pipelines.eusurvey import CONTENT_SHEET, META_LABELS

HEADER_ROW = 4  # 1-based, as a sidecar's read.header_row
MAX_COLUMNS = 254  # columns per sheet before the export continues on the next one
# The meta columns a Pact survey export carries, in EUSurvey's order (no invitations, no quiz).
META_ROLES = ("contribution_id", "user_name", "creation_date", "last_update", "languages")
DATE_FORMAT = "dd/mm/yyyy hh:mm"


@dataclass(frozen=True)
class Formula:
    """A formula cell with its cached result. EUSurvey writes none, but a copy edited by hand may hold one."""

    text: str  # "=1+1"
    cached: object = 0


def meta_header(language: str = "en", roles: Sequence[str] = META_ROLES) -> list[str]:
    """The meta columns' labels as an export made by a user of `language` has them."""
    return [META_LABELS[role][language] for role in roles]


def write_eusurvey_xlsx(
    path: Path,
    *,
    alias: str,
    export_date: dt.datetime,
    header: Sequence[str],
    rows: Iterable[Sequence[object]],
    sheet: str = CONTENT_SHEET,
    created: dt.datetime | None = None,
    max_columns: int = MAX_COLUMNS,
) -> int:
    """Write `rows` (cells: str, int, float, datetime, or None for empty) under `header`; return the number of
    data rows.

    `created` fixes the workbook's document-properties timestamp (XlsxWriter otherwise stamps the current time),
    so that a seeded generator writes byte-identical files.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    workbook = xlsxwriter.Workbook(str(path), {"constant_memory": True, "strings_to_numbers": False})
    if created is not None:
        workbook.set_properties({"created": created})
    try:
        dates = workbook.add_format({"num_format": DATE_FORMAT})
        spans = [(start, min(start + max_columns, len(header))) for start in range(0, len(header), max_columns)]
        sheets = []
        for k, (start, end) in enumerate(spans):
            worksheet = workbook.add_worksheet(sheet if k == 0 else f"{sheet}{k}")
            worksheet.write_row(0, 0, ["Alias", alias])
            worksheet.write_string(1, 0, "Export Date")
            worksheet.write_datetime(1, 1, export_date, dates)
            worksheet.write_row(HEADER_ROW - 1, 0, list(header[start:end]))
            sheets.append((worksheet, start, end))
        count = 0
        for count, row in enumerate(rows, start=1):
            r = HEADER_ROW - 1 + count
            for k, (worksheet, start, end) in enumerate(sheets):
                # the last sheet takes the rest of the row: a test may put a cell beyond the header
                for col, value in enumerate(row[start:end] if k < len(sheets) - 1 else row[start:]):
                    if value is None or value == "":
                        continue
                    if isinstance(value, str):
                        # write_string: a cell starting with "=" stays text, as EUSurvey exports it
                        worksheet.write_string(r, col, value)
                    elif isinstance(value, dt.date):  # a datetime, or a date read back from a midnight one
                        worksheet.write_datetime(r, col, value, dates)
                    elif isinstance(value, Formula):
                        worksheet.write_formula(r, col, value.text, None, value.cached)
                    else:
                        worksheet.write_number(r, col, value)
    finally:
        workbook.close()
    return count


def write_eusurvey_zip(
    path: Path,
    *,
    parts: Sequence[tuple[str, Iterable[Sequence[object]]]],
    alias: str,
    export_date: dt.datetime,
    header: Sequence[str],
    created: dt.datetime | None = None,
) -> list[int]:
    """A large export: one workbook per (member name, rows) in `parts`, zipped as EUSurvey does; returns the rows
    written per workbook. Entries carry the export date, so a seeded generator writes identical bytes."""
    path.parent.mkdir(parents=True, exist_ok=True)
    counts = []
    with tempfile.TemporaryDirectory() as tmp, zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, rows in parts:
            book = Path(tmp) / Path(name).name
            counts.append(write_eusurvey_xlsx(book, alias=alias, export_date=export_date, header=header, rows=rows,
                                              created=created))
            entry = zipfile.ZipInfo(name, date_time=export_date.timetuple()[:6])
            entry.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(entry, book.read_bytes())
    return counts

"""Write a spreadsheet in the EUSurvey `Content` export layout (see PACT_FACTS.md §7).

Row 1 `Alias | <alias>`, row 2 `Export Date | dd/MM/yyyy HH:mm`, row 3 blank, row 4 the header (questions, then
the meta columns), answers from row 5. Streams rows (XlsxWriter constant-memory mode), so writing hundreds of
thousands of rows stays within minutes and a few MB of memory. Used by the sample generator and by tests that
build the exact layout users drop in.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from pathlib import Path

import xlsxwriter

HEADER_ROW = 4  # 1-based, as a sidecar's read.header_row
CONTENT_SHEET = "Content"
META_COLUMNS = ("Contribution Id", "User Name", "Creation Date", "Last Update", "Languages")


def write_eusurvey_xlsx(
    path: Path,
    *,
    alias: str,
    export_date: dt.datetime,
    header: Sequence[str],
    rows: Iterable[Sequence[object]],
    sheet: str = CONTENT_SHEET,
    created: dt.datetime | None = None,
) -> int:
    """Write `rows` (cells: str, int, float or None for empty) under `header`; return the number of data rows.

    `created` fixes the workbook's document-properties timestamp (XlsxWriter otherwise stamps the current time),
    so that a seeded generator writes byte-identical files.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    workbook = xlsxwriter.Workbook(str(path), {"constant_memory": True, "strings_to_numbers": False})
    if created is not None:
        workbook.set_properties({"created": created})
    try:
        worksheet = workbook.add_worksheet(sheet)
        worksheet.write_row(0, 0, ["Alias", alias])
        worksheet.write_row(1, 0, ["Export Date", export_date.strftime("%d/%m/%Y %H:%M")])
        worksheet.write_row(HEADER_ROW - 1, 0, list(header))
        count = 0
        for count, row in enumerate(rows, start=1):
            for col, value in enumerate(row):
                if value is None or value == "":
                    continue
                if isinstance(value, str):
                    # write_string: a cell starting with "=" stays text, as EUSurvey exports it
                    worksheet.write_string(HEADER_ROW - 1 + count, col, value)
                else:
                    worksheet.write_number(HEADER_ROW - 1 + count, col, value)
    finally:
        workbook.close()
    return count

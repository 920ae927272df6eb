"""Survey exports as they arrive after something happened to them on the way: a continuation sheet edited on its
own.

Each must stop the run with a message saying what happened and what to do.
"""

from __future__ import annotations

import openpyxl
import pytest

import pipelines
from pipelines.errors import PipelineError
from tests.test_eusurvey_exports import rows_2022, write_xlsx

WIDE = "surveys/pact_survey_2022.xlsx"


# ------------------------------------------------------------------------------------- continuation sheets

def _wide_export_edited(raw_tree, first: int, amount: int) -> None:
    """A wide export (5 columns per sheet: Content to Content3) whose Content1 lost `amount` rows from
    spreadsheet row `first` on, deleted by hand on that sheet only."""
    path = write_xlsx(raw_tree, "pact_survey_2022.xlsx", rows_2022(), max_columns=5)
    book = openpyxl.load_workbook(path)
    book["Content1"].delete_rows(first, amount)
    book.save(path)


@pytest.mark.parametrize(("first", "amount"), [(6, 1), (6, 2)], ids=["a row in the middle", "the last rows"])
def test_a_continuation_sheet_that_lost_rows_stops_the_run(raw_tree, tmp_path, first, amount):
    _wide_export_edited(raw_tree, first, amount)
    with pytest.raises(PipelineError) as err:
        pipelines.run(raw_tree.root, tmp_path / "curated")
    message = str(err.value)
    assert message.startswith(
        f"{WIDE}, sheet 'Content1': sheet 'Content1' has {3 - amount} rows under its header but sheet 'Content' has 3")
    assert "a row deleted or sorted on one sheet only would give answers to other members" in message
    assert "export the survey again and use it unedited" in message
    assert not (tmp_path / "curated" / "current").exists()

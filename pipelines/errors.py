"""The one exception a run stops on, and how it names the place in the raw data that caused it."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path


class PipelineError(Exception):
    """A fatal problem with the raw inputs: the run stops and nothing under data/curated/ changes.

    The message is one line naming the file and, where they apply, the sheet, the row (1-based, as a
    spreadsheet shows it) and the column header, so that whoever dropped the file can find the cell.
    """

    def __init__(
        self,
        problem: str,
        *,
        file: Path | str | None = None,
        sheet: str | None = None,
        row: int | None = None,
        column: str | None = None,
    ) -> None:
        self.problem = problem
        self.file = str(file) if file is not None else None
        self.sheet = sheet
        self.row = row
        self.column = column
        super().__init__(self.one_line())

    def one_line(self) -> str:
        where = []
        if self.file is not None:
            where.append(self.file)
        if self.sheet is not None:
            where.append(f"sheet {self.sheet!r}")
        if self.row is not None:
            where.append(f"row {self.row}")
        if self.column is not None:
            where.append(f"column {self.column!r}")
        text = " ".join(self.problem.split())  # one line, whatever the cause's message held
        return f"{', '.join(where)}: {text}" if where else text


def first_few(items: Sequence[str], most: int, separator: str = ", ") -> str:
    """The first `most` of `items` joined, and ' ...' when there are more: a message names some, not thousands."""
    return separator.join(items[:most]) + (" ..." if len(items) > most else "")

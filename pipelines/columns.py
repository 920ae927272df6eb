"""Column operations over cells as read: a rule applied to a whole column at once instead of cell by cell.

Two ways, both exact. A rule is computed once per distinct cell (`by_value`): the columns of a registry or a survey
hold a few dozen distinct countries, labels or dates among hundreds of thousands of cells. Or a column's plain cells
(printable ASCII text, no '&' for an exporter to have escaped, no surrounding space: `plain_text`) are transformed
in Arrow, where the per-cell rule is known to reduce to that transform; every other cell still goes through the
per-cell rule, so that its result, or the problem it raises, is the rule's own.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TypeVar

import pyarrow as pa
import pyarrow.compute as pc

from pipelines.normalise import ValueProblem, cell_text, clean_id, normalise_member_id

T = TypeVar("T")

# Printable ASCII without '&', starting and ending with a visible character: such a cell is its own `cell_text`
# (nothing to strip or unescape) and its own `clean_id` (nothing invisible to take out).
_PLAIN = r"^[!-%'-~](?:[ -%'-~]*[!-%'-~])?$"
_NOT_ASCII_ALNUM = "[^0-9A-Za-z]+"  # what normalise_member_id removes from an ASCII ID


def by_value(cells: Sequence[object], rule: Callable[[object], T]) -> list[T]:
    """`rule` of every cell, computed once per distinct cell. Cells are told apart by type and value, so 1, 1.0
    and True stay apart (as the normalisers' own caches do); `rule` must be pure."""
    keys = list(zip(map(type, cells), cells, strict=True))
    found = {key: rule(key[1]) for key in dict.fromkeys(keys)}
    return list(map(found.__getitem__, keys))


def attempt(rule: Callable[[object], T]) -> Callable[[object], T | ValueProblem]:
    """`rule` returning the ValueProblem it raises instead of raising it, for `by_value` over cells that may fail."""
    def outcome(cell: object) -> T | ValueProblem:
        try:
            return rule(cell)
        except ValueProblem as exc:
            return exc
    return outcome


def _plain(cells: Sequence[object]) -> tuple[pa.Array, list[bool]]:
    """The cells as an Arrow string array (a non-text cell as '\\0', never plain) and which are plain."""
    texts = pa.array([c if type(c) is str else "\0" for c in cells], pa.string())
    return texts, pc.match_substring_regex(texts, _PLAIN).to_pylist()


def texts(cells: Sequence[object]) -> list[str]:
    """`cell_text` of every cell."""
    _, plain = _plain(cells)
    return [str(c) if p else cell_text(c) for c, p in zip(cells, plain, strict=True)]


def ids(cells: Sequence[object]) -> list[str]:
    """`clean_id` of every cell."""
    _, plain = _plain(cells)
    return [str(c) if p else clean_id(c) for c, p in zip(cells, plain, strict=True)]


def member_keys(cells: Sequence[object]) -> list[str]:
    """`normalise_member_id` of every cell: for a plain cell its ASCII letters and digits, upper-cased."""
    texts_, plain = _plain(cells)
    fast = pc.utf8_upper(pc.replace_substring_regex(texts_, _NOT_ASCII_ALNUM, "")).to_pylist()
    return [f if p else normalise_member_id(c) for c, p, f in zip(cells, plain, fast, strict=True)]

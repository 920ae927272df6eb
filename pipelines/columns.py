"""Column operations over cells as read: a rule applied to a whole column at once instead of cell by cell.

Two ways, both exact. A rule is computed once per distinct cell (`by_value`): the columns of a registry or a survey
hold a few dozen distinct countries, labels or dates among hundreds of thousands of cells. Or a column's usual
cells take a shortcut the per-cell rule is known to reduce to for them: text without an '&' (nothing an exporter
escaped) is only trimmed; plain cells (printable ASCII text, no '&', no surrounding space) have their member-ID and
organisation-name keys made in Arrow. Every other cell still goes through the per-cell rule, so that its result,
or the problem it raises, is the rule's own.
"""

from __future__ import annotations

import datetime as dt
import operator
import re
from collections import Counter, defaultdict
from collections.abc import Callable, Sequence
from itertools import compress, count
from typing import TypeVar, cast

import pyarrow as pa
import pyarrow.compute as pc

from pipelines import normalise
from pipelines.normalise import (
    LEGAL_SUFFIXES,
    ValueProblem,
    cell_text,
    clean_id,
    is_blank,
    normalise_member_id,
    parse_timestamp,
)

T = TypeVar("T")
_HALF_SECOND = dt.timedelta(microseconds=500_000)

# Printable ASCII without '&', starting and ending with a visible character: such a cell is its own `cell_text`
# (nothing to strip or unescape), so its member-ID and organisation-name keys reduce to transforms Arrow makes.
_PLAIN = r"^[!-%'-~](?:[ -%'-~]*[!-%'-~])?$"
_NOT_ASCII_ALNUM = "[^0-9A-Za-z]+"  # what normalise_member_id removes from an ASCII ID
# A legal form, or the "and" that "& Co. KG" leaves dangling, at the end of a name's key after another word. Of the
# legal forms ending a key, the leftmost match is the longest, the one `without_legal_form` takes off first.
_LEGAL_ENDING = " (?:" + "|".join(sorted({" ".join(s) for s in LEGAL_SUFFIXES} | {"and"})) + ")$"


def by_value(cells: Sequence[object], rule: Callable[[object], T]) -> list[T]:
    """`rule` of every cell, computed once per distinct cell; `rule` must be pure."""
    return per_distinct(cells, lambda distinct: list(map(rule, distinct)))


def per_distinct(cells: Sequence[object], rule: Callable[[Sequence[object]], list[T]]) -> list[T]:
    """`rule`, a rule over a whole column, applied to each distinct cell once and its results spread back over the
    column (a survey column holds a few dozen distinct countries or labels among hundreds of thousands of cells; a
    commitments sheet names each member twice on average). Cells are told apart by type and value, so 1, 1.0 and
    True stay apart (as the normalisers' own caches do)."""
    if len(set(map(type, cells))) == 1:  # the usual column, of one type: its cells are their own keys
        distinct = list(dict.fromkeys(cells))
        found = dict(zip(distinct, rule(distinct), strict=True))
        return list(map(found.__getitem__, cells))
    keys = list(zip(map(type, cells), cells, strict=True))
    distinct_keys = list(dict.fromkeys(keys))
    found_by_key = dict(zip(distinct_keys, rule([cell for _, cell in distinct_keys]), strict=True))
    return list(map(found_by_key.__getitem__, keys))


def blank_offsets(cells: Sequence[object]) -> list[int]:
    """Where the blank cells (`is_blank`) are. A column of text, the usual one, is searched without a call of ours
    per cell: an empty text or one that is only whitespace."""
    if set(map(type, cells)) == {str}:
        found = compress(count(), map(str.isspace, cast(Sequence[str], cells)))
        return sorted({*found, *compress(count(), map(operator.not_, cells))})
    return [offset for offset, cell in enumerate(cells) if is_blank(cell)]


def any_problem(values: Sequence[object]) -> bool:
    """Whether any of the values is a ValueProblem (tested once per type, not once per value)."""
    return any(issubclass(kind, ValueProblem) for kind in set(map(type, values)))


def attempt(rule: Callable[[object], T]) -> Callable[[object], T | ValueProblem]:
    """`rule` returning the ValueProblem it raises instead of raising it, for `by_value` over cells that may fail.

    The problem is kept as data, without its traceback or the exception it was raised from: a traceback holds the
    frames of every caller up to the step and their locals (a sheet's rows, a column of cells), which a stored
    problem would keep alive, in a reference cycle, until a garbage collection. With the collector paused during a
    run (memory.gc_paused) that was 2.4 M objects held to the end at 100x, and the first collection after it
    walking them all (about 1 s)."""
    def outcome(cell: object) -> T | ValueProblem:
        try:
            return rule(cell)
        except ValueProblem as exc:
            exc.__traceback__ = exc.__cause__ = exc.__context__ = None
            return exc
    return outcome


def _plain(cells: Sequence[object]) -> tuple[pa.Array, list[bool]]:
    """The cells as an Arrow string array (a non-text cell as '\\0', never plain) and which are plain."""
    texts = pa.array([c if type(c) is str else "\0" for c in cells], pa.string())
    return texts, pc.match_substring_regex(texts, _PLAIN).to_pylist()


def texts(cells: Sequence[object]) -> list[str]:
    """`cell_text` of every cell: text without an '&' (nothing an exporter escaped) is only trimmed."""
    return [cell.strip() if type(cell) is str and "&" not in cell else cell_text(cell) for cell in cells]


def searched(cells: Sequence[object], pattern: re.Pattern[str]) -> list[bool]:
    """Whether `pattern` is found in the `cell_text` of each cell, searched once per distinct text (a survey's
    names and e-mail addresses are mostly distinct: the search is mapped over them without a call of ours each)."""
    def found(distinct: Sequence[object]) -> list[bool]:
        return [match is not None for match in map(pattern.search, cast(Sequence[str], distinct))]

    return per_distinct(texts(cells), found)


def ids(cells: Sequence[object]) -> list[str]:
    """`clean_id` of every cell: ASCII text without an '&' holds nothing invisible to take out, and is only
    trimmed."""
    return [cell.strip() if type(cell) is str and cell.isascii() and "&" not in cell else clean_id(cell)
            for cell in cells]


def member_keys(cells: Sequence[object]) -> list[str]:
    """`normalise_member_id` of every cell: for a plain cell its ASCII letters and digits, upper-cased."""
    texts_, plain = _plain(cells)
    fast = pc.utf8_upper(pc.replace_substring_regex(texts_, _NOT_ASCII_ALNUM, "")).to_pylist()
    return [f if p else normalise_member_id(c) for c, p, f in zip(cells, plain, fast, strict=True)]


def timestamps(cells: Sequence[object], fmt: str) -> list[dt.datetime | ValueProblem]:
    """`parse_timestamp` of every cell, or the problem it raises. A date-time cell (most of a column) is rounded to
    the second here, as the rule rounds it: half a second added, the fraction dropped; one on a whole second is
    itself. (In Arrow this took longer than in Python: making the Python datetimes back cost more than it saved.)"""
    read = attempt(lambda cell: parse_timestamp(cell, fmt))
    return [(cell if not cell.microsecond else (cell + _HALF_SECOND).replace(microsecond=0))
            if type(cell) is dt.datetime else read(cell) for cell in cells]


def org_name_keys(names: Sequence[str | None]) -> tuple[list[str], list[str]]:
    """`normalise.org_name_keys` of every name: (full keys, keys without the legal form).

    A plain name is reduced in Arrow: lower case (all casefolding does to ASCII), dots dropped, every run of other
    characters but letters and digits one space, no space at either end; then the legal forms at its end taken off
    one at a time, the longest first, as `without_legal_form` does. Any other name goes through the rule itself."""
    texts_, plain = _plain(names)
    reduced = pc.replace_substring(pc.ascii_lower(texts_), ".", "")
    full = pc.utf8_trim(pc.replace_substring_regex(reduced, "[^0-9a-z]+", " "), " ")
    short = full
    while True:
        stripped = pc.replace_substring_regex(short, _LEGAL_ENDING, "")
        if stripped.equals(short):
            break
        short = stripped
    keys = list(zip(full.to_pylist(), short.to_pylist(), strict=True))
    keys = [key if is_plain else normalise.org_name_keys(name)
            for name, is_plain, key in zip(names, plain, keys, strict=True)]
    return [f for f, _ in keys], [s for _, s in keys]


def grouped(keys: Sequence[str], values: Sequence[T]) -> dict[str, tuple[T, ...]]:
    """key -> the values with that key, in order; an empty key is left out."""
    groups: dict[str, tuple[T, ...]] = dict(zip(keys, zip(values), strict=True))  # most keys: (one value,)
    groups.pop("", None)
    if len(groups) < len(keys) - keys.count(""):  # some key repeats: its values gathered in order
        counts = Counter(keys)
        repeated: dict[str, list[T]] = defaultdict(list)
        for key, value in zip(keys, values, strict=True):
            if key and counts[key] > 1:
                repeated[key].append(value)
        groups.update((key, tuple(found)) for key, found in repeated.items())
    return groups

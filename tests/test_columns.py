"""The column operations give, cell for cell, what the per-cell rules give: their fast paths change speed only."""

from __future__ import annotations

import datetime as dt
import gc
import re
import weakref

from hypothesis import given, settings
from hypothesis import strategies as st

from pipelines import columns
from pipelines.normalise import (
    ValueProblem,
    cell_text,
    clean_id,
    is_blank,
    normalise_member_id,
    org_name_keys,
    parse_timestamp,
)

# Text as cells hold it: ASCII (the fast paths), accents, '&' and escaped '&amp;', spaces of every kind, legal forms.
_WORDS = ["acme", "gmbh", "co", "kg", "a", "s", "sp", "z", "oo", "o", "d", "r", "and", "ltd", "ab", "as", "AS", "S.A.",
          "&", "Co.", "x"]
_TEXT = st.one_of(
    st.text(alphabet=st.sampled_from("abcXYZ019 -_./&;'ÄéßŁ\u00a0\u0301ＰＦ１\t"), max_size=24),
    st.lists(st.sampled_from(_WORDS), max_size=6).map(" ".join),  # names ending in legal forms, one or several
    st.sampled_from(["Acme GmbH & Co. KG", "Beta S.r.l.", "Kowalski Sp. z o.o.", "Ferrari A/S", "X and", "AS",
                     "Smith &amp; Sons Ltd", " Gamma  Ltd. ", "a s", "co kg", "Delta AB and", "...", "",
                     "Rosona & Veramica Media AB", "A & & B", "A &", "& A", "A &amp; B", "A &#38; B", "A &B",
                     "Fereville & Welia Energy S.A.", "X & Co. KG"]),
)
_CELLS = st.lists(st.one_of(_TEXT, st.none(), st.floats(allow_nan=True, allow_infinity=False), st.integers(0, 99),
                            st.booleans()), max_size=30)


def _same(got: list, expected: list) -> None:
    """Equal, a ValueProblem standing for the problem it names."""
    def plain(values: list) -> list:
        return [(v.code, v.reason) if isinstance(v, ValueProblem) else v for v in values]
    assert plain(got) == plain(expected)


@settings(max_examples=300, deadline=None)
@given(_CELLS)
def test_text_and_id_columns_agree_with_the_cell_rules(cells):
    assert columns.texts(cells) == [cell_text(c) for c in cells]
    assert columns.ids(cells) == [clean_id(c) for c in cells]
    assert columns.member_keys(cells) == [normalise_member_id(c) for c in cells]


@settings(max_examples=300, deadline=None)
@given(st.lists(st.one_of(_TEXT, st.none()), max_size=30))
def test_organisation_name_keys_agree_with_the_cell_rule(names):
    full, short = columns.org_name_keys(names)
    expected = [org_name_keys(n) for n in names]
    assert full == [f for f, _ in expected]
    assert short == [s for _, s in expected]


def test_legal_forms_come_off_a_plain_name_as_they_do_one_by_one():
    names = ["Acme GmbH Co KG", "Beta S.r.l.", "Gamma Ltd and", "Delta", "Epsilon AS AB", "AB", "Zeta Co. Ltd."]
    full, short = columns.org_name_keys(names)
    assert short == ["acme", "beta", "gamma", "delta", "epsilon", "ab", "zeta"]
    assert full[0] == "acme gmbh co kg"


_MOMENTS = st.datetimes(min_value=dt.datetime(1900, 1, 1), max_value=dt.datetime(2100, 1, 1))


@settings(max_examples=200, deadline=None)
@given(st.lists(st.one_of(_MOMENTS, st.dates(), _TEXT, st.none(), st.floats(0, 60000)), max_size=20))
def test_timestamps_agree_with_the_cell_rule(cells):
    fmt = "%d/%m/%Y %H:%M"
    _same(columns.timestamps(cells, fmt), [columns.attempt(lambda c: parse_timestamp(c, fmt))(c) for c in cells])


def test_a_date_time_cell_is_rounded_to_the_nearest_second():
    cells = [dt.datetime(2024, 1, 1, 8, 59, 59, 999_999), dt.datetime(2024, 1, 1, 9, 0, 0, 499_999),
             dt.datetime(2024, 1, 1, 9, 0, 0, 500_000)]
    assert columns.timestamps(cells, "%d/%m/%Y") == [dt.datetime(2024, 1, 1, 9), dt.datetime(2024, 1, 1, 9),
                                                      dt.datetime(2024, 1, 1, 9, 0, 1)]


@settings(max_examples=200, deadline=None)
@given(_CELLS)
def test_by_value_keeps_cells_of_different_types_apart(cells):
    def rule(cell: object) -> str:
        return f"{type(cell).__name__}:{cell!r}"

    assert columns.by_value(cells, rule) == [rule(c) for c in cells]


def test_by_value_tells_one_from_true_and_one_point_zero():
    assert columns.by_value([1, 1.0, True, 1], lambda c: type(c).__name__) == ["int", "float", "bool", "int"]
    assert columns.any_problem([1, ValueProblem("x", "y")]) and not columns.any_problem([1, "a", None])


@settings(max_examples=200, deadline=None)
@given(st.one_of(_CELLS, st.lists(st.sampled_from(["PFS-1", " pfs 1", "PFS-2", "", "x"]), max_size=30)))
def test_a_column_rule_over_distinct_cells_gives_what_it_gives_over_all(cells):
    assert columns.per_distinct(cells, columns.member_keys) == columns.member_keys(cells)
    assert columns.per_distinct([1, 1.0, True], lambda cs: [type(c).__name__ for c in cs]) == ["int", "float", "bool"]


@settings(max_examples=200, deadline=None)
@given(st.one_of(_CELLS, st.lists(st.sampled_from(["a", "", " ", "\t\n", "\u00a0", " b", "\x1c"]), max_size=30)))
def test_blank_cells_are_found_as_is_blank_finds_them(cells):
    assert columns.blank_offsets(cells) == [i for i, c in enumerate(cells) if is_blank(c)]


def test_a_problem_kept_as_data_holds_no_frame_of_its_callers():
    # a timestamp that does not parse is raised from strptime's ValueError: neither its traceback nor that
    # ValueError may keep the caller's locals (at 100x, a survey's rows) alive until a garbage collection
    class Rows(list):  # a list that can be watched
        pass

    def read(rows: Rows) -> list:
        return columns.by_value(rows, columns.attempt(lambda c: parse_timestamp(c, "%Y-%m-%d %H:%M:%S")))

    rows = Rows(["2024-13-45 99:00:00", "", "2024-01-02 03:04:05"])
    watched = weakref.ref(rows)
    found = read(rows)
    assert [type(v) for v in found] == [ValueProblem, ValueProblem, dt.datetime]
    assert all(v.__traceback__ is None and v.__cause__ is None and v.__context__ is None for v in found[:2])
    was_enabled = gc.isenabled()
    gc.disable()  # as during a run: only reference counting frees the rows
    try:
        del rows
        assert watched() is None
    finally:
        if was_enabled:
            gc.enable()
    assert found[0].code == "invalid_timestamp"


@settings(max_examples=200, deadline=None)
@given(st.lists(st.one_of(_TEXT, st.sampled_from(["test", " Test Org", "x@test.example.org", "TEST&amp;CO"]),
                          st.none(), st.floats(0, 100)), max_size=20))
def test_a_pattern_is_searched_in_each_cell_as_the_cell_rule_reads_it(cells):
    for pattern in (re.compile(r"(?i)^\s*test\b"), re.compile(r"@test\.example\.org$"), re.compile("&")):
        assert columns.searched(cells, pattern) == [pattern.search(cell_text(c)) is not None for c in cells]

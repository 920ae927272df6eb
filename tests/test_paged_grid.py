"""A paged grid's blocks (dashboard/ui.py: grid_block): ag-grid's filter and sort models applied on the server, as
ag-grid applies them in the browser to a grid that holds all its rows."""

from __future__ import annotations

import pandas as pd

from dashboard.ui import grid_block

FRAME = pd.DataFrame({
    "file": pd.array(["a.xlsx", "b.xlsx", "A.xlsx", None, "c.csv"], dtype="str"),
    "row": pd.array([5, 12, 7, 30, 2], dtype="int32"),
    "value": pd.array(["-3", "", "approx. many", "x", None], dtype="str"),
})


def _files(request: dict) -> list:
    return [r["file"] for r in grid_block(FRAME, {"startRow": 0, "endRow": 100, **request})["rowData"]]


def _text(kind: str, needle: str | None = None) -> dict:
    return {"filterModel": {"file": {"filterType": "text", "type": kind, "filter": needle}}}


def test_a_block_is_its_rows_with_the_count_the_filters_keep() -> None:
    block = grid_block(FRAME, {"startRow": 1, "endRow": 3})
    assert block["rowCount"] == 5 and [r["row"] for r in block["rowData"]] == [12, 7]
    assert grid_block(FRAME, {"startRow": 4, "endRow": 104})["rowData"] == [
        {"file": "c.csv", "row": 2, "value": None}]
    assert grid_block(FRAME, {"startRow": 9, "endRow": 10}) == {"rowData": [], "rowCount": 5}


def test_text_filters_ignore_case_and_let_a_missing_cell_pass_only_negative_conditions() -> None:
    assert _files(_text("contains", "A.X")) == ["a.xlsx", "A.xlsx"]
    assert _files(_text("notContains", "xlsx")) == [None, "c.csv"]
    assert _files(_text("equals", "a.xlsx")) == ["a.xlsx", "A.xlsx"]
    assert _files(_text("notEqual", "a.xlsx")) == ["b.xlsx", None, "c.csv"]
    assert _files(_text("startsWith", "b")) == ["b.xlsx"] and _files(_text("endsWith", ".CSV")) == ["c.csv"]
    assert _files(_text("blank")) == [None] and None not in _files(_text("notBlank"))
    empty = {"filterModel": {"value": {"filterType": "text", "type": "blank"}}}
    assert _files(empty) == ["b.xlsx", "c.csv"]  # an empty text is blank too


def test_number_filters_and_conditions_joined_by_and_or_or() -> None:
    def rows(model: dict) -> list:
        return [r["row"] for r in grid_block(FRAME, {"startRow": 0, "endRow": 100,
                                                     "filterModel": {"row": model}})["rowData"]]

    assert rows({"filterType": "number", "type": "greaterThan", "filter": 7}) == [12, 30]
    assert rows({"filterType": "number", "type": "lessThanOrEqual", "filter": 7}) == [5, 7, 2]
    assert rows({"filterType": "number", "type": "inRange", "filter": 5, "filterTo": 30}) == [12, 7]
    assert rows({"filterType": "number", "operator": "OR", "conditions": [
        {"filterType": "number", "type": "equals", "filter": 2},
        {"filterType": "number", "type": "equals", "filter": 30}]}) == [30, 2]
    assert rows({"filterType": "number", "operator": "AND", "conditions": [
        {"filterType": "number", "type": "greaterThan", "filter": 4},
        {"filterType": "number", "type": "lessThan", "filter": 13}]}) == [5, 12, 7]


def test_sorting_by_several_columns_is_stable_and_unknown_columns_are_ignored() -> None:
    request = {"sortModel": [{"colId": "row", "sort": "desc"}, {"colId": "nope", "sort": "asc"}],
               "filterModel": {"nope": {"filterType": "text", "type": "equals", "filter": "x"}}}
    assert [r["row"] for r in grid_block(FRAME, {"startRow": 0, "endRow": 2, **request})["rowData"]] == [30, 12]
    assert grid_block(FRAME, {"startRow": 0, "endRow": 2, **request})["rowCount"] == 5


def test_a_request_that_is_not_what_ag_grid_sends_is_answered_without_its_odd_parts() -> None:
    odd = [
        {"startRow": "0; DROP", "endRow": None, "sortModel": "row", "filterModel": ["file"]},
        {"startRow": True, "endRow": -5, "sortModel": [None, {"colId": 3}], "filterModel": {"file": "x"}},
        {"filterModel": {"row": {"filterType": "number", "type": "equals", "filter": "7"},
                         "file": {"filterType": "text", "operator": "OR", "conditions": "all"}}},
        {"filterModel": {"row": {"filterType": "number", "type": "inRange", "filter": 1, "filterTo": [9]}}},
    ]
    for request in odd:
        block = grid_block(FRAME, request)
        assert block["rowCount"] == 5 and len(block["rowData"]) <= 5, request
    big = pd.DataFrame({"n": range(5000)})
    assert len(grid_block(big, {"startRow": 10, "endRow": 10**9})["rowData"]) == 1000

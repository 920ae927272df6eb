"""The one formatting module: CLDR's English digits and signs (as Babel writes them), the house's own short forms, one rounding rule
for sentences and cards (half up) and the stored float's own rounding for tables."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import numpy as np
import pandas as pd
from babel.numbers import format_currency, format_decimal
from hypothesis import example, given
from hypothesis import strategies as st

from dashboard import formatting
from dashboard.formatting import compact, count, currency, exact, fixed, full, humanise, percent, year_span
from dashboard.ui import grid_records


def test_currency_and_counts_follow_the_english_locale():
    assert currency(160_000_000) == "€160,000,000"
    assert currency(1234.5, 2) == "€1,234.50"
    assert count(2_000_000) == "2,000,000"
    # CLDR's English puts the minus before the sign; the same figure reads the same in a card and a table
    assert currency(-1200) == "-€1,200" and full(-1200.0, "EUR") == "-€1,200"
    assert compact(-1_200_000, "EUR") == "-€1.2 M"


@given(value=st.one_of(st.floats(allow_nan=False, allow_infinity=False, min_value=-1e15, max_value=1e15),
                       st.integers(min_value=-10**15, max_value=10**15)),
       decimals=st.integers(min_value=0, max_value=3), grouped=st.booleans(), half_up=st.booleans())
@example(value=-0.0, decimals=0, grouped=True, half_up=True).via("negative zero")
@example(value=-0.004, decimals=2, grouped=True, half_up=False).via("rounds to negative zero")
@example(value=999_999.995, decimals=2, grouped=True, half_up=True).via("rounds up into a new group")
def test_digits_and_signs_are_babels_cldr_english(value, decimals, grouped, half_up):
    """The formatting writes with Python's format specification what Babel writes from CLDR's data for LOCALE."""
    rounded = formatting._rounded(value, decimals, half_up=half_up)
    pattern = ("#,##0" if grouped else "0") + ("." + "0" * decimals if decimals else "")
    assert fixed(value, decimals, grouped=grouped, half_up=half_up) == format_decimal(
        rounded, format=pattern, locale=formatting.LOCALE)
    if grouped:
        assert currency(value, decimals, half_up=half_up) == format_currency(
            rounded, formatting.CURRENCY, format="¤" + pattern, locale=formatting.LOCALE, currency_digits=False)


def test_the_currency_sign_is_cldrs():
    assert format_currency(Decimal(1), formatting.CURRENCY, format="¤0", locale=formatting.LOCALE,
                           currency_digits=False) \
        == f"{formatting.CURRENCY_SIGN}1"


def test_sentences_round_half_up_and_tables_keep_the_stored_rounding():
    assert fixed(3.15, 1) == "3.2" and humanise(3_150_000) == "3.2 million"
    assert full(3.15) == "3.1" and exact(150_000_000.5, "EUR") == "€150,000,000"


def test_percentages_are_never_grouped_and_spans_use_an_en_dash():
    assert percent(12.5) == "1250%" and percent(0.905, 1) == "90.5%"
    assert year_span(2022, 2024) == "2022–2024" and year_span(2024, 2024) == "2024"


def test_grid_records_give_plain_python_values_and_none_for_every_kind_of_missing():
    frame = pd.DataFrame({
        "text": pd.array(["AT", None], dtype="str"),
        "count": np.array([3, 4]),
        "value": [1.5, np.nan],
        "nullable": pd.array([2.5, None], dtype="Float64"),
        "flag": pd.array([True, None], dtype="boolean"),
        "when": pd.to_datetime(["2024-03-01", None]),
        "day": [dt.date(2024, 3, 1), None],
    })
    records = grid_records(frame)
    assert records == [
        {"text": "AT", "count": 3, "value": 1.5, "nullable": 2.5, "flag": True, "when": pd.Timestamp("2024-03-01"),
         "day": dt.date(2024, 3, 1)},
        {"text": None, "count": 4, "value": None, "nullable": None, "flag": None, "when": None, "day": None},
    ]
    # Plain Python numbers, not numpy scalars: what the grid's JSON takes.
    assert type(records[0]["count"]) is int and type(records[0]["value"]) is float

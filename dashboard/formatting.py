"""How numbers and years are written, everywhere: on screen (compact in cards and charts, in full in tables), in
the export files, in chart images and in the briefing's sentences. One module, so a figure reads the same in all.

Digits, grouping and currency signs are CLDR's for the dashboard's language (`LOCALE`, English): "." for decimals,
"," between thousands, "-" before the euro sign of a negative amount. Python's format specification writes exactly
these, so they are written with it; tests/test_formatting.py checks every form against Babel's CLDR data, which a
web worker no longer loads (63 k Python objects in every worker, for these few symbols). Rounding is done here
first (half up, on the number's shortest decimal form), so the formatting never rounds a second time. The house's
own short forms ("2.5 M", "15.5 k", "2.6 million", "2022–24") are not CLDR's and stay written out here.
"""

from __future__ import annotations

import math
from decimal import ROUND_HALF_UP, Decimal

LOCALE = "en"  # the dashboard's language, as its <html lang> says
CURRENCY = "EUR"
CURRENCY_SIGN = "€"  # CLDR's symbol for CURRENCY in LOCALE
MISSING = "–"  # an en dash: no figure

UNIT_WORDS = {"people": "people", "programmes": "programmes", "stakeholders": "stakeholders",
              "commitments": "commitments", "members": "members"}

# Said wherever a change on the previous year crosses a break in series (the question's wording changed).
BREAK_CAVEAT = "the survey question changed in {year}, so the change may partly reflect the new wording"


def _present(value: float | None) -> float | None:
    """The figure itself, or None when there is none (None, or a float NaN): `if (x := _present(v)) is None`
    narrows what follows to a number."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    return value


def _rounded(value: float, decimals: int, *, half_up: bool = True) -> Decimal:
    if half_up:  # 3.15 reads as 3.2, as a person rounds it (binary floats would give 3.1)
        return Decimal(repr(float(value))).quantize(Decimal(1).scaleb(-decimals), rounding=ROUND_HALF_UP)
    # Tables keep the stored float's own rounding (half to even on its binary value), as they always have.
    return Decimal(f"{float(value):.{decimals}f}")


def _digits(number: Decimal, decimals: int, *, grouped: bool = True) -> str:
    """A rounded number as CLDR's English writes it: '-1,234.50' (grouped) or '-1234.50'."""
    return format(number, f"{',' if grouped else ''}.{decimals}f")


def fixed(value: float, decimals: int, *, grouped: bool = True, half_up: bool = True) -> str:
    """`value` with `decimals` decimals and grouped thousands (1,234.5), rounded half up on its shortest decimal
    form, so the screen, the exports and the briefing's sentences always agree on a figure."""
    return _digits(_rounded(value, decimals, half_up=half_up), decimals, grouped=grouped)


def count(value: int) -> str:
    """A whole number of people, rows or members: 2,000,000."""
    return fixed(value, 0)


def currency(value: float, decimals: int = 0, *, half_up: bool = True) -> str:
    """€160,000,000 or €1,234.50 (-€1,200: the minus before the sign)."""
    number = _rounded(value, decimals, half_up=half_up)
    return f"{'-' if number.is_signed() else ''}{CURRENCY_SIGN}{_digits(abs(number), decimals)}"


def percent(ratio: float | None, digits: int = 0) -> str:
    """A ratio as a percentage: 0.9 -> 90%."""
    if (ratio := _present(ratio)) is None:
        return MISSING
    return f"{fixed(ratio * 100, digits, grouped=False, half_up=False)}%"  # never grouped: 1250%


def compact(value: float | None, unit: str = "") -> str:
    """2.0 M, 15.5 k, €160 M, 90 %: for cards, axis labels and sentences."""
    if (value := _present(value)) is None:
        return MISSING
    if unit == "share":
        return percent(value)
    number = currency if unit == CURRENCY else fixed
    magnitude = abs(value)
    if magnitude >= 1e9:
        return f"{number(value / 1e9, 2)} bn"
    if magnitude >= 1e6:
        return f"{number(value / 1e6, 1)} M"
    if magnitude >= 1e4:
        return f"{number(value / 1e3, 1)} k"
    return number(value, 0)


def full(value: float | None, unit: str = "") -> str:
    """2,000,000 or €160,000,000.00 (cents only when there are some) or 90.0%: for tables."""
    if (value := _present(value)) is None:
        return MISSING
    if unit == "share":
        return f"{fixed(value * 100, 1, grouped=False, half_up=False)}%"
    whole = float(value).is_integer()
    if unit == CURRENCY:
        return currency(value, 0 if whole else 2, half_up=False)
    return fixed(value, 0 if whole else 1, half_up=False)


def exact(value: float | None, unit: str = "") -> str:
    """A figure in full for an export or briefing table: '2,000,000', '€160,000,000', '90.0%' (unit '%': the value
    is already in per cent); cents only below a thousand."""
    if (value := _present(value)) is None:
        return MISSING
    if unit == "%":
        return f"{fixed(value, 1, grouped=False, half_up=False)}%"
    decimals = 0 if float(value).is_integer() or abs(value) >= 1000 else 2
    return currency(value, decimals, half_up=False) if unit == CURRENCY else fixed(value, decimals, half_up=False)


def _round_sig(value: float, decimals: int = 1) -> str:
    text = fixed(value, decimals)
    return text.rstrip("0").rstrip(".") if "." in text else text


def humanise(value: float, unit: str = "") -> str:
    """A figure in words for a sentence: 2_600_000 -> '2.6 million'; 15_500 -> '15,500'; 'EUR' -> '€160 million'."""
    magnitude = abs(value)
    if magnitude >= 1e9:
        text = f"{_round_sig(value / 1e9)} billion"
    elif magnitude >= 1e6:
        text = f"{_round_sig(value / 1e6)} million"
    elif float(value).is_integer():
        text = fixed(value, 0)
    else:
        text = _round_sig(value)
    return f"{CURRENCY_SIGN}{text}" if unit == CURRENCY else text


def change(ratio: float | None) -> str:
    """+73% / −12% (a real minus sign)."""
    if (ratio := _present(ratio)) is None:
        return MISSING
    pct = ratio * 100
    if abs(pct) < 0.5:
        return "±0%"
    return f"+{percent(ratio)}" if pct > 0 else f"−{percent(abs(ratio))}"


def year_span(first: int, last: int) -> str:
    """2022, 2024 -> '2022–2024' (en dash, as in print); one year -> '2022'."""
    return str(first) if first == last else f"{first}–{last}"


def short_span(first: int, last: int) -> str:
    """2022, 2024 -> '2022–24' (as a sentence writes a period in the same century)."""
    if first == last:
        return str(first)
    if first // 100 == last // 100:
        return f"{first}–{last % 100:02d}"
    return f"{first}–{last}"


def clip(text: object, limit: int = 40) -> str:
    """A user-supplied value shown back in a message: text only, bounded length."""
    shown = text if isinstance(text, str) else repr(text)
    return shown if len(shown) <= limit else shown[:limit] + "…"


def round_figure(value: float | None, unit: str = "") -> str:
    """A round target or pledge as announced: "25 M" rather than "25.0 M"."""
    return compact(value, unit).replace(".0 M", " M").replace(".0 k", " k").replace(".00 bn", " bn")

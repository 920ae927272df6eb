"""How numbers are written on screen: compact in cards and charts, in full in tables."""

from __future__ import annotations

import math
from decimal import ROUND_HALF_UP, Decimal

UNIT_WORDS = {"people": "people", "programmes": "programmes", "stakeholders": "stakeholders",
              "commitments": "commitments", "members": "members"}

# Said wherever a change on the previous year crosses a break in series (the question's wording changed).
BREAK_CAVEAT = "the survey question changed in {year}, so the change may partly reflect the new wording"


def _missing(value: object) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def fixed(value: float, decimals: int) -> str:
    """`value` with `decimals` decimals and thousands commas, rounded half up on its shortest decimal form.

    3.15 reads as 3.2, as a person rounds it (binary floats would give 3.1), so the screen, the exports and the
    briefing's sentences always agree on a figure.
    """
    rounded = Decimal(repr(float(value))).quantize(Decimal(1).scaleb(-decimals), rounding=ROUND_HALF_UP)
    return f"{rounded:,.{decimals}f}"


def compact(value: float | None, unit: str = "") -> str:
    """2.0 M, 15.5 k, €160 M, 90 %: for cards, axis labels and sentences."""
    if _missing(value):
        return "–"
    if unit == "share":
        return f"{value * 100:.0f}%"
    magnitude = abs(value)
    if magnitude >= 1e9:
        text = f"{fixed(value / 1e9, 2)} bn"
    elif magnitude >= 1e6:
        text = f"{fixed(value / 1e6, 1)} M"
    elif magnitude >= 1e4:
        text = f"{fixed(value / 1e3, 1)} k"
    else:
        text = fixed(value, 0)
    return f"€{text}" if unit == "EUR" else text


def full(value: float | None, unit: str = "") -> str:
    """2,000,000 or €160,000,000.00 (cents only when there are some) or 90.0%: for tables."""
    if _missing(value):
        return "–"
    if unit == "share":
        return f"{value * 100:.1f}%"
    if unit == "EUR":
        return f"€{value:,.2f}" if not float(value).is_integer() else f"€{value:,.0f}"
    return f"{value:,.0f}" if float(value).is_integer() else f"{value:,.1f}"


def change(ratio: float | None) -> str:
    """+73% / −12% (a real minus sign)."""
    if _missing(ratio):
        return "–"
    pct = ratio * 100
    if abs(pct) < 0.5:
        return "±0%"
    return f"+{pct:.0f}%" if pct > 0 else f"−{abs(pct):.0f}%"


def percent(ratio: float | None, digits: int = 0) -> str:
    if _missing(ratio):
        return "–"
    return f"{ratio * 100:.{digits}f}%"


def with_unit(value: float | None, unit: str) -> str:
    """A compact figure followed by its unit word where the number alone would be ambiguous."""
    text = compact(value, unit)
    word = UNIT_WORDS.get(unit)
    return f"{text} {word}" if word and text != "–" else text


def years_label(year_from: int, year_to: int) -> str:
    return str(year_from) if year_from == year_to else f"{year_from}–{year_to}"


def clip(text: object, limit: int = 40) -> str:
    """A user-supplied value shown back in a message: text only, bounded length."""
    shown = text if isinstance(text, str) else repr(text)
    return shown if len(shown) <= limit else shown[:limit] + "…"


def round_figure(value: float | None, unit: str = "") -> str:
    """A round target or pledge as announced: "25 M" rather than "25.0 M"."""
    return compact(value, unit).replace(".0 M", " M").replace(".0 k", " k").replace(".00 bn", " bn")

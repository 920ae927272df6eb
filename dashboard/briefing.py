"""The briefing pack: sentences written from the data, and the Word document that carries them (written by
dashboard/briefing_docx.py, imported only when a briefing is built, so a worker serving pages never loads
python-docx).

Pure: figures in, text and DOCX bytes out. The caller (dashboard/export_views.py) takes every number from the
query layer, so a sentence such as "2.6 million people trained in 2024, 73% above 2023" is computed from the
same figures the page shows and never typed in. Word has no place for a live formula in running text, but a table
pasted into a spreadsheet could gain one: table text goes through `neutralise`, formatted numbers excepted.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass, field

from dashboard.exports import neutralise
from dashboard.formatting import (
    BREAK_CAVEAT,
    count,
    exact,  # noqa: F401  (part of this module's surface: the briefing's figures read as `exact` writes them)
    humanise,
    percent,
    short_span,
    year_span,
)
from pipelines import indicators

# How each indicator reads in a sentence ("<quantity> <phrase> in <year>"), from the indicator catalogue.
SENTENCE_PHRASES: dict[str, str] = indicators.briefing_phrases()
_NOT_XML = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


# --------------------------------------------------------------------------------------------------------------
# Sentences
# --------------------------------------------------------------------------------------------------------------


def change_sentence(
    indicator: str, unit: str, year: int, value: float | None, previous_year: int | None, previous: float | None,
    break_in_series: bool = False,
) -> str | None:
    """'2.6 million people trained in 2024, 73% above 2023.' (None when there is no figure for the year); across
    a break in series the change carries the caveat."""
    if value is None or math.isnan(value):
        return None
    phrase = SENTENCE_PHRASES.get(indicator, indicator.replace("_", " "))
    quantity = humanise(value, unit)
    sentence = f"{quantity} {phrase} in {year}"
    if previous_year is not None and previous is not None and not math.isnan(previous) and previous != 0:
        change = round((value / previous - 1.0) * 100)
        if change > 0:
            sentence += f", {change}% above {previous_year}"
        elif change < 0:
            sentence += f", {-change}% below {previous_year}"
        else:
            sentence += f", about the same as {previous_year}"
        if break_in_series:
            sentence += f" ({BREAK_CAVEAT.format(year=year)})"
    elif previous_year is not None:
        sentence += f" (no figure for {previous_year} to compare)"
    return sentence[0].upper() + sentence[1:] + "."


def share_sentence(year: int, share: float | None, previous_year: int | None, previous: float | None) -> str | None:
    """'90% of reported commitments progressing in 2022.' (share as a fraction)."""
    if share is None or math.isnan(share):
        return None
    sentence = f"{percent(share)} of reported commitments progressing in {year}"
    if previous_year is not None and previous is not None and not math.isnan(previous):
        points = round((share - previous) * 100)
        if points:
            sentence += f", {abs(points)} percentage point{'s' if abs(points) != 1 else ''} " \
                        f"{'up' if points > 0 else 'down'} on {previous_year}"
    return sentence + "."


def target_sentence(
    *,
    people: int,
    qualifier: str,
    first_year: int,
    latest_year: int,
    cumulative: float,
    achieved_pace: float,
    projected_year: int | None,
    deadline_year: int | None,
    needed_pace: float | None,
    pledge_text: str = "",
) -> str:
    """'At the 2022–24 pace (2 million a year), the over 25 million pledged by the partnerships is reached in 2034,
    …', followed by the pledge in the source's words (`pledge_text`) when given."""
    target = f"{qualifier + ' ' if qualifier else ''}{humanise(people)} pledged by the partnerships"
    source = f" The pledge as the source words it: {pledge_text}" if pledge_text else ""
    if cumulative >= people:
        return (f"The {target} has been reached: {humanise(cumulative)} people trained in "
                f"{year_span(first_year, latest_year)}.{source}")
    pace = f"At the {short_span(first_year, latest_year)} pace ({humanise(achieved_pace)} a year)"
    if projected_year is None:
        return f"{pace}, the {target} is not reached.{source}"
    sentence = f"{pace}, the {target} is reached in {projected_year}"
    if deadline_year is not None:
        if projected_year <= deadline_year:
            sentence += f", within its {deadline_year} deadline"
        else:
            late = projected_year - deadline_year
            sentence += f", {late} year{'s' if late != 1 else ''} after its {deadline_year} deadline"
        if needed_pace is not None:
            sentence += (f"; reaching it by {deadline_year} needs {humanise(needed_pace)} a year "
                         f"from {latest_year + 1}")
    else:
        sentence += " (the pledge has no deadline)"
    return sentence + "." + source


def coverage_text(reporting: int, respondents: int, registered: int | None = None) -> str:
    """'reported by 455 of 461 respondents (1,012 members registered)'."""
    text = f"reported by {count(reporting)} of {count(respondents)} respondents"
    if registered:
        text += f" ({count(registered)} members registered)"
    return text


# --------------------------------------------------------------------------------------------------------------
# The document
# --------------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class HeadlineCell:
    value: float | None
    flags: str = ""  # flag codes, e.g. "s n"
    published: str = ""  # e.g. "nearly 1,500,000 (published)"


@dataclass(frozen=True)
class HeadlineRow:
    indicator: str
    label: str
    unit: str
    cells: tuple[HeadlineCell, ...]  # one per `Briefing.years`


@dataclass(frozen=True)
class ChartImage:
    title: str
    png: bytes
    caption: str = ""


@dataclass(frozen=True)
class DataTable:
    """A small table of the view's rows (already formatted text) for the document."""

    title: str
    headers: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]
    note: str = ""


@dataclass(frozen=True)
class Briefing:
    title: str
    view: str
    vintage_id: str
    permalink: str
    years: tuple[int, ...]
    headline: tuple[HeadlineRow, ...]
    sentences: tuple[str, ...] = ()
    coverage: tuple[str, ...] = ()  # one line per year
    charts: tuple[ChartImage, ...] = ()
    tables: tuple[DataTable, ...] = ()
    filters: tuple[tuple[str, str], ...] = ()
    sources: tuple[tuple[str, str], ...] = ()  # (what, URL or file)
    notes: tuple[str, ...] = ()
    flags: tuple[str, ...] = ()
    vintage_created: str = ""
    synthetic: bool = False
    problems: tuple[str, ...] = ()  # e.g. a chart that could not be rendered
    exported_at: dt.datetime = field(default_factory=lambda: dt.datetime.now(dt.UTC).replace(microsecond=0))


def _clean(text: str) -> str:
    """python-docx refuses characters XML 1.0 cannot hold (a pasted control character in a member's name)."""
    return _NOT_XML.sub("", text)


# A formatted number ("-4.3", "−4 pts", "€1,200", "12%") or text that opens with a signed number ("+40% up-/reskilling
# participation by 2025") is not a formula, even pasted into a spreadsheet: it stays as written instead of gaining
# the apostrophe that keeps text inert.
_FORMATTED_NUMBER = re.compile(r"[-+\u2212]?€?\d[\d,.\u00a0\u202f]*\s*(%|pts?)?")
_SIGNED_NUMBER_FIRST = re.compile(r"[-+\u2212]\s?€?\d")


def _inert(text: str) -> str:
    if len(text.strip()) <= 1 or _FORMATTED_NUMBER.fullmatch(text) or _SIGNED_NUMBER_FIRST.match(text):
        return text  # a lone "-" (no figure) is no formula either
    return neutralise(text)


# A4 in centimetres, and the text width between 2 cm margins in each orientation.
A4 = (21.0, 29.7)
MARGIN_CM = 2.0
# Above this many columns a data table goes on a landscape page; above WIDE_TABLE_COLUMNS it is split into parts
# that each repeat the first column, so no column is narrower than a short word.
LANDSCAPE_FROM_COLUMNS = 7
WIDE_TABLE_COLUMNS = 9
MIN_COLUMN_CM = 1.6
# The width of one character of bold 8–9 pt text and a cell's inner padding, in centimetres.
CHAR_CM, PADDING_CM = 0.2, 0.4


def column_widths_cm(headers: Sequence[str], rows: Sequence[Sequence[str]], text_width_cm: float) -> list[float]:
    """Widths in proportion to each column's typical text (long pledge sentences wrap in a wide column, numbers get
    what they need), none under MIN_COLUMN_CM, adding up to the text width."""
    def need(col: int) -> float:
        lengths = sorted(len(str(r[col])) for r in rows) or [0]
        typical = lengths[int(0.9 * (len(lengths) - 1))]  # the 90th percentile: one outlier does not widen a column
        return max(typical, max((len(w) for w in str(headers[col]).split()), default=0), 4)

    needs = [need(c) for c in range(len(headers))]
    # no header word is broken across lines: "Pledged" needs about 1.8 cm in bold 8 pt
    floors = [max(MIN_COLUMN_CM, CHAR_CM * max((len(w) for w in str(h).split()), default=0) + PADDING_CM)
              for h in headers]
    widths: dict[int, float] = {}
    while True:  # pin the columns that fall below their floor, then share what is left among the others
        free = [c for c in range(len(needs)) if c not in widths]
        left = text_width_cm - sum(widths.values())
        share = {c: left * needs[c] / sum(needs[f] for f in free) for c in free}
        pinned = {c: floors[c] for c, w in share.items() if w < floors[c]}
        if not pinned or len(pinned) == len(free):
            widths.update(share)
            break
        widths.update(pinned)
    return [widths[c] for c in range(len(needs))]


def table_parts(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> list[tuple[list[str], list[list[str]]]]:
    """The table as parts of at most WIDE_TABLE_COLUMNS columns, each repeating the first (the row's name)."""
    if len(headers) <= WIDE_TABLE_COLUMNS:
        return [(list(headers), [list(r) for r in rows])]
    step = WIDE_TABLE_COLUMNS - 1
    parts = []
    for start in range(1, len(headers), step):
        columns = [0, *range(start, min(start + step, len(headers)))]
        parts.append(([headers[c] for c in columns], [[r[c] for c in columns] for r in rows]))
    return parts


def build_docx(briefing: Briefing) -> bytes:
    """The briefing as a Word document: headline figures, key points, charts, the view, notes and sources."""
    from dashboard import briefing_docx  # imported here: python-docx (and lxml) only for a pack, not every worker

    return briefing_docx.build(briefing)

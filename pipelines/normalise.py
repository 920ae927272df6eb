"""Pure normalisers: one raw cell (or one small frame) in, a clean value (or a new frame) out.

Nothing here reads files or knows about steps, so every rule of how a number, a date, a Member State or an
organisation name is read can be tested on its own. Invalid input raises `ValueProblem`, which carries a reason
code and a plain reason for the rejects table.
"""

from __future__ import annotations

import datetime as dt
import functools
import math
import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import cast

import pandas as pd

from pipelines.eusurvey import unescape_xml


class ValueProblem(ValueError):
    """A cell that cannot be taken as a valid value; `code` goes to rejects.reason_code."""

    def __init__(self, code: str, reason: str) -> None:
        super().__init__(reason)
        self.code = code
        self.reason = reason


# ---------------------------------------------------------------- cells

@dataclass(frozen=True)
class SpreadsheetCell:
    """A cell that holds a formula or an Excel error value rather than a typed answer. Its text is the formula
    ('=1+1') or the error ('#VALUE!'); `cached` is what a reader would have given (a formula's last result)."""

    kind: str  # "formula" | "error"
    text: str
    cached: object = None

    def __str__(self) -> str:
        return self.text

    def problem(self) -> ValueProblem:
        if self.kind == "formula":
            cached = "" if self.cached in (None, "") else f" (its last result, {cell_text(self.cached)!r}, is not taken)"
            return ValueProblem("formula", f"the cell holds the formula {self.text!r}{cached}; a reported figure must "
                                           "be typed, not computed")
        return ValueProblem("spreadsheet_error", f"the cell holds the spreadsheet error {self.text}, not a value")


def is_blank(value: object) -> bool:
    """Empty cell: None, NaN, or text that is only whitespace (calamine gives '' for an empty cell)."""
    kind = type(value)  # exact-type checks first: this runs for every cell of every survey
    if kind is str:
        return not cast(str, value).strip()
    if value is None:
        return True
    if kind is float or isinstance(value, float):
        return math.isnan(cast(float, value))
    return False


def cell_text(value: object) -> str:
    """A cell as the text a person would see: 1500.0 -> '1500', a datetime -> ISO, blank -> ''; text an exporter
    XML-escaped ('Smith &amp; Sons') as it was typed."""
    kind = type(value)
    if kind is str:
        text = cast(str, value)
        return (unescape_xml(text) if "&" in text else text).strip()
    if value is None:
        return ""
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, float):
        if math.isnan(value):
            return ""
        if math.isinf(value):
            return str(value)
        return str(int(value)) if value.is_integer() else repr(value)
    if isinstance(value, dt.datetime):
        return value.isoformat(sep=" ")
    if isinstance(value, dt.date):
        return value.isoformat()
    return str(value).strip()


# ---------------------------------------------------------------- numbers

# Characters people put between digit groups besides the "other" mark: spaces of every kind and apostrophes
# (Swiss style 1'500). Removed before the grouping check.
_GROUP_SPACES = re.compile(r"[\s\u00a0\u202f\u2009\u2007'’]")


def _number_pattern(decimal_separator: str) -> re.Pattern[str]:
    dec = re.escape(decimal_separator)
    thou = re.escape("," if decimal_separator == "." else ".")
    grouped = rf"[0-9]{{1,3}}(?:{thou}[0-9]{{3}})+"
    return re.compile(rf"({grouped}|[0-9]+)?(?:{dec}([0-9]+))?")


_NUMBER_PATTERNS = {separator: _number_pattern(separator) for separator in (".", ",")}


# One to three digits, the decimal separator, exactly three digits: '38.000' in a dot-decimal wave reads as 38 but
# was almost certainly typed as 38,000 (a count has no decimals, money no third one). Neither reading is taken.
_AMBIGUOUS = {separator: re.compile(rf"[0-9]{{1,3}}{re.escape(separator)}[0-9]{{3}}") for separator in ".,"}


def refuse_ambiguous(cell: object, decimal: str, whose: str) -> None:
    """A ValueProblem ('ambiguous_number') for a text number whose reading depends on the locale; `whose`: whose
    decimal separator `decimal` is ("this wave's")."""
    if not isinstance(cell, str) or not _AMBIGUOUS[decimal].fullmatch(cell.strip()):
        return
    text = cell.strip()
    whole, fraction = text.split(decimal)
    as_decimal = f"{int(whole)}.{fraction}".rstrip("0").rstrip(".")
    raise ValueProblem(
        "ambiguous_number",
        f"{text!r} is {as_decimal} with {decimal!r} as {whose} decimal separator, or {int(whole + fraction):,} "
        f"if {decimal!r} separates thousands; neither reading is taken",
    )


def parse_number(value: object, decimal_separator: str = ".") -> Decimal:
    """Read a number exactly, in the locale its sidecar declares.

    A numeric cell (int/float from the spreadsheet) is taken as it is: 1500.0 is 1500. Text uses
    `decimal_separator`; the other mark is the thousands separator and must group digits by three
    ("1.500" is 1500 in a comma-decimal wave, "1.5" there is ambiguous and rejected). Spaces, NBSP and
    apostrophes between groups are dropped. Anything else, e.g. "approx. 3" or "1500 EUR", is not a number.
    """
    if decimal_separator not in (".", ","):
        raise ValueError(f"decimal separator must be '.' or ',', got {decimal_separator!r}")
    if isinstance(value, bool):
        raise ValueProblem("not_a_number", f"{value!r} is a boolean, not a number")
    if isinstance(value, int):
        return Decimal(value)
    if isinstance(value, float):
        if math.isnan(value) or math.isinf(value):
            raise ValueProblem("not_a_number", f"{value!r} is not a finite number")
        if value.is_integer() and abs(value) < 2**53:  # whole and exact: most spreadsheet counts, read cheaply
            return Decimal(int(value))
        # repr gives the shortest text that round-trips, so 0.1 stays 0.1 and not 0.1000000000000000055...
        return Decimal(repr(value))
    if isinstance(value, Decimal):
        if not value.is_finite():
            raise ValueProblem("not_a_number", f"{value!r} is not a finite number")
        return value
    if isinstance(value, SpreadsheetCell):
        raise value.problem()
    if not isinstance(value, str):
        raise ValueProblem("not_a_number", f"a {type(value).__name__} cell is not a number")
    text = value.strip()
    if not text:
        raise ValueProblem("not_a_number", "empty cell")
    # Only the digits 0-9 count: Python reads '١٥٠٠' (Arabic-Indic) or '１５００' (full width) as 1500, but a
    # survey answer in another script is a cell to look at, not a number to take on trust.
    other = None if text.isascii() else next((c for c in text if c.isnumeric() and not ("0" <= c <= "9")), None)
    if other is not None:
        name = unicodedata.name(other, f"U+{ord(other):04X}").lower()
        raise ValueProblem("not_a_number", f"{text!r} has the character {other!r} ({name}); numbers are read "
                           "only when written with the digits 0-9")
    thousands = "," if decimal_separator == "." else "."
    compact = _GROUP_SPACES.sub("", text)
    sign = ""
    if compact[:1] in "+-\u2212":
        sign = "-" if compact[0] in "-\u2212" else ""
        compact = compact[1:]
    match = _NUMBER_PATTERNS[decimal_separator].fullmatch(compact)
    if not compact or match is None or (match.group(1) is None and match.group(2) is None):
        raise ValueProblem(
            "not_a_number",
            f"{text!r} is not a number written with {decimal_separator!r} as decimal separator",
        )
    integer = (match.group(1) or "0").replace(thousands, "")
    fraction = match.group(2) or ""
    try:
        return Decimal(f"{sign}{integer}.{fraction}" if fraction else f"{sign}{integer}")
    except InvalidOperation as exc:  # pragma: no cover - the regex admits only digits
        raise ValueProblem("not_a_number", f"{text!r} is not a number") from exc


def to_stored_int(number: Decimal, *, multiplier: int = 1, scale: int = 1) -> int:
    """The stored int64 of a reported number: times the sidecar's unit multiplier and the catalogue's scale.

    Exact (Decimal), so 1.234,56 EUR is 123456 cents and 151.5 kEUR is 15150000 cents. A result that is not
    whole (2.5 people, a tenth of a cent) is a value problem, not something to round silently.
    """
    stored = number * multiplier * scale
    if stored.adjusted() >= 19:
        # Beyond int64 whatever the indicator; checked before int(), which refuses to build a 20,000-digit int.
        raise ValueProblem("implausible_value", f"a number of {stored.adjusted() + 1:,} digits is beyond any "
                           "plausible reported value")
    if stored != stored.to_integral_value():
        unit = "cent" if scale == 100 else "unit"
        raise ValueProblem("not_whole", f"{number} is not a whole number of {unit}s")
    return int(stored)


# ---------------------------------------------------------------- dates and timestamps

# datetime.strptime is general and slow (half a million calls, 8% of a run at 100x the sample). The sidecars'
# formats are numeric (e.g. "%d/%m/%Y %H:%M"), so such a format is compiled once into the very regex strptime
# builds for it (its patterns for these directives, ASCII digits, whitespace as \s+, case ignored); ASCII text it
# matches is read directly, and anything else still goes through strptime, errors included.
_NUMERIC_DIRECTIVES = {
    "d": r"(?P<d>3[01]|[12][0-9]|0[1-9]|[1-9]| [1-9])",
    "m": r"(?P<m>1[0-2]|0[1-9]|[1-9])",
    "Y": r"(?P<Y>[0-9][0-9][0-9][0-9])",
    "H": r"(?P<H>2[0-3]|[0-1][0-9]|[0-9])",
    "M": r"(?P<M>[0-5][0-9]|[0-9])",
    "S": r"(?P<S>6[0-1]|[0-5][0-9]|[0-9])",
}


_REGEX_CHARS = re.compile(r"([\\.^$*+?\(\){}\[\]|])")


def _literal_pattern(text: str) -> str:
    """Literal format text as strptime turns it into regex: special characters escaped, whitespace as \\s+."""
    return re.sub(r"\s+", r"\\s+", _REGEX_CHARS.sub(r"\\\1", text))


@functools.lru_cache(maxsize=32)
def _numeric_format(fmt: str) -> re.Pattern[str] | None:
    """The regex for a format made only of %d %m %Y %H %M %S (each at most once) and literal text, built as
    strptime builds it; None for any other format."""
    parts = re.split(r"%(.)", fmt)  # literal, directive, literal, ..., literal
    literals, directives = parts[::2], parts[1::2]
    if (fmt.count("%") != len(directives) or len(set(directives)) != len(directives)
            or not set(directives) <= _NUMERIC_DIRECTIVES.keys() or not {"d", "m", "Y"} <= set(directives)):
        return None
    pieces = [_literal_pattern(literals[0])]
    for directive, literal in zip(directives, literals[1:], strict=True):
        pieces += [_NUMERIC_DIRECTIVES[directive], _literal_pattern(literal)]
    return re.compile("".join(pieces), re.IGNORECASE)


def _strptime_numeric(text: str, fmt: str) -> dt.datetime | None:
    pattern = _numeric_format(fmt)
    if pattern is None or not text.isascii():
        return None
    found = pattern.match(text)
    if found is None or found.end() != len(text):
        return None
    parts = found.groupdict()
    try:
        return dt.datetime(int(parts["Y"]), int(parts["m"]), int(parts["d"]), int(parts.get("H") or 0),
                           int(parts.get("M") or 0), int(parts.get("S") or 0))
    except ValueError:
        return None  # strptime says why


def parse_timestamp(value: object, fmt: str) -> dt.datetime:
    """A `Creation Date` / `Last Update` cell: a real spreadsheet datetime, or text in the sidecar's format."""
    if isinstance(value, dt.datetime):
        # a date-time cell is a fraction of a day: 09:00 may come back as 08:59:59.999999, so round to the second
        return (value + dt.timedelta(microseconds=500_000)).replace(microsecond=0)
    if isinstance(value, dt.date):
        return dt.datetime(value.year, value.month, value.day)
    text = cell_text(value)
    if not text:
        raise ValueProblem("missing_timestamp", "the timestamp is empty")
    fast = _strptime_numeric(text, fmt)
    if fast is not None:
        return fast
    try:
        return dt.datetime.strptime(text, fmt)
    except ValueError as exc:
        raise ValueProblem("invalid_timestamp", f"{text!r} does not match the format {fmt!r}") from exc


def parse_date(value: object, fmt: str = "%Y-%m-%d") -> dt.date | None:
    """A date cell (ISO text by default, or a real spreadsheet date); blank -> None."""
    if is_blank(value):
        return None
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    text = cell_text(value)
    for candidate in (fmt, "%Y-%m-%d %H:%M:%S", "%Y-%m-%dT%H:%M:%S"):
        try:
            return dt.datetime.strptime(text, candidate).date()
        except ValueError:
            continue
    raise ValueProblem("invalid_date", f"{text!r} is not a date in the format {fmt!r}")


# ---------------------------------------------------------------- identities

# Characters that do not show: zero-width space, non-joiner and joiner, word joiner, BOM, soft hyphen. Pasted from
# a web page or an e-mail into an ID cell, they make 'PFS-000001\u200b' a key that looks like 'PFS-000001' and is
# not; a no-break space shows as a space and becomes one.
INVISIBLE = "\u200b\u200c\u200d\u2060\ufeff\u00ad"
_CLEAN_ID = {ord(c): None for c in INVISIBLE} | {0xA0: " "}


def clean_id(value: object) -> str:
    """An identifier cell (registration, contribution, partnership, correction ID) as stored and compared: its
    text without invisible characters, trimmed ('\ufeffPFS-000001\u200b\u00a0' is 'PFS-000001')."""
    text = cell_text(value)
    if text.isascii():  # the common case: nothing to take out
        return text
    return text.translate(_CLEAN_ID).strip()


_NOT_ASCII_ALNUM = re.compile(r"[^0-9A-Za-z]+")


def normalise_member_id(value: object) -> str:
    """Registration IDs compare on their letters and digits only, without case, spaces or separators
    ('pfs 000123', ' PFS-000123 ' and 'PFS_000123' are 'PFS000123'). Nothing else is guessed: zero padding
    ('PFS-123' != 'PFS-000123'), a letter O for a zero or swapped letters do not match; the name may."""
    text = clean_id(value)
    if text.isascii():  # the common case, and NFKC leaves ASCII as it is: one regex instead of a loop per letter
        return _NOT_ASCII_ALNUM.sub("", text).upper()
    text = unicodedata.normalize("NFKC", text).upper()
    return "".join(ch for ch in text if ch.isalnum())



# Legal-form words at the end of an organisation name, written without punctuation (after normalisation).
# Removed only at the end, repeatedly, so that "AS" in "Ferrari AS" goes but an "as" inside a name stays.
LEGAL_SUFFIXES: tuple[tuple[str, ...], ...] = tuple(
    tuple(s.split())
    for s in (
        "gmbh", "ag", "kg", "ohg", "ev", "eg", "mbh", "gmbh co kg", "se", "sa", "sas", "sasu", "sarl", "sca",
        "spa", "srl", "srls", "scarl", "sl", "slu", "bv", "nv", "vzw", "asbl", "cvba", "ltd", "limited", "plc",
        "llc", "inc", "corp", "co", "oy", "oyj", "ab", "as", "asa", "aps", "a s", "sp z oo", "spzoo", "sro",
        "s r o", "as", "kft", "zrt", "nyrt", "doo", "d o o", "dd", "ad", "ead", "ood", "ou", "uab", "sia",
        "ik", "lda", "ike", "ae", "oe", "ee", "epe",
    )
)
# By length, longest first, so that "gmbh co kg" is removed whole before "kg".
_SUFFIXES_BY_LENGTH: tuple[tuple[int, frozenset[tuple[str, ...]]], ...] = tuple(
    (n, frozenset(s for s in LEGAL_SUFFIXES if len(s) == n))
    for n in sorted({len(s) for s in LEGAL_SUFFIXES}, reverse=True)
)
_NOT_WORD = re.compile(r"[^\w\s]|_")


def normalise_org_name(value: object, *, strip_legal_form: bool = True) -> str:
    """An organisation name reduced for matching: accents, case, punctuation and legal-form noise removed.

    'Bäckerei Müller GmbH & Co. KG' and 'BACKEREI MULLER' both become 'backerei muller'. With
    `strip_legal_form=False` the legal form stays ('backerei muller gmbh and co kg'): the stricter key, tried first.
    """
    tokens = _name_tokens(value)
    return " ".join(without_legal_form(tokens) if strip_legal_form else tokens)


def _name_character(ch: str) -> str:
    """What one character of an organisation name becomes in its key, before the key is split into words: its
    compatibility decomposition without combining marks (accents), case-folded, '&' as ' and ', 'ß' as 'ss';
    dots vanish ("S.r.l." -> "srl", "o.o." -> "oo"); other punctuation separates words ("A/S" -> "a s")."""
    text = "".join(c for c in unicodedata.normalize("NFKD", ch) if not unicodedata.combining(c))
    text = text.casefold().replace("&", " and ").replace("ß", "ss").replace(".", "")
    return _NOT_WORD.sub(" ", text)


class _NameCharacters(dict[int, str]):
    """`_name_character` of each code point, computed the first time it is met (for `str.translate`)."""

    def __missing__(self, code: int) -> str:
        found = self[code] = _name_character(chr(code))
        return found


# Every step of the reduction acts on each character alone: decomposition does (the canonical reordering that
# follows only moves combining marks, and those are dropped), and so do case folding and the replacements. A whole
# name is therefore one `str.translate` through a table of characters, instead of a decomposition, a loop over
# its characters and a regular expression per name (about 5 times as fast on names with accents).
_NAME_CHARACTERS = _NameCharacters()


def _name_tokens(value: object) -> list[str]:
    return cell_text(value).translate(_NAME_CHARACTERS).split()


def org_name_keys(value: object) -> tuple[str, str]:
    """(full, without legal form): both keys of `normalise_org_name`, from one pass over the name."""
    tokens = _name_tokens(value)
    return " ".join(tokens), " ".join(without_legal_form(tokens))


def without_legal_form(tokens: list[str]) -> list[str]:
    """Legal-form words (and a dangling "and") removed from the end of a normalised name's tokens."""
    changed = True
    while changed and len(tokens) > 1:
        changed = False
        if tokens[-1] == "and":  # left dangling by "GmbH & Co. KG" once "co kg" is gone
            tokens = tokens[:-1]
            changed = True
            continue
        for length, suffixes in _SUFFIXES_BY_LENGTH:
            if len(tokens) > length and tuple(tokens[-length:]) in suffixes:
                tokens = tokens[:-length]
                changed = True
                break
    return tokens


def country_lookup(member_states: pd.DataFrame) -> dict[str, str]:
    """Every way the reference table writes a Member State (code, ISO code, aliases, name) -> Eurostat code.

    `member_states` has columns country_code, iso_alpha2, name and aliases (';'-separated, e.g. 'GR').
    An alias claimed by two countries is an error in the reference table, not something to pick from.
    """
    lookup: dict[str, str] = {}
    for row in member_states.itertuples(index=False):
        code = str(row.country_code).strip().upper()
        spellings = [code, str(row.iso_alpha2 or ""), str(row.name or ""), *split_multi(row.aliases or "")]
        for spelling in spellings:
            key = _country_key(spelling)
            if not key:
                continue
            if lookup.get(key, code) != code:
                raise ValueError(f"{spelling!r} names both {lookup[key]} and {code}")
            lookup[key] = code
    return lookup


@functools.lru_cache(maxsize=4096, typed=True)  # a few dozen spellings, met on every row of every file
def _country_key(value: object) -> str:
    text = unicodedata.normalize("NFKD", cell_text(value))
    text = "".join(ch for ch in text if not unicodedata.combining(ch))
    return " ".join(re.sub(r"[^\w\s]", " ", text.casefold()).split())


def normalise_country(value: object, lookup: Mapping[str, str]) -> str:
    """A Member State answer -> its Eurostat code ('GR' -> 'EL', 'Greece' -> 'EL'); unknown raises."""
    key = _country_key(value)
    if not key:
        raise ValueProblem("missing_member_state", "no Member State given")
    try:
        return lookup[key]
    except KeyError:
        raise ValueProblem(
            "unknown_member_state", f"{cell_text(value)!r} is not an EU-27 Member State code, alias or name"
        ) from None


# ---------------------------------------------------------------- text

def split_multi(value: object, separator: str = ";") -> list[str]:
    """A multi-select answer ('a;b; c') as its stripped, non-empty parts, in order."""
    return [part.strip() for part in cell_text(value).split(separator) if part.strip()]


@functools.lru_cache(maxsize=4096)  # a handful of distinct answers, each met thousands of times
def normalise_label(value: object) -> str:
    """An answer label compared without case or extra spaces."""
    return " ".join(cell_text(value).casefold().split())


_MONTHS = ("january|february|march|april|may|june|july|august|september|october|november|december")


def comparable_wording(question: str, wave: int) -> str:
    """A question's wording with its own activity year taken out, for break-in-series checks.

    "Number of stakeholders who joined ... in 2023" asks the same as the 2022 question without the year; naming
    the year it asks about is not a change of wording. "up to December 2022", "during 2023", "(2023)" go too.
    """
    text = normalise_label(question)
    text = re.sub(rf"\(?\b(?:(?:in|during|for|up to|until|by)\s+)?(?:(?:{_MONTHS})\s+)?{wave}\b\)?", " ", text)
    return " ".join(text.split()).rstrip(" ?:.").strip()


def strip_shortname(header: str) -> str:
    """A EUSurvey header 'Question text (shortname)' without the shortname EUSurvey may append.

    A shortname is one token with a digit or an underscore ('(Q12)', '(people_trained)'); a bracketed unit such
    as '(EUR)' or '(kEUR)' is part of the wording and stays.
    """
    match = re.search(r"\s*\(([A-Za-z][\w.-]*)\)\s*$", header)
    if match and re.search(r"[\d_]", match.group(1)) and header[: match.start()].strip():
        return header[: match.start()].strip()
    return header


def latest_first_key(updated: dt.datetime, created: dt.datetime, contribution_id: str, row: int) -> tuple:
    """Sort key putting the submission that counts first: latest Last Update, then latest Creation Date,
    then highest Contribution Id (numerically when both are numbers), then the lower row as a last resort
    so that even an exact duplicate row resolves the same way every run."""
    cid = contribution_id.strip()
    cid_key = (1, int(cid), "") if cid.isdigit() else (0, 0, cid)
    return (_neg_ts(updated), _neg_ts(created), _Reversed(cid_key), row)


def _neg_ts(value: dt.datetime) -> float:
    return -value.timestamp() if value.tzinfo else -(value - dt.datetime(1970, 1, 1)).total_seconds()


class _Reversed:
    """Wraps a key so that sorting ascending puts the highest first."""

    __slots__ = ("key",)

    def __init__(self, key: tuple) -> None:
        self.key = key

    def __lt__(self, other: _Reversed) -> bool:
        return self.key > other.key

    def __eq__(self, other: object) -> bool:
        return isinstance(other, _Reversed) and self.key == other.key

    __hash__ = None  # type: ignore[assignment]

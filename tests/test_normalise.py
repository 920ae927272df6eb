"""The pure normalisers: numbers in both decimal conventions, units, dates, identities, Member States."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pipelines.normalise import (
    ValueProblem,
    cell_text,
    comparable_wording,
    country_lookup,
    is_blank,
    latest_first_key,
    normalise_country,
    normalise_label,
    normalise_member_id,
    normalise_org_name,
    org_name_keys,
    parse_date,
    parse_number,
    parse_timestamp,
    split_multi,
    strip_shortname,
    to_stored_int,
)

# ---------------------------------------------------------------- numbers


@pytest.mark.parametrize(("text", "decimal", "expected"), [
    ("1.500", ",", Decimal(1500)),
    ("1,500", ".", Decimal(1500)),
    ("1.234.567", ",", Decimal(1234567)),
    ("1,234,567.5", ".", Decimal("1234567.5")),
    ("1.234,56", ",", Decimal("1234.56")),
    ("1 500 000", ".", Decimal(1500000)),
    ("1\u00a0500", ",", Decimal(1500)),  # NBSP, as spreadsheets in fr/de locales write it
    ("1\u202f500", ",", Decimal(1500)),  # narrow NBSP
    ("1'500", ".", Decimal(1500)),  # Swiss
    ("  42 ", ".", Decimal(42)),
    ("0,5", ",", Decimal("0.5")),
    ("-3", ".", Decimal(-3)),
    ("1500", ",", Decimal(1500)),
    ("1500.25", ".", Decimal("1500.25")),
])
def test_parse_number_text_per_locale(text, decimal, expected):
    assert parse_number(text, decimal) == expected


@pytest.mark.parametrize(("value", "expected"), [
    (1500.0, Decimal(1500)),  # a numeric cell from the xlsx: the locale does not apply
    (0.1, Decimal("0.1")),  # no binary float noise
    (160000000.0, Decimal(160000000)),
    (7, Decimal(7)),
])
def test_parse_number_numeric_cells_are_taken_as_they_are(value, expected):
    assert parse_number(value, ",") == expected
    assert parse_number(value, ".") == expected


@pytest.mark.parametrize(("text", "decimal"), [
    ("approx. 3", "."),
    ("about 1500", ","),
    ("1500 EUR", "."),
    ("n/a", "."),
    ("1.5", ","),  # a dot between groups must group by three: ambiguous in a comma-decimal wave
    ("1,5", "."),
    ("1,50,000", "."),  # Indian grouping is not a thousands grouping
    ("1.500,", ","),
    ("--3", "."),
    ("", "."),
    ("   ", ","),
    ("1e6", "."),
])
def test_parse_number_rejects_text(text, decimal):
    with pytest.raises(ValueProblem) as caught:
        parse_number(text, decimal)
    assert caught.value.code == "not_a_number"
    assert caught.value.reason


@pytest.mark.parametrize(("text", "character"), [
    ("\u0661\u0665\u0660\u0660", "arabic-indic digit one"),  # 1500 in Arabic-Indic digits
    ("\u06f1\u06f5\u06f0\u06f0", "extended arabic-indic digit one"),  # Persian
    ("\u0967\u096b\u0966\u0966", "devanagari digit one"),
    ("\uff11\uff15\uff10\uff10", "fullwidth digit one"),
    ("1\u0665\u0660\u0660", "arabic-indic digit five"),  # mixed with ASCII
    ("1.\u0665\u0660\u0660", "arabic-indic digit five"),  # a group of another script
    ("12\u00b2", "superscript two"),
    ("\u00bd", "vulgar fraction one half"),
    ("\u4e09", "cjk unified ideograph-4e09"),  # 3 written as a CJK numeral
])
@pytest.mark.parametrize("decimal", [".", ","])
def test_parse_number_reads_only_ascii_digits(text, character, decimal):
    """Python's int() and regex \\d take any script's digits; the pipeline takes 0-9 only and says why."""
    with pytest.raises(ValueProblem) as caught:
        parse_number(text, decimal)
    assert caught.value.code == "not_a_number"
    assert character in caught.value.reason
    assert "digits 0-9" in caught.value.reason


@settings(max_examples=200, deadline=None)
@given(
    number=st.integers(min_value=0, max_value=10**9),
    digit=st.characters(categories=["Nd"]).filter(lambda c: not "0" <= c <= "9"),
    at=st.integers(min_value=0),
    decimal=st.sampled_from([".", ","]),
)
def test_parse_number_rejects_any_non_ascii_decimal_digit(number, digit, at, decimal):
    """Any decimal digit outside 0-9 (Unicode category Nd, every script) anywhere in a number rejects it."""
    text = str(number)
    at %= len(text) + 1
    with pytest.raises(ValueProblem) as caught:
        parse_number(text[:at] + digit + text[at:], decimal)
    assert caught.value.code == "not_a_number"


@pytest.mark.parametrize("value", [True, float("nan"), float("inf"), dt.date(2023, 1, 1)])
def test_parse_number_rejects_non_numbers(value):
    with pytest.raises(ValueProblem):
        parse_number(value, ".")


def _group(digits: str, separator: str) -> str:
    head = len(digits) % 3 or 3
    parts = [digits[:head]] + [digits[i:i + 3] for i in range(head, len(digits), 3)]
    return separator.join(parts)


@settings(max_examples=300, deadline=None)
@given(
    units=st.integers(min_value=0, max_value=10**15),
    cents=st.one_of(st.none(), st.integers(min_value=0, max_value=99)),
    decimal=st.sampled_from([".", ","]),
    grouping=st.sampled_from(["other", " ", "\u00a0", "'", ""]),
    negative=st.booleans(),
)
def test_parse_number_round_trip(units, cents, decimal, grouping, negative):
    """Format a number the way a locale writes it, parse it back: the same exact value."""
    thousands = ("," if decimal == "." else ".") if grouping == "other" else grouping
    text = _group(str(units), thousands)
    expected = Decimal(units)
    if cents is not None:
        text += f"{decimal}{cents:02d}"
        expected += Decimal(cents) / 100
    if negative:
        text, expected = "-" + text, -expected
    assert parse_number(text, decimal) == expected


@settings(max_examples=200, deadline=None)
@given(st.decimals(min_value=0, max_value=10**12, places=2, allow_nan=False, allow_infinity=False))
def test_numeric_cell_round_trip(value):
    """An xlsx numeric cell (a float) with up to 2 decimals comes back as the decimal that was typed."""
    assert parse_number(float(value), ".") == value


@pytest.mark.parametrize(("number", "multiplier", "scale", "expected"), [
    (Decimal("151.5"), 1000, 100, 15_150_000),  # 151.5 kEUR in cents
    (Decimal("1234.56"), 1, 100, 123_456),
    (Decimal("160000000"), 1, 100, 16_000_000_000),
    (Decimal(1500), 1, 1, 1500),
    (Decimal("1500.0"), 1, 1, 1500),
])
def test_to_stored_int_is_exact(number, multiplier, scale, expected):
    stored = to_stored_int(number, multiplier=multiplier, scale=scale)
    assert stored == expected
    assert isinstance(stored, int)


@pytest.mark.parametrize(("number", "scale"), [(Decimal("2.5"), 1), (Decimal("0.001"), 100)])
def test_to_stored_int_refuses_fractions(number, scale):
    with pytest.raises(ValueProblem) as caught:
        to_stored_int(number, scale=scale)
    assert caught.value.code == "not_whole"


# ---------------------------------------------------------------- cells, dates


def test_cells_as_text():
    assert [cell_text(v) for v in (None, "", "  x ", 1500.0, 2.5, dt.datetime(2023, 3, 1, 9, 0))] == [
        "", "", "x", "1500", "2.5", "2023-03-01 09:00:00"]
    assert [is_blank(v) for v in (None, "", " \t", float("nan"), 0, "0")] == [True, True, True, True, False, False]


def test_parse_timestamp_text_and_real_datetimes():
    fmt = "%d/%m/%Y %H:%M"
    assert parse_timestamp("01/03/2023 09:05", fmt) == dt.datetime(2023, 3, 1, 9, 5)
    assert parse_timestamp(dt.datetime(2023, 3, 1, 9, 5, 7, 123), fmt) == dt.datetime(2023, 3, 1, 9, 5, 7)
    for bad, code in (("2023-03-01 09:05", "invalid_timestamp"), ("", "missing_timestamp")):
        with pytest.raises(ValueProblem) as caught:
            parse_timestamp(bad, fmt)
        assert caught.value.code == code


def _strptime_or_problem(text: str, fmt: str) -> dt.datetime | str:
    try:
        return dt.datetime.strptime(text.strip(), fmt)
    except ValueError:
        return "invalid"


def _parsed_or_problem(text: str, fmt: str) -> dt.datetime | str:
    try:
        return parse_timestamp(text, fmt)
    except ValueProblem as exc:
        return "invalid" if exc.code == "invalid_timestamp" else exc.code


TIMESTAMP_FORMATS = ("%d/%m/%Y %H:%M", "%Y-%m-%d %H:%M:%S", "%d.%m.%Y", "%m/%d/%Y %I:%M %p", "%Y%m%d%H%M",
                     "%d/%m/%Y%", "%d %B %Y", "%Y-%m-%dT%H:%M")


@settings(max_examples=600, deadline=None)
@given(st.text(alphabet="0123456789 /.:-T\t", min_size=1, max_size=20), st.sampled_from(TIMESTAMP_FORMATS))
def test_parse_timestamp_reads_text_exactly_as_strptime(text, fmt):
    """The fast reader of numeric formats gives what datetime.strptime gives, or refuses what it refuses."""
    if not text.strip():
        return
    assert _parsed_or_problem(text, fmt) == _strptime_or_problem(text, fmt)


@settings(max_examples=300, deadline=None)
@given(st.datetimes(min_value=dt.datetime(1000, 1, 1)), st.sampled_from(TIMESTAMP_FORMATS[:3]))
def test_parse_timestamp_round_trips_formatted_datetimes(moment, fmt):
    text = moment.strftime(fmt)
    assert parse_timestamp(text, fmt) == dt.datetime.strptime(text, fmt)


@pytest.mark.parametrize("text", ["31/02/2023 10:00", "29/02/2023 10:00", "00/01/2023 10:00", "01/13/2023 10:00",
                                  "01/01/2023 24:00", "1/1/2023  9:5", "01/01/0000 10:00", "01/01/2023 10:00 "])
def test_parse_timestamp_edge_cases_follow_strptime(text):
    fmt = "%d/%m/%Y %H:%M"
    assert _parsed_or_problem(text, fmt) == _strptime_or_problem(text, fmt)


def test_parse_date():
    assert parse_date("2022-11-10") == dt.date(2022, 11, 10)
    assert parse_date(dt.datetime(2022, 11, 10, 0, 0)) == dt.date(2022, 11, 10)
    assert parse_date("10/11/2022", "%d/%m/%Y") == dt.date(2022, 11, 10)
    assert parse_date("") is None
    with pytest.raises(ValueProblem):
        parse_date("November 2022")


# ---------------------------------------------------------------- identities


@pytest.mark.parametrize("raw", [" pfs-000123 ", "PFS - 000123", "pfs-000123\u00a0", "PFS 000123", "PFS_000123",
                                 "PFS\u2011000123", "ＰＦＳ-000123"])
def test_normalise_member_id_ignores_case_spaces_and_separators(raw):
    assert normalise_member_id(raw) == normalise_member_id("PFS-000123") == "PFS000123"


@pytest.mark.parametrize("raw", ["PFS-123", "PFS-O00123", "PSF-000123", "PFS-0000123", ""])
def test_normalise_member_id_guesses_nothing_else(raw):
    assert normalise_member_id(raw) != normalise_member_id("PFS-000123")


def test_member_id_without_padding_does_not_match():
    assert normalise_member_id("PFS-123") != normalise_member_id("PFS-000123")


@pytest.mark.parametrize(("a", "b"), [
    ("Bäckerei Müller GmbH & Co. KG", "BACKEREI MULLER"),
    ("Alpha Build S.A.", "alpha build"),
    ("Société Générale de Formation", "societe generale de formation"),
    ("  Beta   Costruzioni  S.r.l. ", "Beta Costruzioni"),
    ("Kowalski Sp. z o.o.", "KOWALSKI"),
    ("Acme Ltd.", "acme limited"),
    ("Ferrari A/S", "Ferrari"),
])
def test_organisation_names_match_after_normalising(a, b):
    assert normalise_org_name(a) == normalise_org_name(b)


@settings(max_examples=400, deadline=None)
@given(st.text(alphabet=st.sampled_from("abcXYZ019 -_./&'ÄéßŁ\u00a0\u0301ＰＦ１"), max_size=24))
def test_identity_keys_fast_paths_agree_with_the_general_rules(text):
    """ASCII names and IDs take a shortcut; the keys are those the general Unicode rules give."""
    import unicodedata

    general_id = "".join(ch for ch in unicodedata.normalize("NFKC", text.strip()).upper() if ch.isalnum())
    assert normalise_member_id(text) == general_id
    full, stripped = org_name_keys(text)
    assert full == normalise_org_name(text, strip_legal_form=False)
    assert stripped == normalise_org_name(text)
    decomposed = "".join(ch for ch in unicodedata.normalize("NFKD", text.strip()) if not unicodedata.combining(ch))
    assert full == normalise_org_name(decomposed, strip_legal_form=False)


def _name_key_of_the_whole_name(text: str) -> str:
    """The organisation-name key as the rule states it, applied to the whole name at once (the normaliser
    translates it character by character)."""
    import re
    import unicodedata

    text = "".join(ch for ch in unicodedata.normalize("NFKD", text.strip()) if not unicodedata.combining(ch))
    text = text.casefold().replace("&", " and ").replace("ß", "ss").replace(".", "")
    return " ".join(re.sub(r"[^\w\s]|_", " ", text).split())


@settings(max_examples=600, deadline=None)
@given(st.text(alphabet=st.one_of(
    st.sampled_from("aZ0 .&_/-ßẞİıſﬁǅΣςÅÅ\u0301\u0323\u0345\u034f\u0307ｶﾞ가各"), st.characters(codec="utf-8"),
), max_size=16))
def test_a_name_key_made_character_by_character_is_the_key_of_the_whole_name(text):
    """Decomposition, case folding and the replacements each act on one character at a time: marks that canonical
    ordering moves are all dropped, so translating a name character by character gives the same key."""
    assert normalise_org_name(text, strip_legal_form=False) == _name_key_of_the_whole_name(text)


def test_organisation_names_keep_what_distinguishes_them():
    assert normalise_org_name("Alpha Build") != normalise_org_name("Alpha Builders")
    assert normalise_org_name("AS Consulting") == "as consulting"  # a legal word is only removed at the end
    assert normalise_org_name("GmbH") == "gmbh"  # never reduced to nothing


MEMBER_STATES = pd.DataFrame({
    "country_code": ["BE", "EL", "DE"],
    "iso_alpha2": ["BE", "GR", "DE"],
    "name": ["Belgium", "Greece", "Germany"],
    "aliases": ["Belgique;België", "GR;Hellas;Ελλάδα", "Deutschland"],
})


@pytest.mark.parametrize(("answer", "code"), [
    ("GR", "EL"), ("gr", "EL"), ("EL", "EL"), ("Greece", "EL"), (" hellas ", "EL"), ("Ελλάδα", "EL"),
    ("België", "BE"), ("Belgie", "BE"), ("deutschland", "DE"),
])
def test_country_aliases(answer, code):
    assert normalise_country(answer, country_lookup(MEMBER_STATES)) == code


def test_unknown_country():
    with pytest.raises(ValueProblem) as caught:
        normalise_country("UK", country_lookup(MEMBER_STATES))
    assert caught.value.code == "unknown_member_state"


def test_country_lookup_refuses_an_alias_of_two_countries():
    clash = MEMBER_STATES.assign(aliases=["GR", "GR", ""])
    with pytest.raises(ValueError, match="GR"):
        country_lookup(clash)


def test_country_lookup_does_not_touch_its_frame():
    before = MEMBER_STATES.copy()
    country_lookup(MEMBER_STATES)
    pd.testing.assert_frame_equal(MEMBER_STATES, before)


# ---------------------------------------------------------------- text and order


def test_multi_select_and_labels():
    assert split_multi("Digital; Health;;Tourism ") == ["Digital", "Health", "Tourism"]
    assert split_multi(None) == []
    assert normalise_label("  Progressing   AS planned") == "progressing as planned"
    assert strip_shortname("How many people did you train? (people_trained)") == "How many people did you train?"
    assert strip_shortname("Investment (EUR)") == "Investment (EUR)"  # an acronym in brackets is wording


def test_comparable_wording_ignores_the_wave_year_only():
    same = [
        ("Number of stakeholders who joined networks", 2022),
        ("Number of stakeholders who joined networks in 2023", 2023),
        ("Number of stakeholders who joined networks (2024)?", 2024),
        ("number of  stakeholders who joined networks during 2025", 2025),
    ]
    assert len({comparable_wording(q, w) for q, w in same}) == 1
    assert comparable_wording("People trained up to December 2022", 2022) == "people trained"
    # another year in the wording is content, not the wave's own year
    assert comparable_wording("People trained since 2020", 2022) == "people trained since 2020"
    assert comparable_wording("People trained", 2022) != comparable_wording("Learners who completed training", 2023)


def test_latest_first_order_and_both_tie_breaks():
    t = dt.datetime
    rows = [
        ("a", t(2023, 3, 1), t(2023, 3, 1), "100", 5),
        ("b", t(2023, 3, 2), t(2023, 3, 1), "050", 6),  # latest Last Update wins
        ("c", t(2023, 3, 2), t(2023, 3, 1, 12), "010", 7),  # same Last Update: latest Creation Date wins
        ("d", t(2023, 3, 2), t(2023, 3, 1, 12), "011", 8),  # same both: highest Contribution Id wins
    ]
    order = sorted(rows, key=lambda r: latest_first_key(r[2], r[1], r[3], r[4]))
    assert [r[0] for r in order] == ["d", "c", "b", "a"]


def test_contribution_ids_compare_as_numbers_when_numeric():
    t = dt.datetime(2023, 1, 1)
    assert latest_first_key(t, t, "10", 1) < latest_first_key(t, t, "9", 2)  # 10 > 9, so first
    assert latest_first_key(t, t, "b-uuid", 1) < latest_first_key(t, t, "a-uuid", 2)

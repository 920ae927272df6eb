"""Synthetic organisation and person names: plausible, invented, and unique after name normalisation.

The pipeline matches a survey answer to the registry on the organisation's normalised name when the registration ID
is blank or wrong, so no two generated organisations may normalise to the same key, whichever normalisation a
reader picks (case, accents, punctuation, spacing, legal-form suffixes). `name_key` is the strictest of those: the
pipeline's own normaliser (pipelines.normalise.normalise_org_name, which strips multi-word legal forms such as
"sp. z o.o." and "GmbH & Co. KG"), then without spaces and without legal-form words anywhere in the name.
"""

from __future__ import annotations

import re
import unicodedata

import numpy as np

from pipelines.normalise import normalise_org_name

# Syllables for invented place and brand names. None of them, nor any pair, spells "test": test entries are
# recognised by that word (the surveys' sidecar rule).
_ONSETS = (
    "Al", "Ar", "Bel", "Bor", "Car", "Cor", "Dal", "Dor", "El", "Fal", "Fer", "Gal", "Gor", "Har", "Hel", "Ist",
    "Kal", "Kor", "Lan", "Lev", "Mar", "Mer", "Nor", "Nov", "Or", "Pal", "Per", "Quin", "Ral", "Ros", "Sal", "Sel",
    "Tal", "Tor", "Ul", "Val", "Ver", "Vil", "Wel", "Zar", "Lé", "Bø", "Mö", "Ša", "Ço",
)
_MIDDLES = (
    "a", "e", "i", "o", "u", "an", "en", "in", "on", "ar", "er", "or", "al", "el", "il", "av", "ev", "ad", "ed",
    "am", "em", "ur",
)
_ENDINGS = (
    "bury", "dal", "dorf", "feld", "gard", "holm", "ia", "ica", "ino", "is", "lund", "mar", "mont", "ona", "ora",
    "polis", "sted", "ton", "vik", "wald", "ville", "heim", "burg", "era", "esti", "ovo", "ava",
)
_SECTOR_WORDS = (
    "Systems", "Technologies", "Engineering", "Foods", "Logistics", "Components", "Materials", "Robotics",
    "Analytics", "Solutions", "Manufacturing", "Energy", "Mobility", "Textiles", "Construction", "Hospitality",
    "Pharma", "Medical", "Software", "Networks", "Aerostructures", "Shipyards", "Metals", "Chemicals", "Retail",
    "Design", "Media", "Farming", "Semiconductors", "Batteries", "Care Services", "Tours", "Foundry", "Printing",
)
_FIELDS = (
    "Applied Sciences", "Digital Skills", "Vocational Training", "Engineering", "Health Professions", "Hospitality",
    "Construction Trades", "Green Technologies", "Maritime Studies", "Agriculture", "Creative Arts", "Logistics",
    "Adult Learning", "Advanced Manufacturing", "Data Science", "Social Care",
)
_CAUSES = (
    "Digital Inclusion", "Lifelong Learning", "Youth Employment", "Gender Equality in STEM", "Inclusive Skills",
    "Second-Chance Education", "Migrant Integration", "Rural Development", "Adult Literacy",
)
_LEGAL_FORMS = {
    "BE": ("NV", "SRL"), "BG": ("EOOD", "AD"), "CZ": ("s.r.o.", "a.s."), "DK": ("ApS", "A/S"), "DE": ("GmbH", "AG"),
    "EE": ("OÜ", "AS"), "IE": ("Ltd", "DAC"), "EL": ("S.A.", "IKE"), "ES": ("S.L.", "S.A."), "FR": ("SAS", "SA"),
    "HR": ("d.o.o.", "d.d."), "IT": ("S.r.l.", "S.p.A."), "CY": ("Ltd",), "LV": ("SIA", "AS"), "LT": ("UAB", "AB"),
    "LU": ("S.à r.l.", "SA"), "HU": ("Kft.", "Zrt."), "MT": ("Ltd", "plc"), "NL": ("B.V.", "N.V."), "AT": ("GmbH", "AG"),
    "PL": ("sp. z o.o.", "S.A."), "PT": ("Lda.", "S.A."), "RO": ("S.R.L.", "S.A."), "SI": ("d.o.o.", "d.d."),
    "SK": ("s.r.o.", "a.s."), "FI": ("Oy", "Oyj"), "SE": ("AB",),
}
_LEGAL_FORM_WORDS = {re.sub(r"[^0-9a-z]", "", unicodedata.normalize("NFKD", f).casefold())
                     for forms in _LEGAL_FORMS.values() for f in forms}

FIRST_NAMES = (
    "Anna", "Marco", "Sofia", "Jan", "Elena", "Luca", "Maria", "Pieter", "Ines", "Tomasz", "Katarina", "Jonas",
    "Eva", "Nikos", "Laura", "Mikkel", "Chiara", "Andrei", "Julia", "Pedro", "Aoife", "Matej", "Lena", "Dimitra",
    "Hugo", "Zsofia", "Lukas", "Marta", "Emil", "Ana", "Tiago", "Ieva", "Karl", "Petra", "Sven", "Agnieszka",
)
LAST_NAMES = (
    "Rossi", "Müller", "García", "Dubois", "Nowak", "Jansen", "Papadopoulos", "Silva", "Horvat", "Novák",
    "Andersen", "Virtanen", "Kovács", "Popescu", "Murphy", "Peeters", "Schmidt", "Bianchi", "Fernández", "Lefèvre",
    "Kowalski", "De Vries", "Georgiou", "Costa", "Kralj", "Svoboda", "Nielsen", "Korhonen", "Nagy", "Ionescu",
    "Kelly", "Maes", "Berg", "Ozols", "Kazlauskas", "Tamm", "Borg", "Schembri", "Weber", "Martin",
)

_PATTERNS = {
    "company": ("{brand} {sector} {legal}", "{brand}{sector2} {legal}", "{place} {sector} Group {legal}"),
    "SME": ("{brand} {sector} {legal}", "{brand} & {brand2} {sector} {legal}", "{place} {sector} {legal}"),
    "education and training provider": (
        "{place} Institute of {field}", "{place} Vocational College", "University of {place}",
        "{brand} Academy of {field}", "{place} Centre for {field}",
    ),
    "public authority": (
        "Municipality of {place}", "Regional Government of {place}", "{place} Regional Development Agency",
        "{place} Department of Education and Skills",
    ),
    "social partner / trade union": (
        "{place} Federation of {sector} Workers", "Union of {sector} Employees {place}",
        "{place} Employers' Association for {sector}",
    ),
    "chamber of commerce": ("Chamber of Commerce and Industry of {place}", "{place} Chamber of Crafts"),
    "employment service": ("{place} Public Employment Service", "Employment Office {place}"),
    "cluster or sectoral organisation": (
        "{brand} {sector} Cluster", "{place} {sector} Alliance", "European {sector} Network {brand}",
    ),
    "civil-society organisation": ("{brand} Foundation for {cause}", "Association for {cause} {place}"),
    "research organisation": ("{brand} Research Centre for {field}", "Institute for {field} Research {place}"),
}
MEMBER_TYPES = tuple(_PATTERNS)


def name_key(name: str) -> str:
    """The strictest normalisation a matcher might use: accents, case, punctuation, spaces and legal forms gone.

    Built on the pipeline's normaliser, so two names the pipeline cannot tell apart always share a key (the
    generator keeps keys unique); dropping spaces and legal-form words anywhere only merges more names.
    """
    words = [re.sub(r"[^0-9a-z]", "", w) for w in normalise_org_name(name).split()]
    return "".join(w for w in words if w and w not in _LEGAL_FORM_WORDS)


def _word(rng: np.random.Generator) -> str:
    parts = [_ONSETS[rng.integers(len(_ONSETS))]]
    if rng.random() < 0.6:
        parts.append(_MIDDLES[rng.integers(len(_MIDDLES))])
    parts.append(_ENDINGS[rng.integers(len(_ENDINGS))])
    return "".join(parts)


def _compose(rng: np.random.Generator, member_type: str, country: str) -> str:
    patterns = _PATTERNS[member_type]
    pattern = patterns[rng.integers(len(patterns))]
    forms = _LEGAL_FORMS[country]
    sector2 = _SECTOR_WORDS[rng.integers(len(_SECTOR_WORDS))].split()[0].lower()
    return pattern.format(
        brand=_word(rng), brand2=_word(rng), place=_word(rng),
        sector=_SECTOR_WORDS[rng.integers(len(_SECTOR_WORDS))], sector2=sector2,
        field=_FIELDS[rng.integers(len(_FIELDS))], cause=_CAUSES[rng.integers(len(_CAUSES))],
        legal=forms[rng.integers(len(forms))],
    )


def organisation_names(
    rng: np.random.Generator, member_types: list[str], countries: list[str], taken: set[str] | None = None
) -> list[str]:
    """One unique name per member (unique by `name_key`, also against `taken` keys, which is updated)."""
    seen = taken if taken is not None else set()
    names = []
    for member_type, country in zip(member_types, countries, strict=True):
        while True:
            name = _compose(rng, member_type, country)
            key = name_key(name)
            if key not in seen and "test" not in key:
                break
        seen.add(key)
        names.append(name)
    return names


def person_names(rng: np.random.Generator, n: int) -> list[str]:
    first = rng.integers(len(FIRST_NAMES), size=n)
    last = rng.integers(len(LAST_NAMES), size=n)
    return [f"{FIRST_NAMES[f]} {LAST_NAMES[la]}" for f, la in zip(first.tolist(), last.tolist(), strict=True)]


def ascii_slug(text: str) -> str:
    text = unicodedata.normalize("NFKD", text)
    return re.sub(r"[^a-z0-9]+", "", "".join(c for c in text if not unicodedata.combining(c)).casefold())


def email(person: str, organisation: str, domain_choice: int) -> str:
    """A fake address under the reserved example.* domains (RFC 2606): never a real mailbox."""
    first, _, last = person.partition(" ")
    words = [w for w in re.split(r"\s+", organisation) if ascii_slug(w)]
    org = ascii_slug(max(words, key=len)) if words else "member"
    base = ("example.org", "example.com", "example.net")[domain_choice % 3]
    return f"{ascii_slug(first)}.{ascii_slug(last)}@{org}.{base}"

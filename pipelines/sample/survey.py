"""The three synthetic survey waves: who answers, what they answer, the mess around it, and the truth planted.

Each wave is an EUSurvey `Content` export whose questions are worded and ordered differently from the other
waves. The accepted answers sum exactly to the wave's calibrated totals (calibration.WAVES); every piece of mess
(superseded submissions, test entries, blank rows, mistyped IDs, unknown members or Member States, invalid values,
number formats) is planted so that the rules of the data (docs/rules_of_the_data.md) leave those totals unchanged, and the
expected outcome of every raw row and every rejected cell is recorded as truth.
"""

from __future__ import annotations

import datetime as dt
import itertools
import uuid
from dataclasses import dataclass, field
from fractions import Fraction

import numpy as np
import pandas as pd

from pipelines.eusurvey import META_LABELS
from pipelines.sample import calibration as cal
from pipelines.sample.allocate import allocate_positive, lognormal_weights
from pipelines.sample.eusurvey import META_ROLES
from pipelines.sample.names import email, name_key, organisation_names, person_names
from pipelines.sample.registry import SIZE_FACTOR
from pipelines.schema import REPORTED_INDICATORS

SHEET = "Content"
FIRST_DATA_ROW = 5  # spreadsheet row of the first answer (header on row 4)
NBSP = "\u00a0"

ANSWER_RATE = {
    "people_trained": 0.9, "training_programmes": 0.72, "investment_eur": 0.58, "people_reached": 0.55,
    "stakeholders_joined": 0.5,
}
ZERO_RATE = 0.05
# Who does more of what: multiplies the log-normal weight of a respondent's answer.
TYPE_FACTOR = {
    ("education and training provider", "people_trained"): 1.6,
    ("education and training provider", "training_programmes"): 2.0,
    ("public authority", "people_reached"): 2.5,
    ("employment service", "people_reached"): 2.5,
    ("employment service", "people_trained"): 1.5,
    ("cluster or sectoral organisation", "stakeholders_joined"): 3.0,
    ("chamber of commerce", "stakeholders_joined"): 2.5,
    ("social partner / trade union", "stakeholders_joined"): 2.0,
    ("company", "investment_eur"): 1.8,
}
SKILL_TYPES = (
    "Technical skills", "Advanced digital skills", "Green skills", "Basic digital skills", "Transversal skills",
    "Entrepreneurial skills", "Language skills",
)
USEFULNESS = ("Very useful", "Useful", "Somewhat useful", "Not useful")
GOOD_PRACTICES = (
    "We ran a bootcamp on {skill} with a local VET provider; most participants moved to new roles.",
    "Our apprenticeship scheme now includes a module on {skill}.",
    "Together with the regional employment service we retrained jobseekers in {skill}.",
    "A peer-learning network of SMEs shares trainers for {skill}.",
)
NOT_A_NUMBER = ("approx. many", "see attached report", "several hundred", "to be confirmed")
LANGUAGE = {"DE": "de", "AT": "de", "FR": "fr", "BE": "fr", "LU": "fr", "IT": "it", "ES": "es", "PT": "pt",
            "PL": "pl", "NL": "nl"}  # EUSurvey writes language codes in lower case


@dataclass(frozen=True)
class Column:
    header: str
    role: str  # member_id | organisation | country | contact | ecosystems | indicator | progress | skills |
    # usefulness | good_practice | comment | meta
    key: str = ""  # the indicator, the meta column's role, the commitment slot ("1", "2", ...) or the section


@dataclass(frozen=True)
class WaveSpec:
    wave: int
    alias: str
    questions: tuple[Column, ...]
    decimal_separator: str
    investment_multiplier: int  # 1: asked in euro; 1000: asked in thousands of euro
    datetime_format: str
    country_style: str  # "code" (Eurostat, some ISO GR) | "name" (English names) | "mixed"
    unknown_country: str
    progressing: tuple[str, ...]
    not_progressing: tuple[str, ...]
    language: str = "en"  # the exporting user's language: it labels the meta columns
    workbooks: int = 1  # more than one: a large export, zipped
    escaped_text: bool = False  # free text XML-escaped, as EUSurvey's reporting path writes it since mid-2025

    @property
    def columns(self) -> tuple[Column, ...]:
        return self.questions + tuple(Column(META_LABELS[role][self.language], "meta", role) for role in META_ROLES)

    @property
    def header(self) -> list[str]:
        return [c.header for c in self.columns]

    @property
    def source_file(self) -> str:
        """The raw file, relative to the raw tree."""
        return f"surveys/pact_survey_{self.wave}.{'zip' if self.workbooks > 1 else 'xlsx'}"

    @property
    def part_files(self) -> list[str]:
        """How provenance names each workbook: the file itself, or each workbook inside the zip."""
        if self.workbooks == 1:
            return [self.source_file]
        return [f"{self.source_file}/Content_Export_{self.alias}_{k}.xlsx" for k in range(1, self.workbooks + 1)]

    def column(self, role: str, key: str = "") -> Column:
        return next(c for c in self.columns if c.role == role and (not key or c.key == key))

    @property
    def progress_columns(self) -> list[Column]:
        return [c for c in self.questions if c.role == "progress"]


def _progress(title: str, n: int) -> tuple[Column, ...]:
    # EUSurvey heads a matrix question's columns "Matrix title: row title"
    return tuple(Column(f"{title}: Commitment {k}", "progress", str(k)) for k in range(1, n + 1))


PROGRESSING = ("Completed", "Progressing as planned")
NOT_PROGRESSING = ("Delayed", "Not started", "Discontinued")

WAVE_SPECS: dict[int, WaveSpec] = {
    2022: WaveSpec(
        wave=2022,
        alias="PfS-AnnualSurvey-2022",
        questions=(
            Column("Organisation name", "organisation"),
            Column("Pact for Skills registration ID (PFS-xxxxxx)", "member_id"),
            Column("Member State (two-letter code)", "country"),
            Column("Contact person", "contact"),
            Column("Industrial ecosystem(s)", "ecosystems"),
            Column("Number of people who took part in up-/reskilling activities up to December 2022", "indicator",
                   "people_trained"),
            Column("Number of training programmes updated or developed", "indicator", "training_programmes"),
            Column("Investment in up-/reskilling (EUR)", "indicator", "investment_eur"),
            Column("Number of people reached by promotion and dissemination activities", "indicator",
                   "people_reached"),
            Column("Number of stakeholders who joined skills partnerships or networks", "indicator",
                   "stakeholders_joined"),
            *_progress("Progress of your commitments", 3),
            Column("Comments (optional)", "comment", "1"),
            Column("Skill types most needed", "skills"),
            Column("Good practice (optional)", "good_practice"),
            Column("Comments (optional)", "comment", "2"),
        ),
        decimal_separator=".",
        investment_multiplier=1,
        datetime_format="%d/%m/%Y %H:%M",
        country_style="code",
        unknown_country="UK",
        progressing=PROGRESSING,
        not_progressing=NOT_PROGRESSING,
        language="en",
    ),
    # The 2023 questionnaire was answered in a comma-decimal locale and asked for investment in thousands of euro.
    2023: WaveSpec(
        wave=2023,
        alias="PfS-AnnualSurvey-2023",
        questions=(
            Column("Registration ID", "member_id"),
            Column("Name of your organisation", "organisation"),
            Column("Country", "country"),
            Column("Contact person (name and surname)", "contact"),
            Column("Number of people up-/reskilled in 2023", "indicator", "people_trained"),
            Column("Investment in up-/reskilling in 2023 (in thousands of euro)", "indicator", "investment_eur"),
            Column("Number of training programmes updated or developed in 2023", "indicator", "training_programmes"),
            Column("Number of stakeholders who joined skills partnerships or networks in 2023", "indicator",
                   "stakeholders_joined"),
            Column("Number of people reached by promotion and dissemination in 2023", "indicator", "people_reached"),
            Column("Industrial ecosystem(s) your organisation works in", "ecosystems"),
            *_progress("How are your commitments progressing?", 4),
            Column("Comments (optional)", "comment", "1"),
            Column("Which skills are most needed in your ecosystem?", "skills"),
            Column("How useful is the Pact for Skills to your organisation?", "usefulness"),
            Column("Describe one good practice (optional)", "good_practice"),
            Column("Comments (optional)", "comment", "2"),
        ),
        decimal_separator=",",
        investment_multiplier=1000,
        datetime_format="%d/%m/%Y %H:%M",
        country_style="name",
        unknown_country="United Kingdom",
        progressing=PROGRESSING,
        not_progressing=NOT_PROGRESSING,
        language="de",  # exported by a colleague whose EUSurvey interface is in German
    ),
    # 2024 reworded every indicator question (the people-trained one asks about learners who completed training).
    2024: WaveSpec(
        wave=2024,
        alias="PactForSkills_Survey2024",
        questions=(
            Column("Name of your organisation", "organisation"),
            Column("Member State", "country"),
            Column("Your Pact for Skills registration number", "member_id"),
            Column("Industrial ecosystems (select all that apply)", "ecosystems"),
            Column("How many learners (employees, jobseekers, students) completed up- or reskilling that your "
                   "organisation provided or funded in 2024?", "indicator", "people_trained"),
            Column("Training programmes or courses your organisation updated or developed in 2024", "indicator",
                   "training_programmes"),
            Column("Stakeholders your organisation brought into skills partnerships or networks in 2024", "indicator",
                   "stakeholders_joined"),
            Column("People reached by your promotion of up-/reskilling in 2024", "indicator", "people_reached"),
            Column("Total investment in up-/reskilling in 2024 (EUR)", "indicator", "investment_eur"),
            *_progress("Status of each commitment", 4),
            Column("Comments (optional)", "comment", "1"),
            Column("Skills most needed", "skills"),
            Column("Good practice to share (optional)", "good_practice"),
            Column("Comments (optional)", "comment", "2"),
            Column("Contact person", "contact"),
        ),
        decimal_separator=".",
        investment_multiplier=1,
        datetime_format="%Y-%m-%d %H:%M:%S",
        country_style="mixed",
        unknown_country="CH",
        progressing=("Completed", "On track"),
        not_progressing=("Behind schedule", "Not started", "Discontinued"),
        language="fr",
        workbooks=2,  # a large export: EUSurvey zips it as several workbooks
        escaped_text=True,
    ),
}

TEST_USER_PATTERN = r"@test\.example\.org$"
TEST_ORGANISATION_PATTERN = r"(?i)^\s*test\b"


def test_entry_rules(spec: WaveSpec) -> list[dict[str, str]]:
    # "User name" finds the user-name column whatever language labels it
    return [
        {"column": "User name", "pattern": TEST_USER_PATTERN},
        {"column": spec.column("organisation").header, "pattern": TEST_ORGANISATION_PATTERN},
    ]


# ---- number rendering: how respondents and EUSurvey write the same number ------------------------------------


def _group(n: int, sep: str) -> str:
    return f"{n:,}".replace(",", sep)


def render_count(value: int, u: float, v: float, decimal: str) -> object:
    """A whole number as a respondent typed it; `u`, `v` in [0, 1) pick the style."""
    thousands = "," if decimal == "." else "."
    if u < 0.55:
        return value
    if u < 0.70:
        return str(value)
    if u < 0.85:
        return _group(value, thousands)
    if u < 0.95:
        return _group(value, NBSP if v < 0.1 else " ")
    return f" {value} "


def render_investment(cents: int, u: float, v: float, decimal: str, multiplier: int) -> object:
    """Investment (stored in cents) in the question's unit and the wave's number locale."""
    if multiplier == 1:
        if cents % 100 == 0:
            return render_count(cents // 100, u, v, decimal)
        euros, rest = divmod(cents, 100)
        if u < 0.5:
            return cents / 100
        thousands = "," if decimal == "." else "."
        sep = "" if u < 0.7 else (thousands if u < 0.9 else " ")
        return f"{_group(euros, sep) if sep else euros}{decimal}{rest:02d}"
    if multiplier != 1000 or cents % 10_000:
        raise ValueError(f"investment of {cents} cents cannot be written in thousands with one decimal")
    tenths = cents // 10_000
    if tenths % 10 == 0:
        return render_count(tenths // 10, u, v, decimal)
    whole, digit = divmod(tenths, 10)
    if u < 0.4:
        return tenths / 10
    thousands = "," if decimal == "." else "."
    sep = "" if u < 0.7 else (thousands if u < 0.9 else " ")
    return f"{_group(whole, sep) if sep else whole}{decimal}{digit}"


def render_invalid(kind: str, rng: np.random.Generator, decimal: str) -> object:
    if kind == "negative_value":
        value = int(rng.choice([15, 120, 500, 2000, 35]))
        return -value if rng.random() < 0.5 else f"-{value}"
    if kind == "not_a_number":
        return NOT_A_NUMBER[int(rng.integers(len(NOT_A_NUMBER)))]
    value = cal.ABSURD_FLOOR * int(rng.integers(1, 6))
    return value if rng.random() < 0.5 else _group(value, "," if decimal == "." else ".")


# ---- the wave --------------------------------------------------------------------------------------------------


@dataclass
class Submission:
    case: str
    status: str
    reason_code: str
    member: int | None  # index into the members frame
    member_id_typed: str | None
    organisation_typed: str
    country_typed: str
    created: dt.datetime
    updated: dt.datetime
    cid: str = ""
    answers: dict[str, object] = field(default_factory=dict)  # indicator -> cell as written
    progress: list[str | None] = field(default_factory=list)
    contact: str | None = None
    user: str = ""
    language: str = "en"
    ecosystems: str = ""
    skills: str = ""
    usefulness: str | None = None
    good_practice: str | None = None
    matched_by: str = ""
    facts: dict[str, int] = field(default_factory=dict)  # the accepted values, investment in cents
    rejects: list[tuple[str, str, str]] = field(default_factory=list)  # (column, value as text, reason_code)


@dataclass
class WaveOutput:
    spec: WaveSpec
    parts: list[list[list[object]]]  # the rows of each workbook (spec.part_files)
    truth_rows: pd.DataFrame
    truth_facts: pd.DataFrame
    truth_rejects: pd.DataFrame
    respondents: np.ndarray  # member indices


class _Clock:
    """Submission times inside the fieldwork window, at the resolution the export prints."""

    def __init__(self, cal_wave: cal.WaveCalibration, spec: WaveSpec, rng: np.random.Generator):
        self.start = dt.datetime.combine(cal_wave.fieldwork_start, dt.time(8, 0))
        self.end = dt.datetime.combine(cal_wave.fieldwork_end, dt.time(20, 0))
        self.seconds = "%S" in spec.datetime_format
        self.rng = rng

    def at(self, fraction: float) -> dt.datetime:
        span = (self.end - self.start).total_seconds()
        t = self.start + dt.timedelta(seconds=float(fraction) * span)
        return t.replace(microsecond=0) if self.seconds else t.replace(second=0, microsecond=0)

    def later(self, t: dt.datetime, minutes: float) -> dt.datetime:
        out = t + dt.timedelta(minutes=float(minutes))
        return out.replace(microsecond=0) if self.seconds else out.replace(second=0, microsecond=0)


def _cid(rng: np.random.Generator) -> str:
    return str(uuid.UUID(bytes=rng.bytes(16), version=4))


def _choose_respondents(
    rng: np.random.Generator, members: pd.DataFrame, eligible: np.ndarray, n: int, prior: set[int]
) -> np.ndarray:
    """n eligible members, covering every Member State and primary ecosystem, past respondents more likely."""
    if n > len(eligible):
        raise ValueError(f"{n} respondents asked for but only {len(eligible)} members are eligible")
    forced: list[int] = []
    countries = members["country_code"].to_numpy()[eligible]
    primaries = np.array([e[0] for e in members["ecosystems"].to_numpy()[eligible]])
    for values in (countries, primaries):
        for value in sorted(set(values.tolist())):
            pool = eligible[values == value]
            forced.append(int(pool[rng.integers(len(pool))]))
    forced_set = sorted(set(forced))[:n]
    rest = np.setdiff1d(eligible, forced_set)
    weights = np.where(np.isin(rest, sorted(prior)), 2.5, 1.0)
    extra = rng.choice(rest, size=n - len(forced_set), replace=False, p=weights / weights.sum())
    return np.sort(np.concatenate([np.array(forced_set, dtype=np.int64), extra.astype(np.int64)]))


def _allocate_indicator(
    rng: np.random.Generator, indicator: str, total: int, spec: WaveSpec, size_factor: np.ndarray,
    types: np.ndarray, silent: np.ndarray,
) -> np.ndarray:
    """Each respondent's true value (-1 = not answered); investment in cents. Sums exactly to `total`."""
    n = len(size_factor)
    answered = (rng.random(n) < ANSWER_RATE[indicator]) & ~silent
    zero = answered & (rng.random(n) < ZERO_RATE)
    positive = answered & ~zero
    factor = size_factor * np.array([TYPE_FACTOR.get((t, indicator), 1.0) for t in types])
    weights = lognormal_weights(rng, factor)[positive]
    values = np.full(n, -1, dtype=np.int64)
    values[zero] = 0
    if indicator != "investment_eur":
        values[positive] = allocate_positive(total, weights)
        return values
    if spec.investment_multiplier == 1000:
        # answers in thousands of euro with one decimal: whole units of EUR 100
        if total % 100:
            raise ValueError(f"an investment total of {total} EUR cannot be asked in tenths of thousands")
        values[positive] = allocate_positive(total // 100, weights) * 10_000
        return values
    cents = allocate_positive(total, weights) * 100
    # a few respondents report cents; the largest answer gives them up so the total stays exact
    order = np.argsort(-cents, kind="stable")
    movable = order[3:]
    picked = movable[rng.random(len(movable)) < 0.08]
    added = rng.integers(1, 100, size=len(picked))
    cents[picked] += added
    cents[order[0]] -= int(added.sum())
    values[positive] = cents
    return values


def _allocate_progress(
    rng: np.random.Generator, commitments: np.ndarray, width: int, share: Fraction, silent: np.ndarray
) -> list[list[bool]]:
    """Per respondent, one flag per reported commitment (True = progressing); exactly `share` of all flags True."""
    n = len(commitments)
    reported = np.minimum(commitments, width)
    partial = rng.random(n) < 0.10
    reported[partial] = np.floor(rng.random(int(partial.sum())) * (reported[partial] + 1)).astype(np.int64)
    reported[rng.random(n) < 0.10] = 0
    reported[silent] = 0
    while int(reported.sum()) % share.denominator:
        candidates = np.flatnonzero(reported > 0)
        reported[candidates[rng.integers(len(candidates))]] -= 1
    total = int(reported.sum())
    progressing = total * share.numerator // share.denominator
    flags = np.zeros(total, dtype=bool)
    flags[rng.choice(total, size=progressing, replace=False)] = True
    out, pos = [], 0
    for k in reported.tolist():
        out.append(flags[pos:pos + k].tolist())
        pos += k
    return out


def _typed_country(code: str, style: str, names: dict[str, str], u: float) -> str:
    if style == "name" or (style == "mixed" and u > 0.9):
        return names[code]
    if code == "EL" and u < 0.5:
        return "GR"
    return code


def generate_wave(
    rng: np.random.Generator,
    spec: WaveSpec,
    members: pd.DataFrame,
    commitment_counts: np.ndarray,
    country_names: dict[str, str],
    ecosystem_names: dict[str, str],
    scale: int,
    prior_respondents: set[int],
    taken_names: set[str] | None = None,
) -> WaveOutput:
    """One wave. `taken_names` (the registry's name keys, computed once per sample) keeps invented strangers
    distinct from every member; it is computed here when not given."""
    cal_wave = cal.WAVES[spec.wave]
    clock = _Clock(cal_wave, spec, rng)
    registered = np.array([d.toordinal() for d in members["registered_on"]])
    eligible = np.flatnonzero(registered < cal_wave.fieldwork_start.toordinal())
    n_resp = cal_wave.respondents.value * scale
    respondents = _choose_respondents(rng, members, eligible, n_resp, prior_respondents)

    size_factor = members["size"].map(SIZE_FACTOR).to_numpy()[respondents]
    types = members["member_type"].to_numpy()[respondents]
    # respondents who answered no number validly: they still count as respondents (Rules of the data)
    silent = np.zeros(n_resp, dtype=bool)
    silent[rng.choice(n_resp, size=scale, replace=False)] = True
    values = {
        ind: _allocate_indicator(rng, ind, cal_wave.totals[ind].value * scale, spec, size_factor, types, silent)
        for ind in REPORTED_INDICATORS
    }
    width = len(spec.progress_columns)
    flags = _allocate_progress(rng, commitment_counts[respondents], width, cal_wave.progressing_share, silent)

    organisations = members["organisation"].to_numpy()
    member_ids = members["member_id"].to_numpy()
    countries = members["country_code"].to_numpy()
    ecos = members["ecosystems"].to_numpy()
    people = person_names(rng, len(respondents))

    def base(member: int, person: str, case: str) -> Submission:
        code = countries[member]
        return Submission(
            case=case, status="accepted", reason_code="", member=member,
            member_id_typed=member_ids[member], organisation_typed=organisations[member],
            country_typed=_typed_country(code, spec.country_style, country_names, rng.random()),
            created=clock.start, updated=clock.start, contact=person if rng.random() < 0.9 else None,
            user=email(person, organisations[member], int(rng.integers(3))), language=LANGUAGE.get(code, "en"),
            ecosystems=";".join(ecosystem_names[e] for e in ecos[member]),
        )

    def fill_answers(sub: Submission, row_values: dict[str, int], progress: list[bool]) -> None:
        for ind, value in row_values.items():
            if value < 0:
                continue
            u, v = rng.random(), rng.random()
            if ind == "investment_eur":
                sub.answers[ind] = render_investment(value, u, v, spec.decimal_separator, spec.investment_multiplier)
            else:
                sub.answers[ind] = render_count(value, u, v, spec.decimal_separator)
        labels = []
        for ok in progress:
            if ok:  # "Completed" for about a third, "as planned / on track" for the rest
                labels.append(spec.progressing[0] if rng.random() < 0.35 else spec.progressing[-1])
            else:
                labels.append(spec.not_progressing[int(rng.integers(len(spec.not_progressing)))])
        sub.progress = labels + [None] * (width - len(labels))
        k = int(rng.integers(1, 4))
        sub.skills = ";".join(SKILL_TYPES[i] for i in sorted(rng.choice(len(SKILL_TYPES), size=k, replace=False)))
        if any(c.role == "usefulness" for c in spec.questions) and rng.random() < 0.85:
            sub.usefulness = USEFULNESS[int(rng.choice(4, p=[0.35, 0.45, 0.15, 0.05]))]
        if rng.random() < 0.25:
            template = GOOD_PRACTICES[int(rng.integers(len(GOOD_PRACTICES)))]
            sub.good_practice = template.format(skill=SKILL_TYPES[int(rng.integers(len(SKILL_TYPES)))].lower())

    # -- the accepted submission of every respondent
    accepted: list[Submission] = []
    for i, member in enumerate(respondents.tolist()):
        sub = base(member, people[i], "normal")
        row_values = {ind: int(values[ind][i]) for ind in REPORTED_INDICATORS}
        fill_answers(sub, row_values, flags[i])
        sub.facts = {ind: v for ind, v in row_values.items() if v >= 0}
        if flags[i]:
            sub.facts["commitments_reported"] = len(flags[i])
            sub.facts["commitments_progressing"] = sum(flags[i])
        sub.created = clock.at(rng.uniform(0.15, 0.9))
        sub.updated = sub.created if rng.random() < 0.6 else clock.later(sub.created, rng.exponential(2 * 24 * 60))
        sub.updated = min(sub.updated, clock.at(0.97))
        sub.cid = _cid(rng)
        sub.matched_by = "id"
        accepted.append(sub)

    order = rng.permutation(np.flatnonzero(~silent))
    n_superseded = max(4, round(0.04 * len(accepted)))
    n_mistyped = max(3, round(0.01 * len(accepted)))
    n_id_format = max(3, round(0.02 * len(accepted)))
    superseded_of = order[:n_superseded].tolist()
    mistyped = order[n_superseded:n_superseded + n_mistyped].tolist()
    id_format = order[n_superseded + n_mistyped:n_superseded + n_mistyped + n_id_format].tolist()
    shadowed = order[n_superseded + n_mistyped + n_id_format:]
    silent_ones = np.flatnonzero(silent).tolist()
    for i in silent_ones:
        accepted[i].case = "no_valid_number"
    plain = order[n_superseded:].tolist() + silent_ones

    # -- mistyped registration IDs: the organisation name still identifies the member
    for j, i in enumerate(mistyped):
        sub = accepted[i]
        number = sub.member_id_typed.removeprefix("PFS-")
        kind = j % 3
        if kind == 0 and number.startswith("0"):
            sub.member_id_typed = "PFS-" + "O" + number[1:]  # letter O typed for a zero
        elif kind == 1:
            sub.member_id_typed = "PSF-" + number
        else:
            sub.member_id_typed = None
        if j % 2:
            sub.organisation_typed = "  " + sub.organisation_typed.upper().replace(" ", "  ") + " "
        sub.case, sub.matched_by = "id_mistyped", "name"
    # -- the right ID written loosely: lower case, a space for the dash, stray spaces
    for j, i in enumerate(id_format):
        sub = accepted[i]
        variants = (sub.member_id_typed.lower(), sub.member_id_typed.replace("-", " "), f" {sub.member_id_typed} ")
        sub.member_id_typed = variants[j % 3]
        sub.case = "id_format"
    for i in plain[::40]:
        if accepted[i].case == "normal":
            accepted[i].organisation_typed = accepted[i].organisation_typed.upper()
            accepted[i].case = "organisation_case"

    # -- earlier submissions of the same member, superseded by the accepted one
    superseded: list[Submission] = []
    for j, i in enumerate(superseded_of):
        win = accepted[i]
        member = int(win.member)
        earlier = base(member, win.contact or people[i], "superseded_earlier")
        earlier.status, earlier.reason_code = "superseded", "superseded"
        earlier.member_id_typed, earlier.organisation_typed = win.member_id_typed, win.organisation_typed
        earlier.country_typed, earlier.user, earlier.contact = win.country_typed, win.user, win.contact
        perturbed = {}
        for ind in REPORTED_INDICATORS:
            true = int(values[ind][i])
            if true < 0 or rng.random() < 0.2:
                perturbed[ind] = -1
            elif ind == "investment_eur":
                unit = 10_000 if spec.investment_multiplier == 1000 else 100
                perturbed[ind] = max(1, round(true * rng.uniform(0.5, 1.4) / unit)) * unit
            else:
                perturbed[ind] = max(0, round(true * rng.uniform(0.5, 1.4)))
        fill_answers(earlier, perturbed, flags[i][: max(0, len(flags[i]) - 1)])
        earlier.cid = _cid(rng)
        if j == 0:
            # same Last Update: the later Creation Date wins
            earlier.case = "superseded_tie_creation"
            earlier.updated = win.updated
            earlier.created = clock.later(win.created, -rng.uniform(60, 3 * 24 * 60))
        elif j == 1:
            # same Last Update and Creation Date: the higher Contribution Id wins
            earlier.case = "superseded_tie_contribution_id"
            earlier.created, earlier.updated = win.created, win.updated
            if earlier.cid > win.cid:
                earlier.cid, win.cid = win.cid, earlier.cid
        elif j in (2, 3):
            # the member created a second submission, then went back and edited the first: the first counts
            earlier.case = "superseded_edited_original"
            win.created = clock.at(rng.uniform(0.15, 0.4))
            earlier.created = clock.later(win.created, rng.uniform(60, 5 * 24 * 60))
            earlier.updated = clock.later(earlier.created, rng.uniform(0, 120))
            win.updated = clock.later(earlier.updated, rng.uniform(60, 3 * 24 * 60))
        else:
            earlier.created = clock.later(win.created, -rng.uniform(60, 10 * 24 * 60))
            earlier.created = max(earlier.created, clock.start)
            gap = (win.created - earlier.created).total_seconds() / 60
            earlier.updated = clock.later(earlier.created, rng.uniform(0, gap / 2))
        superseded.append(earlier)

    # -- invalid values, in answers that are otherwise blank: the value is rejected, the submission stands
    kinds = ("negative_value", "not_a_number", "implausible_value")
    n_invalid = 6 * scale
    # the silent respondents' only number is an invalid one
    planted = [(i, REPORTED_INDICATORS[j % len(REPORTED_INDICATORS)]) for j, i in enumerate(silent_ones)]
    slots = [(i, ind) for i in plain if not silent[i] for ind in REPORTED_INDICATORS if values[ind][i] < 0]
    picked = rng.choice(len(slots), size=n_invalid - len(planted), replace=False).tolist()
    for j, (i, ind) in enumerate(planted + [slots[k] for k in picked]):
        invalid_kind = kinds[j % 3]
        invalid = render_invalid(invalid_kind, rng, spec.decimal_separator)
        accepted[i].answers[ind] = invalid
        accepted[i].rejects.append((spec.column("indicator", ind).header, _as_text(invalid), invalid_kind))

    # -- test entries: recognised by the sidecar rule, whatever they contain
    tests: list[Submission] = []
    for j in range(3 * scale):
        flavour = j % 3
        if flavour == 1:
            # a colleague testing with a real member's ID and name, after that member answered
            win = accepted[int(shadowed[j % len(shadowed)])]
            assert win.member is not None  # every accepted submission is a member's
            sub = base(int(win.member), "QA Tester", "test_by_user_name")
            sub.user = f"qa.tester{j}@test.example.org"
            sub.member_id_typed, sub.organisation_typed = win.member_id_typed, win.organisation_typed
            sub.created = clock.later(win.updated, rng.uniform(30, 600))
            sub.updated = clock.later(sub.created, rng.uniform(0, 60))
        else:
            sub = base(int(respondents[0]), "Pact Secretariat", "test")
            sub.member_id_typed = None if flavour == 0 else "PFS-000000"
            sub.organisation_typed = ("TEST - please ignore", "Test organisation (do not count)")[flavour // 2]
            sub.user = (f"pact.secretariat{j}@test.example.org" if flavour == 0 else f"survey.check{j}@example.com")
            sub.case = "test_by_both" if flavour == 0 else "test_by_organisation"
            sub.created = clock.at(rng.uniform(0.0, 0.2))
            sub.updated = sub.created
            sub.country_typed = _typed_country("BE", spec.country_style, country_names, 0.0)
        sub.member = None
        sub.status, sub.reason_code = "test", "test_entry"
        fill_answers(sub, {ind: 50_000 * (100 if ind == "investment_eur" else 1) for ind in REPORTED_INDICATORS},
                     [True] * width)
        sub.cid = _cid(rng)
        tests.append(sub)

    # -- submissions rejected whole
    rejected: list[Submission] = []
    taken = set(taken_names) if taken_names is not None else {name_key(o) for o in organisations}
    strangers = organisation_names(rng, ["SME"] * scale, ["DE"] * scale, taken=taken)
    for j in range(scale):
        sub = base(int(respondents[0]), people[j], "unknown_member")
        sub.member = None
        sub.member_id_typed = f"PFS-{len(members) + 5_000_000 + j:07d}"
        sub.organisation_typed = strangers[j]
        sub.user = email(people[j], strangers[j], j)
        sub.country_typed = _typed_country("DE", spec.country_style, country_names, 0.0)
        sub.status, sub.reason_code = "rejected", "unknown_member"
        sub.rejects = [(spec.column("member_id").header, sub.member_id_typed, "unknown_member")]
        rejected.append(sub)
    outsiders = np.setdiff1d(eligible, respondents)
    for j, member in enumerate(rng.choice(outsiders, size=scale, replace=False).tolist()):
        sub = base(int(member), people[-1 - j], "unknown_member_state")
        sub.country_typed = spec.unknown_country
        sub.status, sub.reason_code = "rejected", "unknown_member_state"
        sub.rejects = [(spec.column("country").header, spec.unknown_country, "unknown_member_state")]
        rejected.append(sub)
    for sub in rejected:
        fill_answers(sub, {ind: int(rng.integers(10, 900)) * (10_000 if ind == "investment_eur" else 1)
                           for ind in REPORTED_INDICATORS}, [True])
        sub.created = clock.at(rng.uniform(0.1, 0.9))
        sub.updated = sub.created
        sub.cid = _cid(rng)

    submissions = accepted + superseded + tests + rejected
    submissions.sort(key=lambda s: (s.created, s.cid), reverse=True)  # EUSurvey lists the newest first
    # blank rows somewhere inside the data (never after the last row: a trailing empty row does not exist in xlsx)
    n_blank = 3 * scale
    positions = sorted(rng.choice(np.arange(1, len(submissions)), size=n_blank, replace=False).tolist(), reverse=True)
    rows_in_order: list[Submission | str] = list(submissions)
    for j, pos in enumerate(positions):
        rows_in_order.insert(pos, "blank_whitespace" if j % 2 else "blank_empty")

    return _assemble(spec, rows_in_order, respondents, members)


def _as_text(cell: object) -> str:
    if isinstance(cell, float) and cell.is_integer():
        return str(int(cell))
    return str(cell)


def _assemble(
    spec: WaveSpec, rows_in_order: list, respondents: np.ndarray, members: pd.DataFrame
) -> WaveOutput:
    member_ids = members["member_id"].to_numpy()
    width = len(spec.header)
    columns = spec.columns
    parts: list[list[list[object]]] = []
    truth_rows, truth_facts, truth_rejects = [], [], []
    for source_file, chunk in zip(spec.part_files, _split_rows(rows_in_order, spec.workbooks), strict=True):
        out_rows: list[list[object]] = []
        for index, sub in enumerate(chunk):
            row_number = FIRST_DATA_ROW + index
            if isinstance(sub, str):
                cells: list[object] = [None] * width
                if sub == "blank_whitespace":
                    cells[0], cells[3] = " ", "  "
                out_rows.append(cells)
                truth_rows.append((source_file, row_number, None, "blank", None, "blank_row", "", sub))
                continue
            out_rows.append([_cell(spec, col, sub) for col in columns])
            mid = member_ids[sub.member] if sub.member is not None else None
            truth_rows.append((source_file, row_number, sub.cid, sub.status, mid, sub.reason_code, sub.matched_by,
                               sub.case))
            if sub.status == "accepted":
                for ind, value in sub.facts.items():
                    column = spec.column("indicator", ind).header if ind in REPORTED_INDICATORS else None
                    truth_facts.append((spec.wave, mid, ind, value, source_file, row_number, column, sub.cid))
            for column, value, reason in sub.rejects:
                truth_rejects.append((source_file, row_number, column, value, reason, sub.cid))
        parts.append(out_rows)
    rows_frame = pd.DataFrame(truth_rows, columns=[
        "source_file", "row", "contribution_id", "status", "member_id", "reason_code", "matched_by", "case"])
    rows_frame.insert(1, "sheet", SHEET)
    rows_frame.insert(0, "wave", spec.wave)
    facts = pd.DataFrame(truth_facts, columns=[
        "year", "member_id", "indicator", "value", "source_file", "row", "column", "contribution_id"])
    rejects = pd.DataFrame(truth_rejects, columns=[
        "source_file", "row", "column", "value", "reason_code", "contribution_id"])
    rejects.insert(1, "sheet", SHEET)
    return WaveOutput(spec, parts, rows_frame, facts, rejects, respondents)


def _split_rows(rows_in_order: list, workbooks: int) -> list[list]:
    """The rows of each workbook of an export split in `workbooks`, newest first. A workbook never ends on an
    empty row: a trailing empty row does not exist in a spreadsheet file."""
    bounds = [0]
    for k in range(1, workbooks):
        cut = len(rows_in_order) * k // workbooks
        while isinstance(rows_in_order[cut - 1], str):
            cut += 1
        bounds.append(cut)
    bounds.append(len(rows_in_order))
    return [rows_in_order[start:end] for start, end in itertools.pairwise(bounds)]


def _cell(spec: WaveSpec, col: Column, sub: Submission) -> object:
    role = col.role
    if role == "member_id":
        return sub.member_id_typed
    if role == "organisation":
        name = sub.organisation_typed
        return name.replace("&", "&amp;") if spec.escaped_text and name else name
    if role == "country":
        return sub.country_typed
    if role == "contact":
        return sub.contact
    if role == "ecosystems":
        return sub.ecosystems
    if role == "indicator":
        return sub.answers.get(col.key)
    if role == "progress":
        k = int(col.key) - 1
        return sub.progress[k] if k < len(sub.progress) else None
    if role == "skills":
        return sub.skills
    if role == "usefulness":
        return sub.usefulness
    if role == "good_practice":
        return sub.good_practice
    if role == "comment":
        # the second "Comments (optional)" repeats the first one's title: exports repeat titles
        return "See the good practice above." if col.key == "2" and sub.good_practice else None
    if col.key == "contribution_id":
        return sub.cid
    if col.key == "user_name":
        return sub.user
    if col.key == "creation_date":
        return sub.created  # a date-time cell
    if col.key == "last_update":
        return sub.updated
    if col.key == "languages":
        return sub.language
    raise ValueError(f"no rule for column {col.header!r}")

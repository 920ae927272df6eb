"""What the synthetic sample is calibrated to: the Pact's published figures, and the values chosen where none exist.

Every total here is what the pipeline must reproduce exactly from the raw sample (docs/rules_of_the_data.md, "The bundled sample").
Each figure carries its standing: "P" published, "≈P" published as "nearly", "D" derived by arithmetic from
published figures, "chosen" a plausible value picked for the sample because nothing was published (the dashboard
marks those as not published). Investment is in euro here; the truth stores it in cents like the curated facts.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from fractions import Fraction

LAUNCH = dt.date(2020, 11, 10)
# The registry extract is dated at the last published membership count (IP/25/1247, around 19 May 2025).
REGISTRY_AS_OF = dt.date(2025, 5, 19)
REGISTRY_EXPORTED_AT = dt.datetime(2025, 5, 20, 9, 0)

# Published membership counts (reference/membership_timeline.csv) the registration dates follow. Counts between
# anchors are interpolated linearly; at scale K every count is multiplied by K.
MEMBERSHIP_ANCHORS: tuple[tuple[dt.date, int], ...] = (
    (LAUNCH, 0),
    (dt.date(2021, 11, 10), 450),
    (dt.date(2022, 11, 10), 1000),
    (dt.date(2023, 5, 23), 1500),
    (dt.date(2024, 3, 21), 2500),
    (REGISTRY_AS_OF, 3200),
)
MEMBERS = MEMBERSHIP_ANCHORS[-1][1]


@dataclass(frozen=True)
class Figure:
    value: int
    standing: str  # "P" | "≈P" | "D" | "chosen"


@dataclass(frozen=True)
class WaveCalibration:
    wave: int  # activity year
    respondents: Figure
    totals: dict[str, Figure]  # indicator -> total (investment_eur in euro)
    progressing_share: Fraction
    progressing_standing: str
    fieldwork_start: dt.date  # members registered before this day are invited
    fieldwork_end: dt.date
    exported_at: dt.datetime
    notes: dict[str, str] = field(default_factory=dict)


# Fieldwork: the first survey ran Feb–Mar 2023 (docs/rules_of_the_data.md); the dates of the later two are not published and
# are chosen as the same season of the following year, before each wave's first publication.
WAVES: dict[int, WaveCalibration] = {
    2022: WaveCalibration(
        wave=2022,
        respondents=Figure(461, "P"),
        totals={
            "people_trained": Figure(2_000_000, "P"),
            "training_programmes": Figure(15_500, "P"),
            "investment_eur": Figure(160_000_000, "P"),
            "people_reached": Figure(19_000_000, "P"),
            "stakeholders_joined": Figure(21_500, "P"),
        },
        progressing_share=Fraction(9, 10),
        progressing_standing="P",
        fieldwork_start=dt.date(2023, 2, 6),
        fieldwork_end=dt.date(2023, 3, 31),
        exported_at=dt.datetime(2023, 4, 3, 9, 30),
    ),
    2023: WaveCalibration(
        wave=2023,
        # ~40% of the ~2,290 members registered before fieldwork, close to the first wave's 38%
        respondents=Figure(915, "chosen"),
        totals={
            "people_trained": Figure(1_500_000, "≈P"),
            "training_programmes": Figure(32_500, "D"),
            # published as "nearly €151 million"; €150 M makes 2022+2023 equal the published €310 M
            "investment_eur": Figure(150_000_000, "≈P"),
            "people_reached": Figure(16_500_000, "chosen"),
            "stakeholders_joined": Figure(30_000, "chosen"),
        },
        # "almost all respondents report progress on all 4 principles" (no number published)
        progressing_share=Fraction(23, 25),
        progressing_standing="chosen",
        fieldwork_start=dt.date(2024, 1, 15),
        fieldwork_end=dt.date(2024, 3, 1),
        exported_at=dt.datetime(2024, 3, 4, 8, 45),
    ),
    2024: WaveCalibration(
        wave=2024,
        # ~40% of the ~3,000 members registered before fieldwork
        respondents=Figure(1_200, "chosen"),
        totals={
            "people_trained": Figure(2_600_000, "D"),
            "training_programmes": Figure(48_000, "P"),
            "investment_eur": Figure(172_000_000, "chosen"),
            "people_reached": Figure(23_000_000, "chosen"),
            "stakeholders_joined": Figure(42_000, "P"),
        },
        progressing_share=Fraction(22, 25),
        progressing_standing="chosen",
        fieldwork_start=dt.date(2025, 1, 20),
        fieldwork_end=dt.date(2025, 3, 14),
        exported_at=dt.datetime(2025, 3, 17, 10, 5),
    ),
}

# Values at or above this (in the question's own unit) are planted as "absurd"; every valid value in the sample is
# far below VALID_CEILING, so a pipeline may put its plausibility limit anywhere between the two.
ABSURD_FLOOR = 10**12
VALID_CEILING = 10**9

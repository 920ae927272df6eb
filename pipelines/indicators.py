"""The indicator catalogue: `pipelines/indicators.yml`, validated once at import.

Every table that describes indicators (the curated `indicators` table, the schema's indicator lists, the
plausibility ceilings, the headline cards, the briefing's sentences) is read from here, so that an indicator is
described once. A missing or malformed field stops the import instead of falling back (no ceiling at all, say).

    from pipelines.indicators import CATALOGUE, headline_order, label, unit, briefing_phrase
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, PositiveInt, model_validator

CATALOGUE_FILE = Path(__file__).with_name("indicators.yml")


class Indicator(BaseModel):
    """One catalogue entry (the fields are described at the top of indicators.yml)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    label: str = Field(min_length=1)
    short_label: str = Field(min_length=1)
    unit: str = Field(min_length=1)
    scale: PositiveInt  # stored integer / scale = value in `unit`
    definition: str = Field(min_length=1)
    kind: Literal["flow", "stock"]
    source: Literal["question", "commitment_progress"]
    # Required keys even where null: an indicator left out of the ceilings must be a visible choice.
    ceiling: PositiveInt | None
    headline: bool
    briefing_phrase: str | None
    sum_over_members: bool
    sum_over_years: bool
    sum_over_partnerships: Literal[False]  # a member in two partnerships counts in both

    @model_validator(mode="after")
    def _complete(self) -> Indicator:
        if self.source == "question" and self.ceiling is None:
            raise ValueError(f"{self.name}: a reported indicator needs a plausibility ceiling")
        if self.headline and not self.briefing_phrase:
            raise ValueError(f"{self.name}: a headline indicator needs a briefing_phrase")
        return self

    @property
    def reported(self) -> bool:
        """A survey question maps to it directly (the commitment ones are counted from the progress matrix)."""
        return self.source == "question"


class Catalogue(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    indicators: tuple[Indicator, ...] = Field(min_length=1)

    @model_validator(mode="after")
    def _unique(self) -> Catalogue:
        names = [i.name for i in self.indicators]
        repeated = sorted({n for n in names if names.count(n) > 1})
        if repeated:
            raise ValueError(f"indicators listed twice: {', '.join(repeated)}")
        return self

    def __getitem__(self, name: str) -> Indicator:
        for indicator in self.indicators:
            if indicator.name == name:
                return indicator
        raise KeyError(name)

    def names(self) -> tuple[str, ...]:
        return tuple(i.name for i in self.indicators)


def load(path: Path = CATALOGUE_FILE) -> Catalogue:
    return Catalogue.model_validate(yaml.safe_load(path.read_text(encoding="utf-8")))


CATALOGUE = load()


def headline_order() -> tuple[str, ...]:
    """The indicators shown as headline cards, in card order."""
    return tuple(i.name for i in CATALOGUE.indicators if i.headline)


def reported() -> tuple[str, ...]:
    """The indicators a survey question maps to directly, in catalogue order."""
    return tuple(i.name for i in CATALOGUE.indicators if i.reported)


def label(name: str) -> str:
    return CATALOGUE[name].label


def short_label(name: str) -> str:
    return CATALOGUE[name].short_label


def unit(name: str) -> str:
    return CATALOGUE[name].unit


def scale(name: str) -> int:
    return CATALOGUE[name].scale


def ceiling(name: str) -> int:
    """The plausibility ceiling of a reported indicator, in its unit; a KeyError for one that has none."""
    value = CATALOGUE[name].ceiling
    if value is None:
        raise KeyError(f"{name} has no plausibility ceiling (it is not reported)")
    return value


def briefing_phrase(name: str) -> str:
    phrase = CATALOGUE[name].briefing_phrase
    if phrase is None:
        raise KeyError(f"{name} has no briefing phrase (it is not a headline indicator)")
    return phrase


def briefing_phrases() -> dict[str, str]:
    """name -> phrase for every indicator that has one (the briefing's SENTENCE_PHRASES)."""
    return {i.name: i.briefing_phrase for i in CATALOGUE.indicators if i.briefing_phrase}

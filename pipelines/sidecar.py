"""The `<file>.source.yml` sidecar: what a raw file is, where it came from and how to read it.

Every file under `data/raw/` has one. The model is strict (`extra="forbid"`): a misspelt key or an unknown
indicator is an error naming the sidecar file and the key, raised when the sidecar is loaded, before any data
is read.
"""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path
from typing import Annotated, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from pipelines.schema import INDICATOR_NAMES, REPORTED_INDICATORS

SIDECAR_SUFFIX = ".source.yml"


class SidecarError(ValueError):
    """A sidecar is missing, unreadable or does not match the model."""


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ReadSpec(Strict):
    """Where the table sits in the file."""

    format: Literal["xlsx", "xls", "ods", "zip", "csv"] | None = Field(
        None, description="the file's format; when left out, taken from its name (a zip holds several workbooks)")
    sheet: str | None = Field(None, description="sheet name (spreadsheets; a survey export's defaults to Content)")
    sheets: dict[str, str] = Field(
        default_factory=dict, description="table -> sheet, for a workbook holding several tables (the registry)"
    )
    header_row: int = Field(1, ge=1, description="1-based row of the column headers")
    encoding: str = "utf-8"


class NumberFormat(Strict):
    """How numbers are written in the file. Thousands separators are the other mark plus spaces."""

    decimal_separator: Literal[".", ","] = "."


class TestEntryRule(Strict):
    """A row is a test entry when `column` matches `pattern` (a Python regular expression, searched)."""

    column: str
    pattern: str

    @field_validator("pattern")
    @classmethod
    def _compiles(cls, value: str) -> str:
        re.compile(value)
        return value


class CommitmentProgress(Strict):
    """A matrix question: one column per commitment slot, each answer one of the listed labels."""

    columns: list[str] = Field(min_length=1)
    progressing: list[str] = Field(min_length=1)
    not_progressing: list[str] = Field(min_length=1)


class Identity(Strict):
    """Questions that identify the respondent. `member_id` may be blank or wrong; `organisation` is the fallback."""

    member_id: str
    organisation: str
    country: str | None = Field(None, description="optional: the registry has every member's Member State")


class MetaColumns(Strict):
    """EUSurvey's meta columns. Each is found by its label in any EUSurvey language when left out; name one only
    when an export labels it otherwise."""

    invitation_number: str | None = None
    contribution_id: str | None = None
    user_name: str | None = None
    creation_date: str | None = None
    last_update: str | None = None
    languages: str | None = None
    total_score: str | None = None


IndicatorName = Annotated[str, Field(description="a canonical reported indicator")]


class ExpectedChange(Strict):
    """A jump in an indicator's total on the previous wave that the sidecar acknowledges, with why."""

    indicator: str
    reason: str = Field(min_length=3)

    @field_validator("indicator")
    @classmethod
    def _known(cls, value: str) -> str:
        if value not in REPORTED_INDICATORS:
            raise ValueError(f"unknown indicator {value!r}; known: {', '.join(REPORTED_INDICATORS)}")
        return value


class SurveySpec(Strict):
    """One wave of the annual member survey (EUSurvey `Content` export)."""

    wave: int = Field(ge=2020, le=2100, description="activity year the wave reports on")
    alias: str
    identity: Identity
    indicators: dict[str, IndicatorName] = Field(description="question header -> indicator")
    commitment_progress: CommitmentProgress | None = None
    personal: list[str] = Field(default_factory=list, description="columns with personal data: never curated")
    number_format: NumberFormat = NumberFormat()
    multipliers: dict[IndicatorName, int] = Field(default_factory=dict, description="e.g. investment asked in kEUR")
    datetime_format: str = Field("%d/%m/%Y %H:%M", description="for dates written as text; date cells need none")
    test_entries: list[TestEntryRule] = Field(default_factory=list)
    meta: MetaColumns = MetaColumns()
    show_shortnames: bool = Field(
        False, description="exported with EUSurvey's 'show shortnames': headers end in ' (shortname)', choice "
                           "answers in '(shortname)'; both are stripped before matching")
    part_of: str | None = Field(
        None, description="files that are parts of one export (each names the same export): they share a wave")
    ran_early: str | None = Field(
        None, description="why this wave was answered before its activity year ended (the run stops otherwise)")
    expected_changes: list[ExpectedChange] = Field(
        default_factory=list, description="jumps on the previous wave the sidecar acknowledges, with the reason")

    @field_validator("indicators")
    @classmethod
    def _known_indicators(cls, value: dict[str, str]) -> dict[str, str]:
        for question, indicator in value.items():
            if indicator not in REPORTED_INDICATORS:
                raise ValueError(
                    f"question {question!r} maps to unknown indicator {indicator!r}; "
                    f"known: {', '.join(REPORTED_INDICATORS)}"
                )
        return value

    @field_validator("multipliers")
    @classmethod
    def _known_multiplied(cls, value: dict[str, int]) -> dict[str, int]:
        for indicator, factor in value.items():
            if indicator not in INDICATOR_NAMES:
                raise ValueError(f"multiplier for unknown indicator {indicator!r}")
            if factor <= 0:
                raise ValueError(f"multiplier for {indicator!r} must be positive, got {factor}")
        return value


class Sidecar(Strict):
    """Provenance and reading instructions for one raw file."""

    title: str
    kind: Literal["survey", "registry", "reference", "corrections"]
    table: str | None = Field(None, description="for registry/reference: which table(s) the file holds")
    publisher: str
    source_url: str | None = None
    sources: list[str] = Field(default_factory=list, description="public pages the content is taken from")
    received: dt.date
    licence: str
    synthetic: bool = Field(False, description="true for the generated sample: the dashboard says so")
    description: str = ""
    read: ReadSpec
    survey: SurveySpec | None = None

    @property
    def survey_spec(self) -> SurveySpec:
        """The survey section of a survey sidecar (validation guarantees one there)."""
        if self.survey is None:
            raise ValueError(f"a {self.kind} sidecar has no 'survey' section")
        return self.survey

    @model_validator(mode="after")
    def _kind_matches(self) -> Sidecar:
        if self.kind == "survey" and self.survey is None:
            raise ValueError("a survey sidecar needs a 'survey' section")
        if self.kind != "survey" and self.survey is not None:
            raise ValueError(f"a {self.kind} sidecar has no 'survey' section")
        if self.kind != "survey" and self.read.format in ("xlsx", "xls", "ods") and not (
                self.read.sheet or self.read.sheets):
            raise ValueError(f"read.sheet (or read.sheets) is required for {self.read.format} files")
        return self


def sidecar_path(data_file: Path) -> Path:
    return data_file.with_name(data_file.name + SIDECAR_SUFFIX)


# A real sidecar is a few kB; anything near this is not one, and is refused before the YAML parser sees it.
MAX_SIDECAR_BYTES = 1024 * 1024


def load_sidecar(data_file: Path) -> Sidecar:
    """Load and validate the sidecar of `data_file`; errors name the sidecar file and the offending key.

    Every way a sidecar can fail, including the ones PyYAML does not raise as YAMLError (a nesting deep enough
    for a RecursionError, `received: 2025-13-45` as a ValueError from the date constructor, a file too big to
    be one), is a SidecarError, so the run stops on one line naming the file instead of a traceback.
    """
    path = sidecar_path(data_file)
    if not path.is_file():
        raise SidecarError(f"{data_file}: missing sidecar {path.name} (every raw file needs one; see README)")
    try:
        with path.open("rb") as handle:  # bounded read: the size is checked on what is read, not on a stat
            data = handle.read(MAX_SIDECAR_BYTES + 1)
    except OSError as exc:
        raise SidecarError(f"{path}: cannot read the sidecar: {exc.strerror or exc}") from exc
    if len(data) > MAX_SIDECAR_BYTES:
        raise SidecarError(f"{path}: the sidecar is larger than {MAX_SIDECAR_BYTES // 1024} kB; "
                           "a sidecar is a few kB of YAML")
    try:
        raw = yaml.safe_load(data.decode("utf-8"))
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        raise SidecarError(f"{path}: not valid YAML: {exc}") from exc
    except RecursionError:
        raise SidecarError(f"{path}: not valid YAML: nested too deeply to be a sidecar") from None
    except MemoryError:
        raise SidecarError(f"{path}: not valid YAML: too large to load") from None
    except Exception as exc:  # the loader's constructors raise plain ValueError & co. on bad tagged values
        raise SidecarError(f"{path}: not valid YAML: {type(exc).__name__}: {exc}") from exc
    if not isinstance(raw, dict):
        raise SidecarError(f"{path}: expected a mapping at the top level, not {_kind_of(raw)}")
    try:
        return Sidecar.model_validate(raw)
    except ValidationError as exc:
        problems = "; ".join(
            f"key '{'.'.join(str(p) for p in err['loc'])}': {err['msg']}" for err in exc.errors()
        )
        raise SidecarError(f"{path}: {problems}") from exc
    except (RecursionError, MemoryError) as exc:
        raise SidecarError(f"{path}: the sidecar cannot be checked ({type(exc).__name__}); "
                           "it is not a sidecar's shape") from None


def _kind_of(value: object) -> str:
    return "an empty file" if value is None else f"a {type(value).__name__}"

"""The indicator catalogue (pipelines/indicators.yml): every entry complete, and the tables read from it."""

from __future__ import annotations

import pydantic
import pytest
import yaml

from pipelines import indicators, rules, schema
from pipelines.indicators import CATALOGUE, CATALOGUE_FILE, Catalogue


def _entries() -> list[dict]:
    return yaml.safe_load(CATALOGUE_FILE.read_text(encoding="utf-8"))["indicators"]


@pytest.mark.parametrize("entry", _entries(), ids=lambda e: e["name"])
def test_every_indicator_is_complete(entry):
    missing = set(indicators.Indicator.model_fields) - set(entry)
    assert not missing, f"{entry['name']} leaves out {sorted(missing)}"
    indicator = CATALOGUE[entry["name"]]
    assert indicator.label and indicator.short_label and indicator.unit and indicator.definition
    if indicator.reported:
        assert indicator.ceiling is not None and indicator.ceiling > 0
    if indicator.headline:
        assert indicator.briefing_phrase


@pytest.mark.parametrize("field", ["ceiling", "unit", "briefing_phrase", "sum_over_years"])
def test_a_missing_field_stops_the_catalogue(field):
    entries = _entries()
    del entries[0][field]
    with pytest.raises(pydantic.ValidationError, match=field):
        Catalogue.model_validate({"indicators": entries})


def test_a_reported_indicator_without_a_ceiling_is_refused():
    entries = _entries()
    entries[0]["ceiling"] = None
    with pytest.raises(pydantic.ValidationError, match="plausibility ceiling"):
        Catalogue.model_validate({"indicators": entries})


def test_an_indicator_listed_twice_is_refused():
    entries = _entries()
    with pytest.raises(pydantic.ValidationError, match="listed twice"):
        Catalogue.model_validate({"indicators": [*entries, entries[0]]})


def test_schema_and_rules_are_read_from_the_catalogue():
    assert tuple(e["name"] for e in _entries()) == schema.INDICATOR_NAMES
    assert tuple(e["name"] for e in _entries() if e["source"] == "question") == schema.REPORTED_INDICATORS
    assert {e["name"]: e["ceiling"] for e in _entries() if e["source"] == "question"} == rules.CEILINGS
    table = {row["indicator"]: row for row in schema.indicator_table().to_pylist()}
    for entry in _entries():
        row = table[entry["name"]]
        assert {k: v for k, v in row.items() if k != "indicator"} == {k: entry[k] for k in row if k != "indicator"}


def test_the_headline_order_and_the_lookups():
    assert indicators.headline_order() == tuple(e["name"] for e in _entries() if e["headline"])
    assert indicators.label("investment_eur") == "Investment in up-/reskilling"
    assert indicators.unit("investment_eur") == "EUR"
    assert indicators.scale("investment_eur") == 100
    assert indicators.briefing_phrase("people_trained") == "people trained"
    assert set(indicators.briefing_phrases()) == set(indicators.headline_order())
    with pytest.raises(KeyError):
        indicators.ceiling("commitments_reported")
    with pytest.raises(KeyError):
        indicators.label("people_trainned")

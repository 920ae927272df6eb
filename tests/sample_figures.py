"""The figures the bundled sample reproduces: docs/rules_of_the_data.md, "The bundled sample".

One list for the generator's truth (test_sample.py), the curated sample (test_pipeline_sample.py) and the
dashboard's cards (test_dashboard_published.py).
"""

from __future__ import annotations

# Per survey year, the figures the Pact published (P) or that follow from them by arithmetic (D): EUR in euro, the
# share of commitments progressing as a fraction. A figure left out was not published: the sample's value for it
# is chosen, and recorded in pipelines/sample/calibration.py.
PUBLISHED: dict[int, dict[str, float]] = {
    2022: {"respondents": 461, "people_trained": 2_000_000, "training_programmes": 15_500,
           "investment_eur": 160_000_000, "people_reached": 19_000_000, "stakeholders_joined": 21_500,
           "commitments_progressing_share": 0.90},
    2023: {"people_trained": 1_500_000, "training_programmes": 32_500, "investment_eur": 150_000_000},
    2024: {"people_trained": 2_600_000, "training_programmes": 48_000, "stakeholders_joined": 42_000},
}

# Totals the Pact published over several survey years: (indicator, first year, last year) -> total (EUR in euro).
CROSS_CHECKS: dict[tuple[str, int, int], int] = {
    ("people_trained", 2022, 2023): 3_500_000,
    ("training_programmes", 2022, 2023): 48_000,
    ("investment_eur", 2022, 2023): 310_000_000,
    ("people_trained", 2022, 2024): 6_100_000,
}

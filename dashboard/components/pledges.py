"""The Pact's headline goals in the sources' own words, with whose commitment each is (Progress and About)."""

from __future__ import annotations

from collections.abc import Sequence

from dash import html

from dashboard.analysis import TargetProgress

# Context, not a Pact goal: the EU's own 2030 adult-learning goal, which Pact communications tie the Pact to.
CONTEXT_GOAL = (
    "Context: the EU's 2030 goal is that at least 60% of adults aged 25–64 take part in training every year "
    "(2025 milestone: 47%). It is measured by Eurostat's surveys of the population, not by the Pact's survey, so "
    "the Pact's figures are not a share of it."
)
CONTEXT_GOAL_SOURCE = (
    "https://op.europa.eu/webpub/eac/education-and-training-monitor-2023/en/monitor-toolbox/themes/adult-learning.html"
)


def pledge_quotes(progress: Sequence[TargetProgress]) -> html.Div:
    """Each goal as the source words it: the partnerships pledged them; the Commission did not set them."""
    return html.Div([
        html.P("The partnerships' collective pledges, as the sources word them:", className="small mb-1"),
        html.Ul([html.Li([t.text, " ", _link(t.first_source)] if t.first_source else t.text)
                 for t in progress if t.text], className="small"),
    ], className="pledge-quotes")


def context_goal() -> html.P:
    return html.P([CONTEXT_GOAL, " ", _link(CONTEXT_GOAL_SOURCE)], className="small text-body-secondary",
                  id="about-context-goal")


def _link(url: str) -> html.A:
    return html.A("Source", href=url, rel="noopener noreferrer", target="_blank")

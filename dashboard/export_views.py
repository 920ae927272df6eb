"""What each page exports: the rows behind its views, from the same query functions and figure builders the page
uses, described for the export builders (dashboard/exports.py) and the briefing pack (dashboard/briefing.py).

A page's query string is parsed by the page's own parser (dashboard/state.py), so an export reproduces exactly the
view on screen, with the data vintage pinned in its permalink. Nothing here writes SQL: every number comes from a
dashboard.data function.
"""

from __future__ import annotations

import dataclasses
import logging
import math
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from types import ModuleType

import pandas as pd
import plotly.graph_objects as go

from dashboard import analysis, data, figures, state
from dashboard.briefing import (
    Briefing,
    ChartImage,
    DataTable,
    HeadlineCell,
    HeadlineRow,
    build_docx,
    change_sentence,
    coverage_text,
    exact,
    share_sentence,
    target_sentence,
)
from dashboard.exports import (
    Column,
    Definition,
    ExportMeta,
    ExportTable,
    InputFile,
    export_filename,
    figure_for_export,
    to_xlsx_bytes,
    year_span,
    zip_bytes,
)

log = logging.getLogger(__name__)

PAGE_PATHS: dict[str, str] = {
    "progress": "/",
    "explore": "/explore",
    "partnerships": "/partnerships",
    "data": "/data",
    "about": "/about",
}
PAGE_TITLES: dict[str, str] = {
    "progress": "Progress",
    "explore": "Explore",
    "partnerships": "Partnerships",
    "data": "Data",
    "about": "About",
}
NOT_ADDITIVE = ("A member in several partnerships counts in each, so figures across partnerships are not additive: "
                "never sum or stack them.")
EU_TOTAL_RULE = "An EU total counts each member once; a breakdown by ecosystem uses the member's primary ecosystem."


class ExportUnavailable(RuntimeError):
    """No curated data to export (the pipeline has not run)."""


@dataclass(frozen=True)
class View:
    """One chart or table of a page: its rows and, for a chart, the on-screen figure."""

    key: str
    table: ExportTable
    figure: go.Figure | None = None
    summary: str = ""  # what the view shows, in a sentence: the briefing's first key points


@dataclass(frozen=True)
class PageExport:
    page: str
    vintage: data.Vintage
    permalink: str
    views: tuple[View, ...]
    messages: tuple[str, ...] = ()

    def view(self, key: str) -> View:
        for view in self.views:
            if view.key == key:
                return view
        raise KeyError(key)

    @property
    def keys(self) -> tuple[str, ...]:
        return tuple(v.key for v in self.views)


# --------------------------------------------------------------------------------------------------------------
# Shared metadata
# --------------------------------------------------------------------------------------------------------------


def flag_codes(*, synthetic: bool = False, not_published: bool = False, break_in_series: bool = False,
               derived: bool = False, withheld: bool = False) -> str:
    """Eurostat-style flag codes for one figure (legend in dashboard.exports.FLAG_LEGEND)."""
    codes = [code for code, on in (("s", synthetic), ("n", not_published), ("b", break_in_series), ("d", derived),
                                   ("c", withheld)) if on]
    return " ".join(codes)


def _withheld(frame: pd.DataFrame) -> list[bool]:
    # Members reported yet no value: the query layer withheld it (public mode's disclosure control).
    return [bool(n) and pd.isna(v) for v, n in zip(frame["value"], frame["n_reporting"], strict=True)]


def _codes_in(frame: pd.DataFrame, column: str = "flags") -> tuple[str, ...]:
    if column not in frame.columns:
        return ()
    found = {code for text in frame[column].dropna() for code in str(text).split()}
    return tuple(code for code in ("s", "n", "b", "p", "d", "c") if code in found)


def counting_rule(meta: data.IndicatorMeta) -> str:
    parts = ["EU total counts each member once"]
    parts.append("summed over members" if meta.sum_over_members else "not summed over members")
    parts.append("summed over years in a range" if meta.sum_over_years
                 else "a stock: a range shows its last year only, never a sum over years")
    parts.append("partnership figures are not additive")
    return "; ".join(parts)


def _definitions(vintage: data.Vintage, indicators: Sequence[str] | None = None) -> tuple[Definition, ...]:
    catalogue = data.indicator_catalogue(vintage)
    chosen = [m for m in catalogue if indicators is None or m.indicator in indicators]
    return tuple(Definition(m.indicator, m.label, m.unit, m.definition, counting_rule(m)) for m in chosen)


def _inputs(vintage: data.Vintage) -> tuple[InputFile, ...]:
    entries = data.manifest(vintage).get("inputs") or []
    files = []
    for entry in entries:
        if not isinstance(entry, dict):
            continue
        rows = entry.get("rows")
        files.append(InputFile(
            path=str(entry.get("path", "")), kind=str(entry.get("kind", "")), sha256=str(entry.get("sha256", "")),
            rows=int(rows) if isinstance(rows, int) else None, title=str(entry.get("title") or ""),
            publisher=str(entry.get("publisher") or ""), received=str(entry.get("received") or ""),
            source_url=str(entry.get("source_url") or ""),
        ))
    return tuple(files)


@dataclass(frozen=True)
class _Context:
    """What every view of one page request shares."""

    vintage: data.Vintage
    info: data.VintageInfo
    dims: data.Dimensions
    permalink: str
    page: str
    filters: tuple[tuple[str, str], ...]
    inputs: tuple[InputFile, ...]

    def meta(self, title: str, *, frame: pd.DataFrame | None = None, **fields) -> ExportMeta:
        flags = fields.pop("flags", None)
        if flags is None:
            flags = _codes_in(frame) if frame is not None else (("s",) if self.info.synthetic else ())
        return ExportMeta(
            view=fields.pop("view", PAGE_TITLES[self.page]), title=title, vintage_id=self.vintage.vintage_id,
            permalink=self.permalink, vintage_created=self.info.created_at,
            synthetic=fields.pop("synthetic", self.info.synthetic), filters=fields.pop("filters", self.filters), waves=self.dims.years, inputs=self.inputs,
            flags=tuple(flags), **fields,
        )


def _context(page: str, vintage: data.Vintage, permalink: str, filters: tuple[tuple[str, str], ...]) -> _Context:
    return _Context(vintage, data.vintage_info(vintage), data.dimensions(vintage), permalink, page, filters,
                    _inputs(vintage))


def _page_module(page: str) -> ModuleType:
    """A page module as Dash Pages imported it (`pages.<name>`): importing it again would register it twice."""
    import dash

    for entry in dash.page_registry.values():
        if entry["path"] == PAGE_PATHS[page]:
            return sys.modules[entry["module"]]
    raise ExportUnavailable(f"the {page} page is not registered: import dashboard.app first")


def _permalink(base_url: str, page: str, search: str) -> str:
    return base_url.rstrip("/") + PAGE_PATHS[page] + search


def query_from_args(args: Mapping[str, Sequence[str]]) -> dict[str, object]:
    """A query string as Dash Pages hands it to `layout(**query)`: one value as a string, repeats as a list."""
    return {key: (list(values) if len(values) > 1 else values[0]) for key, values in args.items() if values}


# --------------------------------------------------------------------------------------------------------------
# Explore
# --------------------------------------------------------------------------------------------------------------


def _value_column(meta: data.IndicatorMeta) -> Column:
    kind = "euro" if meta.unit == "EUR" else ("integer" if meta.scale == 1 else "decimal")
    return Column("value", f"{meta.label} ({meta.unit})", kind)


def _explore_filters(dims: data.Dimensions, st: state.ExploreState) -> tuple[tuple[str, str], ...]:
    def names(pairs: tuple[tuple[str, str], ...], codes: tuple[str, ...]) -> str:
        lookup = dict(pairs)
        return ", ".join(f"{lookup.get(c, c)} ({c})" for c in codes)

    shown = []
    if st.ecosystems:
        shown.append(("Industrial ecosystem", names(dims.ecosystems, st.ecosystems)))
    if st.countries:
        shown.append(("Member State", names(dims.member_states, st.countries)))
    if st.partnerships:
        shown.append(("Partnership", names(dims.partnerships, st.partnerships)))
    if st.member_types:
        shown.append(("Member type", ", ".join(st.member_types)))
    return tuple(shown)


def explore_table(vintage: data.Vintage, st: state.ExploreState, ctx: _Context) -> ExportTable:
    """The rows behind the Explore chart, map and table: one indicator by one dimension over the year range."""
    meta = data.indicator_meta(vintage, st.indicator)
    year_from, year_to = data.effective_years(meta, st.by, st.year_from, st.year_to)
    by_label = state.BREAKDOWN_LABELS[st.by]
    title = f"{meta.label} by {by_label.lower()}, {year_span(year_from, year_to)}"
    selection = (("Indicator", f"{meta.label} ({st.indicator})"), ("Breakdown", by_label),
                 ("Years", year_span(year_from, year_to)), *ctx.filters)
    notes = [EU_TOTAL_RULE]
    if st.by == "year":
        frame = data.yearly_totals(vintage, st.indicator, st.filters)
        frame = frame[frame["year"].between(year_from, year_to)].reset_index(drop=True)
        frame["flags"] = [
            flag_codes(synthetic=r.synthetic, not_published=r.not_published, break_in_series=r.break_in_series,
                       derived=r.published_status == "derived", withheld=hidden)
            for r, hidden in zip(frame.itertuples(), _withheld(frame), strict=True)
        ]
        columns = (
            Column("year", "Year", "integer"),
            _value_column(meta),
            Column("flags", "Flags"),
            Column("n_reporting", "Members reporting", "integer"),
            Column("n_respondents", "Survey respondents", "integer"),
            Column("n_registered", "Members registered at year end", "integer"),
            Column("published_value", f"Published figure ({meta.unit})",
                   "euro" if meta.unit == "EUR" else "decimal"),
            Column("published_qualifier", "Published qualifier"),
            Column("comparison", "Computed vs published"),
        )
        coverage = "; ".join(
            f"{int(r.year)}: {coverage_text(int(r.n_reporting), int(r.n_respondents))}" for r in frame.itertuples()
        )
    else:
        frame = data.breakdown(vintage, st.indicator, st.by, year_from, year_to, st.filters)
        breaks = any(data.break_in_series(vintage, st.indicator, y) for y in range(year_from, year_to + 1))
        # The Commission publishes EU totals only: no breakdown row has a published counterpart.
        frame["flags"] = [flag_codes(synthetic=ctx.info.synthetic, not_published=True, break_in_series=breaks,
                                     withheld=hidden) for hidden in _withheld(frame)]
        columns = (
            Column("key", f"{by_label} code"),
            Column("label", by_label),
            _value_column(meta),
            Column("flags", "Flags"),
            Column("n_reporting", "Members reporting", "integer"),
        )
        coverage = f"{int(frame['n_reporting'].sum()) if st.by != 'partnership' else 'see'} members reporting"
        if st.by == "partnership":
            notes.append(NOT_ADDITIVE)
            coverage = "members reporting per partnership in the table (a member may count in several)"
    table_meta = ctx.meta(
        title, frame=frame, indicator=st.indicator, breakdown=st.by, years=(year_from, year_to),
        filters=selection, definitions=_definitions(vintage, [st.indicator]), notes=tuple(notes),
        coverage=coverage, subtitle=f"{meta.definition}",
    )
    return ExportTable(frame, columns, table_meta)


def explore_figure(vintage: data.Vintage, st: state.ExploreState) -> tuple[go.Figure, str]:
    """The figure the Explore page shows for the state and its summary sentence: built by the page's own functions,
    so they cannot drift."""
    explore = _page_module("explore")
    view = explore.build_view(vintage, dataclasses.replace(st, by="member_state") if st.view == "map" else st)
    figure = explore.build_map(vintage, st)[0] if st.view == "map" else view["figure"]
    return figure, view["summary"]


# --------------------------------------------------------------------------------------------------------------
# Progress
# --------------------------------------------------------------------------------------------------------------


def _kpi_frame(kpis: Sequence[data.Kpi]) -> pd.DataFrame:
    rows = []
    for k in kpis:
        share = k.unit == "share"
        scale = 100.0 if share else 1.0
        rows.append({
            "indicator": k.key, "label": k.label, "unit": "%" if share else k.unit, "year": k.year,
            "value": None if k.value is None else k.value * scale,
            "previous_year": k.previous_year,
            "previous": None if k.previous is None else k.previous * scale,
            # a share changes in percentage points, as the page says ("-4 pts"); a count changes in per cent
            "change": None if k.change is None or share else k.change * 100,
            "change_points": (k.value - k.previous) * 100 if share and None not in (k.value, k.previous) else None,
            "flags": flag_codes(synthetic=k.flags.synthetic, not_published=k.flags.not_published,
                                break_in_series=k.flags.break_in_series,
                                derived=k.flags.published_status == "derived"),
            "n_reporting": k.coverage.reporting, "n_respondents": k.coverage.respondents,
            "n_registered": k.coverage.registered,
            "published_value": None if k.flags.published_value is None else k.flags.published_value * scale,
            "published_qualifier": k.flags.published_qualifier, "comparison": k.flags.comparison,
        })
    frame = pd.DataFrame(rows)
    for column in ("value", "previous", "change", "change_points", "published_value"):
        frame[column] = frame[column].astype("float64")
    frame["previous_year"] = frame["previous_year"].astype("Int64")
    return frame


KPI_COLUMNS = (
    Column("indicator", "Indicator code"),
    Column("label", "Indicator"),
    Column("unit", "Unit"),
    Column("year", "Year", "integer"),
    Column("value", "Value (in unit)", "decimal"),
    Column("flags", "Flags"),
    Column("previous_year", "Previous year", "integer"),
    Column("previous", "Previous year's value (in unit)", "decimal"),
    Column("change", "Change on previous year (%)", "percent"),
    Column("change_points", "Change on previous year (percentage points, for shares)", "decimal"),
    Column("n_reporting", "Members reporting", "integer"),
    Column("n_respondents", "Survey respondents", "integer"),
    Column("n_registered", "Members registered at year end", "integer"),
    Column("published_value", "Published figure (in unit)", "decimal"),
    Column("published_qualifier", "Published qualifier"),
    Column("comparison", "Computed vs published"),
)


def _people_trained_flags(vintage: data.Vintage, year: int, synthetic: bool) -> str:
    """The same flags the year's headline card carries: break in series, published or derived, not published."""
    published = data.published_figure(vintage, "people_trained", year, year)
    return flag_codes(synthetic=synthetic, not_published=published is None,
                      break_in_series=data.break_in_series(vintage, "people_trained", year),
                      derived=published is not None and published.get("status") == "derived")


def progress_views(vintage: data.Vintage, st: state.ProgressState, ctx: _Context) -> tuple[View, ...]:
    year = st.year if st.year is not None else data.latest_year(vintage)
    if year is None:
        return ()
    kpi = _kpi_frame(data.kpis(vintage, year))
    kpis_meta = ctx.meta(f"Headline figures, {year}", frame=kpi, years=(year, year), slug="progress-headline",
                         definitions=_definitions(vintage), notes=(EU_TOTAL_RULE,),
                         filters=(("Year", str(year)),), view="Progress - headline figures")
    views = [View("kpis", ExportTable(kpi, KPI_COLUMNS, kpis_meta))]

    cumulative = data.cumulative_people_trained(vintage)
    progress = analysis.target_progress(cumulative, data.targets(vintage))
    frame = cumulative.rename(columns={"value": "people_trained"}).copy()
    for t in progress:
        frame[f"path_{t.target_id}"] = [analysis.path_value(t.path, int(y)) for y in frame["year"]]
        frame[f"path_{t.target_id}"] = frame[f"path_{t.target_id}"].astype("float64")
    frame["flags"] = [_people_trained_flags(vintage, int(y), ctx.info.synthetic) for y in frame["year"]]
    columns = [
        Column("year", "Year", "integer"),
        Column("people_trained", "People up-/reskilled in the year (people)", "integer"),
        Column("cumulative", "Cumulative people up-/reskilled (people)", "integer"),
        Column("flags", "Flags"),
        Column("n_reporting", "Members reporting", "integer"),
    ]
    columns += [Column(f"path_{t.target_id}", f"Required path to the {t.qualifier + ' ' if t.qualifier else ''}"
                       f"{t.people:,} pledge (people)", "decimal") for t in progress if t.path]
    first, last = (int(frame["year"].min()), int(frame["year"].max())) if len(frame) else (year, year)
    cum_meta = ctx.meta(f"Cumulative people up-/reskilled against the partnerships' pledges, {year_span(first, last)}",
                        frame=frame, indicator="people_trained", slug="progress-cumulative-vs-targets",
                        years=(first, last),
                        definitions=_definitions(vintage, ["people_trained"]), notes=(EU_TOTAL_RULE,),
                        filters=(), view="Progress - cumulative vs pledges")
    views.append(View("cumulative", ExportTable(frame, tuple(columns), cum_meta),
                      figures.targets_figure(cumulative, progress)))

    targets = pd.DataFrame([{
        "target_id": t.target_id, "version": t.version, "people": t.people, "qualifier": t.qualifier,
        "announced_year": t.announced_year, "deadline_year": t.deadline_year, "cumulative": t.cumulative,
        "remaining": t.remaining, "achieved_pace": t.achieved_pace, "needed_pace": t.needed_pace,
        "projected_year": t.projected_year, "status": t.status, "text": t.text,
    } for t in progress])
    if len(targets):
        for column in ("announced_year", "deadline_year", "projected_year"):
            targets[column] = targets[column].astype("Int64")
        targets["needed_pace"] = targets["needed_pace"].astype("float64")
    target_columns = (
        Column("target_id", "Pledge"), Column("version", "Version", "integer"),
        Column("people", "Pledge (people)", "integer"), Column("qualifier", "Qualifier"),
        Column("announced_year", "Announced", "integer"), Column("deadline_year", "Deadline", "integer"),
        Column("cumulative", "Cumulative to date (people)", "integer"),
        Column("remaining", "Remaining (people)", "integer"),
        Column("achieved_pace", "Pace achieved (people a year)", "decimal"),
        Column("needed_pace", "Pace needed to the deadline (people a year)", "decimal"),
        Column("projected_year", "Projected year reached at the achieved pace", "integer"),
        Column("status", "Status"), Column("text", "Pledge as the source words it"),
    )
    pace_meta = ctx.meta("Pace needed and achieved toward each pledge", frame=None, indicator="people_trained",
                         slug="progress-pace", years=(first, last), filters=(),
                         definitions=_definitions(vintage, ["people_trained"]), view="Progress - pace")
    views.append(View("pace", ExportTable(targets if len(targets) else pd.DataFrame(
        columns=[c.key for c in target_columns]), target_columns, pace_meta),
        figures.pace_figure(cumulative, progress)))

    registry = data.members_over_time(vintage)
    published = data.membership_timeline(vintage)
    members = pd.concat([
        pd.DataFrame({"as_of": registry["as_of"], "source": "registry (date joined)",
                      "members": registry["members"].astype("Int64"), "qualifier": "", "source_url": ""}),
        pd.DataFrame({"as_of": published["as_of"], "source": "published count",
                      "members": published["members"].astype("Int64"),
                      "qualifier": published["qualifier"].fillna(""), "source_url": published["source_url"]}),
    ], ignore_index=True).sort_values(["as_of", "source"], kind="stable").reset_index(drop=True)
    members["flags"] = [flag_codes(synthetic=ctx.info.synthetic and src.startswith("registry"))
                        for src in members["source"]]
    member_meta = ctx.meta("Members over time: registry and published counts", frame=members,
                           slug="progress-members", source="Pact for Skills member registry (date joined) and the "
                           "Commission's published counts", filters=(), view="Progress - membership growth")
    views.append(View("members", ExportTable(members, (
        Column("as_of", "Date", "date"), Column("source", "Source"),
        Column("members", "Members (count)", "integer"), Column("qualifier", "Published qualifier"),
        Column("flags", "Flags"), Column("source_url", "Published at"),
    ), member_meta), figures.members_figure(registry, published)))

    launches = data.partnerships_over_time(vintage)
    long_published = pd.concat([
        pd.DataFrame({"as_of": published["as_of"], "kind": kind, "source": "published count",
                      "partnerships": published[column].astype("Int64"),
                      "qualifier": published["qualifier"].fillna(""), "source_url": published["source_url"]})
        for kind, column in (("large-scale", "large_scale_partnerships"), ("regional", "regional_partnerships"))
    ], ignore_index=True)
    long_published = long_published[long_published["partnerships"].notna()]
    growth = pd.concat([
        pd.DataFrame({"as_of": launches["as_of"], "kind": launches["kind"], "source": "known to date",
                      "partnerships": launches["partnerships"].astype("Int64"), "qualifier": "", "source_url": ""}),
        long_published,
    ], ignore_index=True).sort_values(["as_of", "kind", "source"], kind="stable").reset_index(drop=True)
    growth["flags"] = ""
    growth_meta = ctx.meta("Partnerships over time: known to date and published counts", frame=growth,
                           slug="progress-partnerships", source="partnerships compiled from public sources (see "
                           "the Sources sheet) and the Commission's published counts", synthetic=False,
                           filters=(), view="Progress - partnerships growth")
    views.append(View("partnerships", ExportTable(growth, (
        Column("as_of", "Date", "date"), Column("kind", "Kind"), Column("source", "Source"),
        Column("partnerships", "Partnerships (count)", "integer"), Column("qualifier", "Published qualifier"),
        Column("source_url", "Published at"),
    ), growth_meta), figures.partnerships_figure(launches, published)))
    return tuple(views)


# --------------------------------------------------------------------------------------------------------------
# Partnerships, Data, About
# --------------------------------------------------------------------------------------------------------------

LEDGER_EXPORT_COLUMNS = (
    Column("partnership_id", "Partnership code"), Column("name", "Partnership"), Column("kind", "Kind"),
    Column("ecosystem", "Industrial ecosystem"), Column("region", "Region"), Column("launched_on", "Launched", "date"),
    Column("pledge_kind", "Pledge kind"), Column("pledge_text", "Pledge (own terms)"),
    Column("pledge_people", "Pledged people (people)", "integer"), Column("pledge_share", "Pledged share", "decimal"),
    Column("pledge_year", "Pledge year", "integer"), Column("n_members", "Members", "integer"),
    Column("delivered", "Members reported to date, all their activity (people)", "integer"),
    Column("share_attained", "Members reported / pledge (%)", "percent"),
    Column("pace_achieved", "Members reported a year (people)", "decimal"),
    Column("n_reporting_latest", "Members reporting (latest wave)", "integer"),
    Column("flags", "Flags"),
)


def partnerships_views(vintage: data.Vintage, st: state.PartnershipsState, ctx: _Context) -> tuple[View, ...]:
    ledger = data.partnership_ledger(vintage)
    ledger["share_attained"] = ledger["share_attained"] * 100
    ledger["launched_on"] = pd.to_datetime(ledger["launched_on"]).dt.date
    ledger["flags"] = flag_codes(synthetic=ctx.info.synthetic, not_published=True)
    latest = data.latest_year(vintage)
    ledger_meta = ctx.meta("Each partnership's pledge beside what its members reported", frame=ledger, slug="partnerships-ledger",
                           years=(ctx.dims.years[0], latest) if ctx.dims.years and latest else None, filters=(),
                           definitions=_definitions(vintage, ["people_trained"]), notes=(NOT_ADDITIVE,),
                           view="Partnerships - ledger")
    # The page shows the ledger as a grid, not a chart: the pack carries it as a table.
    views = [View("ledger", ExportTable(ledger, LEDGER_EXPORT_COLUMNS, ledger_meta))]
    if st.partnership is None or st.year is None:
        return tuple(views)
    meta = data.indicator_meta(vintage, st.indicator)
    bench = analysis.peer_benchmark(data.partnerships(vintage), data.partnership_values(vintage, st.indicator),
                                    st.partnership, st.group, st.year)
    peers = pd.DataFrame({"rank": range(1, len(bench.peers) + 1), "partnership": [p for p, _ in bench.peers],
                          "value": [v for _, v in bench.peers]})
    peers["is_selected"] = peers["partnership"] == bench.name
    peers["flags"] = flag_codes(synthetic=ctx.info.synthetic, not_published=True)
    stats = (("Median", bench.median), ("Lower quartile", bench.q1), ("Upper quartile", bench.q3))
    selection = (("Partnership", f"{bench.name} ({st.partnership})"), ("Peers", bench.group_label),
                 ("Indicator", f"{meta.label} ({st.indicator})"), ("Year", str(st.year)),
                 *((label, exact(v, meta.unit)) for label, v in stats))
    value_column = Column("value", f"{meta.label} ({meta.unit})", "euro" if meta.unit == "EUR" else "decimal")
    peer_meta = ctx.meta(f"{bench.name} among {bench.group_label}: {meta.label.lower()}, {st.year}", frame=peers,
                         indicator=st.indicator, breakdown="peer", years=(st.year, st.year), filters=selection,
                         definitions=_definitions(vintage, [st.indicator]),
                         notes=(NOT_ADDITIVE, "Peers are named as in the ledger; a public deployment shows them "
                                "as Peer 1, Peer 2... by rank."),
                         view="Partnerships - peers")
    views.append(View("peers", ExportTable(peers, (
        Column("rank", "Rank (1 = highest)", "integer"), Column("partnership", "Partnership"), value_column,
        Column("is_selected", "Selected partnership", "boolean"), Column("flags", "Flags"),
    ), peer_meta), figures.peer_figure(bench, meta), figures.peer_summary(bench, meta)))
    trend = pd.DataFrame(bench.trend, columns=["year", "value", "peer_median"])
    trend["value"] = trend["value"].astype("float64")
    trend["peer_median"] = trend["peer_median"].astype("float64")
    trend["flags"] = flag_codes(synthetic=ctx.info.synthetic, not_published=True)
    trend_meta = ctx.meta(f"{bench.name}: {meta.label.lower()} by year against the peer median", frame=trend,
                          indicator=st.indicator, breakdown="year", filters=selection[:3],
                          years=(int(trend["year"].min()), int(trend["year"].max())) if len(trend) else None,
                          definitions=_definitions(vintage, [st.indicator]), notes=(NOT_ADDITIVE,),
                          view="Partnerships - trend")
    views.append(View("trend", ExportTable(trend, (
        Column("year", "Year", "integer"), dataclasses.replace(value_column, header=f"{bench.name} ({meta.unit})"),
        Column("peer_median", f"Peer median ({meta.unit})", "decimal"), Column("flags", "Flags"),
    ), trend_meta), figures.trend_figure(bench, meta)))
    return tuple(views)


def data_views(vintage: data.Vintage, st: state.DataState, ctx: _Context) -> tuple[View, ...]:
    wave_filter = (("Survey wave", str(st.wave)),) if st.wave else (("Survey wave", "all"),)
    published = data.published_vs_computed(vintage)
    pub_meta = ctx.meta("Published figures beside the figures computed here", frame=None, slug="data-published",
                        filters=(), view="Data - published vs computed",
                        flags=("s",) if ctx.info.synthetic else ())
    views = [View("published", ExportTable(published, (
        Column("figure_id", "Figure"), Column("indicator", "Indicator"),
        Column("period_start", "From", "integer"), Column("period_end", "To", "integer"),
        Column("period_kind", "Period kind"), Column("unit", "Unit"), Column("qualifier", "Qualifier"),
        Column("published", "Published value (in unit)", "decimal"),
        Column("computed", "Computed here (in unit)", "decimal"), Column("comparison", "Comparison"),
        Column("status", "Published or derived"), Column("derivation", "Derivation"),
        Column("source_url", "Source"),
    ), pub_meta))]
    rates = data.response_rates(vintage)
    rates["response_rate"] = rates["response_rate"] * 100
    statuses = data.status_counts(vintage)
    waves = rates.merge(statuses, on="year", how="outer").sort_values("year").reset_index(drop=True)
    count_columns = [Column(s, f"Rows {s}", "integer") for s in ("accepted", "superseded", "test", "blank",
                                                                  "rejected")]
    wave_meta = ctx.meta("Survey rows and response rate per wave", frame=None, slug="data-waves", filters=(),
                         view="Data - waves", flags=("s",) if ctx.info.synthetic else ())
    views.append(View("waves", ExportTable(waves, (
        Column("year", "Survey wave (activity year)", "integer"), Column("rows_read", "Rows read", "integer"),
        *count_columns, Column("n_respondents", "Respondents", "integer"),
        Column("n_registered", "Members registered at year end", "integer"),
        Column("response_rate", "Response rate (%)", "percent"),
    ), wave_meta), figures.response_figure(data.response_rates(vintage))))
    rejects = data.rejects(vintage)
    if st.wave is not None:
        rejects = rejects[rejects["source_file"].isin(data.survey_files(vintage, st.wave))].reset_index(drop=True)
    reject_meta = ctx.meta("Rejected values and rows, with reasons", frame=None, slug="data-rejects",
                           filters=wave_filter, view="Data - rejects", flags=(),
                           notes=(f"At most {data.MAX_REJECT_ROWS:,} rows; the full list is rejects.parquet in the "
                                  "snapshot.",))
    views.append(View("rejects", ExportTable(rejects, (
        Column("source_file", "File"), Column("sheet", "Sheet"), Column("row", "Row", "integer"),
        Column("column", "Column"), Column("contribution_id", "Contribution Id"),
        Column("value", "Value as received"), Column("reason_code", "Reason code"), Column("reason", "Reason"),
    ), reject_meta)))
    corrections = data.corrections(vintage)
    public_columns = (Column("wave", "Wave", "integer"), Column("indicator", "Indicator"), Column("action", "Action"),
                      Column("status", "Status"), Column("corrections", "Corrections", "integer"))
    correction_columns = [
        Column("correction_id", "Correction"), Column("wave", "Wave", "integer"),
        Column("contribution_id", "Contribution Id"), Column("member_id", "Member"), Column("indicator", "Indicator"),
        Column("action", "Action"), Column("old_value", "Old value", "integer"),
        Column("new_value", "New value", "integer"), Column("status", "Status"), Column("reason", "Reason"),
        Column("corrected_by", "By"), Column("corrected_on", "On", "date"),
    ]
    if "detail" in corrections.columns:
        correction_columns.append(Column("detail", "Detail"))
    if tuple(corrections.columns) == data.PUBLIC_CORRECTION_COLUMNS:  # public mode: counts only
        correction_columns = list(public_columns)
    corr_meta = ctx.meta("Corrections applied to reported values", frame=None, slug="data-corrections", filters=(),
                         view="Data - corrections", flags=())
    views.append(View("corrections", ExportTable(corrections, tuple(correction_columns), corr_meta)))
    return tuple(views)


def about_views(vintage: data.Vintage, ctx: _Context) -> tuple[View, ...]:
    catalogue = pd.DataFrame([dataclasses.asdict(m) for m in data.indicator_catalogue(vintage)])
    catalogue["counting_rule"] = [counting_rule(m) for m in data.indicator_catalogue(vintage)]
    cat_meta = ctx.meta("Indicator definitions and counting rules", frame=None, slug="about-indicators", filters=(),
                        definitions=_definitions(vintage), view="About - indicators", flags=())
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


# --------------------------------------------------------------------------------------------------------------
# Page export entry point
# --------------------------------------------------------------------------------------------------------------


def _indicator_names(vintage: data.Vintage) -> tuple[str, ...]:
    return tuple(m.indicator for m in data.indicator_catalogue(vintage))


def page_export(page: str, query: Mapping[str, object], base_url: str) -> PageExport:
    """Every view of `page` for the state its query string describes (parsed as the page parses it)."""
    if page not in PAGE_PATHS:
        raise KeyError(page)
    choice = data.resolve_vintage(query.get("vintage"))
    if choice.vintage is None:
        raise ExportUnavailable("no curated data yet: run the pipeline (make run)")
    vintage = choice.vintage
    messages = state.Messages()
    if choice.message:
        messages.append(choice.message)
    dims = data.dimensions(vintage)
    vid = vintage.vintage_id
    views: tuple[View, ...]
    if page == "explore":
        st = state.parse_explore(query, dims, _indicator_names(vintage), messages)
        st = dataclasses.replace(st, vintage=vid)
        defaults = state.explore_defaults(dims, _indicator_names(vintage))
        permalink = _permalink(base_url, page, st.search(defaults))
        ctx = _context(page, vintage, permalink, _explore_filters(dims, st))
        # The map always shows Member States, whatever the bar chart's breakdown: its rows are that breakdown.
        table = explore_table(vintage, dataclasses.replace(st, by="member_state") if st.view == "map" else st, ctx)
        figure, summary = explore_figure(vintage, st)
        views = (View("explore", table, figure, summary),)
    elif page == "progress":
        pst = state.parse_progress(query, dims, messages)
        pst = dataclasses.replace(pst, vintage=vid)
        latest = dims.years[-1] if dims.years else None
        permalink = _permalink(base_url, page, pst.search(latest))
        ctx = _context(page, vintage, permalink, ())
        views = progress_views(vintage, pst, ctx)
    elif page == "partnerships":
        page_module = _page_module("partnerships")  # the page's own state rules (default partnership)
        bst = page_module._state(vintage, dict(query), messages, vid)
        permalink = _permalink(base_url, page, bst.search(page_module._defaults(vintage)))
        ctx = _context(page, vintage, permalink, ())
        views = partnerships_views(vintage, bst, ctx)
    elif page == "data":
        dst = dataclasses.replace(state.parse_data(query, dims, messages), vintage=vid)
        permalink = _permalink(base_url, page, dst.search())
        ctx = _context(page, vintage, permalink, ())
        views = data_views(vintage, dst, ctx)
    else:
        state.parse_vintage_only(query, messages)
        permalink = _permalink(base_url, page, f"?vintage={vid}")
        ctx = _context(page, vintage, permalink, ())
        views = about_views(vintage, ctx)
    return PageExport(page, vintage, permalink, views, tuple(messages))


# --------------------------------------------------------------------------------------------------------------
# The briefing pack
# --------------------------------------------------------------------------------------------------------------

HEADLINE_INDICATORS = data.KPI_INDICATORS


def _headline(vintage: data.Vintage) -> tuple[tuple[int, ...], tuple[HeadlineRow, ...], tuple[str, ...],
                                                tuple[str, ...]]:
    """EU totals of every headline indicator for every wave, the change sentences and the coverage lines."""
    dims = data.dimensions(vintage)
    years = dims.years
    rows: list[HeadlineRow] = []
    sentences: list[str] = []
    for indicator in HEADLINE_INDICATORS:
        meta = data.indicator_meta(vintage, indicator)
        frame = data.yearly_totals(vintage, indicator).set_index("year")
        cells = []
        for year in years:
            if year not in frame.index:
                cells.append(HeadlineCell(None))
                continue
            r = frame.loc[year]
            value = None if pd.isna(r["value"]) else float(r["value"])
            published = ""
            if r["published_value"] is not None and not pd.isna(r["published_value"]):
                qualifier = f"{r['published_qualifier']} " if r["published_qualifier"] else ""
                published = f"{qualifier}{exact(float(r['published_value']), meta.unit)} ({r['published_status']})"
            cells.append(HeadlineCell(value, flag_codes(
                synthetic=bool(r["synthetic"]), not_published=bool(r["not_published"]),
                break_in_series=bool(r["break_in_series"]), derived=r["published_status"] == "derived"),
                published))
        rows.append(HeadlineRow(indicator, meta.label, meta.unit, tuple(cells)))
        values = {y: c.value for y, c in zip(years, cells, strict=True)}
        reported = [y for y in years if values[y] is not None]
        if reported:
            year = reported[-1]
            before = [y for y in years if y < year]
            previous_year = before[-1] if before else None
            sentence = change_sentence(indicator, meta.unit, year, values[year], previous_year,
                                       values.get(previous_year) if previous_year else None,
                                       break_in_series=data.break_in_series(vintage, indicator, year))
            if sentence:
                sentences.append(sentence)
    progress = data.commitments_progress(vintage).set_index("year")
    shares = [None if y not in progress.index or pd.isna(progress.loc[y, "share"])
              else float(progress.loc[y, "share"]) for y in years]
    rows.append(HeadlineRow("commitments_progressing_share", "Commitments progressing", "%", tuple(
        HeadlineCell(None if s is None else s * 100, flag_codes(synthetic=data.is_synthetic(vintage)))
        for s in shares)))
    with_share = [(y, s) for y, s in zip(years, shares, strict=True) if s is not None]
    if with_share:
        y, s = with_share[-1]
        prev = with_share[-2] if len(with_share) > 1 else (None, None)
        text = share_sentence(y, s, prev[0], prev[1])
        if text:
            sentences.append(text)
    rates = data.response_rates(vintage)
    coverage = tuple(
        f"{int(r.year)}: {int(r.n_respondents):,} survey respondents of {int(r.n_registered):,} members registered "
        f"at the end of the year" + (f" (response rate {r.response_rate * 100:.0f}%)"
                                     if not math.isnan(r.response_rate) else "") + "."
        for r in rates.itertuples()
    )
    cumulative = data.cumulative_people_trained(vintage)
    for t in analysis.target_progress(cumulative, data.targets(vintage)):
        sentences.append(target_sentence(
            people=t.people, qualifier=t.qualifier, first_year=t.first_year, latest_year=t.latest_year,
            cumulative=t.cumulative, achieved_pace=t.achieved_pace, projected_year=t.projected_year,
            deadline_year=t.deadline_year, needed_pace=t.needed_pace, pledge_text=t.text,
        ))
    return years, tuple(rows), tuple(sentences), coverage


def _doc_table(table: ExportTable, limit: int = 40) -> DataTable | None:
    frame = table.frame
    if frame.empty:
        return None
    shown = frame.head(limit)
    rows = []
    for record in shown[[c.key for c in table.columns]].itertuples(index=False, name=None):
        cells = []
        for value, column in zip(record, table.columns, strict=True):
            if value is None or (not isinstance(value, str) and pd.isna(value)):
                cells.append("–")
            elif column.kind == "euro":
                cells.append(exact(float(value), "EUR"))
            elif column.kind in ("integer",):
                cells.append(f"{int(value):,}" if column.key not in ("year", "previous_year", "version") and
                             "year" not in column.key else str(int(value)))
            elif column.kind in ("decimal", "percent"):
                cells.append(f"{float(value):,.1f}" if not float(value).is_integer() else f"{float(value):,.0f}")
            else:
                cells.append(str(value))
        rows.append(tuple(cells))
    note = f"First {limit} of {len(frame)} rows; all rows are in the workbook." if len(frame) > limit else ""
    return DataTable(table.meta.title, tuple(c.header for c in table.columns), tuple(rows), note)


def pack_bytes(
    export: PageExport,
    render: Callable[..., bytes] | None = None,
) -> tuple[str, bytes]:
    """The briefing pack of a page: (file name, ZIP bytes) holding the Word briefing, the XLSX and the PNGs."""
    from dashboard import images  # imported here: starting Chromium is only for packs and images

    render = render or images.render
    vintage = export.vintage
    info = data.vintage_info(vintage)
    years, headline, eu_sentences, coverage = _headline(vintage)
    # what this view shows comes first; the EU headline sentences follow
    sentences = (*(v.summary for v in export.views if v.summary), *eu_sentences)
    first = export.views[0].table.meta
    charts: list[ChartImage] = []
    pngs: dict[str, bytes] = {}
    problems: list[str] = []
    for view in export.views:
        if view.figure is None:
            continue
        try:
            png = render(figure_for_export(view.figure, view.table.meta), "png")
        except Exception as exc:  # a pack without pictures beats no pack: say so in the document
            log.warning("chart %s not rendered: %s", view.key, exc)
            problems.append(f"The chart “{view.table.meta.title}” could not be drawn on the server ({exc}); "
                            "its figures are in the workbook.")
            continue
        pngs[f"charts/{len(pngs) + 1:02d}_{view.key}.png"] = png
        charts.append(ChartImage(view.table.meta.title, png, view.table.meta.source_line))
    # A view with no picture (a table view, or a chart that could not be drawn) goes into the document as a table.
    drawn = {chart.title for chart in charts}
    tables = tuple(t for t in (_doc_table(v.table) for v in export.views if v.table.meta.title not in drawn)
                   if t is not None)
    sources = [(f.title or f.path, f.path) for f in first.inputs]
    sources += [(f"Published figure: {r.indicator} {year_span(int(r.period_start), int(r.period_end))}",
                 str(r.source_url).split(" ; ")[0])
                for r in data.published_vs_computed(vintage).itertuples() if r.source_url]
    flags = sorted({code for row in headline for cell in row.cells for code in cell.flags.split()}
                   | {code for v in export.views for code in v.table.meta.flags})
    notes = list(dict.fromkeys(n for v in export.views for n in v.table.meta.notes))
    notes.append("Figures are computed by Pact Monitor from the survey waves listed below; each published "
                 "figure is shown beside the computed one where the Commission published one.")
    briefing = Briefing(
        title=f"Pact for Skills – {PAGE_TITLES[export.page]} briefing",
        view=PAGE_TITLES[export.page], vintage_id=vintage.vintage_id, permalink=export.permalink,
        years=years, headline=headline, sentences=sentences, coverage=coverage, charts=tuple(charts),
        # every selection the views were made with (a benchmark's partnership, group, indicator and year included)
        tables=tables, filters=tuple(dict.fromkeys(f for v in export.views for f in v.table.meta.filters)),
        sources=tuple(dict.fromkeys(sources)), notes=tuple(notes),
        flags=tuple(flags), vintage_created=info.created_at, synthetic=info.synthetic, problems=tuple(problems),
    )
    pack_meta = first if export.page == "explore" else dataclasses.replace(
        first, slug=export.page, indicator=None, breakdown=None,
        years=(years[0], years[-1]) if years else first.years)
    stem = export_filename(pack_meta, "zip").rsplit(".", 1)[0]
    workbook = to_xlsx_bytes([v.table for v in export.views], sheet_names=[v.key for v in export.views])
    files = {
        f"{stem}/briefing.docx": build_docx(briefing),
        f"{stem}/{stem}.xlsx": workbook,
        **{f"{stem}/{name}": png for name, png in pngs.items()},
    }
    return f"{stem}_briefing.zip", zip_bytes(files)

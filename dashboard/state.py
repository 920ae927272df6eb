"""Page state <-> URL query string.

Every control of every page lives in the query string, so a copied link restores the view. The same parsers
read the query when a page is built and the control values when a callback fires, so a value that reaches a
query function has always been checked against the codes the data actually holds. Anything else (an unknown
code, a quote, a huge number, markup) is dropped with a plain message naming it; it never reaches SQL.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, fields
from urllib.parse import urlencode

from dashboard.data import BREAKDOWNS, Dimensions, Filters
from dashboard.formatting import clip
from dashboard.measures import MEASURES, parse_change

MAX_VALUES = 50  # more selected codes than any dimension has is tampering
BREAKDOWN_LABELS = {
    "year": "Year",
    "ecosystem": "Industrial ecosystem",
    "member_state": "Member State",
    "partnership": "Partnership",
    "member_type": "Member type",
}
VIEWS = ("chart", "lines", "map", "table")
MAX_SHOWN_LINES = 12  # more lines than this are unreadable on one chart
# The Explore grid's sortable columns; `sort=-value` sorts descending (as datasette's _sort_desc), "" keeps the
# breakdown's own order (largest first, as the chart).
GRID_SORT_FIELDS = ("label", "value", "n_reporting", "share")
GRID_SORTS = tuple(f"{sign}{field}" for field in GRID_SORT_FIELDS for sign in ("", "-"))
PEER_GROUPS = {"kind": "Same kind (large-scale / regional)", "ecosystem": "Same industrial ecosystem"}


class Messages(list):
    """Plain-language notes about query values that were ignored."""

    def ignored(self, what: str, value: object, why: str) -> None:
        self.append(f"Ignored {what} “{clip(value)}”: {why}.")


def _values(raw: object) -> list[object]:
    if raw is None or raw == "":
        return []
    if isinstance(raw, (list, tuple)):
        return [v for v in raw if v not in (None, "")]
    return [raw]


def one_of(raw: object, allowed: Sequence[str], default: str, what: str, messages: Messages) -> str:
    values = _values(raw)
    if not values:
        return default
    value = values[-1]
    if len(values) > 1:
        messages.ignored(what, values[:-1], "only one value can be chosen")
    if isinstance(value, str) and value in allowed:
        return value
    messages.ignored(what, value, "not one of the available choices")
    return default


def many_of(raw: object, allowed: Iterable[str], what: str, messages: Messages) -> tuple[str, ...]:
    allowed_set = set(allowed)
    values = _values(raw)
    if len(values) > MAX_VALUES:
        messages.ignored(what, f"{len(values)} values", f"at most {MAX_VALUES} can be chosen")
        return ()
    chosen: list[str] = []
    for value in values:
        if isinstance(value, str) and value in allowed_set:
            if value not in chosen:
                chosen.append(value)
        else:
            messages.ignored(what, value, "not a known code")
    return tuple(chosen)


def year_of(raw: object, years: Sequence[int], default: int | None, what: str, messages: Messages) -> int | None:
    values = _values(raw)
    if not values:
        return default
    value = values[-1]
    if len(values) > 1:
        messages.ignored(what, values[:-1], "only one value can be chosen")
    year: int | None = None
    if isinstance(value, bool):
        year = None
    elif isinstance(value, int):
        year = value
    elif (isinstance(value, float) and value.is_integer()) or (isinstance(value, str) and value.isascii() and value.isdigit() and len(value) <= 4):
        year = int(value)
    if year is not None and year in years:
        return year
    messages.ignored(what, value, "not a survey year in this data")
    return default


def _search(pairs: list[tuple[str, object]]) -> str:
    kept = [(k, v) for k, v in pairs if v not in (None, "", ())]
    return "?" + urlencode(kept, doseq=True) if kept else ""


def unknown_keys(query: Mapping[str, object], known: Iterable[str], messages: Messages) -> None:
    for key in query:
        if key not in known:
            messages.ignored("parameter", key, "this page has no such setting")


# --------------------------------------------------------------------------------------------------------------
# Pages
# --------------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ProgressState:
    year: int | None
    vintage: str | None = None

    def search(self, default_year: int | None) -> str:
        return _search([
            ("year", self.year if self.year != default_year else None),
            ("vintage", self.vintage),
        ])


def parse_progress(query: Mapping[str, object], dims: Dimensions, messages: Messages) -> ProgressState:
    unknown_keys(query, ("year", "vintage"), messages)
    latest = dims.years[-1] if dims.years else None
    return ProgressState(year=year_of(query.get("year"), dims.years, latest, "year", messages))


@dataclass(frozen=True)
class ExploreState:
    indicator: str
    by: str
    year_from: int
    year_to: int
    ecosystems: tuple[str, ...] = ()
    countries: tuple[str, ...] = ()
    partnerships: tuple[str, ...] = ()
    member_types: tuple[str, ...] = ()
    view: str = "chart"
    sort: str = ""
    measure: str = "total"
    change: str = ""  # "2022-2024": change columns between two survey years
    show: tuple[str, ...] = ()  # the lines view's categories; empty: the largest few and the total
    map_year: int | None = None  # the map's single year; None: the year range
    vintage: str | None = None

    @property
    def change_years(self) -> tuple[int, int] | None:
        first, _, last = self.change.partition("-")
        return (int(first), int(last)) if self.change else None

    @property
    def filters(self) -> Filters:
        return Filters(self.ecosystems, self.countries, self.partnerships, self.member_types)

    def search(self, defaults: ExploreState) -> str:
        pairs: list[tuple[str, object]] = []
        names = {"year_from": "from", "year_to": "to", "ecosystems": "ecosystem", "countries": "country",
                 "partnerships": "partnership", "member_types": "type", "map_year": "year"}
        for f in fields(self):
            value = getattr(self, f.name)
            if value != getattr(defaults, f.name) or f.name == "vintage":
                pairs.append((names.get(f.name, f.name), list(value) if isinstance(value, tuple) else value))
        return _search(pairs)


EXPLORE_KEYS = ("indicator", "by", "from", "to", "ecosystem", "country", "partnership", "type", "view", "sort",
                "measure", "change", "show", "year", "vintage")


def explore_defaults(dims: Dimensions, indicators: Sequence[str]) -> ExploreState:
    years = dims.years or (0,)
    indicator = "people_trained" if "people_trained" in indicators else (indicators[0] if indicators else "")
    return ExploreState(indicator=indicator, by="ecosystem", year_from=years[0], year_to=years[-1])


def parse_explore(
    query: Mapping[str, object], dims: Dimensions, indicators: Sequence[str], messages: Messages
) -> ExploreState:
    unknown_keys(query, EXPLORE_KEYS, messages)
    d = explore_defaults(dims, indicators)
    year_from = year_of(query.get("from"), dims.years, d.year_from, "start year", messages)
    year_to = year_of(query.get("to"), dims.years, d.year_to, "end year", messages)
    if year_from is not None and year_to is not None and year_from > year_to:
        messages.append(f"The start year {year_from} was after the end year {year_to}; the two were swapped.")
        year_from, year_to = year_to, year_from
    return ExploreState(
        indicator=one_of(query.get("indicator"), indicators, d.indicator, "indicator", messages),
        by=one_of(query.get("by"), BREAKDOWNS, d.by, "breakdown", messages),
        year_from=year_from if year_from is not None else d.year_from,
        year_to=year_to if year_to is not None else d.year_to,
        ecosystems=many_of(query.get("ecosystem"), (c for c, _ in dims.ecosystems), "ecosystem", messages),
        countries=many_of(query.get("country"), (c for c, _ in dims.member_states), "Member State", messages),
        partnerships=many_of(query.get("partnership"), (c for c, _ in dims.partnerships), "partnership", messages),
        member_types=many_of(query.get("type"), dims.member_types, "member type", messages),
        view=one_of(query.get("view"), VIEWS, "chart", "view", messages),
        sort=one_of(query.get("sort"), GRID_SORTS, "", "table sort", messages),
        measure=one_of(query.get("measure"), tuple(MEASURES), "total", "measure", messages),
        change=_change_of(query.get("change"), dims.years, messages),
        show=_shown_lines(query.get("show"), messages),
        map_year=year_of(query.get("year"), dims.years, None, "map year", messages),
    )


def _change_of(raw: object, years: Sequence[int], messages: Messages) -> str:
    values = _values(raw)
    if not values:
        return ""
    pair = parse_change(str(values[-1]), years) if isinstance(values[-1], str) else None
    if pair is None or len(values) > 1:
        messages.ignored("change", values[-1] if pair is None else values[:-1],
                         "give two survey years, the earlier first, as in 2022-2024" if pair is None
                         else "only one value can be chosen")
    return f"{pair[0]}-{pair[1]}" if pair else ""


def _shown_lines(raw: object, messages: Messages) -> tuple[str, ...]:
    """The lines to draw, as codes; checked against the breakdown's categories where they are drawn."""
    values = _values(raw)
    if len(values) > MAX_SHOWN_LINES:
        messages.ignored("lines", f"{len(values)} values", f"at most {MAX_SHOWN_LINES} lines can be drawn")
        return ()
    codes: list[str] = []
    for value in values:
        if isinstance(value, str) and value.isascii() and 0 < len(value) <= 40 and value.replace("-", "").replace(
                "_", "").isalnum():
            if value not in codes:
                codes.append(value)
        else:
            messages.ignored("line", value, "not a category code")
    return tuple(codes)


def grid_sort(column_state: object) -> str:
    """The Explore grid's sort as a URL value, from dash-ag-grid's `columnState` (first sorted column)."""
    if not isinstance(column_state, list):
        return ""
    sorted_columns = [c for c in column_state if isinstance(c, dict) and c.get("sort") in ("asc", "desc")
                      and c.get("colId") in GRID_SORT_FIELDS]
    if not sorted_columns:
        return ""
    first = min(sorted_columns, key=_sort_index)
    return ("-" if first["sort"] == "desc" else "") + str(first["colId"])


def _sort_index(column: dict) -> float:
    # ag-grid sends an int, or null for a single sorted column; anything else (a crafted "1") counts as 0 too,
    # so a mixed list still orders instead of raising TypeError.
    index = column.get("sortIndex")
    return index if isinstance(index, int | float) and not isinstance(index, bool) else 0


@dataclass(frozen=True)
class PartnershipsState:
    partnership: str | None
    group: str
    indicator: str
    year: int | None
    vintage: str | None = None

    def search(self, defaults: PartnershipsState) -> str:
        return _search([
            ("partnership", self.partnership if self.partnership != defaults.partnership else None),
            ("group", self.group if self.group != defaults.group else None),
            ("indicator", self.indicator if self.indicator != defaults.indicator else None),
            ("year", self.year if self.year != defaults.year else None),
            ("vintage", self.vintage),
        ])


def partnerships_defaults(
    dims: Dimensions, indicators: Sequence[str], preferred: str | None = None
) -> PartnershipsState:
    ids = [p for p, _ in dims.partnerships]
    partnership = preferred if preferred in ids else (ids[0] if ids else None)
    indicator = "people_trained" if "people_trained" in indicators else (indicators[0] if indicators else "")
    return PartnershipsState(partnership, "kind", indicator, dims.years[-1] if dims.years else None)


def parse_partnerships(
    query: Mapping[str, object],
    dims: Dimensions,
    indicators: Sequence[str],
    messages: Messages,
    preferred: str | None = None,
) -> PartnershipsState:
    unknown_keys(query, ("partnership", "group", "indicator", "year", "vintage"), messages)
    d = partnerships_defaults(dims, indicators, preferred)
    ids = [p for p, _ in dims.partnerships]
    return PartnershipsState(
        partnership=one_of(query.get("partnership"), ids, d.partnership or "", "partnership", messages) or None,
        group=one_of(query.get("group"), tuple(PEER_GROUPS), d.group, "peer group", messages),
        indicator=one_of(query.get("indicator"), indicators, d.indicator, "indicator", messages),
        year=year_of(query.get("year"), dims.years, d.year, "year", messages),
    )


@dataclass(frozen=True)
class DataState:
    wave: int | None  # None: every wave
    vintage: str | None = None

    def search(self) -> str:
        return _search([("wave", self.wave), ("vintage", self.vintage)])


def parse_data(query: Mapping[str, object], dims: Dimensions, messages: Messages) -> DataState:
    unknown_keys(query, ("wave", "vintage"), messages)
    raw = query.get("wave")
    if raw in (None, "", "all"):
        return DataState(wave=None)
    return DataState(wave=year_of(raw, dims.years, None, "survey wave", messages))


def parse_vintage_only(query: Mapping[str, object], messages: Messages) -> None:
    unknown_keys(query, ("vintage",), messages)

"""Figure builders: pure functions from query results to `go.Figure` (built directly: plotly.express costs ~10x).

Every figure has a title; every builder has a companion sentence (`*_summary`) that pages put in the chart's
caption, as the text alternative for screen readers and for anyone who cannot see the colours.
"""

from __future__ import annotations

import functools
import json
import math
from collections.abc import Sequence

import pandas as pd
import plotly.graph_objects as go

from dashboard import style
from dashboard.analysis import PACT_LAUNCH_YEAR, SMALL_PEER_GROUP, PeerBenchmark, TargetProgress
from dashboard.data import IndicatorMeta
from dashboard.formatting import (
    BREAK_CAVEAT,
    CURRENCY,
    CURRENCY_SIGN,
    MISSING,
    change,
    compact,
    count,
    full,
    percent,
    round_figure,
    year_span,
)

# Eurostat country codes (EL for Greece) -> ISO 3166 alpha-3, which plotly's map geometry is keyed on.
EUROSTAT_TO_ISO3 = {
    "BE": "BEL", "BG": "BGR", "CZ": "CZE", "DK": "DNK", "DE": "DEU", "EE": "EST", "IE": "IRL", "EL": "GRC",
    "ES": "ESP", "FR": "FRA", "HR": "HRV", "IT": "ITA", "CY": "CYP", "LV": "LVA", "LT": "LTU", "LU": "LUX",
    "HU": "HUN", "MT": "MLT", "NL": "NLD", "AT": "AUT", "PL": "POL", "PT": "PRT", "RO": "ROU", "SI": "SVN",
    "SK": "SVK", "FI": "FIN", "SE": "SWE",
}
NOT_ADDITIVE_NOTE = (
    "Not additive: a member in several partnerships counts in each, so these bars must not be added up."
)
BY_WORDS = {"year": "year", "ecosystem": "industrial ecosystem", "member_state": "Member State",
            "partnership": "partnership", "member_type": "member type"}


def _title(text: str, subtitle: str | None = None) -> dict:
    return {
        "text": text,
        "subtitle": {"text": subtitle, "font": {"size": 12, "color": style.MUTED}} if subtitle else None,
        "x": 0.0,
        "xanchor": "left",
        "font": {"size": style.TITLE_SIZE},
    }


def base_layout(title: str, subtitle: str | None = None, height: int = style.CHART_HEIGHT) -> dict:
    return {
        "title": _title(title, subtitle),
        "height": height,
        "margin": {"l": 10, "r": 20, "t": 78 if subtitle else 56, "b": 40},
        "font": {"family": style.FONT_FAMILY, "size": style.FONT_SIZE, "color": "#212529"},
        "paper_bgcolor": "white",
        "plot_bgcolor": "white",
        "colorway": list(style.SERIES),
        "hoverlabel": {"font": {"family": style.FONT_FAMILY}},
        "legend": {"orientation": "h", "yanchor": "bottom", "y": -0.28, "x": 0},
        "separators": ".,",
    }


def _axis(**extra: object) -> dict:
    return {"gridcolor": style.GRID, "zerolinecolor": style.GRID, "automargin": True, **extra}


def _trace(kind: str, **properties: object) -> dict:
    """A trace as a plain dict, which the figure validates once (a go.Bar or go.Scatter is validated when made, then
    copied and validated again by the figure: half of a lines figure's time)."""
    return {"type": kind, **properties}


def figure(traces: Sequence[object], layout: dict) -> go.Figure:
    """One construction, no update_layout/add_* round trips: each of those re-validates the whole figure."""
    return go.Figure(data=list(traces), layout=layout)


def _merge(layout: dict, **changes: object) -> None:
    """update_layout's merge, on a plain dict: nested dicts merge key by key, everything else replaces."""
    for key, value in changes.items():
        if isinstance(value, dict) and isinstance(layout.get(key), dict):
            _merge(layout[key], **value)
        else:
            layout[key] = value


def _note(text: str, x: float = 0.5, y: float = 0.5) -> dict:
    return {"text": text, "showarrow": False, "x": x, "y": y, "xref": "paper", "yref": "paper",
            "font": {"size": 14, "color": style.MUTED}}


MAP_HEIGHT = 540
# Countries outside the EU: lighter than a Member State without data (style.NO_DATA), and named in the map's key.
OUTSIDE_EU = "#f1f1f1"
# Member States too small to see on the EU map, marked by a circle at (longitude, latitude).
SMALL_STATES = {"MT": (14.45, 35.9), "LU": (6.13, 49.78), "CY": (33.2, 35.05)}


def empty_figure(title: str, message: str, height: int = style.CHART_HEIGHT) -> go.Figure:
    return figure([], {**base_layout(title, height=height), "xaxis": {"visible": False},
                       "yaxis": {"visible": False}, "annotations": [_note(message)]})


@functools.lru_cache(maxsize=64)
def _placeholder_json(title: str, message: str, height: int) -> str:
    return empty_figure(title, message, height).to_json()


def placeholder(title: str, message: str, height: int = style.CHART_HEIGHT) -> dict:
    """`empty_figure` as a plain dict, for a chart drawn later by its own callback: validated once per wording
    instead of on every page (about 1.3 ms each, a tenth of a first-time page), and a fresh dict every time, so
    that nothing a caller does to it reaches the next page."""
    return json.loads(_placeholder_json(title, message, height))


def _hover(meta: IndicatorMeta) -> str:
    money = CURRENCY_SIGN if meta.unit == CURRENCY else ""
    return f"%{{customdata[1]}}<br>{money}%{{customdata[2]}}<br>reported by %{{customdata[3]}} members<extra></extra>"


FLAG_WORDS = {"s": "synthetic sample", "n": "not published", "b": "break in series", "d": "derived",
              "c": "withheld", "m": "not reported"}


def flag_words(codes: object) -> str:
    """"s b" -> "synthetic sample, break in series" (hover text); "none" without flags."""
    words = [FLAG_WORDS.get(code, code) for code in str(codes or "").split()]
    return ", ".join(words) or "none"


def _map_hover(meta: IndicatorMeta) -> str:
    money = CURRENCY_SIGN if meta.unit == CURRENCY else ""
    return (f"%{{customdata[1]}}<br>{money}%{{customdata[2]}}<br>reported by %{{customdata[3]}} of "
            "%{customdata[4]} respondents<br>flags: %{customdata[5]}<extra></extra>")


# --------------------------------------------------------------------------------------------------------------
# Explore
# --------------------------------------------------------------------------------------------------------------


def breakdown_title(meta: IndicatorMeta, by: str, year_from: int, year_to: int) -> str:
    if by == "year":
        return f"{meta.label}, {year_span(year_from, year_to)}"
    return f"{meta.label} by {BY_WORDS[by]}, {year_span(year_from, year_to)}"


def breakdown_figure(
    frame: pd.DataFrame,
    meta: IndicatorMeta,
    by: str,
    year_from: int,
    year_to: int,
    subtitle: str | None = None,
    selected: Sequence[str] = (),
) -> go.Figure:
    """Bars of one breakdown. Categories run top-down, largest first; years run left to right.

    Partnership bars are drawn side by side, never stacked, with the not-additive note under the chart.
    """
    title = breakdown_title(meta, by, year_from, year_to)
    if frame.empty:
        return empty_figure(title, "No member reported this indicator for the selection.")
    values = [full(v, meta.unit).lstrip(CURRENCY_SIGN) for v in frame["value"]]
    custom = list(zip(frame["key"], frame["label"], values, frame["n_reporting"], strict=True))
    highlight = set(selected)
    colours = [style.SECONDARY if key in highlight else style.PRIMARY for key in frame["key"]]
    layout = {**base_layout(title, subtitle), "showlegend": False, "clickmode": "event"}
    if by == "year":
        trace = _trace("bar", x=frame["key"].tolist(), y=frame["value"].tolist(), marker={"color": colours},
                       customdata=custom, hovertemplate=_hover(meta), name=meta.label)
        layout.update(xaxis=_axis(type="category", title=None), yaxis=_axis(title=meta.unit, rangemode="tozero"))
    else:
        ordered = frame.iloc[::-1]  # plotly draws the first category at the bottom
        trace = _trace("bar", y=ordered["label"].tolist(), x=ordered["value"].tolist(), orientation="h",
                       marker={"color": colours[::-1]}, customdata=custom[::-1], hovertemplate=_hover(meta),
                       name=meta.label)
        layout.update(xaxis=_axis(title=meta.unit, rangemode="tozero"),
                      yaxis=_axis(type="category", title=None, tickfont={"size": 12}),
                      height=max(style.CHART_HEIGHT, 90 + 26 * len(frame)))
    if by == "partnership":
        # Side by side, never stacked; the note travels in the subtitle so exported images keep it too.
        layout.update(barmode="group", title=_title(title, _with_note(subtitle)))
    return figure([trace, *_withheld_labels(frame, by, custom)], layout)


def _withheld_labels(frame: pd.DataFrame, by: str, custom: list[tuple]) -> list[dict]:
    """A "withheld" label where a public deployment withheld a bar (members reported, no figure shown), so an
    empty bar never reads as zero. It carries the bar's customdata: clicking it filters like the bar."""
    withheld = (frame["value"].isna() & frame["n_reporting"].gt(0)).to_numpy(dtype=bool)
    if not withheld.any():
        return []
    rows = frame[withheld]
    points = [c for c, hidden in zip(custom, withheld, strict=True) if hidden]
    common = {"mode": "text", "text": ["withheld"] * len(rows), "textfont": {"color": style.MUTED, "size": 11},
              "customdata": points, "hovertemplate": "%{customdata[1]}<br>withheld in this public deployment (see About)"
              "<br>reported by %{customdata[3]} members<extra></extra>",
              "showlegend": False, "cliponaxis": False}
    if by == "year":
        return [_trace("scatter", x=rows["key"].tolist(), y=[0] * len(rows), textposition="top center", **common)]
    return [_trace("scatter", y=rows["label"].tolist(), x=[0] * len(rows), textposition="middle right", **common)]


def _with_note(subtitle: str | None) -> str:
    note = "Not additive: a member in several partnerships counts in each"
    return f"{subtitle} · {note}" if subtitle else note


def breakdown_summary(frame: pd.DataFrame, meta: IndicatorMeta, by: str, year_from: int, year_to: int) -> str:
    title = breakdown_title(meta, by, year_from, year_to)
    if frame.empty:
        return f"{title}: no member reported this indicator for the selection."
    if by == "year":
        parts = ", ".join(f"{k}: {full(v, meta.unit)}" for k, v in zip(frame["key"], frame["value"], strict=True))
        return f"{title}. {parts}."
    # Highest and lowest among the figures shown (a public deployment withholds some: they rank nowhere).
    shown = frame[frame["value"].notna()].sort_values(["value", "label"], ascending=[False, True])
    text = f"{title}. {len(frame)} {BY_WORDS[by]}{'s' if len(frame) != 1 else ''} with data"
    if not shown.empty:
        top, bottom = shown.iloc[0], shown.iloc[-1]
        text += f"; highest {top['label']} ({full(top['value'], meta.unit)})"
        if len(shown) > 1:
            text += f", lowest {bottom['label']} ({full(bottom['value'], meta.unit)})"
    text += "."
    if by == "partnership":
        text += " " + NOT_ADDITIVE_NOTE
    return text


LINE_DASHES = ("solid", "dash", "dot", "dashdot", "longdash", "longdashdot")


def lines_title(meta: IndicatorMeta, by: str, year_from: int, year_to: int) -> str:
    what = "" if by == "year" else f" by {BY_WORDS[by]}"
    return f"{meta.label}{what}, {year_span(year_from, year_to)}"


def lines_figure(
    frame: pd.DataFrame,
    meta: IndicatorMeta,
    by: str,
    year_from: int,
    year_to: int,
    breaks: Sequence[int] = (),
    subtitle: str | None = None,
) -> go.Figure:
    """One line per category over the survey years (frame: key, label, year, value, n_reporting, flags).

    A year a category has no figure for leaves a gap in its line and a hollow marker on the axis; a break in
    series is a dashed vertical line, so no one reads a change across it as like for like. Colour and dash both
    tell the lines apart.
    """
    title = lines_title(meta, by, year_from, year_to)
    if frame.empty or frame["value"].notna().sum() == 0:
        return empty_figure(title, "No figure to draw for the selection.")
    # From the frame's columns as lists: a few dozen points, where pandas' per-call cost dominated.
    lines: dict[object, list[tuple]] = {}
    for row in zip(*(frame[c].tolist() for c in ("key", "label", "year", "value", "n_reporting", "flags")),
                   strict=True):
        lines.setdefault(row[0], []).append(row)
    traces: list = []
    for n, rows in enumerate(lines.values()):
        colour = style.SERIES[n % len(style.SERIES)]
        label = str(rows[0][1])
        traces.append(_trace(
            "scatter", x=[str(year) for _, _, year, *_ in rows], y=[value for *_, value, _, _ in rows],
            mode="lines+markers", name=short_label(label),
            line={"color": colour, "dash": LINE_DASHES[n % len(LINE_DASHES)], "width": 2.5}, marker={"size": 8},
            customdata=[(key, row_label, full(value, meta.unit), reporting, flag_words(flags))
                        for key, row_label, _, value, reporting, flags in rows],
            connectgaps=False,
            hovertemplate="%{customdata[1]}, %{x}<br>%{customdata[2]}<br>reported by %{customdata[3]} members"
                          "<br>flags: %{customdata[4]}<extra></extra>",
        ))
        gaps = [(year, flags) for _, _, year, value, _, flags in rows if pd.isna(value)]
        if gaps:
            why = ["withheld" if "c" in str(flags).split() else "not reported" for _, flags in gaps]
            traces.append(_trace(
                "scatter", x=[str(year) for year, _ in gaps], y=[0] * len(gaps), mode="markers", showlegend=False,
                marker={"symbol": "circle-open", "size": 11, "color": colour, "line": {"width": 2}},
                text=[f"{label}, {year}: no figure ({w})" for (year, _), w in zip(gaps, why, strict=True)],
                hovertemplate="%{text}<extra></extra>", name=f"{short_label(label)}: no figure",
            ))
    shown_years = [str(y) for y in sorted(frame["year"].astype(int).unique())]
    shapes, notes = [], []
    for year in breaks:
        if str(year) in shown_years:
            # On a category axis plotly reads a year-like string as a position: give the category's index.
            at = shown_years.index(str(year))
            shapes.append({"type": "line", "xref": "x", "yref": "paper", "x0": at, "x1": at,
                           "y0": 0, "y1": 1, "line": {"color": style.MUTED, "dash": "dash", "width": 1}})
            notes.append({"text": "break in series", "x": at, "xref": "x", "y": 1, "yref": "paper",
                          "showarrow": False, "yanchor": "bottom", "font": {"size": 11, "color": style.MUTED}})
    layout = {
        **base_layout(title, subtitle), "showlegend": True, "hovermode": "closest",
        "legend": {"orientation": "h", "y": -0.18, "x": 0},
        "xaxis": _axis(type="category", title=None, categoryorder="array", categoryarray=shown_years),
        "yaxis": _axis(title=meta.unit, rangemode="tozero" if meta.unit != "share" or frame["value"].min() >= 0
                       else "normal", tickformat=".0%" if meta.unit == "share" else None),
        "shapes": shapes, "annotations": notes, "height": style.CHART_HEIGHT + 60,
    }
    return figure(traces, layout)


def lines_summary(frame: pd.DataFrame, meta: IndicatorMeta, by: str, year_from: int, year_to: int) -> str:
    title = lines_title(meta, by, year_from, year_to)
    parts = []
    for _key, rows in frame.groupby("key", sort=False):
        points = ", ".join(f"{int(y)}: {full(v, meta.unit)}" for y, v in zip(rows["year"], rows["value"], strict=True))
        parts.append(f"{rows['label'].iloc[0]} ({points})")
    if not parts:
        return f"{title}: no figure for the selection."
    return f"{title}. " + "; ".join(parts) + f". {MISSING} means no figure (not reported, or withheld)."


def map_figure(
    frame: pd.DataFrame,
    meta: IndicatorMeta,
    year_from: int,
    year_to: int,
    subtitle: str | None = None,
) -> go.Figure:
    """EU map of a breakdown by Member State (Eurostat codes in `key`)."""
    title = f"{meta.label} by Member State, {year_span(year_from, year_to)}"
    known = frame[frame["key"].isin(EUROSTAT_TO_ISO3)]
    valued = known[known["value"].notna()]
    # Colours from 0 to the largest value: one country, or equal values, still give a readable colour bar.
    zmax = float(valued["value"].max()) if not valued.empty else 1.0
    scale = {"colorscale": [list(stop) for stop in style.MAP_SCALE], "zmin": 0, "zmax": zmax or 1.0}
    # Member States without data: their own grey, darker than the countries outside the EU.
    with_data = set(valued["key"])
    no_data = [k for k in EUROSTAT_TO_ISO3 if k not in with_data]
    traces: list = []
    if not known.empty:
        # Coverage ("reported by n of N respondents") and flags travel with each country when the frame has them.
        respondents = known["n_respondents"] if "n_respondents" in known else pd.Series("?", index=known.index)
        flags = known["flags"].fillna("") if "flags" in known else pd.Series("", index=known.index)
        custom = list(zip(known["key"], known["label"],
                          [full(v, meta.unit).lstrip(CURRENCY_SIGN) for v in known["value"]], known["n_reporting"],
                          respondents, [flag_words(f) for f in flags], strict=True))
        traces.append(_trace("choropleth",
            locations=[EUROSTAT_TO_ISO3[k] for k in known["key"]], locationmode="ISO-3",
            z=known["value"].tolist(), customdata=custom, hovertemplate=_map_hover(meta), **scale,
            marker={"line": {"color": "white", "width": 0.6}},
            colorbar={"title": {"text": meta.unit}, "thickness": 12, "len": 0.7}, name=meta.label,
        ))
        # Malta, Luxembourg and Cyprus are a few pixels at this scale: a circle in the same colour marks each.
        small = valued[valued["key"].isin(SMALL_STATES)]
        if not small.empty:
            by_key = dict(zip(known["key"], custom, strict=True))
            traces.append(_trace("scattergeo",
                lon=[SMALL_STATES[k][0] for k in small["key"]], lat=[SMALL_STATES[k][1] for k in small["key"]],
                mode="markers", customdata=[by_key[k] for k in small["key"]], hovertemplate=_map_hover(meta),
                showlegend=False, name=meta.label,
                marker={"size": 12, "line": {"color": "#212529", "width": 1}, "color": small["value"].tolist(),
                        "cmin": 0, "cmax": scale["zmax"], "colorscale": scale["colorscale"], "showscale": False},
            ))
    if no_data:  # drawn after the values' trace (fig.data[0] stays the values), apart from them
        labels = dict(zip(known["key"], known["label"], strict=True))
        traces.append(_trace("choropleth",
            locations=[EUROSTAT_TO_ISO3[k] for k in no_data], locationmode="ISO-3", z=[0] * len(no_data),
            text=[labels.get(k, k) for k in no_data], hovertemplate="%{text}: no data<extra></extra>",
            colorscale=[[0, style.NO_DATA], [1, style.NO_DATA]], showscale=False,
            marker={"line": {"color": "white", "width": 0.6}}, name="no data",
        ))
        small_empty = [k for k in no_data if k in SMALL_STATES]
        if small_empty:
            traces.append(_trace("scattergeo",
                lon=[SMALL_STATES[k][0] for k in small_empty], lat=[SMALL_STATES[k][1] for k in small_empty],
                mode="markers", text=[labels.get(k, k) for k in small_empty],
                hovertemplate="%{text}: no data<extra></extra>", showlegend=False, name="no data",
                marker={"size": 12, "color": style.NO_DATA, "line": {"color": "#212529", "width": 1}},
            ))
    legend = (f"<span style='color:{style.NO_DATA}'>■</span> Member State without data   "
              f"<span style='color:{OUTSIDE_EU}'>■</span> outside the EU   "
              "○ Malta, Luxembourg, Cyprus (too small to see at this scale)")
    layout = {
        **base_layout(title, subtitle, height=MAP_HEIGHT),
        # Lambert azimuthal equal-area centred on Europe (the projection of the EU's own maps), framed on the EU-27
        # whatever the selection, drawn from the world geometry at 1:50m (the "europe" file leaves Cyprus out).
        "geo": {"scope": "world", "resolution": 50,
                "projection": {"type": "azimuthal equal area", "rotation": {"lon": 12, "lat": 52}},
                "lonaxis": {"range": [-24, 44]}, "lataxis": {"range": [33.5, 70.5]},
                "showland": True, "landcolor": OUTSIDE_EU, "showcountries": True, "countrycolor": "white",
                "showcoastlines": False, "showframe": False, "showocean": False, "bgcolor": "white"},
        "margin": {"l": 0, "r": 0, "t": 78 if subtitle else 56, "b": 30},
        "clickmode": "event",
        "annotations": [{"text": legend, "showarrow": False, "x": 0, "y": 0, "xref": "paper", "yref": "paper",
                         "xanchor": "left", "yanchor": "top", "yshift": -6, "font": {"size": 12, "color": "#212529"}},
                        *([] if not known.empty else [_note("No Member State has data for the selection.")])],
    }
    return figure(traces, layout)


def map_summary(frame: pd.DataFrame, meta: IndicatorMeta, year_from: int, year_to: int, n_states: int) -> str:
    known = frame[frame["key"].isin(EUROSTAT_TO_ISO3)]
    head = f"Map of {meta.label.lower()} by Member State, {year_span(year_from, year_to)}"
    if known.empty:
        return f"{head}: no Member State has data for the selection."
    top = known.iloc[0]
    return (f"{head}. {len(known)} of {n_states} Member States have data (grey: none); highest "
            f"{top['label']} ({full(top['value'], meta.unit)}). The table view lists every value.")


# --------------------------------------------------------------------------------------------------------------
# Progress
# --------------------------------------------------------------------------------------------------------------


def targets_figure(cumulative: pd.DataFrame, progress: Sequence[TargetProgress]) -> go.Figure:
    """Cumulative people trained against each pledge version, the required path and the projection."""
    title = "Cumulative people up-/reskilled against the partnerships' pledges"
    if cumulative.empty:
        return empty_figure(title, "No people-trained figures yet.")
    first = int(cumulative["year"].min())
    latest = int(cumulative["year"].max())
    subtitle = f"Actual {first}–{latest}, required straight-line path and projection at the achieved pace"
    traces: list = []
    layout = dict(base_layout(title, subtitle, height=400))
    traces.append(_trace("scatter",
        x=cumulative["year"].tolist(), y=cumulative["cumulative"].tolist(), mode="lines+markers+text",
        name="Actual (cumulative)", line={"color": style.PRIMARY, "width": 3}, marker={"size": 8},
        text=[compact(v) for v in cumulative["cumulative"]], textposition="top center", cliponaxis=False,
        hovertemplate="%{x}: %{y:,.0f} people to date<extra></extra>",
    ))
    horizon = max([latest + 1] + [t.deadline_year or 0 for t in progress]
                  + [min(t.projected_year or latest, latest + 12) for t in progress])
    total = float(cumulative["cumulative"].iloc[-1])
    pace = progress[0].achieved_pace if progress else 0.0
    if progress and pace > 0:
        proj_years = list(range(latest, horizon + 1))
        traces.append(_trace("scatter",
            x=proj_years, y=[total + pace * (y - latest) for y in proj_years], mode="lines",
            name=f"Projection at {compact(pace)} a year", line={"color": style.MUTED, "dash": "dot", "width": 2},
            hovertemplate="%{x}: %{y:,.0f} projected<extra></extra>",
        ))
    for i, target in enumerate(progress):
        colour, dash = style.TARGET_STYLES[i % len(style.TARGET_STYLES)]
        label = _target_label(target)
        traces.append(_trace("scatter",
            x=[first, horizon], y=[target.people, target.people], mode="lines", name=label,
            line={"color": colour, "dash": dash, "width": 2}, hovertemplate=f"{label}<extra></extra>",
        ))
        if target.path:
            (y0, v0), (y1, v1) = target.path
            traces.append(_trace("scatter",
                x=[y0, y1], y=[v0, v1], mode="lines", name=f"Required path to {round_figure(target.people)} by {y1}",
                line={"color": colour, "width": 1.5}, opacity=0.75,
                hovertemplate="%{x}: %{y:,.0f} needed on the path<extra></extra>",
            ))
    _merge(layout,
        xaxis=_axis(dtick=1, title=None, range=[first - 0.5, horizon + 0.5]),
        yaxis=_axis(title="people", rangemode="tozero"),
        legend={"orientation": "h", "y": -0.18, "x": 0, "yanchor": "top"},
        margin={"b": 110},
    )
    return figure(traces, layout)


def _target_label(target: TargetProgress) -> str:
    qualifier = f"{target.qualifier} " if target.qualifier else ""
    deadline = f" by {target.deadline_year}" if target.deadline_year else " (no deadline)"
    return f"Pledge: {qualifier}{round_figure(target.people)}{deadline}"


def target_sentence(target: TargetProgress) -> str:
    """On-track status in words."""
    years = year_span(target.first_year, target.latest_year)
    head = (f"{_target_label(target)}: {compact(target.cumulative)} people trained to {target.latest_year} "
            f"({percent(target.share_attained)} of the pledge).")
    if target.status == "reached":
        return f"{head} Reached."
    pace = f"at the {years} average pace of {compact(target.achieved_pace)} a year"
    when = (f"it would be reached in {target.projected_year}" if target.projected_year
            else "it would not be reached")
    if target.status == "no deadline":
        return f"{head} No deadline was set; {pace} {when}."
    needed = compact(target.needed_pace) if target.needed_pace is not None else "–"
    if target.status == "on track":
        return (f"{head} On track: {pace} {when}, by the {target.deadline_year} deadline "
                f"({needed} a year needed from {target.latest_year + 1}).")
    late = (target.projected_year - target.deadline_year) if target.projected_year and target.deadline_year else None
    late_text = f", {late} year{'s' if late != 1 else ''} after the deadline" if late else ""
    return (f"{head} Off track: {pace} {when}{late_text}; {needed} a year is needed from "
            f"{target.latest_year + 1} to {target.deadline_year}.")


def progress_headline(cumulative: pd.DataFrame, progress: Sequence[TargetProgress],
                      break_in_series: bool = False) -> str:
    """The one sentence a director reads first: the latest year, the total to date, the furthest dated pledge.
    `break_in_series`: the latest year's question was reworded, so its change on the year before is caveated."""
    if cumulative.empty:
        return "No people-trained figures yet."
    latest = cumulative.iloc[-1]
    text = f"{compact(latest['value'])} people were up-/reskilled in {int(latest['year'])}"
    if len(cumulative) > 1:
        before = cumulative.iloc[-2]
        if before["value"]:
            caveat = f"; {BREAK_CAVEAT.format(year=int(latest['year']))}" if break_in_series else ""
            text += f" ({change(latest['value'] / before['value'] - 1)} on {int(before['year'])}{caveat})"
    first = int(cumulative["year"].iloc[0])
    # The first survey counted everything from the Pact's launch "up to December" of its year, so the sum of the
    # surveys is the figure published as "since its launch in 2020".
    surveys = f"{len(cumulative)} survey{'s' if len(cumulative) != 1 else ''}"
    text += (f"; {compact(latest['cumulative'])} since the Pact's launch in {PACT_LAUNCH_YEAR} ({surveys}; the first "
             f"counted activity up to December {first}).")
    dated = [t for t in progress if t.deadline_year]
    if dated:
        target = max(dated, key=lambda t: t.deadline_year or 0)
        qualifier = f"{target.qualifier} " if target.qualifier else ""
        text += (f" That is {percent(target.share_attained)} of the {qualifier}{round_figure(target.people)} the "
                 f"partnerships pledged for {target.deadline_year}")
        if target.status == "on track":
            text += f", on track to be reached in {target.projected_year}."
        elif target.status == "off track":
            reach = f"in {target.projected_year}" if target.projected_year else "not at all"
            text += (f": off track. At the {year_span(first, target.latest_year)} pace it would be reached "
                     f"{reach}; {compact(target.needed_pace)} a year is needed.")
        else:
            text += ": reached."
    return text


def pace_figure(cumulative: pd.DataFrame, progress: Sequence[TargetProgress]) -> go.Figure:
    """People trained per year (achieved) against the yearly pace each dated pledge needs."""
    title = "People up-/reskilled per year: achieved and needed"
    if cumulative.empty:
        return empty_figure(title, "No people-trained figures yet.")
    traces: list = []
    layout = dict(base_layout(title, "Achieved per year; hatched: needed a year to the deadline",
                                       height=style.SMALL_CHART_HEIGHT + 40))
    traces.append(_trace("bar",
        x=cumulative["year"].astype(str).tolist(), y=cumulative["value"].tolist(), name="Achieved",
        marker={"color": style.PRIMARY}, text=[compact(v) for v in cumulative["value"]], textposition="outside",
        hovertemplate="%{x}: %{y:,.0f} people<extra></extra>", cliponaxis=False,
    ))
    for i, target in enumerate(progress):
        if target.needed_pace is None or target.deadline_year is None:  # a pace is only needed toward a deadline
            continue
        # a bar of its own for the years it applies to: drawn across the achieved years it read as a past shortfall
        colour, _dash = style.TARGET_STYLES[i % len(style.TARGET_STYLES)]
        span = f"{target.latest_year + 1}–{target.deadline_year}"
        traces.append(_trace("bar",
            x=[f"{target.latest_year + 1}–{target.deadline_year % 100:02d}"], y=[target.needed_pace],
            name=f"Needed a year {span} for the {round_figure(target.people)} pledged by {target.deadline_year}",
            marker={"color": colour, "pattern": {"shape": "/"}}, text=[compact(target.needed_pace)],
            textposition="outside", cliponaxis=False,
            hovertemplate=f"needed each year {span}: {compact(target.needed_pace)}<extra></extra>",
        ))
    _merge(layout, xaxis=_axis(type="category", title=None, tickangle=0), yaxis=_axis(title="people per year",
                                                                        rangemode="tozero"),
                   legend={"orientation": "h", "y": -0.15, "x": 0, "yanchor": "top"}, margin={"b": 80})
    return figure(traces, layout)


def pace_rows(cumulative: pd.DataFrame, progress: Sequence[TargetProgress]) -> list[dict[str, str]]:
    """The pace chart as table rows (its text alternative)."""
    rows = [{"Year": str(y), "Achieved": full(v, "people")} for y, v in
            zip(cumulative["year"], cumulative["value"], strict=True)]
    for target in progress:
        if target.needed_pace is not None:
            rows.append({"Year": f"needed {target.latest_year + 1}–{target.deadline_year}",
                         "Achieved": f"{full(round(target.needed_pace), 'people')} a year ({_target_label(target)})"})
    return rows


def members_figure(registry: pd.DataFrame, published: pd.DataFrame) -> go.Figure:
    title = "Members over time"
    if registry.empty and published.empty:
        return empty_figure(title, "No membership data.")
    traces: list = []
    layout = dict(base_layout(title, "Registry (date joined) and the Commission's published counts",
                                       height=style.SMALL_CHART_HEIGHT))
    if not registry.empty:
        traces.append(_trace("scatter",
            x=registry["as_of"].tolist(), y=registry["members"].tolist(), mode="lines", line_shape="hv",
            name="Registered members", line={"color": style.PRIMARY, "width": 2.5},
            hovertemplate="%{x|%b %Y}: %{y:,} members<extra></extra>",
        ))
    pub = published[published["members"].notna()]
    if not pub.empty:
        labels = [f"{q} {count(m)}".strip() for q, m in zip(pub["qualifier"].fillna(""), pub["members"], strict=True)]
        traces.append(_trace("scatter",
            x=pub["as_of"].tolist(), y=pub["members"].tolist(), mode="markers", name="Published count",
            marker={"color": style.SECONDARY, "size": 10, "symbol": "diamond", "line": {"color": "black", "width": 1}},
            text=labels, hovertemplate="%{x|%d %b %Y}: %{text}<extra>published</extra>",
        ))
    _merge(layout, xaxis=_axis(title=None), yaxis=_axis(title="members", rangemode="tozero"))
    return figure(traces, layout)


def partnerships_figure(launches: pd.DataFrame, published: pd.DataFrame) -> go.Figure:
    title = "Partnerships over time"
    if launches.empty:
        return empty_figure(title, "No partnership launch dates.")
    traces: list = []
    layout = dict(base_layout(title, "Known to date (launch day, else the end of the period the sources give) "
                                     "and published counts",
                                       height=style.SMALL_CHART_HEIGHT))
    names = {"large-scale": "Large-scale", "regional": "Regional"}
    colours = {"large-scale": style.PRIMARY, "regional": style.OKABE_ITO["bluish_green"]}
    end = max(pd.Timestamp(launches["as_of"].max()), pd.Timestamp(published["as_of"].max())
              if not published.empty else pd.Timestamp(launches["as_of"].max()))
    for kind, rows in launches.groupby("kind", sort=True):
        xs = [*rows["as_of"].tolist(), end]
        ys = [*rows["partnerships"].tolist(), int(rows["partnerships"].iloc[-1])]
        traces.append(_trace("scatter",
            x=xs, y=ys, mode="lines", line_shape="hv", name=f"{names.get(kind, kind)} (reference table)",
            line={"color": colours.get(kind, style.MUTED), "width": 2.5},
            hovertemplate="%{x|%b %Y}: %{y} partnerships<extra></extra>",
        ))
    for column, kind, symbol in (("large_scale_partnerships", "large-scale", "diamond"),
                                 ("regional_partnerships", "regional", "square")):
        pub = published[published[column].notna()]
        if not pub.empty:
            traces.append(_trace("scatter",
                x=pub["as_of"].tolist(), y=pub[column].tolist(), mode="markers",
                name=f"{names[kind]} (published)",
                marker={"color": colours[kind], "size": 9, "symbol": symbol, "line": {"color": "black", "width": 1}},
                hovertemplate="%{x|%d %b %Y}: %{y} published<extra></extra>",
            ))
    _merge(layout, xaxis=_axis(title=None), yaxis=_axis(title="partnerships", rangemode="tozero"),
                   legend={"orientation": "h", "y": -0.15, "x": 0, "yanchor": "top"}, margin={"b": 90},
                   height=style.SMALL_CHART_HEIGHT + 30)
    return figure(traces, layout)


# --------------------------------------------------------------------------------------------------------------
# Partnerships
# --------------------------------------------------------------------------------------------------------------


def short_label(text: str, limit: int = 36) -> str:
    """A long name cut for an axis (the full name stays in the hover and the table)."""
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def peer_figure(bench: PeerBenchmark, meta: IndicatorMeta) -> go.Figure:
    title = f"Against its peers, {bench.year}"
    subtitle = (f"{meta.label} · {bench.n_with_data} of {bench.group_size} {bench.group_label} with data"
                + ("" if bench.named else " · peers unnamed (public deployment)"))
    if not bench.peers:
        return empty_figure(title, "No partnership in this group has data for the year.")
    traces: list = []
    layout = dict(base_layout(title, subtitle, height=max(style.SMALL_CHART_HEIGHT, 120 + 24 * len(
        bench.peers))))
    names = [label for label, _ in bench.peers][::-1]
    values = [value for _, value in bench.peers][::-1]
    colours = [style.SECONDARY if label == bench.name else style.PRIMARY for label in names]
    traces.append(_trace("bar", y=[short_label(n) for n in names], x=values, orientation="h", marker={"color": colours},
                         customdata=names, hovertemplate="%{customdata}: %{x:,.0f}<extra></extra>", name=meta.label))
    shapes, notes = [], []
    if bench.q1 is not None and bench.q3 is not None:
        shapes.append({"type": "rect", "xref": "x", "yref": "paper", "x0": bench.q1, "x1": bench.q3, "y0": 0,
                       "y1": 1, "fillcolor": style.OKABE_ITO["sky_blue"], "opacity": 0.25, "line": {"width": 0},
                       "layer": "below"})
    if bench.median is not None:
        shapes.append({"type": "line", "xref": "x", "yref": "paper", "x0": bench.median, "x1": bench.median,
                       "y0": 0, "y1": 1, "line": {"color": style.ACCENT, "dash": "dash", "width": 2}})
        notes.append({"text": f"median {compact(bench.median, meta.unit)}", "x": bench.median, "xref": "x",
                      "y": 0, "yref": "paper", "xanchor": "left", "yanchor": "bottom", "showarrow": False,
                      "font": {"size": 12}, "bgcolor": "white"})
    layout.update(shapes=shapes, annotations=notes)
    _merge(layout, showlegend=False, xaxis=_axis(title=meta.unit, rangemode="tozero"),
                   yaxis=_axis(type="category", title=None, tickfont={"size": 11}))
    return figure(traces, layout)


def peer_summary(bench: PeerBenchmark, meta: IndicatorMeta) -> str:
    if bench.value is None:
        head = f"{bench.name} has no reporting member for {meta.label.lower()} in {bench.year}."
    else:
        head = (f"{bench.name}: {full(bench.value, meta.unit)} in {bench.year}, rank {bench.rank} of "
                f"{bench.n_with_data} {bench.group_label} with data.")
    if bench.median is None:
        return head
    return (f"{head} Peer median {full(bench.median, meta.unit)} (dashed line), quartiles "
            f"{full(bench.q1, meta.unit)} to {full(bench.q3, meta.unit)} (shaded)."
            + ("" if bench.named else " Peers are not named in a public deployment.")
            + (f" The group has fewer than {SMALL_PEER_GROUP} partnerships with data, so the median and quartiles "
               "rest on few values." if bench.n_with_data < SMALL_PEER_GROUP else ""))


def trend_figure(bench: PeerBenchmark, meta: IndicatorMeta) -> go.Figure:
    title = "By year, against the peer median"
    if not bench.trend:
        return empty_figure(title, "No data for this partnership's group.")
    years = [str(y) for y, _, _ in bench.trend]
    traces: list = []
    layout = dict(base_layout(title, f"{meta.label} · median of {bench.group_label}",
                                       height=style.SMALL_CHART_HEIGHT + 40))
    traces.append(_trace("scatter", x=years, y=[o for _, o, _ in bench.trend], mode="lines+markers",
                             name=short_label(bench.name, 48),
                             line={"color": style.SECONDARY, "width": 3}, marker={"size": 8},
                             hovertemplate="%{x}: %{y:,.0f}<extra></extra>"))
    traces.append(_trace("scatter", x=years, y=[m for _, _, m in bench.trend], mode="lines+markers", name="Peer median",
                             line={"color": style.PRIMARY, "dash": "dash", "width": 2}, marker={"symbol": "square"},
                             hovertemplate="%{x}: median %{y:,.0f}<extra></extra>"))
    _merge(layout, xaxis=_axis(type="category", title=None), yaxis=_axis(title=meta.unit, rangemode="tozero"))
    return figure(traces, layout)


def response_figure(rates: pd.DataFrame) -> go.Figure:
    title = "Response rate per survey wave"
    if rates.empty:
        return empty_figure(title, "No survey waves.")
    traces: list = []
    layout = dict(base_layout(title, "Respondents / members registered by the end of the activity year",
                                       height=style.SMALL_CHART_HEIGHT))
    traces.append(_trace("bar",
        x=rates["year"].astype(str).tolist(), y=[0 if math.isnan(r) else r * 100 for r in rates["response_rate"]],
        marker={"color": style.PRIMARY}, text=[percent(r) for r in rates["response_rate"]], textposition="outside",
        customdata=list(zip(rates["n_respondents"], rates["n_registered"], strict=True)), cliponaxis=False,
        hovertemplate="%{x}: %{customdata[0]:,} of %{customdata[1]:,} members<extra></extra>",
    ))
    _merge(layout, showlegend=False, xaxis=_axis(type="category", title=None),
                   yaxis=_axis(title="% responding", rangemode="tozero"))
    return figure(traces, layout)

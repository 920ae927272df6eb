"""Style constants in one place: a colour-blind-safe palette (Okabe & Ito), chart defaults, id prefixes."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:  # the type only: this module stays free of Dash at runtime
    from dash import dcc

# Okabe & Ito (2008), "Color Universal Design": distinguishable under the common colour-vision deficiencies.
OKABE_ITO = {
    "black": "#000000",
    "orange": "#E69F00",
    "sky_blue": "#56B4E9",
    "bluish_green": "#009E73",
    "yellow": "#F0E442",
    "blue": "#0072B2",
    "vermillion": "#D55E00",
    "reddish_purple": "#CC79A7",
}
PRIMARY = OKABE_ITO["blue"]
SECONDARY = OKABE_ITO["orange"]
ACCENT = OKABE_ITO["vermillion"]
MUTED = "#6c757d"  # Bootstrap's secondary grey: 4.6:1 on white
GRID = "#e3e6ea"
SERIES = (PRIMARY, SECONDARY, OKABE_ITO["bluish_green"], OKABE_ITO["reddish_purple"], OKABE_ITO["sky_blue"],
          ACCENT, OKABE_ITO["black"])
# Target versions get distinct colours and dash styles, so they differ without relying on colour.
TARGET_STYLES = ((OKABE_ITO["vermillion"], "dash"), (OKABE_ITO["reddish_purple"], "dot"),
                 (OKABE_ITO["black"], "dashdot"))
# Sequential scale for the map: light to dark blue, monotonic in lightness (readable in greyscale too).
MAP_SCALE = ((0.0, "#e8f1fa"), (0.5, "#6baed6"), (1.0, "#08306b"))
NO_DATA = "#d9d9d9"

FONT_FAMILY = 'system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif'
FONT_SIZE = 13
TITLE_SIZE = 16
CHART_HEIGHT = 380
SMALL_CHART_HEIGHT = 320

APP_TITLE = "Pact Monitor"
EU_BLUE = "#003399"

# Plotly's modebar: keep the image export, drop what a briefing reader never needs.
GRAPH_CONFIG: dcc.Graph.Config = {
    "displaylogo": False,
    "modeBarButtonsToRemove": ["select2d", "lasso2d", "autoScale2d", "toggleSpikelines"],
    "responsive": True,
}

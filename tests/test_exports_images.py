"""Server-side chart images through kaleido and Debian's Chromium (skipped where Chromium is absent)."""

from __future__ import annotations

import contextlib
import logging
import os
import re
import shutil
import struct
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import plotly.graph_objects as go
import pytest

from dashboard import images
from dashboard.exports import CHART_HEIGHT, CHART_WIDTH, ExportMeta, figure_for_export

needs_chromium = pytest.mark.skipif(shutil.which("chromium") is None, reason="Debian's chromium is not installed")


@pytest.fixture(scope="module")
def renderer():
    yield images
    images.stop()


def _png_size(data: bytes) -> tuple[int, int]:
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    return struct.unpack(">II", data[16:24])


def _meta(title: str) -> ExportMeta:
    return ExportMeta(view="test", title=title, vintage_id="v1", permalink="http://127.0.0.1/x", synthetic=True,
                      waves=(2022, 2024), flags=("s",))


@needs_chromium
def test_png_and_svg_carry_the_export_annotations(renderer):
    fig = figure_for_export(go.Figure(go.Bar(x=["2022", "2023", "2024"], y=[2.0e6, 1.5e6, 2.6e6])),
                            _meta("People up-/reskilled per year"))
    png = renderer.render(fig, "png")
    assert _png_size(png) == (CHART_WIDTH * 2, CHART_HEIGHT * 2)
    svg = renderer.render(fig, "svg").decode("utf-8")
    assert svg.startswith("<svg")
    assert "People up-/reskilled per year" in svg
    assert "data vintage v1" in svg and "SYNTHETIC SAMPLE" in svg


@needs_chromium
def test_map_renders_from_local_topojson(renderer):
    fig = go.Figure(go.Choropleth(locations=["FRA", "DEU", "GRC"], z=[1, 2, 3], locationmode="ISO-3"))
    fig.update_geos(scope="europe", resolution=50)
    svg = renderer.render(fig, "svg", width=600, height=500).decode("utf-8")
    # Three country shapes drawn with real outlines: the geometry was read from assets/topojson/ offline.
    outlines = re.findall(r'class="choroplethlocation"[^>]*? d="(M[^"]+)"', svg)
    assert len(outlines) == 3 and all(len(d) > 200 for d in outlines)
    assert 'class="layer land"' in svg


@needs_chromium
def test_concurrent_renders_each_get_their_own_image(renderer):
    titles = [f"Chart number {i}" for i in range(6)]

    def one(title: str) -> str:
        fig = go.Figure(go.Scatter(x=[1, 2], y=[1, 2]), layout={"title": {"text": title}})
        return renderer.render(fig, "svg", width=400, height=300).decode("utf-8")

    renderer.render(go.Figure(), "svg", width=100, height=100)  # the renders below share one running Chromium
    with ThreadPoolExecutor(max_workers=4) as pool:
        results = list(pool.map(one, titles))
    for title, svg in zip(titles, results, strict=True):
        assert title in svg
        assert all(other not in svg for other in titles if other != title)


def _chromium_descendants() -> set[int]:
    """Chromium processes under this one (from /proc): kaleido's browser and helpers, and any other test's."""
    children: dict[int, list[int]] = {}
    names: dict[int, str] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError, ValueError, IndexError):
            text = stat.read_text()
            pid = int(text.split(" ", 1)[0])
            names[pid] = text[text.index("(") + 1:text.rindex(")")]
            children.setdefault(int(text[text.rindex(")") + 2:].split()[1]), []).append(pid)
    found, todo = set(), list(children.get(os.getpid(), []))
    while todo:
        pid = todo.pop()
        if "chrom" in names.get(pid, ""):
            found.add(pid)
        todo += children.get(pid, [])
    return found


@needs_chromium
def test_an_idle_renderer_stops_its_chromium_and_the_next_render_starts_one(monkeypatch):
    images.stop()
    monkeypatch.setattr(images, "IDLE_STOP_S", 1.0)
    others = _chromium_descendants()  # e.g. the browser tests' Chromium, when the whole suite runs
    assert images.render(go.Figure(), "svg", width=100, height=100).startswith(b"<svg")
    kaleido = _chromium_descendants() - others
    assert kaleido
    deadline = time.monotonic() + 30
    while (images._renderer is not None or kaleido & _chromium_descendants()) and time.monotonic() < deadline:
        time.sleep(0.25)
    assert images._renderer is None and not kaleido & _chromium_descendants()  # the memory went back
    assert images.render(go.Figure(), "svg", width=100, height=100).startswith(b"<svg")
    images.stop()


def test_missing_browser_fails_with_a_clear_error(monkeypatch):
    images.stop()
    monkeypatch.setenv("BROWSER_PATH", "/nonexistent/chromium")
    with pytest.raises(images.ImageRenderError, match="could not render the chart as png"):
        images.render(go.Figure(), "png")
    images.stop()


def test_unknown_format_is_refused():
    with pytest.raises(ValueError, match="unsupported image format"):
        images.render(go.Figure(), "gif")  # type: ignore[arg-type]


def test_an_undecodable_message_from_chromium_is_one_warning_line_not_a_traceback(caplog):
    # choreographer's pipe reader logs this with a traceback when Chromium's last message meets the closing marker
    pipe_log = logging.getLogger("choreographer.channels.pipe")
    with caplog.at_level(logging.WARNING, logger="choreographer.channels.pipe"):
        try:
            raise ValueError("Expecting value: line 1 column 1 (char 0)")
        except ValueError:
            pipe_log.exception("JSONError decoding message. Ignoring")
    (record,) = caplog.records
    assert record.levelno == logging.WARNING and record.exc_info is None
    assert "not JSON" in record.getMessage() and "Traceback" not in caplog.text

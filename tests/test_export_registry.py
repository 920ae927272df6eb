"""The page export registry: every page that registers exports serves every view in every format it declares,
through the same HTTP route the export bar links to, and a page's download links name only what it registered."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from dashboard import app as app_module  # loads the pages, which register their exports
from dashboard.components.export_bar import LINK
from dashboard.export_registry import registered
from dashboard.export_views import page_export
from tests.dashboard_fixtures import serving_fixture_snapshot, walk

BASE = "http://127.0.0.1:8050"
# What each format's bytes open with: a CSV's BOM, a ZIP (XLSX) header, a PNG signature, an SVG root element.
OPENS_WITH = {"csv": b"\xef\xbb\xbf", "xlsx": b"PK", "png": b"\x89PNG", "svg": b"<svg"}


@pytest.fixture(scope="module")
def curated(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    with serving_fixture_snapshot(tmp_path_factory.mktemp("curated-registry")) as root:
        yield root


def test_every_page_registers_its_exports_under_its_own_path():
    pages = {entry["path"]: entry["name"] for entry in app_module.dash.page_registry.values()}
    exporting = {exports.path: exports.title for exports in registered().values()}
    assert exporting == pages  # every page exports, with the path and name it registered with Dash


def test_every_registered_view_exports_in_every_format_it_declares(curated):
    with app_module.app.server.test_client() as client:
        for page in registered():
            export = page_export(page, {}, BASE)
            assert export.views, page
            for view in export.views:
                assert set(view.formats) >= {"csv", "xlsx"}, (page, view.key)
                for fmt in view.formats:
                    response = client.get(f"/export/{page}/{view.key}.{fmt}")
                    assert response.status_code == 200, (page, view.key, fmt, response.get_data(as_text=True))
                    assert response.data.lstrip().startswith(OPENS_WITH[fmt]), (page, view.key, fmt)
                    assert "attachment" in response.headers["Content-Disposition"], (page, view.key, fmt)


def test_a_pages_download_links_name_only_views_and_formats_it_registered(curated):
    for page, exports in registered().items():
        layout = next(m for m in app_module.dash.page_registry.values() if m["path"] == exports.path)["layout"]
        declared = {(v.key, fmt) for v in page_export(page, {}, BASE).views for fmt in v.formats}
        linked = {(c.id["view"], c.id["fmt"]) for c in walk(layout())
                  if isinstance(getattr(c, "id", None), dict) and c.id.get("type") == LINK}
        assert linked, page
        assert linked <= declared, (page, linked - declared)

"""The vendored offline assets: checksums as recorded in LICENSES.md, and how Dash serves and links them.

No browser needed: these run everywhere and fail fast when an asset is changed, lost or linked in the wrong order.
"""

import hashlib
import json
import re
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
ASSETS = REPO / "dashboard" / "assets"
LICENSES_MD = ASSETS / "vendor" / "LICENSES.md"
EU27_ISO3 = {
    "AUT", "BEL", "BGR", "HRV", "CYP", "CZE", "DNK", "EST", "FIN", "FRA", "DEU", "GRC", "HUN", "IRL",
    "ITA", "LVA", "LTU", "LUX", "MLT", "NLD", "POL", "PRT", "ROU", "SVK", "SVN", "ESP", "SWE",
}  # fmt: skip

# A row of LICENSES.md: | `path` | `package@version` | `from` | licence | `sha256` |
ROW = re.compile(r"^\| `(?P<path>[^`]+)` \| `(?P<package>[^`]+)` \|.*\| `(?P<sha256>[0-9a-f]{64})` \|$")


def recorded_assets() -> dict[str, str]:
    rows = (ROW.match(line) for line in LICENSES_MD.read_text(encoding="utf-8").splitlines())
    return {m["path"]: m["sha256"] for m in rows if m}


def test_every_vendored_file_matches_its_recorded_checksum():
    recorded = recorded_assets()
    assert len(recorded) == 9, recorded
    for rel_path, sha256 in recorded.items():
        assert hashlib.sha256((REPO / rel_path).read_bytes()).hexdigest() == sha256, rel_path


def test_no_vendored_file_is_unrecorded():
    recorded = set(recorded_assets())
    vendored = [
        *sorted((ASSETS / "vendor").rglob("*")),
        *sorted((ASSETS / "topojson").rglob("*")),
        *sorted((REPO / "tests" / "browser" / "vendor").rglob("*")),
    ]
    # Licence texts and this record itself are documentation, not assets.
    unrecorded = [
        str(path.relative_to(REPO))
        for path in vendored
        if path.is_file() and not path.name.startswith("LICENSE") and str(path.relative_to(REPO)) not in recorded
    ]
    assert unrecorded == []
    licence_dirs = {ASSETS / "vendor" / "bootstrap", ASSETS / "vendor" / "bootstrap-icons", ASSETS / "topojson"}
    assert all((folder / "LICENSE").is_file() for folder in licence_dirs)


def test_only_world_50m_has_every_eu_member_state():
    """The fact LICENSES.md tells the map code: coarser Natural Earth files drop Cyprus and/or Malta."""
    missing = {}
    for name in ("europe_110m", "europe_50m", "world_110m", "world_50m"):
        topology = json.loads((ASSETS / "topojson" / f"{name}.json").read_text(encoding="utf-8"))
        ids = {geometry.get("id") for geometry in topology["objects"]["countries"]["geometries"]}
        missing[name] = sorted(EU27_ISO3 - ids)
    assert missing == {"europe_110m": ["CYP", "MLT"], "europe_50m": ["CYP"], "world_110m": ["MLT"], "world_50m": []}


def test_bootstrap_icons_fonts_are_referenced_relatively_and_exist():
    css_path = ASSETS / "vendor" / "bootstrap-icons" / "bootstrap-icons.min.css"
    urls = re.findall(r"url\(\"?([^\")]+)\"?\)", css_path.read_text(encoding="utf-8"))
    assert len(urls) == 2
    for url in urls:
        assert "//" not in url, url
        assert (css_path.parent / url.split("?")[0]).is_file(), url


# Run in a child process: a Dash app's first request moves Dash's *global* callback registry into that app, which
# would steal the callbacks of the real app if another test in this process has imported its pages.
PROBE_ASSETS_WITH_DASH = """
import json, re, sys
import dash
from dash import html

app = dash.Dash(__name__, assets_folder=sys.argv[1])
app.layout = html.Div("probe")
client = app.server.test_client()
with client.get("/") as response:
    index = response.get_data(as_text=True)
served = {}
for path in sys.argv[2:]:
    with client.get("/assets/" + path) as response:
        served[path] = [response.status_code, response.mimetype]
print(json.dumps({
    "stylesheets": re.findall(r'<link rel="stylesheet" href="([^"?]+)', index),
    "scripts": re.findall(r'<script src="([^"?]+)', index),
    "served": served,
}))
"""


def test_dash_links_the_css_serves_the_rest_and_loads_no_geometry():
    served_paths = [
        "topojson/world_50m.json",
        "vendor/bootstrap-icons/fonts/bootstrap-icons.woff2",
        "vendor/bootstrap-icons/fonts/bootstrap-icons.woff",
    ]
    result = subprocess.run(
        [sys.executable, "-W", "error", "-c", PROBE_ASSETS_WITH_DASH, str(ASSETS), *served_paths],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
        cwd=REPO,
    )
    probe = json.loads(result.stdout)
    vendor_css = [href for href in probe["stylesheets"] if href.startswith("/assets/vendor/")]
    assert vendor_css == [
        "/assets/vendor/bootstrap/bootstrap.min.css",
        "/assets/vendor/bootstrap-icons/bootstrap-icons.min.css",
    ]
    # Bootstrap must come first: any stylesheet linked before it would lose every tie against it.
    assert probe["stylesheets"][0] == "/assets/vendor/bootstrap/bootstrap.min.css"
    # Map geometry is fetched by plotly.js on demand, never linked into every page.
    assert not [href for href in probe["stylesheets"] + probe["scripts"] if "/topojson/" in href]
    assert not [href for href in probe["stylesheets"] + probe["scripts"] if "//" in href]
    assert probe["served"] == {
        "topojson/world_50m.json": [200, "application/json"],
        "vendor/bootstrap-icons/fonts/bootstrap-icons.woff2": [200, "font/woff2"],
        "vendor/bootstrap-icons/fonts/bootstrap-icons.woff": [200, "font/woff"],
    }

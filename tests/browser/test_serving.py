"""The production path without a browser: the Procfile's gunicorn serving dashboard.wsgi:server."""

import json
import re
import socket
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from tests.browser.conftest import AppServer, gunicorn_process, http_get, http_post_json


def _index(app_server: AppServer) -> str:
    status, body = http_get(app_server.url + "/")
    assert status == 200
    return body.decode("utf-8")


def test_production_serves_without_debug_or_dev_tools(app_server: AppServer):
    config_json = re.search(
        r'<script id="_dash-config" type="application/json">(.*?)</script>', _index(app_server), re.S
    )
    assert config_json, "the index carries no _dash-config"
    config = json.loads(config_json.group(1))
    assert config["ui"] is False  # the dev-tools UI (and its version check) is off
    assert config["props_check"] is False
    assert config["serve_locally"] is True  # component bundles come from this server, never a CDN
    # Werkzeug's debugger (app.run(debug=True)) serves its own files to any URL carrying __debugger__; without it
    # the URL is just another page of the app.
    status, body = http_get(app_server.url + "/?__debugger__=yes&cmd=resource&f=debugger.js")
    assert status == 200
    assert b"_dash-config" in body
    # A callback request no page sends gets a bare error, never a traceback or the debugger's console.
    unknown_callback = {"output": "nope.children", "outputs": {"id": "nope", "property": "children"}, "inputs": []}
    status, body = http_post_json(app_server.url + "/_dash-update-component", json.dumps(unknown_callback).encode())
    assert 400 <= status < 600
    assert b"Traceback" not in body
    assert b"Werkzeug" not in body


def test_a_fresh_server_answers_every_request_of_its_first_page_loads(
    app_server: AppServer, curated_dir: Path, tmp_path: Path
):
    """plotly/dash#3971: a fresh threaded worker answered 500 to bundle requests racing its first page load.

    gunicorn binds its socket before the workers have imported the app, so requests sent right away queue up and
    reach each worker the moment it starts serving. Without the warm-up in dashboard/wsgi.py, the ones that arrive
    in Dash's set-up gap come back 500 ("... is not a registered library"). The bundle paths are read from the
    session's server: the same code serves the same fingerprinted paths.
    """
    bundles = re.findall(r'<script src="(/_dash-component-suites/[^"]+)"', _index(app_server))
    assert len(bundles) >= 5, bundles
    with gunicorn_process(curated_dir, tmp_path / "fresh-gunicorn.log") as fresh:
        _wait_for_socket(fresh)
        # Two page loads' worth of requests at once, the index among them, on a server that has answered none.
        paths = ["/", *bundles, "/", *bundles]
        with ThreadPoolExecutor(max_workers=8) as pool:
            statuses = list(pool.map(lambda path: (http_get(fresh.url + path, timeout_s=60)[0], path), paths))
        log = fresh.log_text()
    failed = [f"{status} {path}" for status, path in statuses if status != 200]
    assert failed == [], log[-4000:]
    assert "Traceback" not in log


def _wait_for_socket(server: AppServer, timeout_s: float = 30) -> None:
    deadline = time.monotonic() + timeout_s
    host, port = server.url.removeprefix("http://").split(":")
    while time.monotonic() < deadline:
        assert server.process.poll() is None, server.log_text()[-4000:]
        try:
            socket.create_connection((host, int(port)), timeout=1).close()
        except OSError:
            time.sleep(0.05)
        else:
            return
    raise AssertionError(f"gunicorn did not open its socket within {timeout_s} s")

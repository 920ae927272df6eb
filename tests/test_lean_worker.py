"""A worker that serves pages does not load the libraries only exports use (python-docx and lxml, xlsxwriter,
kaleido): they are imported when a briefing pack, a workbook or a chart image is asked for; nor Dash's Jupyter
integration (IPython, requests), which is for notebooks. Checked in a fresh
interpreter, as gunicorn starts a worker: `dashboard.wsgi` (the Procfile's entry point, which builds the app and
sends it a warm-up request), then every page once. Also what the boot leaves behind: the snapshot open, the
first visitor's answers cached, the boot's objects frozen out of the collector's way, glibc's malloc arenas capped
and Arrow allocating from them."""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
EXPORT_ONLY = ("docx", "lxml", "xlsxwriter", "kaleido", "choreographer")
JUPYTER_ONLY = ("IPython", "requests", "comm", "nest_asyncio")  # Dash's notebook integration (dashboard.headless)

_WORKER = """
import ctypes, importlib.metadata, json, sys, threading
from dashboard.wsgi import server
import dash
from dashboard.data import core
import gc
import pyarrow
arrow_pool = pyarrow.default_memory_pool().backend_name
opened_at_boot = len(core._connection_state["schemas"])
frozen_at_boot = gc.get_freeze_count()
misses = lambda: sum(cache.cache_info().misses for cache in core._caches)
before = misses()
for page in dash.page_registry.values():
    with server.test_request_context(page["path"]):
        page["layout"]()
asked_again = misses() - before
client = server.test_client()
statuses = {path: client.get(path).status_code for path in ("/", "/explore", "/partnerships", "/data", "/about",
                                                              "/_dash-layout", "/_dash-dependencies")}
loaded = sorted({name.split(".")[0] for name in sys.modules} & set(json.loads(sys.argv[1])))
# Threads that allocate outside Python's small-object allocator: each new one would get its own glibc arena.
held, gate = [], threading.Barrier(8)
def allocate():
    held.append(bytearray(1 << 20))
    gate.wait()
threads = [threading.Thread(target=allocate) for _ in range(8)]
for thread in threads:
    thread.start()
for thread in threads:
    thread.join()
ctypes.CDLL(None).malloc_stats()  # one "Arena N:" block per arena, on stderr
# IPython was hidden from Dash only while it was imported: the rest of the process can still import it
try:
    importlib.metadata.version("ipython")
    ipython_installed = True
except importlib.metadata.PackageNotFoundError:
    ipython_installed = False
try:
    import IPython
    ipython_importable = True
except ImportError:
    ipython_importable = False
print(json.dumps({"ipython_importable": ipython_importable, "ipython_installed": ipython_installed,
                  "statuses": statuses, "loaded": loaded, "opened_at_boot": opened_at_boot,
                  "asked_again": asked_again, "frozen_at_boot": frozen_at_boot, "arrow_pool": arrow_pool}))
"""


def _serve_pages(curated: Path) -> dict:
    env = {**os.environ, "PACT_CURATED_DIR": str(curated), "DASH_DISABLE_VERSION_CHECK": "true",
           "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))}
    done = subprocess.run([sys.executable, "-c", _WORKER, json.dumps(EXPORT_ONLY + JUPYTER_ONLY)], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=240, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    arenas = sum(line.startswith("Arena ") for line in done.stderr.splitlines())
    return {**json.loads(done.stdout.strip().splitlines()[-1]), "malloc_arenas": arenas}


def test_a_worker_serving_pages_loads_no_export_library(curated: Path) -> None:
    result = _serve_pages(curated)
    assert set(result["statuses"].values()) == {200}, result["statuses"]
    assert result["loaded"] == [], f"imported by a worker that only served pages: {result['loaded']}"
    assert result["ipython_importable"] == result["ipython_installed"], "IPython is hidden from Dash only"
    # The worker opened the current snapshot while booting: the first visitor does not wait for it.
    assert result["opened_at_boot"] == 1
    # ... and answered every page as a first visitor sees it: building them again asks the data layer nothing new.
    assert result["asked_again"] == 0
    # What it built while booting is kept out of the cyclic collector's full collections during requests.
    assert result["frozen_at_boot"] > 10_000
    # Eight threads allocating at once share glibc's two arenas (dashboard.wsgi.cap_malloc_arenas).
    if platform.libc_ver()[0] == "glibc":
        assert result["malloc_arenas"] == 2, result["malloc_arenas"]
    # ... and Arrow's buffers come from that malloc, not from a pool of their own (dashboard.wsgi.arrow_from_malloc).
    assert result["arrow_pool"] == "system"

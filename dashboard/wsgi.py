"""Production entry point: `gunicorn dashboard.wsgi:server` (the Procfile's command).

Importing this module builds the app, sends it one request, opens the current data snapshot and answers what each
page shows a first visitor, so a worker is fully set up before gunicorn hands it any real traffic. Debug mode and
the dev tools stay off: they are only ever switched on by `app.run(debug=True)` (`python -m dashboard` in
development), which gunicorn never calls.
"""

import gc
import logging

from dashboard import headless  # noqa: F401  # first: Dash without its Jupyter integration

# isort: split
import dash
import pyarrow as pa

from dashboard import data, disclosure
from dashboard.app import app
from pipelines.memory import glibc_mallopt

logger = logging.getLogger(__name__)

server = app.server

# glibc's mallopt parameter for the most malloc arenas a process may have (malloc.h).
_M_ARENA_MAX = -8
MALLOC_ARENAS = 2


def cap_malloc_arenas() -> bool:
    """Let glibc's malloc keep at most MALLOC_ARENAS arenas in this worker; returns whether the cap is set.

    By default glibc gives each new thread its own arena, up to 8 per core, and an arena keeps most of what it
    freed. A worker's request threads then each hold on to the transients of the requests they served (frames,
    figures, grids): at 100x the sample two arenas took a worker's peak RSS from 310-315 to 298-302 MB over the
    same requests (benchmarks/worker_memory.py). Set before the worker starts any thread; other C libraries
    (musl) have no such arenas.
    """
    mallopt = glibc_mallopt()
    return mallopt is not None and mallopt(_M_ARENA_MAX, MALLOC_ARENAS) == 1


def arrow_from_malloc() -> None:
    """Allocate Arrow's buffers (pandas' strings, the Parquet read at boot) with the C library's malloc.

    pyarrow's default pool (mimalloc) keeps its own segments, beside glibc's two arenas, for what it freed: with
    malloc a worker's peak RSS at 100x the sample was 266-267 MB instead of 281-283 MB over the same requests
    (benchmarks/worker_memory.py), its cold callbacks as fast within the machine's noise. The pipeline's steps
    use the same pool (pipelines.memory.system_memory_pool)."""
    pa.set_memory_pool(pa.system_memory_pool())


def warm_up() -> None:
    """Send one request to the index through Flask's test client, in this process, before any real request.

    Dash 4.4 sets its "server is set up" flag *before* it registers the component libraries (upstream
    plotly/dash#3971). Under threaded gunicorn workers a bundle request that arrives in that gap is checked against
    an empty registry and answered 500 ("... is not a registered library"), which breaks the first page load after
    every restart. Dash Pages has the same flag-before-work pattern for its router. One request here runs both
    set-ups to completion while the worker is still single-threaded. Because those flags are never reset, a set-up
    that failed would leave the worker broken for good, so a failure here stops the worker from booting instead.
    """
    index_path = app.config.routes_pathname_prefix
    with server.test_client() as client, client.get(index_path) as response:
        status = response.status_code
    if status != 200:
        msg = f"dashboard warm-up: GET {index_path} answered {status}; refusing to serve a half-set-up app"
        raise RuntimeError(msg)
    logger.info("dashboard warm-up: GET %s answered %s", index_path, status)
    # The shell request reads no data: open the current snapshot too, so the first visitor's figures do not wait
    # for its in-memory tables to be built.
    opened = data.warm_up()
    logger.info("dashboard warm-up: data vintage %s opened", opened)
    if opened:
        if disclosure.public_mode():
            vintage = data.resolve_vintage(None).vintage
            if vintage is not None:
                logger.info("dashboard warm-up: %d indicators' public releases planned", data.plan_releases(vintage))
        answer_default_questions()
    # What the worker built so far (modules, the app, the caches' first answers) lives as long as it does: keep it
    # out of the cyclic collector's reach, so a full collection during a request walks that request's objects only.
    # At 100x the sample one took ~75 ms of a request before, ~8 ms after (measured).
    gc.collect()
    gc.freeze()


def answer_default_questions() -> None:
    """Build each page as a first visitor without a query string sees it, so that the data layer's cache already
    holds those answers (and every per-snapshot one: dimensions, catalogue, published figures) when they come.
    A page that fails here is only logged: it shows its own error message to the visitor, as it would have."""
    for page in dash.page_registry.values():
        layout = page["layout"]
        if not callable(layout):
            continue
        try:
            with server.test_request_context(page["path"]):
                layout()
        except Exception:
            logger.warning("dashboard warm-up: the %s page could not be built", page["path"], exc_info=True)
    logger.info("dashboard warm-up: default pages answered")


cap_malloc_arenas()
arrow_from_malloc()
warm_up()

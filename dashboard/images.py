"""Server-side chart images (PNG, SVG) with kaleido and Debian's Chromium, for the briefing pack and the export bar.

One Chromium per process, started on first use and kept while images are asked for: the first image costs ~2 s,
the next ~0.2 s. A headless Chromium holds ~350 MB (proportional set size, measured on gunicorn workers) on top of
the worker, so it is stopped after `IDLE_STOP_S` without a render and started again when next needed. It is
owned by a small event-loop thread of this module rather than by `kaleido.start_sync_server`, for two measured
reasons: kaleido's global sync server waits forever when Chromium is missing or fails to start (its
`call_function` joins a queue no thread reads), and it hands results back through one shared queue, so two
gthread requests could receive each other's images. Here every wait is bounded and each call gets its own
future. A gunicorn worker is a fork, so the owner's pid is checked on each call and a child starts its own.
MathJax is off (it would come from a CDN) and map figures read geometry from the app's own
`assets/topojson/`, so rendering never leaves the machine.
"""

from __future__ import annotations

import asyncio
import atexit
import logging
import os
import threading
import time
from pathlib import Path
from typing import Literal

import kaleido
import plotly.graph_objects as go

from dashboard.exports import CHART_HEIGHT, CHART_WIDTH

log = logging.getLogger(__name__)

TOPOJSON_DIR = Path(__file__).resolve().parent / "assets" / "topojson"
ImageFormat = Literal["png", "svg"]
MEDIA_TYPES: dict[str, str] = {"png": "image/png", "svg": "image/svg+xml"}

START_TIMEOUT_S = 60.0
RENDER_TIMEOUT_S = 90.0
IDLE_STOP_S = 120.0  # a briefing pack and its exports come in bursts; between them the memory goes back

_lock = threading.Lock()


class _OneLineUndecodedMessage(logging.Filter):
    """choreographer logs a full traceback when a message from Chromium is not JSON, then ignores the message.

    That happens when a Chromium is closed while its last message is in the pipe (the idle stop, a worker's exit):
    its farewell arrives glued to the closing marker. The message is ignored either way, so one warning line says
    so; a traceback in the server log would read as the app's failure.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        if record.exc_info and str(record.msg).startswith("JSONError decoding message"):
            record.msg, record.args = "Chromium sent a message that was not JSON; ignored (usually while closing)", ()
            record.levelno, record.levelname = logging.WARNING, "WARNING"
            record.exc_info = record.exc_text = None
        return True


logging.getLogger("choreographer.channels.pipe").addFilter(_OneLineUndecodedMessage())


class ImageRenderError(RuntimeError):
    """Chromium is missing or kaleido failed; the caller decides whether the export can go without images."""


def _topojson_url() -> str | None:
    return TOPOJSON_DIR.as_uri() + "/" if TOPOJSON_DIR.is_dir() else None


class _Renderer:
    """A Kaleido (one Chromium tab) living on its own event loop in a daemon thread."""

    def __init__(self) -> None:
        self.pid = os.getpid()
        self.in_flight = 0  # renders under way (changed under _lock)
        self.last_used = time.monotonic()
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, name="kaleido", daemon=True)
        self.thread.start()
        self.kaleido: kaleido.Kaleido | None = None
        try:
            self.kaleido = self._run(self._open(), START_TIMEOUT_S)
        except BaseException:
            self.close()
            raise

    @staticmethod
    async def _open() -> kaleido.Kaleido:
        k = kaleido.Kaleido(n=1, mathjax=False, timeout=RENDER_TIMEOUT_S)
        await k.open()
        return k

    def _run(self, coroutine, timeout: float):
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(timeout=timeout)

    def render(self, figure: dict, opts: dict) -> bytes:
        assert self.kaleido is not None
        return self._run(self.kaleido.calc_fig(figure, opts=opts, topojson=_topojson_url()), RENDER_TIMEOUT_S + 5)

    def close(self) -> None:
        if self.kaleido is not None and self.thread.is_alive():
            try:
                self._run(self.kaleido.close(), 20)
            except Exception:  # closing is best effort: the process may be on its way out
                log.warning("kaleido did not close cleanly", exc_info=True)
        self.kaleido = None
        if self.thread.is_alive():
            self.loop.call_soon_threadsafe(self.loop.stop)
            self.thread.join(5)
        if not self.thread.is_alive() and not self.loop.is_closed():
            self.loop.close()


_renderer: _Renderer | None = None


def _get_renderer() -> _Renderer:
    """This process's renderer, started if there is none (call with _lock held)."""
    global _renderer
    if _renderer is not None and _renderer.pid == os.getpid() and _renderer.thread.is_alive():
        return _renderer
    started = time.perf_counter()
    _renderer = None  # a forked child's copy has no thread behind it; leave the parent's Chromium alone
    _renderer = _Renderer()
    atexit.register(_renderer.close)
    threading.Thread(target=_stop_when_idle, args=(_renderer,), name="kaleido-idle", daemon=True).start()
    log.info("kaleido renderer started in process %d (%.2f s)", os.getpid(), time.perf_counter() - started)
    return _renderer


def _stop_when_idle(renderer: _Renderer) -> None:
    """Stop `renderer` once it has rendered nothing for IDLE_STOP_S (and has no render under way)."""
    global _renderer
    while renderer.kaleido is not None:
        time.sleep(min(IDLE_STOP_S / 4, 15.0))
        with _lock:
            if _renderer is not renderer:
                return  # stopped or replaced meanwhile
            if renderer.in_flight or time.monotonic() - renderer.last_used < IDLE_STOP_S:
                continue
            _renderer = None  # the next render starts a fresh one
        renderer.close()
        log.info("kaleido renderer stopped in process %d after %.0f s idle", os.getpid(), IDLE_STOP_S)
        return


def render(
    fig: go.Figure | dict,
    fmt: ImageFormat = "png",
    *,
    width: int = CHART_WIDTH,
    height: int = CHART_HEIGHT,
    scale: float | None = None,
) -> bytes:
    """The figure as PNG or SVG bytes. PNG defaults to scale 2 (sharp in Word and on slides)."""
    if fmt not in MEDIA_TYPES:
        raise ValueError(f"unsupported image format {fmt!r}; use png or svg")
    figure = fig.to_dict() if isinstance(fig, go.Figure) else fig
    opts = {"format": fmt, "width": width, "height": height, "scale": scale or (2 if fmt == "png" else 1)}
    try:
        with _lock:  # only start-up is serialised; renders queue on the loop
            renderer = _get_renderer()
            renderer.in_flight += 1
        started = time.perf_counter()
        try:
            data = renderer.render(figure, opts)
        finally:
            with _lock:
                renderer.in_flight -= 1
                renderer.last_used = time.monotonic()
    except Exception as exc:
        raise ImageRenderError(f"could not render the chart as {fmt}: {type(exc).__name__}: {exc}") from exc
    log.debug("rendered %s in %.2f s", fmt, time.perf_counter() - started)
    return data


def stop() -> None:
    """Stop this process's Chromium (tests; gunicorn workers just exit)."""
    global _renderer
    with _lock:
        if _renderer is not None and _renderer.pid == os.getpid():
            _renderer.close()
        _renderer = None

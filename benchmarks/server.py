"""gunicorn on 127.0.0.1, serving the dashboard over one curated snapshot, as the Procfile serves it.

Started and stopped by its own process id (never by name), with the worker processes found as the master's
children so that their peak RSS (VmHWM in /proc/<pid>/status) can be read before they stop.
"""

from __future__ import annotations

import itertools
import logging
import os
import shlex
import signal
import socket
import subprocess
import sys
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import requests

from benchmarks import adapters

logger = logging.getLogger(__name__)

REPO = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def children(pid: int) -> list[int]:
    """Direct children of `pid` (gunicorn's workers), from /proc."""
    path = Path(f"/proc/{pid}/task/{pid}/children")
    try:
        return [int(x) for x in path.read_text().split()]
    except (OSError, ValueError):
        return []


def status_kb(pid: int, key: str) -> int | None:
    """A field of /proc/<pid>/status in kB (VmHWM = peak RSS, VmRSS = current RSS)."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(key + ":"):
                return int(line.split()[1])
    except (OSError, ValueError):
        return None
    return None


def procfile_options() -> tuple[int, int]:
    """Workers and threads from the Procfile's gunicorn command, so the benchmark serves as production does."""
    workers, threads = 2, 4
    procfile = REPO / "Procfile"
    if procfile.is_file():
        for line in procfile.read_text().splitlines():
            if not line.startswith("web:"):
                continue
            args = shlex.split(line.split(":", 1)[1])
            for flag, value in itertools.pairwise(args):
                if flag in ("--workers", "-w") and value.isdigit():
                    workers = int(value)
                if flag == "--threads" and value.isdigit():
                    threads = int(value)
    return workers, threads


@dataclass
class Server:
    base_url: str
    process: subprocess.Popen
    log_path: Path
    workers: int
    threads: int
    worker_pids: list[int] = field(default_factory=list)

    def peak_rss_mb(self) -> dict[str, float | None]:
        """Peak RSS (VmHWM) of each worker and of the master, in MB, read while they are alive."""
        pids = children(self.process.pid) or self.worker_pids
        peaks: dict[str, float | None] = {}
        for index, pid in enumerate(sorted(pids)):
            kb = status_kb(pid, "VmHWM")
            peaks[f"worker{index + 1}"] = None if kb is None else round(kb / 1024, 1)
        master = status_kb(self.process.pid, "VmHWM")
        peaks["master"] = None if master is None else round(master / 1024, 1)
        return peaks


@contextmanager
def gunicorn(curated_dir: Path, log_dir: Path, *, workers: int | None = None, threads: int | None = None):
    """Serve `curated_dir` with gunicorn on a free local port; yield the Server; stop it by its pid."""
    default_workers, default_threads = procfile_options()
    workers = workers or default_workers
    threads = threads or default_threads
    port = free_port()
    log_dir.mkdir(parents=True, exist_ok=True)
    log_path = log_dir / f"gunicorn-{port}.log"
    env = {**os.environ, **adapters.dashboard_env(curated_dir), "DASH_DISABLE_VERSION_CHECK": "true"}
    cmd = [
        sys.executable, "-m", "gunicorn", adapters.wsgi_target(), "--bind", f"127.0.0.1:{port}",
        "--workers", str(workers), "--threads", str(threads), "--no-control-socket", "--timeout", "120",
    ]
    logger.info("starting gunicorn (%d workers x %d threads) on 127.0.0.1:%d over %s", workers, threads, port,
                curated_dir)
    with log_path.open("wb") as log:
        process = subprocess.Popen(cmd, cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT)
    server = Server(f"http://127.0.0.1:{port}", process, log_path, workers, threads)
    try:
        _wait_ready(server)
        server.worker_pids = children(process.pid)
        yield server
    finally:
        _stop(process)


def _wait_ready(server: Server, timeout_s: float = 90.0) -> None:
    deadline = time.monotonic() + timeout_s
    last_error = ""
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise RuntimeError(
                f"gunicorn exited with {server.process.returncode}; log:\n{server.log_path.read_text()[-3000:]}"
            )
        try:
            response = requests.get(server.base_url + "/", timeout=5)
            if response.status_code == 200 and len(children(server.process.pid)) >= server.workers:
                return
            last_error = f"HTTP {response.status_code}"
        except requests.RequestException as exc:
            last_error = type(exc).__name__
        time.sleep(0.25)
    raise RuntimeError(f"gunicorn not ready after {timeout_s:.0f} s ({last_error}); log: {server.log_path}")


def _stop(process: subprocess.Popen) -> None:
    if process.poll() is not None:
        return
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=10)

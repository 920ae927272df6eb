"""The run log, data/curated/runs.jsonl: one JSON line per run, successful, unchanged or failed.

Each line is written with a single write() on a file opened O_APPEND, so lines of concurrent writers never
interleave and a reader never sees half a line from a finished writer.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

RUNLOG = "runs.jsonl"


def append_run(curated_dir: Path, record: dict) -> None:
    data = (json.dumps(record, separators=(",", ":"), default=str) + "\n").encode("utf-8")
    fd = os.open(curated_dir / RUNLOG, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        written = os.write(fd, data)
        if written != len(data):  # pragma: no cover - a regular file takes the whole line or raises
            raise OSError(f"short write to the run log ({written} of {len(data)} bytes)")
        os.fsync(fd)
    finally:
        os.close(fd)


def read_runs(curated_dir: Path) -> list[dict]:
    path = curated_dir / RUNLOG
    if not path.is_file():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]

"""The run log, data/curated/runs.jsonl: one JSON line per run, successful, unchanged or failed.

Each line is written with a single write() on a file opened O_APPEND, so lines of concurrent writers never
interleave and a reader never sees half a line from a finished writer.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger(__name__)

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
    """Every record in full, as the runner wrote it (inputs' checksums, warnings...), oldest first."""
    path = curated_dir / RUNLOG
    if not path.is_file():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


@dataclass(frozen=True)
class RunRecord:
    """One line of the run log as a reader needs it (the runner writes more: inputs' checksums, warnings...)."""

    started: str = ""
    finished: str = ""
    duration_s: float | None = None
    status: str = ""  # "success" | "unchanged" | "check" | "failed"; "unreadable" for a line that is not JSON
    vintage_id: str = ""
    inputs: int = 0
    rows_read: int | None = None
    error: str = ""
    warnings: str = ""  # what the run warned of (a share of rows rejected, a correction not applied...), one per line


def parse_runlog(lines: Iterable[str]) -> Iterator[RunRecord]:
    """The run log's records, oldest first. A line that is not a JSON object (a disk full mid-line, a hand edit)
    gives an "unreadable" record naming its line instead of hiding the runs after it."""
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            entry = json.loads(line)
        except json.JSONDecodeError:
            log.warning("%s line %d is not JSON; shown as unreadable", RUNLOG, number)
            yield RunRecord(status="unreadable", error=f"line {number} of the run log is not JSON")
            continue
        if not isinstance(entry, dict):
            continue
        counts = entry.get("counts")
        counts = counts if isinstance(counts, dict) else {}
        inputs = entry.get("inputs")
        inputs = inputs if isinstance(inputs, list) else []
        warnings = entry.get("warnings")
        warnings = warnings if isinstance(warnings, list) else []
        yield RunRecord(
            started=str(entry.get("started", "")), finished=str(entry.get("finished", "")),
            duration_s=entry.get("duration_s"), status=str(entry.get("status", "")),
            vintage_id=str(entry.get("vintage_id") or ""), inputs=len(inputs), rows_read=counts.get("rows_read"),
            error=str(entry.get("error") or ""),
            warnings="\n".join(str(w) for w in warnings),
        )

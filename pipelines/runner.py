"""One pipeline run: discover raw files, run the steps into a new snapshot, publish it, log the run.

`run(raw_dir, curated_dir, force=False) -> RunResult` is what `python -m pipelines` calls and what tests call.
A fatal input problem raises `PipelineError` after the run is logged; nothing under curated/ but runs.jsonl
changes then. `run(..., publish=False)` is the check before publishing: everything but the switch of `current`.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import fcntl
import logging
import os
import shutil
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow as pa
from tqdm import tqdm

from pipelines import snapshots
from pipelines.context import RULES_VERSION, WAVE_COUNT_KEYS, Context
from pipelines.errors import PipelineError
from pipelines.memory import steps_memory
from pipelines.readers import discover, orphan_sidecars, skipped_files
from pipelines.runlog import append_run
from pipelines.schema import TABLES
from pipelines.steps import STEPS

log = logging.getLogger(__name__)


@dataclass
class RunResult:
    status: str  # "ok" | "unchanged" | "check" (a failed run raises)
    vintage_id: str | None
    snapshot: Path | None
    duration_s: float
    inputs: list[dict] = field(default_factory=list)
    waves: dict[int, dict[str, int]] = field(default_factory=dict)
    tables: dict[str, int] = field(default_factory=dict)
    skipped: list[dict[str, str]] = field(default_factory=list)  # files under raw/ not read, with why
    warnings: list[str] = field(default_factory=list)  # what the pipelines loggers warned about during the run
    facts: pa.Table | None = None  # a check's facts, the ones a run would publish
    unchanged_since: str | None = None  # a check: the current vintage when inputs and code are the same as its


def _utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _iso(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


@contextlib.contextmanager
def run_lock(curated_dir: Path) -> Iterator[None]:
    """One run at a time per curated directory (a second one waits): a lock on the directory itself, no file."""
    fd = os.open(curated_dir, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # closing releases the lock


def run(raw_dir: Path | str, curated_dir: Path | str, force: bool = False, progress: bool | None = None,
        publish: bool = True) -> RunResult:
    """Build a new snapshot from `raw_dir` into `curated_dir` (or log "unchanged"); see the module docstring.

    `publish=False` is `python -m pipelines check`: every step runs, always (as with `force`), into the usual
    temporary directory, which is then removed instead of published. `current`, the snapshots and any debris of
    a killed run stay as they are; the one trace is a run-log line with status "check" (or "check failed").
    The result carries the facts that would have been published.
    """
    raw_dir, curated_dir = Path(raw_dir), Path(curated_dir)
    started = _utc_now()
    clock = time.monotonic()
    curated_dir.mkdir(parents=True, exist_ok=True)
    collected = WarningCollector()
    entry: dict = {"started": _iso(started), "status": "failed" if publish else "check failed", "vintage_id": None,
                   "rules_version": RULES_VERSION, "raw_dir": str(raw_dir), "inputs": [], "skipped": [],
                   "warnings": collected.messages, "counts": {}, "error": None}
    tmp: Path | None = None
    made_snapshots_dir = False
    with run_lock(curated_dir), collected:
        if publish:
            snapshots.clean_stale_tmp(curated_dir)
        try:
            link = curated_dir / snapshots.CURRENT
            if link.exists() and not link.is_symlink():
                raise PipelineError("'current' must be a symbolic link to a snapshot, not a file or directory; "
                                    "move it away (it is not written by the pipeline)", file=link)
            entry["skipped"] = skipped = skipped_files(raw_dir)
            for item in skipped:
                log.info("skipped %s (%s)", item["path"], item["why"])
            files = discover(raw_dir)
            for orphan in orphan_sidecars(raw_dir):
                log.warning("sidecar without a data file: %s", orphan)
            entry["inputs"] = [{"path": f.rel, "sha256": f.sha256, "sidecar_sha256": f.sidecar_sha256} for f in files]
            digest = snapshots.inputs_digest([(f.rel, f.sha256) for f in files]
                                             + [(f"{f.rel}.source.yml", f.sidecar_sha256) for f in files])
            code = snapshots.code_digest()
            previous = snapshots.current_manifest(curated_dir) or {}  # {}: no current snapshot
            same = (bool(previous) and previous.get("inputs_sha256") == digest
                    and previous.get("rules_version") == RULES_VERSION and previous.get("code_sha256") == code)
            if publish and same and not force:
                duration = round(time.monotonic() - clock, 3)
                entry |= {"status": "unchanged", "vintage_id": previous["vintage_id"],
                          "finished": _iso(_utc_now()), "duration_s": duration,
                          "counts": previous.get("run_counts", {})}
                append_run(curated_dir, entry)
                log.info("unchanged: the raw inputs and the pipeline are those of %s; nothing to do (--force rebuilds)",
                         previous["vintage_id"])
                return RunResult("unchanged", previous["vintage_id"], snapshots.current_dir(curated_dir), duration,
                                 previous.get("inputs", []), skipped=skipped, warnings=list(collected.messages))

            made_snapshots_dir = not snapshots.snapshots_dir(curated_dir).exists()
            tmp = snapshots.new_tmp_dir(curated_dir)
            ctx = Context(raw_dir=raw_dir, out_dir=tmp, files=files)
            show = sys.stderr.isatty() if progress is None else progress
            with steps_memory(), tqdm(total=len(STEPS), desc="pipeline", unit="step", disable=not show,
                                      leave=False) as bar:
                for name, step in STEPS:
                    bar.set_postfix_str(name)
                    step(ctx)
                    bar.update()
            missing = [name for name in TABLES if name not in ctx.tables]
            if missing:
                raise RuntimeError(f"no step saved {', '.join(missing)}")

            counts = run_counts(ctx)
            manifest_inputs = tuple(
                snapshots.ManifestInput(
                    path=f.rel, sha256=f.sha256, sidecar_sha256=f.sidecar_sha256, kind=f.kind, rows=f.rows,
                    title=f.sidecar.title, received=f.sidecar.received.isoformat(), synthetic=f.sidecar.synthetic,
                    publisher=f.sidecar.publisher, source_url=" ; ".join(f.sidecar.sources))
                for f in files
            )
            inputs = [dataclasses.asdict(i) for i in manifest_inputs]
            logged_inputs = [{"path": i["path"], "sha256": i["sha256"], "sidecar_sha256": i["sidecar_sha256"],
                              "rows": i["rows"]} for i in inputs]
            table_counts = {name: table.num_rows for name, table in sorted(ctx.tables.items())}
            if not publish:
                _remove_check_dir(tmp, curated_dir, made_snapshots_dir)
                tmp = None
                duration = round(time.monotonic() - clock, 3)
                entry |= {"status": "check", "finished": _iso(_utc_now()), "duration_s": duration,
                          "counts": counts, "inputs": logged_inputs,
                          "unchanged_since": previous["vintage_id"] if same else None}
                append_run(curated_dir, entry)
                log_summary(ctx, f"check: built in {duration:.1f} s from {len(files)} files; nothing published")
                return RunResult("check", None, None, duration, inputs, dict(ctx.wave_counts), table_counts, skipped,
                                 list(collected.messages), ctx.tables["facts"],
                                 previous["vintage_id"] if same else None)

            vintage_id = snapshots.new_vintage_id(_utc_now(), digest, curated_dir)
            manifest = snapshots.Manifest(
                vintage_id=vintage_id, created_at=_iso(_utc_now()), synthetic=any(f.sidecar.synthetic for f in files),
                rules_version=RULES_VERSION, inputs_sha256=digest, code_sha256=code, inputs=manifest_inputs,
                counts=table_counts, waves={str(w): c for w, c in sorted(ctx.wave_counts.items())},
                run_counts=counts,
            )
            snapshots.write_manifest(tmp, manifest)
            final = snapshots.publish(tmp, curated_dir, vintage_id)
            tmp = None
            removed = snapshots.prune(curated_dir)
            if removed:
                log.info("removed old snapshot(s) %s (keeping %d)", ", ".join(removed), snapshots.KEEP)
            duration = round(time.monotonic() - clock, 3)
            entry |= {"status": "ok", "vintage_id": vintage_id, "finished": _iso(_utc_now()),
                      "duration_s": duration, "counts": counts, "inputs": logged_inputs}
            append_run(curated_dir, entry)
            log_summary(ctx, f"snapshot {vintage_id} written in {duration:.1f} s from {len(files)} files")
            return RunResult("ok", vintage_id, final, duration, inputs,
                             dict(ctx.wave_counts), table_counts, skipped, list(collected.messages))
        except BaseException as exc:
            if tmp is not None:
                if publish:
                    shutil.rmtree(tmp, ignore_errors=True)
                else:
                    _remove_check_dir(tmp, curated_dir, made_snapshots_dir)
            entry |= {"finished": _iso(_utc_now()), "duration_s": round(time.monotonic() - clock, 3),
                      "error": str(exc) if isinstance(exc, PipelineError) else f"{type(exc).__name__}: {exc}"}
            if isinstance(exc, KeyboardInterrupt):
                entry["error"] = "interrupted"
            append_run(curated_dir, entry)
            raise


def _remove_check_dir(tmp: Path, curated_dir: Path, made_snapshots_dir: bool) -> None:
    """A check leaves curated/ as it found it: its build directory goes, and snapshots/ too if the check made it."""
    shutil.rmtree(tmp, ignore_errors=True)
    if made_snapshots_dir:
        with contextlib.suppress(OSError):  # not empty: a run made a snapshot meanwhile (it cannot: the lock)
            snapshots.snapshots_dir(curated_dir).rmdir()


class WarningCollector(logging.Handler):
    """The warnings the `pipelines` loggers emit during one run, in this thread (a check prints them; the run log
    keeps them). Used as a context manager around the run."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.messages: list[str] = []
        self.thread = threading.get_ident()

    def emit(self, record: logging.LogRecord) -> None:
        if record.thread == self.thread:
            self.messages.append(record.getMessage())

    def __enter__(self) -> WarningCollector:
        logging.getLogger("pipelines").addHandler(self)
        return self

    def __exit__(self, *exc_info: object) -> None:
        logging.getLogger("pipelines").removeHandler(self)


def run_counts(ctx: Context) -> dict:
    """Totals over the waves (rows_read is what the dashboard's run table shows) plus each wave."""
    totals = {key: sum(c[key] for c in ctx.wave_counts.values()) for key in WAVE_COUNT_KEYS}
    return {
        "rows_read": totals["read"],
        **{key: totals[key] for key in WAVE_COUNT_KEYS if key != "read"},
        "facts": ctx.tables["facts"].num_rows,
        "rejects": ctx.tables["rejects"].num_rows,
        "files": len(ctx.files),
        "waves": {str(w): c for w, c in sorted(ctx.wave_counts.items())},
    }


def log_summary(ctx: Context, headline: str) -> None:
    log.info("%s", headline)
    for raw in ctx.files:
        log.info("  %-44s %-11s %6d rows", raw.rel, raw.kind, raw.rows)
    log.info("  %-6s %7s %9s %11s %6s %6s %9s %7s %14s", "wave", "read", "accepted", "superseded", "test",
             "blank", "rejected", "facts", "value rejects")
    for wave, c in sorted(ctx.wave_counts.items()):
        log.info("  %-6d %7d %9d %11d %6d %6d %9d %7d %14d", wave, c["read"], c["accepted"], c["superseded"],
                 c["test"], c["blank"], c["rejected"], c["facts"], c["value_rejects"])
    applied = ctx.tables["corrections_applied"]
    if applied.num_rows:
        statuses = applied["status"].to_pylist()
        log.info("  corrections: %d applied, %d not applied", statuses.count("applied"),
                 statuses.count("not applied"))
    log.info("  rejects: %d rows (see rejects.parquet)", ctx.tables["rejects"].num_rows)

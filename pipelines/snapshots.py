"""Versioned snapshots under data/curated/: write whole, publish atomically, keep a few, read the current one.

Layout: snapshots/<vintage_id>/<table>.parquet + manifest.json; `current` -> snapshots/<vintage_id> (a relative
symlink replaced in one rename, so a reader sees the old or the new snapshot, never a mix); runs.jsonl beside them.
A snapshot is built in snapshots/.tmp-<id>/ and renamed into place only when complete and fsync'd.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
import os
import shutil
import uuid
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

SNAPSHOTS = "snapshots"
CURRENT = "current"
MANIFEST = "manifest.json"
TMP_PREFIX = ".tmp-"
KEEP = 5
STAMP = "%Y%m%dT%H%M%SZ"


@dataclass(frozen=True)
class ManifestInput:
    """One input file of a snapshot, as its manifest lists it."""

    path: str
    sha256: str
    sidecar_sha256: str = ""
    kind: str = ""
    rows: int | None = None
    title: str = ""
    received: str = ""
    synthetic: bool = False
    publisher: str = ""
    source_url: str = ""  # the sidecar's sources, " ; "-separated

    @classmethod
    def from_json(cls, value: Mapping[str, Any]) -> ManifestInput:
        rows = value.get("rows")
        return cls(**{f.name: str(value.get(f.name) or "") for f in fields(cls)
                      if f.name not in ("rows", "synthetic")},
                   rows=rows if isinstance(rows, int) else None, synthetic=bool(value.get("synthetic", False)))


@dataclass(frozen=True)
class Manifest:
    """manifest.json of a snapshot: written by the runner, read by the data layer. Read leniently, so a snapshot
    written before a field existed still opens (the field reads as its default)."""

    vintage_id: str
    created_at: str = ""
    synthetic: bool = False
    rules_version: str = ""
    inputs_sha256: str = ""
    code_sha256: str = ""
    inputs: tuple[ManifestInput, ...] = ()
    counts: Mapping[str, int] = field(default_factory=dict)  # rows per curated table
    waves: Mapping[str, Mapping[str, int]] = field(default_factory=dict)  # rows per status, per wave
    run_counts: Mapping[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return asdict(self) | {"inputs": [asdict(i) for i in self.inputs]}

    @classmethod
    def from_json(cls, value: Mapping[str, Any]) -> Manifest:
        inputs = value.get("inputs")

        def mapping(name: str) -> dict[str, Any]:
            found = value.get(name)
            return found if isinstance(found, dict) else {}

        return cls(
            vintage_id=str(value.get("vintage_id") or ""), created_at=str(value.get("created_at") or ""),
            synthetic=bool(value.get("synthetic", False)), rules_version=str(value.get("rules_version") or ""),
            inputs_sha256=str(value.get("inputs_sha256") or ""), code_sha256=str(value.get("code_sha256") or ""),
            inputs=tuple(ManifestInput.from_json(i) for i in inputs if isinstance(i, dict))
            if isinstance(inputs, list) else (),
            counts=mapping("counts"), waves=mapping("waves"), run_counts=mapping("run_counts"),
        )


def snapshots_dir(curated_dir: Path) -> Path:
    return curated_dir / SNAPSHOTS


def current_dir(curated_dir: Path) -> Path | None:
    """The snapshot `current` points to, resolved (None when there is none yet)."""
    link = curated_dir / CURRENT
    if not link.exists():
        return None
    return link.resolve()


def current_manifest(curated_dir: Path | str) -> dict | None:
    """The manifest of the snapshot `current` points to, or None before the first successful run."""
    target = current_dir(Path(curated_dir))
    if target is None or not (target / MANIFEST).is_file():
        return None
    return json.loads((target / MANIFEST).read_text(encoding="utf-8"))


def kept_snapshots(curated_dir: Path) -> list[str]:
    """Vintage ids of the complete snapshots, oldest first (ids start with their UTC time, so they sort)."""
    root = snapshots_dir(curated_dir)
    if not root.is_dir():
        return []
    return sorted(p.name for p in root.iterdir()
                  if p.is_dir() and not p.name.startswith(TMP_PREFIX) and (p / MANIFEST).is_file())


def inputs_digest(checksums: list[tuple[str, str]]) -> str:
    """One hash of every input's path and checksum: equal digests mean the same raw data."""
    text = "".join(f"{path}\t{sha}\n" for path, sha in sorted(checksums))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def code_files() -> list[Path]:
    """The pipeline's own code and the catalogue it reads (`indicators.yml`), not the sample generator."""
    package = Path(__file__).resolve().parent
    return sorted(p for p in package.rglob("*") if p.suffix in (".py", ".yml")
                  and "sample" not in p.relative_to(package).parts)


def code_digest() -> str:
    """A hash of `code_files`: new rules or limits rebuild even unchanged inputs."""
    package = Path(__file__).resolve().parent
    return inputs_digest([(p.relative_to(package).as_posix(), hashlib.sha256(p.read_bytes()).hexdigest())
                          for p in code_files()])


def new_vintage_id(now: dt.datetime, digest: str, curated_dir: Path) -> str:
    """`<UTC yyyymmddTHHMMSSZ>-<8 hex of the inputs digest>`, later than every kept snapshot.

    Two runs within one second (a forced re-run) would share an id; the time is then moved one second past the
    latest kept snapshot, so ids stay unique and in run order.
    """
    stamp = now.astimezone(dt.UTC).replace(microsecond=0, tzinfo=None)
    for existing in kept_snapshots(curated_dir):
        try:
            earlier = dt.datetime.strptime(existing.split("-", 1)[0], STAMP)
        except ValueError:
            continue
        if earlier >= stamp:
            stamp = earlier + dt.timedelta(seconds=1)
    return f"{stamp.strftime(STAMP)}-{digest[:8]}"


def new_tmp_dir(curated_dir: Path) -> Path:
    path = snapshots_dir(curated_dir) / f"{TMP_PREFIX}{uuid.uuid4().hex[:12]}"
    path.mkdir(parents=True)
    return path


def clean_stale_tmp(curated_dir: Path) -> list[str]:
    """Remove half-written snapshots left by a killed run (called under the run lock)."""
    root = snapshots_dir(curated_dir)
    removed = []
    if root.is_dir():
        for path in root.iterdir():
            if path.name.startswith(TMP_PREFIX):
                shutil.rmtree(path, ignore_errors=True)
                removed.append(path.name)
    for path in curated_dir.glob(f"{TMP_PREFIX}{CURRENT}-*"):
        path.unlink(missing_ok=True)
    if removed:
        log.warning("removed %d half-written snapshot(s) left by an interrupted run: %s", len(removed),
                    ", ".join(removed))
    return removed


def write_manifest(snapshot: Path, manifest: Manifest) -> None:
    (snapshot / MANIFEST).write_text(json.dumps(manifest.to_json(), indent=2, sort_keys=False) + "\n",
                                     encoding="utf-8")


def fsync_tree(directory: Path) -> None:
    """Flush every file of a snapshot and the directory itself, so a crash after publishing loses nothing."""
    for path in sorted(directory.iterdir()):
        if path.is_file():
            fd = os.open(path, os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
    fsync_dir(directory)


def fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def publish(tmp: Path, curated_dir: Path, vintage_id: str) -> Path:
    """Rename the finished snapshot into place, then switch `current` to it in one atomic rename."""
    fsync_tree(tmp)
    final = snapshots_dir(curated_dir) / vintage_id
    os.rename(tmp, final)  # fails rather than merging if the id somehow exists
    fsync_dir(snapshots_dir(curated_dir))
    link = curated_dir / f"{TMP_PREFIX}{CURRENT}-{uuid.uuid4().hex[:8]}"
    link.symlink_to(Path(SNAPSHOTS) / vintage_id)
    os.replace(link, curated_dir / CURRENT)
    fsync_dir(curated_dir)
    return final


def prune(curated_dir: Path, keep: int = KEEP) -> list[str]:
    """Delete all but the newest `keep` snapshots; never the one `current` points to."""
    kept = kept_snapshots(curated_dir)
    current = current_dir(curated_dir)
    removed = []
    for vintage_id in kept[:-keep] if keep else kept:
        path = snapshots_dir(curated_dir) / vintage_id
        if current is not None and path.resolve() == current:
            continue
        # renamed out of the kept set first (atomic), so a crash mid-removal leaves debris the next run clears,
        # never a half-deleted snapshot that still looks complete
        doomed = snapshots_dir(curated_dir) / f"{TMP_PREFIX}old-{vintage_id}"
        os.rename(path, doomed)
        shutil.rmtree(doomed)
        removed.append(vintage_id)
    return removed

"""Run the pipeline on every hostile case: a clear error or a reject with its reason, and nothing lost.

For every case the curated tree is hashed before and after: a stopped run leaves every byte under
data/curated/ except the run log as it was; a run that lands rejects leaves the previous snapshot byte for
byte and publishes a complete new one. The raw tree is hashed too: the pipeline never modifies it. The bomb
and a large file are also run as a child process whose peak memory and time are measured.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from pipelines.errors import PipelineError
from pipelines.runlog import read_runs
from pipelines.runner import run
from tests.conftest import make_raw
from tests.hostile.corpus import CASES, Case, row, write_base, zip_bomb_bytes

log = logging.getLogger(__name__)
REPO = Path(__file__).resolve().parents[2]
TRIED: list[str] = []


def tree_digest(root: Path, *, skip: tuple[str, ...] = ()) -> dict[str, str]:
    """path -> sha256 of every file (symlinks by their target text), so any change shows up."""
    found = {}
    for path in sorted(root.rglob("*")):
        rel = path.relative_to(root).as_posix()
        if rel in skip:
            continue
        if path.is_symlink():
            found[rel] = "link:" + str(path.readlink())
        elif path.is_file():
            found[rel] = hashlib.sha256(path.read_bytes()).hexdigest()
    return found


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_hostile_case(case: Case, tmp_path: Path) -> None:
    raw = make_raw(tmp_path / "raw")
    write_base(raw)
    curated = tmp_path / "curated"
    first = run(raw.root, curated, progress=False)
    assert first.status == "ok"
    before = tree_digest(curated, skip=("runs.jsonl",))
    old_snapshot = tree_digest(first.snapshot)

    case.build(raw)
    raw_before = tree_digest(raw.root)
    error: PipelineError | None = None
    try:
        result = run(raw.root, curated, progress=False)
    except PipelineError as exc:
        error = exc
    assert tree_digest(raw.root) == raw_before, "the pipeline modified a raw file"
    TRIED.append(case.name)

    if case.outcome == "error":
        assert error is not None, f"{case.name}: expected a clear error, the run succeeded"
        message = str(error)
        assert re.search(case.message, message), f"{case.name}: unexpected message {message!r}"
        assert "\n" not in message
        for name in ("file", "sheet", "row", "column"):
            expected = getattr(case, name)
            if expected is not None:
                assert getattr(error, name) == expected, f"{case.name}: {name} is {getattr(error, name)!r}"
        assert tree_digest(curated, skip=("runs.jsonl",)) == before, "a failed run changed curated data"
        last = read_runs(curated)[-1]
        assert last["status"] == "failed"
        assert last["error"] == message
        log.info("%-50s error: %s", case.name, message[:160])
        return

    assert error is None, f"{case.name}: expected a run, got {error}"
    assert result.status == "ok"
    assert tree_digest(first.snapshot) == old_snapshot, "the previous snapshot was altered"
    current = (curated / "current").resolve()
    assert current == result.snapshot.resolve()
    manifest = json.loads((current / "manifest.json").read_text(encoding="utf-8"))
    for table, count in manifest["counts"].items():
        assert pq.read_table(current / f"{table}.parquet").num_rows == count
    rejects = pq.read_table(current / "rejects.parquet").to_pylist()
    found = {(r["row"], r["column"], r["reason_code"]) for r in rejects}
    missing = set(case.rejects) - found
    assert not missing, f"{case.name}: rejects {missing} not found among {sorted(found)}"
    for r in rejects:
        assert r["reason"], "every reject says why"
    facts = {(f["member_id"], f["indicator"]): f["value"] for f in pq.read_table(current / "facts.parquet").to_pylist()}
    for key, value in case.facts.items():
        assert facts.get(key) == value, f"{case.name}: fact {key} is {facts.get(key)!r}, expected {value}"
    statuses = {s["row"]: s["status"] for s in pq.read_table(current / "submissions.parquet").to_pylist()}
    for survey_row, status in case.statuses.items():
        assert statuses.get(survey_row) == status, f"{case.name}: row {survey_row} is {statuses.get(survey_row)}"
    log.info("%-50s %s: %d rejects %s", case.name, case.outcome, len(rejects), sorted(case.rejects)[:3])


def test_corpus_count() -> None:
    """Runs after the cases (same module, declaration order): reports how many were tried."""
    log.info("hostile corpus: %d cases tried of %d", len(TRIED), len(CASES))
    assert len(CASES) >= 35
    assert len({c.name for c in CASES}) == len(CASES)
    # Under pytest-xdist each worker holds only its share of TRIED; in a plain run all cases ran before this.
    if TRIED and not os.environ.get("PYTEST_XDIST_WORKER"):
        assert len(TRIED) == len(CASES), sorted({c.name for c in CASES} - set(TRIED))


_MEASURE = """
import resource, subprocess, sys, time
started = time.monotonic()
done = subprocess.run(sys.argv[1:], capture_output=True, text=True)
print(done.returncode)
print(round(time.monotonic() - started, 2))
print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)
sys.stdout.write(done.stderr[-3000:])
"""


def run_measured(raw: Path, curated: Path) -> tuple[int, float, int, str]:
    """`python -m pipelines` in a child: exit code, seconds, peak RSS in MB, the end of its stderr."""
    out = subprocess.run(
        [sys.executable, "-c", _MEASURE, sys.executable, "-m", "pipelines", "--raw", str(raw), "--curated",
         str(curated)],
        cwd=REPO, capture_output=True, text=True, timeout=280, check=True,
    ).stdout.split("\n", 3)
    return int(out[0]), float(out[1]), int(out[2]) // 1024, out[3]


def test_zip_bomb_bounded(tmp_path: Path) -> None:
    raw = make_raw(tmp_path / "raw")
    write_base(raw)
    bomb = zip_bomb_bytes(1536)  # 1.5 GB of sheet XML in a file of a few MB (without the check: 1.5 GB of RSS)
    (raw.root / "surveys" / "pact_survey_2022.xlsx").write_bytes(bomb)
    code, seconds, peak_mb, stderr = run_measured(raw.root, tmp_path / "curated")
    log.info("zip bomb: %.1f MB on disk, exit %d in %.1f s, peak RSS %d MB", len(bomb) / 1e6, code, seconds, peak_mb)
    assert code == 1
    assert "surveys/pact_survey_2022.xlsx" in stderr
    assert peak_mb < 1024


def test_large_file_bounded(tmp_path: Path) -> None:
    """30,000 answers (the sample's waves hold hundreds): finishes, in bounded memory (the time is logged)."""
    raw = make_raw(tmp_path / "raw")
    members = ["PFS-000001", "PFS-000002", "PFS-000003", "PFS-000004", "PFS-000005"]
    rows = [row(members[i % 5], f"c-{i}", updated=f"01/03/2023 {i // 3600 % 24:02d}:{i // 60 % 60:02d}")
            for i in range(30_000)]
    started = time.monotonic()
    raw.write_survey(2022, rows)
    size_mb = (raw.root / "surveys" / "pact_survey_2022.xlsx").stat().st_size / 1e6
    log.info("large file: %.1f MB written in %.1f s", size_mb, time.monotonic() - started)
    code, seconds, peak_mb, stderr = run_measured(raw.root, tmp_path / "curated")
    log.info("large file: exit %d in %.1f s, peak RSS %d MB", code, seconds, peak_mb)
    assert code == 0, stderr
    assert peak_mb < 2048

"""Snapshots, the run log and fatal errors: idempotence, the atomic switch, retention, and bad input that must
leave everything already curated untouched to the byte."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import threading
from pathlib import Path

import pyarrow.parquet as pq
import pytest
import yaml

import pipelines
from pipelines import snapshots
from pipelines.__main__ import main
from pipelines.runlog import read_runs
from pipelines.schema import TABLES
from tests.conftest import Q_PEOPLE, TinyRaw, answer, survey_spec

REPO = Path(__file__).resolve().parents[1]


def tree_digest(root: Path, *, skip: tuple[str, ...] = ()) -> dict[str, str]:
    """Every file (content hash) and symlink (target) under root, by relative path."""
    found = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in sorted(dirnames + filenames):
            path = Path(dirpath) / name
            rel = path.relative_to(root).as_posix()
            if rel in skip:
                continue
            if path.is_symlink():
                found[rel] = "-> " + os.readlink(path)
            elif path.is_file():
                found[rel] = hashlib.sha256(path.read_bytes()).hexdigest()
            else:
                found[rel] = "dir"
    return found


def read_snapshot(path: Path) -> dict:
    return {name: pq.read_table(path / f"{name}.parquet") for name in TABLES}


def test_forced_reruns_give_identical_tables(raw, curated):
    first = snapshots.current_dir(curated)
    result = pipelines.run(raw.root, curated, force=True)
    assert result.status == "ok" and result.snapshot != first
    before, after = read_snapshot(first), read_snapshot(result.snapshot)
    for name in TABLES:
        assert before[name].equals(after[name]), name
        assert before[name].schema.equals(TABLES[name][0]), name
        key = [(c, "ascending") for c in TABLES[name][1]]
        assert after[name].equals(after[name].sort_by(key)), f"{name} is not sorted by its key"


def test_unchanged_inputs_make_no_new_snapshot(raw, curated):
    kept = snapshots.kept_snapshots(curated)
    tree = tree_digest(curated, skip=("runs.jsonl",))
    result = pipelines.run(raw.root, curated)
    assert result.status == "unchanged"
    assert result.vintage_id == kept[-1]
    assert tree_digest(curated, skip=("runs.jsonl",)) == tree
    runs = read_runs(curated)
    assert [r["status"] for r in runs] == ["ok", "unchanged"]
    assert runs[1]["vintage_id"] == runs[0]["vintage_id"]


def test_changed_inputs_make_a_new_snapshot(raw, curated):
    old = snapshots.current_manifest(curated)
    raw.write_survey(2022, [answer(cid="c-1", people=101)])
    result = pipelines.run(raw.root, curated)
    new = snapshots.current_manifest(curated)
    assert result.status == "ok" and new["vintage_id"] != old["vintage_id"]
    assert new["vintage_id"].split("-")[1] != old["vintage_id"].split("-")[1]  # the inputs digest changed
    assert new["vintage_id"] > old["vintage_id"]  # ids sort in run order
    assert len(snapshots.kept_snapshots(curated)) == 2


def test_vintage_id_format_and_manifest(curated):
    manifest = snapshots.current_manifest(curated)
    stamp, digest = manifest["vintage_id"].split("-")
    assert len(stamp) == 16 and stamp.endswith("Z") and stamp[8] == "T"
    assert len(digest) == 8 and int(digest, 16) >= 0
    assert manifest["synthetic"] is True  # the tiny registry's sidecar says synthetic
    assert {"vintage_id", "created_at", "synthetic", "inputs", "counts", "waves", "rules_version"} <= set(manifest)
    assert all({"path", "sha256", "kind", "rows", "title", "received"} <= set(i) for i in manifest["inputs"])
    assert manifest["waves"]["2022"] == {"read": 2, "accepted": 2, "superseded": 0, "test": 0, "blank": 0,
                                         "rejected": 0, "facts": 14, "value_rejects": 0}
    assert os.readlink(curated / "current") == f"snapshots/{manifest['vintage_id']}"


def test_a_reader_opened_before_a_run_keeps_its_snapshot_whole(raw, curated):
    pinned = snapshots.current_dir(curated)
    files = {name: pq.ParquetFile(pinned / f"{name}.parquet") for name in TABLES}
    before = {name: f.read() for name, f in files.items()}
    raw.write_survey(2022, [answer(cid="c-9", people=5)])
    pipelines.run(raw.root, curated)
    assert snapshots.current_dir(curated) != pinned
    for name, handle in files.items():
        assert handle.read().equals(before[name]), name
    assert read_snapshot(pinned)["submissions"].num_rows == 2
    assert read_snapshot(snapshots.current_dir(curated))["submissions"].num_rows == 1


def test_readers_during_runs_only_ever_see_complete_snapshots(raw, curated):
    """A reader resolving `current` while runs publish new snapshots always finds a whole one."""
    problems: list[str] = []
    stop = threading.Event()
    reads = 0

    def reader() -> None:
        nonlocal reads
        while not stop.is_set():
            target = (curated / "current").resolve()
            try:
                manifest = json.loads((target / "manifest.json").read_text(encoding="utf-8"))
                for name, rows in manifest["counts"].items():
                    if pq.read_metadata(target / f"{name}.parquet").num_rows != rows:
                        problems.append(f"{target.name}/{name}: rows differ from the manifest")
            except FileNotFoundError as exc:
                # a snapshot pruned after it was resolved is gone whole; never half there
                if target.exists():
                    problems.append(f"{target.name}: {exc}")
            reads += 1

    thread = threading.Thread(target=reader)
    thread.start()
    try:
        for people in range(3):
            raw.write_survey(2022, [answer(cid="c-1", people=200 + people)])
            pipelines.run(raw.root, curated)
    finally:
        stop.set()
        thread.join()
    assert reads > 0
    assert problems == []


def test_retention_keeps_the_last_five_and_never_current(raw, curated):
    for _ in range(6):
        pipelines.run(raw.root, curated, force=True)
    kept = snapshots.kept_snapshots(curated)
    assert len(kept) == snapshots.KEEP
    assert snapshots.current_dir(curated).name == kept[-1]
    # point current at the oldest kept snapshot, then prune: it stays although it is not among the newest
    oldest = kept[0]
    link = curated / "current.test"
    link.symlink_to(Path("snapshots") / oldest)
    os.replace(link, curated / "current")
    assert snapshots.prune(curated, keep=2) == kept[1:3]
    assert snapshots.kept_snapshots(curated) == [oldest, *kept[3:]]


def test_stale_tmp_snapshots_are_removed_at_the_next_run(raw, curated):
    stale = curated / "snapshots" / ".tmp-deadbeef0000"
    stale.mkdir()
    (stale / "facts.parquet").write_bytes(b"half a file")
    pipelines.run(raw.root, curated)  # even an unchanged run cleans up
    assert not stale.exists()


def test_run_log_lines(raw, curated):
    pipelines.run(raw.root, curated, force=True)
    runs = read_runs(curated)
    assert [r["status"] for r in runs] == ["ok", "ok"]
    for run in runs:
        assert {"started", "finished", "duration_s", "status", "vintage_id", "inputs", "counts", "error"} <= set(run)
        assert run["error"] is None and run["duration_s"] >= 0
        assert run["counts"]["rows_read"] == 2 and run["counts"]["accepted"] == 2
        assert all(len(i["sha256"]) == 64 for i in run["inputs"])
    lines = (curated / "runs.jsonl").read_text(encoding="utf-8").splitlines()
    assert len(lines) == 2


# ---------------------------------------------------------------- fatal problems


def _truncate(path: Path) -> None:
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])


def _edit_sidecar(path: Path, change) -> None:
    sidecar = path.with_name(path.name + ".source.yml")
    data = yaml.safe_load(sidecar.read_text(encoding="utf-8"))
    change(data)
    sidecar.write_text(yaml.safe_dump(data, sort_keys=False, allow_unicode=True), encoding="utf-8")


def _rename_reference_column(raw: TinyRaw) -> None:
    path = raw.root / "reference" / "ecosystems.csv"
    text = path.read_text(encoding="utf-8")
    path.write_text(text.replace("short_name", "shortname", 1), encoding="utf-8")


def _break_reference_cell(raw: TinyRaw) -> None:
    path = raw.root / "reference" / "targets.csv"
    path.write_text(path.read_text(encoding="utf-8").replace(",10000000,", ",ten million,", 1), encoding="utf-8")


def _truncate_reference(raw: TinyRaw) -> None:
    """Cut the file inside a quoted field: the CSV ends in the middle of a record."""
    path = raw.root / "reference" / "member_states.csv"
    text = path.read_text(encoding="utf-8")
    path.write_text(text[: text.index("Greece") + 3], encoding="utf-8")


BAD_INPUTS = {
    # case: (how to break the raw tree, what the message must name)
    "truncated survey": (lambda r: _truncate(r.surveys[2022]),
                         ["surveys/pact_survey_2022.xlsx", "truncated"]),
    "truncated registry": (lambda r: _truncate(r.registry), ["registry/pact_members.xlsx"]),
    "wrong sheet": (lambda r: _edit_sidecar(r.surveys[2022], lambda d: d["read"].update(sheet="Contents")),
                    ["surveys/pact_survey_2022.xlsx", "sheet 'Contents'", "sheet not found"]),
    "missing sidecar": (lambda r: r.surveys[2022].with_name("pact_survey_2022.xlsx.source.yml").unlink(),
                        ["surveys/pact_survey_2022.xlsx", "missing sidecar"]),
    "sidecar typo": (lambda r: _edit_sidecar(r.surveys[2022], lambda d: d["read"].update(
                     header_rwo=d["read"].pop("header_row"))), ["surveys/pact_survey_2022.xlsx", "read.header_rwo"]),
    "question missing": (lambda r: _edit_sidecar(r.surveys[2022], lambda d: d.update(survey=survey_spec(
                         2022, indicators={Q_PEOPLE + " (total)": "people_trained"}))),
                         ["surveys/pact_survey_2022.xlsx", "sheet 'Content'", "row 4",
                          f"column '{Q_PEOPLE} (total)'"]),
    "unknown indicator": (lambda r: _edit_sidecar(r.surveys[2022], lambda d: d["survey"]["indicators"].update(
                          {Q_PEOPLE: "people_trainned"})), ["surveys/pact_survey_2022.xlsx", "people_trainned"]),
    "reference column renamed": (_rename_reference_column,
                                 ["reference/ecosystems.csv", "row 1", "column 'short_name'"]),
    "unsupported file": (lambda r: (r.root / "surveys" / "notes.txt").write_text("x", encoding="utf-8"),
                         ["surveys/notes.txt", "unsupported"]),
    "header row mismatch": (lambda r: _edit_sidecar(r.surveys[2022], lambda d: d["read"].update(header_row=3)),
                            ["surveys/pact_survey_2022.xlsx", "sheet 'Content'", "row 3",
                             "the export's header is on row 4, not on row 3"]),
    "reference bad cell": (_break_reference_cell, ["reference/targets.csv", "row 2", "column 'people'"]),
    "truncated reference csv": (_truncate_reference, ["reference/member_states.csv"]),
}


@pytest.mark.parametrize("case", sorted(BAD_INPUTS))
def test_bad_input_fails_cleanly_and_touches_nothing(case, raw, curated, capsys):
    break_it, named = BAD_INPUTS[case]
    break_it(raw)
    raw_before = tree_digest(raw.root)
    curated_before = tree_digest(curated, skip=("runs.jsonl",))
    runs_before = (curated / "runs.jsonl").read_bytes()

    code = main(["--raw", str(raw.root), "--curated", str(curated)])

    assert code == 1
    message = capsys.readouterr().err.strip().splitlines()[-1]
    assert message.startswith("pipeline failed: ")
    for part in named:
        assert part in message, (part, message)
    assert tree_digest(curated, skip=("runs.jsonl",)) == curated_before
    assert tree_digest(raw.root) == raw_before
    runs = (curated / "runs.jsonl").read_bytes()
    assert runs.startswith(runs_before)
    failed = json.loads(runs[len(runs_before):])
    assert failed["status"] == "failed" and failed["vintage_id"] is None
    assert failed["error"] in message and failed["finished"] and "duration_s" in failed


def test_bad_input_through_the_command_line(raw, curated):
    """The real `python -m pipelines`: exit code 1, one clear line on stderr naming the file."""
    _truncate(raw.surveys[2022])
    before = tree_digest(curated, skip=("runs.jsonl",))
    done = subprocess.run([sys.executable, "-m", "pipelines", "--raw", str(raw.root), "--curated", str(curated)],
                          cwd=REPO, capture_output=True, text=True, timeout=300)
    assert done.returncode == 1
    assert "surveys/pact_survey_2022.xlsx" in done.stderr and "Traceback" not in done.stderr
    assert tree_digest(curated, skip=("runs.jsonl",)) == before


def test_first_run_failing_leaves_no_snapshot(raw, tmp_path):
    _truncate(raw.registry)
    curated = tmp_path / "fresh"
    with pytest.raises(pipelines.PipelineError):
        pipelines.run(raw.root, curated)
    assert not (curated / "current").exists()
    assert snapshots.kept_snapshots(curated) == []
    assert not list((curated / "snapshots").glob(".tmp-*"))
    assert [r["status"] for r in read_runs(curated)] == ["failed"]


def test_raw_files_are_never_modified(raw, curated):
    before = tree_digest(raw.root)
    stat_before = {p: p.stat().st_mtime_ns for p in raw.root.rglob("*") if p.is_file()}
    pipelines.run(raw.root, curated, force=True)
    assert tree_digest(raw.root) == before
    assert {p: p.stat().st_mtime_ns for p in raw.root.rglob("*") if p.is_file()} == stat_before


def test_an_unexpected_error_is_logged_and_leaves_curated_untouched(raw, curated, monkeypatch):
    from pipelines import runner

    def broken(ctx):
        raise ZeroDivisionError("a bug in a step")

    steps = list(runner.STEPS)
    steps[3] = ("submissions", broken)
    monkeypatch.setattr(runner, "STEPS", tuple(steps))
    before = tree_digest(curated, skip=("runs.jsonl",))
    with pytest.raises(ZeroDivisionError):
        pipelines.run(raw.root, curated, force=True)
    assert tree_digest(curated, skip=("runs.jsonl",)) == before
    last = read_runs(curated)[-1]
    assert (last["status"], last["error"]) == ("failed", "ZeroDivisionError: a bug in a step")


def test_steps_run_on_arrow_system_pool_and_the_default_comes_back(raw, curated, monkeypatch):
    # the steps allocate Arrow's buffers with malloc (pyarrow's default pool zeroes huge pages: memory.py); the
    # process's default pool is restored after the run, and after a failed one
    import pyarrow as pa

    from pipelines import runner

    default = pa.default_memory_pool().backend_name
    seen = []

    def watch(ctx):
        seen.append(pa.default_memory_pool().backend_name)

    monkeypatch.setattr(runner, "STEPS", (*runner.STEPS, ("watch", watch)))
    assert pipelines.run(raw.root, curated, force=True).status == "ok"
    assert seen == ["system"] and pa.default_memory_pool().backend_name == default

    def broken(ctx):
        raise ZeroDivisionError("a bug in a step")

    monkeypatch.setattr(runner, "STEPS", (("broken", broken),))
    with pytest.raises(ZeroDivisionError):
        pipelines.run(raw.root, curated, force=True)
    assert pa.default_memory_pool().backend_name == default


def test_glibc_keeps_freed_memory_while_the_steps_run_and_its_defaults_come_back(raw, curated, monkeypatch):
    # malloc's large blocks from its heap, kept when freed (fresh pages fault: memory.py), only while the steps
    # run, also when one fails; and nothing asked of a C library that is not glibc
    from pipelines import memory, runner

    calls: list[tuple[int, int]] = []
    monkeypatch.setattr(memory, "glibc_mallopt", lambda: lambda parameter, value: calls.append((parameter, value)))
    during = []
    monkeypatch.setattr(runner, "STEPS", (*runner.STEPS, ("watch", lambda ctx: during.append(list(calls)))))
    assert pipelines.run(raw.root, curated, force=True).status == "ok"
    kept = [(memory._M_MMAP_THRESHOLD, 1 << 30), (memory._M_TRIM_THRESHOLD, 1 << 30)]
    defaults = [(memory._M_MMAP_THRESHOLD, 128 * 1024), (memory._M_TRIM_THRESHOLD, 128 * 1024)]
    assert during == [kept] and calls == kept + defaults

    def broken(ctx):
        raise ZeroDivisionError("a bug in a step")

    calls.clear()
    monkeypatch.setattr(runner, "STEPS", (("broken", broken),))
    with pytest.raises(ZeroDivisionError):
        pipelines.run(raw.root, curated, force=True)
    assert calls == kept + defaults


def test_malloc_is_tuned_only_through_glibc(monkeypatch):
    from pipelines import memory

    assert callable(memory.glibc_mallopt()) == (memory.platform.libc_ver()[0] == "glibc")
    monkeypatch.setattr(memory.platform, "libc_ver", lambda: ("", ""))  # musl, macOS, Windows
    assert memory.glibc_mallopt() is None
    with memory.freed_memory_kept():
        pass


def test_concurrent_runs_take_turns(raw, curated):
    """Two runs at once on one curated directory: the second waits for the first, both publish whole snapshots."""
    results, errors = [], []

    def go() -> None:
        try:
            results.append(pipelines.run(raw.root, curated, force=True))
        except Exception as exc:  # collected: the assertion below names it
            errors.append(exc)

    threads = [threading.Thread(target=go) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert len({r.vintage_id for r in results}) == 2
    assert not list((curated / "snapshots").glob(".tmp-*"))
    statuses = [r["status"] for r in read_runs(curated)]
    assert statuses == ["ok", "ok", "ok"]


def test_a_current_that_is_not_a_link_is_refused(raw, tmp_path):
    curated = tmp_path / "odd"
    (curated / "current").mkdir(parents=True)
    (curated / "current" / "facts.parquet").write_bytes(b"someone's copy")
    with pytest.raises(pipelines.PipelineError, match="symbolic link"):
        pipelines.run(raw.root, curated)
    assert (curated / "current" / "facts.parquet").read_bytes() == b"someone's copy"
    assert snapshots.kept_snapshots(curated) == []


def test_the_code_digest_covers_the_indicator_catalogue():
    # a lowered limit in indicators.yml must rebuild unchanged inputs, as a changed rule in a module does
    package = Path(pipelines.__file__).resolve().parent
    names = {p.relative_to(package).as_posix() for p in snapshots.code_files()}
    assert "indicators.yml" in names and "rules.py" in names
    assert not any(name.startswith("sample/") for name in names)

"""What an operator drops into data/raw/ by accident: hostile sidecars, OS droppings next to the data, IDs pasted
with invisible characters. Each is run through the real pipeline on a TinyRaw tree."""

from __future__ import annotations

import datetime as dt
import json
import subprocess
import sys
from pathlib import Path

import pyarrow.parquet as pq
import pytest

import pipelines
from pipelines import snapshots
from pipelines.__main__ import main
from pipelines.runlog import read_runs
from pipelines.sidecar import MAX_SIDECAR_BYTES
from tests.conftest import TinyRaw, answer, make_raw
from tests.test_pipeline_snapshots import tree_digest

REPO = Path(__file__).resolve().parents[1]
MEMBERSHIPS_DATE = dt.date(2022, 3, 1)
SURVEY = "surveys/pact_survey_2022.xlsx"


# ---------------------------------------------------------------- C. hostile sidecars


def _sidecar(raw: TinyRaw) -> Path:
    return raw.root / f"{SURVEY}.source.yml"


SIDECARS = {
    # case: (sidecar bytes, what the message must say)
    "100,000-deep list": (b"[" * 100_000, "nested too deeply"),
    "100,000-deep mapping": (b"{a: " * 100_000, "nested too deeply"),
    "100,000-deep mapping under a key": (b"title: " + b"{a: " * 100_000 + b"x" + b"}" * 100_000,
                                         "nested too deeply"),
    "larger than the bound": (b"title: " + b"x" * MAX_SIDECAR_BYTES + b"\n", "larger than 1024 kB"),
    "a date that is no date": (None, "not valid YAML: ValueError: month must be in 1..12"),
    "a list at the top level": (b"- title: x\n- kind: survey\n", "expected a mapping at the top level, not a list"),
    "empty": (b"", "expected a mapping at the top level, not an empty file"),
    "not UTF-8": (b"title: caf\xe9\n", "not valid YAML"),
}


@pytest.mark.parametrize("case", sorted(SIDECARS))
def test_a_hostile_sidecar_is_one_line_naming_it(case, raw, curated, capsys):
    content, expected = SIDECARS[case]
    path = _sidecar(raw)
    if content is None:  # the real sidecar with one bad date
        content = path.read_bytes().replace(b"received: '2025-01-15'", b"received: 2025-13-45")
        assert b"2025-13-45" in content
    path.write_bytes(content)
    before = tree_digest(curated, skip=("runs.jsonl",))

    code = main(["--raw", str(raw.root), "--curated", str(curated)])

    assert code == 1
    err = capsys.readouterr().err
    assert "Traceback" not in err
    message = err.strip().splitlines()[-1]
    assert message.startswith(f"pipeline failed: {SURVEY}: {SURVEY}.source.yml: ")
    assert expected in message, message
    assert len(message) < 2000
    assert tree_digest(curated, skip=("runs.jsonl",)) == before
    assert not list((curated / "snapshots").glob(".tmp-*"))
    last = read_runs(curated)[-1]
    assert last["status"] == "failed" and last["error"] == message.removeprefix("pipeline failed: ")


def test_a_deep_sidecar_through_the_command_line(raw, curated):
    """The real `python -m pipelines` on a 100,000-deep sidecar: exit 1, one line, no traceback."""
    _sidecar(raw).write_bytes(b"[" * 100_000)
    before = tree_digest(curated, skip=("runs.jsonl",))
    done = subprocess.run([sys.executable, "-m", "pipelines", "--raw", str(raw.root), "--curated", str(curated)],
                          cwd=REPO, capture_output=True, text=True, timeout=300)
    assert done.returncode == 1
    assert "Traceback" not in done.stderr
    assert done.stderr.strip().splitlines()[-1] == (
        f"pipeline failed: {SURVEY}: {SURVEY}.source.yml: not valid YAML: nested too deeply to be a sidecar")
    assert tree_digest(curated, skip=("runs.jsonl",)) == before
    assert json.loads((curated / "runs.jsonl").read_text(encoding="utf-8").splitlines()[-1])["status"] == "failed"


def test_a_deep_sidecar_on_a_first_run_leaves_nothing_but_the_log(raw, tmp_path):
    _sidecar(raw).write_bytes(b"{a: " * 100_000)
    curated = tmp_path / "fresh"
    with pytest.raises(pipelines.PipelineError, match="nested too deeply"):
        pipelines.run(raw.root, curated, progress=False)
    assert sorted(p.name for p in curated.iterdir()) == ["runs.jsonl"]
    assert snapshots.kept_snapshots(curated) == []


# ---------------------------------------------------------------- B. invisible characters in IDs

ZWSP, ZWNJ, ZWJ, WJ, BOM, NBSP, SHY = "\u200b", "\u200c", "\u200d", "\u2060", "\ufeff", "\u00a0", "\u00ad"


def test_invisible_characters_are_dropped_from_every_id(tmp_path):
    """Registry, memberships, survey answers and corrections each carry IDs with invisible characters pasted in:
    every one matches its clean twin, and the curated tables hold only clean IDs."""
    from tests.conftest import COMMITMENTS, MEMBERS

    raw = make_raw(tmp_path / "raw")
    members = [(f"PFS-000001{ZWSP}", *MEMBERS[0][1:]), (f"{BOM}PFS-000002", *MEMBERS[1][1:]),
               (f"PFS-000003{NBSP}", *MEMBERS[2][1:]), (f"PFS-{SHY}000004", *MEMBERS[3][1:]), MEMBERS[4]]
    memberships = [("PFS-000001", f"LSP-CONS{WJ}", MEMBERSHIPS_DATE), (f"PFS-000002{ZWNJ}", "LSP-CONS",
                                                                       MEMBERSHIPS_DATE)]
    raw.write_registry(members=members, memberships=memberships, commitments=COMMITMENTS)
    reference = raw.root / "reference" / "partnerships.csv"  # a reference key with a zero-width space, too
    reference.write_text(reference.read_text(encoding="utf-8").replace("\nLSP-CONS,", f"\nLSP-CONS{ZWSP},"),
                         encoding="utf-8")
    assert f"LSP-CONS{ZWSP}," in reference.read_text(encoding="utf-8")
    raw.write_survey(2022, [
        answer(member_id=f"PFS-000001{ZWSP}", cid=f"c-1{ZWSP}"),
        answer(member_id=f"PFS-0000{ZWJ}02", org="Beta", cid=f"{BOM}c-2", people=7),
        answer(member_id=f"{NBSP}PFS-000004{WJ}", org="Unknown name", country="FR", cid="c-4", people=4,
               user="dee@delta.example"),
    ])
    raw.write_corrections([{"correction_id": f"K1{SHY}", "wave": 2022, "contribution_id": f"c-2{ZWSP}",
                            "member_id": f"PFS-000002{BOM}", "indicator": "people_trained", "action": "set",
                            "value": "9", "reason": "confirmed", "corrected_on": "2025-04-02"}])

    result = pipelines.run(raw.root, tmp_path / "curated", progress=False)

    tables = {name: pq.read_table(result.snapshot / f"{name}.parquet").to_pylist()
              for name in ("members", "memberships", "commitments", "submissions", "facts", "rejects",
                           "corrections_applied")}
    assert [m["member_id"] for m in tables["members"]] == [f"PFS-00000{i}" for i in range(1, 6)]
    assert [(m["member_id"], m["partnership_id"]) for m in tables["memberships"]] == [
        ("PFS-000001", "LSP-CONS"), ("PFS-000002", "LSP-CONS")]
    assert [(c["member_id"], c["commitment_no"]) for c in tables["commitments"]] == [
        ("PFS-000001", 1), ("PFS-000001", 2), ("PFS-000002", 1)]
    assert [(s["contribution_id"], s["member_id"], s["status"]) for s in tables["submissions"]] == [
        ("c-1", "PFS-000001", "accepted"), ("c-2", "PFS-000002", "accepted"), ("c-4", "PFS-000004", "accepted")]
    people = {(f["member_id"], f["contribution_id"]): f["value"] for f in tables["facts"]
              if f["indicator"] == "people_trained"}
    assert people == {("PFS-000001", "c-1"): 100, ("PFS-000002", "c-2"): 9, ("PFS-000004", "c-4"): 4}
    assert {f["member_id"] for f in tables["facts"]} == {"PFS-000001", "PFS-000002", "PFS-000004"}
    assert tables["rejects"] == []
    assert [(c["correction_id"], c["contribution_id"], c["status"]) for c in tables["corrections_applied"]] == [
        ("K1", "c-2", "applied")]
    partnerships = pq.read_table(result.snapshot / "partnerships.parquet").column("partnership_id").to_pylist()
    assert "LSP-CONS" in partnerships
    every_id = [value for rows in tables.values() for r in rows for key, value in r.items()
                if key.endswith("_id") and isinstance(value, str)]
    assert every_id and not any(ch in value for value in every_id for ch in ZWSP + ZWNJ + ZWJ + WJ + BOM + NBSP + SHY)


@pytest.mark.parametrize(("cell", "clean"), [
    ("PFS-000001", "PFS-000001"), (f"PFS-000001{ZWSP}", "PFS-000001"), (f"{BOM}PFS-000001{NBSP}", "PFS-000001"),
    (f"PFS-{SHY}0000{ZWJ}01{WJ}{ZWNJ}", "PFS-000001"), (f"PFS{NBSP}000001", "PFS 000001"), (f" {ZWSP} ", ""),
    (1500.0, "1500"), (None, ""),
])
def test_clean_id(cell, clean):
    from pipelines.normalise import clean_id, normalise_member_id

    assert clean_id(cell) == clean
    assert normalise_member_id(cell) == clean.replace("-", "").replace(" ", "")


# ---------------------------------------------------------------- A. harmless files beside the data

DROPPINGS = {
    "surveys/desktop.ini": ("[.ShellClassInfo]\r\nIconResource=x\r\n", "Windows folder settings"),
    "surveys/Thumbs.db": ("\x00thumbs", "Windows thumbnail cache"),
    "registry/.DS_Store": ("\x00\x00\x00\x01Bud1", "macOS folder settings"),
    "surveys/~$pact_survey_2022.xlsx": ("lock", "Office lock file of an open document"),
    "reference/.~lock.partnerships.csv#": ("lock", "hidden file"),
    "surveys/._pact_survey_2022.xlsx": ("appledouble", "hidden file"),
    "surveys/.old/pact_survey_2021.xlsx": ("not even a workbook", "inside the hidden folder .old"),
    "Desktop.ini": ("[.ShellClassInfo]", "Windows folder settings"),
}


def test_os_and_office_droppings_are_skipped_and_listed(raw, curated, caplog):
    for rel, (content, _) in DROPPINGS.items():
        path = raw.root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(content, encoding="utf-8")
    expected = sorted(({"path": rel, "why": why} for rel, (_, why) in DROPPINGS.items()),
                      key=lambda item: item["path"])

    with caplog.at_level("INFO", logger="pipelines"):
        result = pipelines.run(raw.root, curated, force=True, progress=False)

    assert result.status == "ok"
    assert result.skipped == expected
    last = read_runs(curated)[-1]
    assert last["status"] == "ok" and last["skipped"] == expected
    assert [i["path"] for i in last["inputs"]] == [i["path"] for i in read_runs(curated)[0]["inputs"]]
    logged = [r.getMessage() for r in caplog.records if r.getMessage().startswith("skipped ")]
    assert logged == [f"skipped {item['path']} ({item['why']})" for item in expected]
    # nothing new to read: a run without --force does nothing, and still says what it skipped
    again = pipelines.run(raw.root, curated, progress=False)
    assert again.status == "unchanged" and again.skipped == expected
    assert read_runs(curated)[-1]["skipped"] == expected


def test_an_unknown_data_file_still_stops_the_run(raw, curated, capsys):
    (raw.root / "surveys" / "desktop.ini").write_text("[.ShellClassInfo]\r\n", encoding="utf-8")
    (raw.root / "surveys" / "notes.docx").write_bytes(b"PK\x03\x04 not really")
    before = tree_digest(curated, skip=("runs.jsonl",))
    assert main(["--raw", str(raw.root), "--curated", str(curated)]) == 1
    message = capsys.readouterr().err.strip().splitlines()[-1]
    assert message.startswith("pipeline failed: surveys/notes.docx: unsupported file type '.docx'")
    assert tree_digest(curated, skip=("runs.jsonl",)) == before
    last = read_runs(curated)[-1]
    assert last["status"] == "failed"
    assert last["skipped"] == [{"path": "surveys/desktop.ini", "why": "Windows folder settings"}]

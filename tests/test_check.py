"""`python -m pipelines check`: a whole run but the publishing, its printout beside the current snapshot, exit codes
0 / 3 / 1, and a curated tree left byte for byte as it was (but one run-log line)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pipelines
from pipelines.__main__ import main
from pipelines.runlog import read_runs
from tests.conftest import answer
from tests.test_pipeline_snapshots import tree_digest

REPO = Path(__file__).resolve().parents[1]


def table_rows(out: str) -> dict[tuple[str, str], list[str]]:
    """The printed comparison: (wave, indicator) -> the other columns, split on whitespace."""
    rows = {}
    for line in out.splitlines():
        parts = line.split()
        if len(parts) == 8 and parts[0].isdigit():
            rows[(parts[0], parts[1])] = parts[2:]
    return rows


def test_check_shows_new_and_current_figures_and_publishes_nothing(raw, curated, capsys):
    # a changed value in the 2022 wave and a whole new 2023 wave
    raw.write_survey(2022, [answer(cid="c-1"), answer(member_id="PFS-000002", org="Beta", cid="c-2", people=9)])
    raw.write_survey(2023, [answer(cid="c-31", people=150, invest="2500.5", created="01/03/2024 09:00",
                                   updated="01/03/2024 09:00")])
    (raw.root / "surveys" / "desktop.ini").write_text("[.ShellClassInfo]\r\n", encoding="utf-8")
    before = tree_digest(curated, skip=("runs.jsonl",))
    runs_before = read_runs(curated)
    current = (curated / "current").resolve()

    code = main(["check", "--raw", str(raw.root), "--curated", str(curated)])

    out = capsys.readouterr().out
    assert code == 0, out
    rows = table_rows(out)
    assert rows[("2022", "people_trained")] == ["people", "109", "2", "107", "2", "+2"]
    assert rows[("2022", "investment_eur")] == ["EUR", "2,000.00", "2", "2,000.00", "2", "0"]
    assert rows[("2023", "people_trained")] == ["people", "150", "1", "-", "-", "new"]
    assert rows[("2023", "investment_eur")] == ["EUR", "2,500.50", "1", "-", "-", "new"]
    assert out.splitlines()[3].split() == ["wave", "indicator", "unit", "new", "total", "members", "current",
                                           "total", "members", "difference"]
    assert "warnings: 0\n" in out
    assert "skipped files: 1\n  surveys/desktop.ini (Windows folder settings)\n" in out
    assert out.endswith("result: would publish cleanly (exit 0)\n")
    # nothing published: current, the snapshots and everything else as they were, one run-log line more
    assert tree_digest(curated, skip=("runs.jsonl",)) == before
    assert (curated / "current").resolve() == current
    runs = read_runs(curated)
    assert runs[:-1] == runs_before
    assert runs[-1]["status"] == "check" and runs[-1]["vintage_id"] is None and runs[-1]["error"] is None
    assert runs[-1]["counts"]["rows_read"] == 3 and runs[-1]["unchanged_since"] is None
    # and the run it checked publishes exactly those figures
    assert pipelines.run(raw.root, curated, progress=False).status == "ok"
    assert main(["check", "--raw", str(raw.root), "--curated", str(curated)]) == 0
    again = capsys.readouterr().out
    assert table_rows(again)[("2022", "people_trained")] == ["people", "109", "2", "109", "2", "0"]
    assert table_rows(again)[("2023", "people_trained")] == ["people", "150", "1", "150", "1", "0"]
    assert "`python -m pipelines` would do nothing" in again


def test_check_with_warnings_exits_3(raw, curated, capsys):
    orphan = raw.root / "surveys" / "pact_survey_2021.xlsx.source.yml"
    orphan.write_bytes(raw.surveys[2022].with_name("pact_survey_2022.xlsx.source.yml").read_bytes())
    before = tree_digest(curated, skip=("runs.jsonl",))
    assert main(["check", "--raw", str(raw.root), "--curated", str(curated)]) == 3
    out = capsys.readouterr().out
    assert "warnings: 1\n  sidecar without a data file: surveys/pact_survey_2021.xlsx.source.yml\n" in out
    assert out.endswith("result: would publish with warnings (exit 3)\n")
    assert tree_digest(curated, skip=("runs.jsonl",)) == before
    assert read_runs(curated)[-1]["warnings"] == ["sidecar without a data file: surveys/pact_survey_2021.xlsx.source.yml"]


def test_check_that_would_fail_exits_1(raw, curated, capsys):
    (raw.root / "surveys" / "notes.docx").write_bytes(b"PK\x03\x04")
    before = tree_digest(curated, skip=("runs.jsonl",))
    assert main(["check", "--raw", str(raw.root), "--curated", str(curated)]) == 1
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.strip().splitlines()[-1] == (
        "check failed: surveys/notes.docx: unsupported file type '.docx': raw data files are .xlsx, .xls, .ods, .zip, .csv")
    assert tree_digest(curated, skip=("runs.jsonl",)) == before
    last = read_runs(curated)[-1]
    assert last["status"] == "check failed" and last["error"].startswith("surveys/notes.docx: ")


def test_check_failing_in_a_step_leaves_no_build_directory(raw, curated, capsys):
    raw.registry.write_bytes(raw.registry.read_bytes()[:500])  # found by the registry step, after the tmp dir exists
    before = tree_digest(curated, skip=("runs.jsonl",))
    assert main(["check", "--raw", str(raw.root), "--curated", str(curated)]) == 1
    assert "check failed: registry/pact_members.xlsx" in capsys.readouterr().err
    assert tree_digest(curated, skip=("runs.jsonl",)) == before
    assert not list((curated / "snapshots").glob(".tmp-*"))


def test_check_before_the_first_run_leaves_only_the_log(raw, tmp_path, capsys):
    curated = tmp_path / "fresh"
    assert main(["check", "--raw", str(raw.root), "--curated", str(curated)]) == 0
    out = capsys.readouterr().out
    assert "current snapshot: (none yet)" in out
    assert table_rows(out)[("2022", "people_trained")] == ["people", "107", "2", "-", "-", "new"]
    assert sorted(p.name for p in curated.iterdir()) == ["runs.jsonl"]


def test_plain_run_options_still_work(raw, curated):
    """No subcommand is a run, with its options as before."""
    assert main(["--raw", str(raw.root), "--curated", str(curated)]) == 0
    assert read_runs(curated)[-1]["status"] == "unchanged"
    assert main(["--raw", str(raw.root), "--curated", str(curated), "--force"]) == 0
    assert read_runs(curated)[-1]["status"] == "ok"


def test_check_through_the_command_line(raw, curated):
    raw.write_survey(2022, [answer(cid="c-1", people=100), answer(member_id="PFS-000002", org="Beta", cid="c-2",
                                                                  people=1)])
    before = tree_digest(curated, skip=("runs.jsonl",))
    done = subprocess.run([sys.executable, "-m", "pipelines", "check", "--raw", str(raw.root), "--curated",
                           str(curated)], cwd=REPO, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert table_rows(done.stdout)[("2022", "people_trained")] == ["people", "101", "2", "107", "2", "-6"]
    assert "Traceback" not in done.stderr
    assert tree_digest(curated, skip=("runs.jsonl",)) == before


def test_check_warns_of_a_current_whose_snapshot_was_deleted(raw, curated, capsys):
    target = (curated / "current").resolve()
    shutil.rmtree(target)  # removed by hand to free space, say
    assert main(["check", "--raw", str(raw.root), "--curated", str(curated)]) == 3
    out = capsys.readouterr().out
    assert f"{curated / 'current'} points to " in out and "which does not exist: the dashboard serves nothing" in out

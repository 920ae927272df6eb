"""What an operator drops into data/raw/ by accident: hostile sidecars, OS droppings next to the data, IDs pasted
with invisible characters. Each is run through the real pipeline on a TinyRaw tree."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

import pipelines
from pipelines import snapshots
from pipelines.__main__ import main
from pipelines.runlog import read_runs
from pipelines.sidecar import MAX_SIDECAR_BYTES
from tests.conftest import TinyRaw, answer, make_raw
from tests.test_pipeline_snapshots import tree_digest

REPO = Path(__file__).resolve().parents[1]
SURVEY = "surveys/pact_survey_2022.xlsx"


@pytest.fixture
def raw(tmp_path) -> TinyRaw:
    tree = make_raw(tmp_path / "raw")
    tree.write_survey(2022, [answer(cid="c-1"), answer(member_id="PFS-000002", org="Beta", cid="c-2", people=7)])
    return tree


@pytest.fixture
def curated(tmp_path, raw) -> Path:
    path = tmp_path / "curated"
    assert pipelines.run(raw.root, path, progress=False).status == "ok"
    return path


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

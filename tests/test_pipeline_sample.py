"""The bundled sample, end to end: the committed data/raw through the real pipeline, against the generator's
planted truth, the table of docs/rules_of_the_data.md and the published cross-checks.

The pipeline runs once per session on data/raw (the shared `sample_run` fixture); the truth comes from `python -m pipelines.sample` at its
default seed and scale (the committed sample), written to a temporary directory.
"""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from pathlib import Path

import duckdb
import openpyxl
import pandas as pd
import pyarrow.parquet as pq
import pytest

import pipelines
from pipelines.schema import INDICATORS, TABLES
from pipelines.sidecar import load_sidecar
from tests.conftest import SampleRun
from tests.sample_figures import CROSS_CHECKS, PUBLISHED

REPO = Path(__file__).resolve().parents[1]
RAW = REPO / "data" / "raw"

pytestmark = pytest.mark.skipif(not (RAW / "surveys").is_dir(), reason="the bundled sample is not in data/raw")

# The published figures as the calibration query below returns them: the share progressing in whole percent.
CALIBRATION_TABLE = {
    year: {("progressing_pct" if name == "commitments_progressing_share" else name):
           (round(100 * value) if name == "commitments_progressing_share" else value)
           for name, value in figures.items()}
    for year, figures in PUBLISHED.items()
}


@pytest.fixture(scope="session")
def sample(sample_run: SampleRun, tmp_path_factory):
    root = tmp_path_factory.mktemp("regenerated")
    truth = root / "truth"
    subprocess.run([sys.executable, "-m", "pipelines.sample", "--out", str(root / "raw"),
                    "--truth", str(truth)], check=True, cwd=REPO, capture_output=True, timeout=600)
    return {"raw": sample_run.raw, "curated": sample_run.curated, "truth": truth, "result": sample_run.result}


@pytest.fixture(scope="session")
def tables(sample) -> dict[str, pd.DataFrame]:
    current = sample["curated"] / "current"
    return {name: pq.read_table(current / f"{name}.parquet").to_pandas() for name in TABLES}


@pytest.fixture(scope="session")
def con(sample):
    """DuckDB over <curated>/current/*.parquet, one view per table."""
    connection = duckdb.connect()
    current = (sample["curated"] / "current").as_posix()
    for path in sorted(Path(current).glob("*.parquet")):
        connection.execute(f"CREATE VIEW {path.stem} AS SELECT * FROM read_parquet('{current}/{path.name}')")
    yield connection
    connection.close()


def test_facts_equal_the_planted_truth_row_for_row(sample, tables):
    truth = pd.read_parquet(sample["truth"] / "truth_facts.parquet")
    key = ["year", "member_id", "indicator"]
    columns = [*key, "value", "source_file", "row", "contribution_id"]
    ours = tables["facts"][columns].sort_values(key).reset_index(drop=True)
    theirs = truth[columns].sort_values(key).reset_index(drop=True)
    assert len(ours) == len(theirs) > 10_000
    pd.testing.assert_frame_equal(ours, theirs, check_dtype=False)
    # the question each reported value came from; the commitment counts come from a whole matrix
    merged = tables["facts"].merge(truth, on=key, suffixes=("", "_truth"))
    asked = merged[merged["column_truth"].notna()]
    assert (asked["column"] == asked["column_truth"]).all()
    assert set(merged.loc[merged["column_truth"].isna(), "indicator"]) == {
        "commitments_reported", "commitments_progressing"}


def test_submission_statuses_equal_the_planted_truth(sample, tables):
    truth = pd.read_parquet(sample["truth"] / "truth_rows.parquet")
    key = ["source_file", "row"]
    columns = [*key, "wave", "sheet", "contribution_id", "status", "member_id", "reason_code"]
    ours = tables["submissions"][columns].sort_values(key).reset_index(drop=True)
    # the truth writes "" where the curated table has no value (no member, no reason for an accepted row)
    theirs = truth[columns].replace("", None).sort_values(key).reset_index(drop=True)
    pd.testing.assert_frame_equal(ours, theirs, check_dtype=False)
    # the planted mess is all there and all recognised
    cases = truth.groupby("case")["status"].agg(lambda s: set(s)).to_dict()
    assert cases["id_mistyped"] == {"accepted"} and cases["test_by_user_name"] == {"test"}
    assert cases["superseded_tie_creation"] == {"superseded"}
    assert cases["superseded_tie_contribution_id"] == {"superseded"}


def test_rejects_equal_the_planted_truth(sample, tables):
    truth = pd.read_parquet(sample["truth"] / "truth_rejects.parquet")
    key = ["source_file", "row", "column"]
    columns = [*key, "sheet", "value", "reason_code", "contribution_id"]
    ours = tables["rejects"][columns].sort_values(key).reset_index(drop=True)
    theirs = truth[columns].sort_values(key).reset_index(drop=True)
    pd.testing.assert_frame_equal(ours, theirs, check_dtype=False)
    assert tables["rejects"]["reason"].str.len().gt(10).all()


def _design_query(con) -> pd.DataFrame:
    return con.execute("""
        WITH respondents AS (
            SELECT
                wave AS year,
                count(DISTINCT member_id) AS respondents
            FROM submissions
            WHERE status = 'accepted'
            GROUP BY wave
        ),
        totals AS (
            SELECT
                f.year,
                sum(f.value) FILTER (WHERE f.indicator = 'people_trained') AS people_trained,
                sum(f.value) FILTER (WHERE f.indicator = 'training_programmes') AS training_programmes,
                sum(f.value) FILTER (WHERE f.indicator = 'investment_eur') / i.scale AS investment_eur,
                sum(f.value) FILTER (WHERE f.indicator = 'people_reached') AS people_reached,
                sum(f.value) FILTER (WHERE f.indicator = 'stakeholders_joined') AS stakeholders_joined,
                sum(f.value) FILTER (WHERE f.indicator = 'commitments_progressing') AS progressing,
                sum(f.value) FILTER (WHERE f.indicator = 'commitments_reported') AS reported
            FROM facts AS f
            CROSS JOIN (SELECT scale FROM indicators WHERE indicator = 'investment_eur') AS i
            GROUP BY f.year, i.scale
        )
        SELECT
            t.year,
            r.respondents,
            t.people_trained,
            t.training_programmes,
            t.investment_eur,
            t.people_reached,
            t.stakeholders_joined,
            round(100.0 * t.progressing / t.reported) AS progressing_pct
        FROM totals AS t
        JOIN respondents AS r USING (year)
        ORDER BY t.year
    """).df().set_index("year")


def test_duckdb_reproduces_the_design_table(con):
    table = _design_query(con)
    assert list(table.index) == [2022, 2023, 2024]
    for year, figures in CALIBRATION_TABLE.items():
        for name, expected in figures.items():
            assert table.loc[year, name] == expected, (year, name)


def test_duckdb_reproduces_the_published_cross_checks(con):
    for (indicator, first, last), total in CROSS_CHECKS.items():
        stored = con.execute("SELECT sum(value) FROM facts WHERE indicator = ? AND year BETWEEN ? AND ?",
                             [indicator, first, last]).fetchone()[0]
        assert stored == total * INDICATORS[indicator].scale, (indicator, first, last)
    # and the published figures shipped with the data say the same
    published = dict(con.execute("""
        SELECT figure_id, value FROM published_figures WHERE indicator = 'people_trained'
    """).fetchall())
    assert PUBLISHED[2022]["people_trained"] in published.values()
    assert CROSS_CHECKS[("people_trained", 2022, 2024)] in published.values()


def test_an_independent_pandas_computation_agrees(tables, con):
    facts, subs = tables["facts"], tables["submissions"]
    sums = facts.pivot_table(index="year", columns="indicator", values="value", aggfunc="sum")
    respondents = subs[subs["status"] == "accepted"].groupby("wave")["member_id"].nunique()
    table = _design_query(con)
    for year in (2022, 2023, 2024):
        assert respondents[year] == table.loc[year, "respondents"]
        for name in ("people_trained", "training_programmes", "people_reached", "stakeholders_joined"):
            assert sums.loc[year, name] == table.loc[year, name]
        assert sums.loc[year, "investment_eur"] == table.loc[year, "investment_eur"] * 100
        share = sums.loc[year, "commitments_progressing"] / sums.loc[year, "commitments_reported"]
        assert round(100 * share) == table.loc[year, "progressing_pct"]
    # an EU total counts each member once: one fact per year, member and indicator
    assert not facts.duplicated(["year", "member_id", "indicator"]).any()


def test_truth_summary_agrees(sample, tables):
    summary = json.loads((sample["truth"] / "truth_summary.json").read_text(encoding="utf-8"))
    subs = tables["submissions"]
    for wave, expected in summary["waves"].items():
        counts = subs[subs["wave"] == int(wave)]["status"].value_counts().to_dict()
        assert counts == {k: v for k, v in expected["rows"].items() if v}
        assert sample["result"].waves[int(wave)]["accepted"] == expected["respondents"]


def test_every_raw_row_is_accounted_for(sample, tables):
    """Rows read with an independent reader (openpyxl) = accepted + superseded + test + blank + rejected."""
    subs = tables["submissions"]
    for path in sorted((sample["raw"] / "surveys").glob("*.xlsx")):
        spec = load_sidecar(path)
        workbook = openpyxl.load_workbook(path, read_only=True)
        try:
            sheet = workbook[spec.read.sheet]
            rows = [r for r in sheet.iter_rows(min_row=spec.read.header_row + 1, values_only=True)]
        finally:
            workbook.close()
        while rows and all(v is None for v in rows[-1]):
            rows.pop()
        ours = subs[subs["source_file"] == f"surveys/{path.name}"]
        assert len(ours) == len(rows) > 400
        assert sorted(ours["row"]) == list(range(spec.read.header_row + 1, spec.read.header_row + 1 + len(rows)))
        assert ours["status"].value_counts().sum() == len(rows)
        counts = sample["result"].waves[spec.survey.wave]
        assert counts["read"] == sum(counts[s] for s in ("accepted", "superseded", "test", "blank", "rejected"))


def test_manifest_describes_the_snapshot(sample):
    manifest = pipelines.snapshots.current_manifest(sample["curated"])
    assert manifest["synthetic"] is True
    assert manifest["vintage_id"] == sample["result"].vintage_id
    by_path = {i["path"]: i for i in manifest["inputs"]}
    for path in sorted(p for p in sample["raw"].rglob("*") if p.is_file() and not p.name.endswith(".source.yml")):
        entry = by_path[path.relative_to(sample["raw"]).as_posix()]
        assert entry["sha256"] == hashlib.sha256(path.read_bytes()).hexdigest()
        assert entry["kind"] and entry["title"] and entry["received"]
    assert by_path["registry/pact_members.xlsx"]["rows"] > 3_200
    assert manifest["waves"]["2022"]["accepted"] == 461
    assert manifest["counts"]["facts"] == pq.read_metadata(sample["curated"] / "current" / "facts.parquet").num_rows


def test_no_personal_data_in_the_sample_snapshot(tables):
    for name, frame in tables.items():
        for column in frame.columns:
            values = frame[column].dropna()
            if not values.empty and isinstance(values.iloc[0], str):
                assert not values.str.contains("@", regex=False).any(), f"{name}.{column}"

"""The bare parse floor: what no ingest of these raw files can go below.

Every data file under the raw directory is parsed with the fastest reader there is for it, and nothing is done to
the cells: each sheet of each workbook (inside a zip too) becomes an Arrow table with fastexcel (calamine's parser,
no Python object per cell), each CSV rows with the csv module. Then the tables the pipeline published, held in
memory as Arrow, are written to Parquet as the pipeline writes them and read back. The pipeline's distance from
this is the cost of its rules, checks and bookkeeping, and of the Python cells its survey rules still read.
"""

from __future__ import annotations

import csv
import zipfile
from pathlib import Path

import fastexcel
import pyarrow as pa
import pyarrow.parquet as pq

from pipelines.memory import steps_memory
from pipelines.readers import skip_reason
from pipelines.sidecar import SIDECAR_SUFFIX

WORKBOOKS = (".xlsx", ".xls", ".ods")


def _sheet_rows(content: bytes) -> int:
    book = fastexcel.read_excel(content)
    return sum(book.load_sheet_by_name(name, header_row=None).to_arrow().num_rows for name in book.sheet_names)


def read_raw(raw: Path) -> int:
    """Every raw data file parsed (workbooks into Arrow, CSV into Python rows); returns the rows read."""
    rows = 0
    for path in sorted(p for p in raw.rglob("*") if p.is_file()):
        if path.name.endswith(SIDECAR_SUFFIX) or skip_reason(path, raw) is not None:
            continue
        suffix = path.suffix.lower()
        if suffix in WORKBOOKS:
            rows += _sheet_rows(path.read_bytes())
        elif suffix == ".zip":
            with zipfile.ZipFile(path) as archive:
                rows += sum(_sheet_rows(archive.read(name)) for name in sorted(archive.namelist())
                            if Path(name).suffix.lower() in WORKBOOKS)
        elif suffix == ".csv":
            with path.open(newline="", encoding="utf-8-sig") as handle:
                rows += sum(1 for _ in csv.reader(handle))
    return rows


def run(raw: Path, tables: dict[str, pa.Table], out: Path) -> int:
    """The floor: `read_raw`, then each table written to `out` (zstd, as the pipeline writes) and read back, under
    the memory settings the pipeline's steps run with (`steps_memory`: the collector paused, Arrow's buffers from
    malloc, freed memory kept), which a floor should not go without."""
    with steps_memory():
        rows = read_raw(raw)
        for name, table in tables.items():
            pq.write_table(table, out / f"{name}.parquet", compression="zstd")
            rows += pq.read_table(out / f"{name}.parquet").num_rows
    return rows


def published_tables(snapshot: Path) -> dict[str, pa.Table]:
    """The tables of a published snapshot, read into memory (untimed, before the floor runs)."""
    return {path.stem: pq.read_table(path) for path in sorted(snapshot.glob("*.parquet"))}

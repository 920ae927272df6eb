"""What the steps share during one run: the raw files, the tables saved so far, rejects and counts."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from pipelines.finish import to_table
from pipelines.readers import RawFile

log = logging.getLogger(__name__)

# Bumped whenever a rule of the data changes what the same raw files produce, so that `python -m pipelines`
# rebuilds even when no input changed. Recorded in every manifest and run-log line.
RULES_VERSION = "2026.1"

WAVE_COUNT_KEYS = ("read", "accepted", "superseded", "test", "blank", "rejected")


@dataclass
class Context:
    raw_dir: Path
    out_dir: Path  # the snapshot being written (a .tmp- directory until the run succeeds)
    files: list[RawFile]
    tables: dict[str, pa.Table] = field(default_factory=dict)
    rejects: list[dict] = field(default_factory=list)
    work: dict[str, object] = field(default_factory=dict)  # intermediate results handed from step to step
    wave_counts: dict[int, dict[str, int]] = field(default_factory=dict)

    def files_of(self, kind: str) -> list[RawFile]:
        return [f for f in self.files if f.kind == kind]

    def table(self, name: str) -> pa.Table:
        try:
            return self.tables[name]
        except KeyError:
            raise RuntimeError(f"step order: table {name!r} is read before any step saved it") from None

    def save(self, name: str, data) -> pa.Table:
        """Finish (contract, order, validation) and write `<name>.parquet` into the snapshot being built."""
        if name in self.tables:
            raise RuntimeError(f"table {name!r} saved twice")
        table = to_table(name, data)
        pq.write_table(table, self.out_dir / f"{name}.parquet", compression="zstd")
        self.tables[name] = table
        log.debug("saved %s: %d rows", name, table.num_rows)
        return table

    def reject(
        self, *, file: str, sheet: str | None, row: int, column: str | None, contribution_id: str | None,
        value: str | None, reason_code: str, reason: str,
    ) -> None:
        self.rejects.append({
            "source_file": file, "sheet": sheet, "row": row, "column": column,
            "contribution_id": contribution_id or None, "value": value, "reason_code": reason_code, "reason": reason,
        })


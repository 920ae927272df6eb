"""What the steps share during one run: the raw files, the tables saved so far, rejects, counts, and the typed
results a step hands to later ones (`Handoffs`)."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar, cast

import pyarrow as pa
import pyarrow.parquet as pq

from pipelines.finish import to_table
from pipelines.readers import RawFile
from pipelines.schema import Reject

log = logging.getLogger(__name__)

# Bumped whenever a rule of the data changes what the same raw files produce, so that `python -m pipelines`
# rebuilds even when no input changed. Recorded in every manifest and run-log line.
RULES_VERSION = "2026.1"

WAVE_COUNT_KEYS = ("read", "accepted", "superseded", "test", "blank", "rejected")

Handoff = TypeVar("Handoff")


class Handoffs:
    """Results a step hands to later steps besides the tables it saves, one dataclass per producing step (each
    declared in its step's module, e.g. `pipelines.steps.reference.ReferenceHandoff`), looked up by type so that
    the reading step gets the declared type back."""

    def __init__(self) -> None:
        self._by_type: dict[type, object] = {}

    def put(self, handoff: object) -> None:
        if type(handoff) in self._by_type:
            raise RuntimeError(f"{type(handoff).__name__} handed on twice")
        self._by_type[type(handoff)] = handoff

    def get(self, kind: type[Handoff]) -> Handoff:
        try:
            found = self._by_type[kind]
        except KeyError:
            raise RuntimeError(f"step order: {kind.__name__} is read before any step handed it on, or after the "
                               "step that takes it") from None
        return cast(Handoff, found)  # stored under its own type by put()

    def take(self, kind: type[Handoff]) -> Handoff:
        """`get` for the last step that reads a handoff: it is let go, so that what it holds (a survey's rows, the
        registry's index) is freed when that step is done with it, not kept to the end of the run."""
        found = self.get(kind)
        del self._by_type[kind]
        return found


@dataclass
class Context:
    raw_dir: Path
    out_dir: Path  # the snapshot being written (a .tmp- directory until the run succeeds)
    files: list[RawFile]
    tables: dict[str, pa.Table] = field(default_factory=dict)
    rejects: list[Reject] = field(default_factory=list)
    work: Handoffs = field(default_factory=Handoffs)
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

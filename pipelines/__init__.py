"""Pact Monitor's pipeline: raw Pact reports -> validated, versioned, provenance-carrying Parquet.

    import pipelines
    result = pipelines.run("data/raw", "data/curated")   # -> RunResult (status "ok" or "unchanged")
    pipelines.snapshots.current_manifest("data/curated")

The names are loaded on first use, so that `import pipelines.schema` (the dashboard does) stays light.
"""

from __future__ import annotations

import importlib
from typing import Any

__all__ = ["PipelineError", "RunResult", "run", "snapshots"]


def __getattr__(name: str) -> Any:
    if name in ("run", "RunResult"):
        return getattr(importlib.import_module("pipelines.runner"), name)
    if name == "PipelineError":
        return importlib.import_module("pipelines.errors").PipelineError
    if name == "snapshots":
        return importlib.import_module("pipelines.snapshots")
    raise AttributeError(f"module 'pipelines' has no attribute {name!r}")

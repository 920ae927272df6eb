"""notebooks/progress.ipynb runs top to bottom (nbclient, the venv's kernel) on a fixture snapshot."""

from __future__ import annotations

from pathlib import Path

import nbformat
from nbclient import NotebookClient

from dashboard import data
from tests.dashboard_fixtures import write_curated_snapshot

NOTEBOOK = Path(__file__).resolve().parent.parent / "notebooks" / "progress.ipynb"


def outputs_text(nb: nbformat.NotebookNode) -> str:
    parts = []
    for cell in nb.cells:
        for output in cell.get("outputs", []):
            parts.append(output.get("text", ""))
            parts.append(str(output.get("data", {}).get("text/plain", "")))
    return "\n".join(parts)


def test_progress_notebook_executes(tmp_path, monkeypatch):
    write_curated_snapshot(tmp_path / "curated")
    # The kernel inherits the environment: it reads the fixture, not data/curated.
    monkeypatch.setenv(data.CURATED_ENV, str(tmp_path / "curated"))
    monkeypatch.setenv("IPYTHONDIR", str(tmp_path / "ipython"))
    monkeypatch.setenv("JUPYTER_RUNTIME_DIR", str(tmp_path / "jupyter"))
    monkeypatch.delenv("PACT_VINTAGE", raising=False)
    nb = nbformat.read(NOTEBOOK, as_version=4)
    assert not any(cell.get("outputs") for cell in nb.cells if cell.cell_type == "code"), "commit it without outputs"
    client = NotebookClient(nb, timeout=120, kernel_name="python3",
                            resources={"metadata": {"path": str(NOTEBOOK.parent)}})
    client.execute()
    text = outputs_text(nb)
    errors = [o for c in nb.cells for o in c.get("outputs", []) if o.get("output_type") == "error"]
    assert errors == []
    assert "synthetic sample: True" in text
    assert "DuckDB on the Parquet and the dashboard's query layer agree." in text
    assert "Off track" in text  # the target sentences were printed
    assert "Construction" in text  # the breakdown table


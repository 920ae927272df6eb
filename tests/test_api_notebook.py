"""notebooks/data_access.ipynb runs top to bottom (nbclient, the venv's kernel) on a pipeline-built snapshot."""

from __future__ import annotations

from pathlib import Path

import nbformat
from nbclient import NotebookClient

from dashboard import data

REPO = Path(__file__).resolve().parents[1]
NOTEBOOK = REPO / "notebooks" / "data_access.ipynb"


def _text(nb: nbformat.NotebookNode) -> str:
    parts = []
    for cell in nb.cells:
        for output in cell.get("outputs", []):
            parts.append(output.get("text", ""))
            parts.append(str(output.get("data", {}).get("text/plain", "")))
    return "\n".join(parts)


def test_data_access_notebook_executes(sample_run, tmp_path, monkeypatch):
    monkeypatch.setenv(data.CURATED_ENV, str(sample_run.curated))
    monkeypatch.setenv("IPYTHONDIR", str(tmp_path / "ipython"))
    monkeypatch.setenv("JUPYTER_RUNTIME_DIR", str(tmp_path / "jupyter"))
    monkeypatch.delenv("PACT_BASE_URL", raising=False)
    nb = nbformat.read(NOTEBOOK, as_version=4)
    assert not any(cell.get("outputs") for cell in nb.cells if cell.cell_type == "code"), "commit it without outputs"
    NotebookClient(nb, timeout=180, kernel_name="python3",
                   resources={"metadata": {"path": str(NOTEBOOK.parent)}}).execute()
    errors = [o for c in nb.cells for o in c.get("outputs", []) if o.get("output_type") == "error"]
    assert errors == []
    text = _text(nb)
    assert "calling the app in-process" in text
    assert "The data URL and the query module agree on all 27 Member States." in text
    assert "refused:" in text and "XX" in text
    assert "permalink: /explore?" in text  # relative: the notebook sets no PACT_BASE_URL
    assert "27 Member States and the EU-27 row" in text  # the cross-table from the JSON data URL
    assert "synthetic sample: true" in text

"""A cheap structural check of pipelines/ (owid/etl's habit): every step reads load -> process -> save, is
documented, and none uses a pattern the project forbids."""

from __future__ import annotations

import ast
import importlib
import re
from pathlib import Path

import pytest

from pipelines.schema import TABLES
from pipelines.steps import STEPS
from pipelines.steps.reference import REFERENCE_TABLES

PACKAGE = Path(__file__).resolve().parents[1] / "pipelines"
OWN_MODULES = sorted(p for p in PACKAGE.rglob("*.py") if "sample" not in p.relative_to(PACKAGE).parts)
# Where money and counts are computed: exact integer / Decimal arithmetic only.
EXACT_MODULES = ("rules.py", "corrections.py", "normalise.py", "steps/facts.py", "steps/submissions.py")


@pytest.mark.parametrize("name", [name for name, _ in STEPS])
def test_each_step_reads_load_process_save(name):
    module = importlib.import_module(f"pipelines.steps.{name}")
    source = Path(module.__file__).read_text(encoding="utf-8")
    assert module.__doc__ and "In:" in module.__doc__ and "Out:" in module.__doc__, "docstring: what goes in and out"
    body = ast.get_source_segment(source, next(
        node for node in ast.parse(source).body if isinstance(node, ast.FunctionDef) and node.name == "run"))
    markers = [body.find(f"# {part}") for part in ("load", "process", "save")]
    assert all(m >= 0 for m in markers) and markers == sorted(markers), f"{name}.run is not load -> process -> save"
    assert "ctx.save(" in body.split("# save", 1)[1], f"{name}.run saves after '# save'"


def test_the_steps_save_every_curated_table_once():
    saved = []
    for name, _ in STEPS:
        source = Path(importlib.import_module(f"pipelines.steps.{name}").__file__).read_text(encoding="utf-8")
        saved += re.findall(r'ctx\.save\("([a-z_]+)"', source)
    saved += list(REFERENCE_TABLES)  # the reference step saves these in a loop
    assert sorted(saved) == sorted(TABLES)


@pytest.mark.parametrize("path", OWN_MODULES, ids=lambda p: p.relative_to(PACKAGE).as_posix())
def test_no_forbidden_patterns(path):
    source = path.read_text(encoding="utf-8")
    tree = ast.parse(source)
    rel = path.relative_to(PACKAGE).as_posix()
    assert ast.get_docstring(tree), f"{rel} has no module docstring"
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
            assert node.func.id != "print", f"{rel}:{node.lineno}: print (use logging)"
            if rel in EXACT_MODULES:
                assert node.func.id not in ("float", "round"), f"{rel}:{node.lineno}: float arithmetic on values"
        if isinstance(node, ast.keyword):
            assert node.arg != "inplace", f"{rel}:{node.lineno}: inplace= (transforms return new frames)"
    # raw files are opened read-only: no write modes anywhere outside the curated-side modules, and the sidecar
    # scaffold, which writes only a new <file>.source.yml draft beside an export (mode "x": never over a file)
    if rel not in ("snapshots.py", "runlog.py", "context.py", "scaffold.py"):
        assert not re.search(r"""open\([^)]*['"][wax]b?\+?['"]""", source), f"{rel} opens a file for writing"
        assert ".write_bytes(" not in source and ".write_text(" not in source, f"{rel} writes a file"


def test_every_document_the_code_cites_is_in_the_repository():
    """Code and tests cite their specification as docs/<name>.md: each must exist, and nothing outside the
    repository (DESIGN.md, PACT_FACTS.md) is cited."""
    repo = PACKAGE.parent
    sources = [p for folder in ("pipelines", "dashboard", "tests", "benchmarks")
               for p in (repo / folder).rglob("*.py")] + [repo / "README.md"]
    cited = set()
    for path in sources:
        text = path.read_text(encoding="utf-8")
        cited |= set(re.findall(r"docs/[\w-]+\.md", text))
        if path.name != "test_pipeline_structure.py":
            assert "DESIGN.md" not in text and "PACT_FACTS" not in text, path
    assert cited, "the code cites its documents"
    assert [c for c in sorted(cited) if not (repo / c).is_file()] == []
    # the documents link one another by relative name: every link lands
    for doc in (repo / "docs").glob("*.md"):
        linked = re.findall(r"\]\(([\w-]+\.md)\)", doc.read_text(encoding="utf-8"))
        assert [name for name in linked if not (doc.parent / name).is_file()] == [], doc.name

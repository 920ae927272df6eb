"""A cheap structural check of pipelines/ (owid/etl's habit): every step is documented, the steps in order save
every curated table once, and no module uses a pattern the project forbids."""

from __future__ import annotations

import ast
import importlib
import re
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pipelines.context import Context, Handoffs
from pipelines.finish import in_key_order, ordered_by, repeated_keys, to_table
from pipelines.readers import discover
from pipelines.schema import TABLES, Reject
from pipelines.steps import STEPS
from pipelines.steps.reference import ReferenceHandoff

PACKAGE = Path(__file__).resolve().parents[1] / "pipelines"
OWN_MODULES = sorted(p for p in PACKAGE.rglob("*.py") if "sample" not in p.relative_to(PACKAGE).parts)
# Where money and counts are computed: exact integer / Decimal arithmetic only.
EXACT_MODULES = ("rules.py", "corrections.py", "normalise.py", "steps/facts.py", "steps/submissions.py")


@pytest.mark.parametrize("name", [name for name, _ in STEPS])
def test_each_step_says_what_goes_in_and_out(name):
    doc = importlib.import_module(f"pipelines.steps.{name}").__doc__
    assert doc and "In:" in doc and "Out:" in doc, "docstring: what goes in and out"


def test_the_steps_in_order_save_every_curated_table_once(raw, tmp_path):
    """Run one by one over a small tree, each step saves something, and together they save every table once
    (a second save of a table, or a read before the step that saves it, raises in the context)."""
    out = tmp_path / "snapshot"
    out.mkdir()
    ctx = Context(raw_dir=raw.root, out_dir=out, files=discover(raw.root))
    saved: dict[str, list[str]] = {}
    for name, step in STEPS:
        before = set(ctx.tables)
        step(ctx)
        saved[name] = sorted(set(ctx.tables) - before)
        assert saved[name], f"{name} saved no table"
    assert sorted(t for tables in saved.values() for t in tables) == sorted(TABLES)
    assert sorted(p.stem for p in out.glob("*.parquet")) == sorted(TABLES)


def test_a_handoff_is_read_after_it_is_handed_on_and_only_once_handed():
    work = Handoffs()
    with pytest.raises(RuntimeError, match="step order"):
        work.get(ReferenceHandoff)
    work.put(ReferenceHandoff({"BE": "BE"}))
    assert work.get(ReferenceHandoff).country_lookup == {"BE": "BE"}
    with pytest.raises(RuntimeError, match="twice"):
        work.put(ReferenceHandoff({}))
    # the last step to read it takes it: the handoff is let go, and a later read is a step-order error
    assert work.take(ReferenceHandoff).country_lookup == {"BE": "BE"}
    with pytest.raises(RuntimeError, match="after the step that takes it"):
        work.get(ReferenceHandoff)


def test_a_reject_has_exactly_the_columns_of_the_rejects_table():
    reject = Reject("surveys/a.xlsx", "Content", 5, "Q1", "c-1", "12x", "not_a_number", "'12x' is not a number")
    assert list(reject.record()) == TABLES["rejects"][0].names


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
    """Code and tests cite their specification as docs/<name>.md, and any other document by its file name: each
    must be in the repository (a briefing kept outside it is not a specification a maintainer can read)."""
    repo = PACKAGE.parent
    sources = [p for folder in ("pipelines", "dashboard", "tests", "benchmarks")
               for p in (repo / folder).rglob("*.py")] + [repo / "README.md"]
    in_repo = {p.name for p in repo.rglob("*.md") if not {".venv", ".cache", ".tools"} & set(p.parts)}
    cited, named = set(), set()
    for path in sources:
        text = path.read_text(encoding="utf-8")
        cited |= set(re.findall(r"docs/[\w-]+\.md", text))
        named |= {(path.name, name) for name in re.findall(r"\b[A-Z][A-Z_]+\.md\b", text)}
    assert cited, "the code cites its documents"
    assert [c for c in sorted(cited) if not (repo / c).is_file()] == []
    assert [(where, name) for where, name in sorted(named) if name not in in_repo] == []
    # the documents link one another by relative name: every link lands
    for doc in (repo / "docs").glob("*.md"):
        linked = re.findall(r"\]\(([\w-]+\.md)\)", doc.read_text(encoding="utf-8"))
        assert [name for name in linked if not (doc.parent / name).is_file()] == [], doc.name


def test_a_curated_table_whose_key_repeats_is_refused_naming_the_key():
    members = {"member_id": ["PFS-2", "PFS-1", "PFS-2", "PFS-3", "PFS-3"], "ecosystem_id": ["a", "b", "a", "c", "d"],
               "is_primary": [True, True, False, True, False]}
    with pytest.raises(ValueError, match=r"key is not unique, e\.g\. \[\{'member_id': 'PFS-2', 'ecosystem_id': 'a'\}\]"):
        to_table("member_ecosystems", members)
    unique = {name: [*values[:2], values[3], values[4]] for name, values in members.items()}
    table = to_table("member_ecosystems", unique)
    assert table["member_id"].to_pylist() == ["PFS-1", "PFS-2", "PFS-3", "PFS-3"]
    assert repeated_keys(table, ("member_id",)) == [{"member_id": "PFS-3"}]


def test_a_table_is_in_key_order_only_when_each_key_is_greater_than_the_one_before():
    def table(years: list, members: list) -> pa.Table:
        return pa.table({"year": pa.array(years, pa.int16()), "member_id": pa.array(members, pa.string())})

    key = ("year", "member_id")
    assert in_key_order(table([2022, 2022, 2023], ["B", "C", "A"]), key)
    assert in_key_order(table([2022], ["B"]), key) and in_key_order(table([], []), key)
    assert not in_key_order(table([2022, 2022], ["B", "B"]), key)  # a tie: the other columns decide
    assert not in_key_order(table([2023, 2022], ["A", "B"]), key)
    assert not in_key_order(table([2022, 2022], ["B", None]), key)  # Arrow sorts a null last, whatever comes
    assert not in_key_order(table([2022, 2022], ["B", "C"]), ())  # no key: sorted on every column instead


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(["PFS-10", "PFS-9", "pfs-1", "É", ""]),
                          st.sampled_from(["people_trained", "investment_eur", "a"]),
                          st.integers(-3, 3)), max_size=30))
def test_ordering_by_ranks_is_arrows_stable_sort(rows):
    table = pa.table({"member_id": pa.array([r[0] for r in rows], pa.string()),
                      "indicator": pa.array([r[1] for r in rows], pa.string()),
                      "value": pa.array([r[2] for r in rows], pa.int64())})
    columns = ("member_id", "indicator")
    expected = table.take(pc.sort_indices(table, [(c, "ascending") for c in columns]))  # stable: ties keep order
    assert ordered_by(table, columns).equals(expected)


@settings(max_examples=100, deadline=None)
@given(st.permutations(range(8)))
def test_a_curated_table_is_the_same_whatever_order_its_rows_come_in(order):
    members = {"member_id": [f"PFS-{n // 2}" for n in range(8)], "ecosystem_id": [f"e{n % 2}" for n in range(8)],
               "is_primary": [n % 2 == 0 for n in range(8)]}
    shuffled = {name: [values[i] for i in order] for name, values in members.items()}
    assert to_table("member_ecosystems", shuffled).equals(to_table("member_ecosystems", members))

"""The raw trees the benchmarks ingest: the committed sample at 1x, generated and cached trees at 10x and 100x.

Writing 300,000 members as spreadsheets takes minutes, so each scaled tree is generated once and kept under
`benchmarks/.cache/` (gitignored), keyed by seed, scale and a hash of everything the generator's output depends
on (its own source, the contracts it writes against and the reference tables it copies). Changing the generator
invalidates the cache on the next run; nothing needs to be deleted by hand. A tree is generated into a temporary
directory and renamed into place only when complete, so an interrupted run never leaves a half tree behind.
"""

from __future__ import annotations

import hashlib
import importlib
import logging
import os
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

logger = logging.getLogger(__name__)

REPO = Path(__file__).resolve().parent.parent
DEFAULT_CACHE = REPO / "benchmarks" / ".cache"
COMMITTED_RAW = REPO / "data" / "raw"

# Files whose content decides what the generator writes.
_GENERATOR_INPUTS = ("pipelines/sample", "pipelines/schema.py", "pipelines/sidecar.py", "data/raw/reference")


@dataclass(frozen=True)
class RawTree:
    scale: int
    seed: int | None
    path: Path
    generated: bool  # False for the committed sample
    generate_seconds: float | None  # None when it came from the cache or the repository


def generator_available() -> bool:
    try:
        importlib.import_module("pipelines.sample.__main__")
    except ImportError:
        return False
    return True


def default_seed() -> int | None:
    """The seed the committed sample was generated with, when the generator says so."""
    for module_name in ("pipelines.sample.generate", "pipelines.sample"):
        try:
            module = importlib.import_module(module_name)
        except ImportError:
            continue
        for name in ("DEFAULT_SEED", "SEED"):
            value = getattr(module, name, None)
            if isinstance(value, int):
                return value
    return None


def generator_hash() -> str:
    digest = hashlib.sha256()
    for rel in _GENERATOR_INPUTS:
        root = REPO / rel
        files = [root] if root.is_file() else sorted(p for p in root.rglob("*") if p.is_file())
        for path in files:
            if "__pycache__" in path.parts or path.name.endswith(".source.yml.bak"):
                continue
            digest.update(path.relative_to(REPO).as_posix().encode())
            digest.update(b"\0")
            digest.update(path.read_bytes())
            digest.update(b"\0")
    return digest.hexdigest()[:16]


def _is_complete(tree: Path) -> bool:
    return (tree / ".complete").is_file()


def raw_tree(scale: int, *, cache_dir: Path = DEFAULT_CACHE, seed: int | None = None) -> RawTree:
    """The raw tree at `scale`: the committed `data/raw/` at 1x, otherwise generated once and cached."""
    if scale == 1 and seed is None and (COMMITTED_RAW / "surveys").is_dir():
        return RawTree(1, default_seed(), COMMITTED_RAW, generated=False, generate_seconds=None)
    if not generator_available():
        raise RuntimeError(
            f"scale {scale}x needs the sample generator (python -m pipelines.sample), which is not in this tree yet"
        )
    seed = default_seed() if seed is None else seed
    seed_arg = 0 if seed is None else seed
    key = f"raw-seed{seed_arg}-x{scale}-{generator_hash()}"
    target = cache_dir / key
    if _is_complete(target):
        logger.info("raw tree %dx: cached at %s", scale, target)
        return RawTree(scale, seed_arg, target / "raw", generated=True, generate_seconds=None)
    cache_dir.mkdir(parents=True, exist_ok=True)
    _drop_stale(cache_dir, scale, keep=key)
    work = cache_dir / f".tmp-{key}-{os.getpid()}"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    logger.info("raw tree %dx: generating (seed %d) into %s — minutes at 100x, once", scale, seed_arg, target)
    start = time.perf_counter()
    cmd = [
        sys.executable, "-m", "pipelines.sample", "--seed", str(seed_arg), "--scale", str(scale),
        "--out", str(work / "raw"), "--truth", str(work / "truth"),
    ]
    completed = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, check=False)
    if completed.returncode != 0:
        shutil.rmtree(work, ignore_errors=True)
        raise RuntimeError(f"generator failed ({' '.join(cmd)}):\n{completed.stderr[-4000:]}")
    seconds = time.perf_counter() - start
    (work / ".complete").write_text(f"{seconds:.1f}\n")
    shutil.rmtree(target, ignore_errors=True)
    work.rename(target)
    logger.info("raw tree %dx: generated in %.1f s", scale, seconds)
    return RawTree(scale, seed_arg, target / "raw", generated=True, generate_seconds=seconds)


def _drop_stale(cache_dir: Path, scale: int, keep: str) -> None:
    """Trees of the same scale from an older generator are dead weight (hundreds of MB at 100x)."""
    for old in cache_dir.glob(f"raw-seed*-x{scale}-*"):
        if old.name != keep:
            logger.info("dropping stale cached tree %s", old.name)
            shutil.rmtree(old, ignore_errors=True)


def tree_size(tree: Path) -> dict[str, int]:
    """Files and bytes of the data files (sidecars excluded) in a raw tree."""
    files = [p for p in tree.rglob("*") if p.is_file() and not p.name.endswith(".source.yml")]
    return {"files": len(files), "bytes": sum(p.stat().st_size for p in files)}

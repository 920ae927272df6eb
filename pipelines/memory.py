"""How a pipeline run uses memory while its steps run, and the C library's allocator for whoever else tunes it.

`steps_memory()` is what the runner wraps the steps in, and what the benchmarks' parse floor runs under so that it
pays no more than ingest must: the garbage collector paused, Arrow's buffers from malloc, malloc keeping what is
freed. Each setting is restored afterwards, also after a failure. `glibc_mallopt()` is the one way in to glibc's
malloc settings (the dashboard's workers cap their arenas with it).
"""

from __future__ import annotations

import contextlib
import ctypes
import gc
import platform
from collections.abc import Callable, Iterator
from typing import cast

import pyarrow as pa


@contextlib.contextmanager
def gc_paused() -> Iterator[None]:
    """CPython's cyclic garbage collector off while the steps run, back on (if it was) afterwards.

    The steps hold millions of small live objects (cells, records) until the snapshot is written, and every full
    collection walks all of them: at 100x the sample that was 35 full collections, about a fifth of the run
    (55 s with, 46 s without, benchmarks/), to free 66 objects. Peak memory is the same either way. Reference
    counting still frees everything that is not in a cycle.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


@contextlib.contextmanager
def system_memory_pool() -> Iterator[None]:
    """Arrow's buffers allocated with the C library's malloc while the steps run, then its default pool again.

    pyarrow's default pool (mimalloc) hands out fresh memory backed by transparent huge pages where the kernel
    allows them, and zeroes each 2 MB page as it is first touched; building a run's many short-lived columns from
    Python lists, that was 2.1 s of system time at 100x the sample (3.8 s in all, 1.6 s with malloc), with the
    same user time and a lower peak. A buffer is freed by the pool that allocated it, so switching back is safe."""
    previous = pa.default_memory_pool()
    pa.set_memory_pool(pa.system_memory_pool())
    try:
        yield
    finally:
        pa.set_memory_pool(previous)


# glibc's mallopt parameters, and the values its documentation gives as their defaults
_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3
_GLIBC_DEFAULT_THRESHOLD = 128 * 1024
_KEPT_HEAP = 1 << 30


@contextlib.contextmanager
def freed_memory_kept() -> Iterator[None]:
    """glibc's malloc serves large blocks from its heap, and keeps what is freed there for the next ones, while the
    steps run; its default thresholds are set again afterwards.

    By default each block over a threshold is mapped fresh from the kernel and given back when freed, and every
    page of it costs a fault, the kernel zeroing it, when first touched: a run reads sheet after sheet into
    blocks of that size (calamine's cells, Arrow's columns). At 100x the sample: 950,000 faults and 1.8 s of
    system time, against 540,000 and 1.0 s, with the same peak RSS (about 1.6 GB). glibc stops adapting its
    threshold once one is set, so a process that goes on after a run keeps the default threshold from then on.
    Nothing is changed where the C library is not glibc."""
    mallopt = glibc_mallopt()
    if mallopt is None:
        yield
        return
    mallopt(_M_MMAP_THRESHOLD, _KEPT_HEAP)
    mallopt(_M_TRIM_THRESHOLD, _KEPT_HEAP)
    try:
        yield
    finally:
        mallopt(_M_MMAP_THRESHOLD, _GLIBC_DEFAULT_THRESHOLD)
        mallopt(_M_TRIM_THRESHOLD, _GLIBC_DEFAULT_THRESHOLD)


def glibc_mallopt() -> Callable[[int, int], int] | None:
    """glibc's `mallopt(parameter, value)`, which returns 1 when the setting is taken; None with another C
    library (musl, macOS, Windows), which has no such settings."""
    if platform.libc_ver()[0] != "glibc":
        return None
    try:
        return cast(Callable[[int, int], int], ctypes.CDLL(None).mallopt)
    except (OSError, AttributeError):
        return None


@contextlib.contextmanager
def steps_memory() -> Iterator[None]:
    """The three settings above, for the time the steps run."""
    with gc_paused(), system_memory_pool(), freed_memory_kept():
        yield

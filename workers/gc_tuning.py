"""Garbage-collector and allocator settings for a long-running worker.

A chunk job allocates a few hundred thousand short-lived containers (rendered prompts, rows,
parsed results). With CPython's default thresholds every full collection also walks every object
the worker loaded at start-up (the engine, torch, SQLAlchemy, pydantic schemas): in the pipeline
benchmark's in-process chunk job, turning the collector off made it 10-20% faster. Freezing the start-up objects
takes them out of every later collection, and a larger first-generation threshold makes young
collections rarer; cyclic garbage is still collected, a little later.

glibc's allocator gives freed memory back to the kernel eagerly (arrays above its mmap threshold are
unmapped when freed, and the heap's top is trimmed past 128 KB), so the summary's bootstraps, which
allocate and free arrays of half a megabyte over and over, fault fresh pages in each time: with the
allocator keeping freed memory (``keep_freed_memory``) the summary of the benchmark's 10,000 items took
0.21-0.22 s against 0.23-0.26 s. The price is that a worker's resident memory stays at its peak. A worker
with an in-process vLLM engine leaves the allocator as it is: one ``bench/overhead.py`` run gave 0.91 with it
and 1.01 without (the bare engine itself drifted by 10% within each run: not enough to tell, so not risked).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import gc

# objects allocated (net) before a young collection; CPython's default is 700
YOUNG_THRESHOLD = 20_000


# glibc mallopt parameters, and what keep_freed_memory sets them to
M_TRIM_THRESHOLD, M_TOP_PAD, M_MMAP_THRESHOLD = -1, -2, -3
KEPT_MEMORY = ((M_MMAP_THRESHOLD, 32 * 2**20), (M_TRIM_THRESHOLD, 128 * 2**20), (M_TOP_PAD, 16 * 2**20))


def tune_for_worker(keep_memory: bool = True) -> None:
    """Freeze what start-up loaded, make young collections rarer and (``keep_memory``) keep freed memory (call once
    the engine is built)."""
    gc.collect()
    gc.freeze()
    _, middle, old = gc.get_threshold()
    gc.set_threshold(YOUNG_THRESHOLD, middle, old)
    if keep_memory:
        keep_freed_memory()


def keep_freed_memory() -> bool:
    """Make glibc's allocator keep freed memory for reuse (mmap threshold 32 MB, trim threshold 128 MB);
    False where the C library has no ``mallopt`` (not glibc) or refuses a value."""
    try:
        mallopt = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6").mallopt
    except (OSError, AttributeError):
        return False
    return all(mallopt(option, value) == 1 for option, value in KEPT_MEMORY)

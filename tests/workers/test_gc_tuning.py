"""The worker's garbage-collector settings."""

from __future__ import annotations

import gc

from workers.gc_tuning import YOUNG_THRESHOLD, tune_for_worker


def test_start_up_objects_are_frozen_and_young_collections_are_rarer():
    before = gc.get_threshold()
    try:
        tune_for_worker()
        assert gc.get_threshold() == (YOUNG_THRESHOLD, *before[1:])
        assert gc.get_freeze_count() > 0
        assert gc.isenabled()  # cyclic garbage is still collected
    finally:
        gc.unfreeze()
        gc.set_threshold(*before)


def test_glibc_keeps_freed_memory_in_a_worker_and_other_c_libraries_are_left_alone(monkeypatch):
    import platform
    import subprocess
    import sys

    from workers import gc_tuning

    if platform.libc_ver()[0] == "glibc":  # every value accepted (a refused one, e.g. past glibc's limits, is False)
        probe = "from workers.gc_tuning import keep_freed_memory; print(keep_freed_memory())"
        assert subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                              check=True).stdout.strip() == "True"

    def no_c_library(name):
        raise OSError("no such library")

    monkeypatch.setattr(gc_tuning.ctypes, "CDLL", no_c_library)
    assert gc_tuning.keep_freed_memory() is False


def test_a_worker_with_an_in_process_vllm_engine_leaves_the_allocator_alone(monkeypatch):
    from workers import gc_tuning

    kept = []
    monkeypatch.setattr(gc_tuning, "keep_freed_memory", lambda: kept.append(True) or True)
    before = gc.get_threshold()
    try:
        gc_tuning.tune_for_worker(keep_memory=False)
        assert kept == []
        gc_tuning.tune_for_worker()
        assert kept == [True]
    finally:
        gc.unfreeze()
        gc.set_threshold(*before)

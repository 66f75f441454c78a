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

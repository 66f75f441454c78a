"""Rank ranges that follow from confidence intervals: which ranks a model could hold given the others' intervals.

A model's best possible rank is 1 + the number of models whose interval lies entirely above its own; its
worst possible rank is the number of models (itself included) whose interval does not lie entirely below
its own. Overlapping intervals therefore share ranks: three models with identical intervals are each
ranked 1–3, not 1, 2, 3. Intervals that merely touch overlap.
"""

from __future__ import annotations

from collections.abc import Sequence

Interval = tuple[float, float]


def rank_ranges(intervals: Sequence[Interval | None]) -> list[tuple[int, int] | None]:
    """(best, worst) possible rank of each model, higher values ranking first; None where a model has no interval.

    Models without an interval take no part: the ranks run over the models that have one.
    """
    known = [interval for interval in intervals if interval is not None]
    for low, high in known:
        if not low <= high:
            raise ValueError(f"an interval runs from its low to its high end, not [{low}, {high}]")
    ranges: list[tuple[int, int] | None] = []
    for interval in intervals:
        if interval is None:
            ranges.append(None)
            continue
        low, high = interval
        above = sum(1 for other_low, _ in known if other_low > high)
        below = sum(1 for _, other_high in known if other_high < low)
        ranges.append((1 + above, len(known) - below))
    return ranges

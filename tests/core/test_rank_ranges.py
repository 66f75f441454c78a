"""Rank ranges from intervals: best = 1 + intervals entirely above, worst = intervals not entirely below."""

from __future__ import annotations

import math

import pytest

from service.core.rank_ranges import rank_ranges

CASES = {
    "three identical intervals share ranks 1-3": (
        [(0.4, 0.6), (0.4, 0.6), (0.4, 0.6)], [(1, 3), (1, 3), (1, 3)]),
    "separated intervals give exact ranks": (
        [(0.7, 0.9), (0.4, 0.6), (0.1, 0.3)], [(1, 1), (2, 2), (3, 3)]),
    "order of the input does not matter": (
        [(0.1, 0.3), (0.7, 0.9), (0.4, 0.6)], [(3, 3), (1, 1), (2, 2)]),
    "a chain of overlaps": (  # a overlaps b, b overlaps c, a is entirely above c
        [(0.5, 0.9), (0.3, 0.6), (0.1, 0.4)], [(1, 2), (1, 3), (2, 3)]),
    "touching ends overlap": ([(0.5, 0.7), (0.3, 0.5)], [(1, 2), (1, 2)]),
    "a wide interval spans every rank": (
        [(0.0, 1.0), (0.8, 0.9), (0.1, 0.2)], [(1, 3), (1, 2), (2, 3)]),
    "one model": ([(0.2, 0.4)], [(1, 1)]),
    "no models": ([], []),
    "a model without an interval takes no part": (
        [(0.7, 0.9), None, (0.1, 0.3)], [(1, 1), None, (2, 2)]),
    "degenerate point intervals": ([(0.5, 0.5), (0.5, 0.5), (0.4, 0.4)], [(1, 2), (1, 2), (3, 3)]),
    "Elo-scale intervals": (
        [(1050.0, 1150.0), (980.0, 1060.0), (1000.0, 1000.0), (700.0, 850.0)],
        [(1, 2), (1, 3), (2, 3), (4, 4)]),
    "infinite ends": ([(-math.inf, 0.0), (0.5, math.inf)], [(2, 2), (1, 1)]),
}


@pytest.mark.parametrize("intervals, expected", CASES.values(), ids=list(CASES))
def test_rank_ranges(intervals, expected):
    assert rank_ranges(intervals) == expected


@pytest.mark.parametrize("bad", [(0.6, 0.4), (math.nan, 0.5)])
def test_an_interval_whose_ends_are_out_of_order_is_refused(bad):
    with pytest.raises(ValueError, match="low to its high"):
        rank_ranges([(0.1, 0.2), bad])

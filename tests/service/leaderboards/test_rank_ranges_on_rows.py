"""Leaderboard rows get rank ranges at read time from the intervals of what ranks them."""

from __future__ import annotations

import pytest

from service.leaderboards.service import with_rank_ranges


def row(model, rank, ci95, elo_ci95=None):
    return {"model": model, "rank": rank, "ci95": ci95, "elo_ci95": elo_ci95}


CASES = {
    "by Elo when every ranked row has a finite Elo interval": (
        [row("a", 1, [0.6, 0.7], [1100, 1200]), row("b", 2, [0.5, 0.8], [1000, 1050]), row("c", 3, [0.1, 0.2], [990, 1010])],
        [(1, 1), (2, 3), (2, 3)]),
    "by the metric when an Elo interval is missing or infinite": (
        [row("a", 1, [0.6, 0.7], [1100, 1200]), row("b", 2, [0.5, 0.8], [None, None]), row("c", 3, [0.1, 0.2])],
        [(1, 2), (1, 2), (3, 3)]),
    "three identical intervals": (
        [row(m, i + 1, [0.4, 0.6]) for i, m in enumerate("abc")], [(1, 3), (1, 3), (1, 3)]),
    "unranked rows (every run) get none": (
        [row("a", None, [0.6, 0.7]), row("a", None, [0.1, 0.2])], [(None, None), (None, None)]),
    "a ranked row without an interval": (
        [row("a", 1, [0.6, 0.7]), row("b", 2, None), row("c", 3, [0.1, 0.2])], [(1, 1), (None, None), (2, 2)]),
}


@pytest.mark.parametrize("rows, expected", CASES.values(), ids=list(CASES))
def test_rank_ranges_on_rows(rows, expected):
    out = with_rank_ranges(rows)
    assert [(r["rank_best"], r["rank_worst"]) for r in out] == expected
    assert all("rank_best" not in r for r in rows), "the stored rows are not changed"
    assert [{k: v for k, v in r.items() if k not in ("rank_best", "rank_worst")} for r in out] == rows

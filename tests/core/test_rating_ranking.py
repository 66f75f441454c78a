"""Rating-vs-ranking consistency: implied preferences, the 3×3 matrix, agreement with its interval and κ."""

from __future__ import annotations

import math

import pytest

from service.core.rating_ranking import TIE, X, Y, PairedJudgments, consistency, ranking_preference


@pytest.mark.parametrize(("score_x", "score_y", "implied"), [(8, 6, X), (6, 8, Y), (7, 7, TIE), (7.5, 7.4, X)])
def test_the_higher_rating_wins_and_equal_ratings_tie(score_x, score_y, implied):
    assert PairedJudgments("q", score_x, score_y, X).from_scores == implied


@pytest.mark.parametrize(("outcome", "expected"), [("a", X), ("b", Y), ("tie", TIE), (None, None), ("A>>B", None)])
def test_ranking_outcomes(outcome, expected):
    assert ranking_preference(outcome, "a", "b", "tie") == expected


def pairs(rows):
    return [PairedJudgments(f"q{i}", sx, sy, k) for i, (sx, sy, k) in enumerate(rows)]


def test_a_worked_example():
    # ratings imply X, X, Y, tie, X, Y; rankings say X, Y, Y, X, X, tie
    report = consistency(pairs([(8, 6, X), (9, 7, Y), (3, 5, Y), (5, 5, X), (7, 2, X), (4, 6, TIE)]))
    assert report["n_items"] == 6 and report["n_agree"] == 3 and report["agreement_rate"] == 0.5
    assert report["disagreement_rate"] == 0.5
    assert report["matrix"] == {X: {X: 2, TIE: 0, Y: 1}, TIE: {X: 1, TIE: 0, Y: 0}, Y: {X: 0, TIE: 1, Y: 1}}
    # κ by hand: po = 3/6; ratings X 3/6, tie 1/6, Y 2/6; rankings X 3/6, tie 1/6, Y 2/6
    pe = (3 / 6) * (3 / 6) + (1 / 6) * (1 / 6) + (2 / 6) * (2 / 6)
    assert math.isclose(report["cohen_kappa"], (0.5 - pe) / (1 - pe))
    low, high = report["agreement_rate_ci95"]
    z = 1.959963984540054  # Wilson score interval, closed form
    centre = (0.5 + z * z / 12) / (1 + z * z / 6)
    half = z / (1 + z * z / 6) * math.sqrt(0.25 / 6 + z * z / 144)
    assert math.isclose(low, centre - half, rel_tol=1e-9) and math.isclose(high, centre + half, rel_tol=1e-9)
    assert [d["item_id"] for d in report["disagreements"]] == ["q1", "q3", "q5"]
    assert report["disagreements"][1] == {"item_id": "q3", "score_x": 5, "score_y": 5, "from_scores": TIE,
                                          "from_comparison": X}
    assert report["ties"] == {"from_scores": 1, "from_comparison": 1}


def test_full_agreement_and_nothing_shared():
    report = consistency(pairs([(8, 6, X), (3, 5, Y), (5, 5, TIE)]))
    assert report["agreement_rate"] == 1.0 and report["cohen_kappa"] == 1.0 and report["disagreements"] == []
    empty = consistency([])
    assert empty["agreement_rate"] is None and empty["agreement_rate_ci95"] is None and empty["cohen_kappa"] is None

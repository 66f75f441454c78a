"""Bradley–Terry ranking: golden scores from real data, small exact cases, Elo scale, bootstrap."""

import csv
import math
from pathlib import Path

import pytest

from service.core.ranking import ELO_PER_LOG_STRENGTH, bootstrap_elo_intervals, bradley_terry, elo_scores

BT_DATA = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "bradley-terry"
WINNER_SCORE = {"left": 1.0, "right": 0.0, "tie": 0.5}


def llmfao_battles() -> list[tuple[str, str, float]]:
    with open(BT_DATA / "llmfao.csv", newline="", encoding="utf-8") as handle:
        return [(row["left"], row["right"], WINNER_SCORE[row["winner"]]) for row in csv.DictReader(handle)]


def golden_scores(algorithm: str) -> dict[str, float]:
    with open(BT_DATA / "llmfao-golden.csv", newline="", encoding="utf-8") as handle:
        return {row["item"]: float(row["score"]) for row in csv.DictReader(handle) if row["algorithm"] == algorithm}


@pytest.mark.skipif(not BT_DATA.is_dir(), reason=f"shared Bradley–Terry data not found at {BT_DATA}")
def test_reproduces_golden_bradley_terry_scores():
    expected = golden_scores("bradley_terry")
    strengths = bradley_terry(llmfao_battles())
    assert len(expected) == 59
    assert set(strengths) == set(expected)
    assert sum(strengths.values()) == pytest.approx(1.0, abs=1e-12)
    for model, score in expected.items():
        assert strengths[model] == pytest.approx(score, abs=1e-6), model


@pytest.mark.parametrize(
    "battles, expected_ratio",
    [
        # symmetric records: equal strengths
        ([("a", "b", 1.0), ("b", "a", 1.0)], 1.0),
        ([("a", "b", 1.0), ("a", "b", 0.0), ("a", "b", 0.5)], 1.0),
        # 3 wins to 1: ratio 3
        ([("a", "b", 1.0)] * 3 + [("a", "b", 0.0)], 3.0),
        ([("a", "b", 1.0)] * 3 + [("b", "a", 1.0)], 3.0),
        # a tie is half a win each: 2 wins + 2 ties vs 0 wins + 2 ties -> 3 : 1
        ([("a", "b", 1.0)] * 2 + [("a", "b", 0.5)] * 2, 3.0),
        # two ties alone: equal
        ([("a", "b", 0.5), ("b", "a", 0.5)], 1.0),
        # soft credit 0.75 per game is the same as a 3:1 record
        ([("a", "b", 0.75)] * 4, 3.0),
    ],
)
def test_two_model_ratios(battles, expected_ratio):
    strengths = bradley_terry(battles)
    assert strengths["a"] / strengths["b"] == pytest.approx(expected_ratio, rel=1e-9)
    assert sum(strengths.values()) == pytest.approx(1.0)


def test_three_model_cycle_is_symmetric():
    strengths = bradley_terry([("a", "b", 1.0), ("b", "c", 1.0), ("c", "a", 1.0)])
    assert all(value == pytest.approx(1 / 3) for value in strengths.values())


def test_model_without_win_credit_gets_zero_strength():
    loser = bradley_terry([("a", "b", 1.0), ("a", "c", 0.5), ("c", "b", 1.0)])
    assert loser["b"] == 0.0
    assert elo_scores(loser, anchor="a")["b"] == -math.inf


@pytest.mark.parametrize(
    "weighted, repeated",
    [
        # a battle of weight 3 is three battles (Arena-Hard's strong verdict)
        ([("a", "b", 1.0, 3.0), ("a", "b", 0.0)], [("a", "b", 1.0)] * 3 + [("a", "b", 0.0)]),
        ([("a", "b", 1.0, 3.0), ("b", "a", 1.0, 1.0)], [("a", "b", 1.0)] * 3 + [("b", "a", 1.0)]),
        # a strong loss weighs as much as a strong win
        ([("a", "b", 1.0, 3.0), ("a", "b", 0.0, 3.0), ("a", "b", 1.0)], [("a", "b", 1.0)] * 4 + [("a", "b", 0.0)] * 3),
        # fractional weights (probability-averaged strength) and soft scores; the repeated list doubles every
        # count, which leaves the maximum-likelihood strengths unchanged
        ([("a", "b", 0.75, 2.0), ("a", "c", 0.5, 1.5), ("b", "c", 1.0)],
         [("a", "b", 0.75)] * 4 + [("a", "c", 0.5)] * 3 + [("b", "c", 1.0)] * 2),
    ],
)
def test_a_weighted_battle_counts_as_that_many_battles(weighted, repeated):
    assert bradley_terry(weighted) == pytest.approx(bradley_terry(repeated), rel=1e-9)


def test_the_strong_weight_changes_a_ranking():
    # a: one strong win and two slight losses against c; b: two slight wins and one strong loss against c
    a_vs_c = [("a", "c", 1.0, 3.0), ("a", "c", 0.0), ("a", "c", 0.0)]
    b_vs_c = [("b", "c", 1.0), ("b", "c", 1.0), ("b", "c", 0.0, 3.0)]
    weighted = bradley_terry(a_vs_c + b_vs_c)
    assert weighted["a"] > weighted["c"] > weighted["b"]
    unweighted = bradley_terry([battle[:3] for battle in a_vs_c + b_vs_c])
    assert unweighted["b"] > unweighted["c"] > unweighted["a"]
    intervals = bootstrap_elo_intervals(a_vs_c + b_vs_c, anchor="c", n_resamples=50, seed=1)
    assert set(intervals) == {"a", "b", "c"}


@pytest.mark.parametrize("battles", [[("a", "a", 1.0)], [("a", "b", 1.5)], [("a", "b", -0.1)], [("a", "b", 1.0, 0.0)],
                                     [("a", "b", 1.0, -2.0)], [("a", "b", 1.0, math.inf)]])
def test_invalid_battles_raise(battles):
    with pytest.raises(ValueError):
        bradley_terry(battles)


def test_empty_input():
    assert bradley_terry([]) == {}
    assert elo_scores({}) == {}
    assert bootstrap_elo_intervals([]) == {}


def test_elo_anchor_and_scale():
    strengths = {"a": 0.75, "b": 0.25}
    anchored = elo_scores(strengths, anchor="b", anchor_rating=1200.0)
    assert anchored["b"] == 1200.0
    assert anchored["a"] - anchored["b"] == pytest.approx(400 * math.log10(3))
    assert ELO_PER_LOG_STRENGTH == pytest.approx(400 / math.log(10))
    centred = elo_scores(strengths)
    assert (centred["a"] + centred["b"]) / 2 == pytest.approx(1000.0)
    assert centred["a"] - centred["b"] == pytest.approx(anchored["a"] - anchored["b"])
    with pytest.raises(ValueError):
        elo_scores(strengths, anchor="missing")


BOOTSTRAP_BATTLES = (
    [("a", "b", 1.0)] * 12 + [("a", "b", 0.0)] * 4 + [("b", "c", 1.0)] * 9 + [("c", "b", 1.0)] * 5
    + [("a", "c", 1.0)] * 10 + [("a", "c", 0.5)] * 4 + [("c", "a", 1.0)] * 3
)


def test_bootstrap_is_seeded_and_contains_point_estimate():
    first = bootstrap_elo_intervals(BOOTSTRAP_BATTLES, anchor="b", n_resamples=300, seed=11)
    assert first == bootstrap_elo_intervals(BOOTSTRAP_BATTLES, anchor="b", n_resamples=300, seed=11)
    assert first != bootstrap_elo_intervals(BOOTSTRAP_BATTLES, anchor="b", n_resamples=300, seed=12)
    point = elo_scores(bradley_terry(BOOTSTRAP_BATTLES), anchor="b")
    assert first["b"] == (1000.0, 1000.0)
    for model in ("a", "c"):
        low, high = first[model]
        assert low < point[model] < high
    assert first["a"][0] > 1000.0  # a beats b 3:1 over 16 games


@pytest.mark.skipif(not BT_DATA.is_dir(), reason=f"shared Bradley–Terry data not found at {BT_DATA}")
def test_bootstrap_on_real_data_contains_point_estimates():
    battles = llmfao_battles()
    point = elo_scores(bradley_terry(battles), anchor="GPT 3.5 Turbo")
    intervals = bootstrap_elo_intervals(battles, anchor="GPT 3.5 Turbo", n_resamples=60, seed=0)
    inside = sum(low <= point[model] <= high for model, (low, high) in intervals.items())
    assert inside == len(point)

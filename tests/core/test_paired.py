"""Paired regression gate: exact McNemar, exact and Monte Carlo sign-flip tests, decisions."""

import itertools
from fractions import Fraction

import numpy as np
import pytest
from scipy import stats

from service.core.paired import PairedComparison, mcnemar_exact, paired_difference, sign_flip_p_value


def as_items(values) -> dict[str, float]:
    return {f"item-{i}": float(value) for i, value in enumerate(values)}


@pytest.mark.parametrize("metric_kind", ["binary", "continuous"])
def test_identical_evaluations_pass(metric_kind):
    rng = np.random.default_rng(0)
    scores = rng.integers(0, 2, 40) if metric_kind == "binary" else rng.random(40)
    result = paired_difference(as_items(scores), as_items(scores), metric_kind=metric_kind)
    assert result.difference == 0.0
    assert result.p_value == 1.0
    assert result.interval == (0.0, 0.0)
    assert result.decision == "pass"
    assert result.n_shared == 40


@pytest.mark.parametrize("metric_kind", ["binary", "continuous"])
def test_clearly_worse_candidate_fails(metric_kind):
    rng = np.random.default_rng(1)
    if metric_kind == "binary":
        baseline = (rng.random(200) < 0.8).astype(float)
        candidate = baseline * (rng.random(200) < 0.6)
    else:
        baseline = rng.random(200)
        candidate = np.clip(baseline - 0.2 + rng.normal(0, 0.05, 200), 0, 1)
    result = paired_difference(as_items(baseline), as_items(candidate), metric_kind=metric_kind, margin=0.05)
    assert result.difference < -0.15
    assert result.interval[1] < -0.05
    assert result.p_value < 1e-3  # Monte Carlo floor is 1 / 10001
    assert result.decision == "fail"


@pytest.mark.parametrize(("rule", "decision"), [("bound", "pass"), ("bound_or_significant", "fail")])
def test_a_significant_drop_whose_bound_stays_within_the_margin_fails_only_the_stricter_rule(rule, decision):
    """Mean drop 0.03 with standard error 0.01 over 200 items, margin 0.02: the one-sided 95% upper bound
    (about -0.014) is above -margin, but the drop is beyond the margin and p is about 0.003."""
    baseline = np.full(200, 0.5)
    candidate = baseline - 0.03 + np.where(np.arange(200) % 2 == 0, 0.1414, -0.1414)
    result = paired_difference(as_items(baseline), as_items(candidate), margin=0.02, alpha=0.05,
                               confidence=0.9, rule=rule)
    assert result.difference == pytest.approx(-0.03) and -0.02 < result.interval[1] < -0.005
    assert result.p_value < 0.05 and result.decision == decision


def test_an_unknown_decision_rule_is_refused():
    with pytest.raises(ValueError, match="rule must be one of"):
        paired_difference(as_items([0.5, 0.6]), as_items([0.5, 0.4]), rule="vibes")


def test_better_candidate_and_small_drop_within_margin_pass():
    rng = np.random.default_rng(2)
    baseline = rng.random(300)
    better = paired_difference(as_items(baseline), as_items(np.clip(baseline + 0.1, 0, 1)))
    assert better.difference > 0 and better.decision == "pass"
    slightly_worse = paired_difference(as_items(baseline), as_items(baseline - 0.01), margin=0.05)
    assert slightly_worse.p_value < 0.05 and slightly_worse.decision == "pass"


@pytest.mark.parametrize("only_baseline, only_candidate, both", [(10, 2, 30), (3, 3, 5), (0, 7, 1), (25, 11, 60)])
def test_mcnemar_matches_binomial_test_on_discordant_pairs(only_baseline, only_candidate, both):
    baseline = [1] * only_baseline + [0] * only_candidate + [1] * both + [0] * 4
    candidate = [0] * only_baseline + [1] * only_candidate + [1] * both + [0] * 4
    expected = stats.binomtest(only_candidate, only_baseline + only_candidate, 0.5).pvalue
    result = paired_difference(as_items(baseline), as_items(candidate), metric_kind="binary")
    assert result.p_value == pytest.approx(expected, rel=1e-12)
    assert result.test == "mcnemar_exact"
    assert mcnemar_exact(np.array(baseline, float), np.array(candidate, float)) == pytest.approx(expected)


def brute_force_sign_flip(differences: list[float]) -> float:
    observed = abs(sum(differences))
    patterns = list(itertools.product((1, -1), repeat=len(differences)))
    hits = sum(abs(sum(s * d for s, d in zip(signs, differences))) >= observed - 1e-12 for signs in patterns)
    return hits / len(patterns)


@pytest.mark.parametrize("seed, n", [(3, 5), (4, 8), (5, 12), (6, 16)])
def test_sign_flip_is_exact_for_small_n(seed, n):
    rng = np.random.default_rng(seed)
    baseline, candidate = rng.random(n), rng.random(n) - 0.15
    differences = candidate - baseline
    result = paired_difference(as_items(baseline), as_items(candidate))
    assert result.test == "sign_flip_exact"
    assert result.p_value == pytest.approx(brute_force_sign_flip(list(differences)), abs=1e-12)


def test_sign_flip_ties_in_the_statistic_are_counted():
    # |sum| of +-1 +-1 +-1 +-1 equals 4 for two of sixteen patterns
    assert sign_flip_p_value(np.array([1.0, 1.0, 1.0, 1.0])) == (2 / 16, True)
    assert sign_flip_p_value(np.array([0.0, 0.0])) == (1.0, True)


def test_a_single_non_zero_difference_gives_p_one():
    assert sign_flip_p_value(np.array([0.0, -0.2, 0.0])) == (1.0, True)


@pytest.mark.parametrize("differences", [[0.1, 0.2, -0.3, 0.1, 0.2, -0.3], [1 / 3, 1 / 3, -2 / 3, 0.7, -0.1, -0.6]])
def test_sign_flip_counts_patterns_tied_up_to_round_off(differences):
    """The observed sum is 0 in exact arithmetic but not in floating point: every pattern reaches it."""
    assert sign_flip_p_value(np.array(differences)) == (1.0, True)


def exact_sign_flip(differences: list[float]) -> Fraction:
    exact = [Fraction(d) for d in differences]
    observed = abs(sum(exact))
    patterns = list(itertools.product((1, -1), repeat=len(exact)))
    return Fraction(sum(abs(sum(s * d for s, d in zip(signs, exact))) >= observed for signs in patterns), len(patterns))


@pytest.mark.parametrize("scale", [1e-6, 1.0, 1e6])
def test_exact_sign_flip_matches_rational_arithmetic_at_any_scale(scale):
    rng = np.random.default_rng(11)
    for n in (6, 9, 12):
        differences = rng.normal(0.2 * scale, scale, n)
        assert sign_flip_p_value(differences)[0] == exact_sign_flip(list(differences))


def test_monte_carlo_sign_flip_is_seeded_and_close_to_normal_approximation():
    rng = np.random.default_rng(7)
    differences = rng.normal(0.05, 0.3, 120)
    first = sign_flip_p_value(differences, seed=1)
    assert first == sign_flip_p_value(differences, seed=1)
    assert first != sign_flip_p_value(differences, seed=2)
    assert first[1] is False
    t_test = stats.ttest_1samp(differences, 0.0).pvalue
    assert first[0] == pytest.approx(t_test, abs=0.03)


def test_paired_difference_is_seeded():
    rng = np.random.default_rng(8)
    baseline, candidate = as_items(rng.random(60)), as_items(rng.random(60))
    first = paired_difference(baseline, candidate, seed=3)
    assert first == paired_difference(baseline, candidate, seed=3)
    assert first.interval != paired_difference(baseline, candidate, seed=4).interval
    assert isinstance(first, PairedComparison) and first.test == "sign_flip_monte_carlo"


def test_only_shared_items_are_compared():
    baseline = {"a": 1.0, "b": 0.0, "c": 1.0}
    candidate = {"b": 1.0, "c": 1.0, "d": 0.0}
    result = paired_difference(baseline, candidate, metric_kind="binary")
    assert result.n_shared == 2
    assert (result.mean_baseline, result.mean_candidate, result.difference) == (0.5, 1.0, 0.5)


@pytest.mark.parametrize(
    "baseline, candidate, kwargs, message",
    [
        ({"a": 1.0}, {"b": 1.0}, {}, "no shared items"),
        ({}, {}, {}, "no shared items"),
        ({"a": 0.5}, {"a": 1.0}, {"metric_kind": "binary"}, "0 or 1"),
        ({"a": 0.5}, {"a": 1.0}, {"metric_kind": "ordinal"}, "metric_kind"),
        ({"a": 0.5}, {"a": 1.0}, {"margin": -0.1}, "margin"),
        ({"a": float("nan")}, {"a": 1.0}, {}, "finite"),
    ],
)
def test_invalid_inputs_raise(baseline, candidate, kwargs, message):
    with pytest.raises(ValueError, match=message):
        paired_difference(baseline, candidate, **kwargs)

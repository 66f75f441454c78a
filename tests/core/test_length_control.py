"""Length-controlled win rate: recovers the raw rate without length bias, removes a pure length bias."""

import math

import numpy as np
import pytest
from scipy.special import expit

from service.core.length_control import LengthControlledResult, bootstrap_lc_interval, length_controlled_win_rate


def length_biased_items(n: int, seed: int, hard_labels: bool) -> tuple[np.ndarray, np.ndarray]:
    """A judge that only likes longer answers; the model's answers are longer on average, otherwise 50% good."""
    rng = np.random.default_rng(seed)
    diffs = rng.normal(200.0, 250.0, size=n)
    probs = expit(3.0 * np.tanh(diffs / diffs.std(ddof=1)))
    prefs = (rng.random(n) < probs).astype(float) if hard_labels else probs
    return prefs, diffs


@pytest.mark.parametrize("hard_labels", [False, True])
def test_length_only_preference_is_removed(hard_labels):
    prefs, diffs = length_biased_items(4000, seed=3, hard_labels=hard_labels)
    result = length_controlled_win_rate(prefs, diffs)
    assert result.raw_win_rate > 0.7
    assert result.lc_win_rate == pytest.approx(0.5, abs=0.04)
    assert result.phi == pytest.approx(3.0, abs=0.4)
    assert result.n == 4000 and result.reason is None


def test_soft_labels_from_the_model_recover_its_parameters():
    prefs, diffs = length_biased_items(500, seed=5, hard_labels=False)
    result = length_controlled_win_rate(prefs, diffs, phi_l2=0.0)
    assert result.theta == pytest.approx(0.0, abs=1e-5)
    assert result.phi == pytest.approx(3.0, abs=1e-4)


@pytest.mark.parametrize("win_prob", [0.3, 0.5, 0.72])
def test_length_independent_preferences_keep_the_raw_rate(win_prob):
    rng = np.random.default_rng(7)
    diffs = rng.normal(200.0, 300.0, size=3000)
    prefs = (rng.random(3000) < win_prob).astype(float)
    result = length_controlled_win_rate(prefs, diffs)
    assert result.lc_win_rate == pytest.approx(result.raw_win_rate, abs=0.03)
    assert result.raw_win_rate == pytest.approx(win_prob, abs=0.03)
    assert abs(result.phi) < 0.3


def test_constant_soft_preferences_give_that_rate():
    diffs = np.linspace(-500, 500, 50)
    result = length_controlled_win_rate([0.6] * 50, diffs)
    assert result.lc_win_rate == pytest.approx(0.6, abs=1e-6)
    assert result.phi == pytest.approx(0.0, abs=1e-5)


def test_bootstrap_interval_is_seeded_and_covers_the_estimate():
    prefs, diffs = length_biased_items(300, seed=9, hard_labels=True)
    estimate = length_controlled_win_rate(prefs, diffs).lc_win_rate
    first = bootstrap_lc_interval(prefs, diffs, seed=4, n_resamples=200)
    assert first == bootstrap_lc_interval(prefs, diffs, seed=4, n_resamples=200)
    assert first != bootstrap_lc_interval(prefs, diffs, seed=5, n_resamples=200)
    assert first[0] < estimate < first[1]


@pytest.mark.parametrize(
    "prefs, diffs, reason_part",
    [
        ([1.0, 0.0] * 4, list(range(8)), "at least 10"),
        ([], [], "at least 10"),
        ([1.0, 0.0] * 10, [5.0] * 20, "std is 0"),
    ],
)
def test_degenerate_inputs_fall_back(prefs, diffs, reason_part):
    result = length_controlled_win_rate(prefs, diffs)
    assert result.lc_win_rate is None and result.theta is None and result.phi is None
    assert reason_part in result.reason
    assert result.n == len(prefs)
    assert bootstrap_lc_interval(prefs, diffs, n_resamples=20) is None


def test_all_wins_is_unbounded_but_reported():
    result = length_controlled_win_rate([1.0] * 12, list(range(12)))
    assert result == LengthControlledResult(1.0, math.inf, 0.0, 12, 1.0, result.reason)
    assert "unbounded" in result.reason


def test_perfect_length_separation_stays_finite():
    diffs = np.linspace(-100, 100, 40)
    prefs = (diffs > 0).astype(float)
    result = length_controlled_win_rate(prefs, diffs)
    assert math.isfinite(result.phi) and result.phi > 0
    assert result.lc_win_rate == pytest.approx(0.5, abs=0.05)


@pytest.mark.parametrize(
    "prefs, diffs",
    [([0.5] * 3, [1.0] * 2), ([1.2] * 10, list(range(10))), ([0.5] * 10, [math.nan] + list(range(9)))],
)
def test_invalid_inputs_raise(prefs, diffs):
    with pytest.raises(ValueError):
        length_controlled_win_rate(prefs, diffs)

"""The LC bootstrap's shortcuts (one full-data fit, feature and expit per distinct length difference, one draw
per block) give exactly the bits of the plain computation."""

from __future__ import annotations

import numpy as np
import pytest

from service.core import length_control as lc
from tests.core.test_length_control_bootstrap import data


def plain_interval(prefs, diffs, seed, n_resamples, confidence=0.95):
    """The interval as computed before the shortcuts: a draw per resample, tanh and expit of every element."""
    targets, differences = np.asarray(prefs, float), np.asarray(diffs, float)
    full = lc._fit(targets, differences, lc.DEFAULT_MIN_ITEMS, lc.DEFAULT_PHI_L2)
    if full.lc_win_rate is None:
        return None
    rng, n = np.random.default_rng(seed), targets.size
    block = max(1, min(n_resamples, lc.BOOTSTRAP_BLOCK_ELEMENTS // n))
    estimates: list[float] = []
    for start in range(0, n_resamples, block):
        picked = np.stack([rng.integers(0, n, size=n, dtype=np.int32) for _ in range(min(block, n_resamples - start))])
        estimates.extend(lc._fit_resamples(targets[picked], differences[picked], full, lc.DEFAULT_MIN_ITEMS,
                                           lc.DEFAULT_PHI_L2))
    if not estimates:
        return None
    tail = (1.0 - confidence) / 2.0
    low, high = np.quantile(estimates, [tail, 1.0 - tail])
    return (float(low), float(high))


def few_differences(kind, n, seed):
    prefs, diffs = data(kind, n, seed)
    return prefs, np.round(diffs / 60.0)  # a few dozen distinct differences: tabulated


CASES = [(make, kind, n, seed) for seed, (make, kind, n) in enumerate(
    [(data, "hard", 300), (data, "ties", 100), (few_differences, "hard", 300), (few_differences, "soft", 2000),
     (few_differences, "ties", 5000), (few_differences, "separated", 200), (data, "few_lengths", 15),
     (data, "few_lengths", 400)])]


@pytest.mark.parametrize("make, kind, n, seed", CASES)
def test_the_interval_is_the_plain_computations_bit_for_bit(monkeypatch, make, kind, n, seed):
    prefs, diffs = make(kind, n, seed)
    for rows in (3, 64):
        monkeypatch.setattr(lc, "BOOTSTRAP_BLOCK_ELEMENTS", rows * n)
        assert lc.bootstrap_lc_interval(prefs, diffs, seed=seed, n_resamples=100) == plain_interval(
            prefs, diffs, seed, 100)


@pytest.mark.parametrize("make, kind, n, seed", CASES)
def test_lc_summary_is_the_fit_and_its_interval(make, kind, n, seed):
    prefs, diffs = make(kind, n, seed)
    result = lc.length_controlled_win_rate(prefs, diffs)
    interval = lc.bootstrap_lc_interval(prefs, diffs, seed=seed, n_resamples=50) if result.lc_win_rate else None
    assert lc.lc_summary(prefs, diffs, seed=seed, n_resamples=50) == {
        "lc_win_rate": result.lc_win_rate, "lc_win_rate_ci95": interval, "lc_note": result.reason}


def test_tabulated_feature_and_gradient_are_the_plain_ones_bit_for_bit():
    rng = np.random.default_rng(8)
    diffs = rng.integers(-40, 40, size=(9, 500)).astype(float)
    y, scale = rng.random((9, 500)), rng.uniform(5.0, 30.0, 9)
    todo = np.array([0, 2, 3, 7, 8])
    distinct, codes = np.unique(diffs, return_inverse=True)
    feature, table = lc._feature(diffs, scale, todo, (distinct, codes.reshape(diffs.shape)))
    plain, none = lc._feature(diffs, scale, todo, None)
    assert none is None and np.array_equal(feature, plain)
    theta, phi = rng.normal(size=todo.size), rng.normal(size=todo.size)
    for got, expected in zip(lc._gradient(y[todo], feature, theta, phi, 1e-5, table),
                             lc._gradient(y[todo], plain, theta, phi, 1e-5)):
        assert np.array_equal(got, expected)

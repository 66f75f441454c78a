"""The LC win rate bootstrap fits its resamples together: same resamples, same optima as one fit each."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.special import expit

from service.core import length_control as lc


def one_fit_per_resample(prefs, diffs, seed, n_resamples, confidence=0.95):
    """The reference: draw each resample in turn and fit it on its own with ``_fit`` (L-BFGS-B)."""
    targets, differences = np.asarray(prefs, float), np.asarray(diffs, float)
    if lc._fit(targets, differences, lc.DEFAULT_MIN_ITEMS, lc.DEFAULT_PHI_L2).lc_win_rate is None:
        return None
    rng = np.random.default_rng(seed)
    estimates = []
    for _ in range(n_resamples):
        picked = rng.integers(0, targets.size, size=targets.size)
        value = lc._fit(targets[picked], differences[picked], lc.DEFAULT_MIN_ITEMS, lc.DEFAULT_PHI_L2).lc_win_rate
        if value is not None:
            estimates.append(value)
    if not estimates:
        return None
    tail = (1 - confidence) / 2
    return tuple(float(q) for q in np.quantile(estimates, [tail, 1 - tail]))


def data(kind: str, n: int, seed: int):
    rng = np.random.default_rng(seed)
    diffs = rng.normal(150.0, 300.0, n).round()
    p = expit(0.4 + 1.5 * np.tanh(diffs / diffs.std()))
    if kind == "hard":
        prefs = (rng.random(n) < p).astype(float)
    elif kind == "soft":
        prefs = np.clip(p + rng.normal(0, 0.1, n), 0, 1)
    elif kind == "ties":
        prefs = rng.choice([0.0, 0.5, 1.0], n)
    elif kind == "separated":  # wins exactly when longer: the L2 penalty keeps phi finite
        prefs = (diffs > np.median(diffs)).astype(float)
    elif kind == "few_lengths":  # many resamples have std(d) = 0 or all wins
        diffs = rng.choice([0.0, 10.0], n, p=[0.9, 0.1])
        prefs = np.where(rng.random(n) < 0.9, 1.0, 0.5)
    return prefs, diffs


CASES = [(kind, n, seed) for seed, (kind, n) in enumerate(
    [("hard", 10), ("hard", 300), ("soft", 12), ("ties", 100), ("separated", 20), ("separated", 200),
     ("few_lengths", 15)])]


@pytest.mark.parametrize("kind, n, seed", CASES)
def test_same_interval_as_one_fit_per_resample(kind, n, seed):
    prefs, diffs = data(kind, n, seed)
    expected = one_fit_per_resample(prefs, diffs, seed, 50)
    got = lc.bootstrap_lc_interval(prefs, diffs, seed=seed, n_resamples=50)
    assert (got is None) == (expected is None)
    if expected is not None:
        assert got == pytest.approx(expected, abs=1e-6)  # L-BFGS-B stops at ~1e-8 of the optimum


@pytest.mark.parametrize("kind, n, seed", [CASES[1], CASES[5], CASES[6]])
def test_every_path_gives_the_same_interval(monkeypatch, kind, n, seed):
    """Plain Newton, the line-searched restart, the per-resample fallback and small blocks agree."""
    prefs, diffs = data(kind, n, seed)
    plain = lc.bootstrap_lc_interval(prefs, diffs, seed=seed, n_resamples=30)
    monkeypatch.setattr(lc, "PLAIN_NEWTON_ITER", 0)  # every resample takes the line-searched path
    damped = lc.bootstrap_lc_interval(prefs, diffs, seed=seed, n_resamples=30)
    monkeypatch.setattr(lc, "BOOTSTRAP_BLOCK_ELEMENTS", 7 * n)  # blocks of 7 resamples, the last one short
    blocks = lc.bootstrap_lc_interval(prefs, diffs, seed=seed, n_resamples=30)
    monkeypatch.setattr(lc, "NEWTON_MAX_ITER", 0)  # nothing converges: every resample is fitted by _fit
    fallback = lc.bootstrap_lc_interval(prefs, diffs, seed=seed, n_resamples=30)
    assert damped == pytest.approx(plain, abs=1e-9) and blocks == pytest.approx(plain, abs=1e-9)
    assert fallback == pytest.approx(plain, abs=1e-6)


def test_all_wins_give_a_degenerate_interval_at_one():
    diffs = np.linspace(-100, 100, 30)
    assert lc.bootstrap_lc_interval([1.0] * 30, diffs, n_resamples=50) == (1.0, 1.0)


def test_derivatives_are_the_plain_expressions_bit_for_bit():
    """_derivatives writes into scratch arrays: the same operations, so the same bits, as the plain expressions."""
    rng = np.random.default_rng(5)
    y, feature = rng.random((7, 301)), np.tanh(rng.normal(size=(7, 301)))
    theta, phi, penalty = rng.normal(size=7), rng.normal(size=7), 0.01 / 301
    prob = expit(theta[:, None] + phi[:, None] * feature)
    residual, weight = prob - y, prob * (1.0 - prob)
    weighted_feature = weight * feature
    plain = (residual.mean(axis=1), (residual * feature).mean(axis=1) + 2.0 * penalty * phi, weight.mean(axis=1),
             weighted_feature.mean(axis=1), (weighted_feature * feature).mean(axis=1) + 2.0 * penalty)
    for got, expected in zip(lc._derivatives(y, feature, theta, phi, penalty), plain):
        assert np.array_equal(got, expected)


@pytest.mark.parametrize("kind, n, seed", [CASES[1], CASES[3], CASES[5]])
def test_the_block_size_does_not_change_a_single_bit(monkeypatch, kind, n, seed):
    """Each resample's Newton fit is computed row by row: blocks of any size give exactly the same interval."""
    prefs, diffs = data(kind, n, seed)
    intervals = set()
    for rows in (1, 7, 64, 200):
        monkeypatch.setattr(lc, "BOOTSTRAP_BLOCK_ELEMENTS", rows * n)
        intervals.add(lc.bootstrap_lc_interval(prefs, diffs, seed=seed, n_resamples=200))
    assert len(intervals) == 1

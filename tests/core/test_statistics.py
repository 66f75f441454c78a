"""Interval estimates and agreement statistics."""

import math

import numpy as np
import pytest
from scipy import stats

from service.core.statistics import bootstrap_mean_ci, cohen_kappa, entropy, wilson_interval


def test_bootstrap_is_seeded_and_covers_the_mean():
    values = np.random.default_rng(1).random(200)
    first = bootstrap_mean_ci(values, seed=7)
    assert first == bootstrap_mean_ci(values, seed=7)
    assert first != bootstrap_mean_ci(values, seed=8)
    low, high = first
    assert low < values.mean() < high
    # close to the normal-approximation interval for a mean of 200 uniforms
    half = 1.96 * values.std(ddof=1) / math.sqrt(len(values))
    assert (high - low) == pytest.approx(2 * half, rel=0.15)


@pytest.mark.parametrize("values, expected", [([], None), ([0.7], (0.7, 0.7)), ([1, 1, 1], (1.0, 1.0))])
def test_bootstrap_degenerate(values, expected):
    assert bootstrap_mean_ci(values) == expected


@pytest.mark.parametrize("successes, n", [(0, 10), (5, 10), (10, 10), (37, 120), (1, 1)])
def test_wilson_matches_scipy(successes, n):
    expected = stats.binomtest(successes, n).proportion_ci(method="wilson")
    low, high = wilson_interval(successes, n)
    assert low == pytest.approx(expected.low, abs=1e-9)
    assert high == pytest.approx(expected.high, abs=1e-9)


def test_wilson_empty():
    assert wilson_interval(0, 0) is None


@pytest.mark.parametrize(
    "a, b, expected",
    [
        (["a", "b", "a", "b"], ["a", "b", "a", "b"], 1.0),
        (["a", "b", "a", "b"], ["b", "a", "b", "a"], -1.0),
        # textbook example: po=0.7, pe=0.5 -> 0.4
        (["y"] * 20 + ["y"] * 5 + ["n"] * 10 + ["n"] * 15, ["y"] * 20 + ["n"] * 5 + ["y"] * 10 + ["n"] * 15, 0.4),
        ([], [], None),
    ],
)
def test_cohen_kappa(a, b, expected):
    result = cohen_kappa(a, b)
    assert result == (None if expected is None else pytest.approx(expected))


@pytest.mark.parametrize("counts, expected", [([1, 0, 0], 0.0), ([1, 1, 0], math.log(2)), ([1, 1, 1], math.log(3)), ([], 0.0)])
def test_entropy(counts, expected):
    assert entropy(counts) == pytest.approx(expected)

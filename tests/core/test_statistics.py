"""Interval estimates and agreement statistics."""

import math

import numpy as np
import pytest
from scipy import stats

from service.core.statistics import bootstrap_mean_ci, cohen_kappa, entropy, scott_pi, wilson_interval


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


def closed_form_wilson(successes: int, n: int, confidence: float) -> tuple[float, float]:
    """The Wilson score interval (no continuity correction) by its formula, independent of scipy's code."""
    z, phat = stats.norm.ppf(0.5 + confidence / 2), successes / n
    centre = (phat + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(phat * (1 - phat) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return max(0.0, centre - half), min(1.0, centre + half)


@pytest.mark.parametrize("successes, n", [(0, 10), (5, 10), (10, 10), (37, 120), (1, 1)])
def test_wilson_is_the_score_interval(successes, n):
    assert wilson_interval(successes, n) == pytest.approx(closed_form_wilson(successes, n, 0.95), abs=1e-9)


@pytest.mark.parametrize("confidence", [0.8, 0.9, 0.99])
def test_wilson_takes_the_confidence_level(confidence):
    assert wilson_interval(37, 120, confidence) == pytest.approx(closed_form_wilson(37, 120, confidence), abs=1e-12)


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


def _from_table(labels, table):
    """Two raters' label sequences from a confusion table (rows: rater A, columns: rater B)."""
    pairs = [(labels[i], labels[j]) for i, row in enumerate(table) for j, count in enumerate(row) for _ in range(count)]
    return [a for a, _ in pairs], [b for _, b in pairs]


# The worked example of Scott's pi on Wikipedia: 45 items, three categories. Pooled shares
# 18/90, 30/90, 42/90 -> pe = 2988/8100 = 83/225; po = 15/45 = 75/225 -> pi = -8/142 = -4/71 (≈ -0.056).
WIKIPEDIA = _from_table(["yes", "no", "maybe"], [[1, 2, 3], [4, 5, 6], [7, 8, 9]])


@pytest.mark.parametrize(
    "a, b, expected",
    [
        WIKIPEDIA + (-4 / 71,),
        # the κ textbook example above: po = 0.7; pooled y 55/100, n 45/100 -> pe = 0.505 -> pi = 0.195/0.495 = 13/33
        (["y"] * 25 + ["n"] * 25, ["y"] * 20 + ["n"] * 5 + ["y"] * 10 + ["n"] * 15, 13 / 33),
        (["a", "b", "a", "b"], ["a", "b", "a", "b"], 1.0),
        (["a", "b"], ["b", "a"], -1.0),
        # po = 3/4; pooled x 7/8, y 1/8 -> pe = 50/64 -> pi = (48 - 50) / (64 - 50) = -1/7
        (["x", "x", "x", "y"], ["x", "x", "x", "x"], -1 / 7),
        # each rater uses one label, but not the same one: pooled ½ / ½, no agreement
        (["x", "x"], ["y", "y"], -1.0),
        # degenerate: no pairs, unequal lengths, or one label throughout (pe = 1: 0/0)
        ([], [], None),
        (["a"], ["a", "b"], None),
        (["a"] * 5, ["a"] * 5, None),
    ],
)
def test_scott_pi(a, b, expected):
    result = scott_pi(a, b)
    assert result == (None if expected is None else pytest.approx(expected))
    assert scott_pi(b, a) == result  # symmetric in the raters


def test_scott_pi_is_cohen_kappa_when_the_raters_share_their_marginals():
    a, b = ["y", "y", "n", "n", "y", "n"], ["y", "n", "y", "n", "y", "n"]
    assert scott_pi(a, b) == pytest.approx(cohen_kappa(a, b)) == pytest.approx(1 / 3)


@pytest.mark.parametrize("counts, expected", [([1, 0, 0], 0.0), ([1, 1, 0], math.log(2)), ([1, 1, 1], math.log(3)), ([], 0.0)])
def test_entropy(counts, expected):
    assert entropy(counts) == pytest.approx(expected)


def test_entropy_is_scipys():
    """The hand-written entropy gives scipy.stats.entropy's value on count vectors of every shape."""
    rng = np.random.default_rng(3)
    vectors = [[2, 1], [1, 2, 3], [0, 5, 0, 1], [7], [0.5, 0.25, 0.25], [10**6, 1, 1]]
    vectors += [list(rng.integers(0, 20, size=int(rng.integers(1, 6)))) for _ in range(200)]
    for counts in vectors:
        if sum(counts) > 0:
            assert entropy(counts) == pytest.approx(float(stats.entropy(counts)), rel=1e-12, abs=1e-15), counts


@pytest.mark.parametrize("n, seed, resamples", [(2, 0, 2000), (37, 5, 999), (1000, 11, 300), (10_000, 0, 2000)])
def test_int32_resampling_indices_give_exactly_the_int64_intervals(monkeypatch, n, seed, resamples):
    """The bootstraps draw int32 indices (faster): the same draws, so the same intervals, as numpy's default int64."""
    from service.core import length_control, statistics

    rng = np.random.default_rng(n)
    values = rng.choice([0.0, 0.5, 1.0], size=n).tolist() if n % 2 else rng.random(n).tolist()
    diffs = rng.normal(0, 100, size=n).tolist()
    fast = (bootstrap_mean_ci(values, seed=seed, n_resamples=resamples),
            length_control.bootstrap_lc_interval(values, diffs, seed=seed, n_resamples=min(resamples, 200),
                                                 min_items=2))
    monkeypatch.setattr(statistics, "index_dtype", lambda size: np.int64)
    monkeypatch.setattr(length_control, "index_dtype", lambda size: np.int64)
    assert (bootstrap_mean_ci(values, seed=seed, n_resamples=resamples),
            length_control.bootstrap_lc_interval(values, diffs, seed=seed, n_resamples=min(resamples, 200),
                                                 min_items=2)) == fast
    assert fast[0] is not None and fast[1] is not None


@pytest.mark.parametrize("n, seed, elements", [(9_999, 3, 10_000), (37, 5, 1), (1001, 2, 3003), (10_000, 0, 2_560_000)])
def test_bootstrap_batches_of_any_size_give_the_same_interval(monkeypatch, n, seed, elements):
    """Resamples are drawn a batch at a time: the batch size changes neither the draws nor the interval."""
    from service.core import statistics

    values = np.random.default_rng(n).random(n).tolist()
    expected = bootstrap_mean_ci(values, seed=seed)
    monkeypatch.setattr(statistics, "_BOOTSTRAP_ELEMENTS", elements)
    assert bootstrap_mean_ci(values, seed=seed) == expected


@pytest.mark.parametrize("n, seed, resamples", [(2, 0, 2000), (37, 5, 999), (1001, 11, 300), (10_000, 3, 2000)])
def test_bootstrap_gathers_exactly_what_indexing_gives(n, seed, resamples):
    """The resampled values are gathered into one reused array: the interval of ``data[idx]`` per batch, bit for bit."""
    from service.core import statistics

    values = np.random.default_rng(n).random(n)
    rng, means = np.random.default_rng(seed), np.empty(resamples)
    batch = max(1, statistics._BOOTSTRAP_ELEMENTS // n)
    for start in range(0, resamples, batch):
        stop = min(start + batch, resamples)
        means[start:stop] = values[rng.integers(0, n, size=(stop - start, n), dtype=np.int32)].mean(axis=1)
    alpha = (1.0 - 0.95) / 2.0
    expected = tuple(float(q) for q in np.quantile(means, [alpha, 1.0 - alpha]))
    assert bootstrap_mean_ci(values.tolist(), seed=seed, n_resamples=resamples) == expected

"""Regression gate: paired comparison of two evaluations over the items they share.

Scores are per-item metrics (a preference in [0, 1], 0/1 correctness, a score on a scale). Only
item ids present in both evaluations are compared. The interval is a seeded paired bootstrap of
the mean difference (candidate - baseline); the p-value comes from an exact McNemar test for
binary metrics (scipy's binomtest) or from a sign-flip permutation test for continuous ones
(scipy's permutation_test when every sign pattern is enumerated), both two-sided.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial
from typing import Literal, Mapping, get_args

import numpy as np
from scipy import stats

from service.core.statistics import bootstrap_mean_ci

MetricKind = Literal["binary", "continuous"]
# "bound" is DESIGN §6's rule; "bound_or_significant" also fails a significant drop beyond the margin
DecisionRule = Literal["bound", "bound_or_significant"]
DECISION_RULES: tuple[str, ...] = get_args(DecisionRule)

EXACT_PERMUTATION_MAX_N = 16
DEFAULT_PERMUTATIONS = 10_000
_FLIP_BATCH = 1000


@dataclass(frozen=True)
class PairedComparison:
    """Result of the regression gate; difference and interval are candidate minus baseline."""

    n_shared: int
    mean_baseline: float
    mean_candidate: float
    difference: float
    interval: tuple[float, float]
    p_value: float
    test: str
    decision: Literal["pass", "fail"]


def mcnemar_exact(baseline: np.ndarray, candidate: np.ndarray) -> float:
    """Two-sided exact McNemar p-value: binomial test on the discordant 0/1 pairs."""
    only_baseline = int(np.sum((baseline == 1) & (candidate == 0)))
    only_candidate = int(np.sum((baseline == 0) & (candidate == 1)))
    discordant = only_baseline + only_candidate
    if discordant == 0:
        return 1.0
    return float(stats.binomtest(only_candidate, discordant, 0.5).pvalue)


def _shifted_abs_sum(differences: np.ndarray, axis: int = -1, shift: float = 0.0) -> np.ndarray:
    """The sign-flip test's statistic |sum(d)|, plus ``shift``, vectorised over ``axis``."""
    return np.abs(np.sum(differences, axis=axis)) + shift


def sign_flip_p_value(
    differences: np.ndarray, seed: int = 0, n_permutations: int = DEFAULT_PERMUTATIONS
) -> tuple[float, bool]:
    """Two-sided sign-flip permutation p-value of |sum(d)|; returns (p, exact).

    Zero differences are dropped (flipping them changes nothing). With at most 16 non-zero
    differences every sign pattern is enumerated; otherwise ``n_permutations`` seeded random
    patterns are drawn and p = (1 + hits) / (1 + n_permutations).
    """
    nonzero = differences[differences != 0]
    if nonzero.size < 2:  # both signs of a single difference give the same |sum|
        return 1.0, True
    if nonzero.size <= EXACT_PERMUTATION_MAX_N:
        return _exact_sign_flip(nonzero), True
    return _monte_carlo_sign_flip(nonzero, seed, n_permutations), False


def _exact_sign_flip(nonzero: np.ndarray) -> float:
    """p = share of all 2**n sign patterns whose |sum| reaches the observed one (scipy enumerates them)."""
    # One sample with permutation_type="samples" flips signs; |sum| with "greater" is the two-sided
    # test. scipy counts ties within a tolerance relative to the observed statistic, so an observed
    # |sum| that is 0 up to round-off (1/3 + 1/3 - 2/3) would tie with nothing; shifting the statistic
    # by sum|d| makes that tolerance relative to the differences' scale (orders are unchanged).
    statistic = partial(_shifted_abs_sum, shift=float(np.abs(nonzero).sum()))
    result = stats.permutation_test((nonzero,), statistic, permutation_type="samples", vectorized=True,
                                    n_resamples=2 ** nonzero.size, alternative="greater")
    return float(result.pvalue)


def _monte_carlo_sign_flip(nonzero: np.ndarray, seed: int, n_permutations: int) -> float:
    """p = (1 + hits) / (1 + n_permutations) over seeded random sign patterns."""
    # Hand-written on purpose, not scipy's permutation_test: (1) reproducibility: a seed must draw the
    # same patterns, hence the same p-value and gate decision, on every scipy version, and how scipy
    # draws its permutations is not part of its API; (2) scipy's one-sample "samples" permutations
    # loop in Python over the observations and build batch x n x 2 index arrays, which measured ~3x
    # slower at 10,000 items (6 s against 2 s) and ~20x at 200,000 (280 s against 13 s), and this runs
    # twice inside a POST /v1/comparisons request.
    observed = abs(float(nonzero.sum()))
    slack = 1e-9 * max(1.0, float(np.abs(nonzero).sum()))  # float round-off in the sums
    rng = np.random.default_rng(seed)
    hits = 0
    for start in range(0, n_permutations, _FLIP_BATCH):
        size = min(_FLIP_BATCH, n_permutations - start)
        signs = rng.choice((1.0, -1.0), size=(size, nonzero.size))
        hits += int(np.sum(np.abs(signs @ nonzero) >= observed - slack))
    return (1 + hits) / (1 + n_permutations)


def _shared_arrays(baseline: Mapping[str, float], candidate: Mapping[str, float]) -> tuple[np.ndarray, np.ndarray]:
    """Aligned score arrays over the shared item ids (sorted for determinism)."""
    shared = sorted(set(baseline) & set(candidate), key=str)
    if not shared:
        raise ValueError("no shared items")
    base = np.array([float(baseline[item]) for item in shared])
    cand = np.array([float(candidate[item]) for item in shared])
    if not (np.all(np.isfinite(base)) and np.all(np.isfinite(cand))):
        raise ValueError("scores must be finite")
    return base, cand


def _p_value_and_test(
    base: np.ndarray, cand: np.ndarray, metric_kind: str, seed: int, n_permutations: int
) -> tuple[float, str]:
    """The p-value and the name of the test used for this metric kind."""
    if metric_kind == "binary":
        if not np.all(np.isin(base, (0.0, 1.0)) & np.isin(cand, (0.0, 1.0))):
            raise ValueError("binary metrics must be 0 or 1 per item")
        return mcnemar_exact(base, cand), "mcnemar_exact"
    if metric_kind == "continuous":
        p_value, exact = sign_flip_p_value(cand - base, seed, n_permutations)
        return p_value, "sign_flip_exact" if exact else "sign_flip_monte_carlo"
    raise ValueError(f"metric_kind must be 'binary' or 'continuous', got {metric_kind!r}")


def paired_difference(
    baseline: Mapping[str, float],
    candidate: Mapping[str, float],
    metric_kind: MetricKind = "continuous",
    margin: float = 0.0,
    alpha: float = 0.05,
    seed: int = 0,
    n_resamples: int = 2000,
    confidence: float = 0.95,
    n_permutations: int = DEFAULT_PERMUTATIONS,
    rule: DecisionRule = "bound",
) -> PairedComparison:
    """Paired regression gate over shared items.

    Decision rule ``bound``: 'fail' when the upper end of the bootstrap interval of
    (candidate - baseline) is below -margin (worse by more than the margin, with confidence);
    ``bound_or_significant`` also fails when the observed difference is below -margin and
    p_value < alpha (the test is against no difference, so this rule is the stricter one).
    """
    if margin < 0 or not 0.0 < alpha < 1.0:
        raise ValueError("margin must be >= 0 and alpha in (0, 1)")
    base, cand = _shared_arrays(baseline, candidate)
    p_value, test = _p_value_and_test(base, cand, metric_kind, seed, n_permutations)
    differences = cand - base
    low, high = bootstrap_mean_ci(differences, seed=seed, n_resamples=n_resamples, confidence=confidence)
    difference = float(differences.mean())
    worse = high < -margin
    if rule == "bound_or_significant":
        worse = worse or (difference < -margin and p_value < alpha)
    elif rule != "bound":
        raise ValueError(f"rule must be one of {DECISION_RULES}, got {rule!r}")
    return PairedComparison(
        n_shared=int(base.size),
        mean_baseline=float(base.mean()),
        mean_candidate=float(cand.mean()),
        difference=difference,
        interval=(low, high),
        p_value=min(1.0, p_value),
        test=test,
        decision="fail" if worse else "pass",
    )

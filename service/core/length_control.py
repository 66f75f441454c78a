"""Length-controlled win rate (AlpacaEval 2.0 style) for one model against a fixed baseline.

Per item, ``y`` in [0, 1] is the preference for the model over the baseline (soft labels
allowed) and ``d`` is the length difference ``len(model) - len(baseline)`` (characters or
tokens: the caller decides). The model is AlpacaEval 2.0's GLM reduced to one model:

    logit P(model wins) = theta + phi * tanh(d / std(d))

with ``std`` the sample standard deviation (ddof=1) of ``d``. AlpacaEval's instruction-difficulty
term is omitted (we fit one model against one baseline, without the cross-model data it needs).
``theta`` and ``phi`` are fitted by maximum likelihood on the soft labels (binary cross-entropy
with ``y`` as targets, summed over items) plus a small L2 penalty ``phi_l2 * phi**2`` (default 0.01,
i.e. a Gaussian prior on ``phi`` with standard deviation ~7, negligible next to n items) that
keeps ``phi`` finite when the labels are perfectly separated by length; pass 0 for the pure MLE. The LC win rate is ``sigmoid(theta)``:
the predicted preference at zero length difference, on the 0–1 scale.

Degenerate inputs: fewer than ``min_items`` items or ``std(d) == 0`` give ``lc_win_rate=None``
with a reason. When every ``y`` is 1 (or every ``y`` is 0) the likelihood has no finite optimum;
the LC win rate is then the raw win rate (1 or 0), ``theta`` is ``±inf`` and ``phi`` is 0.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Sequence

import numpy as np
from scipy import optimize
from scipy.special import expit

DEFAULT_MIN_ITEMS = 10
DEFAULT_PHI_L2 = 0.01


@dataclass(frozen=True)
class LengthControlledResult:
    """Outcome of the length-controlled fit; lc_win_rate is None (with a reason) when not fitted."""

    lc_win_rate: float | None
    theta: float | None
    phi: float | None
    n: int
    raw_win_rate: float | None
    reason: str | None = None


def _validated_arrays(preferences: Sequence[float], length_differences: Sequence[float]) -> tuple[np.ndarray, np.ndarray]:
    """Float arrays of equal length with preferences in [0, 1] and finite values."""
    targets = np.asarray(preferences, dtype=float)
    diffs = np.asarray(length_differences, dtype=float)
    if targets.shape != diffs.shape or targets.ndim != 1:
        raise ValueError("preferences and length_differences must be 1-D and of equal length")
    if not (np.all(np.isfinite(targets)) and np.all(np.isfinite(diffs))):
        raise ValueError("preferences and length differences must be finite")
    if np.any((targets < 0.0) | (targets > 1.0)):
        raise ValueError("preferences must lie in [0, 1]")
    return targets, diffs


def _penalised_loss(params: np.ndarray, feature: np.ndarray, targets: np.ndarray, phi_l2: float) -> tuple[float, np.ndarray]:
    """(Summed soft-label cross-entropy + phi_l2 * phi^2) / n, with its gradient."""
    theta, phi = params
    logits = theta + phi * feature
    penalty = phi_l2 / targets.size
    # -[y log s(z) + (1-y) log s(-z)] = y * log(1+e^-z) + (1-y) * log(1+e^z)
    loss = np.mean(targets * np.logaddexp(0.0, -logits) + (1.0 - targets) * np.logaddexp(0.0, logits))
    residual = expit(logits) - targets
    grad = np.array([residual.mean(), (residual * feature).mean() + 2.0 * penalty * phi])
    return float(loss + penalty * phi * phi), grad


def _fit(targets: np.ndarray, diffs: np.ndarray, min_items: int, phi_l2: float) -> LengthControlledResult:
    """Fit theta and phi on validated arrays; see the module docstring for the fallbacks."""
    n = int(targets.size)
    raw = float(targets.mean()) if n else None
    if n < max(min_items, 2):
        return LengthControlledResult(None, None, None, n, raw, f"needs at least {max(min_items, 2)} items, got {n}")
    scale = float(np.std(diffs, ddof=1))
    if scale == 0.0:
        return LengthControlledResult(None, None, None, n, raw, "all length differences are equal (std is 0)")
    if np.all(targets == 1.0) or np.all(targets == 0.0):
        theta = math.inf if raw == 1.0 else -math.inf
        return LengthControlledResult(raw, theta, 0.0, n, raw, "all preferences equal 0 or 1: theta is unbounded")
    feature = np.tanh(diffs / scale)
    solution = optimize.minimize(
        _penalised_loss, x0=np.zeros(2), args=(feature, targets, phi_l2), jac=True, method="L-BFGS-B",
        options={"gtol": 1e-10, "ftol": 1e-14, "maxiter": 1000},
    )
    theta, phi = (float(value) for value in solution.x)
    return LengthControlledResult(float(expit(theta)), theta, phi, n, raw, None)


def length_controlled_win_rate(
    preferences: Sequence[float],
    length_differences: Sequence[float],
    min_items: int = DEFAULT_MIN_ITEMS,
    phi_l2: float = DEFAULT_PHI_L2,
) -> LengthControlledResult:
    """LC win rate = sigmoid(theta) from logit P(win) = theta + phi * tanh(d / std(d))."""
    targets, diffs = _validated_arrays(preferences, length_differences)
    return _fit(targets, diffs, min_items, phi_l2)


def bootstrap_lc_interval(
    preferences: Sequence[float],
    length_differences: Sequence[float],
    seed: int = 0,
    n_resamples: int = 1000,
    confidence: float = 0.95,
    min_items: int = DEFAULT_MIN_ITEMS,
    phi_l2: float = DEFAULT_PHI_L2,
) -> tuple[float, float] | None:
    """Seeded percentile bootstrap interval of the LC win rate, resampling items (std(d) refitted each time).

    Resamples whose fit falls back (e.g. all length differences equal) are skipped; None when
    the full-data fit itself falls back or no resample is usable.
    """
    targets, diffs = _validated_arrays(preferences, length_differences)
    if _fit(targets, diffs, min_items, phi_l2).lc_win_rate is None:
        return None
    rng = np.random.default_rng(seed)
    estimates = []
    for _ in range(n_resamples):
        picked = rng.integers(0, targets.size, size=targets.size)
        estimate = _fit(targets[picked], diffs[picked], min_items, phi_l2).lc_win_rate
        if estimate is not None:
            estimates.append(estimate)
    if not estimates:
        return None
    tail = (1.0 - confidence) / 2.0
    low, high = np.quantile(estimates, [tail, 1.0 - tail])
    return (float(low), float(high))

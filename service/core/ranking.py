"""Bradley–Terry ranking over battles between two models, on the Elo scale, with bootstrap intervals.

A battle is ``(model_a, model_b, score_a)`` where ``score_a`` in [0, 1] is the share of the
win credited to ``model_a`` (1 win, 0.5 tie, 0 loss); ``model_b`` receives ``1 - score_a``.
A fourth element, ``weight`` > 0, makes it count as that many battles (Arena-Hard counts a strong
verdict as 3); a battle without one counts once. A bootstrap resample draws weighted battles whole.
Strengths are the Bradley–Terry maximum-likelihood estimates, fitted with the classic
MM / Zermelo iteration ``p_i <- W_i / sum_j n_ij / (p_i + p_j)`` and normalised to sum 1.
No pseudo-counts are added, so the fit reproduces the published reference scores exactly.

Edge cases of the plain maximum likelihood (documented, not patched):
* a model with no win credit at all (no wins, no ties) gets strength 0 — the MLE limit —
  and therefore an Elo score of ``-inf``;
* a model that never loses drifts towards all of the mass; the iteration then stops at
  ``max_iterations`` rather than at the tolerance;
* if the comparison graph is disconnected the strengths of separate components are not
  comparable (the MLE is not unique); the iteration still returns a deterministic answer.
"""

from __future__ import annotations

import math
from typing import Iterable, Sequence

import numpy as np

Battle = tuple[str, str, float] | tuple[str, str, float, float]

ELO_PER_LOG_STRENGTH = 400.0 / math.log(10.0)
DEFAULT_TOLERANCE = 1e-12
DEFAULT_MAX_ITERATIONS = 10_000
# Bootstrap refits only feed percentiles: a looser fit keeps the aggregation job fast even when a
# resample has a model that never loses (no finite MLE; the fit would run to the iteration cap).
BOOTSTRAP_TOLERANCE = 1e-8
BOOTSTRAP_MAX_ITERATIONS = 500


Indexed = tuple[list[str], np.ndarray, np.ndarray, np.ndarray, np.ndarray]


def _index_battles(battles: Iterable[Battle]) -> Indexed:
    """Validate battles and turn them into model names plus index/score/weight arrays."""
    names: dict[str, int] = {}
    left, right, scores, weights = [], [], [], []
    for battle in battles:
        model_a, model_b, score_a = battle[:3]
        weight = float(battle[3]) if len(battle) > 3 else 1.0
        score = float(score_a)
        if model_a == model_b:
            raise ValueError(f"a model cannot battle itself: {model_a!r}")
        if not 0.0 <= score <= 1.0:
            raise ValueError(f"score_a must lie in [0, 1], got {score_a!r}")
        if not (weight > 0.0 and math.isfinite(weight)):
            raise ValueError(f"a battle's weight must be a positive number, got {weight!r}")
        left.append(names.setdefault(model_a, len(names)))
        right.append(names.setdefault(model_b, len(names)))
        scores.append(score)
        weights.append(weight)
    return (list(names), np.asarray(left, dtype=np.intp), np.asarray(right, dtype=np.intp), np.asarray(scores),
            np.asarray(weights))


def _win_matrix(n_models: int, left: np.ndarray, right: np.ndarray, scores: np.ndarray,
                weights: np.ndarray) -> np.ndarray:
    """Matrix whose (i, j) entry is the (weighted) win credit of model i against model j."""
    wins = np.zeros((n_models, n_models))
    np.add.at(wins, (left, right), weights * scores)
    np.add.at(wins, (right, left), weights * (1.0 - scores))
    return wins


def fit_strengths(
    wins: np.ndarray, tolerance: float = DEFAULT_TOLERANCE, max_iterations: int = DEFAULT_MAX_ITERATIONS
) -> tuple[np.ndarray, int]:
    """MM iteration on a win-credit matrix; returns (strengths summing to 1, iterations used)."""
    games = wins + wins.T
    total_wins = wins.sum(axis=1)
    strengths = np.full(wins.shape[0], 1.0 / wins.shape[0])
    for iteration in range(1, max_iterations + 1):
        pair_sums = strengths[:, None] + strengths[None, :]
        with np.errstate(divide="ignore", invalid="ignore"):
            rates = np.where(games > 0, games / pair_sums, 0.0).sum(axis=1)
            updated = np.where(rates > 0, total_wins / rates, 0.0)
        updated /= updated.sum()
        change = float(np.max(np.abs(updated - strengths)))
        strengths = updated
        if change < tolerance:
            return strengths, iteration
    return strengths, max_iterations


def bradley_terry(
    battles: Iterable[Battle], tolerance: float = DEFAULT_TOLERANCE, max_iterations: int = DEFAULT_MAX_ITERATIONS
) -> dict[str, float]:
    """Bradley–Terry ML strengths (ties = half a win each, a weighted battle counting weight times), summing to 1."""
    names, left, right, scores, weights = _index_battles(battles)
    if not names:
        return {}
    strengths, _ = fit_strengths(_win_matrix(len(names), left, right, scores, weights), tolerance, max_iterations)
    return {name: float(value) for name, value in zip(names, strengths)}


def elo_scores(
    strengths: dict[str, float], anchor: str | None = None, anchor_rating: float = 1000.0
) -> dict[str, float]:
    """Strengths on the Elo scale (400/ln10 per log-strength), anchored at one model or the geometric mean."""
    if not strengths:
        return {}
    logs = {name: math.log(value) if value > 0 else -math.inf for name, value in strengths.items()}
    if anchor is not None:
        if anchor not in logs:
            raise ValueError(f"anchor model {anchor!r} has no battles")
        if math.isinf(logs[anchor]):
            raise ValueError(f"anchor model {anchor!r} has strength 0 (no win credit)")
        centre = logs[anchor]
    else:
        finite = [value for value in logs.values() if math.isfinite(value)]
        centre = sum(finite) / len(finite)
    return {name: anchor_rating + ELO_PER_LOG_STRENGTH * (value - centre) for name, value in logs.items()}


def _percentile_interval(values: np.ndarray, confidence: float) -> tuple[float, float] | None:
    """Percentile interval ignoring NaN (model absent); a -inf region yields a -inf endpoint."""
    kept = values[~np.isnan(values)]
    if kept.size == 0:
        return None
    tail = (1.0 - confidence) / 2.0
    with np.errstate(invalid="ignore"):
        low, high = np.quantile(kept, [tail, 1.0 - tail])
    low = -math.inf if math.isnan(low) else float(low)
    high = -math.inf if math.isnan(high) else float(high)
    return (low, high)


def bootstrap_elo_intervals(
    battles: Sequence[Battle],
    anchor: str | None = None,
    n_resamples: int = 1000,
    seed: int = 0,
    confidence: float = 0.95,
    anchor_rating: float = 1000.0,
) -> dict[str, tuple[float, float] | None]:
    """Seeded percentile intervals of each model's Elo score, resampling battles with replacement.

    Each resample refits Bradley–Terry and re-anchors. Resamples in which the anchor is missing
    or has strength 0 are skipped; a model missing from a resample is left out of that model's
    percentiles; None is returned for a model no usable resample contains.
    """
    names, left, right, scores, weights = _index_battles(battles)
    if not names:
        return {}
    if anchor is not None and anchor not in names:
        raise ValueError(f"anchor model {anchor!r} has no battles")
    # Hand-written, not scipy.stats.bootstrap: a seed must draw the same resamples (the same
    # intervals) on every scipy version, and each resample refits Bradley–Terry and re-anchors.
    rng = np.random.default_rng(seed)
    ratings = np.full((n_resamples, len(names)), np.nan)
    for row in range(n_resamples):
        picked = rng.integers(0, left.size, size=left.size)
        ratings[row] = _resample_ratings(names, left[picked], right[picked], scores[picked], weights[picked], anchor,
                                         anchor_rating)
    return {name: _percentile_interval(ratings[:, col], confidence) for col, name in enumerate(names)}


def _resample_ratings(
    names: list[str], left: np.ndarray, right: np.ndarray, scores: np.ndarray, weights: np.ndarray,
    anchor: str | None, anchor_rating: float,
) -> np.ndarray:
    """Elo ratings for one resample; NaN for absent models, all NaN when the anchor is unusable."""
    present = np.zeros(len(names), dtype=bool)
    present[left] = True
    present[right] = True
    strengths, _ = fit_strengths(_win_matrix(len(names), left, right, scores, weights), BOOTSTRAP_TOLERANCE,
                                 BOOTSTRAP_MAX_ITERATIONS)
    fitted = {name: float(strengths[i]) for i, name in enumerate(names) if present[i]}
    out = np.full(len(names), np.nan)
    if anchor is not None and fitted.get(anchor, 0.0) <= 0.0:
        return out
    elo = elo_scores(fitted, anchor, anchor_rating)
    for i, name in enumerate(names):
        if name in elo:
            out[i] = elo[name]
    return out

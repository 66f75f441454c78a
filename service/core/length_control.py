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
from typing import Any, Sequence

import numpy as np
from scipy import optimize
from scipy.special import expit

from service.core.statistics import index_dtype

DEFAULT_MIN_ITEMS = 10
DEFAULT_PHI_L2 = 0.01
# resamples of the interval reported in an evaluation's summary
SUMMARY_BOOTSTRAP_RESAMPLES = 200


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

    The resamples are fitted together, a block at a time (see ``_fit_resamples``): the same
    resamples, drawn in the same order, and the same optimum as one ``_fit`` per resample.
    """
    targets, diffs = _validated_arrays(preferences, length_differences)
    full = _fit(targets, diffs, min_items, phi_l2)
    if full.lc_win_rate is None:
        return None
    return _interval(targets, diffs, full, seed, n_resamples, confidence, min_items, phi_l2)


def _interval(targets: np.ndarray, diffs: np.ndarray, full: LengthControlledResult, seed: int, n_resamples: int,
              confidence: float, min_items: int, phi_l2: float) -> tuple[float, float] | None:
    """``bootstrap_lc_interval`` given the full-data fit ``full`` (fitted, not a fallback)."""
    # Hand-written, not scipy.stats.bootstrap: a seed must draw the same resamples (the same
    # interval) on every scipy version, and the resamples are fitted together a block at a time.
    rng = np.random.default_rng(seed)
    n = targets.size
    block = max(1, min(n_resamples, BOOTSTRAP_BLOCK_ELEMENTS // n))
    distinct, codes = np.unique(diffs, return_inverse=True)
    compress = distinct.size * 2 <= n  # few distinct differences: tanh them, not every resampled one
    estimates: list[float] = []
    for start in range(0, n_resamples, block):
        # one draw of a block's indices gives the same stream as a draw per resample (tested); indexing
        # with intp indices is several times faster than with the int32 ones drawn
        picked = rng.integers(0, n, size=(min(block, n_resamples - start), n), dtype=index_dtype(n)).astype(np.intp)
        levels = (distinct, codes[picked]) if compress else None
        estimates.extend(_fit_resamples(targets[picked], diffs[picked], full, min_items, phi_l2, levels))
    if not estimates:
        return None
    tail = (1.0 - confidence) / 2.0
    low, high = np.quantile(estimates, [tail, 1.0 - tail])
    return (float(low), float(high))


def lc_summary(preferences: Sequence[float], length_differences: Sequence[float], seed: int = 0,
               n_resamples: int = SUMMARY_BOOTSTRAP_RESAMPLES) -> dict[str, Any]:
    """An evaluation summary's ``lc_win_rate``, its bootstrap ``lc_win_rate_ci95`` and ``lc_note`` (why it is null)."""
    targets, diffs = _validated_arrays(preferences, length_differences)
    result = _fit(targets, diffs, DEFAULT_MIN_ITEMS, DEFAULT_PHI_L2)  # fitted once, for the rate and the interval
    interval = (_interval(targets, diffs, result, seed, n_resamples, 0.95, DEFAULT_MIN_ITEMS, DEFAULT_PHI_L2)
                if result.lc_win_rate is not None else None)
    return {"lc_win_rate": result.lc_win_rate, "lc_win_rate_ci95": interval, "lc_note": result.reason}


# resamples fitted at once are limited to this many items in all (arrays of ~0.5 MB each, which stay in a
# core's cache; each resample's fit is the same whatever the block: a test compares block sizes)
BOOTSTRAP_BLOCK_ELEMENTS = 65_536
NEWTON_GTOL = 1e-10
NEWTON_MAX_ITER = 50
PLAIN_NEWTON_ITER = 8


def _fit_resamples(targets: np.ndarray, diffs: np.ndarray, start: LengthControlledResult, min_items: int,
                   phi_l2: float, levels: tuple[np.ndarray, np.ndarray] | None = None) -> list[float]:
    """LC win rates of a block of resamples (one per row), as ``_fit`` gives them, fallbacks left out.

    Damped Newton on all rows at once, warm-started at the full-data optimum ``start``: the loss is
    the same penalised soft-label cross-entropy, convex and two-parameter, so a few vectorised
    iterations (closed-form 2x2 solves, no BLAS) reach a gradient below NEWTON_GTOL, tighter than
    the L-BFGS-B fit's. A row that does not get there is fitted by ``_fit`` itself. ``levels``: the
    distinct differences and, per element of ``diffs``, its index among them (None: not worth it).
    """
    rows, n = targets.shape
    scale = np.std(diffs, axis=1, ddof=1)
    all_equal = np.all(targets == 1.0, axis=1) | np.all(targets == 0.0, axis=1)
    fitted = (scale > 0.0) & ~all_equal
    estimates = np.full(rows, np.nan)
    estimates[(scale > 0.0) & all_equal] = targets[(scale > 0.0) & all_equal, 0]  # raw rate, as _fit gives
    todo = np.flatnonzero(fitted)
    if todo.size:
        whole = todo.size == rows
        y = targets if whole else targets[todo]
        feature, table = _feature(diffs, scale, todo, levels)
        theta0, phi0 = (start.theta, start.phi) if math.isfinite(start.theta) else (0.0, 0.0)
        theta, phi, done = _newton(y, feature, float(theta0), float(phi0), phi_l2 / n, table)
        estimates[todo[done]] = expit(theta[done])
        for row in todo[~done]:
            estimates[row] = _fit(targets[row], diffs[row], min_items, phi_l2).lc_win_rate
    return [float(value) for value in estimates if not np.isnan(value)]


def _feature(diffs: np.ndarray, scale: np.ndarray, todo: np.ndarray, levels: tuple[np.ndarray, np.ndarray] | None
             ) -> tuple[np.ndarray, tuple[np.ndarray, np.ndarray] | None]:
    """tanh(diffs / scale) of the rows ``todo``, and with ``levels`` its table: (per row, the feature of each
    distinct difference; per element, the index of its difference), computed once per distinct difference."""
    if levels is None:
        return np.tanh(diffs[todo] / scale[todo, None]), None
    distinct, codes = levels
    table = np.tanh(distinct / scale[todo, None])  # the same quotient and tanh of each value, per row
    codes = codes[todo]
    return _by_level(table, codes), (table, codes)


def _by_level(table: np.ndarray, codes: np.ndarray) -> np.ndarray:
    """Per row r and element i, ``table[r, codes[r, i]]``."""
    return table.ravel()[codes + (np.arange(codes.shape[0]) * table.shape[1])[:, None]]


def _newton(y: np.ndarray, feature: np.ndarray, theta0: float, phi0: float, penalty: float,
            table: tuple[np.ndarray, np.ndarray] | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Minimise mean(softplus(z) - y z) + penalty phi^2, z = theta + phi feature, for every row at once.

    Plain Newton steps first (near the warm start they converge quadratically, and need no loss
    evaluations); rows not converged after PLAIN_NEWTON_ITER steps start again from the warm start
    with line-searched steps (``_damped_newton``). Returns theta, phi and which rows converged
    (max |gradient| <= NEWTON_GTOL); convexity makes a zero gradient the optimum, however reached.
    ``table``: ``feature`` as ``_feature`` tabulates it (None: not tabulated).
    """
    rows = y.shape[0]
    theta, phi = np.full(rows, theta0), np.full(rows, phi0)
    done = np.zeros(rows, dtype=bool)
    active = np.arange(rows)
    for _ in range(PLAIN_NEWTON_ITER):
        whole = active.size == rows  # index (copy) the arrays only once rows have dropped out
        f, t, p = (feature, theta, phi) if whole else (feature[active], theta[active], phi[active])
        rows_table = table if whole or table is None else (table[0][active], table[1][active])
        g_theta, g_phi, prob, scratch = _gradient(y if whole else y[active], f, t, p, penalty, rows_table)
        converged = np.maximum(np.abs(g_theta), np.abs(g_phi)) <= NEWTON_GTOL
        done[active[converged]] = True
        keep = ~converged
        if not keep.any():
            return theta, phi, done
        h_tt, h_tp, h_pp = _hessian(prob, scratch, f, penalty)  # only once some row needs a step
        det = h_tt[keep] * h_pp[keep] - h_tp[keep] ** 2
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            theta[active[keep]] = t[keep] - (h_pp[keep] * g_theta[keep] - h_tp[keep] * g_phi[keep]) / det
            phi[active[keep]] = p[keep] - (h_tt[keep] * g_phi[keep] - h_tp[keep] * g_theta[keep]) / det
        active = active[keep]
    rest = np.flatnonzero(~done)
    theta[rest], phi[rest], done[rest] = _damped_newton(y[rest], feature[rest], theta0, phi0, penalty)
    return theta, phi, done


def _derivatives(y: np.ndarray, feature: np.ndarray, theta: np.ndarray, phi: np.ndarray, penalty: float):
    """Gradient (theta, phi) and Hessian (tt, tp, pp) of the penalised mean loss, per row."""
    g_theta, g_phi, prob, scratch = _gradient(y, feature, theta, phi, penalty)
    return (g_theta, g_phi, *_hessian(prob, scratch, feature, penalty))


def _gradient(y: np.ndarray, feature: np.ndarray, theta: np.ndarray, phi: np.ndarray, penalty: float,
              table: tuple[np.ndarray, np.ndarray] | None = None):
    """Gradient (theta, phi) of the penalised mean loss per row, and the two scratch arrays ``_hessian`` goes on with.

    The same operations on the same operands as the plain expressions in the comments, written into two
    scratch arrays instead of nine fresh ones (each as large as the block). With ``table`` (see ``_feature``)
    expit is evaluated once per distinct feature value of a row: the same values, a fraction of the work.
    """
    if table is None:
        prob = np.multiply(phi[:, None], feature)
    else:
        prob = np.multiply(phi[:, None], table[0])
    np.add(theta[:, None], prob, out=prob)
    expit(prob, out=prob)  # prob = expit(theta + phi * feature)
    if table is not None:
        prob = _by_level(prob, table[1])
    scratch = np.subtract(prob, y)  # residual
    g_theta = scratch.mean(axis=1)
    np.multiply(scratch, feature, out=scratch)
    g_phi = scratch.mean(axis=1) + 2.0 * penalty * phi  # mean(residual * feature) + ...
    return g_theta, g_phi, prob, scratch


def _hessian(prob: np.ndarray, scratch: np.ndarray, feature: np.ndarray, penalty: float):
    """Hessian (tt, tp, pp) per row, from ``_gradient``'s prob (overwritten) and scratch array."""
    np.subtract(1.0, prob, out=scratch)
    np.multiply(prob, scratch, out=prob)  # weight = prob * (1 - prob)
    h_tt = prob.mean(axis=1)
    np.multiply(prob, feature, out=prob)  # weighted_feature = weight * feature
    h_tp = prob.mean(axis=1)
    np.multiply(prob, feature, out=prob)
    return h_tt, h_tp, prob.mean(axis=1) + 2.0 * penalty  # mean(weighted_feature * feature) + ...


def _damped_newton(y: np.ndarray, feature: np.ndarray, theta0: float, phi0: float,
                   penalty: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``_newton`` with a backtracking (Armijo) line search on every step, from the warm start."""
    rows = y.shape[0]
    theta, phi = np.full(rows, theta0), np.full(rows, phi0)
    done = np.zeros(rows, dtype=bool)
    active = np.arange(rows)

    def loss(t, p, index):
        z = t[:, None] + p[:, None] * feature[index]
        return np.mean(np.logaddexp(0.0, z) - y[index] * z, axis=1) + penalty * p * p

    current = loss(theta, phi, active)
    for _ in range(NEWTON_MAX_ITER):
        f, t, p = feature[active], theta[active], phi[active]
        g_theta, g_phi, h_tt, h_tp, h_pp = _derivatives(y[active], f, t, p, penalty)
        converged = np.maximum(np.abs(g_theta), np.abs(g_phi)) <= NEWTON_GTOL
        done[active[converged]] = True
        keep = ~converged
        if not keep.any():
            break
        active, f, t, p = active[keep], f[keep], t[keep], p[keep]
        g_theta, g_phi, old = g_theta[keep], g_phi[keep], current[active]
        h_tt, h_tp, h_pp = h_tt[keep], h_tp[keep], h_pp[keep]
        det = h_tt * h_pp - h_tp * h_tp
        with np.errstate(divide="ignore", invalid="ignore"):
            step_t = -(h_pp * g_theta - h_tp * g_phi) / det
            step_p = -(h_tt * g_phi - h_tp * g_theta) / det
        slope = g_theta * step_t + g_phi * step_p  # < 0 for a descent direction
        usable = np.isfinite(step_t) & np.isfinite(step_p) & (slope < 0)
        # a predicted decrease below rounding of the loss: the Newton step is taken as it is
        # (the loss cannot tell it apart any more; the gradient test above ends the iteration)
        tiny = usable & (-slope <= 1e-13 * np.maximum(1.0, np.abs(old)))
        alpha = np.where(usable, 1.0, 0.0)
        new = np.where(usable & ~tiny, np.inf, old)
        for attempt in range(40):  # backtracking (Armijo) on rows whose step does not decrease the loss enough
            trying = usable & ~tiny & ~(new <= old + 1e-4 * alpha * slope)
            if not trying.any():
                break
            if attempt:
                alpha[trying] *= 0.5
            index = np.flatnonzero(trying)
            new[index] = loss(t[index] + alpha[index] * step_t[index], p[index] + alpha[index] * step_p[index],
                              active[index])
        moved = tiny | (usable & (new <= old + 1e-4 * alpha * slope))
        theta[active[moved]] = t[moved] + alpha[moved] * step_t[moved]
        phi[active[moved]] = p[moved] + alpha[moved] * step_p[moved]
        current[active[moved]] = new[moved]
        stuck = ~moved  # no descent left at machine precision (or a singular Hessian): let _fit decide
        active = active[~stuck]
        if not active.size:
            break
    return theta, phi, done

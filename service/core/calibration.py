"""Position-balanced calibration: decisions, BPDE, review selection, reliability report."""

from __future__ import annotations

import functools
import math
from collections import Counter
from typing import Any, Sequence

from service.core import bias_factors
from service.core.protocol import ItemVerdict
from service.core.statistics import entropy

OUTCOMES = ("a", "tie", "b")


def decide(preference: float, tie_margin: float) -> str:
    """Outcome from a preference for A: 'a' above ½+δ, 'b' below ½−δ, else 'tie'."""
    if preference > 0.5 + tie_margin:
        return "a"
    if preference < 0.5 - tie_margin:
        return "b"
    return "tie"


def majority_label(outcomes: Sequence[str | None], tie_margin: float) -> str | None:
    """Most common outcome among one order's calls; equal counts fall back to their mean."""
    present = [o for o in outcomes if o is not None]
    if len(present) <= 2:  # one call per order (the usual case) or two: no Counter needed
        if not present:
            return None
        if len(present) == 1 or present[0] == present[1]:
            return present[0]
    else:
        counts = Counter(present).most_common()
        if len(counts) == 1 or counts[0][1] > counts[1][1]:
            return counts[0][0]
    return decide(sum(_OUTCOME_VALUE[o] for o in present) / len(present), tie_margin)


_OUTCOME_VALUE = {"a": 1.0, "tie": 0.5, "b": 0.0}


def bpde(outcomes: Sequence[str | None]) -> float:
    """Balanced Position Diversity Entropy over the calls' {win, tie, lose} labels."""
    if not isinstance(outcomes, list):
        outcomes = list(outcomes)
    return _entropy_of_counts(outcomes.count("a"), outcomes.count("tie"), outcomes.count("b"))


@functools.lru_cache(maxsize=4096)
def _entropy_of_counts(wins: int, ties: int, losses: int) -> float:
    """The entropy of one count vector (a verdict's calls give few distinct ones: each is computed once)."""
    return entropy([wins, ties, losses])


def select_for_review(bpdes: Sequence[float | None], review_fraction: float) -> list[bool]:
    """Flag the top ``review_fraction`` of items by BPDE (only items with BPDE > 0)."""
    n_flag = math.floor(review_fraction * len(bpdes) + 0.5)  # half up, not banker's rounding
    ranked = sorted(
        (i for i, b in enumerate(bpdes) if b is not None and b > 0),
        key=lambda i: (-bpdes[i], i),
    )
    chosen = set(ranked[:n_flag])
    return [i in chosen for i in range(len(bpdes))]


def reliability_basics(verdicts: Sequence[ItemVerdict]) -> dict[str, Any]:
    """What every judged protocol reports: unscored rate, mean BPDE, BPDE histogram, calls, reviews.

    The unscored rate is over the items the judge answered: a failed item (every call failed) says
    nothing about whether the judge's output is readable.
    """
    return _basics(verdicts, [not v.failed and not _judge_unscored(v) for v in verdicts], _readable_calls(verdicts))


def _basics(verdicts: Sequence[ItemVerdict], judged: Sequence[bool], calls: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """``reliability_basics`` given which verdicts the judge scored and the calls it answered readably."""
    n_answered = sum(not v.failed for v in verdicts)
    bpdes = [v.bpde for v, scored in zip(verdicts, judged) if scored and v.bpde is not None]
    return {
        "unscored_rate": (n_answered - judged.count(True)) / n_answered if n_answered else None,
        "mean_bpde": sum(bpdes) / len(bpdes) if bpdes else None,
        "bpde_histogram": bpde_histogram(bpdes),
        "n_calls_scored": len(calls),
        "n_reviewed": sum(v.reviewed for v in verdicts),
    }


def _readable_calls(verdicts: Sequence[ItemVerdict]) -> list[dict[str, Any]]:
    """Every verdict's calls whose label was read, in order."""
    return [c for v in verdicts for c in v.details.get("calls", []) if c.get("label") is not None]


def bpde_histogram(bpdes: Sequence[float], bins: int = 5) -> list[dict[str, float]]:
    """Counts of BPDE values in equal bins over [0, ln 3] (the maximum for three labels) or the largest value."""
    top = max([math.log(3), *bpdes])
    counts = [0] * bins
    for value in bpdes:
        counts[min(int(value / top * bins), bins - 1)] += 1
    return [{"low": top * i / bins, "high": top * (i + 1) / bins, "count": c} for i, c in enumerate(counts)]


def reliability_report(verdicts: Sequence[ItemVerdict], orders: Sequence[str], items: Sequence[Any] = (),
                       compared: tuple[str, str] | None = None) -> dict[str, Any]:
    """Two-response protocols: position consistency, first-position win rate, tie rate, the basics, bias factors.

    ``items`` (aligned with ``verdicts``) and ``compared`` (the protocol's page_view.compared: the item fields
    of responses A and B) feed the factor-level bias report; without them only its position and side rows count.
    """
    judged = [not v.failed and not _judge_unscored(v) for v in verdicts]
    outcomes = [_judge_outcome(v) if scored else None for v, scored in zip(verdicts, judged)]  # None: not judged
    calls = _readable_calls(verdicts)
    first_wins = [1.0 if c["label"] == "1" else 0.5 if c["label"] == "tie" else 0.0 for c in calls]
    n_judged = judged.count(True)
    report: dict[str, Any] = {
        "position_consistency_rate": _position_consistency(verdicts, judged, orders) if len(orders) == 2 else None,
        "first_position_win_rate": sum(first_wins) / len(first_wins) if first_wins else None,
        "tie_rate": outcomes.count("tie") / n_judged if n_judged else None,
    }
    report.update(_basics(verdicts, judged, calls))
    report["bias_factors"] = _bias_factors(verdicts, outcomes, items, compared, first_wins)
    return report


def _position_consistency(verdicts: Sequence[ItemVerdict], judged: Sequence[bool], orders: Sequence[str]) -> float | None:
    """The share of the judged verdicts with a majority in every order whose orders agree; None without any."""
    both = [v for v, scored in zip(verdicts, judged) if scored and all(map(v.details.get("order_majority", {}).get,
                                                                           orders))]
    return sum(not v.position_inconsistent for v in both) / len(both) if both else None


def _bias_factors(verdicts: Sequence[ItemVerdict], judge: Sequence[str | None], items: Sequence[Any],
                  compared: tuple[str, str] | None, first_credits: Sequence[float]) -> dict[str, Any]:
    """The factor-level report over the judge's own outcomes (a human review does not change the judge's bias)."""
    items = list(items) or [None] * len(verdicts)
    humans = [getattr(item, "human_label", None) for item in items]
    pairs = [None if item is None else bias_factors.response_pair(item, compared) for item in items]
    return bias_factors.bias_report(pairs, judge, humans, first_credits)


def _judge_unscored(verdict: ItemVerdict) -> bool:
    """Unscored by the judge (a human review does not change the judge's reliability)."""
    return verdict.details.get("judge", {}).get("unscored", False) if verdict.reviewed else verdict.unscored


def _judge_outcome(verdict: ItemVerdict) -> str | None:
    return verdict.details.get("judge", {}).get("outcome") if verdict.reviewed else verdict.outcome

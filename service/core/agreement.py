"""Judge–human agreement and human review of verdicts (pure)."""

from __future__ import annotations

from collections import Counter
from dataclasses import replace
from typing import Any, Hashable, Mapping, Sequence

from service.core.protocol import ItemVerdict
from service.core.statistics import kappa_and_pi


def agreement(human: Sequence[Hashable | None], judged: Sequence[Hashable | None]) -> dict[str, Any] | None:
    """Accuracy, Cohen's κ and Scott's π over the pairs where both labels exist; None when there are none."""
    pairs = {key: count for key, count in Counter(zip(human, judged)).items()
             if key[0] is not None and key[1] is not None}
    if not pairs:
        return None
    n = sum(pairs.values())
    kappa, pi = kappa_and_pi(pairs)
    return {
        "n": n,
        "accuracy": sum(count for (h, j), count in pairs.items() if h == j) / n,
        "cohen_kappa": kappa,
        "scott_pi": pi,
    }


def agreement_report(
    human: Sequence[Hashable | None],
    calibrated: Sequence[Hashable | None],
    after_review: Sequence[Hashable | None],
    per_order: Mapping[str, Sequence[Hashable | None]] | None = None,
) -> dict[str, Any] | None:
    """Agreement with human labels per order, after calibration and after human review."""
    if not any(h is not None for h in human):
        return None
    report: dict[str, Any] = {
        "n_human_labelled": sum(h is not None for h in human),
        "calibrated": agreement(human, calibrated),
        "after_review": agreement(human, after_review),
    }
    if per_order:
        report["per_order"] = {order: agreement(human, labels) for order, labels in per_order.items()}
    return report


def judge_value(verdict: ItemVerdict, key: str) -> Any:
    """The judge's own outcome/score of a verdict, even after a human review replaced it."""
    if verdict.reviewed:
        return verdict.details.get("judge", {}).get(key)
    return getattr(verdict, key)


def judge_label(verdict: ItemVerdict, key: str) -> Any:
    """The judge's own ``key`` (outcome or score), None where the judge left the item unscored, also after a human
    review replaced it."""
    if verdict.reviewed:
        judge = verdict.details.get("judge", {})
        return None if judge.get("unscored") else judge.get(key)
    return None if verdict.unscored else getattr(verdict, key)


def reviewed_verdict(verdict: ItemVerdict, outcome: str | None, score: float | None,
                     human: Mapping[str, Any], **details: Any) -> ItemVerdict:
    """A copy of ``verdict`` whose outcome and score come from a human label.

    The judge's own outcome, score and unscored flag are kept under ``details["judge"]``
    (from the first review, so re-reviewing never loses them).
    """
    judge = verdict.details.get("judge") if verdict.reviewed else {
        "outcome": verdict.outcome, "score": verdict.score, "unscored": verdict.unscored}
    new_details = {**verdict.details, **details, "judge": judge, "human": dict(human)}
    return replace(verdict, outcome=outcome, score=score, unscored=False, reviewed=True, details=new_details)

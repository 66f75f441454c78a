"""Combining one pairwise item's calls into its verdict: per-call details, turns, order majorities, BPDE.

The worker's hot path (every item of every evaluation): what each label means in each order is looked
up in the scale's tables (``two_responses.order_table``) rather than derived per call, with the same
arithmetic in the same order, so verdicts are identical to the per-call functions' (tested).
"""

from __future__ import annotations

from typing import Any, Sequence

from service.core import calibration
from service.core.protocol import CallResult, ItemVerdict
from service.core.protocols.pairwise.models import PairwiseItem, PairwiseOptions
from service.core.protocols.pairwise.turns import split_order
from service.core.two_responses import THREE_POINT, VerdictScale, battle_for_a, order_table

# (the call as stored, minus its turn; its order without the turn; its turn)
Call = tuple[dict[str, Any], str, int]


def combine_calls(item: PairwiseItem, results: Sequence[CallResult], options: PairwiseOptions,
                  scale: VerdictScale) -> ItemVerdict:
    """Average preferences over all calls, decide, and flag position inconsistency (see PairwiseProtocol.combine)."""
    calls = [call_details(r, scale) for r in results]
    scored = [c for c in calls if c[0]["preference"] is not None]
    if not scored:
        return ItemVerdict(outcome=None, score=None, unscored=True, details={"calls": [c for c, _, _ in calls]})
    battle = _item_battle(results, scale) if scale is not THREE_POINT else None
    orders, margin = options.order_names(), options.tie_margin
    numbers = sorted({turn for _, _, turn in scored})
    if len(numbers) == 1:
        turns = [_turn_result(numbers[0], scored, orders, margin)]
        majorities = turns[0][1]
    else:
        turns = [_turn_result(t, [c for c in scored if c[2] == t], orders, margin) for t in numbers]
        majorities = _majorities(scored, orders, margin)
    preference = sum(t["preference"] for t, _ in turns) / len(turns)
    stored = [{**c, "turn": turn} for c, _, turn in calls] if item.multi_turn else [c for c, _, _ in calls]
    details: dict[str, Any] = {"calls": stored, "order_majority": majorities}
    if item.multi_turn:
        details["turns"] = [{k: v for k, v in t.items() if k != "bpde"} for t, _ in turns]
    if battle:
        details["battle"] = battle
    return ItemVerdict(
        outcome=calibration.decide(preference, margin),
        score=preference,
        unscored=False,
        position_inconsistent=any(t["position_inconsistent"] for t, _ in turns),
        bpde=sum(t["bpde"] for t, _ in turns) / len(turns),
        details=details,
    )


def call_details(result: CallResult, scale: VerdictScale) -> Call:
    """One call in the verdict: ``label`` is the winning slot (1, 2, tie) on every scale, ``verdict`` the
    five-point label when there is one (the reliability report counts slots, whatever the scale)."""
    order, turn = split_order(result.order)
    label, probs = result.label, result.label_probs
    if label is None and not probs:  # an unreadable call
        call = {"order": result.order, "sample": result.sample, "label": None, "outcome": None, "preference": None}
    else:
        table = order_table(scale, order)
        call = {"order": result.order, "sample": result.sample,
                "label": None if label is None else table.slot[label],
                "outcome": None if label is None else table.outcome[label],
                "preference": table.preference(label, probs)}
    if scale is not THREE_POINT:
        call["verdict"] = label
    return call, order, turn


def _majorities(calls: Sequence[Call], orders: Sequence[str], tie_margin: float) -> dict[str, str | None]:
    """Each order's majority outcome over the given calls (all turns pooled)."""
    return {order: calibration.majority_label([c["outcome"] for c, base, _ in calls if base == order], tie_margin)
            for order in orders}


def _turn_result(turn: int, calls: Sequence[Call], orders: Sequence[str],
                 tie_margin: float) -> tuple[dict[str, Any], dict[str, str | None]]:
    """One turn's preference (mean of its calls), outcome, position consistency and BPDE; and its majorities."""
    preference = sum(c["preference"] for c, _, _ in calls) / len(calls)
    majorities = _majorities(calls, orders, tie_margin)
    present = [m for m in majorities.values() if m is not None]
    return {"turn": turn, "preference": preference, "outcome": calibration.decide(preference, tie_margin),
            "position_inconsistent": len(present) == 2 and present[0] != present[1],
            "bpde": calibration.bpde([c["outcome"] for c, _, _ in calls])}, majorities


def _item_battle(results: Sequence[CallResult], scale: VerdictScale) -> dict[str, float] | None:
    """The item's Bradley–Terry battle: A's share of the weighted battles and the battles per call."""
    battles = [b for r in results
               if (b := battle_for_a(split_order(r.order)[0], r.label, r.label_probs, scale)) is not None]
    total = sum(weight for _, weight in battles)
    if not battles or total <= 0:
        return None
    return {"score": sum(credit for credit, _ in battles) / total, "weight": total / len(battles)}

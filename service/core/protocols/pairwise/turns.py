"""Multi-turn pairwise comparison, as FastChat's MT-Bench pairwise judging does it: every turn compared.

Turn 1 is compared like a single-turn item (FastChat ``pair-v2`` / ``pair-math-v1``). Turn t > 1 shows
each model's whole conversation up to t, with its own earlier answers, one after the other, and the
reference answers of those turns where the item has them, and asks which answer to turn t is better
(``pair-v2-multi-turn`` / ``pair-math-v1-multi-turn``). Turn t's calls carry the order keys ``ab`` and
``ba`` for turn 1 and ``ab.t<t>``, ``ba.t<t>`` after it. An item's preference is the mean of its turns'
preferences (each turn one comparison, as FastChat counts matches); the summary reports each turn and
each category.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any, Sequence

from service.core import turn_summaries
from service.core.delimiters import enclose
from service.core.protocol import ItemVerdict
from service.core.protocols.pairwise.models import PairwiseItem
from service.core.statistics import bootstrap_mean_ci
from service.core.two_responses import ORDERS

TURN_SEPARATOR = ".t"


def turn_order(order: str, turn: int) -> str:
    """The order key of one order's calls on a turn (1-based): ``ab`` on turn 1, ``ab.t2`` on turn 2."""
    return order if turn == 1 else f"{order}{TURN_SEPARATOR}{turn}"


def split_order(key: str) -> tuple[str, int]:
    """(order, turn) of a call's order key."""
    order, _, turn = key.partition(TURN_SEPARATOR)
    return order, int(turn) if turn else 1


def turn_sections(item: PairwiseItem, order: str, turn: int, slot_names: tuple[str, str]) -> list[str]:
    """The sections of a later turn (t > 1): references, then the two conversations in the order's slots."""
    turns = item.turns or []
    references = item.reference_turns or [None] * len(turns)
    parts = []
    if any(references[:turn]):
        shown = [f"[User turn {t}]\n{enclose(turns[t - 1])}\n\n[Reference answer to turn {t}]\n"
                 f"{enclose(references[t - 1])}" for t in range(1, turn + 1) if references[t - 1]]
        parts.append("[Reference answers]\n" + "\n\n".join(shown) + "\n[End of reference answers]")
    for name, side in zip(slot_names, ORDERS[order]):
        answers = getattr(item, f"responses_{side}") or []
        exchanged = [f"[User turn {t}]\n{enclose(turns[t - 1])}\n\n[{name}, turn {t}]\n{enclose(answers[t - 1])}"
                     for t in range(1, turn + 1)]
        parts.append(f"[Conversation with {name}]\n" + "\n\n".join(exchanged) + "\n[End of conversation]")
    return parts


def turn_instruction(turn: int) -> str:
    """What a later turn's prompt asks the judge to compare (said before the verdict question)."""
    return (f"Compare only the two assistants' answers to user turn {turn}, the last turn of each conversation; "
            "the earlier turns are context.")


def per_turn(verdicts: Sequence[ItemVerdict], seed: int) -> dict[str, dict[str, Any]]:
    """Win rate of A on each turn over the scored items (a single-turn item's preference is its turn 1)."""
    return {str(turn): {"n": len(values), "win_rate": sum(values) / len(values),
                        "win_rate_ci95": bootstrap_mean_ci(values, seed=seed)}
            for turn, values in _preferences_by_turn(verdicts).items()}


def per_category(items: Sequence[PairwiseItem], verdicts: Sequence[ItemVerdict],
                 with_turns: bool) -> dict[str, dict[str, Any]]:
    """Per category: scored items, A's win rate and (with multi-turn items) each turn's."""
    return turn_summaries.per_category([item.category for item in items], verdicts, "win_rate", _preferences_by_turn, with_turns)


def _preferences_by_turn(verdicts: Sequence[ItemVerdict]) -> dict[int, list[float]]:
    """The judge's preference for A on each turn of each scored verdict (a review changes the item, not its turns)."""
    by_turn: dict[int, list[float]] = defaultdict(list)
    for verdict in verdicts:
        if not verdict.scored:
            continue
        turns = verdict.details.get("turns")
        if turns is None:
            by_turn[1].append(verdict.score)
        for entry in turns or []:
            if entry["preference"] is not None:
                by_turn[entry["turn"]].append(entry["preference"])
    return dict(sorted(by_turn.items()))

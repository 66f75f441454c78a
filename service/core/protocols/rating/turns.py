"""Multi-turn rating, as FastChat's MT-Bench single-answer grading does it: every turn graded on its own.

Turn 1 is rendered like a single-turn item (its question, its reference, the model's answer: FastChat's
``single-v1`` / ``single-math-v1``). Turn t > 1 shows the whole conversation up to t with the model's
own earlier answers, and the reference answers of those turns where the item has them, and asks for a
grade of the answer to turn t only (``single-v1-multi-turn`` / ``single-math-v1-multi-turn``). Each
turn's calls carry the order key ``turn<t>``; the item's score is the mean of its turns' scores
(MT-Bench's average), and the summary reports each turn and each category (MT-Bench's table).
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any, Sequence

from service.core import turn_summaries
from service.core.delimiters import enclose
from service.core.protocol import ItemVerdict
from service.core.protocols.rating.models import RatingItem
from service.core.statistics import bootstrap_mean_ci

TURN_PREFIX = "turn"


def turn_key(turn: int) -> str:
    """The order key of a turn's calls (1-based turn)."""
    return f"{TURN_PREFIX}{turn}"


def turn_number(order: str) -> int:
    """The turn an order key names (1 for a single-turn item's calls)."""
    return int(order[len(TURN_PREFIX):]) if order.startswith(TURN_PREFIX) else 1


def turn_sections(item: RatingItem, turn: int) -> list[str]:
    """The prompt sections between the rubric and the question for one turn (1-based) of a multi-turn item."""
    turns, responses = item.turns or [], item.responses or []
    references = item.reference_turns or [None] * len(turns)
    if turn == 1:
        parts = [f"[User request]\n{enclose(turns[0])}"]
        if references[0]:
            parts.append(f"[Reference answer]\n{enclose(references[0])}")
        parts.append(f"[Response]\n{enclose(responses[0])}\n[End of response]")
        return parts
    parts = []
    if any(references[:turn]):
        shown = [f"[User turn {t}]\n{enclose(turns[t - 1])}\n\n[Reference answer to turn {t}]\n"
                 f"{enclose(references[t - 1])}" for t in range(1, turn + 1) if references[t - 1]]
        parts.append("[Reference answers]\n" + "\n\n".join(shown) + "\n[End of reference answers]")
    exchanged = [f"[User turn {t}]\n{enclose(turns[t - 1])}\n\n[Assistant turn {t}]\n{enclose(responses[t - 1])}"
                 for t in range(1, turn + 1)]
    parts.append("[Conversation]\n" + "\n\n".join(exchanged) + "\n[End of conversation]")
    return parts


def turn_instruction(turn: int) -> str:
    """What a later turn's prompt asks the judge to grade (said before the rubric question)."""
    return (f"Grade only the assistant's answer to user turn {turn}, the last turn of the conversation; "
            "the earlier turns are context.")


def per_turn(verdicts: Sequence[ItemVerdict], seed: int) -> dict[str, dict[str, Any]]:
    """Mean score of each turn over the scored items (a single-turn item's score is its turn 1)."""
    return {str(turn): {"n": len(scores), "mean_score": sum(scores) / len(scores),
                        "mean_score_ci95": bootstrap_mean_ci(scores, seed=seed)}
            for turn, scores in _scores_by_turn(verdicts).items()}


def _scores_by_turn(verdicts: Sequence[ItemVerdict]) -> dict[int, list[float]]:
    by_turn: dict[int, list[float]] = defaultdict(list)
    for verdict in verdicts:
        for turn, score in turn_scores(verdict).items():
            by_turn[turn].append(score)
    return dict(sorted(by_turn.items()))


def per_category(items: Sequence[RatingItem], verdicts: Sequence[ItemVerdict],
                 with_turns: bool) -> dict[str, dict[str, Any]]:
    """Per category: scored items, their mean score and (with multi-turn items) each turn's."""
    return turn_summaries.per_category([item.category for item in items], verdicts, "mean_score", _scores_by_turn, with_turns)


def turn_scores(verdict: ItemVerdict) -> dict[int, float]:
    """The judge's score of each turn of a scored verdict (a review changes the item's score, not its turns)."""
    if not verdict.scored:
        return {}
    turns = verdict.details.get("turns")
    if turns is None:
        return {1: verdict.score} if verdict.score is not None else {}
    return {entry["turn"]: entry["score"] for entry in turns if entry["score"] is not None}

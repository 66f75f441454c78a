"""Summaries per category of items that may have several turns (MT-Bench's table), shared by protocols."""

from __future__ import annotations

from collections import defaultdict
from typing import Any, Callable, Sequence

from service.core.protocol import ItemVerdict

# a verdict list → each turn's values over those verdicts (turn number → values)
TurnValues = Callable[[Sequence[ItemVerdict]], dict[int, list[float]]]


def per_category(categories: Sequence[str | None], verdicts: Sequence[ItemVerdict], metric: str,
                 values_by_turn: TurnValues, with_turns: bool) -> dict[str, dict[str, Any]]:
    """Per category: scored items, the mean of their scores as ``metric`` and (with turns) each turn's mean."""
    grouped: dict[str, list[ItemVerdict]] = defaultdict(list)
    for category, verdict in zip(categories, verdicts):
        if category is not None:
            grouped[category].append(verdict)
    report = {}
    for category, members in sorted(grouped.items()):
        scores = [v.score for v in members if v.scored and v.score is not None]
        turns = ({str(turn): sum(values) / len(values) for turn, values in values_by_turn(members).items()}
                 if with_turns else None)
        report[category] = {"n": len(scores), metric: sum(scores) / len(scores) if scores else None,
                            "per_turn": turns}
    return report

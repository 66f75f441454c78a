"""Queries of the regression gate: each item's contribution to its evaluation's metric."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from service.models import Item, Verdict

# protocols whose metric counts an outcome (accuracy), not the mean of the item scores
OUTCOME_METRICS = {"answer_matching": "match"}


def metric_values_by_item(session: Session, evaluation_id: str, protocol: str) -> dict[str, float]:
    """Item id → the item's value in the metric: 1/0 for a counted outcome, else the verdict's score."""
    query = (
        select(Item.item_key, Verdict.score, Verdict.outcome)
        .join(Verdict, Verdict.item_id == Item.id)
        .where(Item.evaluation_id == evaluation_id, Verdict.unscored.is_(False), Verdict.failed.is_(False))
    )
    counted = OUTCOME_METRICS.get(protocol)
    if counted is None:
        return {key: score for key, score, _ in session.execute(query) if score is not None}
    return {key: float(outcome == counted) for key, _, outcome in session.execute(query)}

"""Queries of the regression gate: each item's contribution to its evaluation's metric."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from service.core.protocol_meta import MetricKind
from service.models import Item, Verdict

def metric_values_by_item(session: Session, evaluation_id: str, metric_kind: MetricKind) -> dict[str, float]:
    """Item id → the item's value in the metric (``MetricKind.item_value``: 1/0 for a counted outcome, else the score)."""
    query = (
        select(Item.item_key, Verdict.score, Verdict.outcome)
        .join(Verdict, Verdict.item_id == Item.id)
        .where(Item.evaluation_id == evaluation_id, Verdict.unscored.is_(False), Verdict.failed.is_(False))
    )
    values = {key: metric_kind.item_value(outcome, score) for key, score, outcome in session.execute(query)}
    return {key: value for key, value in values.items() if value is not None}


def scored_items(session: Session, evaluation_id: str) -> list[tuple[str, str | None, float | None, str | None]]:
    """(item id, outcome, score, category) of every scored item of an evaluation (failed and unscored left out)."""
    query = (
        select(Item.item_key, Verdict.outcome, Verdict.score, Item.payload["category"].as_string())
        .join(Verdict, Verdict.item_id == Item.id)
        .where(Item.evaluation_id == evaluation_id, Verdict.unscored.is_(False), Verdict.failed.is_(False))
    )
    return [(key, outcome, score, category) for key, outcome, score, category in session.execute(query)]


def payloads(session: Session, evaluation_id: str, item_ids: list[str]) -> dict[str, dict]:
    """Item id → the stored item (as validated at submission) for these items of an evaluation."""
    if not item_ids:
        return {}
    query = select(Item.item_key, Item.payload).where(Item.evaluation_id == evaluation_id,
                                                      Item.item_key.in_(item_ids))
    return {key: payload for key, payload in session.execute(query)}

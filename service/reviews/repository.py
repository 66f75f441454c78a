"""All database queries about reviews."""

from __future__ import annotations

import uuid
from typing import Any, Sequence

from sqlalchemy import and_, func, or_, select, update
from sqlalchemy.orm import Session

from service.db.conflict import insert_ignoring_conflicts
from service.evaluations.repository import now
from service.models import Evaluation, Item, Review, Verdict

STATUSES = ("open", "done")


def open_reviews(session: Session, evaluation_id: str, flagged: Sequence[tuple[int, float | None]]) -> None:
    """Open a review for each flagged (item id, BPDE); an item already in the queue keeps its review."""
    rows = [{"id": str(uuid.uuid4()), "evaluation_id": evaluation_id, "item_id": item_id, "status": "open",
             "bpde": bpde, "created_at": now()} for item_id, bpde in flagged]
    if rows:
        insert_ignoring_conflicts(session, Review, rows, ("item_id",))


def lock_review(session: Session, project_id: str, review_id: str) -> Review | None:
    """A project's review, row-locked (a review of another project is neither returned nor locked)."""
    query = (select(Review).join(Evaluation, Evaluation.id == Review.evaluation_id)
             .where(Review.id == review_id, Evaluation.project_id == project_id).with_for_update(of=Review))
    return session.scalars(query).first()


def review_page(session: Session, project_id: str, status: str | None, evaluation_id: str | None,
                after: tuple[float, str] | None, limit: int) -> list[tuple[Review, Item, Verdict]]:
    """A project's reviews, highest BPDE first (ties by id), after a keyset position; with item and verdict."""
    bpde = func.coalesce(Review.bpde, 0.0)
    query = (select(Review, Item, Verdict)
             .join(Evaluation, Evaluation.id == Review.evaluation_id)
             .join(Item, Item.id == Review.item_id)
             .join(Verdict, Verdict.item_id == Review.item_id)
             .where(Evaluation.project_id == project_id))
    if status is not None:
        query = query.where(Review.status == status)
    if evaluation_id is not None:
        query = query.where(Review.evaluation_id == evaluation_id)
    if after is not None:
        query = query.where(or_(bpde < after[0], and_(bpde == after[0], Review.id > after[1])))
    query = query.order_by(bpde.desc(), Review.id).limit(limit)
    return [(review, item, verdict) for review, item, verdict in session.execute(query)]


def review_with_item(session: Session, project_id: str, review_id: str) -> tuple[Review, Item, Verdict] | None:
    """A project's review with its item and verdict."""
    query = (select(Review, Item, Verdict).join(Evaluation, Evaluation.id == Review.evaluation_id)
             .join(Item, Item.id == Review.item_id).join(Verdict, Verdict.item_id == Review.item_id)
             .where(Review.id == review_id, Evaluation.project_id == project_id))
    row = session.execute(query).first()
    return (row[0], row[1], row[2]) if row else None


def record(session: Session, review_id: str, label: dict[str, Any], reviewer: str, note: str | None) -> None:
    """Store a human label on a review and close it."""
    session.execute(update(Review).where(Review.id == review_id).values(
        status="done", label=label, reviewer=reviewer, note=note, reviewed_at=now()))


def counts(session: Session, evaluation_id: str) -> dict[str, int]:
    """Reviews of an evaluation by status."""
    query = (select(Review.status, func.count()).where(Review.evaluation_id == evaluation_id)
             .group_by(Review.status))
    found = {status: n for status, n in session.execute(query)}
    return {status: found.get(status, 0) for status in STATUSES}

"""All database queries about leaderboards and their snapshots."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any, Sequence

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from service.db.conflict import upsert
from service.core.tags import TagFilter
from service.evaluations.tag_queries import tag_condition
from service.models import Evaluation, Item, LeaderboardSnapshot, Verdict


def completed_evaluations(session: Session, project_id: str, suite: str, protocol: str, judge: str,
                          tags: Sequence[TagFilter] = ()) -> list[Evaluation]:
    """Completed evaluations of a project's suite × protocol × judge that may be on leaderboards, oldest first.

    Evaluations submitted with ``leaderboard: false`` never are; ``tags`` narrows to those with these tags.
    """
    query = select(Evaluation).where(
        Evaluation.project_id == project_id, Evaluation.suite == suite, Evaluation.protocol == protocol, Evaluation.judge == judge,
        Evaluation.status == "completed", Evaluation.leaderboard.is_(True), tag_condition(tags),
    )
    return list(session.scalars(query.order_by(Evaluation.completed_at, Evaluation.id)))


def mean_lengths(session: Session, evaluation_ids: list[str], field: str) -> dict[str, float]:
    """Evaluation id → mean length in characters of its items' ``field`` (the judged response)."""
    if not evaluation_ids:
        return {}
    length = func.avg(func.length(Item.payload[field].as_string()))
    query = select(Item.evaluation_id, length).where(Item.evaluation_id.in_(evaluation_ids)).group_by(Item.evaluation_id)
    return {evaluation_id: float(mean) for evaluation_id, mean in session.execute(query) if mean is not None}


def scores_of(session: Session, evaluation_ids: list[str]) -> list[tuple[str, float, Any]]:
    """(evaluation id, score, battle) of every scored verdict of these evaluations.

    ``battle`` is the verdict's ``details.battle`` (``{score, weight}``) when its protocol weights
    battles, else None.
    """
    if not evaluation_ids:
        return []
    query = select(Verdict.evaluation_id, Verdict.score, Verdict.details["battle"]).where(
        Verdict.evaluation_id.in_(evaluation_ids), Verdict.unscored.is_(False), Verdict.failed.is_(False)
    )
    return [(evaluation_id, score, battle) for evaluation_id, score, battle in session.execute(query)]


def put_snapshot(session: Session, project_id: str, suite: str, protocol: str, judge: str, etag: str,
                 body: dict[str, Any]) -> None:
    """Store (or replace) a leaderboard snapshot."""
    row = {"project_id": project_id, "suite": suite, "protocol": protocol, "judge": judge, "etag": etag, "body": body,
           "computed_at": datetime.now(timezone.utc)}
    upsert(session, LeaderboardSnapshot, [row], ("project_id", "suite", "protocol", "judge"),
           ("etag", "body", "computed_at"))


def get_snapshot(session: Session, project_id: str, suite: str, protocol: str, judge: str) -> LeaderboardSnapshot | None:
    """One stored snapshot."""
    return session.get(LeaderboardSnapshot, (project_id, suite, protocol, judge))


def judges_with_snapshots(session: Session, project_id: str, suite: str, protocol: str) -> list[str]:
    """Judges that have a leaderboard on this suite and protocol in a project."""
    query = select(LeaderboardSnapshot.judge).where(
        LeaderboardSnapshot.project_id == project_id, LeaderboardSnapshot.suite == suite, LeaderboardSnapshot.protocol == protocol
    )
    return sorted(session.scalars(query))

"""All database queries about leaderboards and their snapshots."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from service.db.conflict import upsert
from service.models import Evaluation, LeaderboardSnapshot, Verdict


def completed_evaluations(session: Session, project_id: str, suite: str, protocol: str, judge: str) -> list[Evaluation]:
    """Completed evaluations of a project's suite × protocol × judge, oldest first."""
    query = select(Evaluation).where(
        Evaluation.project_id == project_id, Evaluation.suite == suite, Evaluation.protocol == protocol, Evaluation.judge == judge,
        Evaluation.status == "completed",
    )
    return list(session.scalars(query.order_by(Evaluation.completed_at, Evaluation.id)))


def scores_of(session: Session, evaluation_ids: list[str]) -> list[tuple[str, float]]:
    """(evaluation id, score) of every scored verdict of these evaluations."""
    if not evaluation_ids:
        return []
    query = select(Verdict.evaluation_id, Verdict.score).where(
        Verdict.evaluation_id.in_(evaluation_ids), Verdict.unscored.is_(False), Verdict.failed.is_(False)
    )
    return [(evaluation_id, score) for evaluation_id, score in session.execute(query)]


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

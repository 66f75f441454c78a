"""Worker heartbeats: which judges a live worker serves right now."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Sequence

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from service.db.clock import database_clock, database_now
from service.db.conflict import upsert
from service.models import WorkerHeartbeat


def beat(session: Session, worker_id: str, judges: Sequence[str], hostname: str, pid: int) -> None:
    """Record that ``worker_id`` is alive and serving ``judges`` (on the database's clock, as all heartbeat times)."""
    now = database_now(session)
    rows = [
        {"worker_id": worker_id, "judge": judge, "hostname": hostname, "pid": pid,
         "started_at": now, "last_seen": now}
        for judge in judges
    ]
    upsert(session, WorkerHeartbeat, rows, ("worker_id", "judge"), ("last_seen", "hostname", "pid"))


def retire(session: Session, worker_id: str) -> None:
    """Forget a worker that is shutting down cleanly."""
    session.execute(delete(WorkerHeartbeat).where(WorkerHeartbeat.worker_id == worker_id))


def live_workers(session: Session, ttl_seconds: float) -> dict[str, int]:
    """Number of workers seen within ``ttl_seconds``, per judge."""
    cutoff = database_clock(session) - timedelta(seconds=ttl_seconds)
    query = (
        select(WorkerHeartbeat.judge, func.count())
        .where(WorkerHeartbeat.last_seen >= cutoff)
        .group_by(WorkerHeartbeat.judge)
    )
    return {judge: count for judge, count in session.execute(query)}


def last_seen_of(session: Session, worker_ids: list[str]) -> dict[str, datetime]:
    """When each of these workers last beat (latest over its judges); unknown workers are absent."""
    if not worker_ids:
        return {}
    query = (select(WorkerHeartbeat.worker_id, func.max(WorkerHeartbeat.last_seen))
             .where(WorkerHeartbeat.worker_id.in_(worker_ids)).group_by(WorkerHeartbeat.worker_id))
    return {worker: (seen if seen.tzinfo else seen.replace(tzinfo=timezone.utc)) for worker, seen in session.execute(query)}

"""Recovery of lost work, run by the gateway: chunks whose job vanished or whose worker died are queued again.

RQ alone does not do this soon enough: a job whose worker was killed stays "started" until its
timeout runs out (an hour by default), and a Redis restart without persistence forgets every queued
job. Every ``reaper_interval_seconds`` one gateway (a Postgres advisory lock elects it) compares the
pending chunks of running evaluations with their RQ jobs:

- no job at all (Redis lost it), or a job that ended (failed for good, stopped; or finished more than
  ``heartbeat_ttl_seconds`` ago: its worker's closing writer did not commit the chunk) while its chunk
  is still pending → queue the chunk again;
- a started job whose worker's heartbeat (``worker_heartbeats``, every ``heartbeat_seconds``) is older
  than ``heartbeat_ttl_seconds`` → the worker died: queue the chunk again.

Queuing again is safe: a chunk's calls are unique per (item, order, sample), so a chunk that runs
twice stores nothing twice, and its progress counts once. A chunk started ``MAX_CHUNK_ATTEMPTS``
times is closed as failed by the worker that starts it next, and one whose job raised on
``MAX_RAISING_ATTEMPTS`` starts by the job itself, so an evaluation never stays running.
"""

from __future__ import annotations

import logging
import threading
from datetime import datetime, timedelta, timezone

from rq.job import Job, JobStatus
from sqlalchemy import text
from sqlalchemy.orm import Session

from service.config import Settings
from service.db.clock import database_now
from service.db.engine import session_scope
from service.evaluations import repository as repo
from service.idempotency import repository as idempotency_repo
from service.judges.heartbeats import last_seen_of
from service.queue import Dispatcher

log = logging.getLogger(__name__)
ENDED = {JobStatus.FAILED, JobStatus.STOPPED, JobStatus.CANCELED, JobStatus.FINISHED}
REAPER_LOCK = 0x6A756467  # the advisory lock key that elects one reaping gateway


def lost_chunks(session: Session, settings: Settings, connection) -> list[tuple[str, str, int, str]]:
    """(evaluation id, judge, chunk index, why) of every pending chunk whose job is gone or whose worker died."""
    from service.evaluations.service import chunk_job_id

    now = database_now(session)  # the clock the heartbeats were written on
    # a new evaluation's chunks may still be being queued by the gateway that accepted it: leave it a while
    pending = repo.pending_chunks_of_active(session, created_before=now - timedelta(seconds=settings.heartbeat_ttl_seconds))
    if not pending:
        return []
    jobs = Job.fetch_many([chunk_job_id(e, i) for e, _, i in pending], connection=connection)
    workers = {job.worker_name for job in jobs if job is not None and job.worker_name}
    seen = last_seen_of(session, sorted(workers))
    lost = []
    for (evaluation_id, judge, index), job in zip(pending, jobs):
        why = _why_lost(job, seen, now, timedelta(seconds=settings.heartbeat_ttl_seconds))
        if why:
            lost.append((evaluation_id, judge, index, why))
    return lost


def _why_lost(job: Job | None, seen: dict[str, datetime], now: datetime, ttl: timedelta) -> str | None:
    if job is None:
        return "its job is missing from Redis"
    status = job.get_status(refresh=False)
    if status == JobStatus.FINISHED and job.ended_at and job.ended_at.replace(tzinfo=timezone.utc) >= now - ttl:
        return None  # a worker's closing writer may still be committing the chunk (workers/closing_writer.py)
    if status in ENDED:
        return f"its job ended ({JobStatus(status).value}) but the chunk is not done"
    if status != JobStatus.STARTED:
        return None
    last = seen.get(job.worker_name or "")
    started = job.started_at.replace(tzinfo=timezone.utc) if job.started_at else now
    if last is None and started < now - ttl:
        return f"its worker {job.worker_name!r} never reported a heartbeat"
    if last is not None and last < now - ttl:
        return f"its worker {job.worker_name!r} stopped beating at {last:%H:%M:%S}"
    return None


def reap(settings: Settings, dispatcher: Dispatcher, connection) -> int:
    """Queue lost chunks again (only the gateway holding the reaper lock does); how many."""
    from service.evaluations.service import chunk_job_id, enqueue_chunk

    with session_scope(settings.effective_database_url()) as session:
        if session.get_bind().dialect.name == "postgresql" and not session.scalar(
                text("SELECT pg_try_advisory_xact_lock(:key)"), {"key": REAPER_LOCK}):
            return 0  # another gateway reaps
        idempotency_repo.purge_expired(session, datetime.now(timezone.utc))
        lost = lost_chunks(session, settings, connection)
        for evaluation_id, judge, index, why in lost:
            existing = Job.fetch_many([chunk_job_id(evaluation_id, index)], connection=connection)[0]
            if existing is not None:
                existing.delete(remove_from_queue=True)
            enqueue_chunk(dispatcher, settings, evaluation_id, judge, index)
            log.warning("queued chunk %d of evaluation %s again: %s", index, evaluation_id, why,
                        extra={"evaluation_id": evaluation_id, "chunk_index": index})
    return len(lost)


class Reaper(threading.Thread):
    """The gateway's background thread that calls ``reap`` every ``reaper_interval_seconds``."""

    def __init__(self, settings: Settings, dispatcher: Dispatcher):
        super().__init__(name="judgeserve-reaper", daemon=True)
        from redis import Redis

        self.settings, self.dispatcher = settings, dispatcher
        self.connection = Redis.from_url(settings.redis_url)
        self._stop_event = threading.Event()

    def run(self) -> None:
        """Reap until stopped; an outage of Redis or Postgres only skips a round."""
        while not self._stop_event.wait(self.settings.reaper_interval_seconds):
            try:
                reap(self.settings, self.dispatcher, self.connection)
            except Exception as exc:  # the next round tries again
                log.warning("reaper round failed: %s", exc)

    def stop(self) -> None:
        """Stop after the current round."""
        self._stop_event.set()
        self.join(timeout=10)

"""When the reaper takes a pending chunk's job for lost (table-driven over the job's state)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from rq.job import JobStatus

from service.evaluations.reaper import _why_lost

NOW = datetime(2026, 12, 7, 12, 0, tzinfo=timezone.utc)
TTL = timedelta(seconds=30)


class Job:
    """The parts of an RQ job the reaper reads (RQ keeps its times naive, in UTC)."""

    def __init__(self, status, ended_ago=None, worker="w1", started_ago=60):
        self.status, self.worker_name = status, worker
        self.ended_at = None if ended_ago is None else (NOW - timedelta(seconds=ended_ago)).replace(tzinfo=None)
        self.started_at = (NOW - timedelta(seconds=started_ago)).replace(tzinfo=None)

    def get_status(self, refresh=True):
        return self.status


@pytest.mark.parametrize("job, seen_ago, lost", [
    (None, None, "missing from Redis"),
    (Job(JobStatus.QUEUED), None, None),
    (Job(JobStatus.FAILED, ended_ago=1), 1, "ended (failed)"),
    # a finished job whose worker's closing writer may still be committing the chunk: not lost yet
    (Job(JobStatus.FINISHED, ended_ago=1), 1, None),
    (Job(JobStatus.FINISHED, ended_ago=29), 1, None),
    # finished longer ago than the heartbeat TTL and the chunk is still pending: its closing never committed
    (Job(JobStatus.FINISHED, ended_ago=31), 1, "ended (finished)"),
    (Job(JobStatus.FINISHED), 1, "ended (finished)"),  # no end time recorded: as before
    (Job(JobStatus.STARTED), 1, None),
    (Job(JobStatus.STARTED), 31, "stopped beating"),
    (Job(JobStatus.STARTED, started_ago=31), None, "never reported a heartbeat"),
])
def test_why_a_pending_chunks_job_is_lost(job, seen_ago, lost):
    seen = {} if seen_ago is None else {"w1": NOW - timedelta(seconds=seen_ago)}
    why = _why_lost(job, seen, NOW, TTL)
    assert (why is None) if lost is None else (why is not None and lost in why)


def test_a_chunk_whose_closing_never_committed_is_queued_again_once_its_job_finished_a_ttl_ago(prod_settings):
    """A worker killed after RQ recorded its chunk job as finished, before its closing writer committed the
    chunk: the chunk is pending with a finished job. The reaper (real Redis, real Postgres) leaves it alone while
    a closing may still commit, then finds it lost."""
    from redis import Redis
    from rq.job import Job

    from service.db.engine import session_scope
    from service.evaluations import service
    from service.evaluations.pipeline import chunk_job_id
    from service.evaluations.reaper import lost_chunks
    from service.evaluations.schemas import EvaluationCreate
    from service.models import Evaluation
    from tests.support import project_id
    from tests.workers.jobs.chunk_jobs import RecordingDispatcher

    settings = prod_settings.model_copy(update={"heartbeat_ttl_seconds": 30.0})
    body = EvaluationCreate(protocol="pairwise", judge="scripted", model="m",
                            items=[{"id": "i0", "prompt": "p", "response_a": "a", "response_b": "bb"}])
    with session_scope(settings.database_url) as session:
        evaluation_id = service.submit(session, RecordingDispatcher(), settings, body, project_id(settings))
        evaluation = session.get(Evaluation, evaluation_id)
        evaluation.status, evaluation.created_at = "running", evaluation.created_at - timedelta(minutes=5)
    connection = Redis.from_url(settings.redis_url)
    job = Job.create("workers.jobs.judge_chunk.run", args=(evaluation_id, 0), id=chunk_job_id(evaluation_id, 0),
                     connection=connection)
    job.set_status(JobStatus.FINISHED)
    for ended_ago, lost in ((5, False), (45, True)):
        job.ended_at = (datetime.now(timezone.utc) - timedelta(seconds=ended_ago)).replace(tzinfo=None)
        job.save()
        with session_scope(settings.database_url) as session:
            found = lost_chunks(session, settings, connection)
        assert bool(found) is lost
    assert found == [(evaluation_id, "scripted", 0, "its job ended (finished) but the chunk is not done")]

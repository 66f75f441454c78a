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

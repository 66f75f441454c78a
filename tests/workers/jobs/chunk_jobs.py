"""What the chunk-job tests share: a dispatcher that records jobs, and what an evaluation stored."""

from __future__ import annotations

from sqlalchemy import func, select

from service.db.engine import session_scope
from service.models import Evaluation, Judgment, Verdict


class RecordingDispatcher:
    """Collects enqueued jobs instead of sending them (the job is then run by the test)."""

    def __init__(self):
        self.jobs = []
        self.fair_keys = []

    def enqueue(self, job, args, queue, job_id, timeout, fair_key=None):
        self.jobs.append((job, args, queue, job_id, timeout))
        self.fair_keys.append(fair_key)

    def ping(self):
        return True

    def close(self):
        pass


def counts(settings, evaluation_id):
    """(judgments, verdicts, done, chunks done, status) of an evaluation."""
    with session_scope(settings.database_url) as session:
        judgments = session.scalar(select(func.count()).select_from(Judgment).where(Judgment.evaluation_id == evaluation_id))
        verdicts = session.scalar(select(func.count()).select_from(Verdict).where(Verdict.evaluation_id == evaluation_id))
        evaluation = session.get(Evaluation, evaluation_id)
        return judgments, verdicts, evaluation.done, evaluation.chunks_done, evaluation.status

"""Projects take turns on a judge's queue (service.queue.FairQueue): real Redis, RQ and a real worker process."""

from __future__ import annotations

import subprocess
import sys

from redis import Redis
from rq import Queue
from sqlalchemy import select

from service.db.engine import session_scope
from service.evaluations import service
from service.evaluations.schemas import EvaluationCreate
from service.models import Evaluation
from service.queue import JUDGE_CHUNK_JOB, RQDispatcher
from tests.support import REPO, project_id, settings_env
from workers.judge_worker import JudgeWorker

QUEUE = "judgeserve.judge.fairness-test"


def push(dispatcher: RQDispatcher, name: str, fair_key: str | None = "") -> None:
    """Queue a job named ``name`` (its key: the part before the dash, unless given)."""
    key = name.split("-")[0] if fair_key == "" else fair_key
    dispatcher.enqueue("builtins.print", (name,), queue=QUEUE, job_id=name, timeout=60, fair_key=key)


def queued(redis: Redis) -> list[str]:
    return Queue(QUEUE, connection=redis).job_ids


def test_a_key_with_one_job_waits_for_one_job_of_each_busy_key(prod_settings):
    dispatcher = RQDispatcher(prod_settings)
    for i in range(30):
        push(dispatcher, f"a-{i}")
    push(dispatcher, "b-0")
    push(dispatcher, "b-1")
    push(dispatcher, "c-0")
    order = queued(dispatcher.redis)
    assert order[:7] == ["a-0", "b-0", "c-0", "a-1", "b-1", "a-2", "a-3"]
    assert len(order) == 33 and order[7:] == [f"a-{i}" for i in range(4, 30)]


def test_the_turns_start_from_the_job_a_worker_took_last(prod_settings):
    dispatcher = RQDispatcher(prod_settings)
    for i in range(20):
        push(dispatcher, f"a-{i}")
    worker = JudgeWorker([QUEUE], connection=dispatcher.redis, name="fairness-test")
    taken = [worker.dequeue_job_and_maintain_ttl(None)[0].id for _ in range(5)]
    assert taken == [f"a-{i}" for i in range(5)]
    push(dispatcher, "b-0")  # b is new: its turn is right after a's next job, not after a's backlog
    assert queued(dispatcher.redis)[:3] == ["a-5", "b-0", "a-6"]


def test_a_plainly_pushed_job_takes_its_turn_at_the_next_fair_push(prod_settings):
    """RQ's scheduled retries push at the tail, without a key: they must not wait behind a whole backlog."""
    dispatcher = RQDispatcher(prod_settings)
    for i in range(10):
        push(dispatcher, f"a-{i}")
    Queue(QUEUE, connection=dispatcher.redis).enqueue("builtins.print", job_id="retried")
    assert queued(dispatcher.redis)[-1] == "retried"
    push(dispatcher, "b-0")
    assert queued(dispatcher.redis)[:4] == ["a-0", "retried", "b-0", "a-1"]


def test_a_chunk_queued_again_without_its_project_takes_a_turn_of_its_own(prod_settings):
    dispatcher = RQDispatcher(prod_settings)
    for i in range(5):
        push(dispatcher, f"a-{i}")
    dispatcher.enqueue(JUDGE_CHUNK_JOB, ("e1", 0), queue=QUEUE, job_id="requeued", timeout=60)  # e.g. by the reaper
    assert queued(dispatcher.redis)[:3] == ["a-0", "requeued", "a-1"]


def submit(settings, project: str, n_items: int) -> str:
    items = [{"id": f"i{i}", "prompt": "p", "response_a": "a" * (i + 1), "response_b": "bb"} for i in range(n_items)]
    body = EvaluationCreate(protocol="pairwise", judge="scripted", model="m", items=items, options={"chunk_size": 1})
    dispatcher = RQDispatcher(settings)
    try:
        with session_scope(settings.database_url) as session:
            return service.submit(session, dispatcher, settings, body, project_id(settings, project))
    finally:
        dispatcher.close()


def test_a_small_evaluation_is_not_stalled_by_another_projects_backlog(prod_settings):
    """Project "big" queues 5 evaluations of 8 chunks, then "small" one of 1 chunk: a real worker judges
    the small one before any of the big ones is done (first come, first served would make it last)."""
    big = [submit(prod_settings, "big", 8) for _ in range(5)]
    small = submit(prod_settings, "small", 1)
    worker = subprocess.run([sys.executable, "-m", "workers", "--judge", "scripted", "--burst"],
                            env=settings_env(prod_settings), cwd=REPO, capture_output=True, text=True, timeout=300)
    assert worker.returncode == 0, worker.stderr[-2000:]
    with session_scope(prod_settings.database_url) as session:
        done = dict(session.execute(select(Evaluation.id, Evaluation.completed_at)).all())
    assert all(done.values()), worker.stderr[-3000:]
    assert done[small] < min(done[e] for e in big)

"""Chunks in flight per worker (JUDGESERVE_WORKER_CHUNKS_IN_FLIGHT): real worker processes on Postgres and Redis."""

from __future__ import annotations

import signal
import subprocess
import sys
import threading
import time

import pytest
from redis import Redis
from rq.registry import StartedJobRegistry
from sqlalchemy import func, select

from service.db.engine import session_scope
from service.evaluations import service
from service.evaluations.schemas import EvaluationCreate
from service.models import Evaluation, Judgment, Verdict, WorkerHeartbeat
from service.queue import RQDispatcher
from tests.support import REPO, project_id, settings_env, wait_for
from workers.judge_worker import take_turns

DELAY_S = 0.5  # the scripted-slow judge sleeps this long in every engine call


def test_engine_calls_take_turns():
    class Engine:
        running = peak = calls = 0

        def generate(self, requests):
            Engine.running += 1
            Engine.peak = max(Engine.peak, Engine.running)
            time.sleep(0.02)
            Engine.running -= 1
            Engine.calls += 1
            return list(requests)

    engine = Engine()
    take_turns(engine)
    threads = [threading.Thread(target=engine.generate, args=([i],)) for i in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert Engine.calls == 6 and Engine.peak == 1
    assert engine.generate([1, 2]) == [1, 2]


def submit_slow(settings, n_chunks: int) -> str:
    items = [{"id": f"i{i}", "prompt": "p", "response_a": "a" * (i + 1), "response_b": "bb"} for i in range(n_chunks)]
    body = EvaluationCreate(protocol="pairwise", judge="scripted-slow", model="m", items=items,
                            options={"chunk_size": 1})
    dispatcher = RQDispatcher(settings)
    try:
        with session_scope(settings.database_url) as session:
            return service.submit(session, dispatcher, settings, body, project_id(settings))
    finally:
        dispatcher.close()


def worker_env(settings, in_flight: int) -> dict[str, str]:
    return settings_env(settings) | {"JUDGESERVE_WORKER_CHUNKS_IN_FLIGHT": str(in_flight)}


@pytest.mark.parametrize("in_flight", [1, 2])
def test_a_worker_holds_at_most_its_chunks_in_flight_and_engine_calls_take_turns(prod_settings, in_flight):
    n_chunks = 6
    evaluation_id = submit_slow(prod_settings, n_chunks)
    started = StartedJobRegistry(prod_settings.queue_name("scripted-slow"),
                                 connection=Redis.from_url(prod_settings.redis_url))
    worker = subprocess.Popen([sys.executable, "-m", "workers", "--judge", "scripted-slow", "--burst"],
                              env=worker_env(prod_settings, in_flight), cwd=REPO,
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    peak = 0
    while worker.poll() is None:
        peak = max(peak, started.count)
        time.sleep(0.02)
    assert worker.returncode == 0, worker.stderr.read()[-2000:]
    assert peak == in_flight  # chunk jobs held at once: never more, and with 2 both loops were busy
    with session_scope(prod_settings.database_url) as session:
        evaluation = session.get(Evaluation, evaluation_id)
        judgments = session.scalar(select(func.count()).select_from(Judgment).where(Judgment.evaluation_id == evaluation_id))
        verdicts = session.scalar(select(func.count()).select_from(Verdict).where(Verdict.evaluation_id == evaluation_id))
    assert evaluation.status == "completed" and evaluation.done == n_chunks and evaluation.chunks_done == n_chunks
    assert (judgments, verdicts) == (2 * n_chunks, n_chunks)
    # one engine call per chunk, one at a time: the engine time adds up however many chunks are in flight
    assert (evaluation.completed_at - evaluation.started_at).total_seconds() >= n_chunks * DELAY_S


def heartbeats(settings) -> list[str]:
    with session_scope(settings.database_url) as session:
        return list(session.scalars(select(WorkerHeartbeat.worker_id)))


def test_a_worker_with_chunks_in_flight_beats_per_loop_and_stops_on_sigterm(prod_settings):
    worker = subprocess.Popen([sys.executable, "-m", "workers", "--judge", "scripted"],
                              env=worker_env(prod_settings, 3), cwd=REPO,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        redis = Redis.from_url(prod_settings.redis_url)
        # the main loop, two chunk loops and two delivery loops in threads are five RQ workers, idle once
        # they wait for jobs (the main loop handles signals from then on)
        wait_for(lambda: [redis.hget(key, "state") for key in redis.smembers("rq:workers")] == [b"idle"] * 5,
                 timeout=60)
        names = {key.decode().removeprefix("rq:worker:") for key in redis.smembers("rq:workers")}
        assert len({name for name in names if "-webhooks-" in name}) == prod_settings.webhooks.delivery_threads == 2
        # every chunk loop beats under its RQ name: the reaper finds a started job's worker by that name
        wait_for(lambda: set(heartbeats(prod_settings)) == {n for n in names if "-webhooks-" not in n}, timeout=30)
        worker.send_signal(signal.SIGTERM)
        assert worker.wait(timeout=30) == 0
        assert not redis.smembers("rq:workers") and not heartbeats(prod_settings)  # every loop left cleanly
    finally:
        if worker.poll() is None:
            worker.kill()


def test_leaderboard_refreshes_go_first_and_webhook_deliveries_have_loops_of_their_own(prod_settings):
    from service.queue import webhook_queue
    from workers.judge_worker import delivery_queues, queues_in_order

    assert queues_in_order(prod_settings, "scripted") == [
        prod_settings.aggregate_queue, prod_settings.queue_name("scripted")]
    assert delivery_queues(prod_settings) == [webhook_queue(prod_settings)]
    # a burst worker sends its own evaluations' deliveries before it exits, once no judge work is left
    assert queues_in_order(prod_settings, "scripted", burst=True) == [
        prod_settings.aggregate_queue, prod_settings.queue_name("scripted"), webhook_queue(prod_settings)]


def test_rq_worker_heartbeats_between_jobs_are_sent_at_most_every_few_seconds(clean_redis, monkeypatch):
    """RQ renews its worker key after every job and before the next (three round trips each): a few seconds apart
    is enough for a key that lives 8 minutes; a heartbeat that sets a job's own expiry is always sent, and so is
    the plain one after it (which sets the expiry back)."""
    from workers import judge_worker

    clock = [1000.0]
    monkeypatch.setattr(judge_worker.time, "monotonic", lambda: clock[0])
    connection = Redis.from_url(clean_redis)
    worker = judge_worker.JudgeWorker(["jstest-heartbeat"], connection=connection, name="jstest-heartbeat-worker")
    sent = []
    real_hset = connection.hset
    monkeypatch.setattr(connection, "hset", lambda *args, **kwargs: sent.append(args[1]) or real_hset(*args, **kwargs))
    for _ in range(3):
        worker.heartbeat()
    assert sent == ["last_heartbeat"]
    worker.heartbeat(timeout=3700)  # a job's expiry: always sent
    assert len(sent) == 2 and connection.ttl(worker.key) > 3000
    worker.heartbeat()  # the plain one after it sets the key's expiry back
    assert len(sent) == 3 and 0 < connection.ttl(worker.key) <= worker.worker_ttl + 60
    worker.heartbeat()
    assert len(sent) == 3
    clock[0] += judge_worker.RQ_HEARTBEAT_SECONDS
    worker.heartbeat()
    assert len(sent) == 4

"""Chunks in flight per worker (JUDGESERVE_WORKER_CHUNKS_IN_FLIGHT): real worker processes on Postgres and Redis."""

from __future__ import annotations

import itertools
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator

import pytest
from redis import Redis
from rq import Queue
from rq.exceptions import StopRequested
from rq.job import JobStatus
from rq.registry import StartedJobRegistry
from rq.suspension import resume, suspend
from sqlalchemy import func, select

from service.db.engine import session_scope
from service.evaluations import service
from service.evaluations.schemas import EvaluationCreate
from service.models import Evaluation, Judgment, Verdict, WorkerHeartbeat
from service.queue import RQDispatcher
from tests.support import REPO, project_id, settings_env, wait_for
from workers import judge_worker
from workers.judge_worker import JudgeWorker, take_turns

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


class CountingRedis(Redis):
    """A Redis client that records its round trips: each one a tuple of the commands it sent (a pipeline's, or one)."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.round_trips: list[tuple[tuple, ...]] = []

    def execute_command(self, *args, **options):
        """One command, one round trip."""
        self.round_trips.append((args,))
        return super().execute_command(*args, **options)

    def pipeline(self, transaction=True, shard_hint=None):
        """A pipeline whose ``execute`` is recorded as one round trip with its commands."""
        pipeline = super().pipeline(transaction, shard_hint)
        execute, round_trips = pipeline.execute, self.round_trips

        def recorded(raise_on_error=True):
            if pipeline.command_stack:
                round_trips.append(tuple(args for args, _ in pipeline.command_stack))
            return execute(raise_on_error)

        pipeline.execute = recorded
        return pipeline

    def sent(self, *prefix) -> list[tuple]:
        """The commands sent so far that start with ``prefix`` (e.g. "HSET", key, "state")."""
        return [command for trip in self.round_trips for command in trip if command[:len(prefix)] == prefix]


class Clock:
    """``workers.judge_worker``'s time module, with a monotonic clock that moves only when the test moves it."""

    def __init__(self):
        self.now = 1000.0

    def monotonic(self) -> float:
        """The test's time."""
        return self.now

    def __getattr__(self, name):
        return getattr(time, name)


@pytest.fixture
def clock(monkeypatch) -> Clock:
    """A stopped monotonic clock for the worker loop's throttles (the rest of the process keeps the real one)."""
    stopped = Clock()
    monkeypatch.setattr(judge_worker, "time", stopped)
    return stopped


@pytest.fixture
def counting_redis(clean_redis) -> Iterator[CountingRedis]:
    """A client of the flushed test Redis that records its round trips."""
    connection = CountingRedis.from_url(clean_redis)
    yield connection
    connection.close()


def work_burst(worker: JudgeWorker) -> bool:
    """Run ``worker.work(burst=True)`` in this thread, then give pytest back its SIGINT/SIGTERM handlers."""
    handlers = {signum: signal.getsignal(signum) for signum in (signal.SIGINT, signal.SIGTERM)}
    try:
        return worker.work(burst=True, logging_level="WARNING")
    finally:
        for signum, handler in handlers.items():
            signal.signal(signum, handler)


def test_rq_worker_heartbeats_between_jobs_are_sent_at_most_every_few_seconds(counting_redis, clock):
    """RQ renews its worker key after every job and before the next (three round trips each): a few seconds apart
    is enough for a key that lives 8 minutes; a heartbeat that sets a job's own expiry is always sent, and so is
    the plain one after it (which sets the expiry back)."""
    connection = counting_redis
    worker = JudgeWorker(["jstest-heartbeat"], connection=connection, name="jstest-heartbeat-worker")

    def sent():
        return connection.sent("HSET", worker.key, "last_heartbeat")

    for _ in range(3):
        worker.heartbeat()
    assert len(sent()) == 1
    worker.heartbeat(timeout=3700)  # a job's expiry: always sent
    assert len(sent()) == 2 and connection.ttl(worker.key) > 3000
    worker.heartbeat()  # the plain one after it sets the key's expiry back
    assert len(sent()) == 3 and 0 < connection.ttl(worker.key) <= worker.worker_ttl + 60
    worker.heartbeat()
    assert len(sent()) == 3
    clock.now += judge_worker.RQ_HEARTBEAT_SECONDS
    worker.heartbeat()
    assert len(sent()) == 4


def test_a_plain_rq_heartbeat_is_one_round_trip_and_one_given_a_pipeline_goes_in_it(counting_redis, clock):
    """The plain heartbeat's three commands (the hash's last_heartbeat, both keys' expiry) go in one round trip;
    with a pipeline they go in that pipeline and nothing is sent on their own."""
    connection = counting_redis
    worker = JudgeWorker(["jstest-heartbeat"], connection=connection, name="jstest-heartbeat-worker")
    worker.register_birth()
    connection.sadd(worker.executions_key, "an-execution")
    connection.hdel(worker.key, "last_heartbeat")
    connection.persist(worker.key)
    connection.round_trips.clear()

    worker.heartbeat()
    assert [sorted({command[0] for command in trip}) for trip in connection.round_trips] == [["EXPIRE", "HSET"]]
    assert len(connection.round_trips[0]) == 3
    assert connection.hget(worker.key, "last_heartbeat")
    assert 0 < connection.ttl(worker.key) <= worker.worker_ttl + 60
    assert 0 < connection.ttl(worker.executions_key) <= worker.worker_ttl + 60

    connection.round_trips.clear()
    with connection.pipeline() as pipeline:
        worker.heartbeat(timeout=3700, pipeline=pipeline)
        assert connection.round_trips == []  # nothing sent until the caller executes its pipeline
        pipeline.execute()
    assert len(connection.round_trips) == 1 and len(connection.round_trips[0]) == 3
    assert connection.ttl(worker.key) > 3000 and connection.ttl(worker.executions_key) > 3000


def test_a_state_is_written_once_until_it_changes_and_always_when_given_a_pipeline(counting_redis):
    """RQ sets "idle" after every job and again before it looks for the next: the second is not sent."""
    connection = counting_redis
    worker = JudgeWorker(["jstest-state"], connection=connection, name="jstest-state-worker")
    worker.register_birth()
    connection.round_trips.clear()

    def written():
        return [command[3] for command in connection.sent("HSET", worker.key, "state")]

    for _ in range(3):
        worker.set_state("idle")
        assert worker.get_state() == "idle"
    assert written() == ["idle"] and len(connection.round_trips) == 1
    assert connection.hget(worker.key, "state") == b"idle"

    for _ in range(2):  # in a pipeline (RQ's job bookkeeping): always written, with the pipeline
        with connection.pipeline() as pipeline:
            worker.set_state("idle", pipeline=pipeline)
            pipeline.execute()
    assert written() == ["idle"] * 3

    worker.set_state("busy")
    assert worker.get_state() == "busy" and connection.hget(worker.key, "state") == b"busy"
    worker.set_state("idle")  # a change is written
    assert worker.get_state() == "idle" and connection.hget(worker.key, "state") == b"idle"
    assert written() == ["idle"] * 3 + ["busy", "idle"]
    with connection.pipeline() as pipeline:
        worker.set_state("busy", pipeline=pipeline)
        pipeline.execute()
    worker.set_state("busy")  # the pipeline wrote it
    assert written() == ["idle"] * 3 + ["busy", "idle", "busy"]
    assert worker.get_state() == "busy" and connection.hget(worker.key, "state") == b"busy"


def test_the_suspension_check_reads_redis_at_most_every_second(counting_redis, clock, monkeypatch):
    """``rq suspend`` is looked up before a job at most every SUSPENSION_CHECK_SECONDS; once it is, a burst loop stops."""
    import rq.worker.base

    connection = counting_redis
    worker = JudgeWorker(["jstest-suspend"], connection=connection, name="jstest-suspend-worker")
    worker.register_birth()
    looked_up = []
    is_suspended = rq.worker.base.is_suspended
    monkeypatch.setattr(rq.worker.base, "is_suspended",
                        lambda *args, **kwargs: looked_up.append(1) or is_suspended(*args, **kwargs))
    connection.round_trips.clear()

    worker.check_for_suspension(burst=True)  # the first one looks
    assert len(looked_up) == 1 and len(connection.sent("EXISTS", "rq:suspended")) == 1
    suspend(connection)
    try:
        worker.check_for_suspension(burst=True)  # checked just now: no Redis read, the suspension is not seen yet
        clock.now += judge_worker.SUSPENSION_CHECK_SECONDS / 2
        worker.check_for_suspension(burst=True)
        assert len(looked_up) == 1 and len(connection.sent("EXISTS", "rq:suspended")) == 1
        clock.now += judge_worker.SUSPENSION_CHECK_SECONDS / 2
        with pytest.raises(StopRequested):  # a second on: it looks again and a burst loop stops
            worker.check_for_suspension(burst=True)
        assert len(looked_up) == 2 and len(connection.sent("EXISTS", "rq:suspended")) == 2
    finally:
        resume(connection)
    clock.now += judge_worker.SUSPENSION_CHECK_SECONDS
    worker.check_for_suspension(burst=True)
    assert len(looked_up) == 3


def test_a_suspended_burst_worker_exits_without_taking_jobs_and_the_next_one_takes_them_after_resume(clean_redis):
    """``rq suspend`` before a burst worker starts: it exits at once (the check runs before its first job)."""
    connection = Redis.from_url(clean_redis)
    queue = Queue("jstest-suspended", connection=connection)
    jobs = [queue.enqueue(len, "x" * n) for n in (1, 2, 3)]
    suspend(connection)
    try:
        assert work_burst(JudgeWorker([queue], connection=connection)) is False
        assert queue.count == 3 and [job.get_status() for job in jobs] == [JobStatus.QUEUED] * 3
    finally:
        resume(connection)
    assert work_burst(JudgeWorker([queue], connection=connection)) is True
    assert queue.count == 0 and [job.return_value(refresh=True) for job in jobs] == [1, 2, 3]
    connection.close()


def test_a_burst_worker_between_jobs_writes_each_state_once_and_looks_for_a_suspension_once_a_second(
        counting_redis, clock):
    """Three trivial jobs on a stopped clock: one suspension check, no state written twice in a row, and the
    worker's hash keeps its state, last heartbeat and the worker key's expiry (set back after each job's)."""
    connection = counting_redis
    queue = Queue("jstest-burst", connection=connection)
    jobs = [queue.enqueue(len, "x" * n, job_timeout=3600) for n in (1, 2, 3)]
    worker = JudgeWorker([queue], connection=connection, name="jstest-burst-worker")
    between_jobs = {}
    register_death = worker.register_death

    def look_then_die():
        between_jobs.update(hash=connection.hgetall(worker.key), ttl=connection.ttl(worker.key))
        register_death()

    worker.register_death = look_then_die
    connection.round_trips.clear()
    assert work_burst(worker) is True
    assert [job.return_value(refresh=True) for job in jobs] == [1, 2, 3]

    states = [command[3] for command in connection.sent("HSET", worker.key, "state")]
    assert states.count("busy") == 3 and states[-1] == "idle"
    assert all(state != after for state, after in itertools.pairwise(states)), states
    assert len(connection.sent("EXISTS", "rq:suspended")) == 1
    assert between_jobs["hash"][b"state"] == b"idle" and between_jobs["hash"][b"last_heartbeat"]
    assert 0 < between_jobs["ttl"] <= worker.worker_ttl + 60  # the jobs' 3660 s expiry was set back

"""Faults done to real processes: workers killed mid-chunk (SIGKILL, repeatedly) and Redis restarted while an
evaluation runs. Nothing may be lost or duplicated, and the service recovers by itself (the gateway's reaper)."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time

import pytest
from sqlalchemy import func, select, text

from service.db.engine import session_scope
from service.models import Chunk, Judgment, Verdict
from tests.support import REPO, api_client, settings_env, wait_for

N_ITEMS = 8


def body(n=N_ITEMS):
    items = [{"id": f"i{i}", "prompt": f"p{i}", "response_a": "a" * (i % 3 + 1), "response_b": "bb"} for i in range(n)]
    return {"protocol": "pairwise", "judge": "scripted-slow", "model": "m", "items": items,
            "options": {"chunk_size": 1}}


STARTED: list[subprocess.Popen] = []


def start_worker(settings) -> subprocess.Popen:
    """A judge worker in its own process group (so what it forks, e.g. RQ's scheduler, can be cleaned up)."""
    worker = subprocess.Popen([sys.executable, "-m", "workers", "--judge", "scripted-slow"], env=settings_env(settings),
                              cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    STARTED.append(worker)
    return worker


@pytest.fixture(autouse=True)
def no_stray_processes():
    """A SIGKILLed worker leaves its RQ scheduler process behind: end every started worker's group after the test."""
    yield
    while STARTED:
        try:
            os.killpg(STARTED.pop().pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


def started_chunk(settings, evaluation_id) -> bool:
    """A chunk that a worker has started and not finished (so a kill now is mid-chunk)."""
    with session_scope(settings.database_url) as session:
        return bool(session.scalar(select(func.count()).select_from(Chunk).where(
            Chunk.evaluation_id == evaluation_id, Chunk.status == "pending", Chunk.attempts > 0)))


def assert_exactly_once(settings, evaluation_id, n=N_ITEMS) -> None:
    with session_scope(settings.database_url) as session:
        judgments = session.scalar(select(func.count()).select_from(Judgment).where(Judgment.evaluation_id == evaluation_id))
        distinct = session.execute(text("SELECT count(DISTINCT (item_id, \"order\", sample)) FROM judgments "
                                        "WHERE evaluation_id = :e"), {"e": evaluation_id}).scalar()
        verdicts = session.scalar(select(func.count()).select_from(Verdict).where(Verdict.evaluation_id == evaluation_id))
    assert (judgments, distinct, verdicts) == (2 * n, 2 * n, n)


@pytest.fixture
def settings(prod_settings):
    return prod_settings.model_copy(update={"heartbeat_ttl_seconds": 3.0, "reaper_interval_seconds": 0.5})


def test_workers_killed_mid_chunk_again_and_again(settings):
    with api_client(settings) as client:
        evaluation_id = client.post("/v1/evaluations", json=body()).json()["id"]
        for _ in range(3):
            worker = start_worker(settings)
            wait_for(lambda: started_chunk(settings, evaluation_id), timeout=60)
            worker.kill()  # SIGKILL: no clean-up, the job stays "started" in RQ
            worker.wait(10)
        worker = start_worker(settings)
        try:
            done = wait_for(lambda: (e := client.get(f"/v1/evaluations/{evaluation_id}").json())["status"]
                            == "completed" and e, timeout=180, interval=0.5)
        finally:
            worker.terminate()
            worker.wait(30)
    assert done["progress"]["done"] == N_ITEMS and done["progress"]["failed"] == 0
    assert_exactly_once(settings, evaluation_id)
    with session_scope(settings.database_url) as session:
        retried = session.scalar(select(func.count()).select_from(Chunk).where(
            Chunk.evaluation_id == evaluation_id, Chunk.attempts > 1))
    assert retried >= 1, "a killed chunk should have been started again"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def redis_server(port: int) -> subprocess.Popen:
    server = subprocess.Popen([shutil.which("redis-server") or "redis-server", "--port", str(port), "--bind", "127.0.0.1",
                               "--save", "", "--appendonly", "no"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wait_for(lambda: socket.socket().connect_ex(("127.0.0.1", port)) == 0, timeout=20)
    return server


@pytest.mark.skipif(shutil.which("redis-server") is None, reason="needs the redis-server program")
def test_redis_restarted_while_an_evaluation_runs(settings):
    port = free_port()
    redis_a = redis_server(port)
    own = settings.model_copy(update={"redis_url": f"redis://127.0.0.1:{port}/0"})
    worker = None
    try:
        with api_client(own) as client:
            evaluation_id = client.post("/v1/evaluations", json=body()).json()["id"]
            worker = start_worker(own)
            wait_for(lambda: client.get(f"/v1/evaluations/{evaluation_id}").json()["progress"]["done"] >= 2,
                     timeout=60, interval=0.2)
            redis_a.terminate()
            redis_a.wait(10)
            down = client.post("/v1/evaluations", json=body(2))
            assert down.status_code == 503 and down.headers["retry-after"]
            redis_b = redis_server(port)  # empty: every queued job is gone
            restarts = []

            def completed():
                nonlocal worker
                # a supervisor restarts a worker that gave up on Redis, whenever it does (a job that ended
                # while Redis was down makes RQ quit a moment after Redis is back)
                if worker.poll() is not None:
                    restarts.append(worker.returncode)
                    worker = start_worker(own)
                evaluation = client.get(f"/v1/evaluations/{evaluation_id}").json()
                return evaluation["status"] == "completed" and evaluation

            try:
                done = wait_for(completed, timeout=180, interval=0.5)
                print(f"worker restarts after the Redis restart: {restarts}")
            finally:
                worker.terminate()
                worker.wait(30)
                redis_b.terminate()
                redis_b.wait(10)
    finally:
        if redis_a.poll() is None:
            redis_a.kill()
    assert done["progress"]["done"] == N_ITEMS and done["progress"]["failed"] == 0
    assert_exactly_once(own, evaluation_id)


def test_cancel_while_running_starts_no_new_chunk_and_keeps_verdicts(settings):
    with api_client(settings) as client:
        evaluation_id = client.post("/v1/evaluations", json=body()).json()["id"]
        worker = start_worker(settings)
        try:
            wait_for(lambda: client.get(f"/v1/evaluations/{evaluation_id}").json()["progress"]["done"] >= 2,
                     timeout=60, interval=0.1)
            cancelled = client.post(f"/v1/evaluations/{evaluation_id}/cancel").json()
            assert cancelled["status"] == "cancelled"
            time.sleep(4)  # several chunks' time (scripted-slow takes 0.5 s per chunk)
            with session_scope(settings.database_url) as session:
                started_after = session.scalar(select(func.count()).select_from(Chunk).where(
                    Chunk.evaluation_id == evaluation_id, Chunk.attempts > 0))
        finally:
            worker.terminate()
            worker.wait(30)
        final = client.get(f"/v1/evaluations/{evaluation_id}").json()
        verdicts = client.get(f"/v1/evaluations/{evaluation_id}/verdicts").json()["data"]
    assert final["status"] == "cancelled"
    # at most the chunk in flight when the cancel came finished; no new one started
    assert started_after <= cancelled["progress"]["done"] + 1 < N_ITEMS
    judged = [v for v in verdicts if not v["pending"]]
    assert len(judged) >= 2 and all(len(v["judgments"]) == 2 for v in judged)

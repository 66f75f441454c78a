"""A saturated gateway answers 503 with Retry-After (never a 500 after a long wait), health routes answer
whatever the pools are doing, and a request that fails gives its Idempotency-Key back; real Postgres and Redis.
"""

from __future__ import annotations

import threading
from contextlib import ExitStack, contextmanager

import anyio.to_thread
import pytest
from sqlalchemy import select
from sqlalchemy.exc import OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout

from fastapi.testclient import TestClient

from service.api.app import create_app
from service.config import ConcurrencySettings
from service.db.engine import dispose_all, get_engine, session_scope
from service.evaluations import pipeline
from service.evaluations import service as evaluations_service
from service.models import Evaluation, IdempotencyRecord
from tests.support import authed

# the smallest pools the settings allow for one request at a time: 1 + 3 database connections
TINY = ConcurrencySettings(max_in_flight=1, threads=1, db_pool_size=1, db_max_overflow=3,
                           db_pool_timeout_seconds=0.2, redis_max_connections=4, redis_pool_timeout_seconds=0.2,
                           retry_after_seconds=7)


def body(n: int = 3, model: str = "m") -> dict:
    items = [{"id": f"i{i}", "prompt": "p", "response_a": "a", "response_b": "bb"} for i in range(n)]
    return {"protocol": "pairwise", "judge": "scripted", "model": model, "items": items}


def keys(settings) -> list[tuple[str, str]]:
    with session_scope(settings.database_url) as session:
        return [tuple(row) for row in session.execute(select(IdempotencyRecord.key, IdempotencyRecord.status))]


def evaluations(settings) -> int:
    with session_scope(settings.database_url) as session:
        return len(session.scalars(select(Evaluation.id)).all())


@contextmanager
def api_client(settings):
    """A started gateway whose unexpected errors are 500 responses, as a client sees them."""
    with TestClient(create_app(settings), raise_server_exceptions=False) as client:
        yield authed(client, settings)


@pytest.fixture
def fresh_engines():
    """Engines sized by a test's settings are dropped afterwards, so later tests get the default pool."""
    dispose_all()
    yield
    dispose_all()


@contextmanager
def exhausted_pool(settings):
    """Every connection the gateway's database pool may open, checked out and held."""
    engine = get_engine(settings.database_url)
    size = settings.concurrency.db_pool_size + settings.concurrency.db_max_overflow
    with ExitStack() as stack:
        for _ in range(size):
            stack.enter_context(engine.connect())
        yield


def test_an_exhausted_database_pool_is_a_503_with_retry_after_and_health_routes_still_answer(
        prod_settings, fresh_engines):
    settings = prod_settings.model_copy(update={"concurrency": TINY})
    with api_client(settings) as client:
        assert get_engine(settings.database_url).pool.size() == 1  # the gateway sized the pool from settings
        with exhausted_pool(settings):
            for method, path in (("POST", "/v1/evaluations"), ("GET", "/v1/evaluations")):
                response = client.request(method, path, json=body() if method == "POST" else None,
                                          headers={"Idempotency-Key": "busy"} if method == "POST" else {})
                assert response.status_code == 503, response.text
                assert response.headers["retry-after"] == "7"
                assert response.headers["content-type"] == "application/problem+json"
                assert "no database connection" in response.json()["detail"]
            assert client.get("/healthz").json() == {"status": "ok"}
            ready = client.get("/readyz")  # checks the database on a connection of its own
            assert ready.status_code == 200 and ready.json()["checks"]["database"] == "ok", ready.text
        retried = client.post("/v1/evaluations", json=body(), headers={"Idempotency-Key": "busy"})
        assert retried.status_code == 202, retried.text


@pytest.mark.parametrize("failure, status", [
    (PoolTimeout("QueuePool limit of size 5 overflow 5 reached, connection timed out, timeout 30.00"), 503),
    (OperationalError("INSERT ...", {}, Exception("too many clients already")), 503),
    (RuntimeError("injected failure after the claim"), 500),
])
def test_a_request_that_fails_after_its_claim_gives_the_key_back(prod_settings, monkeypatch, failure, status):
    seen_claims = []

    def failing_store(session, *args, **kwargs):
        seen_claims.append(keys(prod_settings))
        raise failure

    with api_client(prod_settings) as client:
        monkeypatch.setattr(pipeline, "store", failing_store)
        failed = client.post("/v1/evaluations", json=body(), headers={"Idempotency-Key": "retry-me"})
        assert failed.status_code == status, failed.text
        assert seen_claims == [[("retry-me", "in_progress")]]  # the failure came after the key was claimed
        if status == 503:
            assert failed.headers["retry-after"]
        assert keys(prod_settings) == [] and evaluations(prod_settings) == 0
        monkeypatch.undo()
        retried = client.post("/v1/evaluations", json=body(), headers={"Idempotency-Key": "retry-me"})
        assert retried.status_code == 202, retried.text
        assert "idempotent-replayed" not in retried.headers
        assert keys(prod_settings) == [("retry-me", "done")] and evaluations(prod_settings) == 1


def test_a_failure_after_the_commit_keeps_the_key_so_a_retry_never_creates_a_second_evaluation(
        prod_settings, monkeypatch):
    def failing_enqueue(*args, **kwargs):
        raise RuntimeError("injected failure after the evaluation was committed")

    with api_client(prod_settings) as client:
        monkeypatch.setattr(pipeline, "enqueue_or_withdraw", failing_enqueue)
        failed = client.post("/v1/evaluations", json=body(), headers={"Idempotency-Key": "committed"})
        assert failed.status_code == 500, failed.text
        assert keys(prod_settings) == [("committed", "done")] and evaluations(prod_settings) == 1
        monkeypatch.undo()
        retried = client.post("/v1/evaluations", json=body(), headers={"Idempotency-Key": "committed"})
        assert retried.status_code == 202 and retried.headers["idempotent-replayed"] == "true", retried.text
        assert evaluations(prod_settings) == 1


def test_a_queue_that_fails_after_the_commit_withdraws_the_evaluation_and_frees_the_key(prod_settings, monkeypatch):
    from service.queue import QueueUnavailable

    def down(*args, **kwargs):
        raise QueueUnavailable("the job queue (Redis) is unavailable")

    with api_client(prod_settings) as client:
        monkeypatch.setattr(pipeline, "enqueue_chunk", down)
        failed = client.post("/v1/evaluations", json=body(), headers={"Idempotency-Key": "queue-down"})
        assert failed.status_code == 503 and failed.headers["retry-after"], failed.text
        assert keys(prod_settings) == [] and evaluations(prod_settings) == 0
        monkeypatch.undo()
        retried = client.post("/v1/evaluations", json=body(), headers={"Idempotency-Key": "queue-down"})
        assert retried.status_code == 202 and "idempotent-replayed" not in retried.headers, retried.text
        assert keys(prod_settings) == [("queue-down", "done")] and evaluations(prod_settings) == 1


def test_requests_beyond_max_in_flight_get_503_at_once_and_health_routes_are_not_counted(
        prod_settings, monkeypatch, fresh_engines):
    # one request at a time, and a second thread for the /metrics scrape (a sync route) to run on
    one_at_a_time = TINY.model_copy(update={"threads": 2, "db_max_overflow": 4, "redis_max_connections": 5})
    settings = prod_settings.model_copy(update={"concurrency": one_at_a_time})
    entered, leave = threading.Event(), threading.Event()
    listing = evaluations_service.list_evaluations
    checked_out = []

    def held_listing(*args, **kwargs):
        # authenticated, in its route, not querying yet: the request holds no database connection
        checked_out.append(get_engine(settings.database_url).pool.checkedout())
        entered.set()
        assert leave.wait(60), "the test never let the held request go"
        return listing(*args, **kwargs)

    monkeypatch.setattr(evaluations_service, "list_evaluations", held_listing)
    with api_client(settings) as client:
        first: dict = {}
        holder = threading.Thread(target=lambda: first.update(response=client.get("/v1/evaluations")))
        holder.start()
        try:
            assert entered.wait(60), "the first request never reached its route"
            refused = client.post("/v1/evaluations", json=body(), headers={"Idempotency-Key": "later"})
            assert refused.status_code == 503 and refused.headers["retry-after"] == "7"
            assert "max_in_flight" in refused.json()["detail"]
            assert client.get("/healthz").status_code == 200
            assert client.get("/readyz").status_code == 200
            assert client.get("/metrics").status_code == 200  # scrapes are not refused either
        finally:
            leave.set()
            holder.join(60)
        assert first["response"].status_code == 200 and checked_out == [0]
        assert first["response"].headers["server-timing"].startswith("app;dur=")  # the gateway's own time
        assert keys(prod_settings) == []  # refused before anything ran: no claim to give back
        assert client.post("/v1/evaluations", json=body(), headers={"Idempotency-Key": "later"}).status_code == 202


def test_a_full_redis_pool_is_a_503_and_nothing_is_stored(prod_settings, fresh_engines):
    settings = prod_settings.model_copy(update={"concurrency": TINY})
    with api_client(settings) as client:
        pool = client.app.state.dispatcher.redis.connection_pool
        assert pool.max_connections == 4
        held = [pool.get_connection() for _ in range(4)]
        try:
            busy = client.post("/v1/evaluations", json=body(), headers={"Idempotency-Key": "queue-busy"})
            assert busy.status_code == 503 and busy.headers["retry-after"], busy.text
            assert client.get("/healthz").status_code == 200
        finally:
            for connection in held:
                pool.release(connection)
        assert keys(prod_settings) == [] and evaluations(prod_settings) == 0
        again = client.post("/v1/evaluations", json=body(), headers={"Idempotency-Key": "queue-busy"})
        assert again.status_code == 202, again.text


def test_the_thread_pool_is_sized_from_settings(prod_settings, fresh_engines):
    settings = prod_settings.model_copy(update={"concurrency": TINY})
    with api_client(settings) as client:
        tokens = client.portal.call(lambda: anyio.to_thread.current_default_thread_limiter().total_tokens)
    assert tokens == 1


def test_readyz_reports_an_unreachable_database_without_waiting_on_the_pool(prod_settings, fresh_engines):
    with api_client(prod_settings) as client:
        client.app.state.settings = prod_settings.model_copy(
            update={"database_url": "postgresql://postgres@127.0.0.1:1/nowhere"})
        ready = client.get("/readyz")
    assert ready.status_code == 503
    assert ready.json()["checks"]["database"].startswith("error: ")

"""Idempotency-Key on POST /v1/evaluations and POST /v1/suites, on real Postgres and Redis."""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import func, select

from service.db.engine import session_scope
from service.models import Evaluation, Suite
from tests.support import api_client


def body(n=3, model="m"):
    items = [{"id": f"i{i}", "prompt": "p", "response_a": "a", "response_b": "bb"} for i in range(n)]
    return {"protocol": "pairwise", "judge": "scripted", "model": model, "items": items}


def count(settings, model) -> int:
    with session_scope(settings.database_url) as session:
        return session.scalar(select(func.count()).select_from(model))


@pytest.fixture
def client(prod_settings):
    with api_client(prod_settings) as test_client:
        yield test_client


def test_same_key_same_body_returns_the_original_evaluation(client, prod_settings):
    first = client.post("/v1/evaluations", json=body(), headers={"Idempotency-Key": "run-42"})
    again = client.post("/v1/evaluations", json=body(), headers={"Idempotency-Key": "run-42"})
    assert first.status_code == again.status_code == 202
    assert again.json()["id"] == first.json()["id"] and again.headers["location"] == first.headers["location"]
    assert again.headers["idempotent-replayed"] == "true" and "idempotent-replayed" not in first.headers
    assert count(prod_settings, Evaluation) == 1
    other = client.post("/v1/evaluations", json=body(), headers={"Idempotency-Key": "run-43"})
    assert other.json()["id"] != first.json()["id"] and count(prod_settings, Evaluation) == 2


def test_same_key_different_body_is_422_and_creates_nothing(client, prod_settings):
    client.post("/v1/evaluations", json=body(), headers={"Idempotency-Key": "k"})
    response = client.post("/v1/evaluations", json=body(model="other"), headers={"Idempotency-Key": "k"})
    assert response.status_code == 422 and response.json()["errors"][0]["parameter"] == "Idempotency-Key"
    assert count(prod_settings, Evaluation) == 1


def test_keys_are_scoped_to_the_project(client, prod_settings):
    first = client.post("/v1/evaluations", json=body(), headers={"Idempotency-Key": "shared"})
    with api_client(prod_settings, "other-project") as other:
        second = other.post("/v1/evaluations", json=body(), headers={"Idempotency-Key": "shared"})
    assert second.status_code == 202 and second.json()["id"] != first.json()["id"]


def test_a_failed_request_gives_its_key_back(client, prod_settings):
    bad = body() | {"judge": "nobody"}
    assert client.post("/v1/evaluations", json=bad, headers={"Idempotency-Key": "k2"}).status_code == 422
    # nothing was created, so the same key may carry the corrected request
    assert client.post("/v1/evaluations", json=body(), headers={"Idempotency-Key": "k2"}).status_code == 202


def stall_the_first_submit(monkeypatch) -> tuple[threading.Event, threading.Event]:
    """The first submission waits inside the service (after claiming its key) until released; later ones run."""
    from service.evaluations import service

    entered, release = threading.Event(), threading.Event()
    original = service.submit

    def first_stalls(*args, **kwargs):
        if not entered.is_set():
            entered.set()
            release.wait(10)
        return original(*args, **kwargs)

    monkeypatch.setattr(service, "submit", first_stalls)
    return entered, release


def post_in_background(client, key: str, results: dict) -> threading.Thread:
    """Send the first request from a thread (it stalls in the service); its response lands in results["first"]."""
    thread = threading.Thread(target=lambda: results.setdefault(
        "first", client.post("/v1/evaluations", json=body(), headers={"Idempotency-Key": key})))
    thread.start()
    return thread


def test_a_request_still_in_progress_is_409(prod_settings, monkeypatch):
    entered, release = stall_the_first_submit(monkeypatch)
    results = {}
    with api_client(prod_settings) as client:
        worker = post_in_background(client, "slow", results)
        assert entered.wait(10)
        during = client.post("/v1/evaluations", json=body(), headers={"Idempotency-Key": "slow"})
        release.set()
        worker.join(10)
    assert during.status_code == 409 and "in progress" in during.json()["detail"]
    assert results["first"].status_code == 202 and count(prod_settings, Evaluation) == 1


def test_suite_uploads_are_idempotent_too(client, prod_settings):
    suite = {"name": "s", "items": [{"id": "q", "prompt": "p"}]}
    first = client.post("/v1/suites", json=suite, headers={"Idempotency-Key": "upload-1"})
    again = client.post("/v1/suites", json=suite, headers={"Idempotency-Key": "upload-1"})
    assert first.status_code == again.status_code == 201
    assert again.json()["version"] == first.json()["version"] == 1 and count(prod_settings, Suite) == 1


def test_a_request_whose_key_was_taken_over_creates_nothing(prod_settings, monkeypatch):
    """The first request stalls past STALE_AFTER; a retry takes the key over and creates the evaluation.
    When the first one resumes it must not create a second evaluation, nor free the retry's key."""
    from sqlalchemy import update

    from service.idempotency.service import STALE_AFTER
    from service.models import IdempotencyRecord

    entered, release = stall_the_first_submit(monkeypatch)
    results = {}
    with api_client(prod_settings) as client:
        stalled = post_in_background(client, "stale", results)
        assert entered.wait(10)
        with session_scope(prod_settings.database_url) as session:  # the first request now looks dead
            session.execute(update(IdempotencyRecord).values(
                created_at=IdempotencyRecord.created_at - STALE_AFTER - STALE_AFTER))
        retry = client.post("/v1/evaluations", json=body(), headers={"Idempotency-Key": "stale"})
        release.set()
        stalled.join(10)
        replay = client.post("/v1/evaluations", json=body(), headers={"Idempotency-Key": "stale"})
    assert retry.status_code == 202 and "idempotent-replayed" not in retry.headers
    first = results["first"]
    assert first.status_code == 409 and "taken over by a retry" in first.json()["detail"], first.text
    assert count(prod_settings, Evaluation) == 1
    assert replay.status_code == 202 and replay.json()["id"] == retry.json()["id"]
    assert replay.headers["idempotent-replayed"] == "true"

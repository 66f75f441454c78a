"""The REST API in production mode: real Postgres, real Redis/RQ, real worker processes."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from redis import Redis
from sqlalchemy import func, select, update

from service.config import Limits
from service.db.engine import session_scope
from service.models import Evaluation, Item, Judgment, Verdict
from tests.support import REPO, api_client, run_worker, settings_env, wait_for


def body(n=5, judge="scripted", **extra):
    items = [{"id": f"item-{i}", "prompt": f"question {i}", "response_a": "long answer " * (i % 3 + 1),
              "response_b": "long answer " * 2, "human_label": "a"} for i in range(n)]
    return {"protocol": "pairwise", "judge": judge, "model": "candidate", "items": items, **extra}


@pytest.fixture
def client(prod_settings):
    with api_client(prod_settings) as test_client:
        yield test_client


def count(settings, model) -> int:
    with session_scope(settings.database_url) as session:
        return session.scalar(select(func.count()).select_from(model))


def test_submit_wait_for_worker_then_complete(client, prod_settings):
    response = client.post("/v1/evaluations", json=body(7, options={"chunk_size": 3}))
    assert response.status_code == 202, response.text
    created = response.json()
    assert response.headers["location"] == f"/v1/evaluations/{created['id']}"
    assert created["status"] == "queued" and created["progress"]["chunks_total"] == 3
    waiting = client.get(response.headers["location"]).json()
    assert waiting["waiting_for_worker"] is True and "judgeserve worker --judge scripted" in waiting["status_detail"]

    result = run_worker(prod_settings, "scripted")
    assert result.returncode == 0, result.stderr[-3000:]

    done = client.get(response.headers["location"]).json()
    assert done["status"] == "completed", done
    assert done["progress"] == {"total": 7, "done": 7, "failed": 0, "chunks_total": 3, "chunks_done": 3}
    assert done["waiting_for_worker"] is False
    summary = done["summary"]
    assert summary["n_items"] == 7 and summary["n_scored"] == 7
    # the scripted judge prefers the longer response: A is longer for i%3==2, equal for i%3==1, shorter for i%3==0
    assert (summary["wins"], summary["ties"], summary["losses"]) == (2, 2, 3)
    assert done["reliability"]["position_consistency_rate"] == 1.0
    assert count(prod_settings, Judgment) == 14 and count(prod_settings, Verdict) == 7


def test_verdicts_paginate_with_cursor_and_carry_both_orders(client, prod_settings):
    evaluation_id = client.post("/v1/evaluations", json=body(5)).json()["id"]
    assert run_worker(prod_settings, "scripted").returncode == 0
    seen, cursor = [], None
    while True:
        params = {"limit": 2, "include_item": True} | ({"cursor": cursor} if cursor else {})
        page = client.get(f"/v1/evaluations/{evaluation_id}/verdicts", params=params).json()
        seen.extend(page["data"])
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert [v["item_id"] for v in seen] == [f"item-{i}" for i in range(5)]
    for verdict in seen:
        assert sorted(j["order"] for j in verdict["judgments"]) == ["ab", "ba"]
        assert all(abs(sum(j["label_probs"].values()) - 1) < 1e-9 for j in verdict["judgments"])
        assert verdict["item"]["prompt"].startswith("question")
    bad = client.get(f"/v1/evaluations/{evaluation_id}/verdicts", params={"cursor": "!!"})
    assert bad.status_code == 422 and bad.headers["content-type"] == "application/problem+json"


@pytest.mark.parametrize(
    "mutate, pointer",
    [
        (lambda b: b.update(protocol="nope"), "/protocol"),
        (lambda b: b.update(judge="nope"), "/judge"),
        (lambda b: b.update(items=[]), "/items"),
        (lambda b: b["items"][3].update(id="item-1"), "/items/3/id"),
        (lambda b: b["items"][2].pop("response_b"), "/items/2/response_b"),
        (lambda b: b["items"][4].update(human_label="maybe"), "/items/4/human_label"),
        (lambda b: b.update(options={"samples": 0}), "/options/samples"),
        (lambda b: b.update(options={"samples": 2, "verdict_mode": "logprobs"}), "/options/verdict_mode"),
        (lambda b: b.pop("model"), "/model"),
    ],
)
def test_invalid_submissions_name_the_field_and_store_nothing(client, prod_settings, mutate, pointer):
    payload = body(5)
    mutate(payload)
    response = client.post("/v1/evaluations", json=payload)
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert pointer in [e["pointer"] for e in response.json()["errors"]]
    assert count(prod_settings, Evaluation) == 0 and count(prod_settings, Item) == 0


def test_nul_characters_are_refused_by_name(client, prod_settings):
    payload = body(2)
    payload["items"][1]["response_a"] = "bad\x00byte"
    response = client.post("/v1/evaluations", json=payload)
    assert response.status_code == 422 and response.json()["errors"][0]["pointer"] == "/items/1/response_a"
    assert count(prod_settings, Evaluation) == 0


def test_malformed_json_is_a_clear_422(client):
    response = client.post("/v1/evaluations", content=b'{"protocol": ', headers={"content-type": "application/json"})
    assert response.status_code == 422 and "not valid JSON" in response.json()["detail"]


def test_unknown_evaluation_is_404(client):
    response = client.get("/v1/evaluations/does-not-exist")
    assert response.status_code == 404 and response.headers["content-type"] == "application/problem+json"


def test_body_over_limit_is_413(prod_settings):
    small = prod_settings.model_copy(update={"limits": Limits(max_body_bytes=2000)})
    with api_client(small) as client:
        response = client.post("/v1/evaluations", json=body(50))
    assert response.status_code == 413 and "max_body_bytes" in response.json()["detail"]
    assert count(prod_settings, Evaluation) == 0


def test_streamed_body_over_limit_is_413(prod_settings):
    small = prod_settings.model_copy(update={"limits": Limits(max_body_bytes=2000)})

    def chunks():  # no Content-Length: the limit is enforced while the body streams in
        yield b'{"protocol": "pairwise", "judge": "scripted", "model": "m", "items": ['
        for i in range(100):
            yield json.dumps(body(1)["items"][0] | {"id": f"x{i}"}).encode() + (b"," if i < 99 else b"")
        yield b"]}"

    with api_client(small) as client:
        response = client.post("/v1/evaluations", content=chunks(), headers={"content-type": "application/json"})
    assert response.status_code == 413, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert "max_body_bytes=2000" in response.json()["detail"]
    assert count(prod_settings, Evaluation) == 0


def test_redis_down_gives_503_and_stores_nothing(prod_settings):
    down = prod_settings.model_copy(update={"redis_url": "redis://127.0.0.1:1/0"})
    with api_client(down) as client:
        response = client.post("/v1/evaluations", json=body(3))
        assert response.status_code == 503 and response.headers["retry-after"]
        assert client.get("/readyz").status_code == 503
    assert count(prod_settings, Evaluation) == 0


def test_cancel_before_work_leaves_nothing_running(client, prod_settings):
    evaluation_id = client.post("/v1/evaluations", json=body(4, options={"chunk_size": 2})).json()["id"]
    cancelled = client.post(f"/v1/evaluations/{evaluation_id}/cancel").json()
    assert cancelled["status"] == "cancelled"
    assert run_worker(prod_settings, "scripted").returncode == 0
    after = client.get(f"/v1/evaluations/{evaluation_id}").json()
    assert after["status"] == "cancelled" and after["progress"]["done"] == 0
    listed = client.get(f"/v1/evaluations/{evaluation_id}/verdicts").json()["data"]
    assert [v["pending"] for v in listed] == [True] * 4 and all(v["judgments"] == [] for v in listed)
    again = client.post(f"/v1/evaluations/{evaluation_id}/cancel")
    assert again.status_code == 409 and again.headers["content-type"] == "application/problem+json"


def test_judge_failures_are_counted_and_an_all_failed_evaluation_fails(client, prod_settings):
    mixed = body(4, judge="scripted-flaky")
    mixed["items"][1]["prompt"] = "FAIL-ME please"
    mixed_id = client.post("/v1/evaluations", json=mixed).json()["id"]
    all_bad = body(2, judge="scripted-flaky")
    for item in all_bad["items"]:
        item["prompt"] = "FAIL-ME"
    bad_id = client.post("/v1/evaluations", json=all_bad).json()["id"]
    assert run_worker(prod_settings, "scripted-flaky").returncode == 0

    mixed_result = client.get(f"/v1/evaluations/{mixed_id}").json()
    assert mixed_result["status"] == "completed"
    # a failed item is failed, not unscored: its judge gave no output that could be unreadable
    summary = mixed_result["summary"]
    assert mixed_result["progress"]["failed"] == 1 and summary["n_failed"] == 1 and summary["n_unscored"] == 0
    assert summary["n_scored"] + summary["n_unscored"] + summary["n_failed"] == summary["n_items"] == 4
    assert mixed_result["reliability"]["unscored_rate"] == 0.0
    failed_verdict = client.get(f"/v1/evaluations/{mixed_id}/verdicts").json()["data"][1]
    assert failed_verdict["failed"] and not failed_verdict["unscored"]
    assert all(j["error"] == "scripted failure" for j in failed_verdict["judgments"])
    with session_scope(prod_settings.database_url) as session:  # as verdicts stored before 2026-11-28 were
        session.execute(update(Verdict).where(Verdict.failed.is_(True)).values(unscored=True))
    assert not client.get(f"/v1/evaluations/{mixed_id}/verdicts").json()["data"][1]["unscored"]

    bad_result = client.get(f"/v1/evaluations/{bad_id}").json()
    assert bad_result["status"] == "failed" and "no item could be judged" in bad_result["error"]


def test_judges_list_reports_live_workers(client, prod_settings):
    listed = {j["name"]: j for j in client.get("/v1/judges").json()}
    assert "embedded" in listed and listed["scripted"]["available"] is False
    worker = subprocess.Popen([sys.executable, "-m", "workers", "--judge", "scripted"],
                              env=settings_env(prod_settings), cwd=REPO,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_for(lambda: {j["name"]: j for j in client.get("/v1/judges").json()}["scripted"]["available"], timeout=60)
        listed = {j["name"]: j for j in client.get("/v1/judges").json()}
        assert listed["scripted"]["live_workers"] == 1 and listed["unserved"]["available"] is False
        # RQ handles SIGTERM (and retires the heartbeat) once it waits for jobs: stop it from then on
        redis = Redis.from_url(prod_settings.redis_url)
        wait_for(lambda: [redis.hget(k, "state") for k in redis.smembers("rq:workers")] == [b"idle"], timeout=60)
    finally:
        worker.terminate()
        worker.wait(timeout=30)
    # a cleanly stopped worker retires its heartbeat
    assert {j["name"]: j for j in client.get("/v1/judges").json()}["scripted"]["available"] is False


def test_health_and_docs(client):
    assert client.get("/healthz").json() == {"status": "ok"}
    ready = client.get("/readyz").json()
    assert ready["status"] == "ready" and ready["checks"]["mode"] == "production"
    assert client.get("/docs").status_code == 200
    assert "/v1/evaluations" in client.get("/openapi.json").json()["paths"]

"""GET /metrics: Prometheus text read from Postgres/Redis (production) or SQLite (embedded) at scrape time."""

from __future__ import annotations

import json
import logging
import subprocess
import sys
from datetime import datetime, timedelta, timezone

from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families
from pydantic import SecretStr
from sqlalchemy import text

from service.api.app import create_app
from service.config import Settings
from service.db.engine import get_engine, session_scope
from service.judges.heartbeats import beat
from service.metrics.totals import JudgmentTotals
from service.queue import webhook_queue
from tests.support import REPO, api_client, settings_env, wait_for


def samples(response) -> dict[tuple[str, tuple], float]:
    """{(sample name, sorted labels): value} of a Prometheus text response."""
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain")
    out = {}
    for family in text_string_to_metric_families(response.text):
        for sample in family.samples:
            out[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return out


def value(metrics, name, **labels) -> float:
    return metrics[(name, tuple(sorted(labels.items())))]


def pairwise(n, judge="scripted", **extra):
    items = [{"id": f"i{i}", "prompt": f"q{i}", "response_a": "a" * (i + 1), "response_b": "bb"} for i in range(n)]
    return {"protocol": "pairwise", "judge": judge, "model": "m", "items": items, **extra}


def test_metrics_in_production_mode(prod_settings):
    with api_client(prod_settings) as client:
        anonymous = TestClient(client.app)  # /metrics needs no key
        before = samples(anonymous.get("/metrics"))
        assert value(before, "judgeserve_dependency_up", dependency="database") == 1
        assert value(before, "judgeserve_dependency_up", dependency="redis") == 1
        assert value(before, "judgeserve_judge_calls_total", judge="scripted", outcome="ok") == 0
        assert value(before, "judgeserve_webhook_deliveries_total", outcome="delivered") == 0
        assert value(before, "judgeserve_workers_live", judge="scripted") == 0

        first = client.post("/v1/evaluations", json=pairwise(5, options={"chunk_size": 2})).json()["id"]
        client.post("/v1/evaluations", json=pairwise(3, judge="scripted-flaky", options={"chunk_size": 3}))
        queued = samples(anonymous.get("/metrics"))
        assert value(queued, "judgeserve_evaluations", judge="scripted", status="queued") == 1
        assert value(queued, "judgeserve_queue_depth", judge="scripted", queue=prod_settings.queue_name("scripted")) == 3
        assert value(queued, "judgeserve_queue_depth", judge="scripted-flaky",
                     queue=prod_settings.queue_name("scripted-flaky")) == 1
        assert value(queued, "judgeserve_items_pending", judge="scripted") == 5
        assert value(queued, "judgeserve_chunks_pending", judge="scripted") == 3
        assert value(queued, "judgeserve_chunks_started", judge="scripted") == 0

        worker = subprocess.run([sys.executable, "-m", "workers", "--judge", "scripted", "--burst"],
                                env=settings_env(prod_settings), cwd=REPO, capture_output=True, text=True, timeout=300)
        assert worker.returncode == 0, worker.stderr[-3000:]
        done = samples(anonymous.get("/metrics"))
        assert value(done, "judgeserve_evaluations", judge="scripted", status="completed") == 1
        assert value(done, "judgeserve_queue_depth", judge="scripted", queue=prod_settings.queue_name("scripted")) == 0
        assert value(done, "judgeserve_items_pending", judge="scripted") == 0
        assert value(done, "judgeserve_judge_calls_total", judge="scripted", outcome="ok") == 10
        assert value(done, "judgeserve_judge_calls_total", judge="scripted", outcome="error") == 0
        assert value(done, "judgeserve_judge_latency_seconds_count", judge="scripted") == 10
        assert value(done, "judgeserve_judge_latency_seconds_bucket", judge="scripted", le="+Inf") == 10
        assert value(done, "judgeserve_judge_prompt_tokens_count", judge="scripted") == 10
        assert value(done, "judgeserve_judge_completion_tokens_count", judge="scripted") == 10
        # a clean stop retires the worker's heartbeat rows
        assert value(done, "judgeserve_workers_live", judge="scripted") == 0

        # the same evaluation again: every call comes from the judge-call cache
        client.post("/v1/evaluations", json=pairwise(5, options={"chunk_size": 2}))
        assert subprocess.run([sys.executable, "-m", "workers", "--judge", "scripted", "--burst"],
                              env=settings_env(prod_settings), cwd=REPO, timeout=300).returncode == 0
        cached = samples(anonymous.get("/metrics"))
        assert value(cached, "judgeserve_judge_cache_hits_total", judge="scripted") == 10
        assert value(cached, "judgeserve_judge_calls_total", judge="scripted", outcome="ok") == 20
        assert value(cached, "judgeserve_judge_latency_seconds_count", judge="scripted") == 10  # engine calls only
        assert client.get(f"/v1/evaluations/{first}").json()["status"] == "completed"


def test_metrics_show_a_failing_judge_and_a_dead_worker(prod_settings):
    with api_client(prod_settings) as client:
        items = [{"id": f"i{i}", "prompt": "FAIL-ME", "response_a": "a", "response_b": "b"} for i in range(2)]
        evaluation = client.post("/v1/evaluations", json={"protocol": "pairwise", "judge": "scripted-flaky",
                                                          "model": "m", "items": items}).json()["id"]
        env = settings_env(prod_settings)
        worker = subprocess.run([sys.executable, "-m", "workers", "--judge", "scripted-flaky", "--burst"],
                                env=env, cwd=REPO, capture_output=True, text=True, timeout=300)
        assert worker.returncode == 0, worker.stderr[-3000:]
        failing = samples(client.get("/metrics"))
        assert value(failing, "judgeserve_judge_calls_total", judge="scripted-flaky", outcome="error") == 4
        assert value(failing, "judgeserve_evaluations", judge="scripted-flaky", status="failed") == 1
        # every worker log line is JSON, and every line that mentions the job names the evaluation and chunk
        lines = [json.loads(line) for line in worker.stderr.splitlines() if line.strip()]
        about_job = [entry for entry in lines if "judge-chunk" in entry["message"] or "judge_chunk" in entry["message"]
                     or entry["logger"].startswith("workers.jobs")]
        assert len(about_job) >= 4
        assert all(entry["evaluation_id"] == evaluation and entry["chunk_index"] == 0 for entry in about_job)

        # a worker that stopped beating: live drops to 0 once its heartbeat is older than the TTL
        with session_scope(prod_settings.database_url) as session:
            beat(session, "host.1.dead", ["scripted"], "host", 1)
            session.execute(text("UPDATE worker_heartbeats SET last_seen = :t WHERE worker_id = 'host.1.dead'"),
                            {"t": datetime.now(timezone.utc) - timedelta(seconds=prod_settings.heartbeat_ttl_seconds + 5)})
            beat(session, "host.2.alive", ["scripted"], "host", 2)
        beats = samples(client.get("/metrics"))
        assert value(beats, "judgeserve_workers_live", judge="scripted") == 1
        dead_age = value(beats, "judgeserve_worker_heartbeat_age_seconds", judge="scripted", worker="host.1.dead")
        assert dead_age > prod_settings.heartbeat_ttl_seconds
        assert value(beats, "judgeserve_judge_heartbeat_age_seconds", judge="scripted") < 5


def test_metrics_report_redis_down_without_failing(prod_settings):
    broken = prod_settings.model_copy(update={"redis_url": "redis://127.0.0.1:1/0"})
    with TestClient(create_app(broken)) as client:
        metrics = samples(client.get("/metrics"))
    assert value(metrics, "judgeserve_dependency_up", dependency="redis") == 0
    assert value(metrics, "judgeserve_dependency_up", dependency="database") == 1
    assert ("judgeserve_queue_depth", (("judge", "scripted"), ("queue", prod_settings.queue_name("scripted")))) \
        not in metrics


def test_a_metrics_token_is_required_once_it_is_set(prod_settings):
    guarded = prod_settings.model_copy(update={"metrics_token": SecretStr("s3cret-scrape-token")})
    with api_client(guarded) as client:  # authenticated with a project's API key
        anonymous = TestClient(client.app)
        refused = anonymous.get("/metrics")
        assert refused.status_code == 401 and refused.headers["www-authenticate"].startswith("Bearer")
        assert "JUDGESERVE_METRICS_TOKEN" in refused.json()["detail"] and "judgeserve_" not in refused.text
        assert anonymous.get("/metrics", headers={"Authorization": "Bearer wrong"}).status_code == 401
        assert anonymous.get("/metrics", headers={"Authorization": "Basic s3cret-scrape-token"}).status_code == 401
        assert client.get("/metrics").status_code == 401  # a project's API key is not the metrics token
        scraped = samples(anonymous.get("/metrics", headers={"Authorization": "Bearer s3cret-scrape-token"}))
        assert value(scraped, "judgeserve_dependency_up", dependency="redis") == 1
        assert value(scraped, "judgeserve_queue_depth", judge="", queue=webhook_queue(prod_settings)) == 0
        assert anonymous.get("/healthz").status_code == 200  # health routes stay open
    with api_client(prod_settings) as client:  # without a token, unchanged: no credentials needed
        assert TestClient(client.app).get("/metrics").status_code == 200


def test_metrics_in_embedded_mode(tmp_path, judges_file):
    settings = Settings(data_dir=tmp_path / "data", judges_file=judges_file)
    with api_client(settings) as client:
        location = client.post("/v1/evaluations", json=pairwise(4)).headers["location"]
        wait_for(lambda: client.get(location).json()["status"] == "completed", timeout=30)
        metrics = samples(client.get("/metrics"))
    assert value(metrics, "judgeserve_dependency_up", dependency="database") == 1
    assert ("judgeserve_dependency_up", (("dependency", "redis"),)) not in metrics
    assert value(metrics, "judgeserve_evaluations", judge="scripted", status="completed") == 1
    assert value(metrics, "judgeserve_judge_calls_total", judge="scripted", outcome="ok") == 8
    assert value(metrics, "judgeserve_workers_live", judge="scripted") == 1  # the in-process runner


def test_totals_count_late_commits_and_catch_up_in_bulk(prod_settings):
    """Ids that commit after higher ones are still counted once; a cold start aggregates in the database."""
    with api_client(prod_settings) as client:
        evaluation = client.post("/v1/evaluations", json=pairwise(300, options={"chunk_size": 300})).json()["id"]
    engine = get_engine(prod_settings.database_url)

    def insert(conn, first, last, error=None):
        conn.execute(text(
            "INSERT INTO judgments (evaluation_id, item_id, \"order\", sample, prompt_hash, template, raw_output, "
            "label, fingerprint, prompt_tokens, completion_tokens, latency_ms, error, cached, created_at) "
            "SELECT i.evaluation_id, i.id, 'ab', 0, 'h', 't', '1', CASE WHEN CAST(:error AS text) IS NULL THEN '1' END, "
            "'f', 100, 1, 20.0, CAST(:error AS text), false, now() FROM items i WHERE i.evaluation_id = :e "
            "AND i.position BETWEEN :first AND :last ORDER BY i.position"),
            {"e": evaluation, "first": first, "last": last, "error": error})

    totals = JudgmentTotals(margin=50, gap_ttl=60)
    late = engine.connect()
    transaction = late.begin()
    insert(late, 0, 9)  # takes ids 1..10 and does not commit yet
    with engine.begin() as conn:
        insert(conn, 10, 19, error="boom")  # ids 11..20, committed first
    with session_scope(prod_settings.database_url) as session:
        totals.refresh(session, now=0.0)
    assert totals.snapshot()["scripted"].calls == {"ok": 0, "error": 10, "unscored": 0}
    transaction.commit()
    late.close()
    with session_scope(prod_settings.database_url) as session:
        totals.refresh(session, now=1.0)
        totals.refresh(session, now=2.0)
    assert totals.snapshot()["scripted"].calls == {"ok": 10, "error": 10, "unscored": 0}

    with engine.begin() as conn:
        insert(conn, 20, 299)
    cold = JudgmentTotals(margin=50)
    with session_scope(prod_settings.database_url) as session:
        totals.refresh(session, now=3.0)
        cold.refresh(session)
    assert cold.bulk_ranges == 1 and cold.rows_read == 50
    for counted in (totals.snapshot()["scripted"], cold.snapshot()["scripted"]):
        assert counted.calls == {"ok": 290, "error": 10, "unscored": 0}
        latency = dict(counted.latency.cumulative())
        assert latency["+Inf"] == 290 and latency["0.025"] == 290 and latency["0.01"] == 0
        assert abs(counted.latency.total - 290 * 0.02) < 1e-9
        assert dict(counted.prompt_tokens.cumulative())["128"] == 290 and counted.prompt_tokens.total == 29000


def test_job_log_lines_carry_evaluation_and_chunk():
    """RQ's own lines about a job get the evaluation and chunk from the job id they mention."""
    from service.logging_setup import JsonFormatter, configure_logging

    configure_logging("INFO")
    record = logging.LogRecord("rq.worker", logging.INFO, __file__, 1,
                               "Job OK (judge-chunk_0b4c1b7e-9f0e-4b7e-8f4e-3d2a1c0b9a88_12)", (), None)
    call = logging.LogRecord("rq.worker", logging.INFO, __file__, 1, "Successfully completed "
                             "workers.jobs.judge_chunk.run('0b4c1b7e-9f0e-4b7e-8f4e-3d2a1c0b9a88', 3) job in 0:00:01s",
                             (), None)
    handler = next(h for h in logging.getLogger().handlers if isinstance(h.formatter, JsonFormatter))
    entries = [json.loads(handler.formatter.format(r)) for r in (record, call) if handler.filter(r)]
    assert [(e["evaluation_id"], e["chunk_index"]) for e in entries] == [
        ("0b4c1b7e-9f0e-4b7e-8f4e-3d2a1c0b9a88", 12), ("0b4c1b7e-9f0e-4b7e-8f4e-3d2a1c0b9a88", 3)]

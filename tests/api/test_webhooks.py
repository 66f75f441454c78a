"""Webhooks end to end: real Postgres and Redis, a real worker process, a real HTTP receiver on 127.0.0.1.

The receiver verifies every delivery with the reference verifier of the ``standardwebhooks`` package.
Retry delays are shortened by configuration; the worker's sweep makes the retries (no RQ scheduler).
"""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import sys
import threading
import time
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from sqlalchemy import func, select
from standardwebhooks import Webhook

from service.config import WebhookSettings
from service.db.engine import session_scope
from service.models import Evaluation, WebhookDelivery, WebhookEvent
from tests.support import REPO, api_client, settings_env, wait_for

FAST = dict(timeout_seconds=3, retry_delays_seconds=[0.3, 0.5, 0.8, 1.0, 1.0, 1.0, 1.0, 1.0], poll_seconds=0.2)


class Receiver:
    """An HTTP server on 127.0.0.1 answering POSTs from a script of (status, headers); 200 once it runs out."""

    def __init__(self, script=(), port: int = 0):
        self.script = list(script)
        self.requests: list[dict] = []
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 (http.server's naming)
                body = self.rfile.read(int(self.headers.get("content-length", 0)))
                with receiver.lock:
                    receiver.requests.append({"headers": dict(self.headers), "body": body, "at": time.monotonic(),
                                              "path": self.path})
                    status, headers = receiver.script.pop(0) if receiver.script else (200, {})
                self.send_response(status)
                for key, value in headers.items():
                    self.send_header(key, value)
                self.send_header("content-length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def url(self, host: str = "127.0.0.1") -> str:
        return f"http://{host}:{self.port}/hook"

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receivers():
    started = []

    def start(script=(), port: int = 0) -> Receiver:
        started.append(Receiver(script, port))
        return started[-1]

    yield start
    for receiver in started:
        receiver.stop()


def with_webhooks(settings, **values):
    return settings.model_copy(update={"webhooks": WebhookSettings(**(FAST | values))})


@pytest.fixture
def allowed(prod_settings):
    """Settings that allow the loopback receiver (as tests and local development configure it)."""
    return with_webhooks(prod_settings, allow_hosts=["127.0.0.1", "localhost"])


@contextmanager
def worker(settings, judge: str = "scripted", tmp_path=None):
    """A real worker process (not burst: its sweep makes the retries) until the block ends."""
    env = settings_env(settings) | {"JUDGESERVE_WEBHOOKS": settings.webhooks.model_dump_json()}
    log = open((tmp_path or REPO) / f"worker-{time.monotonic_ns()}.log", "w+") if tmp_path else subprocess.DEVNULL
    process = subprocess.Popen([sys.executable, "-m", "workers", "--judge", judge], env=env, cwd=REPO,
                               stdout=log, stderr=subprocess.STDOUT)
    try:
        yield process
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        if tmp_path:
            log.seek(0)
            print(log.read()[-5000:])
            log.close()


def evaluation(judge="scripted", n=4, **extra):
    items = [{"id": f"i{i}", "prompt": f"question {i}", "response_a": "answer " * (i + 1), "response_b": "answer"}
             for i in range(n)]
    return {"protocol": "pairwise", "judge": judge, "model": "m", "items": items, **extra}


def deliveries(client, webhook_id):
    response = client.get(f"/v1/webhooks/{webhook_id}/deliveries")
    assert response.status_code == 200, response.text
    return response.json()["data"]


def settled(client, webhook_id, n=1):
    """The endpoint's deliveries once ``n`` of them have ended (succeeded, failed or cancelled)."""
    def done():
        found = deliveries(client, webhook_id)
        return found if sum(d["status"] in ("succeeded", "failed", "cancelled") for d in found) >= n else None
    return wait_for(done, timeout=60, interval=0.2)


def test_signed_deliveries_verify_with_the_reference_verifier(allowed, receivers, tmp_path):
    receiver = receivers()
    with api_client(allowed) as client:
        created = client.post("/v1/webhooks", json={"url": receiver.url(), "description": "ci"})
        assert created.status_code == 201, created.text
        hook = created.json()
        assert hook["secret"].startswith("whsec_") and hook["status"] == "active"
        assert created.headers["location"] == f"/v1/webhooks/{hook['id']}"
        assert "secret" not in client.get(f"/v1/webhooks/{hook['id']}").json()  # shown once
        assert [h["id"] for h in client.get("/v1/webhooks").json()["data"]] == [hook["id"]]
        # a position-biased judge in both orders leaves items for human review: two events
        evaluation_id = client.post("/v1/evaluations", json=evaluation(
            "scripted-first", 6, options={"review_fraction": 0.5})).json()["id"]
        with worker(allowed, "scripted-first", tmp_path):
            found = settled(client, hook["id"], 2)
    assert {d["status"] for d in found} == {"succeeded"}
    assert len(receiver.requests) == 2
    events = {}
    for request in receiver.requests:
        payload = Webhook(hook["secret"]).verify(request["body"], request["headers"])  # raises when not valid
        events[payload["type"]] = (payload, request["headers"]["webhook-id"])
    assert set(events) == {"evaluation.completed", "evaluation.review_required"}
    completed, message_id = events["evaluation.completed"]
    data = completed["data"]
    assert data["id"] == evaluation_id and data["status"] == "completed"
    assert data["summary"]["n_items"] == 6 and data["reviews_open"] >= 1
    assert data["links"]["self"] == f"/v1/evaluations/{evaluation_id}"
    assert events["evaluation.review_required"][0]["data"]["links"]["reviews"].endswith(evaluation_id)
    by_type = {d["event_type"]: d for d in found}
    assert by_type["evaluation.completed"]["webhook_id"] == message_id
    attempt = by_type["evaluation.completed"]["attempts"][0]
    assert attempt["number"] == 1 and attempt["status_code"] == 200 and attempt["duration_ms"] > 0
    with pytest.raises(Exception):  # a tampered body does not verify
        Webhook(hook["secret"]).verify(receiver.requests[0]["body"] + b" ", receiver.requests[0]["headers"])


def test_500_twice_then_200_is_one_delivery_with_three_attempts_and_one_webhook_id(allowed, receivers, tmp_path):
    receiver = receivers([(500, {}), (503, {}), (200, {})])
    with api_client(allowed) as client:
        hook = client.post("/v1/webhooks", json={"url": receiver.url(),
                                                 "event_types": ["evaluation.completed"]}).json()
        client.post("/v1/evaluations", json=evaluation())
        with worker(allowed, tmp_path=tmp_path):
            [delivery] = settled(client, hook["id"])
            time.sleep(1.0)  # nothing more arrives after the success
            assert len(receiver.requests) == 3
            # a redelivery by hand sends the same event again, with the same webhook-id
            again = client.post(f"/v1/webhooks/{hook['id']}/deliveries/{delivery['id']}/redeliver")
            assert again.status_code == 202, again.text
            wait_for(lambda: len(receiver.requests) == 4, timeout=30)
            redelivered = wait_for(lambda: (d := deliveries(client, hook["id"])[0])["status"] == "succeeded"
                                   and len(d["attempts"]) == 4 and d, timeout=30)
        metrics = client.get("/metrics").text
        assert 'judgeserve_webhook_deliveries_total{outcome="delivered"} 2.0' in metrics
        assert 'judgeserve_webhook_deliveries_total{outcome="failed"} 2.0' in metrics
    assert delivery["status"] == "succeeded"
    assert [(a["number"], a["status_code"], a["outcome"]) for a in delivery["attempts"]] == [
        (1, 500, "retrying"), (2, 503, "retrying"), (3, 200, "succeeded")]
    assert all(a["duration_ms"] is not None and a["started_at"] for a in delivery["attempts"])
    ids = {request["headers"]["webhook-id"] for request in receiver.requests}
    assert ids == {delivery["webhook_id"]}
    for request in receiver.requests:
        Webhook(hook["secret"]).verify(request["body"], request["headers"])
    assert [a["trigger"] for a in redelivered["attempts"]] == ["automatic"] * 3 + ["redelivery"]


def test_429_retry_after_is_honoured(allowed, receivers, tmp_path):
    receiver = receivers([(429, {"Retry-After": "2"}), (200, {})])
    with api_client(allowed) as client:
        hook = client.post("/v1/webhooks", json={"url": receiver.url()}).json()
        client.post("/v1/evaluations", json=evaluation())
        with worker(allowed, tmp_path=tmp_path):
            [delivery] = settled(client, hook["id"])
    first, second = receiver.requests
    assert second["at"] - first["at"] >= 2.0  # not the configured 0.3 s
    assert [a["status_code"] for a in delivery["attempts"]] == [429, 200]
    assert first["headers"]["webhook-id"] == second["headers"]["webhook-id"]


def test_410_disables_the_endpoint(allowed, receivers, tmp_path):
    receiver = receivers([(410, {})])
    with api_client(allowed) as client:
        hook = client.post("/v1/webhooks", json={"url": receiver.url()}).json()
        client.post("/v1/evaluations", json=evaluation())
        with worker(allowed, tmp_path=tmp_path):
            [delivery] = settled(client, hook["id"])
            assert delivery["status"] == "failed" and len(delivery["attempts"]) == 1
            disabled = client.get(f"/v1/webhooks/{hook['id']}").json()
            assert disabled["status"] == "disabled" and "410" in disabled["disabled_reason"]
            # events after that are not sent to it, and a disabled endpoint cannot be redelivered to
            client.post("/v1/evaluations", json=evaluation())
            wait_for(lambda: count_evaluations(allowed, "completed") == 2, timeout=60)
            time.sleep(1.0)
            assert len(receiver.requests) == 1 and len(deliveries(client, hook["id"])) == 1
            refused = client.post(f"/v1/webhooks/{hook['id']}/deliveries/{delivery['id']}/redeliver")
            assert refused.status_code == 409
            # enabled again, it takes a redelivery
            enabled = client.patch(f"/v1/webhooks/{hook['id']}", json={"enabled": True}).json()
            assert enabled["status"] == "active" and enabled["disabled_reason"] is None
            assert client.post(f"/v1/webhooks/{hook['id']}/deliveries/{delivery['id']}/redeliver").status_code == 202
            wait_for(lambda: len(receiver.requests) == 2, timeout=30)


def count_evaluations(settings, status):
    with session_scope(settings.database_url) as session:
        return session.scalar(select(func.count()).select_from(Evaluation).where(Evaluation.status == status))


def test_private_destinations_are_refused_without_allow_listing(prod_settings, receivers):
    strict = with_webhooks(prod_settings)
    receiver = receivers()
    with api_client(strict) as client:
        for url in (receiver.url(), receiver.url("localhost"), "http://[::1]:8080/x", "http://10.1.2.3/hook",
                    "http://169.254.169.254/latest/meta-data", "http://192.168.0.10/", "http://0x7f000001/",
                    "http://[::ffff:10.0.0.1]/", "http://224.0.0.1/", "http://100.64.0.1/"):
            response = client.post("/v1/webhooks", json={"url": url})
            assert response.status_code == 422, (url, response.text)
            assert response.json()["errors"][0]["pointer"] == "/url", response.text
            assert "destination refused" in response.text
        for url in ("ftp://example.com/x", "file:///etc/passwd"):
            assert client.post("/v1/webhooks", json={"url": url}).status_code == 422
        submitted = client.post("/v1/evaluations", json=evaluation(webhook_url="http://10.0.0.8/hook"))
        assert submitted.status_code == 422 and submitted.json()["errors"][0]["pointer"] == "/webhook_url"
        assert client.get("/v1/webhooks").json()["data"] == []
    assert count_evaluations(prod_settings, "queued") == 0
    assert receiver.requests == []


def test_the_guard_runs_again_when_connecting(prod_settings, receivers, tmp_path):
    """Registered while allowed, then the allow-list is gone: refused at delivery, never sent, not retried."""
    receiver = receivers()
    gateway = with_webhooks(prod_settings, allow_hosts=["localhost"])
    with api_client(gateway) as client:
        hook = client.post("/v1/webhooks", json={"url": receiver.url("localhost")})
        assert hook.status_code == 201, hook.text
        client.post("/v1/evaluations", json=evaluation())
        with worker(with_webhooks(prod_settings), tmp_path=tmp_path):
            [delivery] = settled(client, hook.json()["id"])
    assert receiver.requests == []
    assert delivery["status"] == "failed" and len(delivery["attempts"]) == 1
    error = delivery["attempts"][0]["error"]
    assert "destination refused" in error and "127.0.0.1" in error and "loopback" in error


def test_receiver_down_then_back_gets_it_once_with_the_same_webhook_id(allowed, receivers, tmp_path):
    with socket.socket() as probe:  # a free port, nobody listening yet
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with api_client(allowed) as client:
        hook = client.post("/v1/webhooks", json={"url": f"http://127.0.0.1:{port}/hook"}).json()
        client.post("/v1/evaluations", json=evaluation())
        with worker(allowed, tmp_path=tmp_path):
            def failed_twice():
                found = deliveries(client, hook["id"])
                finished = [a for a in found[0]["attempts"] if a["outcome"] != "sending"] if found else []
                return len(finished) >= 2 and (found[0], finished)
            failing, finished = wait_for(failed_twice, timeout=60, interval=0.2)
            assert failing["status"] in ("pending", "sending")
            assert all(a["status_code"] is None and "Connect" in a["error"] and a["outcome"] == "retrying"
                       for a in finished)
            receiver = receivers(port=port)
            [delivery] = settled(client, hook["id"])
            time.sleep(1.0)
    assert delivery["status"] == "succeeded"
    assert len(receiver.requests) == 1
    assert receiver.requests[0]["headers"]["webhook-id"] == delivery["webhook_id"] == failing["webhook_id"]
    assert delivery["attempts"][-1]["status_code"] == 200 and len(delivery["attempts"]) >= 3


def test_per_evaluation_webhook_url_is_signed_with_the_default_secret(allowed, receivers, tmp_path):
    receiver = receivers()
    with api_client(allowed) as client:
        default = client.get("/v1/webhooks/default-secret").json()
        assert default["secret"].startswith("whsec_")
        assert client.get("/v1/webhooks/default-secret").json()["secret"] == default["secret"]  # created once
        bad = evaluation("scripted-flaky", 2)
        for item in bad["items"]:
            item["prompt"] = "FAIL-ME"  # every judge call fails: the evaluation fails
        evaluation_id = client.post("/v1/evaluations", json=bad | {"webhook_url": receiver.url()}).json()["id"]
        with worker(allowed, "scripted-flaky", tmp_path):
            [delivery] = settled(client, default["id"])
        assert client.get("/v1/webhooks").json()["data"] == []  # the default secret is no registered endpoint
        assert client.delete(f"/v1/webhooks/{default['id']}").status_code == 409
    [request] = receiver.requests
    payload = Webhook(default["secret"]).verify(request["body"], request["headers"])
    assert payload["type"] == "evaluation.failed" and payload["data"]["id"] == evaluation_id
    assert payload["data"]["status"] == "failed" and payload["data"]["error"]
    assert delivery["url"] == receiver.url() and delivery["status"] == "succeeded"


def test_outbox_rows_whose_job_was_lost_are_swept(allowed, receivers, tmp_path, monkeypatch):
    """The evaluation completes (outbox committed) but its delivery job is never queued (Redis 'down' just
    then); a worker started later finds the due row in its first sweep."""
    from service.queue import QueueUnavailable
    from workers import runtime
    from workers.jobs import judge_chunk

    class Down:
        def enqueue(self, *args, **kwargs):
            raise QueueUnavailable("Redis is down")

    receiver = receivers()
    with api_client(allowed) as client:
        hook = client.post("/v1/webhooks", json={"url": receiver.url()}).json()
        evaluation_id = client.post("/v1/evaluations", json=evaluation()).json()["id"]
        monkeypatch.setattr(runtime, "_settings", allowed)  # as runtime.configure, undone after the test
        monkeypatch.setattr(runtime, "_dispatcher", Down())
        try:
            judge_chunk.run(evaluation_id, 0)  # the last chunk: finalize commits the outbox; queueing fails
        finally:
            runtime.shutdown()  # releases the judge backend built in this process (other tests count its calls)
        with session_scope(allowed.database_url) as session:
            assert session.get(Evaluation, evaluation_id).status == "completed"
            assert session.scalar(select(func.count()).select_from(WebhookEvent)) == 1
            assert session.scalar(select(WebhookDelivery.status)) == "pending"
        time.sleep(0.5)
        assert receiver.requests == []
        with worker(allowed, tmp_path=tmp_path):
            [delivery] = settled(client, hook["id"])
    assert delivery["status"] == "succeeded" and len(receiver.requests) == 1


def test_endpoints_can_be_changed_and_deleted(allowed, receivers):
    receiver = receivers()
    with api_client(allowed) as client:
        hook = client.post("/v1/webhooks", json={"url": receiver.url(), "event_types": ["evaluation.failed"]}).json()
        changed = client.patch(f"/v1/webhooks/{hook['id']}", json={
            "event_types": ["evaluation.completed", "evaluation.completed"], "description": "x"}).json()
        assert changed["event_types"] == ["evaluation.completed"] and changed["description"] == "x"
        assert client.patch(f"/v1/webhooks/{hook['id']}", json={"url": "http://10.0.0.1/"}).status_code == 422
        assert client.post("/v1/webhooks", json={"url": receiver.url(), "event_types": ["nope"]}).status_code == 422
        assert client.post("/v1/webhooks", json={"url": receiver.url(), "event_types": []}).status_code == 422
        assert client.delete(f"/v1/webhooks/{hook['id']}").status_code == 204
        assert client.get(f"/v1/webhooks/{hook['id']}").status_code == 404
        assert client.get(f"/v1/webhooks/{hook['id']}/deliveries").status_code == 404


def test_a_project_registers_at_most_the_limit_of_endpoints(allowed, receivers):
    receiver = receivers()
    assert allowed.webhooks.max_endpoints_per_project == 20  # the default
    with api_client(allowed) as client:
        client.get("/v1/webhooks/default-secret")  # the default secret is not a registered endpoint
        hooks = [client.post("/v1/webhooks", json={"url": receiver.url()}) for _ in range(20)]
        assert [h.status_code for h in hooks] == [201] * 20
        refused = client.post("/v1/webhooks", json={"url": receiver.url()}, headers={"Idempotency-Key": "21st"})
        assert refused.status_code == 422, refused.text
        assert "20 webhook endpoints" in refused.text and "max_endpoints_per_project" in refused.text
        assert len(client.get("/v1/webhooks").json()["data"]) == 20
        assert client.delete(f"/v1/webhooks/{hooks[0].json()['id']}").status_code == 204
        again = client.post("/v1/webhooks", json={"url": receiver.url()}, headers={"Idempotency-Key": "21st"})
        assert again.status_code == 201, again.text  # the refused request gave its key back
    with api_client(with_webhooks(allowed, allow_hosts=["127.0.0.1"], max_endpoints_per_project=21)) as client:
        assert client.post("/v1/webhooks", json={"url": receiver.url()}).status_code == 201


def test_the_same_idempotency_key_registers_once_and_shows_the_same_secret(allowed, receivers):
    receiver = receivers()
    with api_client(allowed) as client:
        headers = {"Idempotency-Key": "hook-1"}
        first = client.post("/v1/webhooks", json={"url": receiver.url()}, headers=headers)
        again = client.post("/v1/webhooks", json={"url": receiver.url()}, headers=headers)
        assert first.status_code == again.status_code == 201
        assert again.headers["idempotent-replayed"] == "true"
        assert again.json()["id"] == first.json()["id"] and again.json()["secret"] == first.json()["secret"]
        assert len(client.get("/v1/webhooks").json()["data"]) == 1
        other = client.post("/v1/webhooks", json={"url": receiver.url("localhost")}, headers=headers)
        assert other.status_code == 422


def test_deliveries_page_newest_first(allowed, receivers, tmp_path):
    receiver = receivers()
    with api_client(allowed) as client:
        hook = client.post("/v1/webhooks", json={"url": receiver.url()}).json()
        ids = [client.post("/v1/evaluations", json=evaluation()).json()["id"] for _ in range(3)]
        with worker(allowed, tmp_path=tmp_path):
            settled(client, hook["id"], 3)
        first = client.get(f"/v1/webhooks/{hook['id']}/deliveries", params={"limit": 2}).json()
        rest = client.get(f"/v1/webhooks/{hook['id']}/deliveries",
                          params={"limit": 2, "cursor": first["next_cursor"]}).json()
        assert len(first["data"]) == 2 and len(rest["data"]) == 1 and rest["next_cursor"] is None
        seen = [d["evaluation_id"] for d in first["data"] + rest["data"]]
        assert sorted(seen) == sorted(ids)
        created = [d["created_at"] for d in first["data"] + rest["data"]]
        assert created == sorted(created, reverse=True)
        assert client.get(f"/v1/webhooks/{hook['id']}/deliveries", params={"cursor": "bad!"}).status_code == 422
        succeeded = client.get(f"/v1/webhooks/{hook['id']}/deliveries", params={"status": "failed"}).json()
        assert succeeded["data"] == []
    assert len({json.loads(r["body"])["data"]["id"] for r in receiver.requests}) == 3


def test_embedded_mode_delivers_and_retries_in_process(tmp_path, judges_file, receivers):
    """SQLite, the in-process job thread and the embedded gateway's own sweep (which makes the retry)."""
    from service.config import Settings
    from service.db.engine import dispose_all

    settings = Settings(data_dir=tmp_path / "data", judges_file=judges_file,
                        webhooks=WebhookSettings(**FAST, allow_hosts=["127.0.0.1"]))
    receiver = receivers([(500, {})])
    with api_client(settings) as client:
        hook = client.post("/v1/webhooks", json={"url": receiver.url()}).json()
        default = client.get("/v1/webhooks/default-secret").json()
        evaluation_id = client.post("/v1/evaluations", json=evaluation(webhook_url=receiver.url())).json()["id"]
        [registered] = settled(client, hook["id"])
        [per_evaluation] = settled(client, default["id"])
    dispose_all()
    assert registered["status"] == per_evaluation["status"] == "succeeded"
    assert len(receiver.requests) == 3  # one of the two got a 500 first
    assert len(registered["attempts"]) + len(per_evaluation["attempts"]) == 3
    assert registered["webhook_id"] == per_evaluation["webhook_id"]  # one event, two destinations
    signed_by = [[secret for secret in (hook["secret"], default["secret"]) if _verifies(secret, request)]
                 for request in receiver.requests]
    assert sorted(len(found) for found in signed_by) == [1, 1, 1]  # each verifies with exactly one secret
    assert sum(found == [hook["secret"]] for found in signed_by) == len(registered["attempts"])
    assert {json.loads(r["body"])["data"]["id"] for r in receiver.requests} == {evaluation_id}


def _verifies(secret, request) -> bool:
    try:
        Webhook(secret).verify(request["body"], request["headers"])
        return True
    except Exception:
        return False


def test_a_cancelled_evaluation_tells_its_receivers(allowed, receivers, tmp_path):
    """A CI job waiting on webhook_url hears about a cancel, and so does an endpoint subscribed to it."""
    waiting, registered, other = receivers(), receivers(), receivers()
    with api_client(allowed) as client:
        default = client.get("/v1/webhooks/default-secret").json()
        endpoint = client.post("/v1/webhooks", json={"url": registered.url()}).json()
        assert "evaluation.cancelled" in endpoint["event_types"]  # all events by default
        uninterested = client.post("/v1/webhooks", json={"url": other.url(),
                                                         "event_types": ["evaluation.completed"]}).json()
        # no worker serves scripted-slow: the evaluation stays queued until it is cancelled
        evaluation_id = client.post("/v1/evaluations", json=evaluation("scripted-slow")
                                    | {"webhook_url": waiting.url()}).json()["id"]
        assert client.post(f"/v1/evaluations/{evaluation_id}/cancel").json()["status"] == "cancelled"
        with worker(allowed, "scripted", tmp_path):  # any worker sends webhooks
            settled(client, default["id"])
            settled(client, endpoint["id"])
        assert deliveries(client, uninterested["id"]) == []
    for receiver, secret in ((waiting, default["secret"]), (registered, endpoint["secret"])):
        [request] = receiver.requests
        payload = Webhook(secret).verify(request["body"], request["headers"])
        assert payload["type"] == "evaluation.cancelled" and payload["data"]["id"] == evaluation_id
        assert payload["data"]["status"] == "cancelled" and payload["data"]["summary"] is None
    assert other.requests == []

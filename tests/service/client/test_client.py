"""The Python client against a real local HTTP server started by each test: retries with backoff and
Retry-After, one Idempotency-Key per submission across its retries, typed problem+json errors,
polling, pagination and ETag revalidation."""

from __future__ import annotations

import json
import socket
import threading
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest

from service.client import (
    ConnectionFailed, Conflict, JudgeserveClient, JudgeserveError, NotFound, ServerError, Unauthorized,
    UnexpectedResponse, ValidationFailed, WaitTimeout,
)

EVALUATION = {"id": "ev-1", "status": "queued", "protocol": "pairwise", "judge": "j", "model": "m", "suite": None,
              "suite_version": None, "baseline_model": None, "options": {},
              "progress": {"total": 4, "done": 0, "failed": 0, "chunks_total": 1, "chunks_done": 0},
              "summary": None, "reliability": None, "error": None, "created_at": "2026-01-01T00:00:00Z",
              "started_at": None, "completed_at": None, "links": {"self": "/v1/evaluations/ev-1"}}
PROBLEM = "application/problem+json"


class FakeService:
    """A real HTTP server on 127.0.0.1 answering from a script: ``script[(method, path)]`` is a list of
    answers, used in turn (the last one repeats). An answer is ``(status, headers, body)`` or "drop"
    (close the connection without answering). Every request is recorded."""

    def __init__(self, script: dict[tuple[str, str], list]):
        self.script = {key: list(value) for key, value in script.items()}
        self.requests: list[dict] = []
        service = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def _handle(self):
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                path, _, query = self.path.partition("?")
                try:
                    parsed = json.loads(body) if body else None
                except ValueError:
                    parsed = body.decode()
                service.requests.append({"method": self.command, "path": path, "query": query,
                                         "headers": dict(self.headers), "body": parsed})
                answers = service.script.get((self.command, path))
                if not answers:
                    answer = (404, {"Content-Type": PROBLEM}, {"title": "Not found", "status": 404})
                else:
                    answer = answers.pop(0) if len(answers) > 1 else answers[0]
                if answer == "drop":
                    self.close_connection = True
                    self.connection.shutdown(socket.SHUT_RDWR)
                    return
                status, headers, payload = answer
                data = b"" if payload is None else json.dumps(payload).encode()
                self.send_response(status)
                for key, value in {"Content-Type": "application/json", **headers}.items():
                    self.send_header(key, value)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = _handle

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)

    def __enter__(self) -> "FakeService":
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()


class Sleeps(list):
    """Records the client's pauses instead of sleeping."""

    def __call__(self, seconds: float) -> None:
        self.append(seconds)


def client_for(service: FakeService, **kwargs) -> JudgeserveClient:
    kwargs.setdefault("sleep", Sleeps())
    return JudgeserveClient(service.url, **kwargs)


def problem(status, title, detail=None, errors=None, headers=None):
    body = {"type": "about:blank", "title": title, "status": status, "detail": detail}
    if errors is not None:
        body["errors"] = errors
    return (status, {"Content-Type": PROBLEM, **(headers or {})}, body)


def test_submission_fails_twice_then_succeeds_with_one_idempotency_key_across_retries():
    script = {("POST", "/v1/evaluations"): [
        "drop",                                                                   # connection error
        problem(503, "Service unavailable", "queue down", headers={"Retry-After": "0"}),
        (202, {"Location": "/v1/evaluations/ev-1"}, EVALUATION),
    ]}
    events, sleeps = [], Sleeps()
    with FakeService(script) as service, client_for(service, api_key="secret-key", sleep=sleeps,
                                                    on_retry=events.append) as client:
        evaluation = client.submit_evaluation(protocol="pairwise", judge="j", model="m",
                                              items=[{"id": "1", "prompt": "p", "response_a": "a", "response_b": "b"}],
                                              options={"samples": 1})
    assert evaluation.id == "ev-1" and evaluation.status == "queued" and evaluation.progress.total == 4
    posts = service.requests
    assert len(posts) == 3
    keys = {request["headers"]["Idempotency-Key"] for request in posts}
    assert len(keys) == 1 and uuid.UUID(keys.pop()).version == 4
    assert all(request["headers"]["Authorization"] == "Bearer secret-key" for request in posts)
    assert all(request["body"] == posts[0]["body"] for request in posts)
    assert posts[0]["body"] == {"protocol": "pairwise", "judge": "j", "model": "m", "options": {"samples": 1},
                                "items": [{"id": "1", "prompt": "p", "response_a": "a", "response_b": "b"}]}
    assert [e.attempt for e in events] == [1, 2]
    assert "RemoteProtocolError" in events[0].reason or "Error" in events[0].reason
    assert events[1].reason == "HTTP 503" and events[1].delay == 0.0  # Retry-After: 0 honoured
    assert 0.25 <= sleeps[0] <= 0.5 and sleeps[1] == 0.0               # first: backoff with jitter


def test_an_upload_is_streamed_again_from_the_file_on_each_retry_with_the_same_key(tmp_path):
    lines = "".join(json.dumps({"id": f"q{i}", "response": "r" * i}) + "\n" for i in range(2000))
    path = tmp_path / "outputs.jsonl"
    path.write_text(lines, encoding="utf-8")
    script = {("POST", "/v1/evaluations"): [problem(503, "Service unavailable", headers={"Retry-After": "0"}),
                                            (202, {}, EVALUATION)]}
    with FakeService(script) as service, client_for(service) as client:
        evaluation = client.upload_evaluation(path, protocol="pairwise", judge="j", model="m", suite="chat",
                                              options={"samples": 2})
    assert evaluation.id == "ev-1" and len(service.requests) == 2
    first, second = service.requests
    assert first["body"] == second["body"] == lines
    assert first["headers"]["Idempotency-Key"] == second["headers"]["Idempotency-Key"]
    assert first["headers"]["Content-Type"] == "application/x-ndjson"
    assert first["headers"]["Content-Length"] == str(len(lines.encode()))
    assert first["query"] == "protocol=pairwise&judge=j&model=m&suite=chat&options=%7B%22samples%22%3A+2%7D"


def test_each_submission_gets_its_own_key_and_a_given_key_is_used_as_is():
    script = {("POST", "/v1/evaluations"): [(202, {}, EVALUATION)]}
    with FakeService(script) as service, client_for(service) as client:
        for _ in range(2):
            client.submit_evaluation(protocol="pairwise", judge="j", model="m", items=[{"id": "1"}])
        client.submit_evaluation(protocol="pairwise", judge="j", model="m", items=[{"id": "1"}],
                                 idempotency_key="my-key")
    keys = [request["headers"]["Idempotency-Key"] for request in service.requests]
    assert len(set(keys[:2])) == 2 and keys[2] == "my-key"
    assert "Authorization" not in service.requests[0]["headers"]


def test_a_409_for_a_key_still_in_flight_is_retried_with_the_same_key_but_not_without_a_key():
    in_flight = problem(409, "Conflict", "a request with this Idempotency-Key is still in progress; retry later")
    script = {("POST", "/v1/evaluations"): [in_flight, (202, {}, EVALUATION)],
              ("POST", "/v1/evaluations/ev-1/cancel"): [in_flight]}
    with FakeService(script) as service, client_for(service) as client:
        assert client.submit_evaluation(protocol="pairwise", judge="j", model="m", items=[{"id": "1"}]).id == "ev-1"
        with pytest.raises(Conflict):
            client.cancel_evaluation("ev-1")
    submissions = [r for r in service.requests if r["path"] == "/v1/evaluations"]
    assert len(submissions) == 2 and len({r["headers"]["Idempotency-Key"] for r in submissions}) == 1
    assert len(service.requests) == 3  # the cancel (no key) was not retried


def test_retry_after_seconds_are_honoured_and_capped():
    script = {("GET", "/v1/evaluations/ev-1"): [
        problem(503, "Service unavailable", headers={"Retry-After": "2"}),
        problem(503, "Service unavailable", headers={"Retry-After": "3600"}),
        (200, {}, EVALUATION),
    ]}
    sleeps = Sleeps()
    with FakeService(script) as service, client_for(service, sleep=sleeps, max_retry_after=30) as client:
        assert client.get_evaluation("ev-1").id == "ev-1"
    assert sleeps == [2.0, 30.0]


def test_a_service_that_stays_unavailable_raises_server_error_with_the_problem():
    script = {("GET", "/v1/judges"): [problem(503, "Service unavailable", "Redis is down",
                                              headers={"Retry-After": "1"})]}
    sleeps = Sleeps()
    with FakeService(script) as service, client_for(service, retries=2, sleep=sleeps) as client:
        with pytest.raises(ServerError) as raised:
            client.judges()
    assert len(service.requests) == 3 and sleeps == [1.0, 1.0]
    assert raised.value.status == 503 and raised.value.title == "Service unavailable"
    assert raised.value.detail == "Redis is down" and raised.value.headers["retry-after"] == "1"


def test_unreachable_service_raises_connection_failed_after_every_retry():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # closed again: nothing listens there
    sleeps = Sleeps()
    with JudgeserveClient(f"http://127.0.0.1:{port}", retries=3, backoff=0.1, sleep=sleeps) as client:
        with pytest.raises(ConnectionFailed) as raised:
            client.get_evaluation("x")
    assert raised.value.attempts == 4 and len(sleeps) == 3
    assert all(0.05 <= s <= 0.1 * 2 ** i for i, s in enumerate(sleeps))  # growing backoff
    assert f"127.0.0.1:{port}" in str(raised.value)


def test_errors_are_typed_and_carry_the_problem_with_pointers():
    errors = [{"pointer": "/items/3/response", "detail": "Field required"},
              {"pointer": None, "parameter": "limit", "detail": "too big"},
              {"pointer": "", "line": 7, "detail": "bad line"}]
    script = {
        ("POST", "/v1/evaluations"): [problem(422, "Invalid evaluation", "/items/3/response: Field required", errors)],
        ("GET", "/v1/evaluations/nope"): [problem(404, "Not found", "no evaluation 'nope'")],
        ("POST", "/v1/evaluations/ev-1/cancel"): [problem(409, "Conflict", "already completed")],
        ("GET", "/v1/reviews"): [problem(401, "Unauthorized", "missing API key")],
        ("GET", "/v1/judges"): [(500, {"Content-Type": "text/plain"}, None)],
    }
    with FakeService(script) as service, client_for(service, retries=0) as client:
        with pytest.raises(ValidationFailed) as invalid:
            client.submit_evaluation(protocol="pairwise", judge="j", model="m", items=[{"id": "1"}])
        with pytest.raises(NotFound) as missing:
            client.get_evaluation("nope")
        with pytest.raises(Conflict):
            client.cancel_evaluation("ev-1")
        with pytest.raises(Unauthorized):
            client.reviews_page()
        with pytest.raises(ServerError) as crashed:
            client.judges()
    problems = invalid.value.errors
    assert invalid.value.status == 422 and invalid.value.title == "Invalid evaluation"
    assert [p.pointer for p in problems] == ["/items/3/response", None, ""]
    assert [p.where() for p in problems] == ["/items/3/response", "?limit", "line 7"]
    assert problems[2].line == 7 and problems[0].detail == "Field required"
    assert missing.value.detail == "no evaluation 'nope'" and "HTTP 404 Not found" in str(missing.value)
    assert crashed.value.status == 500 and crashed.value.title == "Internal Server Error"


def test_wait_polls_with_backoff_reports_progress_and_returns_the_terminal_evaluation():
    running = {**EVALUATION, "status": "running", "progress": {**EVALUATION["progress"], "done": 2}}
    done = {**EVALUATION, "status": "completed", "progress": {**EVALUATION["progress"], "done": 4, "chunks_done": 1},
            "summary": {"metric": "win_rate", "win_rate": 0.75, "win_rate_ci95": [0.5, 1.0], "n_scored": 4}}
    script = {("GET", "/v1/evaluations/ev-1"): [(200, {}, EVALUATION), (200, {}, running), (200, {}, running),
                                                (200, {}, running), (200, {}, done)]}
    seen, sleeps = [], Sleeps()
    with FakeService(script) as service, client_for(service, sleep=sleeps) as client:
        final = client.wait("ev-1", poll_interval=1.0, max_poll_interval=2.0, on_progress=seen.append)
    assert [e.status for e in seen] == ["queued", "running", "running", "running", "completed"]
    assert sleeps == [1.0, 1.0, 1.5, 2.0]  # reset on progress, then growing by half up to the cap
    assert final.terminal and final.metric == "win_rate" and final.metric_value == 0.75
    assert final.metric_ci95 == (0.5, 1.0)


def test_wait_times_out_with_the_last_evaluation():
    script = {("GET", "/v1/evaluations/ev-1"): [(200, {}, EVALUATION)]}
    with FakeService(script) as service, JudgeserveClient(service.url) as client:
        with pytest.raises(WaitTimeout) as raised:
            client.wait("ev-1", timeout=0.3, poll_interval=0.1)
    assert raised.value.evaluation.status == "queued" and "still queued after 0.3 s" in str(raised.value)


def test_verdicts_follow_the_cursor_across_pages():
    def verdict(i):
        return {"item_id": f"q{i}", "position": i, "outcome": "a", "score": 1.0, "judgments": [
            {"order": "ab", "sample": 0, "label": "a", "raw_output": "1", "prompt_hash": "h", "fingerprint": "f",
             "prompt_tokens": 1, "completion_tokens": 1, "latency_ms": 0.1}]}
    script = {("GET", "/v1/evaluations/ev-1/verdicts"): [
        (200, {}, {"data": [verdict(0), verdict(1)], "next_cursor": "c2"}),
        (200, {}, {"data": [verdict(2)], "next_cursor": None}),
    ]}
    with FakeService(script) as service, client_for(service) as client:
        verdicts = list(client.verdicts("ev-1", page_size=2, include_item=True))
    assert [v.item_id for v in verdicts] == ["q0", "q1", "q2"] and verdicts[0].judgments[0].order == "ab"
    queries = [request["query"] for request in service.requests]
    assert queries == ["limit=2&include_item=true", "limit=2&cursor=c2&include_item=true"]


def test_evaluations_follow_the_cursor_with_the_filters_on_every_page():
    def row(i, **extra):
        return {key: EVALUATION[key] for key in ("status", "protocol", "judge", "model", "suite", "progress",
                                                 "created_at", "links")} | {"id": f"ev-{i}", **extra}
    done = row(3, status="completed", metric="win_rate", metric_value=0.75, metric_ci95=[0.5, 1.0])
    script = {("GET", "/v1/evaluations"): [
        (200, {}, {"data": [done, row(2)], "next_cursor": "c2"}),
        (200, {}, {"data": [row(1, unknown_new_field=1)], "next_cursor": None}),
    ]}
    with FakeService(script) as service, client_for(service) as client:
        rows = list(client.evaluations(model="m", judge="j", page_size=2))
    assert [r.id for r in rows] == ["ev-3", "ev-2", "ev-1"]
    assert rows[0].terminal and rows[0].metric_ci95 == (0.5, 1.0) and rows[0].metric_value == 0.75
    assert not rows[1].terminal and rows[1].metric is None and rows[1].progress.total == 4
    queries = [request["query"] for request in service.requests]
    assert queries == ["model=m&judge=j&limit=2", "model=m&judge=j&limit=2&cursor=c2"]


def test_an_evaluations_page_sends_only_the_filters_given():
    script = {("GET", "/v1/evaluations"): [(200, {}, {"data": [], "next_cursor": None})]}
    with FakeService(script) as service, client_for(service) as client:
        page = client.evaluations_page(status="completed", suite="chat", protocol="rating", limit=500, cursor="c")
    assert page.data == [] and page.next_cursor is None
    assert service.requests[0]["query"] == "status=completed&suite=chat&protocol=rating&limit=500&cursor=c"


def test_leaderboard_revalidates_with_if_none_match_and_serves_the_cached_copy_on_304():
    board = {"suite": "chat", "suite_version": 1, "protocol": "pairwise", "judge": "j", "metric": "win_rate",
             "runs": "latest", "rows": [{"model": "m", "evaluation_id": "ev-1", "value": 0.6, "rank": 1}]}
    script = {("GET", "/v1/leaderboards/chat"): [(200, {"ETag": '"abc-latest"'}, board),
                                                  (304, {"ETag": '"abc-latest"'}, None)]}
    with FakeService(script) as service, client_for(service) as client:
        first = client.leaderboard("chat", judge="j")
        second = client.leaderboard("chat", judge="j")
    assert not first.not_modified and first.etag == '"abc-latest"'
    assert second.not_modified and second.rows[0].model == "m" and second.rows[0].value == 0.6
    assert "If-None-Match" not in service.requests[0]["headers"]
    assert service.requests[1]["headers"]["If-None-Match"] == '"abc-latest"'


def test_url_and_key_default_to_the_environment(monkeypatch):
    monkeypatch.setenv("JUDGESERVE_URL", "http://judgeserve.example:9000/")
    monkeypatch.setenv("JUDGESERVE_API_KEY", "from-env")
    with JudgeserveClient() as client:
        assert client.base_url == "http://judgeserve.example:9000" and client.api_key == "from-env"
    monkeypatch.delenv("JUDGESERVE_URL")
    monkeypatch.delenv("JUDGESERVE_API_KEY")
    with JudgeserveClient() as client:
        assert client.base_url == "http://127.0.0.1:8321" and client.api_key is None


def test_review_labels_and_comparisons_send_their_bodies():
    review = {"id": "r1", "evaluation_id": "ev-1", "item_id": "q1", "status": "done", "bpde": 0.9,
              "label": {"label": "a"}, "reviewer": "alice"}
    comparison = {"baseline_evaluation_id": "b", "candidate_evaluation_id": "c", "protocol": "pairwise", "judge": "j",
                  "suite": "chat", "metric": "win_rate", "n_shared": 3, "mean_baseline": 0.6, "mean_candidate": 0.5,
                  "difference": -0.1, "difference_ci95": [-0.2, 0.0], "p_value": 0.2, "test": "sign-flip",
                  "margin": 0.02, "alpha": 0.05, "decision": "pass", "rule": "..."}
    script = {("POST", "/v1/reviews/r1"): [(200, {}, review)], ("POST", "/v1/comparisons"): [(200, {}, comparison)]}
    with FakeService(script) as service, client_for(service) as client:
        labelled = client.record_review("r1", reviewer="alice", label="a", note="clear")
        gate = client.compare("b", "c", margin=0.02)
    assert labelled.label == {"label": "a"} and gate.passed and gate.difference_ci95 == (-0.2, 0.0)
    assert service.requests[0]["body"] == {"reviewer": "alice", "label": "a", "note": "clear"}
    assert service.requests[1]["body"] == {"baseline_evaluation_id": "b", "candidate_evaluation_id": "c",
                                           "margin": 0.02, "alpha": 0.05, "seed": 0}


def mock_client(handler) -> JudgeserveClient:
    """A client whose requests go to ``handler`` (an httpx.MockTransport), with no retries."""
    return JudgeserveClient("http://judgeserve.test", retries=0, transport=httpx.MockTransport(handler))


def test_a_redirect_is_an_unexpected_response_not_a_json_error():
    """GET /v1/evaluations/ (an empty id) is redirected to the list; the client follows no redirect."""
    listing = "http://judgeserve.test/v1/evaluations"
    client = mock_client(lambda request: httpx.Response(307, headers={"Location": listing}))
    with pytest.raises(UnexpectedResponse, match=rf"GET {listing}/: HTTP 307 redirect to {listing}, which the client "
                                                 r"does not follow") as raised:
        client.get_evaluation("")
    assert raised.value.status == 307


def test_a_success_whose_body_is_not_json_is_an_unexpected_response():
    client = mock_client(lambda request: httpx.Response(200, headers={"Content-Type": "text/html"},
                                                        content=b"<html>proxy login</html>"))
    with pytest.raises(UnexpectedResponse, match=r"HTTP 200 with a body that is not JSON \(text/html\): "
                                                 r"'<html>proxy login</html>'") as raised:
        client.get_evaluation("ev-1")
    assert raised.value.status == 200 and isinstance(raised.value, JudgeserveError)
    with pytest.raises(UnexpectedResponse, match="not JSON"):
        client.judges()


def test_a_success_with_another_shape_is_an_unexpected_response():
    """E.g. the list's answer where one evaluation was asked for."""
    client = mock_client(lambda request: httpx.Response(200, json={"data": [], "next_cursor": None}))
    with pytest.raises(UnexpectedResponse,
                       match=r"does not read as Evaluation \(5 problem\(s\), first: id: Field required\)"):
        client.get_evaluation("ev-1")



QUEUED_RATING = {"id": "e1", "status": "queued", "protocol": "rating", "judge": "j", "model": "m", "suite": None,
              "suite_version": None, "baseline_model": None, "created_at": "2026-12-06T12:00:00+00:00",
              "started_at": None, "completed_at": None, "links": {},
              "progress": {"total": 1, "done": 0, "failed": 0, "chunks_total": 1, "chunks_done": 0}}


def test_typed_items_send_their_protocol_with_only_the_fields_set():
    from service.client import PairwiseOptions, RatingItem, RatingOptions

    sent = []

    def handler(request):
        sent.append(json.loads(request.content))
        return httpx.Response(202, json=QUEUED_RATING)

    with mock_client(handler) as client:
        client.submit_evaluation(judge="j", model="m", items=[RatingItem(id="q1", prompt="p", response="r")],
                                 options=RatingOptions(samples=1))
        with pytest.raises(ValueError, match="protocols \\['pairwise', 'rating'\\]"):
            client.submit_evaluation(judge="j", model="m", items=[RatingItem(id="q1", prompt="p", response="r")],
                                     options=PairwiseOptions())
        with pytest.raises(ValueError, match="cannot be sent as protocol 'href'"):
            client.submit_evaluation(protocol="href", judge="j", model="m",
                                     items=[RatingItem(id="q1", prompt="p", response="r")])
    assert sent == [{"protocol": "rating", "judge": "j", "model": "m", "options": {"samples": 1},
                     "items": [{"id": "q1", "prompt": "p", "response": "r"}]}]

"""OpenAIBackend against a scripted OpenAI-compatible server on 127.0.0.1."""

from __future__ import annotations

import asyncio
import email.utils
import math
import socket
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Callable

import pytest
import uvicorn
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from service.config import JudgeConfig
from service.core.judging import JudgeRequest
from service.core.probabilities import label_probs_from_top_logprobs
from workers.backends.openai_http import BackendUnavailableError, OpenAIBackend, retry_after_seconds

LABELS = ("1", "2", "tie")
KEY_ENV = "JUDGESERVE_TEST_OPENAI_KEY"
FAST = {"backoff_base_seconds": 0.01, "backoff_max_seconds": 0.05, "retry_after_max_seconds": 0.5}


# --------------------------------------------------------------------------- server


@dataclass
class Script:
    """What the test server answers; reset for every test."""

    # verdict probabilities over the labels: {token: probability}, listed in this order
    verdict_tokens: dict[str, float] = field(default_factory=lambda: {"1": 0.7, "2": 0.2, "tie": 0.1})
    # chosen verdict text for a request body (default: the most probable token)
    verdict_text: Callable[[dict], str] | None = None
    rationale_text: str = "Response 1 answers the question; response 2 does not."
    delay: Callable[[dict], float] = lambda body: 0.0
    # served, in order, to the first requests: (status, headers)
    failures: list[tuple[int, dict[str, str]]] = field(default_factory=list)
    # per-body override: (status, json body) or None for the normal answer
    respond: Callable[[dict], tuple[int, Any] | None] = lambda body: None
    received: list[dict] = field(default_factory=list)
    in_flight: int = 0
    max_in_flight: int = 0

    def bodies(self) -> list[dict]:
        return [r["body"] for r in self.received]


def _token_entry(token: str, logprob: float) -> dict:
    return {"token": token, "logprob": logprob, "bytes": list(token.encode("utf-8"))}


def completion(body: dict, script: Script) -> dict:
    """A chat completion in the shape vLLM's OpenAI server returns."""
    logprobs = None
    if body.get("logprobs"):
        text = script.verdict_text(body) if script.verdict_text else max(
            script.verdict_tokens, key=script.verdict_tokens.get)
        ranked = [_token_entry(t, math.log(p)) for t, p in script.verdict_tokens.items()]
        ranked.sort(key=lambda e: -e["logprob"])
        # vLLM fills the remaining slots with masked tokens at -9999
        ranked += [_token_entry(f"masked{i}", -9999.0) for i in range(20)]
        chosen = script.verdict_tokens.get(text, 1.0)
        first = _token_entry(text, math.log(chosen))
        first["top_logprobs"] = ranked[: body.get("top_logprobs") or 0]
        logprobs = {"content": [first]}
        completion_tokens = 1
    else:
        text = script.rationale_text
        completion_tokens = len(text.split())
    prompt_tokens = sum(len(m["content"].split()) for m in body["messages"])
    return {
        "id": "chatcmpl-test", "object": "chat.completion", "created": int(time.time()),
        "model": body["model"],
        "choices": [{
            "index": 0,
            "message": {"role": "assistant", "content": text, "refusal": None,
                        "tool_calls": [], "reasoning_content": None},
            "logprobs": logprobs, "finish_reason": "stop", "stop_reason": None,
        }],
        "usage": {"prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens,
                  "total_tokens": prompt_tokens + completion_tokens, "prompt_tokens_details": None},
        "prompt_logprobs": None,
    }


def make_app() -> FastAPI:
    app = FastAPI()
    app.state.script = Script()

    @app.post("/v1/chat/completions")
    async def chat(request: Request) -> JSONResponse:
        script: Script = app.state.script
        body = await request.json()
        script.received.append({"body": body, "headers": dict(request.headers)})
        script.in_flight += 1
        script.max_in_flight = max(script.max_in_flight, script.in_flight)
        try:
            await asyncio.sleep(script.delay(body))
            if script.failures:
                status, headers = script.failures.pop(0)
                return JSONResponse({"error": {"message": "scripted failure"}}, status, headers)
            override = script.respond(body)
            if override is not None:
                return JSONResponse(override[1], override[0])
            return JSONResponse(completion(body, script))
        finally:
            script.in_flight -= 1

    return app


@dataclass
class Server:
    app: FastAPI
    base_url: str

    @property
    def script(self) -> Script:
        return self.app.state.script


@pytest.fixture(scope="module")
def server():
    app = make_app()
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    uv = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="off",
                                       timeout_graceful_shutdown=2))
    thread = threading.Thread(target=uv.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not uv.started:
        assert thread.is_alive() and time.monotonic() < deadline, "test server did not start"
        time.sleep(0.01)
    yield Server(app, f"http://127.0.0.1:{port}/v1")
    uv.should_exit = True
    thread.join(timeout=10)
    sock.close()
    assert not thread.is_alive(), "test server did not shut down"


@pytest.fixture
def script(server: Server) -> Script:
    server.app.state.script = Script()
    return server.app.state.script


@pytest.fixture
def make_backend(server: Server):
    made: list[OpenAIBackend] = []

    def make(base_url: str | None = None, **overrides: Any) -> OpenAIBackend:
        fields = {"name": "remote", "backend": "openai", "base_url": base_url or server.base_url,
                  "model": "judge-model", "max_concurrency": 4, "max_retries": 3,
                  "request_timeout_seconds": 5.0}
        fields.update(overrides)
        backend = OpenAIBackend(JudgeConfig(**fields), **FAST)
        made.append(backend)
        return backend

    yield make
    for backend in made:
        backend.close()


def req(prompt: str = "Which is better?", **kwargs: Any) -> JudgeRequest:
    kwargs.setdefault("choices", LABELS)
    return JudgeRequest(messages=({"role": "system", "content": "You are a judge."},
                                  {"role": "user", "content": prompt}), **kwargs)


def prompt_of(body: dict) -> str:
    return body["messages"][1]["content"]


# --------------------------------------------------------------------------- tests


def test_batch_order_preserved_with_uneven_latency(script, make_backend):
    script.delay = lambda body: (hash(prompt_of(body)) % 7) * 0.005
    script.verdict_text = prompt_of
    backend = make_backend(max_concurrency=8)
    outputs = backend.generate([req(f"item-{i}") for i in range(20)])
    assert [o.text for o in outputs] == [f"item-{i}" for i in range(20)]
    assert all(o.error is None and o.latency_ms > 0 for o in outputs)
    assert backend.fingerprint == backend.judge.fingerprint()


@pytest.mark.parametrize("limit", [1, 4])
def test_in_flight_bounded_by_max_concurrency(script, make_backend, limit):
    script.delay = lambda body: 0.03
    outputs = make_backend(max_concurrency=limit).generate([req(f"p{i}") for i in range(16)])
    assert all(o.error is None for o in outputs)
    assert script.max_in_flight <= limit
    if limit > 1:
        assert script.max_in_flight > 1


def test_request_body_and_authorization(script, make_backend, monkeypatch):
    monkeypatch.setenv(KEY_ENV, "sk-test-secret")
    backend = make_backend(api_key_env=KEY_ENV, sampling={"top_p": 0.9, "temperature": 1.5})
    [out] = backend.generate([req("judge this", temperature=0.0, seed=1234, top_logprobs=50)])
    assert out.error is None and out.text == "1"
    [received] = script.received
    body = received["body"]
    assert body["model"] == "judge-model"
    assert body["messages"] == [{"role": "system", "content": "You are a judge."},
                                {"role": "user", "content": "judge this"}]
    assert (body["seed"], body["temperature"], body["top_p"]) == (1234, 0.0, 0.9)
    assert body["logprobs"] is True and body["top_logprobs"] == 20
    assert body["structured_outputs"] == {"choice": list(LABELS)}
    assert 1 <= body["max_tokens"] <= 8
    assert received["headers"]["authorization"] == "Bearer sk-test-secret"
    assert "sk-test-secret" not in repr(backend.__dict__)


def test_no_key_env_sends_no_authorization(script, make_backend):
    make_backend().generate([req()])
    assert "authorization" not in script.received[0]["headers"]


def test_missing_key_variable_fails_at_construction(make_backend, monkeypatch):
    monkeypatch.delenv(KEY_ENV, raising=False)
    with pytest.raises(ValueError, match=KEY_ENV):
        make_backend(api_key_env=KEY_ENV)


def test_engine_flag_omits_structured_outputs(script, make_backend):
    make_backend(engine={"structured_outputs": False}).generate([req()])
    assert "structured_outputs" not in script.received[0]["body"]


def test_rejected_structured_outputs_retried_without_and_remembered(script, make_backend):
    script.respond = lambda body: (400, {"error": {"message": "Unrecognized request argument "
                                                   "supplied: structured_outputs"}}) \
        if "structured_outputs" in body else None
    backend = make_backend()
    [first] = backend.generate([req("a")])
    [second] = backend.generate([req("b")])
    assert first.error is None and first.text == "1" and first.extra["structured_outputs"] is False
    assert second.error is None
    assert ["structured_outputs" in b for b in script.bodies()] == [True, False, False]



@pytest.mark.parametrize("failures, min_elapsed", [
    ([(429, {"Retry-After": "0.3"})], 0.3),
    ([(429, {"Retry-After": "3600"})], 0.5),  # capped at retry_after_max_seconds
    ([(429, {})], 0.0),
    ([(503, {}), (503, {}), (502, {})], 0.0),
    ([(500, {"Retry-After": "not-a-date"})], 0.0),
])
def test_retryable_statuses_are_retried(script, make_backend, failures, min_elapsed):
    script.failures = list(failures)
    start = time.monotonic()
    [out] = make_backend(max_retries=3).generate([req()])
    elapsed = time.monotonic() - start
    assert out.error is None and out.text == "1"
    assert len(script.received) == len(failures) + 1
    assert min_elapsed <= elapsed < min_elapsed + 2.0


def test_retries_exhausted_only_fails_that_request(script, make_backend):
    script.respond = lambda body: (503, {"error": "overloaded"}) if prompt_of(body) == "flaky" else None
    outputs = make_backend(max_retries=2).generate([req("ok-1"), req("flaky"), req("ok-2")])
    assert [o.error is None for o in outputs] == [True, False, True]
    assert "503" in outputs[1].error and "overloaded" in outputs[1].error
    assert sum(prompt_of(b) == "flaky" for b in script.bodies()) == 3


@pytest.mark.parametrize("status, payload, expect", [
    (400, {"error": {"message": "context length exceeded"}}, "context length exceeded"),
    (401, {"error": "bad key"}, "401"),
    (404, {"detail": "Not Found"}, "404"),
    (307, {"moved": "elsewhere"}, "307"),
])
def test_client_errors_not_retried(script, make_backend, status, payload, expect):
    script.respond = lambda body: (status, payload) if prompt_of(body) == "bad" else None
    good, bad = make_backend().generate([req("good"), req("bad")])
    assert good.error is None
    assert bad.error is not None and str(status) in bad.error and expect in bad.error
    assert bad.text == "" and bad.verdict_top_logprobs is None
    assert sum(prompt_of(b) == "bad" for b in script.bodies()) == 1


def test_timeout_fails_only_the_slow_request(script, make_backend):
    script.delay = lambda body: 10.0 if prompt_of(body) == "slow" else 0.0
    # the fast request shares this process (and its GIL) with the server: leave it a second on a loaded machine
    fast, slow = make_backend(request_timeout_seconds=1.0, max_retries=0).generate(
        [req("fast"), req("slow")])
    assert fast.error is None
    assert "Timeout" in slow.error
    assert "unreachable" not in slow.extra  # the server is serving, slowly: no reason to defer the chunk


def test_a_server_that_stays_unavailable_marks_its_calls_unreachable(script, make_backend):
    script.respond = lambda body: (503, {"error": "loading model"}) if prompt_of(body) == "down" else None
    ok, down = make_backend(max_retries=1).generate([req("ok"), req("down")])
    assert ok.error is None and "unreachable" not in ok.extra
    assert "503" in down.error and down.extra["unreachable"] is True


def test_all_connections_refused_raises(make_backend):
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    backend = make_backend(base_url=f"http://127.0.0.1:{port}/v1", max_retries=1)
    with pytest.raises(BackendUnavailableError, match="ConnectError"):
        backend.generate([req("a"), req("b")])
    assert backend.generate([]) == []


@pytest.mark.parametrize("tokens, top_logprobs, expected", [
    ({"1": 0.6, "2": 0.3, "tie": 0.1}, 20, {"1": 0.6, "2": 0.3, "tie": 0.1}),
    ({"2": 0.8, "1": 0.15, "tie": 0.05}, 5, {"1": 0.15, "2": 0.8, "tie": 0.05}),
    # only the top token listed: the others get no mass
    ({"Ġ2": 0.5, "1": 0.3, "ti": 0.2}, 1, {"1": 0.0, "2": 1.0, "tie": 0.0}),
    # none listed: the chosen token itself is still read
    ({"tie": 0.9, "1": 0.1}, 0, {"1": 0.0, "2": 0.0, "tie": 1.0}),
])
def test_logprobs_give_label_probabilities(script, make_backend, tokens, top_logprobs, expected):
    script.verdict_tokens = tokens
    [out] = make_backend().generate([req(top_logprobs=top_logprobs)])
    assert out.error is None
    assert script.received[0]["body"]["top_logprobs"] == top_logprobs
    probs = label_probs_from_top_logprobs(out.verdict_top_logprobs, LABELS)
    assert probs == pytest.approx(expected)
    assert out.completion_tokens == 1 and out.prompt_tokens > 0


def test_rationale_mode_two_calls(script, make_backend):
    backend = make_backend()
    [out] = backend.generate([req("compare", rationale_tokens=64, verdict_followup="Verdict?")])
    assert out.error is None and out.text == "1"
    assert out.rationale == script.rationale_text
    first, second = script.bodies()
    assert first["max_tokens"] == 64
    assert "structured_outputs" not in first and not first.get("logprobs")
    assert second["messages"][:2] == first["messages"]
    assert second["messages"][2:] == [{"role": "assistant", "content": script.rationale_text},
                                      {"role": "user", "content": "Verdict?"}]
    assert second["structured_outputs"] == {"choice": list(LABELS)}
    assert out.completion_tokens == len(script.rationale_text.split()) + 1
    assert label_probs_from_top_logprobs(out.verdict_top_logprobs, LABELS)["1"] == pytest.approx(0.7)


def test_generate_from_worker_thread_and_repeated_calls(script, make_backend):
    backend = make_backend()
    results: list = []
    worker = threading.Thread(target=lambda: results.extend(
        backend.generate([req("x"), req("y")]) + backend.generate([req("z")])))
    worker.start()
    worker.join(timeout=10)
    assert [o.error for o in results] == [None, None, None]
    backend.close()
    backend.close()  # idempotent
    with pytest.raises(RuntimeError):
        backend.generate([req()])


@pytest.mark.parametrize("value, expected", [
    (None, None), ("", None), ("7", 7.0), (" 0 ", 0.0), ("-3", 0.0), ("soon", None),
    ("Wed, 21 Oct 2015 07:28:00 GMT", 0.0),
])
def test_retry_after_parsing(value, expected):
    assert retry_after_seconds(value) == expected


def test_retry_after_http_date_in_future():
    assert 5 < retry_after_seconds(email.utils.formatdate(time.time() + 10, usegmt=True)) <= 10

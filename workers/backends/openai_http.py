"""Judge backend for any OpenAI-compatible chat-completions endpoint (e.g. ``vllm serve``).

Requests of one ``generate`` call go out concurrently (at most ``max_concurrency`` in
flight per backend) on a private event loop thread, so ``generate`` works from any
thread. A request that fails for good becomes a ``JudgeOutput`` with ``error`` set;
one that could not reach a serving server (connection errors; 429, 502, 503, 504 after the
retries; not a read timeout: that server is serving, slowly) is marked ``extra["unreachable"]``, so the caller can keep the rest and retry it later;
when every request of a batch failed that way ``generate`` raises ``BackendUnavailableError``.
"""

from __future__ import annotations

import asyncio
import json
import logging
import math
import os
import random
import threading
import time
from typing import Any, Sequence

import httpx

from service.config import PER_CALL_SAMPLING, JudgeConfig
from service.core.judging import JudgeOutput, JudgeRequest
from service.core.retry_after import retry_after_seconds

log = logging.getLogger(__name__)

_EXCERPT_CHARS = 300
_RETRYABLE = (httpx.TimeoutException, httpx.NetworkError, httpx.RemoteProtocolError)
# a server that accepted the request but is slow to answer it is serving: its timeout is this call's failure
_SERVING_TIMEOUTS = (httpx.ReadTimeout, httpx.WriteTimeout)
# body fields this backend sets itself; judge.sampling cannot override them
_RESERVED = PER_CALL_SAMPLING | {"model", "messages", "top_logprobs", "stream"}


class BackendUnavailableError(ConnectionError):
    """Every request of a batch failed to reach the server: retry the chunk later."""


UNAVAILABLE_STATUSES = frozenset({429, 502, 503, 504})


class _CallFailed(Exception):
    """One chat-completions call failed for good."""

    def __init__(self, message: str, *, status: int | None = None, body: str = "",
                 connection: bool = False):
        super().__init__(message)
        self.status = status
        self.body = body
        self.connection = connection


class OpenAIBackend:
    """JudgeBackend over HTTP for OpenAI-compatible servers (vLLM's structured outputs)."""

    def __init__(self, judge: JudgeConfig, *, backoff_base_seconds: float = 0.5,
                 backoff_max_seconds: float = 20.0, retry_after_max_seconds: float = 60.0):
        if not judge.base_url:
            raise ValueError(f"judge {judge.name!r}: backend 'openai' needs base_url")
        self.judge = judge
        self.fingerprint = judge.fingerprint()
        self.backoff_base = backoff_base_seconds
        self.backoff_max = backoff_max_seconds
        self.retry_after_max = retry_after_max_seconds
        self._url = judge.base_url.rstrip("/") + "/chat/completions"
        self._structured = bool(judge.engine.get("structured_outputs", True))
        self._sampling = {k: v for k, v in judge.sampling.items() if k not in _RESERVED}
        self._default_seed = judge.sampling.get("seed")
        headers = {"Accept": "application/json"}
        if judge.api_key_env:
            key = os.environ.get(judge.api_key_env)
            if not key:
                raise ValueError(f"judge {judge.name!r}: environment variable "
                                 f"{judge.api_key_env} (api_key_env) is not set")
            headers["Authorization"] = f"Bearer {key}"
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True,
                                        name=f"openai-http-{judge.name}")
        self._thread.start()
        self._closed = False
        self._client, self._semaphore = self._submit(self._setup(headers))

    async def _setup(self, headers: dict[str, str]) -> tuple[httpx.AsyncClient, asyncio.Semaphore]:
        n = self.judge.max_concurrency
        client = httpx.AsyncClient(
            headers=headers, follow_redirects=False,
            timeout=httpx.Timeout(self.judge.request_timeout_seconds),
            limits=httpx.Limits(max_connections=n, max_keepalive_connections=n),
        )
        return client, asyncio.Semaphore(n)

    def _submit(self, coro: Any) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result()

    def generate(self, requests: Sequence[JudgeRequest]) -> list[JudgeOutput]:
        """Answer all requests concurrently, in order; raise only if none reached the server."""
        if self._closed:
            raise RuntimeError("OpenAIBackend is closed")
        if not requests:
            return []
        results = self._submit(self._answer_all(requests))
        outputs = [output for output, _ in results]
        if all(unreachable for _, unreachable in results):
            raise BackendUnavailableError(
                f"all {len(requests)} requests to {self._url} failed: {outputs[0].error}")
        return outputs

    async def _answer_all(self, requests: Sequence[JudgeRequest]) -> list[tuple[JudgeOutput, bool]]:
        return list(await asyncio.gather(*(self._answer(r) for r in requests)))

    async def _answer(self, request: JudgeRequest) -> tuple[JudgeOutput, bool]:
        """One judge call (rationale first if asked); returns (output, unreachable)."""
        start = time.perf_counter()
        usage = [0, 0]
        rationale: str | None = None
        structured = False
        try:
            messages = list(request.messages)
            if request.rationale_tokens > 0:
                data = await self._post(self._body(request, messages, request.rationale_tokens))
                rationale = _message_text(data)
                _add_usage(usage, data)
                messages += [{"role": "assistant", "content": rationale},
                             {"role": "user", "content": request.verdict_followup}]
            data, structured = await self._verdict(request, messages)
            _add_usage(usage, data)
            text, top = _message_text(data), _verdict_top_logprobs(data)
        except _CallFailed as exc:
            return self._failed(str(exc), rationale, usage, start, exc.connection), exc.connection
        except Exception as exc:  # never let one request sink the batch
            log.exception("judge %s: unexpected error", self.judge.name)
            return self._failed(f"unexpected {type(exc).__name__}: {exc}", rationale, usage, start), False
        return JudgeOutput(
            text=text, verdict_top_logprobs=top, rationale=rationale,
            prompt_tokens=usage[0], completion_tokens=usage[1],
            latency_ms=(time.perf_counter() - start) * 1000.0,
            extra={"structured_outputs": structured},
        ), False

    def _failed(self, error: str, rationale: str | None, usage: list[int], start: float,
                unreachable: bool = False) -> JudgeOutput:
        return JudgeOutput(text="", rationale=rationale, error=error, prompt_tokens=usage[0],
                           completion_tokens=usage[1], latency_ms=(time.perf_counter() - start) * 1000.0,
                           extra={"unreachable": True} if unreachable else {})

    async def _verdict(self, request: JudgeRequest, messages: list[dict]) -> tuple[dict, bool]:
        """The constrained verdict call; drops structured_outputs if the server rejects it."""
        if request.json_schema is not None:
            body = self._body(request, messages, request.max_tokens)
            body["structured_outputs"] = {"json": json.loads(request.json_schema)}
            return await self._post(body), True
        use_choice = self._structured and bool(request.choices)
        body = self._body(request, messages, _verdict_max_tokens(request.choices))
        body["logprobs"] = True
        body["top_logprobs"] = max(0, min(request.top_logprobs, 20))
        if use_choice:
            body["structured_outputs"] = {"choice": list(request.choices)}
        try:
            return await self._post(body), use_choice
        except _CallFailed as exc:
            if not (use_choice and exc.status in (400, 422) and "structured_outputs" in exc.body):
                raise
        if self._structured:
            self._structured = False
            log.warning("judge %s: server rejects structured_outputs; verdicts are now "
                        "unconstrained", self.judge.name)
        del body["structured_outputs"]
        return await self._post(body), False

    def _body(self, request: JudgeRequest, messages: list[dict], max_tokens: int) -> dict[str, Any]:
        body: dict[str, Any] = dict(self._sampling)
        body.update(model=self.judge.model, messages=messages,
                    temperature=request.temperature, max_tokens=max_tokens)
        seed = request.seed if request.seed is not None else self._default_seed
        if seed is not None:
            body["seed"] = seed
        return body

    async def _post(self, body: dict[str, Any]) -> dict:
        """POST with retries on network errors, 429 and 5xx; the parsed JSON response."""
        attempts = self.judge.max_retries + 1
        for attempt in range(attempts):
            last = attempt == attempts - 1
            try:
                async with self._semaphore:
                    response = await self._client.post(self._url, json=body)
            except _RETRYABLE as exc:
                if last:
                    raise _CallFailed(f"{type(exc).__name__} after {attempts} attempt(s): "
                                      f"{exc}", connection=not isinstance(exc, _SERVING_TIMEOUTS)) from None
                await asyncio.sleep(self._backoff(attempt))
                continue
            status = response.status_code
            if status == 429 or status >= 500:
                if last:
                    raise _http_failure(response, attempts)
                await asyncio.sleep(self._retry_delay(response, attempt))
                continue
            if not 200 <= status < 300:
                raise _http_failure(response, attempt + 1)
            try:
                return response.json()
            except ValueError:
                raise _CallFailed(f"invalid JSON response: {_excerpt(response.text)}") from None
        raise AssertionError("unreachable")

    def _backoff(self, attempt: int) -> float:
        return min(self.backoff_max, self.backoff_base * 2 ** attempt) * random.uniform(0.5, 1.0)

    def _retry_delay(self, response: httpx.Response, attempt: int) -> float:
        wait = retry_after_seconds(response.headers.get("retry-after"))
        if wait is None:
            return self._backoff(attempt)
        return min(wait, self.retry_after_max)

    def close(self) -> None:
        """Close the HTTP client and stop the private event loop (idempotent)."""
        if self._closed:
            return
        self._closed = True
        try:
            asyncio.run_coroutine_threadsafe(self._client.aclose(), self._loop).result(timeout=10)
        finally:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(timeout=10)
            if not self._thread.is_alive():
                self._loop.close()


def _verdict_max_tokens(choices: Sequence[str]) -> int:
    # a token covers at least one byte, so the longest label's byte length always suffices
    return max((len(c.encode("utf-8")) for c in choices), default=14) + 2


def _excerpt(text: str) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= _EXCERPT_CHARS else flat[:_EXCERPT_CHARS] + "..."


def _http_failure(response: httpx.Response, attempts: int) -> _CallFailed:
    body = response.text
    where = f" after {attempts} attempt(s)" if attempts > 1 else ""
    # overloaded or not serving (yet): the server, not the request, is the problem
    unavailable = response.status_code in UNAVAILABLE_STATUSES
    return _CallFailed(f"HTTP {response.status_code}{where}: {_excerpt(body)}",
                       status=response.status_code, body=body, connection=unavailable)


def _first_choice(data: Any) -> dict:
    try:
        choice = data["choices"][0]
    except (KeyError, IndexError, TypeError):
        raise _CallFailed(f"malformed response (no choices): {_excerpt(str(data))}") from None
    if not isinstance(choice, dict):
        raise _CallFailed("malformed response: choice is not an object")
    return choice


def _message_text(data: Any) -> str:
    message = _first_choice(data).get("message") or {}
    return message.get("content") or ""


def _add_usage(usage: list[int], data: dict) -> None:
    counts = data.get("usage") or {}
    usage[0] += int(counts.get("prompt_tokens") or 0)
    usage[1] += int(counts.get("completion_tokens") or 0)


def _logaddexp(a: float, b: float) -> float:
    return max(a, b) + math.log1p(math.exp(-abs(a - b)))


def _verdict_top_logprobs(data: Any) -> dict[str, float] | None:
    """{token: logprob} at the first generated token, the chosen token included."""
    content = (_first_choice(data).get("logprobs") or {}).get("content") or []
    if not content:
        return None
    first = content[0]
    top: dict[str, float] = {}
    for entry in first.get("top_logprobs") or []:
        token, logprob = entry.get("token"), entry.get("logprob")
        if token is None or logprob is None:
            continue
        # distinct tokens may decode to the same text: add their probabilities
        top[token] = _logaddexp(top[token], float(logprob)) if token in top else float(logprob)
    chosen, chosen_lp = first.get("token"), first.get("logprob")
    if chosen is not None and chosen_lp is not None and chosen not in top:
        top[chosen] = float(chosen_lp)
    return top or None

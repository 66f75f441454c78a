"""A small typed client for the judgeserve REST API (httpx, synchronous).

    from service.client import JudgeserveClient, PairwiseSuiteItem

    with JudgeserveClient("http://judgeserve:8321", api_key="...") as client:
        evaluation = client.submit_evaluation(judge="qwen-7b", model="mine", suite="chat",
                                              items=[PairwiseSuiteItem(id="q1", response="...")])
        evaluation = client.wait(evaluation.id, timeout=1800)
        print(evaluation.metric, evaluation.metric_value)

Retries: connection errors (refused, reset, timeouts) and 502/503/504 answers are retried up to
``retries`` times with exponential backoff and jitter; a ``Retry-After`` header is honoured (up to
``max_retry_after`` seconds). Every submission carries an ``Idempotency-Key`` (a uuid4 made once per
call, the same on each retry), so a retried POST whose first attempt did reach the server does not
create a second evaluation: the server replays the first response. A 409 to such a request (the
earlier attempt with the key is still being processed) is retried too.
"""

from __future__ import annotations

import json
import os
import random
import time
import uuid
from dataclasses import dataclass
from typing import Any, Callable, Iterable, Iterator, Mapping, TypeVar
from urllib.parse import quote

import httpx
from pydantic import BaseModel, ValidationError

from service.client.errors import ConnectionFailed, Problem, UnexpectedResponse, WaitTimeout, error_for
from service.client.models import (
    Comparison, DecisionRule, Evaluation, EvaluationListItem, EvaluationPage, Judge, Leaderboard, ProtocolInfo, Review,
    RatingVsRanking, ReviewPage, Suite, SuiteDetail, Verdict, VerdictPage,
)
from service.core.protocols import DEFAULT_PROTOCOL
from service.core.retry_after import retry_after_seconds

DEFAULT_URL = "http://127.0.0.1:8321"
URL_ENV = "JUDGESERVE_URL"
API_KEY_ENV = "JUDGESERVE_API_KEY"
RETRY_STATUSES = frozenset({502, 503, 504})
USER_AGENT = "judgeserve-client/0.1"
ModelT = TypeVar("ModelT", bound=BaseModel)


@dataclass(frozen=True)
class RetryEvent:
    """Passed to ``on_retry`` before the client sleeps and tries again."""

    method: str
    url: str
    attempt: int          # the attempt that failed, from 1
    delay: float          # seconds until the next attempt
    reason: str           # "HTTP 503" or the transport error


class JudgeserveClient:
    """Typed access to one judgeserve service.

    ``base_url`` defaults to ``$JUDGESERVE_URL`` or http://127.0.0.1:8321, ``api_key`` to
    ``$JUDGESERVE_API_KEY`` (sent as ``Authorization: Bearer``; nothing is sent when neither is set).
    ``timeout`` is the per-request timeout in seconds; ``retries`` the number of retries after the
    first attempt.
    """

    def __init__(self, base_url: str | None = None, api_key: str | None = None, *, timeout: float = 30.0,
                 retries: int = 3, backoff: float = 0.5, max_backoff: float = 10.0, max_retry_after: float = 60.0,
                 on_retry: Callable[[RetryEvent], None] | None = None,
                 transport: httpx.BaseTransport | None = None, sleep: Callable[[float], None] = time.sleep):
        self.base_url = (base_url or os.environ.get(URL_ENV) or DEFAULT_URL).rstrip("/")
        self.api_key = api_key if api_key is not None else (os.environ.get(API_KEY_ENV) or None)
        self.retries = max(0, int(retries))
        self.backoff, self.max_backoff, self.max_retry_after = backoff, max_backoff, max_retry_after
        self.on_retry = on_retry
        self._sleep = sleep
        headers = {"User-Agent": USER_AGENT, "Accept": "application/json, application/problem+json"}
        if self.api_key:
            headers["Authorization"] = f"Bearer {self.api_key}"
        self._http = httpx.Client(base_url=self.base_url, headers=headers, timeout=timeout, transport=transport,
                                  follow_redirects=False)
        self._etags: dict[tuple[Any, ...], tuple[str, dict[str, Any]]] = {}

    # -- lifecycle --------------------------------------------------------------------------------

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> "JudgeserveClient":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- evaluations ------------------------------------------------------------------------------

    def submit_evaluation(self, *, judge: str, model: str, items: Iterable[Mapping[str, Any] | BaseModel],
                          protocol: str | None = None, suite: str | None = None, suite_version: int | None = None,
                          baseline_model: str | None = None, options: Mapping[str, Any] | BaseModel | None = None,
                          tags: Mapping[str, str] | None = None, leaderboard: bool | None = None,
                          idempotency_key: str | None = None, **fields: Any) -> Evaluation:
        """POST /v1/evaluations (JSON body) → the queued evaluation. Extra ``fields`` go into the body as given.

        Items and options are mappings, or the protocols' own models (``service.client.PairwiseItem``, …); with
        models, ``protocol`` defaults to theirs (ValueError if they belong to another), else to the default one.
        ``tags`` are string tags (``{"branch": "main"}``); ``leaderboard=False`` keeps the run off leaderboards.
        """
        items = list(items)
        protocol = _protocol_of([*items, *([options] if options else [])], protocol)
        body: dict[str, Any] = {"protocol": protocol, "judge": judge, "model": model,
                                "items": [_plain(item) for item in items]}
        optional = {"suite": suite, "suite_version": suite_version, "baseline_model": baseline_model,
                    "options": _plain(options) if options else None, "tags": dict(tags) if tags else None,
                    "leaderboard": leaderboard, **fields}
        body.update({k: v for k, v in optional.items() if v is not None})
        key = idempotency_key or new_idempotency_key()
        response = self._request("POST", "/v1/evaluations", json=body, headers={"Idempotency-Key": key})
        return _parse(Evaluation, response)

    def upload_evaluation(self, source: str | os.PathLike[str] | bytes, *, protocol: str, judge: str,
                          model: str | None = None, suite: str | None = None, suite_version: int | None = None,
                          baseline_model: str | None = None, options: Mapping[str, Any] | None = None,
                          format: str = "items", tags: Mapping[str, str] | None = None, leaderboard: bool | None = None,
                          idempotency_key: str | None = None) -> Evaluation:
        """POST /v1/evaluations as an upload streamed from a file path (or bytes), in bounded memory.

        ``format="items"``: NDJSON, one protocol item per line (with ``suite``: ``{id, response}``).
        ``"alpacaeval"``: an AlpacaEval ``model_outputs.json``; ``"fastchat"``: FastChat MT-Bench answers;
        both are mapped onto ``suite``'s items by the server (``model`` defaults to the file's generator).
        A bad line is a ``ValidationFailed`` whose errors carry the 1-based ``line``.
        """
        params = _params(protocol=protocol, judge=judge, model=model, suite=suite, suite_version=suite_version,
                         baseline_model=baseline_model, options=json.dumps(dict(options)) if options else None,
                         format=None if format == "items" else format,
                         tags=json.dumps(dict(tags)) if tags else None,
                         leaderboard=None if leaderboard is None else str(leaderboard).lower())
        media = "application/json" if format == "alpacaeval" else "application/x-ndjson"
        headers = {"Content-Type": media, "Idempotency-Key": idempotency_key or new_idempotency_key()}
        if isinstance(source, (bytes, bytearray)):
            body: bytes | Callable[[], Iterator[bytes]] = bytes(source)
        else:
            path = os.fspath(source)
            headers["Content-Length"] = str(os.path.getsize(path))
            body = lambda: _read_chunks(path)  # noqa: E731 - a fresh stream for every attempt
        response = self._request("POST", "/v1/evaluations", params=params, content=body, headers=headers)
        return _parse(Evaluation, response)

    def get_evaluation(self, evaluation_id: str) -> Evaluation:
        """GET /v1/evaluations/{id}."""
        return _parse(Evaluation, self._request("GET", f"/v1/evaluations/{_seg(evaluation_id)}"))

    def evaluations_page(self, *, status: str | None = None, suite: str | None = None, model: str | None = None,
                         protocol: str | None = None, judge: str | None = None,
                         tags: Mapping[str, str | None] | None = None, limit: int = 50,
                         cursor: str | None = None) -> EvaluationPage:
        """One page of GET /v1/evaluations (the project's evaluations, newest first); filters match exactly.

        ``tags``: every tag must match; a value of None or ``"*"`` matches any value of that key.
        """
        params = _params(status=status, suite=suite, model=model, protocol=protocol, judge=judge, limit=limit,
                         cursor=cursor, tag=_tag_filters(tags))
        return _parse(EvaluationPage, self._request("GET", "/v1/evaluations", params=params))

    def evaluations(self, *, status: str | None = None, suite: str | None = None, model: str | None = None,
                    protocol: str | None = None, judge: str | None = None,
                    tags: Mapping[str, str | None] | None = None,
                    page_size: int = 100) -> Iterator[EvaluationListItem]:
        """Every evaluation matching the filters, newest first, following ``next_cursor``."""
        cursor = None
        while True:
            page = self.evaluations_page(status=status, suite=suite, model=model, protocol=protocol, judge=judge,
                                         tags=tags, limit=page_size, cursor=cursor)
            yield from page.data
            if not page.next_cursor:
                return
            cursor = page.next_cursor

    def cancel_evaluation(self, evaluation_id: str) -> Evaluation:
        """POST /v1/evaluations/{id}/cancel (409 Conflict when it has already ended)."""
        return _parse(Evaluation, self._request("POST", f"/v1/evaluations/{_seg(evaluation_id)}/cancel"))

    def wait(self, evaluation_id: str, *, timeout: float | None = None, poll_interval: float = 0.5,
             max_poll_interval: float = 5.0, on_progress: Callable[[Evaluation], None] | None = None) -> Evaluation:
        """Poll until the evaluation is completed, failed or cancelled, and return it.

        The interval starts at ``poll_interval`` and grows by half each poll without progress, up to
        ``max_poll_interval``; it drops back when progress moves. ``on_progress`` gets every polled
        evaluation. Raises ``WaitTimeout`` (with the last evaluation seen) after ``timeout`` seconds.
        """
        deadline = time.monotonic() + timeout if timeout is not None else None
        interval, last = poll_interval, None
        while True:
            evaluation = self.get_evaluation(evaluation_id)
            if on_progress is not None:
                on_progress(evaluation)
            if evaluation.terminal:
                return evaluation
            state = (evaluation.status, evaluation.progress.finished)
            interval = poll_interval if state != last else min(interval * 1.5, max_poll_interval)
            last = state
            pause = interval
            if deadline is not None and timeout is not None:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise WaitTimeout(evaluation, timeout)
                pause = min(pause, remaining)
            self._sleep(pause)

    def verdicts_page(self, evaluation_id: str, *, limit: int = 100, cursor: str | None = None,
                      include_item: bool = False) -> VerdictPage:
        """One page of GET /v1/evaluations/{id}/verdicts."""
        params = _params(limit=limit, cursor=cursor, include_item="true" if include_item else None)
        response = self._request("GET", f"/v1/evaluations/{_seg(evaluation_id)}/verdicts", params=params)
        return _parse(VerdictPage, response)

    def verdicts(self, evaluation_id: str, *, page_size: int = 500, include_item: bool = False) -> Iterator[Verdict]:
        """Every verdict in submission order, following ``next_cursor`` page by page."""
        cursor = None
        while True:
            page = self.verdicts_page(evaluation_id, limit=page_size, cursor=cursor, include_item=include_item)
            yield from page.data
            if not page.next_cursor:
                return
            cursor = page.next_cursor

    # -- comparisons, leaderboards, judges ---------------------------------------------------------

    def compare(self, baseline_evaluation_id: str | None, candidate_evaluation_id: str, *, margin: float = 0.0,
                alpha: float = 0.05, seed: int = 0, decision_rule: DecisionRule | None = None,
                latest: Mapping[str, Any] | None = None) -> Comparison:
        """POST /v1/comparisons: the paired regression gate (candidate − baseline); the server's rule unless given.

        Name the baseline by id, or pass ``baseline_evaluation_id=None`` and ``latest={"model": …, "tags": {…}}``:
        the server uses the newest completed evaluation like the candidate that matches (``Comparison``
        names it in ``baseline_evaluation_id``).
        """
        if (baseline_evaluation_id is None) == (latest is None):
            raise ValueError("give a baseline_evaluation_id or latest=..., not both or neither")
        body: dict[str, Any] = {"candidate_evaluation_id": candidate_evaluation_id, "margin": margin, "alpha": alpha,
                                "seed": seed}
        if latest is not None:
            body["baseline"] = {"latest": {k: v for k, v in dict(latest).items() if v is not None}}
        else:
            body["baseline_evaluation_id"] = baseline_evaluation_id
        if decision_rule is not None:  # servers from before decision_rule refuse the field
            body["decision_rule"] = decision_rule
        return _parse(Comparison, self._request("POST", "/v1/comparisons", json=body))

    def leaderboard(self, suite: str, *, protocol: str = DEFAULT_PROTOCOL, judge: str | None = None,
                    runs: str = "latest", tags: Mapping[str, str | None] | None = None) -> Leaderboard:
        """GET /v1/leaderboards/{suite}, revalidated with ``If-None-Match`` against this client's last copy.

        On ``304 Not Modified`` the cached copy is returned with ``not_modified=True``. ``tags`` ranks only the
        runs with these tags (a value of None or ``"*"``: any value of that key).
        """
        path = f"/v1/leaderboards/{_seg(suite)}"
        params = _params(protocol=protocol, judge=judge, runs=runs, tag=_tag_filters(tags))
        key = (path, tuple(sorted((k, str(v)) for k, v in params.items())))
        cached = self._etags.get(key)
        headers = {"If-None-Match": cached[0]} if cached else None
        response = self._request("GET", path, params=params, headers=headers)
        if response.status_code == 304 and cached:
            return Leaderboard.model_validate({**cached[1], "etag": cached[0], "not_modified": True})
        body = _json(response)
        etag = response.headers.get("ETag")
        if etag:
            self._etags[key] = (etag, body)
        return Leaderboard.model_validate({**body, "etag": etag, "not_modified": False})

    def leaderboard_csv(self, suite: str, *, protocol: str = DEFAULT_PROTOCOL, judge: str | None = None,
                        runs: str = "latest", tags: Mapping[str, str | None] | None = None) -> str:
        """GET /v1/leaderboards/{suite} as CSV (``Accept: text/csv``): one row per model, with ``avg_length``."""
        params = _params(protocol=protocol, judge=judge, runs=runs, tag=_tag_filters(tags))
        response = self._request("GET", f"/v1/leaderboards/{_seg(suite)}", params=params,
                                 headers={"Accept": "text/csv"})
        return response.text

    def rating_vs_ranking(self, rating_x_evaluation_id: str, rating_y_evaluation_id: str,
                          pairwise_evaluation_id: str) -> RatingVsRanking:
        """POST /v1/analyses/rating-vs-ranking: do X's and Y's scores imply the comparison's verdict, item by item?"""
        body = {"rating_x_evaluation_id": rating_x_evaluation_id, "rating_y_evaluation_id": rating_y_evaluation_id,
                "pairwise_evaluation_id": pairwise_evaluation_id}
        return _parse(RatingVsRanking, self._request("POST", "/v1/analyses/rating-vs-ranking", json=body))

    def protocols(self) -> list[ProtocolInfo]:
        """GET /v1/protocols: every protocol the server runs, with its schemas, headline metric and label form."""
        return [ProtocolInfo.model_validate(p) for p in _json(self._request("GET", "/v1/protocols"))["data"]]

    def judges(self) -> list[Judge]:
        """GET /v1/judges: configured judges and their live worker counts."""
        return [Judge.model_validate(j) for j in _json(self._request("GET", "/v1/judges"))]

    # -- reviews ----------------------------------------------------------------------------------

    def reviews_page(self, *, status: str | None = "open", evaluation_id: str | None = None, limit: int = 50,
                     cursor: str | None = None) -> ReviewPage:
        """One page of GET /v1/reviews (highest BPDE first). ``status=None`` (or "all") lists open and done."""
        params = _params(status=status or "all", evaluation_id=evaluation_id, limit=limit, cursor=cursor)
        return _parse(ReviewPage, self._request("GET", "/v1/reviews", params=params))

    def reviews(self, *, status: str | None = "open", evaluation_id: str | None = None,
                page_size: int = 100) -> Iterator[Review]:
        """Every review matching the filters, following ``next_cursor``."""
        cursor = None
        while True:
            page = self.reviews_page(status=status, evaluation_id=evaluation_id, limit=page_size, cursor=cursor)
            yield from page.data
            if not page.next_cursor:
                return
            cursor = page.next_cursor

    def get_review(self, review_id: str) -> Review:
        return _parse(Review, self._request("GET", f"/v1/reviews/{_seg(review_id)}"))

    def record_review(self, review_id: str, *, reviewer: str, label: str | None = None, score: float | None = None,
                      note: str | None = None, **fields: Any) -> Review:
        """POST /v1/reviews/{id}: the protocol's label fields (``label``, ``score`` or others given as ``fields``:
        its ``label_form`` and ``schemas.review`` in GET /v1/protocols), plus who gives it."""
        body = {"reviewer": reviewer, **{k: v for k, v in {"label": label, "score": score, "note": note}.items()
                                          if v is not None}, **fields}
        return _parse(Review, self._request("POST", f"/v1/reviews/{_seg(review_id)}", json=body))

    # -- suites -----------------------------------------------------------------------------------

    def create_suite(self, name: str, items: Iterable[Mapping[str, Any]], *, description: str | None = None,
                     baseline_model: str | None = None, idempotency_key: str | None = None) -> Suite:
        """POST /v1/suites (JSON): a new suite, or the next version of an existing one."""
        body = {"name": name, "items": list(items), "description": description, "baseline_model": baseline_model}
        response = self._request("POST", "/v1/suites", json={k: v for k, v in body.items() if v is not None},
                                 headers={"Idempotency-Key": idempotency_key or new_idempotency_key()})
        return _parse(Suite, response)

    def suites(self) -> list[Suite]:
        """GET /v1/suites: the latest version of every suite."""
        return [Suite.model_validate(s) for s in _json(self._request("GET", "/v1/suites"))["data"]]

    def upload_suite(self, source: str | os.PathLike[str] | bytes, *, name: str, description: str | None = None,
                     baseline_model: str | None = None, idempotency_key: str | None = None) -> Suite:
        """POST /v1/suites as a JSONL upload (one item per line): a new suite, or the next version of one.

        A bad line is a ``ValidationFailed`` whose errors carry the 1-based ``line``.
        """
        params = _params(name=name, description=description, baseline_model=baseline_model)
        headers = {"Content-Type": "application/x-ndjson", "Idempotency-Key": idempotency_key or new_idempotency_key()}
        if isinstance(source, (bytes, bytearray)):
            body: bytes | Callable[[], Iterator[bytes]] = bytes(source)
        else:
            path = os.fspath(source)
            headers["Content-Length"] = str(os.path.getsize(path))
            body = lambda: _read_chunks(path)  # noqa: E731 - a fresh stream for every attempt
        return _parse(Suite, self._request("POST", "/v1/suites", params=params, content=body, headers=headers))

    def get_suite(self, name: str, *, version: int | None = None, limit: int = 100,
                  cursor: str | None = None) -> SuiteDetail:
        """GET /v1/suites/{name} (the latest version) or /versions/{version}, with one page of its items."""
        path = f"/v1/suites/{_seg(name)}" + (f"/versions/{int(version)}" if version is not None else "")
        return _parse(SuiteDetail, self._request("GET", path, params=_params(limit=limit, cursor=cursor)))

    # -- health -----------------------------------------------------------------------------------

    def ready(self) -> dict[str, Any]:
        """GET /readyz; raises ServerError (503) when the database or the queue is down."""
        body: dict[str, Any] = _json(self._request("GET", "/readyz"))
        return body

    # -- transport --------------------------------------------------------------------------------

    def request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        """Any call with the client's auth, retries and typed errors (for endpoints without a method yet)."""
        return self._request(method, path, **kwargs)

    def _request(self, method: str, path: str, *, params: Mapping[str, Any] | None = None, json: Any = None,
                 content: bytes | Callable[[], Iterator[bytes]] | None = None,
                 headers: Mapping[str, str] | None = None) -> httpx.Response:
        """One call with retries; ``content`` may be a factory of a fresh byte stream (called per attempt)."""
        attempts = self.retries + 1
        url = f"{self.base_url}{path}"
        # 409 on a request with an Idempotency-Key: an earlier attempt with this key is still in flight
        idempotent = any(key.lower() == "idempotency-key" for key in (headers or {}))
        for attempt in range(1, attempts + 1):
            try:
                response = self._http.request(method, path, params=params, json=json, headers=headers,
                                              content=content() if callable(content) else content)
            except httpx.TransportError as exc:
                reason = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
                if attempt == attempts:
                    raise ConnectionFailed(f"cannot reach {self.base_url} ({reason}; {attempt} attempt"
                                           f"{'s' if attempt > 1 else ''})", attempt) from exc
                self._pause(RetryEvent(method, url, attempt, self._backoff(attempt), reason))
                continue
            if attempt < attempts and (response.status_code in RETRY_STATUSES or (
                    response.status_code == 409 and idempotent)):
                delay = self._retry_after(response)
                self._pause(RetryEvent(method, url, attempt, self._backoff(attempt) if delay is None else delay,
                                       f"HTTP {response.status_code}"))
                continue
            if 300 <= response.status_code < 400 and response.status_code != 304:
                raise UnexpectedResponse(f"{method} {url}: HTTP {response.status_code} redirect to "
                                         f"{response.headers.get('Location', 'nowhere')}, which the client does not "
                                         "follow (an empty id in the path, or a service URL that redirects?)",
                                         response.status_code)
            if response.status_code >= 400:
                raise error_for(Problem.from_response(response.status_code, _body(response)), method, url,
                                dict(response.headers))
            return response
        raise AssertionError("unreachable")  # pragma: no cover

    def _pause(self, event: RetryEvent) -> None:
        if self.on_retry is not None:
            self.on_retry(event)
        self._sleep(event.delay)

    def _backoff(self, attempt: int) -> float:
        """Exponential backoff with jitter: half fixed, half random, capped."""
        ceiling = min(self.max_backoff, self.backoff * 2.0 ** (attempt - 1))
        return ceiling / 2 + random.uniform(0, ceiling / 2)

    def _retry_after(self, response: httpx.Response) -> float | None:
        seconds = retry_after_seconds(response.headers.get("Retry-After"))
        return None if seconds is None else min(seconds, self.max_retry_after)


def new_idempotency_key() -> str:
    """A fresh idempotency key (uuid4)."""
    return str(uuid.uuid4())


def _read_chunks(path: str, size: int = 1 << 16) -> Iterator[bytes]:
    with open(path, "rb") as handle:
        while chunk := handle.read(size):
            yield chunk


def _seg(value: str) -> str:
    """One path segment, percent-encoded."""
    return quote(str(value), safe="")


def _params(**values: Any) -> dict[str, Any]:
    return {k: v for k, v in values.items() if v is not None}


def _tag_filters(tags: Mapping[str, str | None] | None) -> list[str] | None:
    """``{"branch": "main", "release": None}`` as repeated ``tag`` parameters: ``branch=main``, ``release``."""
    if not tags:
        return None
    return [key if value in (None, "*") else f"{key}={value}" for key, value in tags.items()]


def _json(response: httpx.Response) -> Any:
    """A success response's JSON body; UnexpectedResponse when it is not JSON."""
    try:
        return response.json()
    except ValueError:
        kind = response.headers.get("Content-Type", "no content type")
        raise UnexpectedResponse(f"{response.request.method} {response.request.url}: HTTP {response.status_code} "
                                 f"with a body that is not JSON ({kind}): {response.text[:200]!r}",
                                 response.status_code) from None


def _parse(model: type[ModelT], response: httpx.Response) -> ModelT:
    """A success response's JSON body as ``model``; UnexpectedResponse when it is not JSON or not that shape."""
    body = _json(response)
    try:
        return model.model_validate(body)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = "/".join(str(part) for part in first["loc"]) or "body"
        raise UnexpectedResponse(f"{response.request.method} {response.request.url}: HTTP {response.status_code} "
                                 f"with a body that does not read as {model.__name__} ({exc.error_count()} problem(s), "
                                 f"first: {where}: {first['msg']})", response.status_code) from None


def _body(response: httpx.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return response.text


PROTOCOL_PACKAGES = "service.core.protocols."


def _plain(value: Mapping[str, Any] | BaseModel) -> dict[str, Any]:
    """A body part as JSON values: a model with only the fields that were set (the server fills the defaults)."""
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json", exclude_unset=True)
    return dict(value)


def _protocol_of(parts: list[Any], named: str | None) -> str:
    """The protocol whose package defines the model parts (``service.core.protocols.<name>.models``), if any."""
    packages = {type(p).__module__.split(".")[-2] for p in parts
                if isinstance(p, BaseModel) and type(p).__module__.startswith(PROTOCOL_PACKAGES)}
    if len(packages) > 1 or (packages and named is not None and packages != {named}):
        raise ValueError(f"items and options of protocols {sorted(packages)} cannot be sent as protocol {named!r}")
    return named or (packages.pop() if packages else DEFAULT_PROTOCOL)

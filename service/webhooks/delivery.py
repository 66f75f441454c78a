"""Send one attempt of a webhook delivery, log it, and decide what happens next.

Scheduling is the database's, not the queue's: a delivery row carries ``next_attempt_at``. An
attempt is made by whoever claims the due row first — the delivery job queued right after the
outbox commit (or after a redelivery), or a worker's periodic sweep (``sweep``), which is what
makes retries happen (no RQ scheduler needed) and what picks up rows whose job was lost.

Outcomes: 2xx succeeded; network errors, 408, 429 and 5xx are retried after growing delays
(``webhooks.retry_delays_seconds``; a ``Retry-After`` is honoured, capped at
``webhooks.max_retry_after_seconds``) until the delays run out; 410 fails the delivery and disables
the endpoint; a redirect (never followed), any other 4xx and a refused destination fail at once.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any

import httpx
from sqlalchemy.orm import Session

from service.config import Settings
from service.core.retry_after import retry_after_seconds
from service.db.engine import session_scope
from service.models import WebhookEndpoint
from service.webhooks import repository as repo
from service.webhooks.guard import DestinationRefused, guarded_client
from service.webhooks.signing import body_of, signed_headers

log = logging.getLogger(__name__)

EXCERPT_BYTES = 1024
USER_AGENT = "judgeserve-webhooks/0.1"
RETRYABLE_STATUS = {408, 429}


@dataclass
class Response:
    """What one HTTP attempt gave."""

    status_code: int | None = None
    error: str | None = None
    refused: bool = False
    retry_after: float | None = None
    excerpt: str | None = None
    duration_ms: float = 0.0


def now() -> datetime:
    return datetime.now(timezone.utc)


def lease_seconds(settings: Settings) -> float:
    """How long a claimed attempt may take before another worker may take the delivery over."""
    return 4 * settings.webhooks.timeout_seconds + 60


def deliver(settings: Settings, delivery_id: str) -> str:
    """Make one attempt of a delivery if it is due (else do nothing); returns what happened."""
    url = settings.effective_database_url()
    started = now()
    with session_scope(url) as session:
        prepared = _claim(session, settings, delivery_id, started)
    if isinstance(prepared, str):
        return prepared
    attempt_id, number, target, body, secret, message_id, round_attempts, endpoint_id, kind = prepared
    headers = {"content-type": "application/json", "user-agent": USER_AGENT,
               **signed_headers(secret, message_id, body, now())}
    response = send(settings, target, body, headers)
    decision = decide(settings, response, round_attempts)
    with session_scope(url) as session:
        _settle(session, delivery_id, attempt_id, number, response, decision, endpoint_id, kind)
    log.info("webhook delivery %s attempt %d to %s: %s", delivery_id, number, target, decision.outcome,
             extra={"delivery_id": delivery_id, "webhook_id": message_id, "status_code": response.status_code})
    return f"attempt {number}: {decision.outcome}"


def _claim(session: Session, settings: Settings, delivery_id: str, started: datetime):
    delivery = repo.claim(session, delivery_id, started, started + timedelta(seconds=lease_seconds(settings)))
    if delivery is None:
        return "not due"
    event = repo.get_event(session, delivery.event_id)
    endpoint = session.get(WebhookEndpoint, delivery.endpoint_id)
    trigger = "automatic" if delivery.attempts == delivery.round_attempts else "redelivery"
    if endpoint is None or event is None or endpoint.status != "active":
        reason = "the webhook was disabled before this attempt" if endpoint is not None else "the webhook was removed"
        repo.settle(session, delivery.id, delivery.attempts, {
            "status": "cancelled", "attempts": delivery.attempts - 1, "round_attempts": delivery.round_attempts - 1,
            "last_error": reason, "completed_at": started})
        return "cancelled"
    target = delivery.url or endpoint.url
    attempt_id = repo.add_attempt(session, {
        "delivery_id": delivery.id, "number": delivery.attempts, "trigger": trigger, "outcome": "sending",
        "started_at": started})
    body = body_of(with_public_links(event.payload, settings.webhooks.public_url))
    return (attempt_id, delivery.attempts, target, body, endpoint.secret, event.id, delivery.round_attempts,
            endpoint.id, endpoint.kind)


def with_public_links(payload: dict[str, Any], public_url: str | None) -> dict[str, Any]:
    """The payload with absolute links when the service's public URL is configured."""
    links = (payload.get("data") or {}).get("links")
    if not public_url or not isinstance(links, dict):
        return payload
    base = public_url.rstrip("/")
    data = dict(payload["data"], links={k: base + v if v.startswith("/") else v for k, v in links.items()})
    return dict(payload, data=data)


def send(settings: Settings, url: str, body: str, headers: dict[str, str]) -> Response:
    """POST the body (guarded connection, timeout, no redirects); read at most 1 KiB of the answer."""
    started = time.perf_counter()
    result = Response()
    try:
        with guarded_client(settings.webhooks.allow_hosts, settings.webhooks.timeout_seconds) as client:
            with client.stream("POST", url, content=body.encode(), headers=headers) as answer:
                result.status_code = answer.status_code
                result.retry_after = retry_after_seconds(answer.headers.get("retry-after"))
                result.excerpt = _excerpt(answer, started + settings.webhooks.timeout_seconds)
                if 300 <= answer.status_code < 400:
                    result.error = f"redirect not followed (Location: {answer.headers.get('location', '-')[:300]})"
    except DestinationRefused as exc:
        result.refused, result.error = True, str(exc)
    except httpx.HTTPError as exc:
        result.error = f"{type(exc).__name__}: {exc}"[:1000] or type(exc).__name__
    except Exception as exc:  # anything else about this URL: report it as the attempt's error, retry
        result.error = f"{type(exc).__name__}: {exc}"[:1000]
    result.duration_ms = (time.perf_counter() - started) * 1000
    return result


def _excerpt(answer: httpx.Response, deadline: float) -> str | None:
    collected = b""
    try:
        for chunk in answer.iter_raw():
            collected += chunk
            if len(collected) >= EXCERPT_BYTES or time.perf_counter() > deadline:
                break
    except httpx.HTTPError:
        pass  # the status code is what counts; a broken body is not a failed delivery
    return collected[:EXCERPT_BYTES].decode("utf-8", errors="replace") or None


@dataclass
class Decision:
    """What a response means for the delivery."""

    outcome: str  # succeeded | retrying | failed
    reason: str | None = None
    retry_in: float | None = None
    disable: bool = False


def decide(settings: Settings, response: Response, round_attempts: int) -> Decision:
    """Success, a retry after a delay, or a permanent failure (and for 410, disabling the endpoint)."""
    code = response.status_code
    if response.refused:
        return Decision("failed", response.error)
    if code is not None and 200 <= code < 300:
        return Decision("succeeded")
    if code == 410:
        return Decision("failed", "HTTP 410 Gone: the receiver asked to stop; the webhook was disabled", disable=True)
    retryable = code is None or code in RETRYABLE_STATUS or code >= 500
    if not retryable:
        reason = response.error if 300 <= code < 400 else f"HTTP {code}: not retried (a 4xx other than 408/410/429)"
        return Decision("failed", reason)
    delays = settings.webhooks.retry_delays_seconds
    if round_attempts > len(delays):
        return Decision("failed", f"gave up after {round_attempts} attempts: {_describe(response)}")
    delay = float(delays[round_attempts - 1])
    if response.retry_after is not None:
        delay = max(delay, min(response.retry_after, settings.webhooks.max_retry_after_seconds))
    return Decision("retrying", _describe(response), retry_in=delay)


def _describe(response: Response) -> str:
    return response.error if response.status_code is None else f"HTTP {response.status_code}"


def _settle(session: Session, delivery_id: str, attempt_id: int, number: int, response: Response, decision: Decision,
            endpoint_id: str, kind: str) -> None:
    finished = now()
    next_at = finished + timedelta(seconds=decision.retry_in) if decision.retry_in is not None else None
    error = response.error
    if decision.outcome != "succeeded" and response.status_code is not None and error is None:
        error = decision.reason
    repo.finish_attempt(session, attempt_id, {
        "outcome": decision.outcome, "duration_ms": round(response.duration_ms, 2), "status_code": response.status_code,
        "error": error, "response_excerpt": response.excerpt, "next_attempt_at": next_at})
    values: dict[str, Any] = {"last_status_code": response.status_code,
                              "last_error": None if decision.outcome == "succeeded" else decision.reason}
    if decision.outcome == "retrying":
        values.update(status="pending", next_attempt_at=next_at)
    else:
        values.update(status=decision.outcome, next_attempt_at=None, completed_at=finished)
    if not repo.settle(session, delivery_id, number, values):
        log.warning("webhook delivery %s attempt %d ended after it was taken over; its result is only logged",
                    delivery_id, number)
        return
    if decision.disable and kind == repo.ENDPOINT_KIND:
        repo.disable_endpoint(session, endpoint_id, decision.reason or "HTTP 410", finished)


def queue_deliveries(settings: Settings, dispatcher, evaluation_id: str) -> int:
    """After the outbox commit: queue the job that queues the evaluation's delivery jobs (1; 0 if that failed).

    Failing to queue is not an error: the rows are due, and the workers' sweep sends them.
    """
    from service.queue import enqueue_webhook_fan_out

    try:
        enqueue_webhook_fan_out(dispatcher, settings, evaluation_id)
        return 1
    except Exception as exc:  # Redis is down: the sweep will find the due rows
        log.warning("webhook deliveries of evaluation %s not queued (%s); the sweep will send them", evaluation_id,
                    exc, extra={"evaluation_id": evaluation_id})
        return 0


def queue_evaluation_deliveries(settings: Settings, dispatcher, evaluation_id: str) -> int:
    """Queue a delivery job for each pending delivery of the evaluation (the fan-out job); how many."""
    from service.queue import enqueue_webhook_delivery

    try:
        with session_scope(settings.effective_database_url()) as session:
            ids = repo.pending_delivery_ids_of_evaluation(session, evaluation_id)
        for delivery_id in ids:
            enqueue_webhook_delivery(dispatcher, settings, delivery_id, 1)
        return len(ids)
    except Exception as exc:  # Redis (or the database) is down: the sweep will find the due rows
        log.warning("webhook deliveries of evaluation %s not queued (%s); the sweep will send them", evaluation_id,
                    exc, extra={"evaluation_id": evaluation_id})
        return 0


def sweep(settings: Settings, limit: int = 50) -> int:
    """Attempt every due delivery (retries whose time has come, rows whose job was lost); returns how many."""
    with session_scope(settings.effective_database_url()) as session:
        ids = repo.due_delivery_ids(session, now(), limit)
    done = 0
    for delivery_id in ids:
        if deliver(settings, delivery_id) not in ("not due",):
            done += 1
    return done

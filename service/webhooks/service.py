"""Webhook use cases shared by the API and the CLI: endpoints, the default secret, deliveries, redelivery."""

from __future__ import annotations

import logging
import uuid
from datetime import datetime, timezone

from sqlalchemy.orm import Session

from service.config import Settings
from service.cursors import decode_time_cursor, encode_time_cursor
from service.errors import Conflict, FieldError, InvalidSubmission, NotFound
from service.idempotency import service as idempotency
from service.models import WebhookAttempt, WebhookDelivery, WebhookEndpoint, WebhookEvent
from service.queue import Dispatcher, QueueUnavailable, enqueue_webhook_delivery
from service.webhooks import outbox
from service.webhooks import repository as repo
from service.webhooks.guard import url_problem
from service.webhooks.schemas import (
    AttemptOut, DefaultSecretOut, DeliveryOut, DeliveryPage, WebhookCreate, WebhookCreated, WebhookList, WebhookOut,
    WebhookUpdate,
)
from service.webhooks.signing import new_secret

log = logging.getLogger(__name__)


def _now() -> datetime:
    return datetime.now(timezone.utc)


def _check_url(url: str, settings: Settings) -> None:
    problem = url_problem(url, settings.webhooks.allow_hosts)
    if problem:
        raise InvalidSubmission([FieldError("/url", problem)], title="Invalid webhook")


def create_once(session: Session, settings: Settings, body: WebhookCreate, project_id: str,
                idempotency_key: str | None = None) -> tuple[WebhookCreated, bool]:
    """Register an endpoint once per Idempotency-Key; a replay shows the same endpoint and secret."""
    _check_url(body.url, settings)
    return idempotency.once(session, project_id, idempotency_key, "POST /v1/webhooks", body.model_dump_json().encode(),
                            lambda claim: _register(session, settings, body, project_id, claim),
                            replay=lambda earlier: _registered_earlier(session, project_id, earlier.body["id"]))


def _register(session: Session, settings: Settings, body: WebhookCreate, project_id: str,
              claim: idempotency.Claim | None) -> WebhookCreated:
    limit = settings.webhooks.max_endpoints_per_project
    if repo.count_endpoints_locked(session, project_id) >= limit:
        raise InvalidSubmission([FieldError("", f"this project already has {limit} webhook endpoints, the "
                                            f"limit (webhooks.max_endpoints_per_project); delete one first")],
                                title="Too many webhook endpoints")
    endpoint = repo.add_endpoint(session, {
        "id": str(uuid.uuid4()), "project_id": project_id, "kind": repo.ENDPOINT_KIND, "url": body.url,
        "event_types": _unique(body.event_types), "description": body.description, "secret": new_secret(),
        "status": "active", "created_at": _now(),
    })
    idempotency.complete(session, claim, 201, {"id": endpoint.id}, {"Location": f"/v1/webhooks/{endpoint.id}"})
    session.commit()
    return _created(endpoint)


def _registered_earlier(session: Session, project_id: str, endpoint_id: str) -> WebhookCreated:
    endpoint = repo.get_endpoint(session, project_id, endpoint_id)
    if endpoint is None:
        raise NotFound(f"webhook {endpoint_id} no longer exists")
    return _created(endpoint)


def _unique(values: list[str]) -> list[str]:
    return list(dict.fromkeys(values))


def list_endpoints(session: Session, project_id: str) -> WebhookList:
    """A project's registered endpoints."""
    return WebhookList(data=[to_out(e) for e in repo.list_endpoints(session, project_id)])


def owned(session: Session, project_id: str, endpoint_id: str) -> WebhookEndpoint:
    """The project's endpoint (or default-secret row); NotFound for a missing one or another project's."""
    endpoint = repo.get_endpoint(session, project_id, endpoint_id)
    if endpoint is None:
        raise NotFound(f"webhook {endpoint_id} not found")
    return endpoint


def get(session: Session, project_id: str, endpoint_id: str) -> WebhookOut:
    """One endpoint (never its secret)."""
    return to_out(owned(session, project_id, endpoint_id))


def update(session: Session, settings: Settings, project_id: str, endpoint_id: str, body: WebhookUpdate) -> WebhookOut:
    """Change an endpoint's URL, events or description, or enable/disable it."""
    endpoint = owned(session, project_id, endpoint_id)
    if endpoint.kind != repo.ENDPOINT_KIND and (body.url is not None or body.event_types is not None):
        raise Conflict("the default secret has no URL or event types of its own (each evaluation names its URL)")
    values: dict = {}
    if body.url is not None:
        _check_url(body.url, settings)
        values["url"] = body.url
    if body.event_types is not None:
        values["event_types"] = _unique(body.event_types)
    if "description" in body.model_fields_set:
        values["description"] = body.description
    if body.enabled is True:
        values.update(status="active", disabled_reason=None, disabled_at=None)
    elif body.enabled is False and endpoint.status == "active":
        values.update(status="disabled", disabled_reason="disabled by request", disabled_at=_now())
    if values:
        repo.update_endpoint(session, endpoint.id, values)
        session.commit()
        session.refresh(endpoint)
    return to_out(endpoint)


def delete(session: Session, project_id: str, endpoint_id: str) -> None:
    """Remove an endpoint with its delivery log; pending deliveries to it are dropped."""
    endpoint = owned(session, project_id, endpoint_id)
    if endpoint.kind != repo.ENDPOINT_KIND:
        raise Conflict("the default secret signs per-evaluation webhook_url deliveries and cannot be deleted; "
                       "disable it with PATCH {\"enabled\": false}")
    repo.delete_endpoint(session, endpoint.id)
    session.commit()


def default_secret(session: Session, project_id: str) -> DefaultSecretOut:
    """The project's default secret, created on first need (it signs per-evaluation webhook_url deliveries)."""
    endpoint = outbox.default_endpoint(session, project_id)
    session.commit()
    return DefaultSecretOut(id=endpoint.id, secret=endpoint.secret, created_at=endpoint.created_at,
                            links={"deliveries": f"/v1/webhooks/{endpoint.id}/deliveries"})


def deliveries(session: Session, project_id: str, endpoint_id: str, status: str | None, limit: int,
               cursor: str | None) -> DeliveryPage:
    """An endpoint's deliveries, newest first, each with every attempt."""
    endpoint = owned(session, project_id, endpoint_id)
    rows = repo.delivery_page(session, endpoint.id, status, decode_time_cursor(cursor), limit)
    attempts = repo.attempts_of(session, [d.id for d, _ in rows])
    data = [to_delivery_out(d, e, endpoint, attempts.get(d.id, [])) for d, e in rows]
    last = rows[-1][0] if rows else None
    next_cursor = encode_time_cursor(last.created_at, last.id) if last is not None and len(rows) == limit else None
    return DeliveryPage(data=data, next_cursor=next_cursor)


def redeliver(session: Session, dispatcher: Dispatcher, settings: Settings, project_id: str, endpoint_id: str,
              delivery_id: str) -> DeliveryOut:
    """Send a delivery again now, with the same webhook-id, and a fresh round of automatic retries."""
    endpoint = owned(session, project_id, endpoint_id)
    delivery = repo.get_delivery(session, project_id, endpoint.id, delivery_id)
    if delivery is None:
        raise NotFound(f"delivery {delivery_id} not found")
    if endpoint.status != "active":
        raise Conflict(f"webhook {endpoint.id} is disabled ({endpoint.disabled_reason}); enable it first with "
                       "PATCH {\"enabled\": true}")
    if not repo.redeliver(session, delivery.id, _now()):
        raise Conflict(f"delivery {delivery.id} is being sent right now; retry when the attempt has ended")
    session.commit()
    try:
        enqueue_webhook_delivery(dispatcher, settings, delivery.id, delivery.attempts + 1)
    except QueueUnavailable as exc:  # the workers' sweep sends it anyway: it is due now
        log.warning("redelivery of %s not queued (%s); the sweep will send it", delivery.id, exc)
    session.refresh(delivery)
    event = session.get(WebhookEvent, delivery.event_id)
    return to_delivery_out(delivery, event, endpoint, repo.attempts_of(session, [delivery.id]).get(delivery.id, []))


def to_out(endpoint: WebhookEndpoint) -> WebhookOut:
    """Map a stored endpoint onto its API shape (without the secret)."""
    base = f"/v1/webhooks/{endpoint.id}"
    return WebhookOut(id=endpoint.id, url=endpoint.url, event_types=list(endpoint.event_types or []),
                      description=endpoint.description, status=endpoint.status,
                      disabled_reason=endpoint.disabled_reason, created_at=endpoint.created_at,
                      disabled_at=endpoint.disabled_at, links={"self": base, "deliveries": f"{base}/deliveries"})


def _created(endpoint: WebhookEndpoint) -> WebhookCreated:
    return WebhookCreated(**to_out(endpoint).model_dump(), secret=endpoint.secret)


def to_delivery_out(delivery: WebhookDelivery, event: WebhookEvent, endpoint: WebhookEndpoint,
                    attempts: list[WebhookAttempt]) -> DeliveryOut:
    """Map a delivery, its event and its attempts onto the API shape."""
    return DeliveryOut(
        id=delivery.id, webhook_id=event.id, event_type=event.type, evaluation_id=event.evaluation_id,
        url=delivery.url or endpoint.url or "", status=delivery.status,
        attempts=[AttemptOut.model_validate(a, from_attributes=True) for a in attempts],
        next_attempt_at=delivery.next_attempt_at if delivery.status == "pending" else None,
        last_status_code=delivery.last_status_code, last_error=delivery.last_error,
        created_at=delivery.created_at, completed_at=delivery.completed_at,
    )

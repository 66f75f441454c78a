"""All database queries about webhooks: endpoints, the outbox, deliveries and attempts."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, Sequence

from sqlalchemy import and_, delete, func, or_, select, update
from sqlalchemy.orm import Session

from service.db.conflict import insert_ignoring_conflicts
from service.models import Project, WebhookAttempt, WebhookDelivery, WebhookEndpoint, WebhookEvent

DEFAULT_KIND = "default"
ENDPOINT_KIND = "endpoint"
_DEFAULT_NAMESPACE = uuid.UUID("6c1d8f0e-5f0b-4d53-9b59-5d1d2f0b7a11")


def default_endpoint_id(project_id: str) -> str:
    """The id of a project's default-secret row (fixed, so creating it twice creates it once)."""
    return str(uuid.uuid5(_DEFAULT_NAMESPACE, project_id))


# -- endpoints ------------------------------------------------------------------------------------

def add_endpoint(session: Session, row: dict[str, Any]) -> WebhookEndpoint:
    """Store a new endpoint."""
    endpoint = WebhookEndpoint(**row)
    session.add(endpoint)
    session.flush()
    return endpoint


def ensure_default_endpoint(session: Session, project_id: str, row: dict[str, Any]) -> WebhookEndpoint:
    """The project's default-secret row, created from ``row`` when it does not exist yet."""
    insert_ignoring_conflicts(session, WebhookEndpoint, [row | {"id": default_endpoint_id(project_id),
                                                                "project_id": project_id, "kind": DEFAULT_KIND}],
                              ("id",))
    return session.get(WebhookEndpoint, default_endpoint_id(project_id), populate_existing=True)


def get_endpoint(session: Session, project_id: str, endpoint_id: str) -> WebhookEndpoint | None:
    """A project's endpoint (or its default-secret row) by id."""
    return session.scalars(select(WebhookEndpoint).where(WebhookEndpoint.id == endpoint_id,
                                                         WebhookEndpoint.project_id == project_id)).first()


def list_endpoints(session: Session, project_id: str) -> list[WebhookEndpoint]:
    """A project's registered endpoints, oldest first."""
    query = (select(WebhookEndpoint)
             .where(WebhookEndpoint.project_id == project_id, WebhookEndpoint.kind == ENDPOINT_KIND)
             .order_by(WebhookEndpoint.created_at, WebhookEndpoint.id))
    return list(session.scalars(query))


def count_endpoints_locked(session: Session, project_id: str) -> int:
    """How many endpoints a project has registered, with its project row locked until the transaction ends
    (so two registrations at once cannot both pass the limit; SQLite has one writer anyway)."""
    session.execute(select(Project.id).where(Project.id == project_id).with_for_update())
    query = select(func.count()).select_from(WebhookEndpoint).where(
        WebhookEndpoint.project_id == project_id, WebhookEndpoint.kind == ENDPOINT_KIND)
    return session.scalar(query) or 0


def active_endpoints(session: Session, project_id: str) -> list[WebhookEndpoint]:
    """A project's enabled registered endpoints (their event types are filtered by the caller)."""
    query = select(WebhookEndpoint).where(WebhookEndpoint.project_id == project_id,
                                          WebhookEndpoint.kind == ENDPOINT_KIND, WebhookEndpoint.status == "active")
    return list(session.scalars(query))


def update_endpoint(session: Session, endpoint_id: str, values: dict[str, Any]) -> None:
    """Change an endpoint's columns."""
    session.execute(update(WebhookEndpoint).where(WebhookEndpoint.id == endpoint_id).values(**values))


def disable_endpoint(session: Session, endpoint_id: str, reason: str, when: datetime) -> None:
    """Stop delivering to an endpoint (it stays listed, with the reason)."""
    session.execute(update(WebhookEndpoint).where(WebhookEndpoint.id == endpoint_id,
                                                  WebhookEndpoint.status == "active")
                    .values(status="disabled", disabled_reason=reason, disabled_at=when))


def delete_endpoint(session: Session, endpoint_id: str) -> None:
    """Remove an endpoint with its deliveries and their attempts."""
    session.execute(delete(WebhookEndpoint).where(WebhookEndpoint.id == endpoint_id))


# -- the outbox -----------------------------------------------------------------------------------

def add_event(session: Session, row: dict[str, Any]) -> bool:
    """Store an event; False when the evaluation already has one of this type (nothing stored)."""
    before = session.scalar(select(WebhookEvent.id).where(WebhookEvent.evaluation_id == row["evaluation_id"],
                                                          WebhookEvent.type == row["type"]))
    if before is not None:
        return False
    insert_ignoring_conflicts(session, WebhookEvent, [row], ("evaluation_id", "type"))
    return session.scalar(select(WebhookEvent.id).where(WebhookEvent.id == row["id"])) is not None


def add_deliveries(session: Session, rows: Sequence[dict[str, Any]]) -> None:
    """Store deliveries (one statement)."""
    if rows:
        session.execute(WebhookDelivery.__table__.insert(), list(rows))


def get_event(session: Session, event_id: str) -> WebhookEvent | None:
    """An event by id."""
    return session.get(WebhookEvent, event_id)


# -- deliveries -----------------------------------------------------------------------------------

def _due(now: datetime):
    return or_(and_(WebhookDelivery.status == "pending", WebhookDelivery.next_attempt_at <= now),
               and_(WebhookDelivery.status == "sending", WebhookDelivery.lease_until < now))


def due_delivery_ids(session: Session, now: datetime, limit: int) -> list[str]:
    """Deliveries due now: pending ones whose time has come, and ones whose sender died (lease over)."""
    query = select(WebhookDelivery.id).where(_due(now)).order_by(WebhookDelivery.next_attempt_at).limit(limit)
    return list(session.scalars(query))


def pending_delivery_ids_of_evaluation(session: Session, evaluation_id: str) -> list[str]:
    """Pending deliveries of an evaluation's events (to queue right after the outbox commit)."""
    query = (select(WebhookDelivery.id).join(WebhookEvent, WebhookEvent.id == WebhookDelivery.event_id)
             .where(WebhookEvent.evaluation_id == evaluation_id, WebhookDelivery.status == "pending"))
    return list(session.scalars(query))


def claim(session: Session, delivery_id: str, now: datetime, lease_until: datetime) -> WebhookDelivery | None:
    """Take a due delivery for one attempt (atomic: of two workers, one gets it); None if not due.

    An attempt left ``sending`` by a worker that died is logged as ``lost``.
    """
    claimed = session.execute(
        update(WebhookDelivery).where(WebhookDelivery.id == delivery_id, _due(now))
        .values(status="sending", lease_until=lease_until, attempts=WebhookDelivery.attempts + 1,
                round_attempts=WebhookDelivery.round_attempts + 1)
    ).rowcount == 1
    if not claimed:
        return None
    session.execute(update(WebhookAttempt).where(WebhookAttempt.delivery_id == delivery_id,
                                                 WebhookAttempt.outcome == "sending")
                    .values(outcome="lost", error="the worker stopped while sending"))
    return session.get(WebhookDelivery, delivery_id, populate_existing=True)


def add_attempt(session: Session, row: dict[str, Any]) -> int:
    """Log the start of an attempt; returns its id."""
    attempt = WebhookAttempt(**row)
    session.add(attempt)
    session.flush()
    return attempt.id


def finish_attempt(session: Session, attempt_id: int, values: dict[str, Any]) -> None:
    """Log how an attempt ended."""
    session.execute(update(WebhookAttempt).where(WebhookAttempt.id == attempt_id).values(**values))


def settle(session: Session, delivery_id: str, number: int, values: dict[str, Any]) -> bool:
    """A delivery's state after attempt ``number`` (the lease is released); False when that attempt
    was given up as lost meanwhile and another one has taken over."""
    result = session.execute(update(WebhookDelivery)
                             .where(WebhookDelivery.id == delivery_id, WebhookDelivery.status == "sending",
                                    WebhookDelivery.attempts == number)
                             .values(lease_until=None, **values))
    return result.rowcount == 1


def get_delivery(session: Session, project_id: str, endpoint_id: str, delivery_id: str) -> WebhookDelivery | None:
    """A project's delivery to one endpoint."""
    query = select(WebhookDelivery).where(WebhookDelivery.id == delivery_id,
                                          WebhookDelivery.endpoint_id == endpoint_id,
                                          WebhookDelivery.project_id == project_id)
    return session.scalars(query).first()


def delivery_page(session: Session, endpoint_id: str, status: str | None, after: tuple[datetime, str] | None,
                  limit: int) -> list[tuple[WebhookDelivery, WebhookEvent]]:
    """An endpoint's deliveries, newest first (keyset on created_at, id), with their events."""
    query = (select(WebhookDelivery, WebhookEvent).join(WebhookEvent, WebhookEvent.id == WebhookDelivery.event_id)
             .where(WebhookDelivery.endpoint_id == endpoint_id))
    if status is not None:
        query = query.where(WebhookDelivery.status == status)
    if after is not None:
        query = query.where(or_(WebhookDelivery.created_at < after[0],
                                and_(WebhookDelivery.created_at == after[0], WebhookDelivery.id < after[1])))
    query = query.order_by(WebhookDelivery.created_at.desc(), WebhookDelivery.id.desc()).limit(limit)
    return [(delivery, event) for delivery, event in session.execute(query)]


def attempts_of(session: Session, delivery_ids: Sequence[str]) -> dict[str, list[WebhookAttempt]]:
    """Every attempt of these deliveries, in order."""
    if not delivery_ids:
        return {}
    query = (select(WebhookAttempt).where(WebhookAttempt.delivery_id.in_(list(delivery_ids)))
             .order_by(WebhookAttempt.delivery_id, WebhookAttempt.number))
    found: dict[str, list[WebhookAttempt]] = {}
    for attempt in session.scalars(query):
        found.setdefault(attempt.delivery_id, []).append(attempt)
    return found


def redeliver(session: Session, delivery_id: str, now: datetime) -> bool:
    """Make a delivery due again now with a fresh retry budget; False while an attempt is under way."""
    result = session.execute(
        update(WebhookDelivery)
        .where(WebhookDelivery.id == delivery_id,
               or_(WebhookDelivery.status != "sending", WebhookDelivery.lease_until < now))
        .values(status="pending", next_attempt_at=now, round_attempts=0, completed_at=None, lease_until=None)
    )
    return result.rowcount == 1


def attempt_outcomes(session: Session) -> dict[str, int]:
    """Finished attempts by outcome (for /metrics)."""
    from sqlalchemy import func

    query = select(WebhookAttempt.outcome, func.count()).group_by(WebhookAttempt.outcome)
    return {outcome: int(n) for outcome, n in session.execute(query)}

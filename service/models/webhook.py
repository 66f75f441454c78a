"""Webhook tables: endpoints, the event outbox, deliveries (event × endpoint) and their attempt log."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Float, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from service.models.base import BigIntId, Base, JsonDoc, Timestamp, utcnow


class WebhookEndpoint(Base):
    """Where a project's events go, and the secret that signs them.

    ``kind`` is ``endpoint`` for a registered URL, or ``default`` for the project's one default
    secret, which signs deliveries to per-evaluation ``webhook_url``s (its ``url`` is empty; each
    delivery carries its own). The secret is stored as is: signing needs it (see the README).
    """

    __tablename__ = "webhook_endpoints"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    project_id: Mapped[str] = mapped_column(String(36), ForeignKey("projects.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(16), default="endpoint")
    url: Mapped[str | None] = mapped_column(Text)
    event_types: Mapped[list] = mapped_column(JsonDoc)
    description: Mapped[str | None] = mapped_column(String(512))
    secret: Mapped[str] = mapped_column(String(128))
    status: Mapped[str] = mapped_column(String(16), default="active")  # active | disabled
    disabled_reason: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(Timestamp, default=utcnow)
    disabled_at: Mapped[datetime | None] = mapped_column(Timestamp)


class WebhookEvent(Base):
    """The outbox: one event, written in the transaction that changed the evaluation's status.

    Its id is the ``webhook-id`` every delivery of it carries, on every attempt and redelivery.
    """

    __tablename__ = "webhook_events"
    __table_args__ = (UniqueConstraint("evaluation_id", "type"),)

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    project_id: Mapped[str] = mapped_column(String(36), ForeignKey("projects.id", ondelete="CASCADE"), index=True)
    evaluation_id: Mapped[str] = mapped_column(String(36), ForeignKey("evaluations.id", ondelete="CASCADE"))
    type: Mapped[str] = mapped_column(String(64))
    payload: Mapped[dict] = mapped_column(JsonDoc)
    created_at: Mapped[datetime] = mapped_column(Timestamp, default=utcnow)


class WebhookDelivery(Base):
    """One event to one endpoint (or per-evaluation URL): its state and when it is due next.

    ``pending`` rows whose ``next_attempt_at`` has passed are due; ``sending`` rows whose
    ``lease_until`` has passed were being sent by a worker that died and are due again.
    """

    __tablename__ = "webhook_deliveries"
    __table_args__ = (Index("ix_webhook_deliveries_status_next_attempt_at", "status", "next_attempt_at"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    project_id: Mapped[str] = mapped_column(String(36), ForeignKey("projects.id", ondelete="CASCADE"), index=True)
    event_id: Mapped[str] = mapped_column(String(40), ForeignKey("webhook_events.id", ondelete="CASCADE"), index=True)
    endpoint_id: Mapped[str] = mapped_column(String(36), ForeignKey("webhook_endpoints.id", ondelete="CASCADE"),
                                             index=True)
    url: Mapped[str | None] = mapped_column(Text)  # a per-evaluation webhook_url; else the endpoint's
    status: Mapped[str] = mapped_column(String(16), default="pending")  # pending|sending|succeeded|failed|cancelled
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    round_attempts: Mapped[int] = mapped_column(Integer, default=0)  # attempts since creation or redelivery
    next_attempt_at: Mapped[datetime | None] = mapped_column(Timestamp)
    lease_until: Mapped[datetime | None] = mapped_column(Timestamp)
    last_status_code: Mapped[int | None] = mapped_column(Integer)
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(Timestamp, default=utcnow)
    completed_at: Mapped[datetime | None] = mapped_column(Timestamp)


class WebhookAttempt(Base):
    """One HTTP attempt of a delivery: when, how long, the status code or the network error."""

    __tablename__ = "webhook_attempts"
    __table_args__ = (UniqueConstraint("delivery_id", "number"),)

    id: Mapped[int] = mapped_column(BigIntId, primary_key=True, autoincrement=True)
    delivery_id: Mapped[str] = mapped_column(String(36), ForeignKey("webhook_deliveries.id", ondelete="CASCADE"))
    number: Mapped[int] = mapped_column(Integer)
    trigger: Mapped[str] = mapped_column(String(16))  # automatic | redelivery
    # sending | succeeded | retrying | failed | lost (the worker died while sending)
    outcome: Mapped[str] = mapped_column(String(16))
    started_at: Mapped[datetime] = mapped_column(Timestamp)
    duration_ms: Mapped[float | None] = mapped_column(Float)
    status_code: Mapped[int | None] = mapped_column(Integer)
    error: Mapped[str | None] = mapped_column(Text)
    response_excerpt: Mapped[str | None] = mapped_column(Text)
    next_attempt_at: Mapped[datetime | None] = mapped_column(Timestamp)

"""Request and response bodies of the webhooks API."""

from __future__ import annotations

from datetime import datetime
from typing import Literal, get_args

from pydantic import BaseModel, ConfigDict, Field

EventType = Literal["evaluation.completed", "evaluation.failed", "evaluation.cancelled", "evaluation.review_required"]
ALL_EVENTS: list[EventType] = list(get_args(EventType))
MAX_EVENT_TYPES = 32  # a few events, perhaps repeated; a longer list is one error, not one per value


class WebhookCreate(BaseModel):
    """Body of POST /v1/webhooks."""

    model_config = ConfigDict(extra="forbid")
    url: str = Field(min_length=1, max_length=2048, description="http(s) URL that receives the events (POST).")
    event_types: list[EventType] = Field(default_factory=lambda: list(ALL_EVENTS), min_length=1,
                                         max_length=MAX_EVENT_TYPES, description="Events to send (default: all).")
    description: str | None = Field(default=None, max_length=512)


class WebhookUpdate(BaseModel):
    """Body of PATCH /v1/webhooks/{id}: the fields to change (``enabled: true`` re-enables a disabled one)."""

    model_config = ConfigDict(extra="forbid")
    url: str | None = Field(default=None, min_length=1, max_length=2048)
    event_types: list[EventType] | None = Field(default=None, min_length=1, max_length=MAX_EVENT_TYPES)
    description: str | None = Field(default=None, max_length=512)
    enabled: bool | None = None


class WebhookOut(BaseModel):
    """A registered endpoint (its secret is shown only when it is created)."""

    id: str
    url: str | None
    event_types: list[str]
    description: str | None
    status: Literal["active", "disabled"]
    disabled_reason: str | None
    created_at: datetime
    disabled_at: datetime | None
    links: dict[str, str]


class WebhookCreated(WebhookOut):
    """The new endpoint with its signing secret: store it now, it is not shown again."""

    secret: str = Field(description="Standard Webhooks signing secret (whsec_...); shown once.")


class WebhookList(BaseModel):
    """A project's registered endpoints."""

    data: list[WebhookOut]


class DefaultSecretOut(BaseModel):
    """The project's default secret, which signs deliveries to per-evaluation ``webhook_url``s."""

    id: str = Field(description="Its deliveries are listed at /v1/webhooks/{id}/deliveries.")
    secret: str
    created_at: datetime
    links: dict[str, str]


class AttemptOut(BaseModel):
    """One HTTP attempt."""

    number: int
    trigger: Literal["automatic", "redelivery"]
    outcome: Literal["sending", "succeeded", "retrying", "failed", "lost"]
    started_at: datetime
    duration_ms: float | None
    status_code: int | None = Field(description="The receiver's HTTP status (null on a network error).")
    error: str | None = Field(description="Network error, refusal or why the response counts as a failure.")
    response_excerpt: str | None
    next_attempt_at: datetime | None = Field(description="When the next automatic attempt is due (retrying).")


class DeliveryOut(BaseModel):
    """One event sent to one endpoint, with every attempt."""

    id: str
    webhook_id: str = Field(description="The `webhook-id` header: the same on every attempt and redelivery.")
    event_type: str
    evaluation_id: str
    url: str
    status: Literal["pending", "sending", "succeeded", "failed", "cancelled"]
    attempts: list[AttemptOut]
    next_attempt_at: datetime | None
    last_status_code: int | None
    last_error: str | None
    created_at: datetime
    completed_at: datetime | None


class DeliveryPage(BaseModel):
    """A page of deliveries, newest first; pass ``next_cursor`` as ``cursor`` for the next page."""

    data: list[DeliveryOut]
    next_cursor: str | None

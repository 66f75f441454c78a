"""/v1/webhooks: endpoints, the default secret, the delivery log and redelivery."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Header, Query, Response, status
from sqlalchemy.orm import Session

from service.api.json_body import CheckedJSONRoute
from service.api.deps import ProjectDep, get_dispatcher, get_session, get_settings
from service.config import Settings
from service.idempotency import service as idempotency
from service.queue import Dispatcher
from service.webhooks import service
from service.webhooks.schemas import (
    DefaultSecretOut, DeliveryOut, DeliveryPage, WebhookCreate, WebhookCreated, WebhookList, WebhookOut, WebhookUpdate,
)

router = APIRouter(prefix="/v1/webhooks", tags=["webhooks"], route_class=CheckedJSONRoute)
SessionDep = Annotated[Session, Depends(get_session)]
SettingsDep = Annotated[Settings, Depends(get_settings)]

PROBLEMS = {
    404: {"description": "No such webhook or delivery (problem+json)"},
    409: {"description": "Not possible in the current state, or a request with this Idempotency-Key is still in "
                         "progress (problem+json)"},
    422: {"description": "Invalid request, e.g. a destination the SSRF guard refuses (problem+json)"},
}


@router.post("", status_code=status.HTTP_201_CREATED, response_model=WebhookCreated,
             responses={k: PROBLEMS[k] for k in (409, 422)})
def create_webhook(body: WebhookCreate, response: Response, session: SessionDep, settings: SettingsDep,
                   project: ProjectDep,
                   idempotency_key: Annotated[str | None, Header(
                       alias="Idempotency-Key", max_length=255,
                       description="Makes a retried POST create nothing new (kept 24 h).")] = None,
                   ) -> WebhookCreated:
    """Register an endpoint for the project's evaluation events. The signing secret (`whsec_…`) is in this
    response only (and in a replay with the same Idempotency-Key): store it. Destinations that resolve to
    loopback, private, link-local, multicast, reserved or metadata addresses are refused unless the
    service's `webhooks.allow_hosts` setting allows them.
    """
    created, replayed = service.create_once(session, settings, body, project.id, idempotency_key)
    response.headers.update(idempotency.response_headers(f"/v1/webhooks/{created.id}", replayed))
    return created


@router.get("", response_model=WebhookList)
def list_webhooks(session: SessionDep, project: ProjectDep) -> WebhookList:
    """The project's registered endpoints (secrets are never listed)."""
    return service.list_endpoints(session, project.id)


@router.get("/default-secret", response_model=DefaultSecretOut)
def get_default_secret(session: SessionDep, project: ProjectDep) -> DefaultSecretOut:
    """The project's default secret (created on first need): it signs deliveries to the `webhook_url` given
    with an evaluation. Its deliveries are listed under `/v1/webhooks/{id}/deliveries` with its `id`."""
    return service.default_secret(session, project.id)


@router.get("/{webhook_id}", response_model=WebhookOut, responses={404: PROBLEMS[404]})
def get_webhook(webhook_id: str, session: SessionDep, project: ProjectDep) -> WebhookOut:
    """One endpoint: URL, events, and whether it is active or disabled (and why)."""
    return service.get(session, project.id, webhook_id)


@router.patch("/{webhook_id}", response_model=WebhookOut, responses={k: PROBLEMS[k] for k in (404, 409, 422)})
def update_webhook(webhook_id: str, body: WebhookUpdate, session: SessionDep, settings: SettingsDep,
                   project: ProjectDep) -> WebhookOut:
    """Change the URL, events or description; `{"enabled": true}` re-enables an endpoint disabled by a 410."""
    return service.update(session, settings, project.id, webhook_id, body)


@router.get("/{webhook_id}/deliveries", response_model=DeliveryPage, responses={404: PROBLEMS[404], 422: PROBLEMS[422]})
def list_deliveries(
    webhook_id: str, session: SessionDep, project: ProjectDep,
    status: Literal["pending", "sending", "succeeded", "failed", "cancelled"] | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    cursor: Annotated[str | None, Query(max_length=300)] = None,
) -> DeliveryPage:
    """Deliveries to the endpoint, newest first, each with every attempt (time, HTTP status or network error,
    duration, attempt number)."""
    return service.deliveries(session, project.id, webhook_id, status, limit, cursor)


@router.post("/{webhook_id}/deliveries/{delivery_id}/redeliver", status_code=status.HTTP_202_ACCEPTED,
             response_model=DeliveryOut, responses={k: PROBLEMS[k] for k in (404, 409)})
def redeliver(webhook_id: str, delivery_id: str, session: SessionDep, settings: SettingsDep, project: ProjectDep,
              dispatcher: Annotated[Dispatcher, Depends(get_dispatcher)]) -> DeliveryOut:
    """Send the delivery again now, with the same `webhook-id`, and a fresh round of automatic retries."""
    return service.redeliver(session, dispatcher, settings, project.id, webhook_id, delivery_id)


@router.delete("/{webhook_id}", status_code=status.HTTP_204_NO_CONTENT, responses={k: PROBLEMS[k] for k in (404, 409)})
def delete_webhook(webhook_id: str, session: SessionDep, project: ProjectDep) -> Response:
    """Remove the endpoint with its delivery log (pending deliveries are dropped)."""
    service.delete(session, project.id, webhook_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)

"""The webhook outbox: events written in the same transaction as an evaluation's status change.

``record`` is called inside the transaction that ends an evaluation (``finalize`` completes or
fails it, a cancel cancels it); it stores the event(s) and one pending delivery per destination, due at once. After
the commit the finishing worker queues a delivery job for each (``queue_deliveries``); if that
never happens (the worker died, Redis was down), the workers' periodic sweep finds the due rows.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timezone
from typing import Any

from sqlalchemy.orm import Session

from service.models import Evaluation
from service.webhooks import repository as repo
from service.webhooks.signing import new_secret

COMPLETED = "evaluation.completed"
FAILED = "evaluation.failed"
CANCELLED = "evaluation.cancelled"
REVIEW_REQUIRED = "evaluation.review_required"
EVENT_TYPES = (COMPLETED, FAILED, CANCELLED, REVIEW_REQUIRED)
EVENT_OF_STATUS = {"completed": COMPLETED, "failed": FAILED, "cancelled": CANCELLED}


def new_event_id() -> str:
    """An event id; it is the ``webhook-id`` of every delivery and attempt of the event."""
    return f"msg_{uuid.uuid4().hex}"


def links(evaluation_id: str) -> dict[str, str]:
    """Where the evaluation's details are (paths; made absolute with ``webhooks.public_url``)."""
    base = f"/v1/evaluations/{evaluation_id}"
    return {"self": base, "verdicts": f"{base}/verdicts",
            "reviews": f"/v1/reviews?status=open&evaluation_id={evaluation_id}"}


def default_endpoint(session: Session, project_id: str):
    """The project's default secret (for per-evaluation webhook URLs), created on first need."""
    return repo.ensure_default_endpoint(session, project_id, {
        "url": None, "event_types": list(EVENT_TYPES), "description": "signs per-evaluation webhook_url deliveries",
        "secret": new_secret(), "status": "active", "created_at": datetime.now(timezone.utc)})


def record(session: Session, evaluation: Evaluation, status: str, summary: dict[str, Any] | None,
           error: str | None = None) -> int:
    """Store the events of an evaluation that ends with ``status`` and their deliveries; returns how many
    deliveries. Nothing is stored when no endpoint listens and the evaluation has no webhook_url.

    ``evaluation.completed``, ``.failed`` or ``.cancelled``, plus ``evaluation.review_required`` when the
    review queue is not empty. Recording the same evaluation twice stores nothing the second time.
    """
    types = [EVENT_OF_STATUS[status]]
    reviews_open = int((summary or {}).get("n_reviews_open") or 0)
    if reviews_open:
        types.append(REVIEW_REQUIRED)
    endpoints = repo.active_endpoints(session, evaluation.project_id)
    default = default_endpoint(session, evaluation.project_id) if evaluation.webhook_url else None
    now = datetime.now(timezone.utc)
    created = 0
    for event_type in types:
        targets = [(e.id, None) for e in endpoints if event_type in (e.event_types or [])]
        if default is not None:
            targets.append((default.id, evaluation.webhook_url))
        if not targets:
            continue
        event_id = new_event_id()
        payload = {
            "type": event_type, "timestamp": now.isoformat().replace("+00:00", "Z"),
            "data": {
                "id": evaluation.id, "status": status, "protocol": evaluation.protocol, "judge": evaluation.judge,
                "model": evaluation.model, "suite": evaluation.suite, "suite_version": evaluation.suite_version,
                "summary": summary, "error": error, "reviews_open": reviews_open,
                "completed_at": now.isoformat().replace("+00:00", "Z"), "links": links(evaluation.id),
            },
        }
        if not repo.add_event(session, {"id": event_id, "project_id": evaluation.project_id,
                                        "evaluation_id": evaluation.id, "type": event_type, "payload": payload,
                                        "created_at": now}):
            continue
        repo.add_deliveries(session, [
            {"id": str(uuid.uuid4()), "project_id": evaluation.project_id, "event_id": event_id,
             "endpoint_id": endpoint_id, "url": url, "status": "pending", "attempts": 0, "round_attempts": 0,
             "next_attempt_at": now, "lease_until": None, "last_status_code": None, "last_error": None,
             "created_at": now, "completed_at": None}
            for endpoint_id, url in targets])
        created += len(targets)
    return created

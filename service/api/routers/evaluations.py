"""/v1/evaluations: create, get, verdicts, cancel."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Header, Query, Response, status
from sqlalchemy.orm import Session

from service.api.deps import ProjectDep, get_dispatcher, get_session, get_settings
from service.config import Settings
from service.evaluations import service
from service.evaluations.schemas import EvaluationCreate, EvaluationOut, VerdictPage
from service.queue import Dispatcher

router = APIRouter(prefix="/v1/evaluations", tags=["evaluations"])
SessionDep = Annotated[Session, Depends(get_session)]
SettingsDep = Annotated[Settings, Depends(get_settings)]

IdempotencyKey = Annotated[str | None, Header(alias="Idempotency-Key", max_length=255,
                                             description="Makes a retried POST create nothing new (kept 24 h).")]
PROBLEMS = {
    404: {"description": "No such evaluation (problem+json)"},
    409: {"description": "The evaluation has already ended, or a request with this Idempotency-Key is still in "
                         "progress (problem+json)"},
    413: {"description": "Request body over the configured limit (problem+json)"},
    422: {"description": "Invalid submission; `errors[].pointer` names each field (problem+json)"},
    503: {"description": "Queue unavailable; retry after `Retry-After` seconds (problem+json)"},
}


@router.post("", status_code=status.HTTP_202_ACCEPTED, response_model=EvaluationOut,
             responses={k: PROBLEMS[k] for k in (409, 413, 422, 503)})
def create_evaluation(body: EvaluationCreate, response: Response, session: SessionDep, settings: SettingsDep,
                      dispatcher: Annotated[Dispatcher, Depends(get_dispatcher)], project: ProjectDep,
                      idempotency_key: IdempotencyKey = None) -> EvaluationOut:
    """Validate and queue an evaluation; poll the Location for progress and results.

    With an `Idempotency-Key`, a retry with the same key and body returns the same evaluation
    (header `Idempotent-Replayed: true`); the same key with another body is a 422, and while
    the first request is still running a 409.
    """
    evaluation, replayed = service.create(session, dispatcher, settings, body, project.id, idempotency_key)
    response.headers["Location"] = f"/v1/evaluations/{evaluation.id}"
    if replayed:
        response.headers["Idempotent-Replayed"] = "true"
    return evaluation


@router.get("/{evaluation_id}", response_model=EvaluationOut, responses={404: PROBLEMS[404]})
def get_evaluation(evaluation_id: str, session: SessionDep, settings: SettingsDep, project: ProjectDep) -> EvaluationOut:
    """Status, progress, summary metrics and the reliability report."""
    return service.get(session, settings, evaluation_id, project.id)


@router.get("/{evaluation_id}/verdicts", response_model=VerdictPage, responses={404: PROBLEMS[404], 422: PROBLEMS[422]})
def list_verdicts(
    evaluation_id: str, session: SessionDep, project: ProjectDep,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    cursor: Annotated[str | None, Query(max_length=200)] = None,
    include_item: bool = False,
) -> VerdictPage:
    """Verdicts in submission order with every judge call behind them; cursor pagination."""
    return service.verdicts(session, evaluation_id, limit, cursor, include_item, project.id)


@router.post("/{evaluation_id}/cancel", response_model=EvaluationOut, responses={k: PROBLEMS[k] for k in (404, 409)})
def cancel_evaluation(evaluation_id: str, session: SessionDep, settings: SettingsDep, project: ProjectDep) -> EvaluationOut:
    """Stop remaining work; verdicts already made stay readable."""
    return service.cancel(session, settings, evaluation_id, project.id)

"""/v1/reviews: the human review queue."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query
from sqlalchemy.orm import Session

from service.api.json_body import CheckedJSONRoute
from service.api.deps import ProjectDep, get_dispatcher, get_session, get_settings
from service.config import Settings
from service.queue import Dispatcher
from service.reviews import service
from service.reviews.schemas import ReviewLabel, ReviewOut, ReviewPage

router = APIRouter(prefix="/v1/reviews", tags=["reviews"], route_class=CheckedJSONRoute)
SessionDep = Annotated[Session, Depends(get_session)]

PROBLEMS = {
    404: {"description": "No such review (problem+json)"},
    409: {"description": "The evaluation is not completed (problem+json)"},
    422: {"description": "Invalid label; `errors[].pointer` names each field (problem+json)"},
}


@router.get("", response_model=ReviewPage, responses={422: PROBLEMS[422]})
def list_reviews(
    session: SessionDep,
    project: ProjectDep,
    status: Literal["open", "done", "all"] = "open",
    evaluation_id: Annotated[str | None, Query(max_length=36)] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    cursor: Annotated[str | None, Query(max_length=300)] = None,
) -> ReviewPage:
    """Items flagged for human review, highest BPDE (most disagreement among the judge's calls) first."""
    return service.list_reviews(session, project.id, None if status == "all" else status, evaluation_id, limit, cursor)


@router.get("/{review_id}", response_model=ReviewOut, responses={404: PROBLEMS[404]})
def get_review(review_id: str, session: SessionDep, project: ProjectDep) -> ReviewOut:
    """One review with the item and every judge call behind its verdict."""
    return service.get_review(session, project.id, review_id)


@router.post("/{review_id}", response_model=ReviewOut, responses={k: PROBLEMS[k] for k in (404, 409, 422)})
def record_review(review_id: str, body: ReviewLabel, session: SessionDep, project: ProjectDep,
                  settings: Annotated[Settings, Depends(get_settings)],
                  dispatcher: Annotated[Dispatcher, Depends(get_dispatcher)]) -> ReviewOut:
    """Record a human label: it replaces the judge's verdict and the evaluation's metrics are recomputed."""
    return service.record_label(session, dispatcher, settings, project.id, review_id, body)

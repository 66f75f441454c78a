"""/v1/comparisons: the paired regression gate for CI."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends
from sqlalchemy.orm import Session

from service.api.deps import ProjectDep, get_session
from service.comparisons import service
from service.comparisons.schemas import ComparisonCreate, ComparisonOut

router = APIRouter(prefix="/v1/comparisons", tags=["comparisons"])


@router.post("", response_model=ComparisonOut,
             responses={404: {"description": "No such evaluation (problem+json)"},
                        422: {"description": "Not comparable, not completed, or no shared items (problem+json)"}})
def create_comparison(body: ComparisonCreate, session: Annotated[Session, Depends(get_session)],
                      project: ProjectDep) -> ComparisonOut:
    """Paired difference (candidate − baseline) with its interval, p-value and a pass/fail decision."""
    return service.compare(session, body, project.id)

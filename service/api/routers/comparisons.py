"""/v1/comparisons: the paired regression gate for CI."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query
from sqlalchemy.orm import Session

from service.api.json_body import CheckedJSONRoute
from service.api.deps import ProjectDep, get_session
from service.comparisons import changes, service
from service.comparisons.schemas import ChangedItemPage, ComparisonCreate, ComparisonOut

router = APIRouter(prefix="/v1/comparisons", tags=["comparisons"], route_class=CheckedJSONRoute)


@router.post("", response_model=ComparisonOut,
             responses={404: {"description": "No such evaluation (problem+json)"},
                        422: {"description": "Not comparable, not completed, or no shared items (problem+json)"}})
def create_comparison(body: ComparisonCreate, session: Annotated[Session, Depends(get_session)],
                      project: ProjectDep) -> ComparisonOut:
    """Paired difference (candidate − baseline) with its interval, p-value and a pass/fail decision."""
    return service.compare(session, body, project.id)


@router.get("/items", response_model=ChangedItemPage,
            responses={404: {"description": "No such evaluation (problem+json)"},
                       422: {"description": "Not comparable, not completed, or a bad cursor (problem+json)"}})
def list_changed_items(
    session: Annotated[Session, Depends(get_session)], project: ProjectDep,
    baseline: Annotated[str, Query(min_length=1, max_length=64, description="The baseline evaluation's id.")],
    candidate: Annotated[str, Query(min_length=1, max_length=64, description="The candidate evaluation's id.")],
    category: Annotated[str | None, Query(max_length=256, description="Only items of this category "
                                                                      "(empty: items without one).")] = None,
    change: Annotated[Literal["improved", "regressed"] | None, Query(description="Only items that improved "
                                                                               "or only those that regressed.")] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    cursor: Annotated[str | None, Query(max_length=600)] = None,
) -> ChangedItemPage:
    """The shared items whose value in the metric differs between the runs, largest change first, with both runs'
    verdicts and responses; cursor pagination."""
    return changes.changed_items(session, project.id, baseline, candidate, category, change, limit, cursor)

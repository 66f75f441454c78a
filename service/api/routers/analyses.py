"""/v1/analyses: analyses across evaluations (synchronous; computed from the stored verdicts)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends
from sqlalchemy.orm import Session

from service.analyses import service
from service.analyses.schemas import RatingVsRankingCreate, RatingVsRankingOut
from service.api.deps import ProjectDep, get_session

router = APIRouter(prefix="/v1/analyses", tags=["analyses"])


@router.post("/rating-vs-ranking", response_model=RatingVsRankingOut,
             responses={404: {"description": "No such evaluation (problem+json)"},
                        422: {"description": "Not completed, not two scoring evaluations and a comparison, or no shared items "
                                            "(problem+json)"}})
def rating_vs_ranking(body: RatingVsRankingCreate, session: Annotated[Session, Depends(get_session)],
                      project: ProjectDep) -> RatingVsRankingOut:
    """Do two ratings imply the preference the comparison verdict gives? Agreement, 3×3 matrix, κ, disagreeing items."""
    return service.rating_vs_ranking(session, body, project.id)

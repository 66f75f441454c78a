"""/v1/protocols: what each registered protocol accepts and returns."""

from __future__ import annotations

from fastapi import APIRouter

from service.api.deps import ProjectDep
from service.protocols import schemas
from service.protocols.schemas import ProtocolList

router = APIRouter(prefix="/v1/protocols", tags=["protocols"])


@router.get("", response_model=ProtocolList)
def list_protocols(project: ProjectDep) -> ProtocolList:
    """Every protocol with its item, options, review, summary and reliability JSON Schemas, headline metric,
    metric kind, leaderboard columns and the label form the review page shows."""
    return schemas.list_protocols()

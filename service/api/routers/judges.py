"""/v1/judges: configured judges and whether a live worker serves each."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends
from sqlalchemy.orm import Session

from service.api.deps import ProjectDep, get_session, get_settings
from service.config import Settings
from service.evaluations.schemas import JudgeOut
from service.judges.heartbeats import live_workers

router = APIRouter(prefix="/v1/judges", tags=["judges"])


@router.get("", response_model=list[JudgeOut])
def list_judges(session: Annotated[Session, Depends(get_session)],
                settings: Annotated[Settings, Depends(get_settings)], project: ProjectDep) -> list[JudgeOut]:
    """Every configured judge with its live worker count (from worker heartbeats)."""
    live = live_workers(session, settings.heartbeat_ttl_seconds)
    return [
        JudgeOut(name=j.name, backend=j.backend, model=j.model, template_version=j.template_version,
                 fingerprint=j.fingerprint(), live_workers=live.get(j.name, 0), available=live.get(j.name, 0) > 0)
        for j in settings.judges().values()
    ]

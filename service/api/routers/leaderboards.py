"""/v1/leaderboards: stored snapshots with ETag / If-None-Match for cheap polling."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Header, Query, Response
from fastapi.responses import JSONResponse
from sqlalchemy.orm import Session

from service.api.deps import ProjectDep, get_session
from service.core.protocols import DEFAULT_PROTOCOL
from service.leaderboards import service
from service.leaderboards.schemas import LeaderboardOut

router = APIRouter(prefix="/v1/leaderboards", tags=["leaderboards"])
# Clients may keep a copy but must revalidate: a poll with If-None-Match costs one indexed read.
CACHE_CONTROL = "no-cache"


@router.get("/{suite}", responses={200: {"model": LeaderboardOut, "description": "The leaderboard"},
                                   304: {"description": "Not modified (ETag matches If-None-Match)"},
                                   404: {"description": "No leaderboard yet (problem+json)"}})
def get_leaderboard(
    suite: str,
    session: Annotated[Session, Depends(get_session)],
    project: ProjectDep,
    protocol: Annotated[str, Query(description="A protocol name (GET /v1/protocols).")] = DEFAULT_PROTOCOL,
    judge: str | None = None,
    runs: Annotated[Literal["latest", "all"], Query(description="latest run per model, or every run")] = "latest",
    if_none_match: Annotated[str | None, Header()] = None,
) -> Response:
    """One row per model with the metric, its 95% interval, n, Elo (Bradley–Terry) and the LC win rate."""
    view = service.read(session, project.id, suite, protocol, judge, runs)
    headers = {"ETag": view.etag, "Cache-Control": CACHE_CONTROL}
    if if_none_match:
        tags = [tag.strip().removeprefix("W/") for tag in if_none_match.split(",")]
        if "*" in tags or view.etag in tags:
            return Response(status_code=304, headers=headers)
    return JSONResponse(view.body, headers=headers)

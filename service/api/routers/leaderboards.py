"""/v1/leaderboards: stored snapshots with ETag / If-None-Match for cheap polling."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Header, Query, Response
from fastapi.responses import JSONResponse
from sqlalchemy.orm import Session

from service.api.deps import ProjectDep, get_session
from service.core.protocols import DEFAULT_PROTOCOL
from service.evaluations.tag_queries import tag_filters
from service.leaderboards import service
from service.leaderboards.csv_export import leaderboard_csv
from service.leaderboards.schemas import LeaderboardOut

router = APIRouter(prefix="/v1/leaderboards", tags=["leaderboards"])
# Clients may keep a copy but must revalidate: a poll with If-None-Match costs one indexed read.
CACHE_CONTROL = "no-cache"


@router.get("/{suite}", responses={200: {"model": LeaderboardOut, "description": "The leaderboard",
                                         "content": {"text/csv": {"schema": {"type": "string"}}}},
                                   304: {"description": "Not modified (ETag matches If-None-Match)"},
                                   404: {"description": "No leaderboard yet (problem+json)"}})
def get_leaderboard(
    suite: str,
    session: Annotated[Session, Depends(get_session)],
    project: ProjectDep,
    protocol: Annotated[str, Query(description="A protocol name (GET /v1/protocols).")] = DEFAULT_PROTOCOL,
    judge: str | None = None,
    runs: Annotated[Literal["latest", "all"], Query(description="latest run per model, or every run")] = "latest",
    tag: Annotated[list[str] | None, Query(max_length=300, description=(
        "Only runs with this tag, repeatable (all must match): `key=value`, or `key` / `key=*` for any value; "
        "e.g. `release` ranks release runs only."))] = None,
    format: Annotated[Literal["json", "csv"] | None, Query(
        description="csv: the rows as CSV (as with `Accept: text/csv`).")] = None,
    accept: Annotated[str | None, Header()] = None,
    if_none_match: Annotated[str | None, Header()] = None,
) -> Response:
    """One row per model with the metric, its 95% interval, n, Elo (Bradley–Terry), rank range, mean response
    length and the protocol's columns; as CSV with `Accept: text/csv` or `format=csv`."""
    as_csv = format == "csv" or (format is None and _wants_csv(accept))
    view = service.read(session, project.id, suite, protocol, judge, runs, tag_filters(tag))
    etag = view.etag[:-1] + '-csv"' if as_csv else view.etag
    headers = {"ETag": etag, "Cache-Control": CACHE_CONTROL, "Vary": "Accept"}
    if if_none_match:
        tags = [tag.strip().removeprefix("W/") for tag in if_none_match.split(",")]
        if "*" in tags or etag in tags:
            return Response(status_code=304, headers=headers)
    if as_csv:
        name = "-".join(part for part in ("leaderboard", suite, protocol, view.body.get("judge")) if part)
        headers["Content-Disposition"] = f'attachment; filename="{_safe_filename(name)}.csv"'
        return Response(leaderboard_csv(view.body), media_type="text/csv; charset=utf-8", headers=headers)
    return JSONResponse(view.body, headers=headers)


def _wants_csv(accept: str | None) -> bool:
    """Whether the Accept header prefers CSV to JSON (the first of the two it names, ignoring weights)."""
    for media in (part.split(";")[0].strip().lower() for part in (accept or "").split(",")):
        if media == "text/csv":
            return True
        if media in ("application/json", "*/*"):
            return False
    return False


def _safe_filename(name: str) -> str:
    return "".join(c if c.isalnum() or c in "._-" else "_" for c in name)

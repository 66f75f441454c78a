"""/v1/suites: upload a version (JSON or JSONL), list, get with paged items."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Header, HTTPException, Path, Query, Request, Response, status
from fastapi.exceptions import RequestValidationError
from sqlalchemy.orm import Session

from service.api.deps import ProjectDep, get_session, get_settings
from service.api.openapi_schemas import inline_schema
from service.config import Settings
from service.idempotency import service as idempotency
from service.suites import service, upload
from service.suites.schemas import (
    BASELINE_MODEL_MAX, NAME_MAX, NAME_PATTERN, SuiteCreate, SuiteDetail, SuiteList, SuiteOut,
)

router = APIRouter(prefix="/v1/suites", tags=["suites"])
SessionDep = Annotated[Session, Depends(get_session)]
SettingsDep = Annotated[Settings, Depends(get_settings)]
NamePath = Annotated[str, Path(max_length=NAME_MAX, description="Suite name.")]
JSONL_NOTE = "JSONL uploads only: a JSON body gives this field in the body."

PROBLEMS = {
    404: {"description": "No such suite or version (problem+json)"},
    409: {"description": "A concurrent upload took the version number; retry (problem+json)"},
    413: {"description": "Request body over the configured limit (problem+json)"},
    415: {"description": "Content-Type is neither JSON nor JSONL (problem+json)"},
    422: {"description": "Invalid upload; `errors[].pointer` names each field, `errors[].line` the JSONL line "
                         "(problem+json)"},
}


JSONL_BODY = {"schema": {"type": "string", "description": "One SuiteItemIn object per line; blank lines are skipped."}}
UPLOAD_BODY = {"requestBody": {"required": True, "content": {
    "application/json": {"schema": inline_schema(SuiteCreate)},
    **{media: JSONL_BODY for media in ("application/x-ndjson", "application/jsonl")},
}}}


async def _raw_body(request: Request) -> bytes:
    return await request.body()


def _query_only_for_jsonl(params: dict[str, str | None]) -> None:
    given = [key for key, value in params.items() if value is not None]
    if given:
        raise RequestValidationError([{"type": "extra_forbidden", "loc": ("query", key), "input": params[key],
                                       "msg": "only for JSONL uploads; a JSON body gives it in the body"}
                                      for key in given])


def _parse(request: Request, body: bytes, settings: Settings, header: dict[str, str | None]) -> SuiteCreate:
    media = upload.media_type(request.headers.get("content-type"))
    limits = settings.limits
    max_items = limits.max_items
    if media in upload.JSON_TYPES:
        _query_only_for_jsonl(header)
        return upload.parse_json(body, max_items, limits.max_field_chars)
    if media in upload.JSONL_TYPES:
        if header["name"] is None:
            raise RequestValidationError([{"type": "missing", "loc": ("query", "name"), "input": None,
                                           "msg": "Field required: a JSONL upload names its suite here"}])
        return upload.parse_jsonl(body, max_items=max_items, max_line_bytes=limits.max_line_bytes,
                                  max_field_chars=limits.max_field_chars, **header)
    raise HTTPException(415, f"unsupported Content-Type {media!r}: send application/json (a SuiteCreate "
                             "body) or application/x-ndjson (one item per line, header fields as query parameters)")


@router.post("", status_code=status.HTTP_201_CREATED, response_model=SuiteOut, openapi_extra=UPLOAD_BODY,
             responses={k: PROBLEMS[k] for k in (409, 413, 415, 422)})
def create_suite(
    request: Request, response: Response, session: SessionDep, settings: SettingsDep, project: ProjectDep,
    body: Annotated[bytes, Depends(_raw_body)],
    idempotency_key: Annotated[str | None, Header(alias="Idempotency-Key", max_length=255,
                                                  description="Makes a retried upload create nothing new.")] = None,
    name: Annotated[str | None, Query(pattern=NAME_PATTERN, description=JSONL_NOTE)] = None,
    description: Annotated[str | None, Query(description=JSONL_NOTE)] = None,
    baseline_model: Annotated[str | None, Query(min_length=1, max_length=BASELINE_MODEL_MAX,
                                                description=JSONL_NOTE)] = None,
) -> SuiteOut:
    """Upload a suite as JSON, or as JSONL with one item per line; a name already used gets the next version."""
    header = {"name": name, "description": description, "baseline_model": baseline_model}
    parsed = _parse(request, body, settings, header)
    created, replayed = service.create_once(session, parsed, project.id, idempotency_key,
                                            request.url.query.encode() + b"\n" + body)
    response.headers.update(idempotency.response_headers(f"/v1/suites/{created.name}/versions/{created.version}",
                                                         replayed))
    return created


@router.get("", response_model=SuiteList)
def list_suites(session: SessionDep, project: ProjectDep) -> SuiteList:
    """The latest version of every suite."""
    return SuiteList(data=service.list_suites(session, project.id))


@router.get("/{name}", response_model=SuiteDetail, responses={k: PROBLEMS[k] for k in (404, 422)})
def get_suite(
    name: NamePath, session: SessionDep, project: ProjectDep,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    cursor: Annotated[str | None, Query(max_length=200)] = None,
) -> SuiteDetail:
    """The latest version of a suite with one page of its items; pass `next_cursor` back as `cursor`."""
    return service.get_suite(session, project.id, name, None, limit, cursor)


@router.get("/{name}/versions/{version}", response_model=SuiteDetail, responses={k: PROBLEMS[k] for k in (404, 422)})
def get_suite_version(
    name: NamePath, version: Annotated[int, Path(ge=1, le=2**31 - 1)], session: SessionDep, project: ProjectDep,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    cursor: Annotated[str | None, Query(max_length=200)] = None,
) -> SuiteDetail:
    """One version of a suite with one page of its items; pass `next_cursor` back as `cursor`."""
    return service.get_suite(session, project.id, name, version, limit, cursor)

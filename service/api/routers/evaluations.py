"""/v1/evaluations: create, list, get, verdicts, cancel."""

from __future__ import annotations

from typing import Annotated

from typing import Literal

from fastapi import APIRouter, Depends, Header, HTTPException, Query, Request, Response, status
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from service.api.deps import ProjectDep, get_dispatcher, get_session, get_settings
from service.config import Settings
from service.errors import FieldError, InvalidSubmission
from service.evaluations import service, upload
from service.evaluations.body import evaluation_body
from service.evaluations.problems import parameter_error
from service.evaluations.tag_queries import tag_filters
from service.idempotency import service as idempotency
from service.evaluations.schemas import (
    EvaluationCreate, EvaluationFilters, EvaluationOut, EvaluationPage, Status, VerdictPage,
)
from service.api.openapi_schemas import inline_schema
from service.suites.upload import media_type
from service.queue import Dispatcher

router = APIRouter(prefix="/v1/evaluations", tags=["evaluations"])
SessionDep = Annotated[Session, Depends(get_session)]
SettingsDep = Annotated[Settings, Depends(get_settings)]

IdempotencyKey = Annotated[str | None, Header(alias="Idempotency-Key", max_length=255,
                                             description="Makes a retried POST create nothing new (kept 24 h).")]
UPLOAD_NOTE = "Uploads only (NDJSON, AlpacaEval, FastChat): a JSON body gives this field in the body."
UploadOnly = Annotated[str | None, Query(max_length=256, description=UPLOAD_NOTE)]
FORMAT_NOTE = ("Uploads: `items` (one item per line), `alpacaeval` (AlpacaEval model_outputs.json, matched to the "
               "suite by instruction), `fastchat` (FastChat MT-Bench answers, matched by question_id).")
UPLOAD_TYPES = {"application/x-ndjson", "application/jsonl", "application/x-jsonl", "application/jsonlines",
                "application/x-jsonlines"}
UPLOAD_BODY = {"requestBody": {"required": True, "content": {
    "application/json": {"schema": inline_schema(EvaluationCreate)},
    "application/x-ndjson": {"schema": {"type": "string", "description": "One item per line (the protocol's item "
                                                                          "fields); blank lines are skipped."}},
}}}
PROBLEMS = {
    404: {"description": "No such evaluation (problem+json)"},
    409: {"description": "The evaluation has already ended, or a request with this Idempotency-Key is still in "
                         "progress (problem+json)"},
    413: {"description": "Request body over the configured limit (problem+json)"},
    415: {"description": "Content-Type is neither JSON nor an accepted upload type (problem+json)"},
    422: {"description": "Invalid submission; `errors[].pointer` names each field (problem+json)"},
    503: {"description": "Queue unavailable; retry after `Retry-After` seconds (problem+json)"},
}


@router.post("", status_code=status.HTTP_202_ACCEPTED, response_model=EvaluationOut, openapi_extra=UPLOAD_BODY,
             responses={k: PROBLEMS[k] for k in (409, 413, 415, 422, 503)})
async def create_evaluation(
    request: Request, response: Response, session: SessionDep, settings: SettingsDep,
    dispatcher: Annotated[Dispatcher, Depends(get_dispatcher)], project: ProjectDep,
    idempotency_key: IdempotencyKey = None,
    protocol: UploadOnly = None, judge: UploadOnly = None, model: UploadOnly = None, suite: UploadOnly = None,
    suite_version: Annotated[int | None, Query(ge=1, le=2**31 - 1, description=UPLOAD_NOTE)] = None,
    baseline_model: UploadOnly = None,
    options: Annotated[str | None, Query(max_length=10_000, description="Uploads: the options as JSON.")] = None,
    format: Annotated[Literal["items", "alpacaeval", "fastchat"], Query(description=FORMAT_NOTE)] = "items",
    webhook_url: Annotated[str | None, Query(max_length=2048, description=UPLOAD_NOTE)] = None,
    tags: Annotated[str | None, Query(max_length=10_000, description="Uploads: the tags as a JSON object.")] = None,
    leaderboard: Annotated[bool | None, Query(description=UPLOAD_NOTE)] = None,
) -> EvaluationOut:
    """Validate and queue an evaluation; poll the Location for progress and results.

    The body is JSON (`EvaluationCreate`), or an upload streamed in bounded memory: NDJSON with one
    item per line (`Content-Type: application/x-ndjson`, the evaluation's fields as query parameters),
    or with `format=alpacaeval` / `format=fastchat` an AlpacaEval `model_outputs.json` or a FastChat
    MT-Bench answer file mapped onto `suite`'s items. A bad line is a 422 naming its 1-based line and
    field, and nothing is stored. With an `Idempotency-Key`, a retry with the same key and body returns
    the same evaluation (header `Idempotent-Replayed: true`); the same key with another body is a 422,
    and while the first request is still running a 409.
    """
    kind = media_type(request.headers.get("content-type"))
    query = {k: v for k, v in request.query_params.items()}
    if query.get("format") == "items":  # the default, which generated clients send with every body
        del query["format"]
    file_upload = query.get("format") in ("alpacaeval", "fastchat")  # someone else's output file, any type
    if kind == "application/json" and not file_upload:
        if query:
            raise InvalidSubmission([_query_error(sorted(query))], title="Invalid request")
        body = await run_in_threadpool(evaluation_body, await request.body(), settings.limits)
        evaluation, replayed = await run_in_threadpool(
            service.create, session, dispatcher, settings, body, project.id, idempotency_key)
    elif kind in UPLOAD_TYPES or file_upload:
        header = upload.header_from_query(query)
        spooled = await upload.spool(request, settings.limits.max_upload_bytes)
        try:
            evaluation, replayed = await run_in_threadpool(
                service.create_from_upload, session, dispatcher, settings, header, spooled, project.id,
                request.url.query.encode(), idempotency_key)
        finally:
            spooled.file.close()
    else:
        raise HTTPException(415, detail=f"Content-Type {kind!r} is not accepted: send application/json, "
                                        "or an upload as application/x-ndjson")
    response.headers.update(idempotency.response_headers(f"/v1/evaluations/{evaluation.id}", replayed))
    return evaluation


@router.get("", response_model=EvaluationPage, responses={422: PROBLEMS[422]})
def list_evaluations(
    session: SessionDep, project: ProjectDep,
    status: Status | None = None,
    suite: Annotated[str | None, Query(max_length=256)] = None,
    model: Annotated[str | None, Query(max_length=256)] = None,
    protocol: Annotated[str | None, Query(max_length=32)] = None,
    judge: Annotated[str | None, Query(max_length=64)] = None,
    tag: Annotated[list[str] | None, Query(max_length=300, description=(
        "Tag filter, repeatable (all must match): `key=value`, or `key` / `key=*` for any value."))] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    cursor: Annotated[str | None, Query(max_length=300)] = None,
) -> EvaluationPage:
    """The project's evaluations, newest first, each with its progress and headline metric; cursor pagination.

    Filters match exactly. Pass `next_cursor` back as `cursor` for the next page (null on the last
    one); evaluations created after the first page never shift later pages.
    """
    filters = EvaluationFilters(status=status, suite=suite, model=model, protocol=protocol, judge=judge,
                                tags=tag_filters(tag))
    return service.list_evaluations(session, project.id, filters, limit, cursor)


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
    item_id: Annotated[str | None, Query(max_length=256, description="Only this item's verdict.")] = None,
) -> VerdictPage:
    """Verdicts in submission order with every judge call behind them; cursor pagination."""
    return service.verdicts(session, evaluation_id, limit, cursor, include_item, project.id, item_id)


@router.post("/{evaluation_id}/cancel", response_model=EvaluationOut, responses={k: PROBLEMS[k] for k in (404, 409)})
def cancel_evaluation(evaluation_id: str, session: SessionDep, settings: SettingsDep, project: ProjectDep,
                      dispatcher: Annotated[Dispatcher, Depends(get_dispatcher)]) -> EvaluationOut:
    """Stop remaining work; verdicts already made stay readable."""
    return service.cancel(session, dispatcher, settings, evaluation_id, project.id)


def _query_error(names: list[str]) -> FieldError:
    return parameter_error(names[0], f"query parameters {names} are for uploads only; a JSON body carries these fields")

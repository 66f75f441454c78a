"""Map errors onto RFC 9457 problem+json responses that name the offending field."""

from __future__ import annotations

import json
import logging
from http import HTTPStatus

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import StatementError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import ClientDisconnect

from service.core.json_depth import depth_detail
from service.errors import MAX_LISTED_ERRORS, Conflict, InvalidSubmission, NotFound, ServiceUnavailable, Unauthorized
from service.evaluations.submission import pointer

PROBLEM = "application/problem+json"
log = logging.getLogger(__name__)
# what FastAPI answers for a JSON body that is not UTF-8 text; the API calls every unreadable body a 422
_UNPARSABLE_BODY = "There was an error parsing the body"
PROBLEM_SCHEMA = {
    "title": "Problem", "type": "object", "required": ["type", "title", "status"],
    "description": "RFC 9457 problem details; `errors` names each offending field (JSON pointer), query "
                   "parameter or upload line.",
    "properties": {
        "type": {"type": "string"}, "title": {"type": "string"}, "status": {"type": "integer"},
        "detail": {"type": "string"},
        "error_count": {"type": "integer", "description": f"How many problems were found; `errors` lists the first "
                                                          f"{MAX_LISTED_ERRORS}."},
        "stopped_early": {"type": "boolean", "description": "Validation stopped after the listed problems: there "
                                                            "may be more than `error_count`."},
        "errors": {"type": "array", "maxItems": MAX_LISTED_ERRORS, "items": {"type": "object", "properties": {
            "pointer": {"anyOf": [{"type": "string"}, {"type": "null"}]}, "parameter": {"type": "string"},
            "line": {"type": "integer"}, "detail": {"type": "string"}}}},
    },
}


def problem(status: int, title: str, detail: str | None = None, errors: list | None = None,
            headers: dict | None = None, error_count: int | None = None, stopped: bool = False) -> JSONResponse:
    """A problem+json response; it lists at most MAX_LISTED_ERRORS errors, with the count of all."""
    body: dict = {"type": "about:blank", "title": title, "status": status}
    if detail:
        body["detail"] = detail
    if errors is not None:
        body["error_count"] = max(error_count or 0, len(errors))
        if stopped:
            body["stopped_early"] = True
        body["errors"] = errors[:MAX_LISTED_ERRORS]
    return JSONResponse(body, status_code=status, media_type=PROBLEM, headers=headers)


def _request_validation(_: Request, exc: RequestValidationError) -> JSONResponse:
    raw = exc.errors()
    errors = [_field_error(err) for err in raw[:MAX_LISTED_ERRORS]]
    first = errors[0] if errors else {}
    detail = f"{first.get('pointer') or first.get('parameter')}: {first.get('detail')}" if first else None
    return problem(422, "Invalid request", detail, errors, error_count=len(raw))


def _field_error(err: dict) -> dict:
    """One validation error with a JSON pointer into the body, or the query parameter's name."""
    loc = list(err.get("loc", ()))
    where, path = (loc[0], loc[1:]) if loc else ("body", [])
    if err.get("type") == "json_invalid":
        position = path[0] if path else "?"
        return {"pointer": "", "detail": f"the body is not valid JSON (error at character {position})"}
    if where == "body":
        return {"pointer": pointer(*path), "detail": err.get("msg", "invalid")}
    return {"pointer": None, "parameter": ".".join(str(p) for p in path), "detail": err.get("msg", "invalid")}


def _unstorable(exc: StatementError) -> bool:
    """The database refused text of the request: a NUL character (U+0000) or an unpaired surrogate."""
    cause = exc.orig if exc.orig is not None else exc.__cause__
    if isinstance(cause, UnicodeError):  # SQLite: str with a lone surrogate
        return True
    message = str(cause).lower()
    return any(sign in message for sign in ("nul (0x00)", "\\u0000", "unsupported unicode escape", "surrogate"))


def _document_problems(app: FastAPI) -> None:
    """Error responses in the OpenAPI document are problem+json (FastAPI documents its own 422 shape)."""
    build = app.openapi

    def openapi() -> dict:
        if app.openapi_schema:
            return app.openapi_schema
        schema = build()
        schemas = schema.setdefault("components", {}).setdefault("schemas", {})
        schemas["Problem"] = PROBLEM_SCHEMA
        for path_item in schema.get("paths", {}).values():
            for operation in path_item.values():
                for code, response in operation.get("responses", {}).items():
                    if code[:1] in ("4", "5") and code != "304":
                        response["content"] = {PROBLEM: {"schema": {"$ref": "#/components/schemas/Problem"}}}
        for unused in ("HTTPValidationError", "ValidationError"):
            if f'"#/components/schemas/{unused}"' not in json.dumps(schema):
                schemas.pop(unused, None)
        app.openapi_schema = schema
        return schema

    app.openapi = openapi  # type: ignore[method-assign]


def install_error_handlers(app: FastAPI) -> None:
    """Register the problem+json handlers on the app, and document them in its OpenAPI schema."""
    app.add_exception_handler(RequestValidationError, _request_validation)
    _document_problems(app)

    @app.exception_handler(InvalidSubmission)
    def _invalid(_: Request, exc: InvalidSubmission) -> JSONResponse:
        first = exc.errors[0] if exc.errors else {}
        where = first.get("pointer") if first.get("pointer") is not None else first.get("parameter")
        detail = f"{where}: {first.get('detail')}" if where is not None else first.get("detail")
        if exc.stopped:
            detail = f"{detail} (validation stopped after {exc.error_count} problems)"
        return problem(422, exc.title, detail, list(exc.errors[:MAX_LISTED_ERRORS]), error_count=exc.error_count,
                       stopped=exc.stopped)

    @app.exception_handler(Unauthorized)
    def _unauthorized(_: Request, exc: Unauthorized) -> JSONResponse:
        return problem(401, "Unauthorized", str(exc), headers={"WWW-Authenticate": 'Bearer realm="judgeserve"'})

    @app.exception_handler(NotFound)
    def _not_found(_: Request, exc: NotFound) -> JSONResponse:
        return problem(404, "Not found", str(exc))

    @app.exception_handler(Conflict)
    def _conflict(_: Request, exc: Conflict) -> JSONResponse:
        return problem(409, "Conflict", str(exc))

    @app.exception_handler(ServiceUnavailable)
    def _unavailable(_: Request, exc: ServiceUnavailable) -> JSONResponse:
        return problem(503, "Service unavailable", str(exc), headers={"Retry-After": str(exc.retry_after)})

    @app.exception_handler(StarletteHTTPException)
    def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        if isinstance(exc.__cause__, ClientDisconnect):  # FastAPI's 400 for a body it could not finish reading
            return _client_gone(request)
        if exc.status_code == 400 and exc.detail == _UNPARSABLE_BODY:
            detail = f"the body is not valid JSON ({_unparsable_because(exc.__cause__)})"
            return problem(422, "Invalid request", detail, [{"pointer": "", "detail": detail}])
        title = HTTPStatus(exc.status_code).phrase if exc.status_code in HTTPStatus._value2member_map_ else "Error"
        return problem(exc.status_code, title, str(exc.detail), headers=getattr(exc, "headers", None))

    @app.exception_handler(StatementError)
    def _database(request: Request, exc: StatementError) -> JSONResponse:
        if _unstorable(exc):  # e.g. a NUL in a path parameter or a name: nothing with it can exist or be stored
            detail = ("the request holds text the database cannot store or look up: a NUL character (U+0000) "
                      "or an unpaired surrogate")
            return problem(422, "Invalid request", detail, [{"pointer": None, "detail": detail}])
        return _unexpected(request, exc)

    @app.exception_handler(ClientDisconnect)
    def _disconnected(request: Request, _: ClientDisconnect) -> JSONResponse:
        return _client_gone(request)

    @app.exception_handler(Exception)
    def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        if isinstance(exc.__cause__ or exc.__context__, ClientDisconnect):
            return _client_gone(request)
        log.exception("unhandled error", exc_info=exc)
        return problem(500, "Internal Server Error", "an unexpected error occurred; it has been logged")


def _unparsable_because(cause: BaseException | None) -> str:
    """Why FastAPI could not parse a JSON body (its 400 hides the reason)."""
    if isinstance(cause, UnicodeDecodeError):
        return f"it is not UTF-8 text: {cause.reason} at byte {cause.start}"
    if isinstance(cause, RecursionError):
        return depth_detail()
    return f"{type(cause).__name__}: {cause}" if cause is not None else "it could not be parsed"


def _client_gone(request: Request) -> JSONResponse:
    """The client closed the connection before its request was read: logged at info, answered to nobody."""
    log.info("client disconnected: %s %s (the request was not completed)", request.method, request.url.path)
    return problem(499, "Client closed request", "the client disconnected before the request was read")

"""Map errors onto RFC 9457 problem+json responses that name the offending field."""

from __future__ import annotations

import logging
from http import HTTPStatus

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from service.errors import Conflict, InvalidSubmission, NotFound, ServiceUnavailable, Unauthorized
from service.evaluations.submission import pointer

PROBLEM = "application/problem+json"
log = logging.getLogger(__name__)


def problem(status: int, title: str, detail: str | None = None, errors: list | None = None,
            headers: dict | None = None) -> JSONResponse:
    """A problem+json response."""
    body = {"type": "about:blank", "title": title, "status": status}
    if detail:
        body["detail"] = detail
    if errors is not None:
        body["errors"] = errors
    return JSONResponse(body, status_code=status, media_type=PROBLEM, headers=headers)


def _request_validation(_: Request, exc: RequestValidationError) -> JSONResponse:
    errors = [_field_error(err) for err in exc.errors()]
    first = errors[0] if errors else {}
    detail = f"{first.get('pointer') or first.get('parameter')}: {first.get('detail')}" if first else None
    return problem(422, "Invalid request", detail, errors)


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


def install_error_handlers(app: FastAPI) -> None:
    """Register the problem+json handlers on the app."""
    app.add_exception_handler(RequestValidationError, _request_validation)

    @app.exception_handler(InvalidSubmission)
    def _invalid(_: Request, exc: InvalidSubmission) -> JSONResponse:
        first = exc.errors[0] if exc.errors else {}
        where = first.get("pointer") if first.get("pointer") is not None else first.get("parameter")
        detail = f"{where}: {first.get('detail')}" if where is not None else first.get("detail")
        return problem(422, exc.title, detail, list(exc.errors))

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
    def _http(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        title = HTTPStatus(exc.status_code).phrase if exc.status_code in HTTPStatus._value2member_map_ else "Error"
        return problem(exc.status_code, title, str(exc.detail), headers=getattr(exc, "headers", None))

    @app.exception_handler(Exception)
    def _unexpected(_: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error", exc_info=exc)
        return problem(500, "Internal Server Error", "an unexpected error occurred; it has been logged")

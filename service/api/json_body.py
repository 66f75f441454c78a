"""JSON request bodies read off the event loop, with their nesting, text and error count bounded.

FastAPI parses a route's JSON body with ``json.loads`` and validates it on the event loop: a large
body stalls every other request (``/healthz`` included), a deeply nested one raises RecursionError,
and a long list of bad values produces one error each. ``CheckedJSONRoute`` does that work in a
worker thread first: the nesting limit, valid UTF-8 JSON, storable text (no NUL, no lone
surrogate) and the route's body model; FastAPI then only takes the validated model.
"""

from __future__ import annotations

from typing import Any, Callable, Coroutine

from fastapi import Request, Response
from fastapi.routing import APIRoute
from pydantic import TypeAdapter, ValidationError
from starlette.concurrency import run_in_threadpool

from service.errors import MAX_LISTED_ERRORS, FieldError, InvalidSubmission
from service.evaluations.problems import pointer, pydantic_errors
from service.json_input import parsed_json

TITLE = "Invalid request"


def validated(adapter: TypeAdapter, value: Any, title: str = TITLE) -> Any:
    """``value`` validated by ``adapter``; InvalidSubmission listing the first problems with their count."""
    try:
        return adapter.validate_python(value)
    except ValidationError as exc:
        count = exc.error_count()
        errors = pydantic_errors(exc) if count <= MAX_LISTED_ERRORS else _first_errors(exc)
        raise InvalidSubmission([_root(e) for e in errors][:MAX_LISTED_ERRORS], title, count) from None


def _first_errors(exc: ValidationError) -> list[FieldError]:
    return [FieldError(pointer(*err["loc"]), err["msg"])
            for _, err in zip(range(MAX_LISTED_ERRORS), exc.errors(include_url=False))]


def _root(error: FieldError) -> FieldError:
    if error["pointer"] == "/":
        error["pointer"] = ""
    return error


class CheckedJSONRoute(APIRoute):
    """An APIRoute whose JSON body is parsed and validated in a worker thread (see the module docstring)."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        """The route's handler, preceded by the body check when the route takes a JSON body."""
        handler = super().get_route_handler()
        if self.body_field is None:
            return handler
        adapter = TypeAdapter(self.body_field.field_info.annotation)

        async def checked(request: Request) -> Response:
            media = (request.headers.get("content-type") or "application/json").split(";")[0].strip().lower()
            if media == "application/json" or media.endswith("+json"):
                raw = await request.body()
                if raw:
                    # FastAPI reads the parsed body from here; a validated model passes its validation as is
                    request._json = await run_in_threadpool(_checked, raw, adapter)  # type: ignore[attr-defined]
            return await handler(request)

        return checked


def _checked(raw: bytes, adapter: TypeAdapter) -> Any:
    return validated(adapter, parsed_json(raw, TITLE))

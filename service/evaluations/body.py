"""The JSON body of ``POST /v1/evaluations``, read in a worker thread with its items one at a time.

The header fields are read as they come; the items array is read element by element, each checked
(an object, storable text, not past ``max_items``) and dropped before the next is read. Reading
stops once a response's worth of problems is found, so a body of a million bad items costs about as
much as a hundred, and rejecting a body holds its text and one item. Only a body without such
problems is read a second time to keep its items (the submission pipeline validates them further).
"""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError

from service.config import Limits
from service.core import json_stream
from service.errors import ErrorList, FieldError, InvalidSubmission
from service.evaluations.items import first_bad_string
from service.evaluations.problems import pointer
from service.evaluations.schemas import EvaluationCreate
from service.json_input import body_text

TITLE = "Invalid request"
_FIELDS = frozenset(EvaluationCreate.model_fields)
_ANY_LENGTH = 1 << 62  # header fields' lengths are checked by EvaluationCreate


def evaluation_body(raw: bytes, limits: Limits) -> EvaluationCreate:
    """The body as an EvaluationCreate; InvalidSubmission listing the first problems (each at its pointer)."""
    text = body_text(raw, TITLE)
    errors = ErrorList()
    header: dict[str, Any] = {}
    stopped = False
    try:
        for key, index, value in json_stream.fields(text, "items"):
            if value is json_stream.ARRAY:
                header[key] = json_stream.ARRAY  # read again below, if every item is good
            elif index is None:
                _header_field(header, key, value, errors)
            elif index >= limits.max_items:
                errors.add(FieldError("/items", f"too many items: more than limit max_items={limits.max_items}"))
                stopped = True
            else:
                problem = _item_problem(index, value, limits.max_field_chars)
                if problem is not None:
                    errors.add(problem)
            if errors.full or stopped:
                stopped = True
                break
    except json_stream.JSONProblem as exc:
        errors.add(FieldError(pointer(*exc.parts) if exc.parts else "", _json_detail(exc)))
        stopped = errors.count > 1
    errors.raise_any(TITLE, stopped)
    if header.get("items") is json_stream.ARRAY:  # read again, keeping the items this time
        header["items"] = [value for _, index, value in json_stream.fields(text, "items") if index is not None]
    return _validated(header)


def _header_field(header: dict[str, Any], key: str, value: Any, errors: ErrorList) -> None:
    if key not in _FIELDS:
        errors.add(FieldError(pointer(key), "Extra inputs are not permitted"))
        return
    bad = first_bad_string(value, _ANY_LENGTH)
    if bad:
        errors.add(FieldError(pointer(key, *bad[0]), bad[1]))
        return
    header[key] = value


def _item_problem(index: int, value: Any, max_chars: int) -> FieldError | None:
    if not isinstance(value, dict):
        return FieldError(pointer("items", index), f"an item must be a JSON object, not {type(value).__name__}")
    bad = first_bad_string(value, max_chars)
    return FieldError(pointer("items", index, *bad[0]), bad[1]) if bad else None


def _json_detail(problem: json_stream.JSONProblem) -> str:
    if isinstance(problem, json_stream.TooLarge) or problem.detail.startswith("the body"):
        return problem.detail
    return f"the body is not valid JSON ({problem.detail})"


def _validated(fields: dict[str, Any]) -> EvaluationCreate:
    try:
        return EvaluationCreate.model_validate(fields)
    except ValidationError as exc:
        errors = [FieldError(pointer(*e["loc"]), e["msg"]) for e in exc.errors(include_url=False)]
        raise InvalidSubmission(errors, TITLE) from None

"""JSON text from a request, checked before it is parsed: the nesting limit, UTF-8, storable strings.

Problems are InvalidSubmission errors at a JSON pointer (``""`` for the whole body).
"""

from __future__ import annotations

import json
from typing import Any

from service.core.json_depth import depth_problem
from service.errors import FieldError, InvalidSubmission
from service.evaluations.items import first_bad_string
from service.evaluations.problems import pointer

_ANY_LENGTH = 1 << 62  # string lengths are the body model's business; only unstorable text is refused here


def body_text(raw: bytes, title: str) -> str:
    """The body as text; InvalidSubmission naming where it nests too deep, or its first byte that is not UTF-8."""
    deep = depth_problem(raw)
    if deep is not None:
        raise InvalidSubmission([FieldError(pointer(*deep[0]) if deep[0] else "", deep[1])], title)
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        detail = f"the body is not valid JSON (not UTF-8 text: {exc.reason} at byte {exc.start})"
        raise InvalidSubmission([FieldError("", detail)], title) from None


def parsed_json(raw: bytes, title: str) -> Any:
    """The body's JSON value, holding only storable text; InvalidSubmission naming the problem otherwise."""
    text = body_text(raw, title)
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        detail = f"the body is not valid JSON ({exc.msg} at line {exc.lineno} column {exc.colno})"
        raise InvalidSubmission([FieldError("", detail)], title) from None
    bad = unstorable(value)
    if bad is not None:
        raise InvalidSubmission([bad], title)
    return value


def unstorable(value: Any, *prefix: Any) -> FieldError | None:
    """The first string (key or value) holding a NUL or a lone surrogate, at its pointer below ``prefix``."""
    bad = first_bad_string(value, _ANY_LENGTH)
    if bad is None:
        return None
    parts = (*prefix, *bad[0])
    return FieldError(pointer(*parts) if parts else "", bad[1])

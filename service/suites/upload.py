"""Parse a suite upload (JSON body or JSONL, one item per line): all-or-nothing, errors name the field."""

from __future__ import annotations

import json
from typing import Any

from pydantic import ValidationError

from service.errors import FieldError, InvalidSubmission
from service.evaluations.items import MAX_REPORTED_ERRORS, first_bad_string
from service.evaluations.problems import parameter_error, pointer, pydantic_errors
from service.suites.schemas import SuiteCreate, SuiteItemIn

TITLE = "Invalid suite"
JSON_TYPES = frozenset({"application/json"})
JSONL_TYPES = frozenset({"application/x-ndjson", "application/jsonl", "application/x-jsonl",
                         "application/jsonlines", "application/x-jsonlines"})
_BOM = b"\xef\xbb\xbf"
_UNLIMITED = 1 << 62  # no length limit given: still refuse text that cannot be stored (NUL, lone surrogates)


def media_type(content_type: str | None) -> str:
    """The bare media type of a Content-Type header (JSON when absent)."""
    bare = (content_type or "application/json").split(";", 1)[0].strip().lower()
    return "application/json" if bare.endswith("+json") else bare


def parse_json(body: bytes, max_items: int | None = None, max_field_chars: int | None = None) -> SuiteCreate:
    """A JSON body as a SuiteCreate; raise InvalidSubmission with a pointer per problem."""
    try:
        raw = json.loads(body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise InvalidSubmission([FieldError("", f"the body is not valid JSON ({_reason(exc)})")], TITLE) from None
    bad = first_bad_string(raw, max_field_chars if max_field_chars is not None else _UNLIMITED)
    if bad:
        raise InvalidSubmission([_root_fixed(FieldError(pointer(*bad[0]), bad[1]))], TITLE)
    errors = _duplicate_ids(raw)
    try:
        suite = SuiteCreate.model_validate(raw)
    except ValidationError as exc:
        raise InvalidSubmission(([_root_fixed(e) for e in pydantic_errors(exc)] + errors)[:MAX_REPORTED_ERRORS],
                                TITLE) from None
    if max_items is not None and len(suite.items) > max_items:
        errors.append(FieldError("/items", f"too many items: {len(suite.items)} > limit max_items={max_items}"))
    if errors:
        raise InvalidSubmission(errors[:MAX_REPORTED_ERRORS], TITLE)
    return suite


def parse_jsonl(body: bytes, name: str, description: str | None = None, baseline_model: str | None = None,
                max_items: int | None = None, max_line_bytes: int | None = None,
                max_field_chars: int | None = None) -> SuiteCreate:
    """A JSONL body (one item per line) plus header fields as a SuiteCreate; errors point at 1-based lines."""
    items, errors = _jsonl_items(body, max_items, max_line_bytes, max_field_chars)
    if not items and not errors:
        errors.append(FieldError("", "the upload has no items (every line is blank)"))
    header = {"name": name, "description": description, "baseline_model": baseline_model}
    try:  # items are validated instances already: pydantic does not validate them again
        suite = SuiteCreate.model_validate({k: v for k, v in header.items() if v is not None} | {"items": items})
    except ValidationError as exc:
        suite = None
        errors.extend(_parameter_error(e) for e in exc.errors(include_url=False) if e["loc"][:1] != ("items",))
    if errors or suite is None:
        raise InvalidSubmission(errors[:MAX_REPORTED_ERRORS], TITLE)
    return suite


def _jsonl_items(body: bytes, max_items: int | None, max_line_bytes: int | None = None,
                 max_field_chars: int | None = None) -> tuple[list[SuiteItemIn], list[FieldError]]:
    items: list[SuiteItemIn] = []
    errors: list[FieldError] = []
    first_line: dict[str, int] = {}
    seen = 0
    for number, line in enumerate(_lines(body), start=1):
        if len(errors) >= MAX_REPORTED_ERRORS:
            break
        if not line.strip():
            continue
        seen += 1
        if max_items is not None and seen > max_items:
            errors.append(_at_line(number, "", f"too many items: more than limit max_items={max_items}"))
            break
        if max_line_bytes is not None and len(line) > max_line_bytes:
            errors.append(_at_line(number, "", f"line {number} is longer than limit max_line_bytes={max_line_bytes}"))
            continue
        item = _line_item(number, line, errors, max_field_chars)
        if item is None:
            continue
        if item.id in first_line:
            first = first_line[item.id]
            errors.append(_at_line(number, "id", f"duplicate item id {item.id!r} (first on line {first})"))
        first_line.setdefault(item.id, number)
        items.append(item)
    return items, errors


def _lines(body: bytes):
    """The body's lines, split on \\n only (a JSON string cannot hold a raw newline)."""
    if body.startswith(_BOM):
        body = body[len(_BOM):]
    start = 0
    while start <= len(body):
        end = body.find(b"\n", start)
        end = len(body) if end < 0 else end
        yield body[start:end]
        start = end + 1


def _line_item(number: int, line: bytes, errors: list[FieldError], max_field_chars: int | None = None,
               ) -> SuiteItemIn | None:
    try:
        raw = json.loads(line)
    except (ValueError, UnicodeDecodeError) as exc:
        errors.append(_at_line(number, "", f"line {number} is not valid JSON ({_reason(exc)})"))
        return None
    if not isinstance(raw, dict):
        errors.append(_at_line(number, "", f"line {number} must be a JSON object (one item), not {type(raw).__name__}"))
        return None
    bad = first_bad_string(raw, max_field_chars if max_field_chars is not None else _UNLIMITED)
    if bad:
        err = FieldError(pointer("lines", number, *bad[0]), f"line {number}: {bad[1]}")
        err["line"] = number
        errors.append(err)
        return None
    try:
        return SuiteItemIn.model_validate(raw)
    except ValidationError as exc:
        for err in pydantic_errors(exc, "lines", number):
            err["line"] = number
            errors.append(err)
        return None


def _at_line(number: int, field: str, detail: str) -> FieldError:
    err = FieldError(pointer("lines", number, field) if field else pointer("lines", number), detail)
    err["line"] = number
    return err


def _parameter_error(err: dict[str, Any]) -> FieldError:
    """A problem with a JSONL upload's query parameter (same shape as the API's parameter errors)."""
    return parameter_error(".".join(str(part) for part in err["loc"]), err["msg"])


def _duplicate_ids(raw: Any) -> list[FieldError]:
    """Errors for item ids that repeat an earlier item's id, at the repeat."""
    items = raw.get("items") if isinstance(raw, dict) else None
    errors, first = [], {}
    for index, item in enumerate(items if isinstance(items, list) else []):
        key = item.get("id") if isinstance(item, dict) else None
        if not isinstance(key, str):
            continue
        if key in first:
            errors.append(FieldError(pointer("items", index, "id"),
                                     f"duplicate item id {key!r} (first at /items/{first[key]})"))
        first.setdefault(key, index)
    return errors


def _root_fixed(err: FieldError) -> FieldError:
    """The whole document's pointer is "" (RFC 6901), not "/"."""
    if err["pointer"] == "/":
        err["pointer"] = ""
    return err


def _reason(exc: Exception) -> str:
    if isinstance(exc, json.JSONDecodeError):
        return f"{exc.msg} at line {exc.lineno} column {exc.colno}"
    return str(exc)

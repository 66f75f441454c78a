"""Parse a suite upload (JSON body or JSONL, one item per line): all-or-nothing, errors name the field."""

from __future__ import annotations

import json
from array import array
from typing import Any

from pydantic import ValidationError

from service.core import json_stream
from service.core.json_depth import depth_problem
from service.errors import MAX_LISTED_ERRORS, ErrorList, FieldError, InvalidSubmission
from service.evaluations.items import first_bad_string
from service.evaluations.problems import parameter_error, pointer, pydantic_errors
from service.json_input import body_text
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
    """A JSON body as a SuiteCreate; raise InvalidSubmission with a pointer per problem.

    The items are read and validated one at a time (json_stream) and dropped, and reading stops once
    a response's worth of problems is found: rejecting a body holds its text and one item. A body
    without problems is read a second time to keep its items.
    """
    text = body_text(body, TITLE)
    limit = max_field_chars if max_field_chars is not None else _UNLIMITED
    errors = ErrorList()
    header: dict[str, Any] = {}
    id_hashes = array("q")  # the hash of each item's id (8 bytes each; repeats are confirmed by reading again)
    stopped = False
    try:
        for key, index, value in json_stream.fields(text, "items"):
            if value is json_stream.ARRAY:
                header[key] = json_stream.ARRAY  # read again below, if every item is good
            elif index is None:
                _header_field(header, key, value, limit, errors)
            elif max_items is not None and index >= max_items:
                errors.add(FieldError("/items", f"too many items: more than limit max_items={max_items}"))
                stopped = True
            else:
                _body_item(index, value, limit, errors)
                if isinstance(value, dict) and isinstance(value.get("id"), str):
                    id_hashes.append(hash(value["id"]))
            if stopped or errors.full:
                stopped = True
                break
    except json_stream.TooLarge as exc:
        errors.add(FieldError(pointer(*exc.parts), exc.detail))
    except json_stream.JSONProblem as exc:
        errors.add(FieldError("", exc.detail if exc.detail.startswith("the body")
                              else f"the body is not valid JSON ({exc.detail})"))
    if not stopped:
        stopped = _duplicate_ids(text, id_hashes, errors)
    errors.raise_any(TITLE, stopped)
    if header.get("items") is json_stream.ARRAY:  # read again, keeping the items (they all validate)
        header["items"] = [SuiteItemIn.model_validate(value)
                           for _, index, value in json_stream.fields(text, "items") if index is not None]
    try:  # items are validated instances already: pydantic does not validate them again
        return SuiteCreate.model_validate(header)
    except ValidationError as exc:
        raise InvalidSubmission([_root_fixed(e) for e in pydantic_errors(exc)][:MAX_LISTED_ERRORS], TITLE,
                                exc.error_count()) from None


def _header_field(header: dict[str, Any], key: str, value: Any, max_chars: int, errors: ErrorList) -> None:
    if key not in SuiteCreate.model_fields or key == "items":  # "items" here is not an array
        if key == "items":
            errors.add(FieldError("/items", f"items must be an array of objects, not {type(value).__name__}"))
        else:
            errors.add(FieldError(pointer(key), "Extra inputs are not permitted"))
        return
    bad = first_bad_string(value, max_chars)
    if bad:
        errors.add(FieldError(pointer(key, *bad[0]), bad[1]))
        return
    header[key] = value


def _body_item(index: int, raw: Any, max_chars: int, errors: ErrorList) -> SuiteItemIn | None:
    """One item of a JSON body validated; its problems go to ``errors``."""
    bad = first_bad_string(raw, max_chars)
    if bad:
        errors.add(FieldError(pointer("items", index, *bad[0]), bad[1]))
        return None
    try:
        return SuiteItemIn.model_validate(raw)
    except ValidationError as exc:
        for error in pydantic_errors(exc, "items", index):
            errors.add(error)
        return None


def _duplicate_ids(text: str, id_hashes: array, errors: ErrorList) -> bool:
    """Items whose id repeats an earlier item's, at the repeat, added to ``errors``; whether reading stopped.

    Only the items whose id's hash repeats are looked at again (a second read of the body).
    """
    ordered = sorted(id_hashes)
    repeated = {value for value, following in zip(ordered, ordered[1:]) if value == following}
    del ordered
    first: dict[str, int] = {}
    for _, index, raw in json_stream.fields(text, "items") if repeated else ():
        key = raw.get("id") if index is not None and isinstance(raw, dict) else None
        if not isinstance(key, str) or hash(key) not in repeated:
            continue
        if key not in first:
            first[key] = index
            continue
        if errors.full:
            return True
        detail = f"duplicate item id {key!r} (first at /items/{first[key]})"
        errors.add(FieldError(pointer("items", index, "id"), detail))
    return False


def parse_jsonl(body: bytes, name: str, description: str | None = None, baseline_model: str | None = None,
                max_items: int | None = None, max_line_bytes: int | None = None,
                max_field_chars: int | None = None) -> SuiteCreate:
    """A JSONL body (one item per line) plus header fields as a SuiteCreate; errors point at 1-based lines."""
    items, errors, stopped = _jsonl_items(body, max_items, max_line_bytes, max_field_chars)
    if not items and not errors:
        errors.append(FieldError("", "the upload has no items (every line is blank)"))
    header = {"name": name, "description": description, "baseline_model": baseline_model}
    errors.extend(parameter_error(key, bad[1]) for key, value in header.items()
                  if value is not None and (bad := first_bad_string(value, _UNLIMITED)))
    try:  # items are validated instances already: pydantic does not validate them again
        suite = SuiteCreate.model_validate({k: v for k, v in header.items() if v is not None} | {"items": items})
    except ValidationError as exc:
        suite = None
        errors.extend(_parameter_error(e) for e in exc.errors(include_url=False) if e["loc"][:1] != ("items",))
    if errors or suite is None:
        raise InvalidSubmission(errors[:MAX_LISTED_ERRORS], TITLE, len(errors), stopped)
    return suite


def _jsonl_items(body: bytes, max_items: int | None, max_line_bytes: int | None = None,
                 max_field_chars: int | None = None) -> tuple[list[SuiteItemIn], list[FieldError], bool]:
    """The items of the lines, the problems found and whether reading stopped before the end."""
    items: list[SuiteItemIn] = []
    errors: list[FieldError] = []
    first_line: dict[str, int] = {}
    seen = 0
    for number, line in enumerate(_lines(body), start=1):
        if len(errors) >= MAX_LISTED_ERRORS:
            return items, errors, True
        if not line.strip():
            continue
        seen += 1
        if max_items is not None and seen > max_items:
            errors.append(_at_line(number, "", f"too many items: more than limit max_items={max_items}"))
            return items, errors, True
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
    return items, errors, False


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
    deep = depth_problem(line)
    if deep:
        where = pointer(*deep[0]) if deep[0] else "the top"
        errors.append(_at_line(number, "", f"line {number} is {deep[1]}, at {where} of the line"))
        return None
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


def _root_fixed(err: FieldError) -> FieldError:
    """The whole document's pointer is "" (RFC 6901), not "/"."""
    if err["pointer"] == "/":
        err["pointer"] = ""
    return err


def _reason(exc: Exception) -> str:
    if isinstance(exc, json.JSONDecodeError):
        return f"{exc.msg} at line {exc.lineno} column {exc.colno}"
    return str(exc)

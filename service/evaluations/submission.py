"""Validate a submitted evaluation and turn it into rows (all-or-nothing, nothing stored here)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ValidationError

from service.config import Settings
from service.core.protocol import EvaluationProtocol, get_protocol, protocol_names
from service.errors import FieldError, InvalidSubmission
from service.evaluations.schemas import EvaluationCreate
from service.webhooks.guard import checked_webhook_url

MAX_REPORTED_ERRORS = 20


@dataclass
class SuiteContext:
    """The suite version an evaluation runs on: items by id (payload plus category)."""

    name: str
    version: int
    baseline_model: str | None
    items: dict[str, dict[str, Any]]


@dataclass
class PreparedEvaluation:
    """A validated submission, ready to store."""

    evaluation: dict[str, Any]
    items: list[dict[str, Any]]
    chunks: list[dict[str, Any]]


def pointer(*parts: Any) -> str:
    """A JSON pointer (RFC 6901) from path parts."""
    escaped = (str(p).replace("~", "~0").replace("/", "~1") for p in parts)
    return "/" + "/".join(escaped)


def pydantic_errors(exc: ValidationError, *prefix: Any) -> list[FieldError]:
    """Pydantic errors as field errors with pointers below ``prefix``."""
    return [
        FieldError(pointer(*prefix, *err["loc"]), err["msg"])
        for err in exc.errors(include_url=False)
    ]


def prepare(body: EvaluationCreate, settings: Settings, suite: SuiteContext | None = None) -> PreparedEvaluation:
    """Validate protocol, judge, options and every item; raise InvalidSubmission listing problems.

    With a suite, each submitted item names a suite item by ``id`` and brings the model's
    ``response``; the protocol builds the full item from both.
    """
    protocol = _protocol(body.protocol)
    errors: list[FieldError] = []
    if body.suite_version is not None and body.suite is None:
        errors.append(FieldError("/suite_version", "suite_version needs suite"))
    if body.judge not in settings.judges():
        errors.append(FieldError("/judge", f"unknown judge {body.judge!r}; configured: {sorted(settings.judges())}"))
    options = _options(protocol, body.options, errors)
    if len(body.items) > settings.limits.max_items:
        errors.append(FieldError("/items", f"too many items: {len(body.items)} > limit max_items={settings.limits.max_items}"))
        raise InvalidSubmission(errors)
    items = _items(protocol, body.items, settings.limits.max_field_chars, errors, suite)
    if not errors and options is not None and hasattr(protocol, "validate_items"):
        # checks that need the options too (e.g. href: every item's category needs a method)
        errors.extend(FieldError(pointer("items", index, field), message)
                      for index, field, message in protocol.validate_items(items, options))
    if errors:
        raise InvalidSubmission(errors[:MAX_REPORTED_ERRORS])
    return _rows(body, protocol, options, items, settings, suite)


def _protocol(name: str) -> EvaluationProtocol:
    try:
        return get_protocol(name)
    except KeyError:
        raise InvalidSubmission(
            [FieldError("/protocol", f"unknown protocol {name!r}; available: {protocol_names()}")]
        ) from None


def _options(protocol: EvaluationProtocol, raw: dict, errors: list[FieldError]) -> BaseModel | None:
    try:
        return protocol.options_model.model_validate(raw)
    except ValidationError as exc:
        errors.extend(pydantic_errors(exc, "options"))
        return None


def _items(protocol, raw_items: list[dict], max_chars: int, errors: list[FieldError],
           suite: SuiteContext | None) -> list[BaseModel]:
    items, seen = [], {}
    for index, raw in enumerate(raw_items):
        if len(errors) >= MAX_REPORTED_ERRORS:
            break
        item = validate_item(protocol, raw, max_chars, suite, ("items", index), errors)
        if item is None:
            continue
        if item.id in seen:
            errors.append(FieldError(pointer("items", index, "id"), f"duplicate item id {item.id!r} (first at /items/{seen[item.id]})"))
        seen.setdefault(item.id, index)
        items.append(item)
    return items


def validate_item(protocol, raw: Any, max_chars: int, suite: SuiteContext | None, where: tuple,
                  errors: list[FieldError]) -> BaseModel | None:
    """One submitted item validated (through its suite item when there is a suite); problems go to ``errors``.

    ``where`` prefixes the pointers: ``("items", 3)`` for a JSON body, ``("lines", 7)`` for an upload line.
    """
    if not isinstance(raw, dict):
        errors.append(FieldError(pointer(*where), f"an item must be a JSON object, not {type(raw).__name__}"))
        return None
    bad = _first_bad_string(raw, max_chars)
    if bad:
        errors.append(FieldError(pointer(*where, *bad[0]), bad[1]))
        return None
    if suite is not None:
        if str(raw.get("id")) not in suite.items:
            errors.append(FieldError(pointer(*where, "id"),
                                     f"no item {raw.get('id')!r} in suite {suite.name!r} version {suite.version}"))
            return None
        try:
            raw = protocol.from_suite(suite.items[str(raw["id"])], raw)
        except ValueError as exc:
            errors.append(FieldError(pointer(*where), str(exc)))
            return None
    try:
        return protocol.item_model.model_validate(raw)
    except ValidationError as exc:
        errors.extend(pydantic_errors(exc, *where))
        return None


def protocol_named(name: str) -> EvaluationProtocol:
    """The protocol called ``name``, or a 422 listing the known ones."""
    return _protocol(name)


def validated_options(protocol: EvaluationProtocol, raw: dict, errors: list[FieldError]) -> BaseModel | None:
    """The protocol's options from ``raw``; problems go to ``errors`` (pointers under /options)."""
    return _options(protocol, raw, errors)


def _first_bad_string(value: Any, max_chars: int, path: tuple = ()) -> tuple[tuple, str] | None:
    """The first string that is over the limit or holds a NUL or an unpaired surrogate (not storable text)."""
    if isinstance(value, str):
        if len(value) > max_chars:
            return path, f"longer than limit max_field_chars={max_chars}"
        if "\x00" in value:
            return path, "contains a NUL character (U+0000), which cannot be stored"
        if not value.isascii():
            try:
                value.encode("utf-8")
            except UnicodeEncodeError:  # JSON can escape a lone surrogate ("\ud800"); UTF-8 cannot hold it
                return path, "contains an unpaired surrogate (U+D800 to U+DFFF), which cannot be stored"
        return None
    children = value.items() if isinstance(value, dict) else enumerate(value) if isinstance(value, list) else ()
    for key, child in children:
        found = _first_bad_string(child, max_chars, path + (key,))
        if found is not None:
            return found
    return None


def _rows(body: EvaluationCreate, protocol, options: BaseModel, items: list[BaseModel], settings: Settings,
          suite: SuiteContext | None) -> PreparedEvaluation:
    evaluation = evaluation_row(body, protocol, options, suite)
    chunks = chunk_rows(evaluation["id"], len(items), options, settings)
    evaluation.update(total=len(items), chunks_total=len(chunks))
    evaluation["webhook_url"] = checked_webhook_url(body.webhook_url, settings)
    return PreparedEvaluation(evaluation, item_rows(evaluation["id"], items, 0), chunks)


def evaluation_row(body: Any, protocol, options: BaseModel, suite: SuiteContext | None) -> dict[str, Any]:
    """A new evaluation's row (no items yet: total and chunks_total are 0). ``body``: the header fields."""
    return {
        "id": str(uuid.uuid4()), "protocol": protocol.name, "judge": body.judge, "model": body.model,
        "suite": suite.name if suite else None, "suite_version": suite.version if suite else None,
        "baseline_model": body.baseline_model or (suite.baseline_model if suite else None),
        "options": options.model_dump(mode="json"), "status": "queued",
        "total": 0, "done": 0, "failed": 0, "chunks_total": 0, "chunks_done": 0,
    }


def item_rows(evaluation_id: str, items: list[BaseModel], first_position: int) -> list[dict[str, Any]]:
    """Rows of validated items, numbered from ``first_position``."""
    return [
        {"evaluation_id": evaluation_id, "position": first_position + i, "item_key": item.id,
         "payload": item.model_dump(mode="json", exclude_none=True)}
        for i, item in enumerate(items)
    ]


def chunk_rows(evaluation_id: str, n_items: int, options: BaseModel, settings: Settings) -> list[dict[str, Any]]:
    """The chunks (units of queued work) of ``n_items`` items."""
    chunk_size = getattr(options, "chunk_size", None) or settings.chunk_size
    return [
        {"evaluation_id": evaluation_id, "index": i, "start": start, "stop": min(start + chunk_size, n_items),
         "status": "pending", "attempts": 0}
        for i, start in enumerate(range(0, n_items, chunk_size))
    ]

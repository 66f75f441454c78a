"""Validate a submission's header (protocol, judge, model, options, webhook URL) and make its rows; no I/O.

The same checks serve a JSON body (problems named by body pointers: ``/judge``) and an upload
(problems named by query parameter); the items are validated by ``items.ItemIntake``.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any, Callable, Iterator

from pydantic import BaseModel, ValidationError

from service.config import Settings
from service.core.protocol import EvaluationProtocol, get_protocol, protocol_names
from service.errors import FieldError, InvalidSubmission
from service.evaluations.items import ItemIntake, Problem, Record, SuiteContext, item_rows
from service.evaluations.problems import pointer, pydantic_errors
from service.evaluations.schemas import EvaluationCreate
from service.webhooks.guard import checked_webhook_url

# names a problem with a header field: a body pointer ("/judge") or a query parameter ("judge")
FieldNamer = Callable[[str, str], FieldError]


@dataclass
class PreparedEvaluation:
    """A validated submission, ready to store."""

    evaluation: dict[str, Any]
    items: list[dict[str, Any]]
    chunks: list[dict[str, Any]]


@dataclass
class Header:
    """A submission's checked header: its fields (a JSON body or an upload's query), protocol and options."""

    fields: Any
    protocol: EvaluationProtocol
    options: BaseModel
    webhook_url: str | None


def body_field(name: str, detail: str) -> FieldError:
    """A problem with a top-level field of a JSON body."""
    return FieldError(pointer(name), detail)


def check_header(fields: Any, settings: Settings, field_error: FieldNamer = body_field,
                 format: str = "items") -> Header:
    """Protocol, judge, suite, model, options and webhook URL checked; InvalidSubmission listing the problems.

    ``fields`` has the header fields of ``EvaluationCreate``; ``format`` is an upload's file format.
    """
    protocol = protocol_named(fields.protocol)
    errors: list[FieldError] = []
    if fields.suite_version is not None and fields.suite is None:
        errors.append(field_error("suite_version", "suite_version needs suite"))
    if fields.judge not in settings.judges():
        errors.append(field_error("judge", f"unknown judge {fields.judge!r}; configured: {sorted(settings.judges())}"))
    if format != "items" and not fields.suite:
        errors.append(field_error("suite", f"format={format} maps records onto a suite's items: give suite"))
    if fields.model is None:
        errors.append(field_error("model", "model is required (the candidate model's name)"))
    options = validated_options(protocol, fields.options, errors)
    if errors:
        raise InvalidSubmission(errors)
    return Header(fields, protocol, options, checked_webhook_url(fields.webhook_url, settings))


def protocol_named(name: str) -> EvaluationProtocol:
    """The protocol called ``name``, or a 422 listing the known ones."""
    try:
        return get_protocol(name)
    except KeyError:
        raise InvalidSubmission(
            [FieldError("/protocol", f"unknown protocol {name!r}; available: {protocol_names()}")]
        ) from None


def validated_options(protocol: EvaluationProtocol, raw: dict, errors: list[FieldError]) -> BaseModel | None:
    """The protocol's options from ``raw``; problems go to ``errors`` (pointers under /options)."""
    try:
        return protocol.options_model.model_validate(raw)
    except ValidationError as exc:
        errors.extend(pydantic_errors(exc, "options"))
        return None


def body_records(body: EvaluationCreate, max_items: int) -> Iterator[Record]:
    """(pointer parts, raw item) of each item of a JSON body; more than ``max_items`` is one problem at /items."""
    if len(body.items) > max_items:
        yield ("items",), Problem(f"too many items: {len(body.items)} > limit max_items={max_items}")
        return
    for index, raw in enumerate(body.items):
        yield ("items", index), raw


def prepare(body: EvaluationCreate, settings: Settings, suite: SuiteContext | None = None) -> PreparedEvaluation:
    """The rows a JSON body would make, validated like a submission but stored nowhere; raise InvalidSubmission.

    With a suite, each submitted item names a suite item by ``id`` and brings the model's
    ``response``; the protocol builds the full item from both.
    """
    header = check_header(body, settings)
    evaluation = evaluation_row(header, suite)
    rows: list[dict[str, Any]] = []

    def collect(items: list[BaseModel], first_position: int) -> dict[str, int]:
        rows.extend(item_rows(evaluation["id"], items, first_position))
        return {}  # repeated ids: the intake remembers them (remember_ids)

    intake = ItemIntake(header.protocol, header.options, suite, settings.limits, collect, remember_ids=True)
    intake.feed(body_records(body, settings.limits.max_items))
    count = intake.finish()
    chunks = chunk_rows(evaluation["id"], count, header.options, settings)
    evaluation.update(total=count, chunks_total=len(chunks))
    return PreparedEvaluation(evaluation, rows, chunks)


def evaluation_row(header: Header, suite: SuiteContext | None) -> dict[str, Any]:
    """A new evaluation's row (no items yet: total and chunks_total are 0)."""
    fields = header.fields
    return {
        "id": str(uuid.uuid4()), "protocol": header.protocol.name, "judge": fields.judge, "model": fields.model,
        "suite": suite.name if suite else None, "suite_version": suite.version if suite else None,
        "baseline_model": fields.baseline_model or (suite.baseline_model if suite else None),
        "options": header.options.model_dump(mode="json"), "status": "queued", "webhook_url": header.webhook_url,
        "total": 0, "done": 0, "failed": 0, "chunks_total": 0, "chunks_done": 0,
        "tags": dict(getattr(fields, "tags", None) or {}), "leaderboard": getattr(fields, "leaderboard", True),
    }


def chunk_rows(evaluation_id: str, n_items: int, options: BaseModel, settings: Settings) -> list[dict[str, Any]]:
    """The chunks (units of queued work) of ``n_items`` items."""
    chunk_size = getattr(options, "chunk_size", None) or settings.chunk_size
    return [
        {"evaluation_id": evaluation_id, "index": i, "start": start, "stop": min(start + chunk_size, n_items),
         "status": "pending", "attempts": 0}
        for i, start in enumerate(range(0, n_items, chunk_size))
    ]

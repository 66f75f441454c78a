"""Batch uploads: ``POST /v1/evaluations`` with one item per line (NDJSON), or an AlpacaEval / FastChat file.

The body is streamed to a temporary file (hashing it for Idempotency-Key), then read back a
line at a time: items are validated and inserted in batches inside ONE transaction, so memory
stays bounded whatever the upload's size, and any bad line rolls everything back (nothing stored).
"""

from __future__ import annotations

import hashlib
import json
import tempfile
from dataclasses import dataclass
from typing import IO, Any, Iterator

from fastapi import Request
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator
from sqlalchemy.orm import Session
from starlette.exceptions import HTTPException

from service.config import Settings
from service.errors import FieldError, InvalidSubmission, ServiceUnavailable
from service.evaluations import formats
from service.evaluations import repository as repo
from service.evaluations.submission import (
    MAX_REPORTED_ERRORS, PreparedEvaluation, SuiteContext, chunk_rows, evaluation_row, item_rows, pointer,
    validate_item,
)
from service.idempotency import service as idempotency
from service.webhooks.guard import checked_webhook_url

BATCH = 1000
TITLE = "Invalid upload"
_BOM = b"\xef\xbb\xbf"


class UploadHeader(BaseModel):
    """The evaluation's fields, given as query parameters of an upload."""

    model_config = ConfigDict(extra="forbid")
    protocol: str
    judge: str
    model: str | None = Field(default=None, min_length=1, max_length=256)
    suite: str | None = Field(default=None, max_length=128)
    suite_version: int | None = Field(default=None, ge=1, le=2**31 - 1)
    baseline_model: str | None = Field(default=None, max_length=256)
    options: dict[str, Any] = Field(default_factory=dict)
    format: str = "items"
    webhook_url: str | None = Field(default=None, max_length=2048)

    @field_validator("options", mode="before")
    @classmethod
    def _options_json(cls, value: Any) -> Any:
        if isinstance(value, str):
            try:
                return json.loads(value)
            except ValueError:
                raise ValueError("options must be a JSON object, e.g. options={\"samples\":2}") from None
        return value

    @field_validator("format")
    @classmethod
    def _known_format(cls, value: str) -> str:
        if value not in formats.FORMATS:
            raise ValueError(f"format must be one of {list(formats.FORMATS)}")
        return value


@dataclass
class Spool:
    """An upload saved to a temporary file, with its size and SHA-256."""

    file: IO[bytes]
    size: int
    digest: str


async def spool(request: Request, max_bytes: int) -> Spool:
    """Stream the request body to a temporary file; 413 naming the limit when it is too large."""
    hasher, size = hashlib.sha256(), 0
    file = tempfile.TemporaryFile()
    async for chunk in request.stream():
        size += len(chunk)
        if size > max_bytes:
            file.close()
            raise HTTPException(413, detail=f"the upload exceeds limit max_upload_bytes={max_bytes}")
        hasher.update(chunk)
        file.write(chunk)
    file.seek(0)
    return Spool(file, size, hasher.hexdigest())


def header_from_query(params: dict[str, str]) -> UploadHeader:
    """The upload's header fields from its query string; 422 naming each bad parameter."""
    try:
        return UploadHeader.model_validate(params)
    except ValidationError as exc:
        raise InvalidSubmission([_parameter_error(e) for e in exc.errors(include_url=False)], TITLE) from None


def lines(file: IO[bytes], max_line_bytes: int) -> Iterator[tuple[int, bytes | None]]:
    """(1-based number, line) of each non-blank line; the line is None when it is over the limit."""
    number = 0
    while True:
        line = file.readline(max_line_bytes + 1)
        if not line:
            return
        number += 1
        if number == 1 and line.startswith(_BOM):
            line = line[len(_BOM):]
        if len(line) > max_line_bytes and not line.endswith(b"\n"):
            while (rest := file.readline(1 << 20)) and not rest.endswith(b"\n"):
                pass  # skip the rest of the long line without holding it
            yield number, None
            continue
        if line.strip():
            yield number, line


def upload_size(file: IO[bytes]) -> int:
    """The spooled file's size (it is read from the start afterwards)."""
    size = file.seek(0, 2)
    file.seek(0)
    return size


def records(header: UploadHeader, file: IO[bytes], settings: Settings,
            suite: SuiteContext | None) -> Iterator[tuple[tuple, Any]]:
    """(pointer parts, raw item or an error message) per record of the upload, in order."""
    if header.format == "alpacaeval":  # one JSON array, read whole: no larger than a JSON body may be
        if upload_size(file) > settings.limits.max_body_bytes:
            yield (), f"an AlpacaEval file is read whole: larger than limit max_body_bytes={settings.limits.max_body_bytes}"
            return
        try:
            data = json.load(file)
        except (ValueError, UnicodeDecodeError) as exc:
            yield (), f"the AlpacaEval file is not valid JSON ({exc})"
            return
        yield from formats.alpacaeval_items(data, formats.suite_prompts(suite.items if suite else {}))
        return
    for number, line in lines(file, settings.limits.max_line_bytes):
        where = ("lines", number)
        if line is None:
            yield where, f"line {number} is longer than limit max_line_bytes={settings.limits.max_line_bytes}"
            continue
        try:
            raw = json.loads(line)
        except (ValueError, UnicodeDecodeError) as exc:
            yield where, f"line {number} is not valid JSON ({exc})"
            continue
        yield formats.fastchat_item(raw, where) if header.format == "fastchat" else (where, raw)


def store(session: Session, settings: Settings, protocol, options: BaseModel, header: UploadHeader,
          suite: SuiteContext | None, upload: Spool, claim: idempotency.Claim | None,
          project_id: str) -> PreparedEvaluation:
    """Validate and insert every item in batches (one transaction, not committed here); raise on any bad item."""
    evaluation = evaluation_row(header, protocol, options, suite) | {
        "project_id": project_id, "webhook_url": checked_webhook_url(header.webhook_url, settings)}
    repo.add_evaluation(session, evaluation, [], [])
    errors: list[FieldError] = []
    batch: list[tuple[tuple, BaseModel]] = []
    count = 0
    for where, raw in records(header, upload.file, settings, suite):
        if len(errors) >= MAX_REPORTED_ERRORS:
            break
        if isinstance(raw, str):
            errors.append(_at(where, raw))
            continue
        if count >= settings.limits.max_items:
            errors.append(_at(where, f"too many items: more than limit max_items={settings.limits.max_items}"))
            break
        item = validate_item(protocol, raw, settings.limits.max_field_chars, suite, where, errors)
        if item is None:
            continue
        batch.append((where, item))
        count += 1
        if len(batch) >= BATCH:
            _flush(session, evaluation["id"], protocol, options, batch, count - len(batch), errors)
            batch = []
    _flush(session, evaluation["id"], protocol, options, batch, count - len(batch), errors)
    if count == 0 and not errors:
        errors.append(FieldError("", "the upload has no items"))
    if errors:
        raise InvalidSubmission(_with_lines(errors[:MAX_REPORTED_ERRORS]), TITLE)
    chunks = chunk_rows(evaluation["id"], count, options, settings)
    repo.add_chunks_and_totals(session, evaluation["id"], chunks, count)
    evaluation.update(total=count, chunks_total=len(chunks))
    location = f"/v1/evaluations/{evaluation['id']}"
    idempotency.complete(session, claim, 202, {"id": evaluation["id"]}, {"Location": location})
    return PreparedEvaluation(evaluation, [], chunks)


def _flush(session: Session, evaluation_id: str, protocol, options: BaseModel, batch: list[tuple[tuple, BaseModel]],
           first_position: int, errors: list[FieldError]) -> None:
    """Insert a batch of valid items; a repeated id (found by the database, so memory stays bounded) is an error."""
    if not batch:
        return
    items = [item for _, item in batch]
    if hasattr(protocol, "validate_items"):
        errors.extend(_at(batch[index][0] + (field,), message)
                      for index, field, message in protocol.validate_items(items, options))
    rows = item_rows(evaluation_id, items, first_position)
    first = repo.add_new_items(session, rows)
    for (where, item), row in zip(batch, rows):
        if item.id in first and first[item.id] != row["position"]:
            errors.append(_at(where + ("id",), f"duplicate item id {item.id!r} (first as item {first[item.id] + 1})"))


def _at(where: tuple, detail: str) -> FieldError:
    return FieldError(pointer(*where) if where else "", detail)


def _with_lines(errors: list[FieldError]) -> list[FieldError]:
    """Each error also names its 1-based line (NDJSON) or record index (AlpacaEval), when it has one."""
    for error in errors:
        parts = (error.get("pointer") or "").split("/")
        if len(parts) > 2 and parts[1] in ("lines", "records") and parts[2].isdigit():
            error["line" if parts[1] == "lines" else "record"] = int(parts[2])
    return errors


def _parameter_error(err: dict[str, Any]) -> FieldError:
    problem = FieldError(None, err["msg"])  # type: ignore[arg-type]  # a query parameter, not the body
    problem["parameter"] = ".".join(str(part) for part in err["loc"]) or "query"
    return problem


def require_queue(dispatcher) -> None:
    """503 before reading anything when the job queue is down."""
    if not dispatcher.ping():
        raise ServiceUnavailable("the job queue (Redis) is unavailable; nothing was stored", retry_after=5)

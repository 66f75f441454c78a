"""Batch uploads: ``POST /v1/evaluations`` with one item per line (NDJSON), or an AlpacaEval / FastChat file.

The body is streamed to a temporary file (hashing it for Idempotency-Key), then read back a
line at a time as records for the submission pipeline (``pipeline.submit``), which validates and
inserts them in batches inside ONE transaction: memory stays bounded whatever the upload's size,
and any bad line rolls everything back (nothing stored).
"""

from __future__ import annotations

import hashlib
import json
import tempfile
from dataclasses import dataclass
from typing import IO, Any, Iterable, Iterator

from fastapi import Request
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator
from starlette.exceptions import HTTPException

from service.config import Settings
from service.core.json_depth import depth_problem
from service.errors import FieldError, InvalidSubmission
from service.evaluations import formats
from service.evaluations.items import Problem, Record, SuiteContext, first_bad_string
from service.core.tags import Tags
from service.evaluations.pipeline import Submission
from service.evaluations.problems import parameter_error, pointer

TITLE = "Invalid upload"
_BOM = b"\xef\xbb\xbf"
JSON_PARAMETERS = ("options", "tags")  # query parameters that hold JSON


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
    tags: Tags = Field(default_factory=dict)
    leaderboard: bool = True

    @field_validator("options", mode="before")
    @classmethod
    def _options_json(cls, value: Any) -> Any:
        if isinstance(value, str):
            try:
                return json.loads(value)
            except ValueError:
                raise ValueError("options must be a JSON object, e.g. options={\"samples\":2}") from None
        return value

    @field_validator("tags", mode="before")
    @classmethod
    def _tags_json(cls, value: Any) -> Any:
        if isinstance(value, str):
            try:
                return json.loads(value)
            except ValueError:
                raise ValueError("tags must be a JSON object of strings, e.g. tags={\"branch\":\"main\"}") from None
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
    unreadable = [error for name, value in params.items() if (error := _parameter_problem(name, value))]
    if unreadable:
        raise InvalidSubmission(unreadable, TITLE)
    try:
        return UploadHeader.model_validate(params)
    except ValidationError as exc:
        raise InvalidSubmission([parameter_error(".".join(str(part) for part in e["loc"]) or "query", e["msg"])
                                 for e in exc.errors(include_url=False)], TITLE) from None


def _parameter_problem(name: str, value: str) -> FieldError | None:
    """A query parameter the database could not store (NUL), or a JSON one nested past the limit."""
    bad = first_bad_string(value, 1 << 62)
    if bad:
        return parameter_error(name, bad[1])
    deep = depth_problem(value) if name in JSON_PARAMETERS else None
    if deep:
        return parameter_error(name, f"{deep[1]}, at {pointer(*deep[0]) if deep[0] else 'the top'}")
    return None


def lines(file: IO[bytes], max_line_bytes: int) -> Iterator[tuple[int, bytes | None]]:
    """(1-based number, line) of each non-blank line; the line is None when it is over the limit.

    A line is read whole up to the limit (a leading byte order mark is not counted), so a line cut
    short is only ever one over the limit, never parsed as if it had ended there.
    """
    number = 0
    while line := file.readline(max_line_bytes + 1 + (len(_BOM) if number == 0 else 0)):
        number += 1
        if number == 1 and line.startswith(_BOM):
            line = line[len(_BOM):]
        if len(line.removesuffix(b"\n")) > max_line_bytes:
            if not line.endswith(b"\n"):
                while (rest := file.readline(1 << 20)) and not rest.endswith(b"\n"):
                    pass  # skip the rest of the long line without holding it
            yield number, None
        elif line.strip():
            yield number, line


def parsed_line(number: int, line: bytes) -> Any:
    """A line's JSON value, or a Problem naming the 1-based column (in characters) where it stops being JSON.

    The line is parsed without its newline, so a line cut short reports the same column with or
    without one (not "line 2 column 1" of a one-line document).
    """
    text = line.rstrip(b"\r\n")
    deep = depth_problem(text)
    if deep:
        return Problem(f"line {number} is {deep[1]}, at {pointer(*deep[0]) if deep[0] else 'the top'} of the line")
    try:
        return json.loads(text)
    except UnicodeDecodeError as exc:
        column = len(text[:exc.start].decode("utf-8", "replace")) + 1
        return Problem(f"line {number} is not valid JSON (not UTF-8: {exc.reason} at column {column})")
    except json.JSONDecodeError as exc:
        return Problem(f"line {number} is not valid JSON ({exc.msg.removesuffix(' at')} at column {exc.colno})")
    except ValueError as exc:
        return Problem(f"line {number} is not valid JSON ({exc})")


def upload_size(file: IO[bytes]) -> int:
    """The spooled file's size (it is read from the start afterwards)."""
    size = file.seek(0, 2)
    file.seek(0)
    return size


def records(header: UploadHeader, file: IO[bytes], settings: Settings,
            suite: SuiteContext | None) -> Iterator[Record]:
    """(pointer parts, raw item or a Problem) per record of the upload, in order."""
    if header.format == "alpacaeval":  # one JSON array, read whole: no larger than a JSON body may be
        if upload_size(file) > settings.limits.max_body_bytes:
            yield (), Problem("an AlpacaEval file is read whole: larger than limit "
                              f"max_body_bytes={settings.limits.max_body_bytes}")
            return
        content = file.read()
        deep = depth_problem(content)
        if deep:
            yield ("records", *deep[0]) if deep[0] else (), Problem(f"the AlpacaEval file is {deep[1]}")
            return
        try:
            data = json.loads(content)
        except (ValueError, UnicodeDecodeError) as exc:
            yield (), Problem(f"the AlpacaEval file is not valid JSON ({exc})")
            return
        yield from _mapped(formats.alpacaeval_items(data, formats.suite_prompts(suite.items if suite else {})))
        return
    for number, line in lines(file, settings.limits.max_line_bytes):
        where = ("lines", number)
        if line is None:
            yield where, Problem(f"line {number} is longer than limit max_line_bytes={settings.limits.max_line_bytes}")
            continue
        raw = parsed_line(number, line)
        if header.format == "fastchat" and not isinstance(raw, Problem):
            yield from _mapped([formats.fastchat_item(raw, where)])
        else:
            yield where, raw


def _mapped(pairs: Iterable[tuple[tuple, Any]]) -> Iterator[Record]:
    """A file format's (pointer parts, item or error message) pairs as records."""
    for where, raw in pairs:
        yield where, Problem(raw) if isinstance(raw, str) else raw


def submission(header: UploadHeader, upload: Spool, settings: Settings) -> Submission:
    """An upload as the submission pipeline takes it: records read from the spooled file, bad fields by parameter."""
    return Submission(header, lambda suite: records(header, upload.file, settings, suite), field_error=parameter_error,
                      format=header.format, title=TITLE)

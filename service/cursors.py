"""Opaque page cursors for keyset pagination: a small JSON object, base64url without padding."""

from __future__ import annotations

import base64
import json
from datetime import datetime
from typing import Any

from service.errors import FieldError, InvalidSubmission


def encode_cursor(fields: dict[str, Any]) -> str:
    """The cursor that carries these fields (where the page ended)."""
    return base64.urlsafe_b64encode(json.dumps(fields).encode()).decode().rstrip("=")


def decode_cursor(cursor: str | None) -> dict[str, Any] | None:
    """The fields of a cursor, None for no cursor; InvalidSubmission (naming /cursor) when it is not one."""
    if not cursor:
        return None
    try:
        fields = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    except (ValueError, TypeError):  # bad base64, bad UTF-8 and bad JSON are all ValueErrors
        raise invalid_cursor() from None
    if not isinstance(fields, dict):
        raise invalid_cursor()
    return fields


def invalid_cursor() -> InvalidSubmission:
    """The error for a cursor whose fields do not fit the page it was sent to."""
    return InvalidSubmission([FieldError("/cursor", "invalid cursor")], title="Invalid cursor")


def encode_time_cursor(created_at: datetime, row_id: str) -> str:
    """The cursor after a row of a newest-first page ordered by (timestamp, id)."""
    return encode_cursor({"t": created_at.isoformat(), "i": row_id})


def decode_time_cursor(cursor: str | None) -> tuple[datetime, str] | None:
    """The (timestamp, id) a newest-first page's cursor points after; None for the first page."""
    fields = decode_cursor(cursor)
    if fields is None:
        return None
    try:
        created_at = datetime.fromisoformat(fields["t"])
    except (ValueError, KeyError, TypeError):
        raise invalid_cursor() from None
    if not isinstance(fields.get("i"), str):
        raise invalid_cursor()
    return created_at, fields["i"]

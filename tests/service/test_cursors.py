"""Opaque page cursors: round trip, and a 422-style error naming /cursor for anything else."""

from __future__ import annotations

import base64

import pytest

from service.cursors import decode_cursor, encode_cursor
from service.errors import InvalidSubmission


@pytest.mark.parametrize("fields", [{"p": 41}, {"b": 0.693, "i": "rev-1"}, {"t": "2026-11-28T01:02:03+00:00", "i": "d"}])
def test_a_cursor_gives_back_its_fields(fields):
    cursor = encode_cursor(fields)
    assert "=" not in cursor and decode_cursor(cursor) == fields


@pytest.mark.parametrize("cursor", [None, ""])
def test_no_cursor_is_the_first_page(cursor):
    assert decode_cursor(cursor) is None


@pytest.mark.parametrize("cursor", [
    "not base64!", base64.urlsafe_b64encode(b"\xff\xfe").decode(), base64.urlsafe_b64encode(b"{oops").decode(),
    base64.urlsafe_b64encode(b"[1, 2]").decode(), base64.urlsafe_b64encode(b"7").decode(),
])
def test_anything_else_is_an_invalid_cursor_naming_the_field(cursor):
    with pytest.raises(InvalidSubmission) as raised:
        decode_cursor(cursor)
    assert raised.value.title == "Invalid cursor" and raised.value.errors == [{"pointer": "/cursor", "detail": "invalid cursor"}]


def test_a_time_cursor_gives_back_its_timestamp_and_id():
    from datetime import datetime, timezone

    from service.cursors import decode_time_cursor, encode_time_cursor

    when = datetime(2026, 11, 28, 1, 2, 3, 456789, tzinfo=timezone.utc)
    cursor = encode_time_cursor(when, "ev-1")
    assert decode_time_cursor(cursor) == (when, "ev-1")
    assert decode_cursor(cursor) == {"t": "2026-11-28T01:02:03.456789+00:00", "i": "ev-1"}  # the deliveries' format
    assert decode_time_cursor(None) is None


@pytest.mark.parametrize("fields", [{"p": 3}, {"t": "yesterday", "i": "x"}, {"t": 5, "i": "x"},
                                    {"t": "2026-11-28T01:02:03+00:00"}, {"t": "2026-11-28T01:02:03+00:00", "i": 7}])
def test_a_time_cursor_with_other_fields_is_invalid(fields):
    from service.cursors import decode_time_cursor

    with pytest.raises(InvalidSubmission) as raised:
        decode_time_cursor(encode_cursor(fields))
    assert raised.value.errors == [{"pointer": "/cursor", "detail": "invalid cursor"}]

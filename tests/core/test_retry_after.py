"""Retry-After header values, table-driven."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from service.core.retry_after import retry_after_seconds

NOW = datetime(2026, 11, 28, 12, 0, 0, tzinfo=timezone.utc)


@pytest.mark.parametrize(("header", "seconds"), [
    (None, None), ("", None), ("soon", None), ("nan", None), ("inf", None), ("-inf", None),
    ("120", 120.0), (" 0 ", 0.0), ("1.5", 1.5), ("-5", 0.0),
    ("Sat, 28 Nov 2026 12:01:30 GMT", 90.0),  # an HTTP date ahead of now
    ("Wed, 21 Oct 2015 07:28:00 GMT", 0.0),  # in the past: no wait
    ("Sat, 28 Nov 2026 12:00:10", 10.0),  # no zone: GMT
    ("Sat, 99 Nov 2026 12:00:10 GMT", None),  # not a date
])
def test_retry_after_seconds(header, seconds):
    assert retry_after_seconds(header, now=NOW) == seconds

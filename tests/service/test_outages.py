"""Which errors are outages (try again later) and which say the work itself is bad."""

from __future__ import annotations

import pytest
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import ResponseError
from sqlalchemy.exc import DataError, IntegrityError, InterfaceError, OperationalError, ProgrammingError

from service.outages import is_transient

CAUSE = Exception("driver error")


@pytest.mark.parametrize(("error", "transient"), [
    (OperationalError("SELECT 1", {}, CAUSE), True),  # server closed the connection, restarting, deadlock
    (InterfaceError("SELECT 1", {}, CAUSE), True),
    (OperationalError("SELECT 1", {}, CAUSE, connection_invalidated=True), True),
    (DataError("SELECT 1", {}, CAUSE, connection_invalidated=True), True),
    (RedisConnectionError("Connection refused"), True),
    (ConnectionRefusedError(111, "refused"), True),
    (TimeoutError("timed out"), True),
    (DataError("INSERT", {}, CAUSE), False),  # the data cannot be stored: trying again gives the same
    (IntegrityError("INSERT", {}, CAUSE), False),
    (ProgrammingError("SELECT", {}, CAUSE), False),
    (ResponseError("WRONGTYPE"), False),
    (ValueError("bad item"), False),
    (KeyError("field"), False),
    (ZeroDivisionError("division by zero"), False),
])
def test_is_transient(error, transient):
    assert is_transient(error) is transient

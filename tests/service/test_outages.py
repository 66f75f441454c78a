"""Which errors are outages (try again later) and which say the work itself is bad."""

from __future__ import annotations

import pytest
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import ResponseError
from redis.exceptions import TimeoutError as RedisTimeoutError
from rq.timeouts import JobTimeoutException
from sqlalchemy.exc import DataError, IntegrityError, InterfaceError, OperationalError, ProgrammingError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError

from service.outages import is_transient
from service.queue import QueueUnavailable

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


def _raised_from(error: Exception, cause: Exception) -> Exception:
    try:
        raise error from cause
    except Exception as raised:
        return raised


def _raised_during(error: Exception, context: Exception) -> Exception:
    try:
        try:
            raise context
        except Exception:
            raise error
    except Exception as raised:
        return raised


@pytest.mark.parametrize(("error", "transient"), [
    (_raised_from(QueueUnavailable("Redis is unavailable"), RedisConnectionError("refused")), True),
    (_raised_during(RuntimeError("while handling"), OperationalError("SELECT 1", {}, CAUSE)), True),
    (_raised_from(RuntimeError("wrapped twice"), _raised_from(ValueError("x"), RedisTimeoutError("t"))), True),
    (_raised_from(RuntimeError("bad item"), ValueError("no plan")), False),
    (PoolTimeoutError("QueuePool limit of size 5 overflow 5 reached"), True),
    (JobTimeoutException("Task exceeded maximum timeout value (3600 seconds)"), True),
])
def test_an_outage_behind_another_error_is_still_an_outage(error, transient):
    assert is_transient(error) is transient


class _DriverError(Exception):
    """What psycopg or sqlite3 raise: an error code on the exception."""

    def __init__(self, sqlstate=None, sqlite_errorname=None):
        super().__init__("driver error")
        self.sqlstate, self.sqlite_errorname = sqlstate, sqlite_errorname


@pytest.mark.parametrize(("orig", "transient"), [
    (_DriverError(sqlstate="08006"), True),  # connection failure
    (_DriverError(sqlstate="57P01"), True),  # admin shutdown (the server is restarting)
    (_DriverError(sqlstate="40P01"), True),  # deadlock detected
    (_DriverError(sqlstate="40001"), True),  # serialization failure
    (_DriverError(sqlstate="53300"), True),  # too many connections
    (_DriverError(sqlstate="55P03"), True),  # lock not available
    (_DriverError(sqlstate="42703"), False),  # undefined column: a schema the code does not match
    (_DriverError(sqlstate="54000"), False),  # program limit exceeded (e.g. an index row too big)
    (_DriverError(sqlite_errorname="SQLITE_BUSY"), True),
    (_DriverError(sqlite_errorname="SQLITE_LOCKED"), True),
    (_DriverError(sqlite_errorname="SQLITE_ERROR"), False),  # "no such column"
    (_DriverError(), True),  # no code at all: the connection could not be made
])
def test_a_database_error_is_an_outage_by_its_code(orig, transient):
    assert is_transient(OperationalError("SELECT 1", {}, orig)) is transient

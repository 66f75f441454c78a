"""Errors that say a backing service (Postgres, Redis, a judge server) is briefly out, not that the work is bad."""

from __future__ import annotations

from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError
from rq.timeouts import BaseTimeoutException
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError

TRANSIENT = (PoolTimeoutError, RedisConnectionError, RedisTimeoutError, ConnectionError, TimeoutError,
             BaseTimeoutException)  # the job ran out of time: RQ runs it again, and what it stored stays
# Postgres SQLSTATE classes of an outage: connection, transaction rollback (deadlock, serialization),
# insufficient resources, operator intervention (shutdown, cancel), system error; and a lock not available
OUTAGE_SQLSTATE_CLASSES = frozenset({"08", "40", "53", "57", "58"})
OUTAGE_SQLSTATES = frozenset({"55P03", "55006"})
OUTAGE_SQLITE_ERRORS = frozenset({"SQLITE_BUSY", "SQLITE_LOCKED", "SQLITE_IOERR", "SQLITE_FULL"})


def is_transient(exc: BaseException) -> bool:
    """True for an outage (lost connection, server restarting, deadlock, pool exhausted, job timeout), also when
    it is the cause of the error raised (e.g. the queue's QueueUnavailable from a Redis error): try again later."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, TRANSIENT) or (isinstance(current, DBAPIError) and _database_outage(current)):
            return True
        current = current.__cause__ or current.__context__
    return False


def _database_outage(exc: DBAPIError) -> bool:
    """By the driver's error code when it gives one: an undefined column is an OperationalError on SQLite too."""
    if exc.connection_invalidated:
        return True
    sqlstate = getattr(exc.orig, "sqlstate", None)
    if sqlstate:
        return sqlstate[:2] in OUTAGE_SQLSTATE_CLASSES or sqlstate in OUTAGE_SQLSTATES
    sqlite_error = getattr(exc.orig, "sqlite_errorname", None)
    if sqlite_error:
        return sqlite_error in OUTAGE_SQLITE_ERRORS
    return isinstance(exc, (OperationalError, InterfaceError))  # no code: e.g. the connection was refused

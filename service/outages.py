"""Errors that say a backing service (Postgres, Redis, a judge server) is briefly out, not that the work is bad."""

from __future__ import annotations

from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError
from rq.timeouts import BaseTimeoutException
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError

TRANSIENT = (OperationalError, InterfaceError, PoolTimeoutError, RedisConnectionError, RedisTimeoutError,
             ConnectionError, TimeoutError,
             BaseTimeoutException)  # the job ran out of time: RQ runs it again, and what it stored stays


def is_transient(exc: BaseException) -> bool:
    """True for an outage (lost connection, server restarting, deadlock, pool exhausted, job timeout), also when
    it is the cause of the error raised (e.g. the queue's QueueUnavailable from a Redis error): try again later."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, TRANSIENT) or (isinstance(current, DBAPIError) and current.connection_invalidated):
            return True
        current = current.__cause__ or current.__context__
    return False

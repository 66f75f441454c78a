"""One clock for times that different hosts write and compare: the database server's."""

from __future__ import annotations

from datetime import datetime, timezone

from sqlalchemy import ColumnElement, func, select
from sqlalchemy.orm import Session


def database_now(session: Session) -> datetime:
    """The database server's time (UTC, aware); this process's own on SQLite, where every writer is local.

    Heartbeats are written by workers on other hosts and judged by the gateway: reading both off the
    server's clock keeps a worker whose clock runs ahead from passing for alive after it died.
    """
    if session.get_bind().dialect.name != "postgresql":
        return datetime.now(timezone.utc)
    return session.scalar(select(func.clock_timestamp())).astimezone(timezone.utc)


def database_clock(session: Session) -> ColumnElement[datetime] | datetime:
    """The same clock as ``database_now``, as an SQL expression on Postgres (no extra statement in a query)."""
    if session.get_bind().dialect.name != "postgresql":
        return datetime.now(timezone.utc)
    return func.clock_timestamp()

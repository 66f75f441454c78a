"""The shared timestamp column type: written in UTC, read back aware and in UTC, on SQLite and Postgres."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import Column, Integer, MetaData, Table, create_engine, insert, select, text

from service.db.engine import get_engine
from service.models.base import Timestamp

KOLKATA = timezone(timedelta(hours=5, minutes=30))
MOMENT = datetime(2026, 11, 28, 12, 0, 0, 123456, tzinfo=timezone.utc)


def times_table() -> Table:
    return Table("times", MetaData(), Column("id", Integer, primary_key=True), Column("at", Timestamp))


@pytest.fixture(params=["sqlite", "postgres"])
def engine(request, tmp_path):
    if request.param == "sqlite":
        yield create_engine(f"sqlite:///{tmp_path / 'times.db'}")
        return
    engine = get_engine(request.getfixturevalue("pg_url"))
    with engine.begin() as conn:
        conn.execute(text("DROP TABLE IF EXISTS times"))
    yield engine
    with engine.begin() as conn:
        conn.execute(text("DROP TABLE IF EXISTS times"))


@pytest.mark.parametrize("written", [MOMENT, MOMENT.astimezone(KOLKATA), MOMENT.replace(tzinfo=None), None],
                         ids=["utc", "utc+05:30", "naive (taken as utc)", "null"])
def test_a_timestamp_reads_back_aware_in_utc(engine, written):
    table = times_table()
    table.metadata.create_all(engine)
    with engine.begin() as conn:
        conn.execute(insert(table).values(id=1, at=written))
        read = conn.scalar(select(table.c.at))
    if written is None:
        assert read is None
        return
    assert read == MOMENT and read.utcoffset() == timedelta(0)
    assert read.isoformat() == "2026-11-28T12:00:00.123456+00:00"


def test_sqlite_stores_the_utc_wall_clock(tmp_path):
    engine = create_engine(f"sqlite:///{tmp_path / 'times.db'}")
    table = times_table()
    table.metadata.create_all(engine)
    with engine.begin() as conn:
        conn.execute(insert(table).values(id=1, at=MOMENT.astimezone(KOLKATA)))
        assert conn.scalar(text("SELECT at FROM times")) == "2026-11-28 12:00:00.123456"
        # comparisons in SQL bind through the type too
        assert conn.scalar(select(table.c.id).where(table.c.at < MOMENT.astimezone(KOLKATA) + timedelta(seconds=1)))


def test_interval_arithmetic_in_sql_keeps_working(pg_url):
    """A timedelta next to the column is an interval, not a timestamp to convert (e.g. ``created_at - STALE``)."""
    engine = get_engine(pg_url)
    table = times_table()
    try:
        table.metadata.create_all(engine)
        with engine.begin() as conn:
            conn.execute(insert(table).values(id=1, at=MOMENT))
            conn.execute(table.update().values(at=table.c.at - timedelta(minutes=5)))
            assert conn.scalar(select(table.c.at)) == MOMENT - timedelta(minutes=5)
            assert conn.scalar(select(table.c.id).where(table.c.at + timedelta(minutes=5) == MOMENT)) == 1
    finally:
        table.metadata.drop_all(engine)

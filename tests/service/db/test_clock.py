"""Heartbeat times are written and judged on the database server's clock, not on each host's."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from sqlalchemy import select

from service.db.clock import database_now
from service.db.engine import session_scope
from service.judges import heartbeats
from service.models import WorkerHeartbeat


class _ClockAnHourAhead(datetime):
    """What ``datetime`` looks like on a host whose clock runs an hour fast."""

    @classmethod
    def now(cls, tz=None):
        return datetime.now(tz) + timedelta(hours=1)


def test_database_now_is_the_servers_time_in_utc(clean_pg):
    with session_scope(clean_pg) as session:
        first, second = database_now(session), database_now(session)
    assert first.tzinfo is not None and first.utcoffset() == timedelta(0)
    assert first <= second  # the clock moves within a transaction (clock_timestamp, not now())
    assert abs(first - datetime.now(timezone.utc)) < timedelta(minutes=1)  # the server runs on this machine


def test_a_heartbeat_does_not_take_the_workers_clock(clean_pg, monkeypatch):
    monkeypatch.setattr(heartbeats, "datetime", _ClockAnHourAhead)
    with session_scope(clean_pg) as session:
        heartbeats.beat(session, "w-fast-clock", ["j"], "host", 1)
    with session_scope(clean_pg) as session:
        seen = session.scalar(select(WorkerHeartbeat.last_seen).where(WorkerHeartbeat.worker_id == "w-fast-clock"))
        assert abs(seen - database_now(session)) < timedelta(minutes=1)
        assert heartbeats.live_workers(session, ttl_seconds=30) == {"j": 1}


def test_sqlite_uses_this_processs_clock(tmp_path):
    with session_scope(f"sqlite:///{tmp_path}/c.db") as session:
        moment = database_now(session)
    assert abs(moment - datetime.now(timezone.utc)) < timedelta(seconds=5)


def test_database_clock_compares_in_sql_on_postgres_and_in_python_on_sqlite(clean_pg, tmp_path):
    from sqlalchemy import literal

    from service.db.clock import database_clock

    with session_scope(clean_pg) as session:
        an_hour_ago = datetime.now(timezone.utc) - timedelta(hours=1)
        assert session.scalar(select(literal(an_hour_ago) < database_clock(session) - timedelta(minutes=1)))
        assert not session.scalar(select(literal(an_hour_ago) < database_clock(session) - timedelta(hours=2)))
    with session_scope(f"sqlite:///{tmp_path}/c.db") as session:
        assert isinstance(database_clock(session), datetime)

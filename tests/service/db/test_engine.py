"""The engine's pool is sized from settings, and the readiness check needs no pooled connection; real Postgres."""

from __future__ import annotations

from contextlib import ExitStack

import pytest
from sqlalchemy.exc import TimeoutError as PoolTimeout

from service.config import ConcurrencySettings
from service.db.engine import check_database, dispose_all, get_engine, session_scope

SMALL = ConcurrencySettings(max_in_flight=1, threads=1, db_pool_size=1, db_max_overflow=3,
                            db_pool_timeout_seconds=0.1, redis_max_connections=4)


@pytest.fixture
def fresh_engines():
    dispose_all()
    yield
    dispose_all()


def test_the_pool_is_sized_by_settings_and_resized_when_they_change(pg_url, fresh_engines):
    default = get_engine(pg_url)
    pools = ConcurrencySettings()
    assert (default.pool.size(), default.pool._max_overflow, default.pool._timeout) == (
        pools.db_pool_size, pools.db_max_overflow, pools.db_pool_timeout_seconds)
    assert get_engine(pg_url, ConcurrencySettings()) is default  # same sizes: the same engine
    small = get_engine(pg_url, SMALL)
    assert small is not default and (small.pool.size(), small.pool._max_overflow) == (1, 3)
    assert get_engine(pg_url) is small  # without settings: whatever the process configured


def test_a_full_pool_times_out_fast_and_the_readiness_check_still_connects(pg_url, fresh_engines):
    engine = get_engine(pg_url, SMALL)
    with ExitStack() as held:
        for _ in range(4):
            held.enter_context(engine.connect())
        with pytest.raises(PoolTimeout):
            with session_scope(pg_url) as session:
                session.connection()
        check_database(pg_url, 2.0)  # a connection of its own, outside the pool


def test_the_readiness_check_fails_for_an_unreachable_database(fresh_engines):
    with pytest.raises(Exception):
        check_database("postgresql://postgres@127.0.0.1:1/nowhere", 1.0)

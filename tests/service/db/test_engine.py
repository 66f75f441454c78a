"""The engine's pool is sized from settings, the readiness check needs no pooled connection, and a job session
commits each statement by itself on Postgres (and is a session_scope elsewhere); real Postgres."""

from __future__ import annotations

import uuid
from contextlib import ExitStack

import psycopg
import pytest
from sqlalchemy import insert, select
from sqlalchemy.exc import TimeoutError as PoolTimeout

from service.config import ConcurrencySettings
from service.db.engine import check_database, dispose_all, get_engine, job_session, session_scope
from service.db.migrate import upgrade
from service.models.project import Project

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


class Boom(Exception):
    """Raised inside a session's block."""


def add_project(session, name: str) -> None:
    """Write one row (a project named ``name``)."""
    session.execute(insert(Project), [{"id": str(uuid.uuid4()), "name": name}])


def project_names(url: str) -> set[str]:
    """The stored projects' names, read in a session of their own."""
    with session_scope(url) as session:
        return set(session.scalars(select(Project.name)))


def committed_on_postgres(url: str) -> set[str]:
    """The projects' names another connection (outside the pool) sees."""
    with psycopg.connect(url, autocommit=True) as connection:
        return {name for (name,) in connection.execute("SELECT name FROM projects")}


def test_a_job_session_on_postgres_commits_every_statement_by_itself(clean_pg, fresh_engines):
    with job_session(clean_pg) as session:
        add_project(session, "first")
        assert committed_on_postgres(clean_pg) == {"first"}  # before the block ends
        add_project(session, "second")
        assert committed_on_postgres(clean_pg) == {"first", "second"}
    with pytest.raises(Boom):
        with job_session(clean_pg) as session:
            add_project(session, "before the error")
            raise Boom
    assert project_names(clean_pg) == {"first", "second", "before the error"}  # kept, not rolled back


def test_a_job_sessions_connection_goes_back_to_the_pool_out_of_autocommit(clean_pg, fresh_engines):
    get_engine(clean_pg, SMALL)  # one pooled connection: a session that waits for none gets it again
    with pytest.raises(Boom):
        with job_session(clean_pg) as session:
            used = session.connection().connection.dbapi_connection
            add_project(session, "kept")
            raise Boom
    with pytest.raises(Boom):
        with session_scope(clean_pg) as session:
            assert session.connection().connection.dbapi_connection is used  # the pool's one connection again
            add_project(session, "rolled back")
            assert committed_on_postgres(clean_pg) == {"kept"}  # not committed by itself
            raise Boom
    assert project_names(clean_pg) == {"kept"}
    with session_scope(clean_pg) as session:
        add_project(session, "committed at the end")
    assert committed_on_postgres(clean_pg) == {"kept", "committed at the end"}


def test_a_job_session_elsewhere_commits_at_the_end_and_rolls_back_on_an_error(tmp_path, fresh_engines):
    url = f"sqlite:///{tmp_path / 'jobs.db'}"
    upgrade(url)
    migrated = project_names(url)  # the migrations' default project
    with job_session(url) as session:
        add_project(session, "committed")
        assert project_names(url) == migrated  # not yet: one transaction, as in session_scope
    assert project_names(url) == migrated | {"committed"}
    with pytest.raises(Boom):
        with job_session(url) as session:
            add_project(session, "rolled back")
            raise Boom
    assert project_names(url) == migrated | {"committed"}

"""A job's statement in a background thread (Postgres) or inline (SQLite), its result or error via the future."""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import text

from service.db.engine import session_scope
from workers.jobs.overlap import in_background


def statement(session, value):
    """What a repository function does: a statement on the session; returns the thread it ran in too."""
    if value == "boom":
        session.execute(text("SELECT * FROM no_such_table"))
    return session.execute(text("SELECT :v"), {"v": value}).scalar_one(), threading.current_thread().name


@pytest.fixture(params=["postgres", "sqlite"])
def url(request, pg_url, tmp_path):
    if request.param == "postgres":
        return pg_url
    from service.db.migrate import upgrade

    sqlite_url = f"sqlite:///{tmp_path}/overlap.db"
    upgrade(sqlite_url)
    return sqlite_url


def test_the_statement_runs_in_a_thread_on_postgres_and_inline_on_sqlite_within_the_jobs_transaction(url):
    with session_scope(url) as session:
        session.execute(text("CREATE TEMP TABLE seen (v text)"))  # the job's own transaction and connection
        session.execute(text("INSERT INTO seen VALUES ('mine')"))
        value, thread = in_background(session, statement, "x").result()
        assert session.execute(text("SELECT v FROM seen")).scalar_one() == "mine"
    assert value == "x"
    assert (thread == threading.current_thread().name) == url.startswith("sqlite")


def test_an_error_of_the_statement_is_raised_by_result(url):
    with pytest.raises(Exception, match="no_such_table"):
        with session_scope(url) as session:
            in_background(session, statement, "boom").result()

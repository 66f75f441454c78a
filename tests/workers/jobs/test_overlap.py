"""A job's statement in a background thread (Postgres) or inline (SQLite), in the job's own transaction; its
result or error via the future, and never a wait that leaves while the thread still holds the session."""

from __future__ import annotations

import signal
import threading
import time

import pytest
from sqlalchemy import text

from service.db.engine import session_scope
from workers.jobs.overlap import in_background, outcome


def statement(session, value):
    """What a repository function does: a statement on the session; also what the job's transaction holds."""
    if value == "boom":
        session.execute(text("SELECT * FROM no_such_table"))
    seen = session.execute(text("SELECT v FROM seen")).scalar_one()  # the job's uncommitted row, on its connection
    return value, seen, threading.current_thread().name


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
        session.execute(text("CREATE TEMP TABLE seen (v text)"))
        session.execute(text("INSERT INTO seen VALUES ('mine')"))
        value, seen, thread = outcome(in_background(session, statement, "x"))
    assert (value, seen) == ("x", "mine")
    assert (thread == threading.current_thread().name) == url.startswith("sqlite")


def test_an_error_of_the_statement_is_raised_by_outcome(url):
    with pytest.raises(Exception, match="no_such_table"):
        with session_scope(url) as session:
            outcome(in_background(session, statement, "boom"))


class Interrupted(Exception):
    """Stands in for RQ's job timeout, which SIGALRM raises in the job's thread."""


def test_an_interrupted_wait_leaves_only_once_the_thread_is_done_with_the_session(pg_url):
    def interrupt(signum, frame):
        raise Interrupted("job timeout")

    left = {}
    previous = signal.signal(signal.SIGALRM, interrupt)
    try:
        with pytest.raises(Interrupted):
            with session_scope(pg_url) as session:
                writing = in_background(session, lambda s: s.execute(text("SELECT pg_sleep(0.6)")))
                started = time.monotonic()
                signal.setitimer(signal.ITIMER_REAL, 0.1)
                try:
                    outcome(writing)
                except Interrupted:  # before the session's rollback: the thread must be done by now
                    left.update(after=time.monotonic() - started, done=writing.done())
                    raise
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
    assert left["done"] and left["after"] >= 0.55

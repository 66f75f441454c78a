"""Run one database statement of a job in a thread while the job's own thread computes.

A chunk's judgments statement keeps the Postgres server busy for several milliseconds, during
which the job can already combine the chunk's verdicts: Postgres runs in its own process, and
psycopg releases the GIL while it waits. Only the background thread touches the session until
``result()`` returns, so the session is never used by two threads at once. SQLite runs in this
process (nothing to overlap, and its connections belong to one thread): the call runs inline.
"""

from __future__ import annotations

from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, Callable

from sqlalchemy.orm import Session

# a few at most at once: one per chunk job in flight in this process
_EXECUTOR = ThreadPoolExecutor(max_workers=4, thread_name_prefix="judgeserve-db")


def in_background(session: Session, statement: Callable[..., Any], *args: Any) -> Future:
    """``statement(session, *args)`` in a thread (Postgres) or now (SQLite); its result or error via the future.

    The caller must call ``result()`` before it uses the session again, whatever happens meanwhile.
    """
    if session.get_bind().dialect.name == "postgresql":
        session.connection()  # begin here, in the job's thread: the thread only runs the statement
        return _EXECUTOR.submit(statement, session, *args)
    done: Future = Future()
    try:
        done.set_result(statement(session, *args))
    except Exception as exc:
        done.set_exception(exc)
    return done

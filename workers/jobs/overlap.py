"""Run one database statement of a job in a thread while the job's own thread computes.

A chunk's judgments statement keeps the Postgres server busy for several milliseconds, during
which the job can already combine the chunk's verdicts: Postgres runs in its own process, and
psycopg releases the GIL while it waits. Only the background thread touches the session until
``outcome`` returns, so the session is never used by two threads at once; ``settle`` waits for
the thread whatever interrupts the wait (RQ's job timeout is raised in the job's thread), so a
rollback never runs beside the statement. SQLite runs in this process, with no server to wait
for: there the call runs inline.
"""

from __future__ import annotations

from concurrent.futures import Future, ThreadPoolExecutor, wait
from typing import Any, Callable

from sqlalchemy.orm import Session

# one per chunk job in flight in this process (Settings.worker_chunks_in_flight allows up to 8)
_EXECUTOR = ThreadPoolExecutor(max_workers=8, thread_name_prefix="judgeserve-db")


def in_background(session: Session, statement: Callable[..., Any], *args: Any) -> Future:
    """``statement(session, *args)`` in a thread (Postgres) or now (SQLite); its result or error via the future.

    The caller must ``settle`` (or take the ``outcome`` of) the future before it uses the session again,
    whatever happens meanwhile.
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


def settle(future: Future) -> BaseException | None:
    """Wait until the statement is done, whatever interrupts the wait; returns the first interruption (not raised)."""
    interrupted = None
    while not future.done():
        try:
            wait([future])
        except BaseException as exc:  # a job timeout or a shutdown: the thread still holds the session
            interrupted = interrupted or exc
    return interrupted


def outcome(future: Future) -> Any:
    """The statement's result (or its error raised), once it is done; an interruption of the wait is raised after."""
    interrupted = settle(future)
    if interrupted is not None:
        raise interrupted
    return future.result()

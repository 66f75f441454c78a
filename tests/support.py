"""Helpers for tests that run real worker processes."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from contextlib import contextmanager
from pathlib import Path

from service.config import Settings

REPO = Path(__file__).resolve().parents[1]


def settings_env(settings: Settings) -> dict[str, str]:
    """Environment variables that reproduce ``settings`` in a child process."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("JUDGESERVE_")}
    values = {
        "DATABASE_URL": settings.database_url, "REDIS_URL": settings.redis_url,
        "JUDGES_FILE": settings.judges_file, "DATA_DIR": settings.data_dir,
        "QUEUE_PREFIX": settings.queue_prefix, "HEARTBEAT_SECONDS": settings.heartbeat_seconds,
        "MODEL_CACHE_DIR": settings.model_cache_dir, "CHUNK_SIZE": settings.chunk_size,
        "EMBEDDING_MODEL": settings.embedding_model,
    }
    env.update({f"JUDGESERVE_{k}": str(v) for k, v in values.items() if v is not None})
    return env


def run_worker(settings: Settings, judge: str, timeout: float = 600, burst: bool = True) -> subprocess.CompletedProcess:
    """Run ``python -m workers --judge NAME --burst`` as a real process until the queue is empty."""
    args = [sys.executable, "-m", "workers", "--judge", judge] + (["--burst"] if burst else [])
    return subprocess.run(args, env=settings_env(settings), cwd=REPO, capture_output=True, text=True, timeout=timeout)


def wait_for(predicate, timeout: float = 30.0, interval: float = 0.1):
    """Poll ``predicate`` until it returns a truthy value; fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"condition not met within {timeout} s")


def api_key(settings: Settings, project: str = "test") -> str:
    """A new API key for ``project`` (created when new), straight in the database."""
    from service.db.engine import session_scope
    from service.projects.service import create_key

    with session_scope(settings.effective_database_url()) as session:
        return create_key(session, project).key


def authed(client, settings: Settings, project: str = "test"):
    """The (started) test client, sending a new key of ``project`` with every request."""
    client.headers["Authorization"] = f"Bearer {api_key(settings, project)}"
    return client


@contextmanager
def api_client(settings: Settings, project: str = "test"):
    """A started TestClient of the gateway for ``settings``, authenticated as ``project``."""
    from fastapi.testclient import TestClient

    from service.api.app import create_app

    with TestClient(create_app(settings)) as client:
        yield authed(client, settings, project)


def project_id(settings: Settings, name: str = "test") -> str:
    """The id of project ``name`` (created when new)."""
    from service.db.engine import session_scope
    from service.projects import repository

    with session_scope(settings.effective_database_url()) as session:
        project = repository.get_project_by_name(session, name) or repository.add_project(session, name)
        return project.id


def query_plan(url: str, run, explain: str = "EXPLAIN") -> str:
    """The database's plan (``explain`` + the statement) of the last statement ``run(session)`` executes."""
    from sqlalchemy import event

    from service.db.engine import get_engine, session_scope

    captured = []
    engine = get_engine(url)
    caller = threading.get_ident()

    def capture(conn, cursor, statement, parameters, context, executemany):
        if threading.get_ident() == caller:  # not a gateway's background thread on the same engine
            captured.append((statement, parameters))

    event.listen(engine, "before_cursor_execute", capture)
    try:
        with session_scope(url) as session:
            run(session)
    finally:
        event.remove(engine, "before_cursor_execute", capture)
    statement, parameters = captured[-1]
    with engine.begin() as connection:
        if engine.dialect.name == "postgresql":  # a test table is tiny: ask which index would serve a big one
            connection.exec_driver_sql("SET LOCAL enable_seqscan = off")
        rows = connection.exec_driver_sql(f"{explain} {statement}", parameters).all()
    return "\n".join(str(row[-1]) for row in rows)

"""One SQLAlchemy engine per process, and sessions committed at the request or job edge."""

from __future__ import annotations

import threading
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.pool import NullPool

from service.config import ConcurrencySettings
from service.db import json_codec

_lock = threading.Lock()
_engines: dict[str, Engine] = {}
_sizes: dict[str, tuple] = {}
_sessionmakers: dict[str, sessionmaker[Session]] = {}
_probe_engines: dict[str, Engine] = {}


def normalise_url(url: str) -> str:
    """Use the psycopg 3 driver for plain postgres URLs."""
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix):]
    return url


def get_engine(url: str, concurrency: ConcurrencySettings | None = None) -> Engine:
    """The process's engine for ``url``, created on first use (pool sized by ``concurrency``, else the defaults).

    Given ``concurrency`` that sizes the pool differently from the engine's, the engine is replaced (the
    gateway sizes it at start-up; connections checked out of the old one close when they come back).
    """
    url = normalise_url(url)
    size = _pool_size(concurrency or ConcurrencySettings())
    with _lock:
        if url in _engines and concurrency is not None and _sizes[url] != size:
            _engines.pop(url).dispose()
        if url not in _engines:
            _engines[url] = _create(url, size)
            _sizes[url] = size
            _sessionmakers[url] = sessionmaker(_engines[url], expire_on_commit=False)
        return _engines[url]


def _pool_size(concurrency: ConcurrencySettings) -> tuple[int, int, float]:
    return concurrency.db_pool_size, concurrency.db_max_overflow, concurrency.db_pool_timeout_seconds


def check_database(url: str, timeout_seconds: float) -> None:
    """Raise unless the database answers ``SELECT 1`` on a connection of its own (outside the pool).

    Readiness probes use it: a gateway whose pool is busy with requests is still ready.
    """
    url = normalise_url(url)
    with _lock:
        if url not in _probe_engines:
            connect_args = ({"timeout": timeout_seconds, "check_same_thread": False} if url.startswith("sqlite")
                            else {"connect_timeout": max(1, round(timeout_seconds))})
            _probe_engines[url] = create_engine(url, poolclass=NullPool, connect_args=connect_args)
        engine = _probe_engines[url]
    with engine.connect() as connection:
        connection.execute(text("SELECT 1"))


def ensure_sqlite_dir(url: str) -> None:
    """Create the folder of a SQLite database file if needed."""
    if url.startswith("sqlite"):
        path = url.split("///", 1)[-1]
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)


# JSON columns are written and read with msgspec (see service.db.json_codec)
_JSON = {"json_serializer": json_codec.dumps, "json_deserializer": json_codec.loads}


def _create(url: str, size: tuple[int, int, float]) -> Engine:
    pool_size, max_overflow, timeout = size
    pool = {"pool_size": pool_size, "max_overflow": max_overflow, "pool_timeout": timeout}
    if url.startswith("sqlite"):
        ensure_sqlite_dir(url)
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30}, **pool, **_JSON)
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    return create_engine(url, pool_pre_ping=True, **pool, **_JSON)


def _sqlite_pragmas(dbapi_connection, _record) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


@contextmanager
def session_scope(url: str) -> Iterator[Session]:
    """A session that commits on success and rolls back on error."""
    get_engine(url)
    session = _sessionmakers[normalise_url(url)]()
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


@contextmanager
def job_session(url: str) -> Iterator[Session]:
    """A session for statements that are each atomic on their own: on Postgres every statement commits by itself
    (no BEGIN and COMMIT round trips; what it changed is committed even if a later one fails), elsewhere
    ``session_scope``."""
    engine = get_engine(url)
    if engine.dialect.name != "postgresql":
        with session_scope(url) as session:
            yield session
        return
    # the same pool; a connection is taken at the first statement (none for a block that runs none)
    session = Session(bind=engine.execution_options(isolation_level="AUTOCOMMIT"))
    try:
        yield session
    finally:
        session.close()


def dispose_all() -> None:
    """Dispose every engine (for shutdown and tests)."""
    with _lock:
        for engine in (*_engines.values(), *_probe_engines.values()):
            engine.dispose()
        _engines.clear()
        _sizes.clear()
        _sessionmakers.clear()
        _probe_engines.clear()

"""Shared fixtures: the real Postgres and Redis on this machine, migrated by Alembic."""

from __future__ import annotations

import os
from pathlib import Path

import psycopg
import pytest
import redis
import yaml
from sqlalchemy import text

from service.config import Settings
from service.db.engine import get_engine
from service.db.migrate import upgrade
from service.models import Base

PG_ADMIN_URL = os.environ.get("JUDGESERVE_TEST_PG_ADMIN_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
PG_DB = os.environ.get("JUDGESERVE_TEST_PG_DB", "judgeserve_test")
PG_URL = PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{PG_DB}"
REDIS_URL = os.environ.get("JUDGESERVE_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")

SCRIPTED_JUDGES = [
    {"name": "scripted", "backend": "scripted", "model": "scripted-longer", "engine": {"policy": "longer"}},
    {"name": "scripted-first", "backend": "scripted", "model": "scripted-first",
     "engine": {"policy": "first", "first_bias": 0.9}},
    {"name": "scripted-flaky", "backend": "scripted", "model": "scripted-flaky",
     "engine": {"policy": "longer", "fail_marker": "FAIL-ME"}},
    {"name": "scripted-slow", "backend": "scripted", "model": "scripted-slow",
     "engine": {"policy": "longer", "delay_ms": 500}},
    {"name": "unserved", "backend": "scripted", "model": "nobody-runs-me"},
]


@pytest.fixture(scope="session")
def pg_url() -> str:
    """A migrated Postgres database for the test session (schema from Alembic only)."""
    try:
        with psycopg.connect(PG_ADMIN_URL, autocommit=True, connect_timeout=5) as conn:
            exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (PG_DB,)).fetchone()
            if exists:
                conn.execute(f'DROP DATABASE "{PG_DB}" WITH (FORCE)')
            conn.execute(f'CREATE DATABASE "{PG_DB}"')
    except psycopg.OperationalError as exc:
        pytest.fail(f"Postgres is not reachable at {PG_ADMIN_URL} ({exc}); run scripts/ensure-services.sh "
                    "or `docker compose up -d postgres redis`")
    upgrade(PG_URL)
    return PG_URL


@pytest.fixture
def clean_pg(pg_url: str) -> str:
    """The test database with every table emptied."""
    with get_engine(pg_url).begin() as conn:
        tables = ", ".join(Base.metadata.tables)
        conn.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
    return pg_url


@pytest.fixture
def clean_redis() -> str:
    """The test Redis database, flushed."""
    client = redis.Redis.from_url(REDIS_URL)
    try:
        client.flushdb()
    except redis.exceptions.ConnectionError as exc:
        pytest.fail(f"Redis is not reachable at {REDIS_URL} ({exc}); run scripts/ensure-services.sh")
    return REDIS_URL


@pytest.fixture
def judges_file(tmp_path: Path) -> Path:
    """A judges file with scripted judges of known behaviour."""
    path = tmp_path / "judges.yaml"
    path.write_text(yaml.safe_dump(SCRIPTED_JUDGES), encoding="utf-8")
    return path


@pytest.fixture
def prod_settings(clean_pg: str, clean_redis: str, judges_file: Path, tmp_path: Path) -> Settings:
    """Production-mode settings on the real Postgres and Redis."""
    return Settings(database_url=clean_pg, redis_url=clean_redis, judges_file=judges_file,
                    data_dir=tmp_path / "data", queue_prefix=f"jstest{os.getpid()}", heartbeat_seconds=0.5)

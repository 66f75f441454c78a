"""Conflict-safe bulk inserts for Postgres and SQLite (one statement per batch)."""

from __future__ import annotations

from typing import Any, Sequence

from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session


def _insert_for(session: Session, model: type):
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        return postgresql.insert(model)
    if dialect == "sqlite":
        return sqlite.insert(model)
    raise RuntimeError(f"unsupported database dialect {dialect!r}")


def insert_ignoring_conflicts(session: Session, model: type, rows: Sequence[dict[str, Any]], keys: Sequence[str]) -> None:
    """Insert rows; rows whose ``keys`` already exist are left as they are."""
    if rows:
        statement = _insert_for(session, model).on_conflict_do_nothing(index_elements=list(keys))
        session.execute(statement, list(rows))


def insert_ignoring_conflicts_returning(session: Session, model: type, keys: Sequence[str], returning: Any):
    """An INSERT statement (execute it with rows) that skips rows whose ``keys`` exist and returns ``returning``."""
    return _insert_for(session, model).on_conflict_do_nothing(index_elements=list(keys)).returning(returning)


def upsert(
    session: Session, model: type, rows: Sequence[dict[str, Any]], keys: Sequence[str], update: Sequence[str],
    where: Any = None,
) -> None:
    """Insert rows, or update the ``update`` columns of existing rows (only those matching ``where``)."""
    if rows:
        statement = _insert_for(session, model)
        statement = statement.on_conflict_do_update(
            index_elements=list(keys), set_={col: statement.excluded[col] for col in update}, where=where
        )
        session.execute(statement, list(rows))

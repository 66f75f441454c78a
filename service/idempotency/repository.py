"""All database queries about idempotency keys."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from service.models import IdempotencyRecord


def claim(session: Session, row: dict[str, Any]) -> bool:
    """Insert an in-progress record; False when the (project, key) exists already (one statement)."""
    dialect = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
    statement = (dialect.insert(IdempotencyRecord).values(**row)
                 .on_conflict_do_nothing(index_elements=["project_id", "key"]).returning(IdempotencyRecord.key))
    return session.execute(statement).first() is not None


def get(session: Session, project_id: str, key: str) -> IdempotencyRecord | None:
    """The record of a key, freshly read."""
    query = select(IdempotencyRecord).where(IdempotencyRecord.project_id == project_id, IdempotencyRecord.key == key)
    return session.scalars(query.execution_options(populate_existing=True)).first()


def complete(session: Session, project_id: str, key: str, status: int, body: dict, headers: dict) -> None:
    """Mark a record done with the response to replay."""
    session.execute(update(IdempotencyRecord)
                    .where(IdempotencyRecord.project_id == project_id, IdempotencyRecord.key == key)
                    .values(status="done", response_status=status, response_body=body, response_headers=headers))


def forget(session: Session, project_id: str, key: str) -> None:
    """Drop a record (its request failed, or it expired)."""
    session.execute(delete(IdempotencyRecord).where(IdempotencyRecord.project_id == project_id,
                                                    IdempotencyRecord.key == key))


def purge_expired(session: Session, now: datetime) -> int:
    """Delete expired records; how many."""
    return session.execute(delete(IdempotencyRecord).where(IdempotencyRecord.expires_at < now)).rowcount

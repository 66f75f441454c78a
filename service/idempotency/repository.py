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


def complete(session: Session, project_id: str, key: str, owner: str, status: int, body: dict,
             headers: dict) -> bool:
    """Mark the record ``owner`` holds done with the response to replay; False if it holds none."""
    result = session.execute(update(IdempotencyRecord)
                             .where(IdempotencyRecord.project_id == project_id, IdempotencyRecord.key == key,
                                    IdempotencyRecord.owner == owner, IdempotencyRecord.status == "in_progress")
                             .values(status="done", response_status=status, response_body=body,
                                     response_headers=headers))
    return result.rowcount == 1


def forget(session: Session, project_id: str, key: str, owner: str | None, status: str | None = None) -> bool:
    """Drop the record if ``owner`` still holds it (in ``status``, when given), so nobody frees a key taken over since."""
    query = delete(IdempotencyRecord).where(
        IdempotencyRecord.project_id == project_id, IdempotencyRecord.key == key,
        IdempotencyRecord.owner.is_(None) if owner is None else IdempotencyRecord.owner == owner)
    if status is not None:
        query = query.where(IdempotencyRecord.status == status)
    return session.execute(query).rowcount == 1


def purge_expired(session: Session, now: datetime) -> int:
    """Delete expired records; how many."""
    return session.execute(delete(IdempotencyRecord).where(IdempotencyRecord.expires_at < now)).rowcount

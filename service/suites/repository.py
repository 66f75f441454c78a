"""All database queries about suites and their items."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, insert, select
from sqlalchemy.orm import Session

from service.models import Suite, SuiteItem


def next_version(session: Session, project_id: str, name: str) -> int:
    """The version number a new upload under ``name`` gets in a project."""
    current = session.scalar(select(func.max(Suite.version)).where(Suite.project_id == project_id, Suite.name == name))
    return (current or 0) + 1


def add_suite(session: Session, suite: dict[str, Any], items: list[dict[str, Any]]) -> None:
    """Store a suite version and its items (one statement per table)."""
    session.execute(insert(Suite), [suite])
    session.execute(insert(SuiteItem), items)


def get_suite(session: Session, project_id: str, name: str, version: int | None = None) -> Suite | None:
    """A project's suite version by name (the latest when ``version`` is None)."""
    query = select(Suite).where(Suite.project_id == project_id, Suite.name == name)
    query = query.where(Suite.version == version) if version is not None else query.order_by(Suite.version.desc())
    return session.scalars(query.limit(1)).first()


def list_latest(session: Session, project_id: str) -> list[Suite]:
    """The latest version of every suite of a project, by name."""
    latest = (select(Suite.name, func.max(Suite.version).label("version")).where(Suite.project_id == project_id)
              .group_by(Suite.name).subquery())
    query = (select(Suite).join(latest, (Suite.name == latest.c.name) & (Suite.version == latest.c.version))
             .where(Suite.project_id == project_id))
    return list(session.scalars(query.order_by(Suite.name)))


def items_of(session: Session, suite_id: str, after_position: int = -1, limit: int | None = None) -> list[SuiteItem]:
    """Items of a suite version in upload order (optionally a page after a position)."""
    query = select(SuiteItem).where(SuiteItem.suite_id == suite_id, SuiteItem.position > after_position)
    query = query.order_by(SuiteItem.position)
    return list(session.scalars(query.limit(limit) if limit else query))

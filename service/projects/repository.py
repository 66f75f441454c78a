"""All database queries about projects and API keys."""

from __future__ import annotations

import uuid

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from service.evaluations.repository import now
from service.models import ApiKey, Project


def get_project_by_name(session: Session, name: str) -> Project | None:
    """The project called ``name``."""
    return session.scalars(select(Project).where(Project.name == name)).first()


def add_project(session: Session, name: str) -> Project:
    """A new project."""
    project = Project(id=str(uuid.uuid4()), name=name, created_at=now())
    session.add(project)
    session.flush()
    return project


def add_key(session: Session, project_id: str, prefix: str, hashed: str, name: str | None) -> ApiKey:
    """Store a key's hash."""
    key = ApiKey(id=str(uuid.uuid4()), project_id=project_id, prefix=prefix, key_hash=hashed, name=name,
                 created_at=now())
    session.add(key)
    session.flush()
    return key


def project_of_key(session: Session, hashed: str) -> Project | None:
    """The project of a live (not revoked) key."""
    query = (select(Project).join(ApiKey, ApiKey.project_id == Project.id)
             .where(ApiKey.key_hash == hashed, ApiKey.revoked_at.is_(None)))
    return session.scalars(query).first()


def list_keys(session: Session, project_name: str | None = None) -> list[tuple[ApiKey, Project]]:
    """Keys (newest first) with their project, optionally of one project."""
    query = select(ApiKey, Project).join(Project, Project.id == ApiKey.project_id)
    if project_name is not None:
        query = query.where(Project.name == project_name)
    return [(key, project) for key, project in session.execute(query.order_by(ApiKey.created_at.desc()))]


def revoke(session: Session, prefix: str) -> bool:
    """Revoke the live key with this prefix; False when there is none."""
    result = session.execute(update(ApiKey).where(ApiKey.prefix == prefix, ApiKey.revoked_at.is_(None))
                             .values(revoked_at=now()))
    return result.rowcount == 1

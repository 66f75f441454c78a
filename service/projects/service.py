"""Key management (CLI) and authentication (gateway)."""

from __future__ import annotations

import logging
import os
import re
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy.orm import Session

from service.models import DEFAULT_PROJECT_ID, Project
from service.projects import repository as repo
from service.projects.keys import key_hash, looks_like_key, new_key

log = logging.getLogger(__name__)
PROJECT_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$")


@dataclass
class CreatedKey:
    """A new key: the only time its secret is shown."""

    key: str
    prefix: str
    project: str


def create_key(session: Session, project_name: str, name: str | None = None) -> CreatedKey:
    """A new key for ``project_name`` (the project is created when new)."""
    if not PROJECT_NAME.match(project_name):
        raise ValueError(f"invalid project name {project_name!r}: letters, digits, '_', '.', '-' (max 128)")
    project = repo.get_project_by_name(session, project_name) or repo.add_project(session, project_name)
    key, prefix = new_key()
    repo.add_key(session, project.id, prefix, key_hash(key), name)
    return CreatedKey(key, prefix, project.name)


def authenticate(session: Session, bearer: str) -> Project | None:
    """The project a bearer key belongs to, or None for an unknown or revoked key."""
    if not looks_like_key(bearer):
        return None
    return repo.project_of_key(session, key_hash(bearer))


def embedded_key(session: Session, key_file: Path) -> str:
    """Embedded mode's ready-to-use key for the default project, kept in ``key_file`` (mode 0600)."""
    if key_file.is_file():
        key = key_file.read_text(encoding="utf-8").strip()
        if authenticate(session, key) is not None:
            return key
    project = session.get(Project, DEFAULT_PROJECT_ID)
    created = create_key(session, project.name if project else "default", name="embedded")
    key_file.parent.mkdir(parents=True, exist_ok=True)
    descriptor = os.open(key_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
        handle.write(created.key + "\n")
    return created.key

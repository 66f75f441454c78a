"""Request dependencies: settings, one DB session per request, the job dispatcher."""

from __future__ import annotations

from typing import Iterator

from fastapi import Request
from sqlalchemy.orm import Session

from service.config import Settings
from service.db.engine import session_scope
from service.queue import Dispatcher


def get_settings(request: Request) -> Settings:
    """The settings the app was created with."""
    return request.app.state.settings


def get_session(request: Request) -> Iterator[Session]:
    """One session per request, committed when the request succeeds."""
    with session_scope(request.app.state.settings.effective_database_url()) as session:
        yield session


def get_dispatcher(request: Request) -> Dispatcher:
    """The process's job dispatcher."""
    return request.app.state.dispatcher

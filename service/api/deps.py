"""Request dependencies: settings, one DB session per request, the job dispatcher."""

from __future__ import annotations

from typing import Annotated, Iterator

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.orm import Session

from service.config import Settings
from service.db.engine import session_scope
from service.errors import Unauthorized
from service.models import Project
from service.projects.service import authenticate
from service.queue import Dispatcher

_bearer = HTTPBearer(auto_error=False, description="An API key: `judgeserve keys create --project NAME`.")


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


def get_project(request: Request, session: Annotated[Session, Depends(get_session)],
                credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]) -> Project:
    """The project of the request's API key (``Authorization: Bearer <key>``); 401 without a valid key."""
    if credentials is None:
        raise Unauthorized("missing API key: send 'Authorization: Bearer <key>'")
    project = authenticate(session, credentials.credentials)
    # end the read's transaction: its connection goes back to the pool while the request waits for its
    # body or a thread, and the route takes one again only when it queries (the project stays loaded)
    session.commit()
    if project is None:
        raise Unauthorized("invalid or revoked API key")
    request.state.project_id = project.id
    return project


ProjectDep = Annotated[Project, Depends(get_project)]

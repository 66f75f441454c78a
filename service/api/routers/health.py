"""Liveness and readiness."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse
from sqlalchemy import text

from service.api.deps import get_settings
from service.config import Settings
from service.db.engine import get_engine

router = APIRouter(tags=["health"])


@router.get("/healthz")
def healthz() -> dict:
    """The process is up."""
    return {"status": "ok"}


@router.get("/readyz")
def readyz(request: Request, settings: Annotated[Settings, Depends(get_settings)]) -> JSONResponse:
    """Ready when the database answers and the queue takes jobs."""
    checks = {"database": "ok", "queue": "ok", "mode": "embedded" if settings.embedded else "production"}
    try:
        with get_engine(settings.effective_database_url()).connect() as connection:
            connection.execute(text("SELECT 1"))
    except Exception as exc:  # report, don't crash the probe
        checks["database"] = f"error: {type(exc).__name__}"
    if not request.app.state.dispatcher.ping():
        checks["queue"] = "error: unavailable"
    ready = checks["database"] == "ok" and checks["queue"] == "ok"
    return JSONResponse({"status": "ready" if ready else "not ready", "checks": checks},
                        status_code=200 if ready else 503)

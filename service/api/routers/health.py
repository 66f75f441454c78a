"""Liveness and readiness: async routes that never wait for the request thread pool or database pool."""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from service.config import Settings
from service.db.engine import check_database

router = APIRouter(tags=["health"])
# the readiness checks' own threads: a probe never queues behind requests for a thread, and a hung
# dependency ties up at most these two (later probes time out waiting for them)
_PROBE_THREADS = ThreadPoolExecutor(max_workers=2, thread_name_prefix="judgeserve-ready")


@router.get("/healthz")
async def healthz() -> dict:
    """The process is up (answered on the event loop: no thread, no database)."""
    return {"status": "ok"}


@router.get("/readyz")
async def readyz(request: Request) -> JSONResponse:
    """Ready when the database answers and the queue takes jobs, each within ``ready_timeout_seconds``."""
    settings: Settings = request.app.state.settings
    timeout = settings.concurrency.ready_timeout_seconds
    checks = {"mode": "embedded" if settings.embedded else "production"}
    checks["database"] = await _check(lambda: check_database(settings.effective_database_url(), timeout), timeout)
    checks["queue"] = await _check(request.app.state.dispatcher.ping, timeout)
    ready = checks["database"] == "ok" and checks["queue"] == "ok"
    return JSONResponse({"status": "ready" if ready else "not ready", "checks": checks},
                        status_code=200 if ready else 503)


async def _check(probe, timeout: float) -> str:
    """``ok``, or what went wrong: an exception, a false answer, or no answer within ``timeout`` s."""
    loop = asyncio.get_running_loop()
    try:
        answer = await asyncio.wait_for(loop.run_in_executor(_PROBE_THREADS, probe), timeout)
    except asyncio.TimeoutError:
        return f"error: no answer within {timeout:g} s"
    except Exception as exc:  # report, don't crash the probe
        return f"error: {type(exc).__name__}"
    return "error: unavailable" if answer is False else "ok"

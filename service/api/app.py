"""The gateway's app factory."""

from __future__ import annotations

from contextlib import asynccontextmanager

import anyio.to_thread
from fastapi import FastAPI

from service.api.body_limit import BodySizeLimit
from service.api.docs import install_docs
from service.api.errors import install_error_handlers
from service.api.contract import install_contract, operation_id
from service.api.routers import (
    analyses, comparisons, evaluations, health, judges, leaderboards, protocols, reviews, suites, webhooks,
)
from service.api.routers.metrics import install_metrics
from service.api.routers import ui
from service.api.saturation import install_saturation
from service.config import Settings, get_settings
from service.core.protocol import all_protocols
from service.db.engine import get_engine, session_scope
from service.db.migrate import upgrade
from service.evaluations.reaper import Reaper
from service.evaluations.service import requeue_pending
from service.logging_setup import configure_logging
from service.projects.service import embedded_key
from service.queue import make_dispatcher

UNAUTHORIZED = {401: {"description": "Missing, invalid or revoked API key (problem+json)"}}


def create_app(settings: Settings | None = None) -> FastAPI:
    """Build the gateway. Embedded mode migrates its SQLite file and runs jobs in-process."""
    settings = settings or get_settings()
    all_protocols()  # every protocol registers (and is checked) now: a broken one stops the start-up
    @asynccontextmanager
    async def lifespan(app: FastAPI):
        configure_logging(settings.log_level)
        # sync routes and dependencies run on these threads; the pools have room for all of them
        anyio.to_thread.current_default_thread_limiter().total_tokens = settings.concurrency.threads
        if settings.embedded:
            settings.data_dir.mkdir(parents=True, exist_ok=True)
            upgrade(settings.effective_database_url())
        get_engine(settings.effective_database_url(), settings.concurrency)
        app.state.dispatcher = make_dispatcher(settings)
        reaper = None if settings.embedded else Reaper(settings, app.state.dispatcher)
        if reaper is not None:
            reaper.start()
        if settings.embedded:  # chunks left pending by a previous run are picked up again
            with session_scope(settings.effective_database_url()) as session:
                requeue_pending(session, app.state.dispatcher, settings)
                key = embedded_key(session, settings.embedded_key_file())
            print(f"judgeserve (embedded): API key for project 'default': {key}\n"
                  f"  (also in {settings.embedded_key_file()}); send it as 'Authorization: Bearer <key>'",
                  flush=True)
        try:
            yield
        finally:
            if reaper is not None:
                reaper.stop()
            app.state.dispatcher.close()
            app.state.metrics_collector.close()

    app = FastAPI(
        title="judgeserve",
        version="0.1.0",
        description="Self-hosted LLM-as-judge evaluations with position-balanced calibration.",
        lifespan=lifespan,
        generate_unique_id_function=operation_id,
        docs_url=None,  # /docs and /redoc: served by install_docs from a package's files, not a CDN
        redoc_url=None,
    )
    app.state.settings = settings
    install_error_handlers(app)
    install_docs(app)
    app.add_middleware(BodySizeLimit, max_bytes=settings.limits.max_body_bytes)
    install_saturation(app, settings.concurrency)  # after BodySizeLimit: outermost, so a refusal reads no body
    for module in (evaluations, reviews, suites, leaderboards, comparisons, analyses, judges, protocols, webhooks):
        app.include_router(module.router, responses=UNAUTHORIZED)  # every /v1 route needs an API key
    app.include_router(health.router)
    app.include_router(ui.router)  # /ui/: web pages, outside the OpenAPI schema; their API calls send a key
    install_metrics(app, settings)
    install_contract(app)
    return app


def app_from_env() -> FastAPI:
    """Factory for ``uvicorn --factory service.api.app:app_from_env``."""
    return create_app()

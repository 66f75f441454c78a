"""A busy gateway answers 503 with Retry-After at once, never a 500 after a long wait.

- ``InFlightLimit`` (ASGI middleware) handles at most ``max_in_flight`` requests at once; one more gets a
  503 before its body is read. Health probes and metric scrapes are never counted or refused. Each
  response it lets through says how long the gateway spent on it (``Server-Timing: app;dur=<ms>``), so
  a client can tell the gateway's time from its own queueing.
- A database connection that does not come within the pool timeout, or a database that refuses
  connections (e.g. Postgres' ``max_connections`` reached), is a 503 with Retry-After too.
"""

from __future__ import annotations

import json
import logging
import time

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from sqlalchemy.exc import OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from service.api.errors import problem
from service.config import ConcurrencySettings

log = logging.getLogger(__name__)
# probes, and scrapes that must work when the gateway is busy (one /metrics scrape is in the pool's reserve)
UNLIMITED_PATHS = frozenset({"/healthz", "/readyz", "/metrics"})


class InFlightLimit:
    """Counts the HTTP requests being handled; beyond the limit, 503 with Retry-After."""

    def __init__(self, app: ASGIApp, max_in_flight: int, retry_after_seconds: int):
        self.app = app
        self.max_in_flight = max_in_flight
        self.retry_after = str(retry_after_seconds)
        self.in_flight = 0  # one event loop: no lock needed

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Handle the request, or refuse it when ``max_in_flight`` are being handled already."""
        if scope["type"] != "http" or scope.get("path") in UNLIMITED_PATHS:
            await self.app(scope, receive, send)
            return
        if self.in_flight >= self.max_in_flight:
            await self._refuse(send)
            return
        self.in_flight += 1
        started = time.perf_counter()

        async def timed_send(message: Message) -> None:
            if message["type"] == "http.response.start":
                spent = f"app;dur={(time.perf_counter() - started) * 1000:.1f}".encode()
                message = message | {"headers": [*message.get("headers", []), (b"server-timing", spent)]}
            await send(message)

        try:
            await self.app(scope, receive, timed_send)
        finally:
            self.in_flight -= 1

    async def _refuse(self, send: Send) -> None:
        body = json.dumps({
            "type": "about:blank", "title": "Service unavailable", "status": 503,
            "detail": f"the gateway is handling its limit of {self.max_in_flight} requests at once "
                      f"(concurrency.max_in_flight); retry after {self.retry_after} s",
        }).encode()
        await send({"type": "http.response.start", "status": 503,
                    "headers": [(b"content-type", b"application/problem+json"),
                                (b"content-length", str(len(body)).encode()),
                                (b"retry-after", self.retry_after.encode())]})
        await send({"type": "http.response.body", "body": body})


def install_saturation(app: FastAPI, concurrency: ConcurrencySettings) -> None:
    """Add the in-flight limit (outermost: a refused request costs no body read) and the 503 handlers."""
    retry_after = {"Retry-After": str(concurrency.retry_after_seconds)}

    @app.exception_handler(PoolTimeout)
    def _pool_timeout(_: Request, exc: PoolTimeout) -> JSONResponse:
        log.warning("no database connection within %.1f s: answered 503", concurrency.db_pool_timeout_seconds)
        return problem(503, "Service unavailable", "the gateway is busy: no database connection came within "
                       f"{concurrency.db_pool_timeout_seconds:g} s; retry later", headers=retry_after)

    @app.exception_handler(OperationalError)
    def _database_unavailable(_: Request, exc: OperationalError) -> JSONResponse:
        log.warning("database unavailable: %s", str(exc.orig or exc).splitlines()[0])
        return problem(503, "Service unavailable", "the database is unavailable or refused the connection; "
                       "retry later", headers=retry_after)

    app.add_middleware(InFlightLimit, max_in_flight=concurrency.max_in_flight,
                       retry_after_seconds=concurrency.retry_after_seconds)

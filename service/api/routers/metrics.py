"""GET /metrics: Prometheus metrics (no authentication, like /healthz, unless a metrics token is set)."""

from __future__ import annotations

import hmac

from fastapi import APIRouter, Request, Response
from prometheus_client import CollectorRegistry
from prometheus_client.exposition import choose_encoder

from service.config import Settings
from service.errors import Unauthorized
from service.metrics.collector import ServiceCollector

router = APIRouter(tags=["health"])


def install_metrics(app, settings: Settings) -> ServiceCollector:
    """Give the app its own registry and collector (several apps may live in one process, e.g. in tests)."""
    registry = CollectorRegistry(auto_describe=False)
    collector = ServiceCollector(settings)
    registry.register(collector)
    app.state.metrics_registry = registry
    app.state.metrics_collector = collector
    app.state.metrics_token = settings.metrics_token.get_secret_value() if settings.metrics_token else ""
    app.include_router(router)
    return collector


def require_token(request: Request) -> None:
    """With ``JUDGESERVE_METRICS_TOKEN`` set, a 401 unless the request brings it as a bearer token."""
    expected = request.app.state.metrics_token
    if not expected:
        return
    scheme, _, given = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not hmac.compare_digest(given.strip().encode(), expected.encode()):
        raise Unauthorized("GET /metrics needs the metrics token: Authorization: Bearer <JUDGESERVE_METRICS_TOKEN>")


@router.get("/metrics", response_class=Response, responses={
    200: {"description": "Prometheus text exposition format (OpenMetrics when the Accept header asks for it).",
          "content": {"text/plain": {"schema": {"type": "string"}}}},
    401: {"description": "A metrics token is configured and the request did not bring it."}})
def metrics(request: Request) -> Response:
    """Evaluations, queue depths, judge calls, latency and token histograms, cache hits, heartbeats
    (worker names include host names and PIDs); needs ``Authorization: Bearer <token>`` when a metrics token is set."""
    require_token(request)
    encoder, content_type = choose_encoder(request.headers.get("accept", ""))
    return Response(encoder(request.app.state.metrics_registry), media_type=content_type)

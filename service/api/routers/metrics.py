"""GET /metrics: Prometheus metrics (no authentication, like /healthz)."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from prometheus_client import CollectorRegistry
from prometheus_client.exposition import choose_encoder

from service.config import Settings
from service.metrics.collector import ServiceCollector

router = APIRouter(tags=["health"])


def install_metrics(app, settings: Settings) -> ServiceCollector:
    """Give the app its own registry and collector (several apps may live in one process, e.g. in tests)."""
    registry = CollectorRegistry(auto_describe=False)
    collector = ServiceCollector(settings)
    registry.register(collector)
    app.state.metrics_registry = registry
    app.state.metrics_collector = collector
    app.include_router(router)
    return collector


@router.get("/metrics", response_class=Response, responses={200: {
    "description": "Prometheus text exposition format (OpenMetrics when the Accept header asks for it).",
    "content": {"text/plain": {"schema": {"type": "string"}}}}})
def metrics(request: Request) -> Response:
    """Evaluations, queue depths, judge calls, latency and token histograms, cache hits, heartbeats."""
    encoder, content_type = choose_encoder(request.headers.get("accept", ""))
    return Response(encoder(request.app.state.metrics_registry), media_type=content_type)

"""A judge worker: one engine loaded once, RQ jobs run in this process without forking."""

from __future__ import annotations

import logging

from rq import SimpleWorker

from service.config import get_settings
from service.logging_setup import configure_logging
from service.queue import webhook_queue
from workers import runtime

log = logging.getLogger(__name__)


class JudgeWorker(SimpleWorker):
    """SimpleWorker runs each job in the worker's own process, where the engine lives."""


def serve(judge_name: str, burst: bool = False, name: str | None = None) -> int:
    """Build the judge's backend, then work its queue until stopped (or empty, with burst)."""
    from redis import Redis

    settings = get_settings()
    configure_logging(settings.log_level)
    if settings.embedded:
        log.error("a worker needs JUDGESERVE_DATABASE_URL and JUDGESERVE_REDIS_URL (production mode)")
        return 2
    judges = settings.judges()
    if judge_name not in judges:
        log.error("unknown judge %r; configured: %s", judge_name, sorted(judges))
        return 2
    runtime.configure(settings)
    runtime.backend(judge_name)  # load the engine now, not in the first job
    # the RQ worker and its heartbeat share a name, so the gateway's reaper can tell when a job's worker died
    name = name or runtime.worker_id()
    runtime.start_heartbeat([judge_name], name)
    runtime.start_webhook_sweeper()
    connection = Redis.from_url(settings.redis_url)
    # webhook deliveries first: they are short (bounded by the webhook timeout), and CI waits on them
    queues = [webhook_queue(settings), settings.queue_name(judge_name), settings.aggregate_queue]
    worker = JudgeWorker(queues, connection=connection, name=name)
    log.info("worker %s serving judge %s on queue %s", worker.name, judge_name, settings.queue_name(judge_name))
    try:
        worker.work(burst=burst, with_scheduler=not burst, logging_level=settings.log_level)
    finally:
        runtime.shutdown()
    return 0

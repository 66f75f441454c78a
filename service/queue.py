"""Enqueue jobs by dotted name with IDs only: RQ in production, a thread in embedded mode."""

from __future__ import annotations

import hashlib
import importlib
import json
import logging
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Protocol

from service.config import Settings
from service.outages import is_transient

log = logging.getLogger(__name__)

JUDGE_CHUNK_JOB = "workers.jobs.judge_chunk.run"
AGGREGATE_JOB = "workers.jobs.aggregate.run"
WEBHOOK_DELIVERY_JOB = "workers.jobs.deliver_webhook.run"
EMBEDDED_RUNTIME_START = "workers.runtime.start_embedded"
EMBEDDED_RUNTIME_STOP = "workers.runtime.shutdown"
# embedded mode: seconds before the 1st, 2nd, 3rd… retry of a job that raised (the last one repeats)
IN_PROCESS_RETRY_DELAYS = (1.0, 5.0, 25.0, 60.0)


class QueueUnavailable(RuntimeError):
    """The queue cannot take jobs right now (e.g. Redis is down)."""


class Dispatcher(Protocol):
    """Where jobs go."""

    def enqueue(self, job: str, args: tuple[Any, ...], queue: str, job_id: str, timeout: int) -> None:
        """Queue ``job`` (a dotted function name) with ``args`` (IDs only)."""
        ...

    def ping(self) -> bool:
        """True when the queue can take jobs."""
        ...

    def close(self) -> None:
        """Release connections or threads."""
        ...


def resolve(dotted: str):
    """Import ``package.module.function`` by name."""
    module_name, _, attr = dotted.rpartition(".")
    return getattr(importlib.import_module(module_name), attr)


class RQDispatcher:
    """Enqueue to Redis/RQ, one queue per judge."""

    def __init__(self, settings: Settings):
        from redis import Redis

        self.retries = settings.job_retries
        self.redis = Redis.from_url(
            settings.redis_url, socket_connect_timeout=3, socket_timeout=10, health_check_interval=30
        )

    def enqueue(self, job: str, args: tuple[Any, ...], queue: str, job_id: str, timeout: int) -> None:
        """Put the job on the named RQ queue (same job id → same job)."""
        from redis.exceptions import RedisError
        from rq import Queue, Retry

        retry = Retry(max=self.retries, interval=[10, 60, 300]) if self.retries else None
        try:
            Queue(queue, connection=self.redis).enqueue(
                job, *args, job_id=job_id, job_timeout=timeout, result_ttl=3600, failure_ttl=7 * 86400,
                retry=retry,
            )
        except RedisError as exc:
            raise QueueUnavailable(f"Redis is unavailable: {exc}") from exc

    def ping(self) -> bool:
        """True when Redis answers."""
        from redis.exceptions import RedisError

        try:
            return bool(self.redis.ping())
        except RedisError:
            return False

    def close(self) -> None:
        """Close the Redis connection pool."""
        self.redis.close()


class InProcessDispatcher:
    """Embedded mode: run jobs one at a time in a background thread of this process.

    A job that raises is run again up to ``job_retries`` times, later (like RQ's retries; one that
    raised for an outage, until the process stops, as the reaper would queue it again). Jobs
    still queued when the process stops are dropped; their chunks stay pending in the database
    and are queued again when the embedded gateway starts (see ``requeue_pending``).
    """

    def __init__(self, settings: Settings):
        self.settings = settings
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="judgeserve-job")
        self._timers: set[threading.Timer] = set()
        self._lock = threading.Lock()
        self._closed = False
        self._executor.submit(self._call, EMBEDDED_RUNTIME_START, (settings, self))

    def enqueue(self, job: str, args: tuple[Any, ...], queue: str, job_id: str, timeout: int) -> None:
        """Run the job after the ones already queued."""
        self._executor.submit(self._run, job, args, 0)

    def _run(self, job: str, args: tuple[Any, ...], retries_done: int) -> None:
        error = self._call(job, args)
        # an outage (e.g. a judge server restarting) is waited out; a chunk job bounds its own runs
        if error is None or (retries_done >= self.settings.job_retries and not is_transient(error)):
            return
        delay = IN_PROCESS_RETRY_DELAYS[min(retries_done, len(IN_PROCESS_RETRY_DELAYS) - 1)]
        timer = threading.Timer(delay, self._resubmit, (job, args, retries_done + 1))
        timer.daemon = True
        with self._lock:
            if self._closed:  # stopping: a chunk stays pending and is queued again on start
                return
            self._timers.add(timer)
            timer.start()

    def _resubmit(self, job: str, args: tuple[Any, ...], retries_done: int) -> None:
        with self._lock:
            self._timers.discard(threading.current_thread())  # type: ignore[arg-type]
        try:
            self._executor.submit(self._run, job, args, retries_done)
        except RuntimeError:  # closed meanwhile: a chunk stays pending and is queued again on start
            log.info("in-process job %s%r not retried: the service is stopping", job, args)

    @staticmethod
    def _call(job: str, args: tuple[Any, ...]) -> Exception | None:
        """Run the job; what it raised, if anything (logged: a failed job must not kill the executor thread)."""
        try:
            resolve(job)(*args)
            return None
        except Exception as exc:
            log.exception("in-process job %s%r failed", job, args)
            return exc

    def ping(self) -> bool:
        """Always available."""
        return True

    def close(self) -> None:
        """Stop taking jobs (and retries), finish the running one, release the runtime."""
        with self._lock:
            self._closed = True
            timers, self._timers = list(self._timers), set()
        for timer in timers:
            timer.cancel()
        self._executor.shutdown(wait=True, cancel_futures=True)
        self._call(EMBEDDED_RUNTIME_STOP, ())


def enqueue_aggregate(dispatcher: Dispatcher, settings: Settings, project_id: str, suite: str, protocol: str,
                      judge: str) -> None:
    """Queue a leaderboard refresh for one project's suite × protocol × judge."""
    key = hashlib.sha1(json.dumps([project_id, suite, protocol, judge]).encode()).hexdigest()
    dispatcher.enqueue(AGGREGATE_JOB, (project_id, suite, protocol, judge), queue=settings.aggregate_queue,
                       job_id=f"aggregate_{key}", timeout=600)


def webhook_queue(settings: Settings) -> str:
    """The RQ queue of webhook delivery jobs (every worker serves it)."""
    return f"{settings.queue_prefix}.webhooks"


def enqueue_webhook_delivery(dispatcher: Dispatcher, settings: Settings, delivery_id: str, attempt: int) -> None:
    """Queue one attempt of a webhook delivery (the job sends it only if it is still due)."""
    dispatcher.enqueue(WEBHOOK_DELIVERY_JOB, (delivery_id,), queue=webhook_queue(settings),
                       job_id=f"webhook_{delivery_id}_{attempt}", timeout=600)


def make_dispatcher(settings: Settings) -> Dispatcher:
    """RQ when Redis is configured, else in-process."""
    return InProcessDispatcher(settings) if settings.embedded else RQDispatcher(settings)

"""Enqueue jobs by dotted name with IDs only: RQ in production, a thread in embedded mode."""

from __future__ import annotations

import functools
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
WEBHOOK_FAN_OUT_JOB = "workers.jobs.deliver_webhook.queue_evaluation"
EMBEDDED_RUNTIME_START = "workers.runtime.start_embedded"
EMBEDDED_RUNTIME_STOP = "workers.runtime.shutdown"
# embedded mode: seconds before the 1st, 2nd, 3rd… retry of a job that raised (the last one repeats)
IN_PROCESS_RETRY_DELAYS = (1.0, 5.0, 25.0, 60.0)


class QueueUnavailable(RuntimeError):
    """The queue cannot take jobs right now (e.g. Redis is down)."""


class Dispatcher(Protocol):
    """Where jobs go."""

    def enqueue(self, job: str, args: tuple[Any, ...], queue: str, job_id: str, timeout: int,
                fair_key: str | None = None) -> None:
        """Queue ``job`` (a dotted function name) with ``args`` (IDs only); ``fair_key``: whose work it is
        (jobs of different keys take turns on the queue, see ``FairQueue``)."""
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
        from redis import BlockingConnectionPool, Redis

        self.retries = settings.job_retries
        pools = settings.concurrency  # a full pool waits this long, then the enqueue fails as Redis being down (503)
        self.redis = Redis(connection_pool=BlockingConnectionPool.from_url(
            settings.redis_url, max_connections=pools.redis_max_connections, timeout=pools.redis_pool_timeout_seconds,
            socket_connect_timeout=3, socket_timeout=10, health_check_interval=30))

    def enqueue(self, job: str, args: tuple[Any, ...], queue: str, job_id: str, timeout: int,
                fair_key: str | None = None) -> None:
        """Put the job on the named RQ queue (same job id → same job); a chunk in its project's turn."""
        from redis.exceptions import RedisError
        from rq import Retry

        retry = Retry(max=self.retries, interval=[10, 60, 300]) if self.retries else None
        if fair_key is None and job == JUDGE_CHUNK_JOB:  # e.g. queued again by the reaper: a turn of its own
            fair_key = f"evaluation:{args[0]}"
        try:
            fair_queue(queue, self.redis, fair_key).enqueue(
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


# Start-time fair queueing of one RQ queue between fairness keys (projects). Each job gets a virtual
# start tag: one more than the later of the queue's clock (the tag of the last job a worker took) and
# the tag of its key's previous job. The queue list is kept in tag order, so a key with a long backlog
# does not hold back a key that queues one job: that job waits for about one job of each busy key.
# Jobs pushed without a tag (RQ's scheduled retries push plainly, at the tail) get the clock's next tag
# and their place at the next fair push. Tags and flows expire with the queue's activity.
_FAIR_PUSH = """
local list, tags, flows = KEYS[1], KEYS[2], KEYS[3]
local job, key, ttl = ARGV[1], 'k:' .. ARGV[2], tonumber(ARGV[3])
local clock = tonumber(redis.call('HGET', flows, '~clock') or '0')
local function tag_of(id)
  local tag = redis.call('HGET', tags, id)
  if tag then return tonumber(tag) end
  return nil
end
local function place(id, tag)  -- after the last job (from the tail) whose tag is <= tag; untagged ones are passed
  local n = redis.call('LLEN', list)
  local stop = -1
  while stop >= -n do
    local start = math.max(stop - 99, -n)
    local batch = redis.call('LRANGE', list, start, stop)
    for i = #batch, 1, -1 do
      local other = tag_of(batch[i])
      if other and other <= tag then
        redis.call('LINSERT', list, 'AFTER', batch[i], id)
        return
      end
    end
    stop = start - 1
  end
  redis.call('LPUSH', list, id)
end
local untagged = {}
while true do
  local last = redis.call('LINDEX', list, -1)
  if not last or tag_of(last) then break end
  table.insert(untagged, 1, redis.call('RPOP', list))
end
for _, id in ipairs(untagged) do
  redis.call('HSET', tags, id, clock + 1)
  place(id, clock + 1)
end
local tag = math.max(clock, tonumber(redis.call('HGET', flows, key) or '0')) + 1
redis.call('HSET', flows, key, tag)
redis.call('HSET', tags, job, tag)
place(job, tag)
redis.call('EXPIRE', tags, ttl)
redis.call('EXPIRE', flows, ttl)
return tag
"""
_FAIR_TAKEN = """
local tag = redis.call('HGET', KEYS[1], ARGV[1])
if tag then
  redis.call('HDEL', KEYS[1], ARGV[1])
  if tonumber(tag) > tonumber(redis.call('HGET', KEYS[2], '~clock') or '0') then
    redis.call('HSET', KEYS[2], '~clock', tag)
  end
end
return tag
"""
FAIR_STATE_TTL_SECONDS = 7 * 86400


def _fair_keys(queue_name: str) -> list[str]:
    """Redis keys of a queue's fairness state: the jobs' tags, and each key's last tag plus the clock."""
    return [f"judgeserve:fair:{queue_name}:tags", f"judgeserve:fair:{queue_name}:flows"]


@functools.cache
def _fair_queue_class():
    from rq import Queue  # imported on first use: embedded mode needs no RQ

    class FairQueue(Queue):
        """An RQ queue whose pushes take the turn of their ``fair_key`` (a plain push without one)."""

        fair_key: str | None = None

        def push_job_id(self, job_id: str, pipeline=None, at_front: bool = False) -> None:
            if self.fair_key is None or at_front:
                return super().push_job_id(job_id, pipeline=pipeline, at_front=at_front)
            script = self.connection.register_script(_FAIR_PUSH)
            script(keys=[self.key, *_fair_keys(self.name)], args=[job_id, self.fair_key, FAIR_STATE_TTL_SECONDS],
                   client=pipeline if pipeline is not None else self.connection)

    return FairQueue


def fair_queue(name: str, connection, fair_key: str | None = None):
    """The RQ queue ``name``, pushing in ``fair_key``'s turn."""
    queue = _fair_queue_class()(name, connection=connection)
    queue.fair_key = fair_key
    return queue


def fair_job_taken(connection, queue_name: str, job_id: str) -> None:
    """A worker took the job: its tag becomes the queue's clock (a no-op for a job queued without a key)."""
    connection.register_script(_FAIR_TAKEN)(keys=_fair_keys(queue_name), args=[job_id])


class InProcessDispatcher:
    """Embedded mode: run jobs one at a time in a background thread of this process.

    Webhook deliveries have a thread of their own, so that a project's fan-out never waits in
    front of judge work (as the delivery loops of a production worker).

    A job that raises is run again up to ``job_retries`` times, later (like RQ's retries; one that
    raised for an outage, until the process stops, as the reaper would queue it again). Jobs
    still queued when the process stops are dropped; their chunks stay pending in the database
    and are queued again when the embedded gateway starts (see ``requeue_pending``).
    """

    def __init__(self, settings: Settings):
        self.settings = settings
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="judgeserve-job")
        self._deliveries = ThreadPoolExecutor(max_workers=1, thread_name_prefix="judgeserve-deliveries")
        self._timers: set[threading.Timer] = set()
        self._lock = threading.Lock()
        self._closed = False
        self._executor.submit(self._call, EMBEDDED_RUNTIME_START, (settings, self))

    def enqueue(self, job: str, args: tuple[Any, ...], queue: str, job_id: str, timeout: int,
                fair_key: str | None = None) -> None:
        """Run the job after the ones already queued (on its queue's thread; one user: FIFO, no fairness)."""
        self._executor_of(queue).submit(self._run, job, args, 0, queue)

    def _executor_of(self, queue: str) -> ThreadPoolExecutor:
        return self._deliveries if queue == webhook_queue(self.settings) else self._executor

    def _run(self, job: str, args: tuple[Any, ...], retries_done: int, queue: str = "") -> None:
        error = self._call(job, args)
        # an outage (e.g. a judge server restarting) is waited out; a chunk job bounds its own runs
        if error is None or (retries_done >= self.settings.job_retries and not is_transient(error)):
            return
        delay = IN_PROCESS_RETRY_DELAYS[min(retries_done, len(IN_PROCESS_RETRY_DELAYS) - 1)]
        timer = threading.Timer(delay, self._resubmit, (job, args, retries_done + 1, queue))
        timer.daemon = True
        with self._lock:
            if self._closed:  # stopping: a chunk stays pending and is queued again on start
                return
            self._timers.add(timer)
            timer.start()

    def _resubmit(self, job: str, args: tuple[Any, ...], retries_done: int, queue: str) -> None:
        with self._lock:
            self._timers.discard(threading.current_thread())  # type: ignore[arg-type]
        try:
            self._executor_of(queue).submit(self._run, job, args, retries_done, queue)
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
        self._deliveries.shutdown(wait=True, cancel_futures=True)
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


def enqueue_webhook_fan_out(dispatcher: Dispatcher, settings: Settings, evaluation_id: str) -> None:
    """Queue one job that queues the delivery jobs of an evaluation's events (run by a delivery loop, so the
    judge loop that finished the evaluation spends one enqueue on its fan-out, not one per endpoint)."""
    dispatcher.enqueue(WEBHOOK_FAN_OUT_JOB, (evaluation_id,), queue=webhook_queue(settings),
                       job_id=f"webhook-fan-out_{evaluation_id}", timeout=600)


def make_dispatcher(settings: Settings) -> Dispatcher:
    """RQ when Redis is configured, else in-process."""
    return InProcessDispatcher(settings) if settings.embedded else RQDispatcher(settings)

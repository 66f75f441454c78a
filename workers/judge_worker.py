"""A judge worker: one engine loaded once, RQ jobs run in this process without forking.

``Settings.worker_chunks_in_flight`` (N, default 1) is how many chunk jobs one worker process works
on at the same time. With 1 it is one RQ SimpleWorker, one job after the other. With N > 1 the
process runs N SimpleWorker loops on the one engine: one in the main thread (signals, scheduler)
and N - 1 in threads. Calls to an in-process engine take turns (one chunk's prompts per engine
call, as with one loop; vLLM's ``LLM`` is not thread-safe), so while one chunk is on the engine
the others claim, render, look up the cache and store their results. A remote (``openai``) judge
is called concurrently: its server batches the requests. Either way a worker never takes more than
N chunks off the queue; the rest wait in Redis, as IDs. Every loop is an RQ worker with a heartbeat
under its own name (the gateway's reaper finds a started job's worker by that name), so
``GET /v1/judges`` counts a worker with N chunks in flight as N live workers.
"""

from __future__ import annotations

import importlib
import logging
import threading
import time
from typing import Sequence

from rq import SimpleWorker
from rq.timeouts import TimerDeathPenalty
from sqlalchemy.engine import make_url

from service.config import Settings, get_settings
from service.core.protocol import all_protocols
from service.logging_setup import configure_logging
from service.queue import JUDGE_CHUNK_JOB, fair_job_taken, webhook_queue
from workers import runtime
from workers.gc_tuning import tune_for_worker
from workers.heartbeat import Heartbeat

log = logging.getLogger(__name__)

# how long an idle loop in a thread blocks on Redis before it looks at a stop request again
THREAD_DEQUEUE_SECONDS = 5
# how often a loop's command-channel thread looks at its stop flag
PUBSUB_POLL_SECONDS = 1.0
# how often a worker loop renews its RQ worker key between jobs (see JudgeWorker.heartbeat)
RQ_HEARTBEAT_SECONDS = 5.0
# how often a worker loop looks whether ``rq suspend`` suspended the workers (RQ: before every job)
SUSPENSION_CHECK_SECONDS = 1.0
# backends whose engine lives in this process and must not be called from two threads at once
IN_PROCESS_ENGINES = ("vllm", "scripted")


def queues_in_order(settings: Settings, judge_name: str, burst: bool = False) -> list[str]:
    """The queues a judge loop serves, first served first.

    Leaderboard refreshes are short (one deduplicated job per leaderboard) and people wait on them:
    they go before the judge's backlog, which could otherwise hold a leaderboard stale for as long
    as judging takes. Webhook deliveries are not a judge loop's work: a project's fan-out (endpoints
    × completions) could otherwise hold every project's judging back; the delivery process's loops
    (``delivery_queues``) send them. Only a burst worker's judge loops take them, after the judge's
    queue is empty, so that it does not exit with its own evaluations' deliveries unsent.
    """
    queues = [settings.aggregate_queue, settings.queue_name(judge_name)]
    return queues + [webhook_queue(settings)] if burst else queues


def delivery_queues(settings: Settings) -> list[str]:
    """The queues a delivery loop serves (in the delivery process, workers/delivery_worker.py)."""
    return [webhook_queue(settings)]


class JudgeWorker(SimpleWorker):
    """SimpleWorker runs each job in the worker's own process, where the engine lives."""

    # the loops in threads of the same process (chunks in flight beyond the first)
    siblings: Sequence["InFlightWorker"] = ()
    _last_plain_heartbeat = float("-inf")
    _last_suspension_check = float("-inf")
    _state_written: str | None = None
    log_result_lifespan = False  # RQ's "result is kept for N seconds" line after every job

    def heartbeat(self, timeout=None, pipeline=None):
        """RQ's worker heartbeat, at most every RQ_HEARTBEAT_SECONDS when it only renews the key's default expiry.

        RQ sends one (three Redis round trips) after every job and again before the next; its key
        expires after ``worker_ttl`` + 60 s (8 minutes), so one every few seconds keeps it as alive. A
        heartbeat that sets a job's own expiry (``timeout``, in a pipeline) is always sent, and so is the
        plain one after it, which sets the key's expiry back. The gateway's reaper reads the worker's own
        heartbeat in Postgres (``workers.heartbeat``), not this one.
        """
        if timeout is not None:
            self._last_plain_heartbeat = float("-inf")
        elif pipeline is None and time.monotonic() - self._last_plain_heartbeat < RQ_HEARTBEAT_SECONDS:
            return
        else:  # a plain one (RQ's suspension check sends one in its own pipeline)
            self._last_plain_heartbeat = time.monotonic()
        if pipeline is not None:
            super().heartbeat(timeout, pipeline)
            return
        with self.connection.pipeline(transaction=False) as batch:  # its three commands in one round trip
            super().heartbeat(timeout, batch)
            batch.execute()

    def set_state(self, state, pipeline=None):
        """RQ's worker state, not written again when it is already the one written (RQ writes "idle" after every
        job and again before looking for the next)."""
        if pipeline is None and state == self._state_written:
            self._state = state
            return
        super().set_state(state, pipeline)
        self._state_written = state

    def register_birth(self):
        """RQ's worker registration, which writes the worker's hash anew: every state is written again after it."""
        self._state_written = None
        super().register_birth()

    def check_for_suspension(self, burst):
        """RQ's ``rq suspend`` check (one round trip: a heartbeat and the flag), at most every SUSPENSION_CHECK_SECONDS
        between jobs."""
        if time.monotonic() - self._last_suspension_check < SUSPENSION_CHECK_SECONDS:
            return
        self._last_suspension_check = time.monotonic()
        super().check_for_suspension(burst)

    def request_stop(self, signum, frame):
        """Warm shutdown: the loops in threads finish their chunk and stop too."""
        for sibling in self.siblings:
            sibling.stop_after_current_job()
        super().request_stop(signum, frame)

    def subscribe(self):
        """RQ's command channel, with a thread that looks at its stop flag every second (RQ's 60 s).

        With redis-py 8, ``unsubscribe`` waits for that thread; when it has seen the unsubscription
        before the stop flag it sleeps its whole period, and a warm shutdown took up to a minute.
        """
        self.log.info("Worker %s: subscribing to channel %s", self.name, self.pubsub_channel_name)
        self.pubsub = self.connection.pubsub()
        self.pubsub.subscribe(**{self.pubsub_channel_name: self.handle_payload})
        self.pubsub_thread = self.pubsub.run_in_thread(
            sleep_time=PUBSUB_POLL_SECONDS, daemon=True, exception_handler=self._pubsub_exception_handler)

    def dequeue_job_and_maintain_ttl(self, timeout, max_idle_time=None):
        """The next job; a fairly queued one moves its queue's clock on (see ``service.queue.FairQueue``).

        A burst loop that finds the queues empty first lets the closing writer commit what it holds (a
        finished evaluation's closing queues its webhook deliveries and leaderboard refresh), then looks again.
        """
        found = super().dequeue_job_and_maintain_ttl(timeout, max_idle_time)
        writer = runtime.closing_writer()
        while found is None and timeout is None and writer is not None and writer.pending():
            writer.drain()
            found = super().dequeue_job_and_maintain_ttl(timeout, max_idle_time)
        if found is not None:
            job, queue = found
            fair_job_taken(self.connection, queue.name, job.id)
        return found


class InFlightWorker(JudgeWorker):
    """One more chunk in flight: a SimpleWorker loop in a thread of the worker process.

    Signals reach only the main thread, so the main loop passes stop requests on; a job's timeout
    is a timer in this thread instead of SIGALRM; and an idle loop looks at stop requests every
    THREAD_DEQUEUE_SECONDS instead of blocking on Redis until a job comes.
    """

    death_penalty_class = TimerDeathPenalty

    def _install_signal_handlers(self) -> None:
        """Signals are the main thread's."""

    def stop_after_current_job(self) -> None:
        """Leave the loop after the running job (or at the next idle wake-up)."""
        self._stop_requested = True

    def dequeue_job_and_maintain_ttl(self, timeout, max_idle_time=None):
        """The next job; None once a stop is requested (or, with --burst, when the queues are empty)."""
        if timeout is None:  # burst: one look at the queues
            return super().dequeue_job_and_maintain_ttl(timeout, max_idle_time)
        while not self._stop_requested:
            found = super().dequeue_job_and_maintain_ttl(timeout, THREAD_DEQUEUE_SECONDS)
            if found is not None:
                return found
        return None


class DeliveryWorker(InFlightWorker):
    """A loop in a thread of the delivery process: it sends webhook deliveries and takes no judge work."""


def take_turns(backend) -> None:
    """Make concurrent chunk jobs call ``backend.generate`` one at a time (the backend is shared)."""
    generate, lock = backend.generate, threading.Lock()

    def one_at_a_time(requests):
        with lock:
            return generate(requests)

    backend.generate = one_at_a_time


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
    importlib.import_module(JUDGE_CHUNK_JOB.rpartition(".")[0])  # its imports (scipy...) now, not in the first job
    all_protocols()  # every protocol registers (and is checked) now: a broken one stops the start, not a job
    runtime.configure(settings)
    backend = runtime.backend(judge_name)  # load the engine now, not in the first job
    if make_url(settings.effective_database_url()).get_backend_name() == "postgresql":
        runtime.start_closing_writer(settings.worker_chunks_in_flight)
    tune_for_worker(keep_memory=judges[judge_name].backend != "vllm")
    in_flight = settings.worker_chunks_in_flight
    if in_flight > 1 and judges[judge_name].backend in IN_PROCESS_ENGINES:
        take_turns(backend)
    # the RQ worker and its heartbeat share a name, so the gateway's reaper can tell when a job's worker died
    name = name or runtime.worker_id()
    runtime.start_heartbeat([judge_name], name)
    deliveries = None
    if burst:  # no delivery process: this one's loops send its deliveries once the judge's queue is empty
        runtime.start_webhook_sweeper()
    else:
        from workers.delivery_worker import DeliveryProcess

        deliveries = DeliveryProcess(name)
        deliveries.start()
    queues = queues_in_order(settings, judge_name, burst)
    worker = JudgeWorker(queues, connection=Redis.from_url(settings.redis_url), name=name)
    worker.siblings = [InFlightWorker(queues, connection=Redis.from_url(settings.redis_url), name=f"{name}-{k}")
                       for k in range(1, in_flight)]
    # each loop in a thread beats under its own RQ name as well: the reaper looks a started job's worker up by name
    beats = [Heartbeat(settings, sibling.name, [judge_name]) for sibling in worker.siblings]
    threads = [threading.Thread(target=sibling.work, name=f"judgeserve-chunk-{k}", daemon=True,
                                kwargs={"burst": burst, "logging_level": settings.log_level})
               for k, sibling in enumerate(worker.siblings, start=1)]
    log.info("worker %s serving judge %s on queue %s, %d chunk(s) in flight", worker.name, judge_name,
             settings.queue_name(judge_name), in_flight)
    try:
        for beat in beats:
            beat.start()
        for thread in threads:
            thread.start()
        worker.work(burst=burst, with_scheduler=not burst, logging_level=settings.log_level)
        if not burst:  # stopped: the other loops finish the chunk they hold, then stop too
            for sibling in worker.siblings:
                sibling.stop_after_current_job()
        for thread in threads:  # with --burst each loop stops by itself when the queues are empty
            thread.join()
        runtime.stop_closing_writer()  # every chunk this worker judged is stored before its deliveries stop
    finally:  # also a cold shutdown (a second signal): threads are daemons and end with the process
        for sibling in worker.siblings:
            sibling.stop_after_current_job()
        for beat in beats:
            beat.stop()
        if deliveries is not None:
            deliveries.stop(timeout=settings.webhooks.timeout_seconds * 4 + 10)
        runtime.shutdown()
    return 0

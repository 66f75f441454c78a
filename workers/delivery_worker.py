"""The delivery process: the loops that send webhook deliveries, in a process of their own.

Every judge worker starts one (``python -m workers --deliveries``) and stops it when it stops, so
that a project's fan-out (endpoints × completions) never competes with judging for a place in a
queue or for the judge process's interpreter lock: deliveries are many small I/O-bound jobs, and
in the judge's process they slowed every chunk down. The process runs
``webhooks.delivery_threads`` RQ loops on the webhook queue (the main one handles signals, the
others are threads) and the webhook sweep (retries, rows whose job was lost). It exits when its
judge worker is gone. It can also be run on its own, e.g. on a machine without a judge.
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import threading
import time

from redis import Redis

from service.config import get_settings
from service.logging_setup import configure_logging
from workers import runtime
from workers.judge_worker import DeliveryWorker, JudgeWorker, delivery_queues

log = logging.getLogger(__name__)

PARENT_CHECK_SECONDS = 2.0
MAX_RESTART_DELAY_SECONDS = 60.0  # the longest pause between restarts of a process that keeps failing
RESTART_DELAY_SECONDS = 1.0


def serve_deliveries(burst: bool = False, name: str | None = None, parent_pid: int | None = None) -> int:
    """Send webhook deliveries until stopped (or, with burst, until the webhook queue is empty)."""
    settings = get_settings()
    configure_logging(settings.log_level)
    if settings.embedded:
        log.error("a delivery process needs JUDGESERVE_DATABASE_URL and JUDGESERVE_REDIS_URL (production mode)")
        return 2
    runtime.configure(settings)
    name = name or runtime.worker_id()
    queues = delivery_queues(settings)
    worker = JudgeWorker(queues, connection=Redis.from_url(settings.redis_url), name=f"{name}-webhooks-1")
    worker.siblings = [DeliveryWorker(queues, connection=Redis.from_url(settings.redis_url),
                                      name=f"{name}-webhooks-{k}")
                       for k in range(2, settings.webhooks.delivery_threads + 1)]
    threads = [threading.Thread(target=loop.work, name=f"judgeserve-deliveries-{k}", daemon=True,
                                kwargs={"burst": burst, "logging_level": settings.log_level})
               for k, loop in enumerate(worker.siblings, start=2)]
    if parent_pid:
        threading.Thread(target=_stop_when_orphaned, args=(parent_pid,), daemon=True).start()
    runtime.start_webhook_sweeper()
    log.info("delivery process %s: %d loop(s) on %s", name, 1 + len(threads), queues[0])
    try:
        for thread in threads:
            thread.start()
        worker.work(burst=burst, with_scheduler=False, logging_level=settings.log_level)
        for loop in worker.siblings:
            loop.stop_after_current_job()
        for thread in threads:
            thread.join()
    finally:
        for loop in worker.siblings:
            loop.stop_after_current_job()
        runtime.shutdown()
    return 0


def _stop_when_orphaned(parent_pid: int) -> None:
    """A warm shutdown once the judge worker that started this process is gone (e.g. it was killed)."""
    while os.getppid() == parent_pid:
        threading.Event().wait(PARENT_CHECK_SECONDS)
    log.warning("judge worker %d is gone: the delivery process stops", parent_pid)
    os.kill(os.getpid(), signal.SIGTERM)


class DeliveryProcess(threading.Thread):
    """Runs a judge worker's delivery process, starts it again if it ends by itself, stops it on ``stop``."""

    def __init__(self, name: str):
        super().__init__(name="judgeserve-delivery-process", daemon=True)
        self.worker_name = name
        self.child: subprocess.Popen | None = None
        self._stopping = threading.Event()
        self._lock = threading.Lock()

    def run(self) -> None:
        """Keep one delivery process running until stopped."""
        args = [sys.executable, "-m", "workers", "--deliveries", "--name", self.worker_name,
                "--parent-pid", str(os.getpid())]
        delay = RESTART_DELAY_SECONDS
        while not self._stopping.is_set():
            with self._lock:
                if self._stopping.is_set():
                    return
                self.child = subprocess.Popen(args)
            started = time.monotonic()
            code = self.child.wait()
            if not self._stopping.is_set():
                # a process that keeps dying at start (bad settings, Redis gone) is retried ever more slowly
                delay = RESTART_DELAY_SECONDS if time.monotonic() - started > MAX_RESTART_DELAY_SECONDS \
                    else min(delay * 2, MAX_RESTART_DELAY_SECONDS)
                log.warning("delivery process exited with %s; starting it again in %.0f s", code, delay)
                self._stopping.wait(delay)

    def stop(self, timeout: float) -> None:
        """Warm shutdown of the delivery process (its attempts under way end first), then SIGKILL."""
        with self._lock:
            self._stopping.set()
            child = self.child
        if child is None or child.poll() is not None:
            return
        child.send_signal(signal.SIGTERM)
        try:
            child.wait(timeout)
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait()

"""The worker process's closing writer: a chunk's closing transaction commits in a thread while the next job runs.

A chunk job ends with one transaction (its last judgments, its verdicts, its progress and, for the
evaluation's last chunk, finalize) that keeps Postgres busy for ~12 ms per 200-item chunk, while
the worker's Python would otherwise wait. The job computes everything that transaction writes in
its own thread, hands it here and returns; the next job is judged while it commits (Postgres works
in its own process, and psycopg releases the GIL while it waits).

What this changes: RQ records a chunk's job as finished before its chunk is stored. Nothing is
lost by that: the chunk is stored exactly once by ``repository.complete_chunk`` whoever closes it,
and a chunk whose closing did not commit (the process was killed, Postgres went away) stays
pending with a finished job, which the gateway's reaper queues again (``reaper.lost_chunks``). A
close that raises goes through the same policy as a job that raises (``chunk_closing.after_failure``).

At most ``in_flight`` closings wait here at once: a job hands its closing over only once a slot is
free, so a worker never runs more than that many closings ahead of what it stored. ``drain`` waits
until every handed-over closing has run; the worker calls it before it exits. The thread is a daemon:
a process that must end (a second signal) does not wait for a closing stuck on an unreachable database.
"""

from __future__ import annotations

import logging
import queue
import threading
from concurrent.futures import Future, wait
from typing import Callable

log = logging.getLogger(__name__)


class ClosingWriter:
    """One daemon thread that runs handed-over closings one after the other, at most ``in_flight`` waiting."""

    def __init__(self, in_flight: int = 1):
        self._in_flight = max(1, in_flight)
        self._slots = threading.BoundedSemaphore(self._in_flight)
        self._lock = threading.Lock()
        self._pending: set[Future] = set()
        self._queue: queue.SimpleQueue[tuple[Future, Callable[[], None]] | None] = queue.SimpleQueue()
        self._stopped = False
        self._thread = threading.Thread(target=self._loop, name="judgeserve-closing", daemon=True)
        self._thread.start()

    def submit(self, close: Callable[[], None]) -> bool:
        """Run ``close`` in the writer thread once a slot is free (waits for an earlier closing otherwise);
        False (nothing queued) once the writer is stopped: the caller closes the chunk itself.

        ``close`` must deal with its own errors (an error that still escapes is logged here).
        """
        self._slots.acquire()
        future: Future = Future()
        queued = False
        try:  # a job timeout raised in here must not leak the slot, nor hide a queued closing from drain
            with self._lock:
                if not self._stopped:
                    self._pending.add(future)
                    self._queue.put((future, close))
                    queued = True
        finally:
            if not queued:
                self._slots.release()
        return queued

    def may_close_last(self, chunks_not_done: int) -> bool:
        """Whether a chunk of an evaluation that had ``chunks_not_done`` chunks not done at its claim may be the
        last one to close (the closings waiting here may be the others)."""
        return chunks_not_done <= 1 + self._in_flight

    def pending(self) -> bool:
        """Whether some handed-over closing has not finished yet."""
        with self._lock:
            return bool(self._pending)

    def drain(self, timeout: float | None = None) -> bool:
        """Wait until every handed-over closing has run; False if some still runs after ``timeout`` seconds."""
        with self._lock:
            pending = list(self._pending)
        return not wait(pending, timeout=timeout).not_done

    def stop(self, timeout: float | None = None) -> bool:
        """Take no more closings, wait for the handed-over ones (up to ``timeout`` s), end the thread; False if
        some were still running (their chunks stay pending for the reaper)."""
        with self._lock:
            self._stopped = True
            self._queue.put(None)
        drained = self.drain(timeout)
        if not drained:
            log.error("closing writer stopped with closings still running: their chunks stay pending for the reaper")
        return drained

    def _loop(self) -> None:
        while (handed := self._queue.get()) is not None:
            future, close = handed
            try:
                close()
            except Exception:  # the closing's own failure handling failed too: the reaper has the chunk
                log.exception("a chunk's closing failed in the closing writer")
            finally:
                with self._lock:
                    self._pending.discard(future)
                self._slots.release()
                future.set_result(None)

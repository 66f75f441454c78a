"""A background thread that records the worker's heartbeat in the database."""

from __future__ import annotations

import logging
import os
import socket
import threading

from service.config import Settings
from service.db.engine import session_scope
from service.judges.heartbeats import beat, retire

log = logging.getLogger(__name__)


class Heartbeat(threading.Thread):
    """Beats every ``settings.heartbeat_seconds`` until stopped; retires the worker on stop."""

    def __init__(self, settings: Settings, worker_id: str, judges: list[str]):
        super().__init__(name="judgeserve-heartbeat", daemon=True)
        self.url = settings.effective_database_url()
        self.interval = settings.heartbeat_seconds
        self.worker_id = worker_id
        self.judges = judges
        self._stop_event = threading.Event()

    def run(self) -> None:
        """Beat until stopped; a database outage only delays the next beat."""
        while not self._stop_event.is_set():
            try:
                with session_scope(self.url) as session:
                    beat(session, self.worker_id, self.judges, socket.gethostname(), os.getpid())
            except Exception as exc:  # keep beating once the database is back
                log.warning("heartbeat failed: %s", exc)
            self._stop_event.wait(self.interval)

    def stop(self) -> None:
        """Stop beating and remove this worker's rows."""
        self._stop_event.set()
        self.join(timeout=5)
        try:
            with session_scope(self.url) as session:
                retire(session, self.worker_id)
        except Exception as exc:
            log.warning("could not retire worker %s: %s", self.worker_id, exc)

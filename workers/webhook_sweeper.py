"""A background thread in every worker (and the embedded gateway) that sends due webhook deliveries.

It is what makes retries happen at their ``next_attempt_at`` (no RQ scheduler involved) and what
sends outbox rows whose delivery job was lost (the worker that finished the evaluation died
before queueing it, or Redis was down). It runs once at start, then every
``webhooks.poll_seconds``. Several workers may sweep at once: each attempt is claimed atomically.
"""

from __future__ import annotations

import logging
import threading

from service.config import Settings
from service.webhooks.delivery import sweep

log = logging.getLogger(__name__)


class WebhookSweeper(threading.Thread):
    """Sweeps every ``settings.webhooks.poll_seconds`` until stopped."""

    def __init__(self, settings: Settings):
        super().__init__(name="judgeserve-webhooks", daemon=True)
        self.settings = settings
        self.interval = settings.webhooks.poll_seconds
        self._stop_event = threading.Event()

    def run(self) -> None:
        """Sweep until stopped; a database outage only delays the next sweep."""
        while not self._stop_event.is_set():
            try:
                while sweep(self.settings) and not self._stop_event.is_set():
                    pass  # a full batch: look again at once
            except Exception as exc:  # keep sweeping once the database is back
                log.warning("webhook sweep failed: %s", exc)
            self._stop_event.wait(self.interval)

    def stop(self) -> None:
        """Stop after the attempt under way (if any)."""
        self._stop_event.set()
        self.join(timeout=self.settings.webhooks.timeout_seconds * 4 + 5)

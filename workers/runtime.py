"""Process-wide state of a worker: settings and the one backend per judge, built once."""

from __future__ import annotations

import logging
import os
import socket
import threading
import uuid

from service.config import Settings, get_settings
from service.core.judging import JudgeBackend
from service.queue import Dispatcher, RQDispatcher
from workers.backends import build_backend
from workers.backends.embedding import build_similarity_backend
from workers.closing_writer import ClosingWriter
from workers.heartbeat import Heartbeat
from workers.webhook_sweeper import WebhookSweeper

log = logging.getLogger(__name__)

_lock = threading.Lock()
_settings: Settings | None = None
_backends: dict[str, JudgeBackend] = {}
_heartbeat: Heartbeat | None = None
_dispatcher: Dispatcher | None = None
_similarity: JudgeBackend | None = None
_sweeper: WebhookSweeper | None = None
_closing_writer: ClosingWriter | None = None
# how long a shutdown waits for the closing writer (a worker stopped normally has drained it already)
SHUTDOWN_CLOSING_SECONDS = 30.0


def configure(settings: Settings) -> None:
    """Use these settings in this process (instead of reading the environment)."""
    global _settings
    _settings = settings


def settings() -> Settings:
    """The settings this process runs with."""
    return _settings or get_settings()


def backend(judge_name: str) -> JudgeBackend:
    """The backend of a judge, built on first use and then reused for every job."""
    with _lock:
        if judge_name not in _backends:
            judge = settings().judges()[judge_name]
            log.info("building backend for judge %s (%s, %s)", judge.name, judge.backend, judge.model)
            _backends[judge_name] = build_backend(judge, settings())
        return _backends[judge_name]


def similarity_backend() -> JudgeBackend:
    """The embedding model for similarity calls, loaded on first use and then reused."""
    global _similarity
    with _lock:
        if _similarity is None:
            _similarity = build_similarity_backend(settings().embedding_model)
        return _similarity


def worker_id() -> str:
    """A unique name for this worker process."""
    return f"{socket.gethostname()}.{os.getpid()}.{uuid.uuid4().hex[:6]}"


def start_heartbeat(judges: list[str], name: str | None = None) -> Heartbeat:
    """Start announcing that this process (``name``: its RQ worker name) serves ``judges``."""
    global _heartbeat
    _heartbeat = Heartbeat(settings(), name or worker_id(), judges)
    _heartbeat.start()
    return _heartbeat


def start_webhook_sweeper() -> WebhookSweeper:
    """Start sending due webhook deliveries (retries, and rows whose job was lost) from this process."""
    global _sweeper
    _sweeper = WebhookSweeper(settings())
    _sweeper.start()
    return _sweeper


def dispatcher() -> Dispatcher:
    """Where jobs started by jobs go: the embedded runner, or RQ (created on first use)."""
    global _dispatcher
    with _lock:
        if _dispatcher is None:
            _dispatcher = RQDispatcher(settings())
        return _dispatcher


def start_embedded(embedded_settings: Settings, embedded_dispatcher: Dispatcher) -> None:
    """Embedded mode: serve every configured judge in this process."""
    global _dispatcher
    configure(embedded_settings)
    _dispatcher = embedded_dispatcher
    start_heartbeat(sorted(embedded_settings.judges()))
    start_webhook_sweeper()


def start_closing_writer(in_flight: int = 1) -> ClosingWriter:
    """Chunk jobs in this process hand their closing transaction to a writer thread (see workers.closing_writer)."""
    global _closing_writer
    with _lock:
        if _closing_writer is None:
            _closing_writer = ClosingWriter(in_flight)
        return _closing_writer


def closing_writer() -> ClosingWriter | None:
    """The process's closing writer, if it has one (a judge worker on Postgres); None: chunk jobs commit inline."""
    return _closing_writer


def stop_closing_writer(timeout: float | None = None) -> None:
    """Wait (up to ``timeout`` s) until every handed-over closing has committed, then end the writer (chunk jobs
    commit inline again)."""
    global _closing_writer
    writer, _closing_writer = _closing_writer, None
    if writer is not None:
        writer.stop(timeout)


def shutdown() -> None:
    """Commit what the closing writer holds, stop the heartbeat and release every backend."""
    global _heartbeat, _dispatcher, _similarity, _sweeper
    stop_closing_writer(SHUTDOWN_CLOSING_SECONDS)  # its closings still queue deliveries through the dispatcher
    _dispatcher = None
    _similarity = None
    if _sweeper is not None:
        _sweeper.stop()
        _sweeper = None
    if _heartbeat is not None:
        _heartbeat.stop()
        _heartbeat = None
    with _lock:
        for name, engine in list(_backends.items()):
            try:
                engine.close()
            except Exception:  # shutting down: report and go on
                log.exception("closing backend %s failed", name)
        _backends.clear()

"""The Prometheus collector behind GET /metrics: reads Postgres (or SQLite) and Redis at scrape time.

Every query is an aggregate over an indexed column or a primary-key range (see
``service.metrics.totals`` for how judge calls are counted without scanning the judgments table).
A database or Redis outage does not fail the scrape: ``judgeserve_dependency_up`` says which
one is down, and the metrics that need it are left out.
"""

from __future__ import annotations

import logging
import time
from datetime import datetime, timedelta, timezone
from typing import Iterable, Iterator

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.registry import Collector

from service.config import Settings
from service.db.clock import database_now
from service.db.engine import session_scope
from service.metrics import repository as repo
from service.metrics.totals import OUTCOMES, JudgeTotals, JudgmentTotals
from service.queue import webhook_queue

log = logging.getLogger(__name__)

STATUSES = ("queued", "running", "completed", "failed", "cancelled")
# per-worker heartbeat series are kept for workers seen within this window (dead ones age out)
WORKER_SERIES_SECONDS = 3600.0
STATEMENT_TIMEOUT_MS = 5000


def _utc(value: datetime | str | None) -> datetime | None:
    """A timezone-aware UTC datetime (SQLite returns naive ones, or text from aggregates)."""
    if value is None:
        return None
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value if value.tzinfo else value.replace(tzinfo=timezone.utc)


class ServiceCollector(Collector):
    """Evaluations, queues, judge calls, cache hits, heartbeats and webhook deliveries, read at scrape time."""

    def __init__(self, settings: Settings, totals: JudgmentTotals | None = None):
        self.settings = settings
        self.totals = totals or JudgmentTotals()
        self._redis = None

    def describe(self) -> Iterable[Metric]:
        """Nothing up front: registering must not query the database."""
        return []

    def collect(self) -> Iterator[Metric]:
        """All families for one scrape."""
        started = time.perf_counter()
        judges = sorted(self.settings.judges())
        up = GaugeMetricFamily("judgeserve_dependency_up", "1 when the dependency answered this scrape.",
                               labels=["dependency"])
        families: list[Metric] = []
        try:
            families.extend(self._database_families(judges))
            up.add_metric(["database"], 1)
        except Exception as exc:  # report the outage, keep the scrape alive
            log.warning("metrics: database unavailable: %s", exc)
            up.add_metric(["database"], 0)
        if not self.settings.embedded:
            try:
                families.extend(self._queue_families(judges))
                up.add_metric(["redis"], 1)
            except Exception as exc:
                log.warning("metrics: Redis unavailable: %s", exc)
                up.add_metric(["redis"], 0)
        yield from families
        yield up
        duration = GaugeMetricFamily("judgeserve_scrape_duration_seconds",
                                     "Time this gateway took to gather the metrics of this scrape.")
        duration.add_metric([], time.perf_counter() - started)
        yield duration

    # ------------------------------------------------------------------ database

    def _database_families(self, judges: list[str]) -> list[Metric]:
        with session_scope(self.settings.effective_database_url()) as session:
            repo.statement_timeout(session, STATEMENT_TIMEOUT_MS)
            now = database_now(session)  # heartbeats are written on the database's clock
            self.totals.refresh(session)
            statuses = repo.evaluations_by_status(session)
            progress = repo.active_item_progress(session)
            chunks = repo.active_chunks(session)
            beats = repo.heartbeats_since(session, now - timedelta(seconds=max(WORKER_SERIES_SECONDS,
                                                                            2 * self.settings.heartbeat_ttl_seconds)))
            webhooks = repo.webhook_delivery_outcomes(session)
        totals = self.totals.snapshot()
        names = sorted(set(judges) | set(totals) | {judge for judge, _, _ in statuses})
        families = self._evaluation_families(names, statuses, progress, chunks, now)
        families += self._judge_call_families(names, totals)
        families += self._heartbeat_families(names, beats, now)
        deliveries = CounterMetricFamily(
            "judgeserve_webhook_deliveries", "Webhook delivery attempts by outcome.",
            labels=["outcome"])
        for outcome, n in sorted(webhooks.items()):
            deliveries.add_metric([outcome], n)
        families.append(deliveries)
        return families

    @staticmethod
    def _evaluation_families(names: list[str], statuses: list[tuple[str, str, int]],
                             progress: list[tuple[str, int, int, int]],
                             chunks: list[tuple[str, int, int, datetime | None]], now: datetime) -> list[Metric]:
        by_status = GaugeMetricFamily("judgeserve_evaluations", "Evaluations by judge and status.",
                                      labels=["judge", "status"])
        counts = {(judge, status): n for judge, status, n in statuses}
        for judge in names:
            for status in sorted(set(STATUSES) | {s for j, s in counts if j == judge}):
                by_status.add_metric([judge, status], counts.get((judge, status), 0))
        pending_items = GaugeMetricFamily(
            "judgeserve_items_pending", "Items of queued and running evaluations not yet verdicted.", labels=["judge"])
        left = {judge: total - done - failed for judge, total, done, failed in progress}
        pending_chunks = GaugeMetricFamily(
            "judgeserve_chunks_pending", "Unfinished chunks of queued and running evaluations.", labels=["judge"])
        started_chunks = GaugeMetricFamily(
            "judgeserve_chunks_started", "Chunks a worker claimed that have not finished (running, or their worker "
            "died).", labels=["judge"])
        oldest = GaugeMetricFamily(
            "judgeserve_chunk_oldest_started_age_seconds", "Seconds since the longest-running unfinished chunk was "
            "claimed; far above a chunk's usual time means a stuck or dead worker.", labels=["judge"])
        by_judge = {judge: (pending, started, first) for judge, pending, started, first in chunks}
        for judge in names:
            pending, started, first = by_judge.get(judge, (0, 0, None))
            pending_items.add_metric([judge], left.get(judge, 0))
            pending_chunks.add_metric([judge], pending)
            started_chunks.add_metric([judge], started)
            first = _utc(first)
            oldest.add_metric([judge], max(0.0, (now - first).total_seconds()) if first else 0.0)
        return [by_status, pending_items, pending_chunks, started_chunks, oldest]

    @staticmethod
    def _judge_call_families(names: list[str], totals: dict[str, JudgeTotals]) -> list[Metric]:
        calls = CounterMetricFamily(
            "judgeserve_judge_calls", "Judge calls stored, by outcome: ok, error (the call failed) or unscored "
            "(its output could not be read). Cached answers are included.", labels=["judge", "outcome"])
        cache_hits = CounterMetricFamily(
            "judgeserve_judge_cache_hits", "Judge calls answered from the judge-call cache.", labels=["judge"])
        unscored = CounterMetricFamily(
            "judgeserve_judge_unscored_outputs", "Judge outputs that could not be read as a verdict.", labels=["judge"])
        latency = HistogramMetricFamily(
            "judgeserve_judge_latency_seconds", "Engine latency of judge calls (not cached, not failed).",
            labels=["judge"])
        prompt = HistogramMetricFamily(
            "judgeserve_judge_prompt_tokens", "Prompt tokens of judge calls (not cached, not failed).",
            labels=["judge"])
        completion = HistogramMetricFamily(
            "judgeserve_judge_completion_tokens", "Completion tokens of judge calls (not cached, not failed).",
            labels=["judge"])
        for judge in names:
            t = totals.get(judge) or JudgeTotals()
            for outcome in OUTCOMES:
                calls.add_metric([judge, outcome], t.calls[outcome])
            cache_hits.add_metric([judge], t.cache_hits)
            unscored.add_metric([judge], t.calls["unscored"])
            for family, histogram in ((latency, t.latency), (prompt, t.prompt_tokens),
                                      (completion, t.completion_tokens)):
                family.add_metric([judge], histogram.cumulative(), histogram.total)
        return [calls, cache_hits, unscored, latency, prompt, completion]

    def _heartbeat_families(self, names: list[str], beats: list[tuple[str, str, datetime]],
                            now: datetime) -> list[Metric]:
        ttl = self.settings.heartbeat_ttl_seconds
        live = GaugeMetricFamily(
            "judgeserve_workers_live", f"Workers whose last heartbeat is at most the heartbeat TTL ({ttl:g} s) old.",
            labels=["judge"])
        newest = GaugeMetricFamily(
            "judgeserve_judge_heartbeat_age_seconds", "Seconds since the newest heartbeat of any worker serving "
            "the judge (absent when none was seen in the last hour).", labels=["judge"])
        per_worker = GaugeMetricFamily(
            "judgeserve_worker_heartbeat_age_seconds", "Seconds since each worker's last heartbeat (workers seen in "
            "the last hour; a worker that stops cleanly is removed).", labels=["judge", "worker"])
        ages: dict[str, list[float]] = {}
        for judge, worker, seen in beats:
            age = max(0.0, (now - _utc(seen)).total_seconds())
            ages.setdefault(judge, []).append(age)
            per_worker.add_metric([judge, worker], age)
        for judge in sorted(set(names) | set(ages)):
            judge_ages = ages.get(judge, [])
            live.add_metric([judge], sum(age <= ttl for age in judge_ages))
            if judge_ages:
                newest.add_metric([judge], min(judge_ages))
        return [live, newest, per_worker]

    # ------------------------------------------------------------------ Redis

    def _redis_client(self):
        if self._redis is None:
            from redis import Redis

            self._redis = Redis.from_url(self.settings.redis_url, socket_connect_timeout=2, socket_timeout=2)
        return self._redis

    def _queue_families(self, judges: list[str]) -> list[Metric]:
        from rq.queue import Queue
        from rq.registry import FailedJobRegistry, StartedJobRegistry

        depth = GaugeMetricFamily("judgeserve_queue_depth", "Jobs waiting in the judge's RQ queue.",
                                  labels=["judge", "queue"])
        started = GaugeMetricFamily(
            "judgeserve_queue_started_jobs", "Jobs in the queue's RQ started registry (being worked on; a dead "
            "worker's job stays here until its timeout).", labels=["judge", "queue"])
        failed = GaugeMetricFamily("judgeserve_queue_failed_jobs", "Jobs in the queue's RQ failed registry.",
                                   labels=["judge", "queue"])
        client = self._redis_client()
        queues = [(judge, self.settings.queue_name(judge)) for judge in judges]
        queues += [("", self.settings.aggregate_queue), ("", webhook_queue(self.settings))]
        pipe = client.pipeline(transaction=False)
        for _, name in queues:
            pipe.llen(Queue.redis_queue_namespace_prefix + name)
            pipe.zcard(StartedJobRegistry(name, connection=client).key)
            pipe.zcard(FailedJobRegistry(name, connection=client).key)
        answers = pipe.execute()
        for i, (judge, name) in enumerate(queues):
            waiting, running, dead = answers[3 * i: 3 * i + 3]
            depth.add_metric([judge, name], waiting)
            started.add_metric([judge, name], running)
            failed.add_metric([judge, name], dead)
        return [depth, started, failed]

    def close(self) -> None:
        """Release the Redis connection pool."""
        if self._redis is not None:
            self._redis.close()
            self._redis = None

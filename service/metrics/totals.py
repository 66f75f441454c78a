"""Running totals of the judgments table, kept by the gateway and brought up to date at each scrape.

Workers are separate processes, so the gateway cannot count their judge calls as they happen.
Counting the whole table at every scrape would grow with it (millions of rows), so the
gateway keeps totals per judge and, at each scrape, reads only judgments it has not seen:

- ids above the highest one read so far (a primary-key range scan: only what arrived since the
  last scrape);
- ids that were missing from earlier scans ("gaps"). A chunk's transaction takes its ids when it
  inserts and may commit after a later transaction, so a lower id can appear after a higher one
  was read. Gaps are looked up again by primary key until they are ``gap_ttl`` seconds old
  (most are ids that conflicting inserts consumed and that never appear);
- when far behind (the first scrape of a new gateway, or after a long pause), everything more
  than ``margin`` ids below the newest is aggregated in the database in one statement, and only
  the newest ``margin`` ids are read row by row.

Every gateway process counts the whole table, so several gateways report the same totals, and a
restarted gateway continues from the same values (no counter reset). A failed judge call that a
later attempt replaces keeps its id and is counted once, as the outcome first seen.
"""

from __future__ import annotations

import copy
import threading
import time
from bisect import bisect_left
from dataclasses import dataclass, field
from typing import Sequence

from sqlalchemy.orm import Session

from service.metrics import repository as repo

LATENCY_BUCKETS_SECONDS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0)
PROMPT_TOKEN_BUCKETS = (16, 32, 64, 128, 256, 512, 1024, 2048, 4096, 8192, 16384, 32768)
COMPLETION_TOKEN_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 2048, 4096)
OUTCOMES = ("ok", "error", "unscored")


@dataclass
class Histogram:
    """Per-bucket counts (not cumulative; the last bucket is +Inf) and the sum of observed values."""

    bounds: Sequence[float]
    counts: list[int] = field(default_factory=list)
    total: float = 0.0

    def __post_init__(self) -> None:
        self.counts = self.counts or [0] * (len(self.bounds) + 1)

    def observe(self, value: float, n: int = 1, bucket: int | None = None, total: float | None = None) -> None:
        """Add ``n`` observations of ``value`` (or of a known bucket with a known sum)."""
        self.counts[bisect_left(self.bounds, value) if bucket is None else bucket] += n
        self.total += value * n if total is None else total

    def cumulative(self) -> list[tuple[str, int]]:
        """(le, cumulative count) pairs ending with +Inf, as Prometheus wants them."""
        running, pairs = 0, []
        for bound, count in zip([*map(_le, self.bounds), "+Inf"], self.counts):
            running += count
            pairs.append((bound, running))
        return pairs


def _le(bound: float) -> str:
    return f"{bound:g}"


@dataclass
class JudgeTotals:
    """Everything counted for one judge."""

    calls: dict[str, int] = field(default_factory=lambda: dict.fromkeys(OUTCOMES, 0))
    cache_hits: int = 0
    latency: Histogram = field(default_factory=lambda: Histogram(LATENCY_BUCKETS_SECONDS))
    prompt_tokens: Histogram = field(default_factory=lambda: Histogram(PROMPT_TOKEN_BUCKETS))
    completion_tokens: Histogram = field(default_factory=lambda: Histogram(COMPLETION_TOKEN_BUCKETS))


def outcome_of(failed: bool, unscored: bool) -> str:
    """'error' (the call failed), 'unscored' (its output could not be read) or 'ok'."""
    return "error" if failed else "unscored" if unscored else "ok"


class JudgmentTotals:
    """Totals per judge over the judgments table, refreshed incrementally (thread-safe)."""

    def __init__(self, margin: int = 20_000, gap_ttl: float = 600.0, max_gaps: int = 100_000):
        self.margin = margin
        self.gap_ttl = gap_ttl
        self.max_gaps = max_gaps
        self._lock = threading.Lock()
        self._reset()

    def _reset(self) -> None:
        self.high = 0  # every id <= high was read, or is a gap being watched
        self.gaps: dict[int, float] = {}  # id -> when it was first found missing (monotonic seconds)
        self.judges: dict[str, JudgeTotals] = {}
        self.rows_read = 0
        self.bulk_ranges = 0

    def snapshot(self) -> dict[str, JudgeTotals]:
        """A copy of the current totals."""
        with self._lock:
            return copy.deepcopy(self.judges)

    def refresh(self, session: Session, now: float | None = None) -> None:
        """Read what arrived since the last refresh."""
        now = time.monotonic() if now is None else now
        with self._lock:
            top = repo.max_judgment_id(session)
            if top < self.high:  # ids went backwards: the table was emptied and restarted
                self._reset()
            settled = top - self.margin
            if settled > self.high:
                self._add_groups(repo.judgment_groups_between(
                    session, self.high, settled, [b * 1000.0 for b in LATENCY_BUCKETS_SECONDS],
                    PROMPT_TOKEN_BUCKETS, COMPLETION_TOKEN_BUCKETS))
                self.high = settled
                self.bulk_ranges += 1
            self._expire_gaps(now)
            if self.gaps:
                found = repo.judgment_rows_by_id(session, self.gaps)
                for row in found:
                    self.gaps.pop(row.id, None)
                self._add_rows(found)
            if top > self.high:
                rows = repo.judgment_rows_between(session, self.high, top)
                seen = {row.id for row in rows}
                for missing in range(self.high + 1, top + 1):
                    if missing not in seen:
                        self.gaps[missing] = now
                self._add_rows(rows)
                self.high = top
            self._expire_gaps(now)

    def _expire_gaps(self, now: float) -> None:
        expired = [i for i, since in self.gaps.items() if now - since > self.gap_ttl]
        for i in expired:
            del self.gaps[i]
        if len(self.gaps) > self.max_gaps:  # keep the newest
            for i in sorted(self.gaps)[: len(self.gaps) - self.max_gaps]:
                del self.gaps[i]

    def _judge(self, name: str) -> JudgeTotals:
        if name not in self.judges:
            self.judges[name] = JudgeTotals()
        return self.judges[name]

    def _add_rows(self, rows: Sequence[repo.JudgmentRow]) -> None:
        for row in rows:
            totals = self._judge(row.judge)
            totals.calls[outcome_of(row.failed, row.unscored)] += 1
            if row.cached:
                totals.cache_hits += 1
            elif not row.failed:  # engine calls only: cached answers cost nothing, failures say nothing
                totals.latency.observe(row.latency_ms / 1000.0)
                totals.prompt_tokens.observe(row.prompt_tokens)
                totals.completion_tokens.observe(row.completion_tokens)
        self.rows_read += len(rows)

    def _add_groups(self, groups: Sequence[repo.JudgmentGroup]) -> None:
        for g in groups:
            totals = self._judge(g.judge)
            totals.calls[outcome_of(g.failed, g.unscored)] += g.n
            if g.cached:
                totals.cache_hits += g.n
            elif not g.failed:
                totals.latency.observe(0.0, g.n, g.latency_bucket, g.latency_ms / 1000.0)
                totals.prompt_tokens.observe(0.0, g.n, g.prompt_bucket, float(g.prompt_tokens))
                totals.completion_tokens.observe(0.0, g.n, g.completion_bucket, float(g.completion_tokens))

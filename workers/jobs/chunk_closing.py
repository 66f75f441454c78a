"""Closing a chunk: its last judgments, its verdicts and its progress in one transaction (finalize when it is the
evaluation's last), committed in the job or in the worker's closing writer; and what a job does when it raises."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, NamedTuple

from service.core.protocol import CallResult
from service.db import json_codec
from service.db.engine import session_scope
from service.evaluations import repository as repo
from service.evaluations import chunk_queries
from service.evaluations.chunk_queries import ChunkEvaluation
from service.evaluations.repository import ItemRow
from service.evaluations.results import HeldChunk, failed_verdict_row, finalize_or_fail, verdict_row
from service.models import Evaluation
from service.outages import is_transient
from service.queue import enqueue_aggregate
from service.webhooks.delivery import queue_deliveries
from workers import runtime
from workers.held_chunks import HELD

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from workers.jobs.judge_chunk import _Work

log = logging.getLogger(__name__)

# A chunk whose job raised (not for an outage) on this many of its starts is given up.
MAX_RAISING_ATTEMPTS = 3
# seconds between the closing writer's attempts to queue what follows a finished evaluation, while Redis is away
AFTER_CLOSE_RETRY_SECONDS = (1.0, 5.0, 15.0)


@dataclass(frozen=True)
class Claim:
    """A chunk a job counted an attempt on: its evaluation, earlier starts (all; raising) and item range."""

    evaluation: ChunkEvaluation | Evaluation
    attempts: int
    start: int
    stop: int
    raised: int = 0
    items: list[ItemRow] | None = None  # the chunk's items, when the claim read them


class Closed(NamedTuple):
    """What closing a chunk did: whether it closed the evaluation, the chunk to hold for finalize, and whether
    it was the evaluation's last chunk (the evaluation's held chunks are then dropped)."""

    finalized: bool = False
    held: HeldChunk | None = None
    last: bool = False
    payload_bytes: int = 0  # the held items' payloads as JSON (what holding them costs, roughly)


@dataclass(frozen=True)
class Closing:
    """What closing a chunk writes, computed in the job's thread before the transaction begins."""

    claim: Claim
    chunk_index: int
    work: _Work
    rows: list[dict[str, Any]]  # the last stage's judgment rows
    # the chunk's verdict rows combined from what the job holds; None: combine them from a re-read (some row of
    # an earlier stage was not stored as given, or the database cannot say whether the last stage's were)
    verdicts: list[dict[str, Any]] | None
    all_written: bool  # every earlier stage's rows were stored as given


def prepare(claim: Claim, chunk_index: int, work: _Work, rows: list[dict[str, Any]], all_written: bool,
            counts_rows: bool) -> Closing:
    """The closing of a chunk whose calls are all made; ``counts_rows``: the database says how many rows a
    statement stored as given (Postgres), so the verdicts can be combined now, before the judgments are written."""
    verdicts = None
    if all_written and counts_rows:
        verdicts = combine(work, {item_id: [results[key] for key in sorted(results)]
                                  for item_id, results in work.results.items()})
    return Closing(claim, chunk_index, work, rows, verdicts, all_written)


def close(url: str, closing: Closing) -> Closed:
    """Commit the closing transaction, hold the chunk for finalize, and queue what follows a finished evaluation."""
    closed = _commit(url, closing)
    after_close(closing.claim.evaluation, closed.finalized)
    return closed


def close_in_background(url: str, closing: Closing) -> None:
    """``close`` in the closing writer, raising nothing. A failed transaction is handled as the job's own failure
    would be (the chunk stays pending and the gateway's reaper queues it again, or it is given up); a failure to
    queue what follows a finished evaluation (Redis away) is retried a few times, then logged."""
    claim, index = closing.claim, closing.chunk_index
    try:
        closed = _commit(url, closing)
    except Exception as exc:
        if after_failure(url, claim, index, exc):
            log.warning("closing chunk %d of evaluation %s failed (%s: %s); it stays pending and is queued again",
                        index, claim.evaluation.id, type(exc).__name__, exc,
                        extra={"evaluation_id": claim.evaluation.id, "chunk_index": index})
        else:
            give_up(url, claim, index, exc)
        return
    for pause in (*AFTER_CLOSE_RETRY_SECONDS, None):
        try:
            after_close(claim.evaluation, closed.finalized)
            return
        except Exception as exc:
            if pause is None or not is_transient(exc):
                log.error("evaluation %s is stored and closed, but queueing its webhook deliveries and leaderboard "
                          "refresh failed (%s: %s): the webhook sweep sends the deliveries; the leaderboard is "
                          "refreshed when its suite's next evaluation completes", claim.evaluation.id,
                          type(exc).__name__, exc, extra={"evaluation_id": claim.evaluation.id})
                return
            time.sleep(pause)


def _commit(url: str, closing: Closing) -> Closed:
    """The closing transaction, then the chunk held for finalize (or the evaluation's held chunks dropped)."""
    with session_scope(url) as session:
        closed = _write(session, closing)
    evaluation_id = closing.claim.evaluation.id
    if closed.last:
        HELD.forget(evaluation_id)
    elif closed.held is not None:
        HELD.add(evaluation_id, closed.held, closed.payload_bytes)
    return closed


def _write(session: Session, closing: Closing) -> Closed:
    """The closing transaction's statements; ``Closed()`` when another run of the chunk closed it first."""
    work, evaluation = closing.work, closing.claim.evaluation
    written = repo.add_judgments(session, closing.rows) if closing.rows else True
    verdicts = closing.verdicts
    if verdicts is None or not written:
        verdicts = combine(work, repo.call_results_by_item(session, [item.id for item in work.items]))
    failed = sum(1 for v in verdicts if v["failed"])
    remaining = chunk_queries.complete_chunk(session, evaluation.id, closing.chunk_index, len(verdicts) - failed, failed)
    if remaining is None:  # another run of the chunk closed it: its verdicts and counts stand together
        return Closed()
    repo.put_verdicts(session, verdicts)
    held = HeldChunk(*work.span, [(item.position, item.id, work.parsed[item.id], verdict)
                                  for item, verdict in zip(work.items, verdicts)])
    if remaining != 0:
        return Closed(held=held, payload_bytes=sum(len(json_codec.dumps(item.payload)) if item.payload_chars is None
                                                   else item.payload_chars for item in work.items))
    return Closed(finalize_or_fail(session, evaluation.id, [*HELD.chunks(evaluation.id), held]), last=True)


def combine(work: _Work, stored: dict[int, list[CallResult]]) -> list[dict[str, Any]]:
    """The verdict row of every item of the chunk from its calls."""
    return [verdict_row(work.protocol, work.options, work.evaluation.id, item.id, work.parsed[item.id],
                        stored.get(item.id, [])) for item in work.items]


def after_close(evaluation: ChunkEvaluation | Evaluation, finalized: bool) -> None:
    """Once the evaluation is closed: queue its webhook deliveries and its leaderboard refresh."""
    if not finalized:
        return
    # the outbox rows are committed: queue their delivery jobs (the sweep covers a lost one)
    queue_deliveries(runtime.settings(), runtime.dispatcher(), evaluation.id)
    if evaluation.suite:
        enqueue_aggregate(runtime.dispatcher(), runtime.settings(), evaluation.project_id, evaluation.suite,
                          evaluation.protocol, evaluation.judge)


def after_failure(url: str, claim: Claim, chunk_index: int, exc: Exception) -> bool:
    """A chunk's job (or closing) raised: True when the chunk is left to run again (an outage, or a raise counted
    below MAX_RAISING_ATTEMPTS), False when it must be given up."""
    if is_transient(exc):
        return True
    if claim.raised + 1 < MAX_RAISING_ATTEMPTS:
        with session_scope(url) as session:
            chunk_queries.count_raise(session, claim.evaluation.id, chunk_index)
        return True
    log.error("chunk %d of evaluation %s raised on %d starts: giving it up", chunk_index, claim.evaluation.id,
              claim.raised + 1, exc_info=exc,
              extra={"evaluation_id": claim.evaluation.id, "chunk_index": chunk_index})
    return False


def give_up(url: str, claim: Claim, chunk_index: int, exc: Exception) -> str:
    """Close a chunk that keeps raising: each of its items gets a failed verdict that says why."""
    reason = f"chunk given up after {claim.raised + 1} starts that raised; last error: {type(exc).__name__}: {exc}"
    with session_scope(url) as session:
        item_ids = repo.item_ids_in_range(session, claim.evaluation.id, claim.start, claim.stop)
        remaining = chunk_queries.complete_chunk(session, claim.evaluation.id, chunk_index, 0, len(item_ids))
        if remaining is None:  # another run of the chunk closed it meanwhile: its verdicts stand
            return "skipped (the chunk was closed by another run)"
        repo.put_verdicts(session, [failed_verdict_row(claim.evaluation.id, item_id, reason[:2000])
                                    for item_id in item_ids])
        finalized = remaining == 0 and finalize_or_fail(session, claim.evaluation.id)
    if remaining == 0:
        HELD.forget(claim.evaluation.id)
    after_close(claim.evaluation, finalized)
    return f"gave up {len(item_ids)} items: {reason}"

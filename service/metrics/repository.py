"""The queries behind /metrics: small aggregates over indexed columns, and judgments read by primary key."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Iterable, NamedTuple, Sequence

from sqlalchemy import case, func, select, text
from sqlalchemy.orm import Session

from service.evaluations.repository import ACTIVE
from service.models import Chunk, Evaluation, Judgment, WebhookAttempt, WorkerHeartbeat


class JudgmentRow(NamedTuple):
    """What /metrics needs of one judge call."""

    id: int
    judge: str
    failed: bool
    unscored: bool
    cached: bool
    latency_ms: float
    prompt_tokens: int
    completion_tokens: int


class JudgmentGroup(NamedTuple):
    """Judge calls aggregated by judge, outcome, cache flag and histogram bucket indexes."""

    judge: str
    failed: bool
    unscored: bool
    cached: bool
    latency_bucket: int
    prompt_bucket: int
    completion_bucket: int
    n: int
    latency_ms: float
    prompt_tokens: int
    completion_tokens: int


def statement_timeout(session: Session, milliseconds: int) -> None:
    """Bound every query of this transaction (Postgres only; SQLite queries here are local and small)."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text(f"SET LOCAL statement_timeout = {int(milliseconds)}"))


def max_judgment_id(session: Session) -> int:
    """The highest judgment id (0 when there is none): one step down the primary key index."""
    return int(session.scalar(select(func.max(Judgment.id))) or 0)


def _row_columns() -> list[Any]:
    return [
        Judgment.id, Evaluation.judge, Judgment.error.isnot(None), Judgment.label.is_(None),
        func.coalesce(Judgment.cached, False), func.coalesce(Judgment.latency_ms, 0.0),
        func.coalesce(Judgment.prompt_tokens, 0), func.coalesce(Judgment.completion_tokens, 0),
    ]


def judgment_rows_between(session: Session, after: int, upto: int) -> list[JudgmentRow]:
    """Judge calls with after < id <= upto (a primary-key range scan)."""
    query = (select(*_row_columns()).join(Evaluation, Evaluation.id == Judgment.evaluation_id)
             .where(Judgment.id > after, Judgment.id <= upto).order_by(Judgment.id))
    return [JudgmentRow(*row) for row in session.execute(query)]


def judgment_rows_by_id(session: Session, ids: Iterable[int], batch: int = 500) -> list[JudgmentRow]:
    """Judge calls with these ids (primary-key lookups, in batches)."""
    wanted = sorted(ids)
    rows: list[JudgmentRow] = []
    for start in range(0, len(wanted), batch):
        query = (select(*_row_columns()).join(Evaluation, Evaluation.id == Judgment.evaluation_id)
                 .where(Judgment.id.in_(wanted[start:start + batch])))
        rows.extend(JudgmentRow(*row) for row in session.execute(query))
    return rows


def _bucket_index(column: Any, bounds: Sequence[float]) -> Any:
    """SQL for the index of the first bound >= value (len(bounds) when above all): portable width_bucket."""
    return case(*[(column <= bound, index) for index, bound in enumerate(bounds)], else_=len(bounds))


def judgment_groups_between(session: Session, after: int, upto: int, latency_ms_bounds: Sequence[float],
                            prompt_bounds: Sequence[float], completion_bounds: Sequence[float]) -> list[JudgmentGroup]:
    """Judge calls with after < id <= upto aggregated in the database (one scan, used for large ranges)."""
    latency = func.coalesce(Judgment.latency_ms, 0.0)
    prompt = func.coalesce(Judgment.prompt_tokens, 0)
    completion = func.coalesce(Judgment.completion_tokens, 0)
    keys = [
        Evaluation.judge, Judgment.error.isnot(None), Judgment.label.is_(None), func.coalesce(Judgment.cached, False),
        _bucket_index(latency, latency_ms_bounds), _bucket_index(prompt, prompt_bounds),
        _bucket_index(completion, completion_bounds),
    ]
    query = (select(*keys, func.count(), func.sum(latency), func.sum(prompt), func.sum(completion))
             .join(Evaluation, Evaluation.id == Judgment.evaluation_id)
             .where(Judgment.id > after, Judgment.id <= upto)
             .group_by(*keys))
    return [JudgmentGroup(judge, bool(failed), bool(unscored), bool(cached), int(lb), int(pb), int(cb), int(n),
                          float(lat or 0.0), int(pt or 0), int(ct or 0))
            for judge, failed, unscored, cached, lb, pb, cb, n, lat, pt, ct in session.execute(query)]


def evaluations_by_status(session: Session) -> list[tuple[str, str, int]]:
    """(judge, status, count) over all evaluations."""
    query = select(Evaluation.judge, Evaluation.status, func.count()).group_by(Evaluation.judge, Evaluation.status)
    return [(judge, status, int(n)) for judge, status, n in session.execute(query)]


def active_item_progress(session: Session) -> list[tuple[str, int, int, int]]:
    """(judge, items, items done, items failed) over queued and running evaluations (status index)."""
    query = (select(Evaluation.judge, func.sum(Evaluation.total), func.sum(Evaluation.done),
                    func.sum(Evaluation.failed))
             .where(Evaluation.status.in_(ACTIVE)).group_by(Evaluation.judge))
    return [(judge, int(t or 0), int(d or 0), int(f or 0)) for judge, t, d, f in session.execute(query)]


def active_chunks(session: Session) -> list[tuple[str, int, int, datetime | None]]:
    """(judge, pending chunks, chunks started but unfinished, oldest such chunk's last start) of active evaluations.

    A chunk is started when a worker claims it (attempts > 0) and stays pending until its
    transaction commits; one that stays so for longer than a job takes belongs to a dead worker.
    """
    started = Chunk.attempts > 0
    query = (select(Evaluation.judge, func.count(), func.sum(case((started, 1), else_=0)),
                    func.min(case((started, Chunk.updated_at), else_=None)))
             .join(Chunk, Chunk.evaluation_id == Evaluation.id)
             .where(Evaluation.status.in_(ACTIVE), Chunk.status == "pending")
             .group_by(Evaluation.judge))
    return [(judge, int(n), int(s or 0), oldest) for judge, n, s, oldest in session.execute(query)]


def heartbeats_since(session: Session, since: datetime) -> list[tuple[str, str, datetime]]:
    """(judge, worker id, last seen) of workers seen since ``since`` (last_seen index)."""
    query = (select(WorkerHeartbeat.judge, WorkerHeartbeat.worker_id, WorkerHeartbeat.last_seen)
             .where(WorkerHeartbeat.last_seen >= since))
    return [(judge, worker, seen) for judge, worker, seen in session.execute(query)]


def webhook_delivery_outcomes(session: Session) -> dict[str, int]:
    """Webhook delivery attempts by outcome: ``delivered`` (2xx) and ``failed`` (every other finished attempt:
    retried, given up, refused or lost with its worker); attempts under way are not counted."""
    query = select(WebhookAttempt.outcome, func.count()).group_by(WebhookAttempt.outcome)
    found = {outcome: int(n) for outcome, n in session.execute(query)}
    return {"delivered": found.get("succeeded", 0),
            "failed": sum(n for outcome, n in found.items() if outcome not in ("succeeded", "sending"))}

"""The chunk job's own queries: claim a chunk, read its items, count a raise, close it exactly once.

Kept lean (Core statements and plain rows, one statement where Postgres allows it): a worker runs them
for every chunk, and the ORM's bookkeeping cost more than the statements (see bench/README.md).
"""

from __future__ import annotations

from typing import NamedTuple

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from service.db import json_codec
from service.db.clock import database_clock
from service.evaluations.repository import TERMINAL, ItemRow, now
from service.models import Chunk, Evaluation, Item

class ChunkStart(NamedTuple):
    """A pending chunk whose attempt was just counted: earlier starts (all; raising), its item range and, when the
    claim read them too (Postgres), its items in order."""

    attempts: int
    raised: int
    start: int
    stop: int
    items: list[ItemRow] | None = None


_CHUNKS, _EVALUATIONS = Chunk.__table__, Evaluation.__table__  # Core statements: no ORM bookkeeping per job


class ChunkEvaluation(NamedTuple):
    """What a chunk job reads of its evaluation (same attribute names as ``Evaluation``; no ORM object)."""

    id: str
    project_id: str
    protocol: str
    judge: str
    options: dict
    status: str
    suite: str | None
    chunks_total: int
    chunks_done: int


def chunk_evaluation(session: Session, evaluation_id: str) -> ChunkEvaluation | None:
    """The evaluation a chunk job works for, as plain columns."""
    row = session.execute(select(*(_EVALUATIONS.c[name] for name in ChunkEvaluation._fields))
                          .where(_EVALUATIONS.c.id == evaluation_id)).first()
    return ChunkEvaluation(*row) if row is not None else None


_CLAIM_CHUNK = (
    "WITH started AS (UPDATE chunks SET attempts = attempts + 1, updated_at = clock_timestamp() "
    "WHERE evaluation_id = %(e)s AND \"index\" = %(i)s AND status = 'pending' AND EXISTS "
    f"(SELECT 1 FROM evaluations WHERE id = %(e)s AND status NOT IN ({', '.join(repr(s) for s in TERMINAL)})) "
    "RETURNING attempts - 1 AS attempts, raised, start, stop), "
    "running AS (UPDATE evaluations SET status = 'running', started_at = %(now)s "
    "WHERE id = %(e)s AND status = 'queued' AND EXISTS (SELECT 1 FROM started) RETURNING 1) "
    f"SELECT {', '.join('e.' + name for name in ChunkEvaluation._fields)}, s.attempts, s.raised, s.start, s.stop, "
    "i.ids, i.positions, i.keys, i.lengths, i.payloads "
    "FROM evaluations e LEFT JOIN started s ON true LEFT JOIN LATERAL (SELECT array_agg(id ORDER BY position) AS ids, "
    "array_agg(position ORDER BY position) AS positions, array_agg(item_key ORDER BY position) AS keys, "
    "array_agg(length(text) ORDER BY position) AS lengths, "
    "'[' || string_agg(text, ',' ORDER BY position) || ']' AS payloads FROM (SELECT id, position, item_key, "
    "payload::text AS text FROM items WHERE evaluation_id = %(e)s AND position >= s.start AND position < s.stop) "
    "converted) i ON true WHERE e.id = %(e)s")  # each payload converted to text once


def claim_chunk(session: Session, evaluation_id: str, chunk_index: int
                ) -> tuple[ChunkEvaluation | None, ChunkStart | None]:
    """The evaluation (as read before the claim) and, when the chunk was pending and its evaluation not ended, the
    counted attempt; the evaluation turns running with its first claimed chunk. One statement on Postgres, which
    also reads the chunk's items (as ``items_in_range`` gives them)."""
    if session.get_bind().dialect.name != "postgresql":
        evaluation = chunk_evaluation(session, evaluation_id)
        started = None if evaluation is None or evaluation.status in TERMINAL else (
            start_chunk(session, evaluation_id, chunk_index))
        if started is not None and evaluation is not None and evaluation.status == "queued":
            mark_running(session, evaluation_id)
        return evaluation, started
    row = session.connection().exec_driver_sql(_CLAIM_CHUNK, {"e": evaluation_id, "i": chunk_index,
                                                              "now": now()}).first()
    if row is None:
        return None, None
    width = len(ChunkEvaluation._fields)
    evaluation, (attempts, raised, start, stop, ids, positions, keys, lengths, payloads) = (
        ChunkEvaluation(*row[:width]), row[width:])
    if attempts is None:
        return evaluation, None
    items = [] if ids is None else [
        ItemRow(*columns) for columns in zip(ids, [evaluation_id] * len(ids), positions, keys,
                                            json_codec.loads(payloads), lengths)]
    return evaluation, ChunkStart(attempts, raised, start, stop, items)


def start_chunk(session: Session, evaluation_id: str, chunk_index: int) -> ChunkStart | None:
    """Count an attempt on a pending chunk (one statement); None when the chunk is missing or not pending."""
    row = session.execute(
        update(_CHUNKS)
        .where(_CHUNKS.c.evaluation_id == evaluation_id, _CHUNKS.c.index == chunk_index, _CHUNKS.c.status == "pending")
        .values(attempts=_CHUNKS.c.attempts + 1, updated_at=database_clock(session))  # read against the same clock
        .returning(_CHUNKS.c.attempts - 1, _CHUNKS.c.raised, _CHUNKS.c.start, _CHUNKS.c.stop)
    ).first()
    return ChunkStart(*row) if row is not None else None


def mark_running(session: Session, evaluation_id: str) -> None:
    """queued → running (once)."""
    session.execute(update(_EVALUATIONS)
                    .where(_EVALUATIONS.c.id == evaluation_id, _EVALUATIONS.c.status == "queued")
                    .values(status="running", started_at=now()))


def items_in_range(session: Session, evaluation_id: str, start: int, stop: int) -> list[ItemRow]:
    """Items with start <= position < stop, in order (plain rows: a chunk job only reads them).

    On Postgres the payloads come as JSON text and are decoded in one msgspec call (half the client's
    time of decoding each row's JSON value as it arrives); the same values either way (tested).
    """
    if session.get_bind().dialect.name == "postgresql":
        rows = session.connection().exec_driver_sql(_ITEMS_IN_RANGE, {"e": evaluation_id, "a": start, "b": stop}).all()
        payloads = json_codec.loads("[" + ",".join(payload for *_, payload in rows) + "]") if rows else []
        return [ItemRow(item_id, evaluation_id, position, key, payload, len(text))
                for (item_id, position, key, text), payload in zip(rows, payloads)]
    query = select(Item.id, Item.position, Item.item_key, Item.payload).where(
        Item.evaluation_id == evaluation_id, Item.position >= start, Item.position < stop
    )
    return [ItemRow(item_id, evaluation_id, position, key, payload)
            for item_id, position, key, payload in session.execute(query.order_by(Item.position))]


_ITEMS_IN_RANGE = ("SELECT id, position, item_key, payload::text FROM items "
                   "WHERE evaluation_id = %(e)s AND position >= %(a)s AND position < %(b)s ORDER BY position")


def count_raise(session: Session, evaluation_id: str, chunk_index: int) -> None:
    """Count a start of the chunk that raised an error that was not an outage."""
    session.execute(update(Chunk).where(Chunk.evaluation_id == evaluation_id, Chunk.index == chunk_index)
                    .values(raised=Chunk.raised + 1))


_COMPLETE_CHUNK = (
    "WITH closed AS (UPDATE chunks SET status = 'done', updated_at = %(now)s "
    "WHERE evaluation_id = %(e)s AND \"index\" = %(i)s AND status = 'pending' RETURNING 1) "
    "UPDATE evaluations SET done = done + %(done)s, failed = failed + %(failed)s, chunks_done = chunks_done + 1 "
    "WHERE id = %(e)s AND EXISTS (SELECT 1 FROM closed) RETURNING chunks_total - chunks_done")


def complete_chunk(session: Session, evaluation_id: str, index: int, done: int, failed: int) -> int | None:
    """Mark a chunk done and add its counts to progress, exactly once.

    Returns how many of the evaluation's chunks are still not done, or None if this chunk already was.
    """
    if session.get_bind().dialect.name == "postgresql":  # both updates in one statement (one round trip)
        return session.connection().exec_driver_sql(_COMPLETE_CHUNK, {
            "e": evaluation_id, "i": index, "now": now(), "done": done, "failed": failed}).scalar()
    chunks, evaluations = _CHUNKS.c, _EVALUATIONS.c
    result = session.execute(
        update(_CHUNKS)
        .where(chunks.evaluation_id == evaluation_id, chunks.index == index, chunks.status == "pending")
        .values(status="done", updated_at=now())
    )
    if result.rowcount != 1:
        return None
    progress = session.execute(
        update(_EVALUATIONS)
        .where(evaluations.id == evaluation_id)
        .values(done=evaluations.done + done, failed=evaluations.failed + failed,
                chunks_done=evaluations.chunks_done + 1)
        .returning(evaluations.chunks_total - evaluations.chunks_done)
    )
    return progress.scalar_one()

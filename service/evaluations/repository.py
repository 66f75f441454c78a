"""All database queries about evaluations, items, chunks, judgments and verdicts."""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime, timezone
from typing import Any, NamedTuple, Sequence

from sqlalchemy import Row, case, insert, or_, select, tuple_, update
from sqlalchemy.orm import Session

from service.core.protocol import CallResult, all_protocols
from service.db.conflict import among, insert_ignoring_conflicts, upsert
from service.evaluations.schemas import EvaluationFilters
from service.evaluations.tag_queries import tag_condition
from service.models import Chunk, Evaluation, Item, Judgment, Verdict

TERMINAL = ("completed", "failed", "cancelled")
ACTIVE = ("queued", "running")
VERDICT_COLUMNS = ("outcome", "score", "unscored", "failed", "position_inconsistent", "bpde", "details")
LIST_COLUMNS = ("id", "status", "protocol", "judge", "model", "suite", "suite_version", "baseline_model", "total",
                "done", "failed", "chunks_total", "chunks_done", "created_at", "started_at", "completed_at", "tags",
                "leaderboard")


class ItemRow(NamedTuple):
    """An item's columns, read without the ORM (same attribute names as ``Item``)."""

    id: int
    evaluation_id: str
    position: int
    item_key: str
    payload: dict
    payload_chars: int | None = None  # the length of the payload's JSON text, when it was read as text


class VerdictRow(NamedTuple):
    """A verdict's columns that results need, read without the ORM (same attribute names as ``Verdict``).

    Not its created_at: converting 10,000 timestamps cost finalize more than reading them.
    """

    item_id: int
    evaluation_id: str
    outcome: str | None
    score: float | None
    unscored: bool
    failed: bool
    position_inconsistent: bool
    needs_review: bool
    reviewed: bool
    bpde: float | None
    details: dict


VERDICT_ROW_COLUMNS = tuple(getattr(Verdict, name) for name in VerdictRow._fields)


def now() -> datetime:
    """Timezone-aware UTC now."""
    return datetime.now(timezone.utc)


def add_evaluation(session: Session, evaluation: dict[str, Any], items: list[dict], chunks: list[dict]) -> None:
    """Store a new evaluation with its items and chunks (bulk, one statement per table)."""
    session.execute(insert(Evaluation), [evaluation])
    if items:
        session.execute(insert(Item), items)
    if chunks:
        session.execute(insert(Chunk), chunks)


def add_new_items(session: Session, items: list[dict]) -> dict[str, int]:
    """Store a batch of an evaluation's items (one insert, one read); the ids already stored → their first position.

    On Postgres the batch travels as one array per column (``insert_ignoring_conflicts``), and the
    positions are read back with one ``= ANY(array)``: a multi-row VALUES with RETURNING took twice
    as long (its thousands of placeholders are parsed again for every batch).
    """
    if not items:
        return {}
    insert_ignoring_conflicts(session, Item, items, ("evaluation_id", "item_key"))
    stored: dict[str, int] = {}
    for condition in among(session, Item.item_key, sorted({row["item_key"] for row in items})):
        query = select(Item.item_key, Item.position).where(Item.evaluation_id == items[0]["evaluation_id"], condition)
        stored.update((key, position) for key, position in session.execute(query))
    return {row["item_key"]: stored[row["item_key"]] for row in items if stored[row["item_key"]] != row["position"]}


def add_chunks_and_totals(session: Session, evaluation_id: str, chunks: list[dict], total: int) -> None:
    """Store an uploaded evaluation's chunks and set its item and chunk counts."""
    if chunks:
        session.execute(insert(Chunk), chunks)
    session.execute(update(Evaluation).where(Evaluation.id == evaluation_id)
                    .values(total=total, chunks_total=len(chunks)))


def get_evaluation(session: Session, evaluation_id: str, for_update: bool = False) -> Evaluation | None:
    """The evaluation with this id, optionally row-locked."""
    query = select(Evaluation).where(Evaluation.id == evaluation_id)
    if for_update:
        query = query.with_for_update()
    return session.scalars(query).first()


def get_chunk(session: Session, evaluation_id: str, index: int) -> Chunk | None:
    """One chunk of an evaluation."""
    return session.get(Chunk, (evaluation_id, index))


def pending_chunks_of_active(session: Session, created_before: datetime | None = None) -> list[tuple[str, str, int]]:
    """(evaluation id, judge, chunk index) of every pending chunk of a queued or running evaluation
    (only of evaluations created before ``created_before``, when given)."""
    query = (
        select(Evaluation.id, Evaluation.judge, Chunk.index)
        .join(Chunk, Chunk.evaluation_id == Evaluation.id)
        .where(Evaluation.status.in_(ACTIVE), Chunk.status == "pending")
        .order_by(Evaluation.created_at, Chunk.index)
    )
    if created_before is not None:
        query = query.where(Evaluation.created_at < created_before)
    return [(evaluation_id, judge, index) for evaluation_id, judge, index in session.execute(query)]


def item_ids_in_range(session: Session, evaluation_id: str, start: int, stop: int) -> list[int]:
    """Ids of the items with start <= position < stop."""
    query = select(Item.id).where(Item.evaluation_id == evaluation_id, Item.position >= start,
                                  Item.position < stop).order_by(Item.position)
    return list(session.scalars(query))


def judgments_by_item(session: Session, item_ids: Sequence[int]) -> dict[int, list[Judgment]]:
    """Stored judgments of these items, grouped by item id (one query)."""
    grouped: dict[int, list[Judgment]] = defaultdict(list)
    if item_ids:
        query = select(Judgment).where(Judgment.item_id.in_(list(item_ids)))
        for judgment in session.scalars(query.order_by(Judgment.item_id, Judgment.order, Judgment.sample)):
            grouped[judgment.item_id].append(judgment)
    return grouped


def call_results_by_item(session: Session, item_ids: Sequence[int]) -> dict[int, list[CallResult]]:
    """Stored judge calls of these items as parsed results, grouped by item id (one query, no ORM objects)."""
    grouped: dict[int, list[CallResult]] = defaultdict(list)
    for condition in among(session, Judgment.item_id, item_ids):
        query = (
            select(Judgment.item_id, Judgment.order, Judgment.sample, Judgment.label, Judgment.label_probs,
                   Judgment.raw_output, Judgment.error, Judgment.rationale)
            .where(condition)
            .order_by(Judgment.item_id, Judgment.order, Judgment.sample)
        )
        for item_id, order, sample, label, probs, raw, error, rationale in session.execute(query):
            grouped[item_id].append(CallResult(order, sample, label, probs, raw, error, rationale))
    return grouped


JUDGMENT_KEY = ("item_id", "order", "sample")


_FAILED_CALL = Judgment.error.isnot(None)  # a stored call an upsert may replace (one object: compiled once)


def add_judgments(session: Session, rows: list[dict[str, Any]]) -> bool:
    """Store judge calls; a successful call already stored is kept, a failed one is replaced.

    True when every row is known to be stored as given (none kept an earlier success).
    """
    if not rows:
        return True
    update_columns = [column for column in rows[0] if column not in JUDGMENT_KEY]
    written = upsert(session, Judgment, rows, JUDGMENT_KEY, update_columns, where=_FAILED_CALL, rows_as_json=True)
    return written == len(rows)


def put_verdicts(session: Session, rows: list[dict[str, Any]]) -> None:
    """Store or replace the verdicts of items."""
    upsert(session, Verdict, rows, ("item_id",), VERDICT_COLUMNS, rows_as_json=True)


def items_with_verdicts(session: Session, evaluation_id: str,
                        skip: Sequence[tuple[int, int]] = ()) -> list[tuple[ItemRow, VerdictRow | None]]:
    """Every item of an evaluation with its verdict, in submission order (one query); with ``skip``
    ranges (start, stop), not the items at those positions (a caller holding them already).

    Plain rows (attribute access like the models), not ORM objects: finalize reads every item of
    an evaluation, and loading 10,000 ORM instances into the session cost more than the query.
    """
    query = (
        select(Item.id, Item.position, Item.item_key, Item.payload, *VERDICT_ROW_COLUMNS)
        .outerjoin(Verdict, Verdict.item_id == Item.id)
        .where(Item.evaluation_id == evaluation_id)
        .order_by(Item.position)
    )
    gaps = position_gaps(skip)
    if gaps is not None:
        query = query.where(or_(*(Item.position >= start if stop is None
                                  else (Item.position >= start) & (Item.position < stop) for start, stop in gaps)))
    rows = []
    for row in session.execute(query):
        item = ItemRow(row[0], evaluation_id, row[1], row[2], row[3])
        rows.append((item, VerdictRow(*row[4:]) if row[4] is not None else None))
    return rows


def position_gaps(held: Sequence[tuple[int, int]]) -> list[tuple[int, int | None]] | None:
    """The position ranges (start, stop or None for open-ended) NOT covered by ``held``; None when nothing is held."""
    if not held:
        return None
    gaps: list[tuple[int, int | None]] = []
    reached = 0
    for start, stop in sorted(held):
        if start > reached:
            gaps.append((reached, start))
        reached = max(reached, stop)
    return gaps + [(reached, None)]


def set_review_flags(session: Session, evaluation_id: str, item_ids: Sequence[int]) -> None:
    """Flag exactly these items of the evaluation as needing human review.

    Only verdicts whose flag changes are written (at finalize none is flagged yet, so the first
    statement touches nothing), and no ORM objects are synchronised: none need to be loaded.
    """
    unflag = update(Verdict).where(Verdict.evaluation_id == evaluation_id, Verdict.needs_review.is_(True))
    session.execute(unflag.values(needs_review=False).execution_options(synchronize_session=False))
    for condition in among(session, Verdict.item_id, item_ids):
        flag = update(Verdict).where(Verdict.evaluation_id == evaluation_id, condition)
        session.execute(flag.values(needs_review=True).execution_options(synchronize_session=False))


def finish(session: Session, evaluation_id: str, status: str, summary: dict | None, reliability: dict | None,
           error: str | None = None) -> bool:
    """running → completed/failed with results; False if it was not running."""
    result = session.execute(
        update(Evaluation)
        .where(Evaluation.id == evaluation_id, Evaluation.status.in_(ACTIVE))
        .values(status=status, summary=summary, reliability=reliability, error=error, completed_at=now())
    )
    return result.rowcount == 1


def set_results(session: Session, evaluation_id: str, summary: dict, reliability: dict) -> None:
    """Replace a finished evaluation's summary and reliability report."""
    session.execute(update(Evaluation).where(Evaluation.id == evaluation_id)
                    .values(summary=summary, reliability=reliability))


def put_reviewed_verdict(session: Session, item_id: int, verdict: dict[str, Any]) -> None:
    """Store a verdict that a human label changed."""
    session.execute(update(Verdict).where(Verdict.item_id == item_id).values(**verdict, reviewed=True))


def cancel(session: Session, evaluation_id: str) -> bool:
    """Cancel a queued or running evaluation; False when it had already ended."""
    result = session.execute(
        update(Evaluation)
        .where(Evaluation.id == evaluation_id, Evaluation.status.in_(ACTIVE))
        .values(status="cancelled", completed_at=now())
    )
    return result.rowcount == 1


def verdict_page(
    session: Session, evaluation_id: str, after_position: int, limit: int, item_key: str | None = None
) -> list[tuple[Item, Verdict | None]]:
    """Items after a position with their verdict if made yet, in submission order (keyset pagination);
    with ``item_key``, only that item."""
    query = (
        select(Item, Verdict)
        .outerjoin(Verdict, Verdict.item_id == Item.id)
        .where(Item.evaluation_id == evaluation_id, Item.position > after_position)
        .order_by(Item.position)
        .limit(limit)
    )
    if item_key is not None:
        query = query.where(Item.item_key == item_key)
    return [(item, verdict) for item, verdict in session.execute(query)]


def verdicts_by_item(session: Session, evaluation_id: str) -> dict[str, Verdict]:
    """Item id → verdict of every item of an evaluation that has one."""
    query = select(Item.item_key, Verdict).join(Verdict, Verdict.item_id == Item.id).where(
        Item.evaluation_id == evaluation_id)
    return {key: verdict for key, verdict in session.execute(query)}


def scores_by_item(session: Session, evaluation_id: str) -> dict[str, float]:
    """Item id → score of every scored verdict of an evaluation."""
    query = (
        select(Item.item_key, Verdict.score)
        .join(Verdict, Verdict.item_id == Item.id)
        .where(Item.evaluation_id == evaluation_id, Verdict.unscored.is_(False), Verdict.failed.is_(False))
    )
    return {key: score for key, score in session.execute(query)}


def evaluation_page(session: Session, project_id: str, filters: EvaluationFilters,
                    after: tuple[datetime, str] | None, limit: int) -> list[Row]:
    """A project's evaluations newest first (keyset on created_at, id) with their headline metric; one query.

    Rows carry ``LIST_COLUMNS`` plus ``metric``, ``metric_value`` and ``metric_ci95`` read out of the
    summary by the database, so options, summaries and reliability reports are never loaded.
    """
    query = select(*(getattr(Evaluation, name) for name in LIST_COLUMNS), *_headline_columns())
    query = query.where(Evaluation.project_id == project_id)
    for name, value in filters.model_dump(exclude_none=True, exclude={"tags"}).items():
        query = query.where(getattr(Evaluation, name) == value)
    if filters.tags:
        query = query.where(tag_condition(filters.tags))
    if after is not None:  # a row comparison: one index range on (project_id, created_at, id)
        query = query.where(tuple_(Evaluation.created_at, Evaluation.id) < tuple_(*after))
    query = query.order_by(Evaluation.created_at.desc(), Evaluation.id.desc()).limit(limit)
    return list(session.execute(query))


def headline_metrics() -> tuple[str, ...]:
    """Every registered protocol's headline metric (what ``summary.metric`` may name), each once."""
    return tuple(dict.fromkeys(protocol.headline_metric for protocol in all_protocols()))


def _headline_columns() -> tuple:
    """``summary.metric``, ``summary[metric]`` and ``summary[metric + "_ci95"]`` as SQL (Postgres and SQLite)."""
    metric = Evaluation.summary["metric"].as_string()
    value = case(*((metric == name, Evaluation.summary[name].as_float()) for name in headline_metrics()))
    ci95 = case(*((metric == name, Evaluation.summary[f"{name}_ci95"]) for name in headline_metrics()))
    return metric.label("metric"), value.label("metric_value"), ci95.label("metric_ci95")

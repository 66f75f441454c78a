"""Evaluation use cases shared by the API and the CLI: submit, read, list, page verdicts, cancel."""

from __future__ import annotations

import logging
from typing import Callable

from sqlalchemy.orm import Session

from service.config import Settings
from service.core.bias_factors import self_preference_rows
from service.core.reliability_warnings import reliability_warnings
from service import cursors
from service.errors import Conflict, NotFound
from service.evaluations import pipeline
from service.evaluations import repository as repo
from service.evaluations.pipeline import chunk_job_id, enqueue_chunk  # noqa: F401  (the reaper queues chunks)
from service.evaluations.schemas import (
    EvaluationCreate, EvaluationFilters, EvaluationListItem, EvaluationOut, EvaluationPage, JudgmentOut, Progress,
    VerdictOut, VerdictPage,
)
from service.evaluations import upload
from service.idempotency import service as idempotency
from service.judges.heartbeats import live_workers
from service.reviews import repository as reviews_repo
from service.models import Evaluation
from service.queue import Dispatcher
from service.webhooks import outbox as webhook_outbox
from service.webhooks.delivery import queue_deliveries

log = logging.getLogger(__name__)


def create(session: Session, dispatcher: Dispatcher, settings: Settings, body: EvaluationCreate, project_id: str,
           idempotency_key: str | None = None) -> tuple[EvaluationOut, bool]:
    """Submit an evaluation (once per Idempotency-Key); returns it and whether this replays an earlier submission."""
    return _once(session, settings, project_id, idempotency_key, body.model_dump_json().encode(),
                 lambda claim: submit(session, dispatcher, settings, body, project_id, claim))


def create_from_upload(session: Session, dispatcher: Dispatcher, settings: Settings, header: upload.UploadHeader,
                       spooled: upload.Spool, project_id: str, query: bytes,
                       idempotency_key: str | None = None) -> tuple[EvaluationOut, bool]:
    """An evaluation from a streamed upload (NDJSON items, or an AlpacaEval / FastChat file mapped onto a suite)."""
    submission = upload.submission(header, spooled, settings)
    return _once(session, settings, project_id, idempotency_key, query + b"\n" + spooled.digest.encode(),
                 lambda claim: pipeline.submit(session, dispatcher, settings, submission, project_id, claim))


def _once(session: Session, settings: Settings, project_id: str, key: str | None, request: bytes,
          run: Callable[[idempotency.Claim | None], str]) -> tuple[EvaluationOut, bool]:
    """``run`` (a submission returning the evaluation's id) once per Idempotency-Key; the evaluation as shown."""
    evaluation_id, replayed = idempotency.once(session, project_id, key, "POST /v1/evaluations", request, run,
                                               replay=lambda earlier: earlier.body["id"])
    return get(session, settings, evaluation_id, project_id), replayed


def submit(session: Session, dispatcher: Dispatcher, settings: Settings, body: EvaluationCreate,
           project_id: str, claim: idempotency.Claim | None = None) -> str:
    """Validate, store and commit an evaluation of a project, then enqueue its chunks; returns its id."""
    return pipeline.submit(session, dispatcher, settings, pipeline.json_body(body, settings), project_id, claim)


def requeue_pending(session: Session, dispatcher: Dispatcher, settings: Settings) -> int:
    """Queue again every pending chunk of unfinished evaluations (embedded start-up); returns how many."""
    pending = repo.pending_chunks_of_active(session)
    for evaluation_id, judge, index in pending:
        enqueue_chunk(dispatcher, settings, evaluation_id, judge, index)
    return len(pending)


def owned(session: Session, evaluation_id: str, project_id: str, for_update: bool = False) -> Evaluation:
    """The project's evaluation with this id; NotFound for a missing one or another project's."""
    evaluation = repo.get_evaluation(session, evaluation_id, for_update=for_update)
    if evaluation is None or evaluation.project_id != project_id:
        raise NotFound(f"evaluation {evaluation_id} not found")
    return evaluation


def get(session: Session, settings: Settings, evaluation_id: str, project_id: str) -> EvaluationOut:
    """An evaluation as the API shows it, including whether it waits for a worker."""
    evaluation = owned(session, evaluation_id, project_id)
    waiting = False
    detail = None
    if evaluation.status in repo.ACTIVE:
        waiting = live_workers(session, settings.heartbeat_ttl_seconds).get(evaluation.judge, 0) == 0
        if waiting:
            detail = (f"waiting for a worker: no live worker serves judge {evaluation.judge!r} "
                      f"(start one with: judgeserve worker --judge {evaluation.judge})")
    reviews = reviews_repo.counts(session, evaluation_id) if evaluation.status == "completed" else None
    return _with_self_preference(to_out(evaluation, waiting, detail, reviews), settings)


def _with_self_preference(out: EvaluationOut, settings: Settings) -> EvaluationOut:
    """Add a self_preference bias row when the judge's configured model is the evaluated or the baseline model.

    Done on reading: the stored report comes from core, which does not know the judges' configuration.
    """
    bias = (out.reliability or {}).get("bias_factors")
    judge = settings.judges().get(out.judge) if bias else None
    rows = self_preference_rows(bias, judge.model, out.model, out.baseline_model) if judge else []
    if not rows:
        return out
    bias = {**bias, "rows": [*bias["rows"], *rows]}
    return out.model_copy(update={"reliability": {**out.reliability, "bias_factors": bias}})


def to_out(evaluation: Evaluation, waiting: bool = False, detail: str | None = None,
           reviews: dict[str, int] | None = None) -> EvaluationOut:
    """Map a stored evaluation onto its API shape."""
    base = f"/v1/evaluations/{evaluation.id}"
    return EvaluationOut(
        id=evaluation.id, status=evaluation.status, status_detail=detail, waiting_for_worker=waiting,
        protocol=evaluation.protocol, judge=evaluation.judge, model=evaluation.model, suite=evaluation.suite,
        suite_version=evaluation.suite_version, baseline_model=evaluation.baseline_model,
        options=evaluation.options,
        progress=Progress(total=evaluation.total, done=evaluation.done, failed=evaluation.failed,
                          chunks_total=evaluation.chunks_total, chunks_done=evaluation.chunks_done),
        summary=evaluation.summary, reliability=evaluation.reliability, error=evaluation.error, reviews=reviews,
        warnings=[w.as_dict() for w in reliability_warnings(evaluation.reliability, evaluation.summary)],
        created_at=evaluation.created_at, started_at=evaluation.started_at, completed_at=evaluation.completed_at,
        tags=evaluation.tags or {}, leaderboard=evaluation.leaderboard,
        links={"self": base, "verdicts": f"{base}/verdicts", "cancel": f"{base}/cancel",
               "reviews": f"/v1/reviews?status=open&evaluation_id={evaluation.id}"},
    )


def list_evaluations(session: Session, project_id: str, filters: EvaluationFilters, limit: int,
                     cursor: str | None) -> EvaluationPage:
    """A page of the project's evaluations, newest first (one query); ``next_cursor`` is null on the last page."""
    rows = repo.evaluation_page(session, project_id, filters, cursors.decode_time_cursor(cursor), limit + 1)
    more, rows = len(rows) > limit, rows[:limit]
    next_cursor = cursors.encode_time_cursor(rows[-1].created_at, rows[-1].id) if more else None
    return EvaluationPage(data=[_list_item(row) for row in rows], next_cursor=next_cursor)


def _list_item(row) -> EvaluationListItem:
    """One row of ``repo.evaluation_page`` in its API shape."""
    base = f"/v1/evaluations/{row.id}"
    return EvaluationListItem(
        id=row.id, status=row.status, protocol=row.protocol, judge=row.judge, model=row.model, suite=row.suite,
        suite_version=row.suite_version, baseline_model=row.baseline_model,
        progress=Progress(total=row.total, done=row.done, failed=row.failed, chunks_total=row.chunks_total,
                          chunks_done=row.chunks_done),
        metric=row.metric, metric_value=_number(row.metric_value), metric_ci95=_interval(row.metric_ci95),
        created_at=row.created_at, started_at=row.started_at, completed_at=row.completed_at,
        tags=row.tags or {}, leaderboard=row.leaderboard, links={"self": base, "verdicts": f"{base}/verdicts"},
    )


def _number(value) -> float | None:
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def _interval(value) -> tuple[float, float] | None:
    if isinstance(value, (list, tuple)) and len(value) == 2 and all(_number(v) is not None for v in value):
        return float(value[0]), float(value[1])
    return None


def verdicts(session: Session, evaluation_id: str, limit: int, cursor: str | None, include_item: bool,
             project_id: str, item_id: str | None = None) -> VerdictPage:
    """A page of items in submission order with their verdicts and judgments (three queries in all).

    Items whose chunk is not judged yet are listed as ``pending``, so a reader paging through a
    running evaluation never skips an item.
    """
    owned(session, evaluation_id, project_id)
    rows = repo.verdict_page(session, evaluation_id, decode_cursor(cursor), limit, item_id)
    judgments = repo.judgments_by_item(session, [item.id for item, _ in rows])
    data = [_verdict_out(item, verdict, judgments.get(item.id, []), include_item) for item, verdict in rows]
    next_cursor = encode_cursor(rows[-1][0].position) if len(rows) == limit else None
    return VerdictPage(data=data, next_cursor=next_cursor)


def _verdict_out(item, verdict, judgments, include_item: bool) -> VerdictOut:
    fields = {"item_id": item.item_key, "position": item.position,
              "item": item.payload if include_item else None,
              "judgments": [JudgmentOut.model_validate(j, from_attributes=True) for j in judgments]}
    if verdict is None:
        return VerdictOut(pending=True, **fields)
    return VerdictOut(
        # a failed item is not unscored (verdicts stored before 2026-11-28 have both flags)
        outcome=verdict.outcome, score=verdict.score, unscored=verdict.unscored and not verdict.failed,
        failed=verdict.failed,
        position_inconsistent=verdict.position_inconsistent, needs_review=verdict.needs_review,
        reviewed=verdict.reviewed, details=verdict.details,
        bpde=verdict.bpde, **fields,
    )


def encode_cursor(position: int) -> str:
    """Opaque cursor for the item position a page ended at."""
    return cursors.encode_cursor({"p": position})


def decode_cursor(cursor: str | None) -> int:
    """The position a cursor points after (-1 for the first page)."""
    fields = cursors.decode_cursor(cursor)
    if fields is None:
        return -1
    position = fields.get("p")
    if not isinstance(position, int) or position < -1:
        raise cursors.invalid_cursor()
    return position


def cancel(session: Session, dispatcher: Dispatcher, settings: Settings, evaluation_id: str,
           project_id: str) -> EvaluationOut:
    """Cancel a queued or running evaluation (its webhooks say so); finished verdicts stay readable."""
    evaluation = owned(session, evaluation_id, project_id)
    if not repo.cancel(session, evaluation_id):
        raise Conflict(f"evaluation {evaluation_id} has already ended ({evaluation.status}); nothing to cancel")
    webhook_outbox.record(session, evaluation, "cancelled", None)  # same transaction as the status change
    session.commit()
    queue_deliveries(settings, dispatcher, evaluation_id)
    session.refresh(evaluation)
    return to_out(evaluation)

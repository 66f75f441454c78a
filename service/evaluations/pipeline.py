"""The one submission pipeline, for a JSON body and an upload alike.

Header checks (protocol, judge, model, options, webhook URL) → the job queue answers → the suite →
the evaluation row and its items, validated and inserted in batches in ONE transaction → chunks →
commit (with the Idempotency-Key marked done) → enqueue, or withdraw the evaluation when the queue
fails. A body and an upload differ only in where their records come from and how a bad header field
is named (a body pointer or a query parameter).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Iterable

from sqlalchemy.orm import Session

from service.config import Settings
from service.errors import FieldError, InvalidSubmission, ServiceUnavailable
from service.evaluations import repository as repo
from service.evaluations.items import ItemIntake, Record, SuiteContext, item_rows
from service.evaluations.schemas import EvaluationCreate
from service.evaluations.submission import (
    FieldNamer, Header, body_field, body_records, check_header, chunk_rows, evaluation_row,
)
from service.idempotency import service as idempotency
from service.queue import JUDGE_CHUNK_JOB, Dispatcher, QueueUnavailable
from service.suites import repository as suites_repo


@dataclass
class Submission:
    """A submission as the pipeline takes it, whatever came over the wire."""

    fields: Any  # the header fields of EvaluationCreate (a JSON body, or an upload's query parameters)
    records: Callable[[SuiteContext | None], Iterable[Record]]  # the items, read once (after the header checks)
    field_error: FieldNamer = body_field
    format: str = "items"
    title: str | None = None  # of the problem listing bad items (default: "Invalid evaluation")
    in_memory: bool = False  # the items are in memory anyway: a repeated id is named by the first one's pointer


def json_body(body: EvaluationCreate, settings: Settings) -> Submission:
    """A JSON body as the pipeline takes it."""
    return Submission(body, lambda suite: body_records(body, settings.limits.max_items), in_memory=True)


def submit(session: Session, dispatcher: Dispatcher, settings: Settings, submission: Submission, project_id: str,
           claim: idempotency.Claim | None = None) -> str:
    """Validate, store and commit an evaluation of a project, then enqueue its chunks; returns its id."""
    header = check_header(submission.fields, settings, submission.field_error, submission.format)
    require_queue(dispatcher)
    suite = suite_context(session, submission.fields, project_id) if submission.fields.suite else None
    evaluation_id, n_chunks = store(session, settings, header, suite, submission, project_id)
    location = f"/v1/evaluations/{evaluation_id}"
    idempotency.complete(session, claim, 202, {"id": evaluation_id}, {"Location": location})
    session.commit()
    enqueue_or_withdraw(session, dispatcher, settings, evaluation_id, header.fields.judge, n_chunks, project_id,
                        claim)
    return evaluation_id


def require_queue(dispatcher: Dispatcher) -> None:
    """503 before reading any item when the job queue is down."""
    if not dispatcher.ping():
        raise ServiceUnavailable("the job queue (Redis) is unavailable; nothing was stored", retry_after=5)


def suite_context(session: Session, fields: Any, project_id: str) -> SuiteContext:
    """The suite version a submission names (``suite``, ``suite_version``), or a 422 at /suite."""
    suite = suites_repo.get_suite(session, project_id, fields.suite, fields.suite_version)
    if suite is None:
        wanted = f"{fields.suite!r}" + (f" version {fields.suite_version}" if fields.suite_version else "")
        raise InvalidSubmission([FieldError("/suite", f"no suite {wanted}")])
    items = {row.item_key: row.payload | {"category": row.category} for row in suites_repo.items_of(session, suite.id)}
    return SuiteContext(suite.name, suite.version, suite.baseline_model, items)


def store(session: Session, settings: Settings, header: Header, suite: SuiteContext | None, submission: Submission,
          project_id: str) -> tuple[str, int]:
    """Insert the evaluation, its items in batches and its chunks (not committed); the id and the chunk count.

    Raises InvalidSubmission naming the first 100 bad records; the caller's rollback then stores nothing.
    """
    evaluation = evaluation_row(header, suite) | {"project_id": project_id}
    evaluation_id = evaluation["id"]
    repo.add_evaluation(session, evaluation, [], [])

    def insert(items, first_position: int) -> dict[str, int]:  # repeated ids found by the unique index
        return repo.add_new_items(session, item_rows(evaluation_id, items, first_position))

    intake = ItemIntake(header.protocol, header.options, suite, settings.limits, insert,
                        remember_ids=submission.in_memory)
    intake.feed(submission.records(suite))
    count = intake.finish(submission.title)
    chunks = chunk_rows(evaluation_id, count, header.options, settings)
    repo.add_chunks_and_totals(session, evaluation_id, chunks, count)
    return evaluation_id, len(chunks)


def enqueue_or_withdraw(session: Session, dispatcher: Dispatcher, settings: Settings, evaluation_id: str,
                        judge: str, n_chunks: int, project_id: str | None = None,
                        claim: idempotency.Claim | None = None) -> None:
    """Queue every chunk of a committed evaluation; if the queue fails, delete the evaluation and answer 503.

    The Idempotency-Key's done record goes with the evaluation, in one transaction, so a retry with the key
    submits again (a failed request otherwise only gives back a claim still in progress).
    """
    try:
        for index in range(n_chunks):
            enqueue_chunk(dispatcher, settings, evaluation_id, judge, index, project_id)
    except QueueUnavailable as exc:
        evaluation = repo.get_evaluation(session, evaluation_id)
        if evaluation is not None:
            session.delete(evaluation)
        idempotency.forget_done(session, claim)
        session.commit()
        raise ServiceUnavailable(f"{exc}; nothing was stored", retry_after=5) from exc


def chunk_job_id(evaluation_id: str, index: int) -> str:
    """The RQ job id of a chunk (one job per chunk; the reaper replaces a lost one under the same id)."""
    return f"judge-chunk_{evaluation_id}_{index}"


def enqueue_chunk(dispatcher: Dispatcher, settings: Settings, evaluation_id: str, judge: str, index: int,
                  project_id: str | None = None) -> None:
    """Queue one chunk's job on its judge's queue, in its project's turn (projects take turns on a queue)."""
    dispatcher.enqueue(
        JUDGE_CHUNK_JOB, (evaluation_id, index), queue=settings.queue_name(judge),
        job_id=chunk_job_id(evaluation_id, index), timeout=settings.job_timeout_seconds,
        fair_key=f"project:{project_id}" if project_id else None,
    )

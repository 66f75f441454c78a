"""Review use cases: list the queue, record a human label and recompute the evaluation's metrics."""

from __future__ import annotations

import logging

from pydantic import ValidationError
from sqlalchemy.orm import Session

from service.config import Settings
from service.cursors import decode_cursor, encode_cursor, invalid_cursor
from service.errors import Conflict, FieldError, InvalidSubmission, NotFound
from service.evaluations import repository as evaluations_repo
from service.evaluations.results import as_item_verdict, protocol_and_options, recompute
from service.evaluations.schemas import JudgmentOut
from service.evaluations.submission import pydantic_errors
from service.models import Item, Review, Verdict
from service.reviews import repository as repo
from service.queue import Dispatcher, QueueUnavailable, enqueue_aggregate
from service.reviews.schemas import ReviewLabel, ReviewOut, ReviewPage

log = logging.getLogger(__name__)

VERDICT_FIELDS = ("outcome", "score", "unscored", "failed", "position_inconsistent", "bpde", "needs_review",
                  "reviewed", "details")


def list_reviews(session: Session, project_id: str, status: str | None, evaluation_id: str | None, limit: int,
                 cursor: str | None) -> ReviewPage:
    """A page of the review queue, highest BPDE first, with items and judge calls (three queries)."""
    rows = repo.review_page(session, project_id, status, evaluation_id, _decode(cursor), limit)
    judgments = evaluations_repo.judgments_by_item(session, [item.id for _, item, _ in rows])
    data = [_out(review, item, verdict, judgments.get(item.id, [])) for review, item, verdict in rows]
    last = rows[-1][0] if len(rows) == limit else None
    return ReviewPage(data=data, next_cursor=_encode(last) if last else None)


def get_review(session: Session, project_id: str, review_id: str) -> ReviewOut:
    """One review with its item and judge calls."""
    found = repo.review_with_item(session, project_id, review_id)
    if found is None:
        raise NotFound(f"review {review_id} not found")
    review, item, verdict = found
    return _out(review, item, verdict, evaluations_repo.judgments_by_item(session, [item.id]).get(item.id, []))


def record_label(session: Session, dispatcher: Dispatcher, settings: Settings, project_id: str, review_id: str,
                 body: ReviewLabel) -> ReviewOut:
    """Replace the judge's verdict with the human label, close the review and recompute metrics."""
    review = repo.lock_review(session, project_id, review_id)
    evaluation = review and evaluations_repo.get_evaluation(session, review.evaluation_id, for_update=True)
    if evaluation is None:
        raise NotFound(f"review {review_id} not found")
    if evaluation.status != "completed":
        raise Conflict(f"evaluation {review.evaluation_id} is not completed; its reviews cannot change")
    protocol, _ = protocol_and_options(evaluation)
    _, item, verdict = repo.review_with_item(session, project_id, review_id)
    parsed_item = protocol.item_model.model_validate(item.payload)
    try:  # the item in the context lets a label be checked against it (e.g. a score against the item's scale)
        label = protocol.review_model.model_validate(body.model_extra or {}, context={"item": parsed_item})
    except ValidationError as exc:
        raise InvalidSubmission(pydantic_errors(exc), title="Invalid review label") from None
    try:
        reviewed = protocol.apply_review(parsed_item, as_item_verdict(verdict), label)
    except ValueError as exc:
        raise InvalidSubmission([FieldError("/", str(exc))], title="Invalid review label") from None
    evaluations_repo.put_reviewed_verdict(session, item.id, {
        "outcome": reviewed.outcome, "score": reviewed.score, "unscored": reviewed.unscored,
        "details": reviewed.details})
    repo.record(session, review_id, label.model_dump(mode="json"), body.reviewer, body.note)
    recompute(session, review.evaluation_id)
    session.commit()
    if evaluation.suite:  # leaderboards are built from verdicts: refresh this one
        try:
            enqueue_aggregate(dispatcher, settings, evaluation.project_id, evaluation.suite, evaluation.protocol,
                              evaluation.judge)
        except QueueUnavailable:  # the label is stored; the next refresh of this leaderboard picks it up
            log.warning("could not queue a leaderboard refresh after review %s", review_id)
    return get_review(session, project_id, review_id)


def _out(review: Review, item: Item, verdict: Verdict, judgments) -> ReviewOut:
    return ReviewOut(
        id=review.id, evaluation_id=review.evaluation_id, item_id=item.item_key, status=review.status,
        bpde=review.bpde, item=item.payload, verdict={f: getattr(verdict, f) for f in VERDICT_FIELDS},
        judgments=[JudgmentOut.model_validate(j, from_attributes=True) for j in judgments],
        label=review.label, reviewer=review.reviewer, note=review.note, created_at=review.created_at,
        reviewed_at=review.reviewed_at,
        links={"self": f"/v1/reviews/{review.id}", "evaluation": f"/v1/evaluations/{review.evaluation_id}"},
    )


def _encode(review: Review) -> str:
    return encode_cursor({"b": review.bpde or 0.0, "i": review.id})


def _decode(cursor: str | None) -> tuple[float, str] | None:
    fields = decode_cursor(cursor)
    if fields is None:
        return None
    try:
        return float(fields["b"]), str(fields["i"])
    except (ValueError, KeyError, TypeError):
        raise invalid_cursor() from None

"""Turn stored judgments into verdicts, and stored verdicts into an evaluation's results."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from operator import itemgetter
from typing import Any, Sequence

from pydantic import BaseModel
from sqlalchemy.orm import Session

from service.core.calibration import select_for_review
from service.core.options import STORED
from service.core.protocol import CallResult, EvaluationProtocol, ItemVerdict, get_protocol
from service.db import json_codec
from service.evaluations import repository as repo
from service.reviews import repository as reviews_repo
from service.models import Evaluation, Verdict
from service.outages import is_transient
from service.webhooks import outbox as webhook_outbox

log = logging.getLogger(__name__)


def protocol_and_options(evaluation: Evaluation):
    """The evaluation's protocol and its validated options (as stored: read as they were judged)."""
    protocol = get_protocol(evaluation.protocol)
    return protocol, protocol.options_model.model_validate(evaluation.options, context=STORED)


def verdict_row(protocol: EvaluationProtocol, options: BaseModel, evaluation_id: str, item_id: int,
                item: BaseModel, results: Sequence[CallResult]) -> dict[str, Any]:
    """Combine an item's stored judge calls (``item`` is its validated payload) into its verdict row.

    An item whose calls all failed is ``failed``, not ``unscored``: there was no output to read.
    """
    verdict = protocol.combine(item, list(results), options)
    errors = [r.error for r in results if r.error]
    failed = bool(results) and len(errors) == len(results)
    details = dict(verdict.details)
    if errors:
        details["errors"] = sorted(set(errors))[:5]
    return {
        "item_id": item_id, "evaluation_id": evaluation_id, "outcome": verdict.outcome,
        "score": verdict.score, "unscored": verdict.unscored and not failed, "failed": failed,
        "position_inconsistent": verdict.position_inconsistent, "bpde": verdict.bpde,
        "details": details, "needs_review": False,
    }


def failed_verdict_row(evaluation_id: str, item_id: int, reason: str) -> dict[str, Any]:
    """The verdict of an item that could not be judged at all, saying why."""
    return {
        "item_id": item_id, "evaluation_id": evaluation_id, "outcome": None, "score": None, "unscored": False,
        "failed": True, "position_inconsistent": False, "bpde": None, "details": {"errors": [reason]},
        "needs_review": False,
    }


def as_item_verdict(verdict: Verdict) -> ItemVerdict:
    """A stored verdict as the protocol's ItemVerdict."""
    return ItemVerdict(
        outcome=verdict.outcome, score=verdict.score, unscored=verdict.unscored and not verdict.failed,
        position_inconsistent=verdict.position_inconsistent, bpde=verdict.bpde, details=verdict.details,
        reviewed=verdict.reviewed, failed=verdict.failed,
    )


@dataclass(frozen=True)
class HeldChunk:
    """A chunk's items as the job that just stored their verdicts holds them (finalize does not read them again)."""

    start: int  # the chunk's positions: start <= position < stop
    stop: int
    # (position, item id, validated payload, verdict row as put_verdicts stored it), one per item
    items: list[tuple[int, int, BaseModel, dict[str, Any]]]


def finalize(session: Session, evaluation_id: str, held: Sequence[HeldChunk] = ()) -> bool:
    """Compute metrics, open reviews for the top-BPDE items and close the evaluation; False if not running.

    ``held`` chunks (their verdicts stored and committed, or written in this transaction) are taken as
    given; only the other items are read.
    """
    evaluation = repo.get_evaluation(session, evaluation_id, for_update=True)
    if evaluation is None or evaluation.status not in repo.ACTIVE:
        return False
    protocol, options = protocol_and_options(evaluation)
    rows = _verdicts_in_order(session, protocol, evaluation_id, held)
    flags = select_for_review([v.bpde for _, _, v in rows], getattr(options, "review_fraction", 0.0))
    flagged = [(item_id, verdict.bpde) for (item_id, _, verdict), flag in zip(rows, flags) if flag]
    repo.set_review_flags(session, evaluation_id, [item_id for item_id, _ in flagged])
    reviews_repo.open_reviews(session, evaluation_id, flagged)
    summary, reliability = _results(protocol, options, [(item, verdict) for _, item, verdict in rows])
    summary["n_needs_review"] = len(flagged)
    summary["n_reviews_open"] = len(flagged)
    nothing_judged = summary.get("n_scored", 0) == 0 and summary["n_failed"] == len(rows)
    status = "failed" if nothing_judged else "completed"
    error = _no_item_judged([verdict for _, _, verdict in rows]) if nothing_judged else None
    webhook_outbox.record(session, evaluation, status, summary, error)  # same transaction as the status change
    return repo.finish(session, evaluation_id, status, summary, reliability, error)


def _verdicts_in_order(session: Session, protocol: EvaluationProtocol, evaluation_id: str,
                       held: Sequence[HeldChunk] = ()) -> list[tuple[int, BaseModel, Any]]:
    """(item id, validated payload, verdict) of every item with a verdict, in submission order.

    ``held`` items are taken as given (their verdict as a re-read would give it) instead of read.
    """
    stored = repo.items_with_verdicts(session, evaluation_id, [(chunk.start, chunk.stop) for chunk in held])
    rows = [(item.position, item.id, protocol.item_model.model_validate(item.payload), verdict)
            for item, verdict in stored if verdict]
    for chunk in held:
        rows.extend((position, item_id, item, _as_stored(evaluation_id, verdict))
                    for position, item_id, item, verdict in chunk.items)
    if held:
        rows.sort(key=itemgetter(0))
    return [(item_id, item, verdict) for _, item_id, item, verdict in rows]


def _as_stored(evaluation_id: str, row: dict[str, Any]) -> repo.VerdictRow:
    """A verdict row just written by put_verdicts, as reading it back gives it (details through JSON)."""
    return repo.VerdictRow(row["item_id"], evaluation_id, row["outcome"], row["score"], row["unscored"], row["failed"],
                           row["position_inconsistent"], False, False, row["bpde"],
                           json_codec.loads(json_codec.dumps(row["details"])))


def finalize_or_fail(session: Session, evaluation_id: str, held: Sequence[HeldChunk] = ()) -> bool:
    """``finalize``; when computing the results raises (not an outage), close the evaluation as failed, saying why.

    The chunk's verdicts and progress, written before in the same transaction, are kept either way:
    a bug in a metric must not leave the evaluation running, nor throw its verdicts away.
    """
    savepoint = session.begin_nested()
    try:
        closed = finalize(session, evaluation_id, held)
    except Exception as exc:
        savepoint.rollback()
        if is_transient(exc):
            raise
        log.exception("the results of evaluation %s could not be computed", evaluation_id,
                      extra={"evaluation_id": evaluation_id})
        return _fail(session, evaluation_id, f"the results could not be computed: {type(exc).__name__}: {exc}")
    savepoint.commit()
    return closed


def _fail(session: Session, evaluation_id: str, error: str) -> bool:
    """running → failed without results; False if it was not running."""
    evaluation = repo.get_evaluation(session, evaluation_id, for_update=True)
    if evaluation is None or evaluation.status not in repo.ACTIVE:
        return False
    webhook_outbox.record(session, evaluation, "failed", None, error[:2000])
    return repo.finish(session, evaluation_id, "failed", None, None, error[:2000])


def recompute(session: Session, evaluation_id: str) -> None:
    """Recompute a finished evaluation's metrics from its verdicts (after a human review changed one)."""
    evaluation = repo.get_evaluation(session, evaluation_id, for_update=True)
    if evaluation is None:
        return
    protocol, options = protocol_and_options(evaluation)
    rows = [(item, verdict) for _, item, verdict in _verdicts_in_order(session, protocol, evaluation_id)]
    summary, reliability = _results(protocol, options, rows)
    counts = reviews_repo.counts(session, evaluation_id)
    summary["n_needs_review"] = sum(1 for _, v in rows if v.needs_review)
    summary["n_reviews_open"] = counts["open"]
    repo.set_results(session, evaluation_id, summary, reliability)


def _results(protocol, options, rows: Sequence[tuple[BaseModel, Verdict]]) -> tuple[dict[str, Any], dict[str, Any]]:
    """The protocol's summary and reliability report over stored verdicts (with their validated items), plus
    counts every protocol has."""
    items = [item for item, _ in rows]
    summary, reliability = protocol.summarize(items, [as_item_verdict(v) for _, v in rows], options)
    summary["n_failed"] = sum(1 for _, v in rows if v.failed)
    summary["n_reviewed"] = sum(1 for _, v in rows if v.reviewed)
    if summary.get("human_agreement"):  # judge vs human labels belongs to the reliability report too
        reliability["human_agreement"] = summary["human_agreement"]
    return summary, reliability


def _no_item_judged(verdicts: Sequence[Verdict]) -> str:
    """Why an evaluation failed: the first judge error, with a pointer to the rest."""
    first = next((v.details.get("errors", [None])[0] for v in verdicts if v.details.get("errors")), None)
    reason = f"; first judge error: {first}" if first else ""
    return f"no item could be judged (every judge call failed; see the verdicts){reason}"

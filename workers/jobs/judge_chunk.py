"""Judge one chunk of an evaluation: every call of every item in one engine call, then persist."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass

from rq.timeouts import BaseTimeoutException
from sqlalchemy.orm import Session

from service.core.judging import JudgeBackend, JudgeOutput
from service.core.protocol import PlannedCall
from service.db.engine import session_scope
from service.evaluations import repository as repo
from service.evaluations.results import finalize, protocol_and_options, verdict_row
from service.models import Evaluation, Item
from service.queue import enqueue_aggregate
from workers import runtime

log = logging.getLogger(__name__)

ENGINE_ATTEMPTS = 3
RETRY_DELAY_SECONDS = 2.0
# A chunk started this many times without finishing (crashes, killed workers) is given up.
MAX_CHUNK_ATTEMPTS = 5


@dataclass
class _Call:
    item: Item
    planned: PlannedCall


def run(evaluation_id: str, chunk_index: int) -> str:
    """Job entry point (IDs only). Safe to run twice: stored calls are skipped, progress counts once."""
    url = runtime.settings().effective_database_url()
    with session_scope(url) as session:
        evaluation = repo.get_evaluation(session, evaluation_id)
        chunk = repo.get_chunk(session, evaluation_id, chunk_index)
        if evaluation is None or chunk is None:
            return "missing"
        if evaluation.status in repo.TERMINAL or chunk.status != "pending":
            return f"skipped ({evaluation.status}, chunk {chunk.status})"
        abandoned = chunk.attempts >= MAX_CHUNK_ATTEMPTS
        repo.mark_started(session, evaluation_id, chunk_index)
        items = repo.items_in_range(session, evaluation_id, chunk.start, chunk.stop)
        stored = repo.judgments_by_item(session, [item.id for item in items])
        calls = _missing_calls(evaluation, items, stored)
    backend = runtime.backend(evaluation.judge)
    if abandoned:
        reason = f"chunk abandoned after {chunk.attempts} unfinished attempts"
        log.error(reason, extra={"evaluation_id": evaluation_id, "chunk_index": chunk_index})
        outputs = [JudgeOutput(text="", error=reason) for _ in calls]
    else:
        outputs = _generate(backend, calls, evaluation_id, chunk_index)
    with session_scope(url) as session:
        finalized = _persist(session, evaluation, items, calls, outputs, backend.fingerprint, chunk_index)
    if finalized and evaluation.suite:
        enqueue_aggregate(runtime.dispatcher(), runtime.settings(), evaluation.suite, evaluation.protocol,
                          evaluation.judge)
    log.info("judged %d calls for %d items", len(calls), len(items),
             extra={"evaluation_id": evaluation_id, "chunk_index": chunk_index, "judge": evaluation.judge})
    return f"judged {len(calls)} calls for {len(items)} items"


def _missing_calls(evaluation: Evaluation, items: list[Item], stored: dict) -> list[_Call]:
    protocol, options = protocol_and_options(evaluation)
    calls = []
    for item in items:
        done = {(j.order, j.sample) for j in stored.get(item.id, []) if j.error is None}
        parsed = protocol.item_model.model_validate(item.payload)
        calls.extend(
            _Call(item, planned)
            for planned in protocol.plan_calls(parsed, options)
            if (planned.order, planned.sample) not in done
        )
    return calls


def _generate(backend: JudgeBackend, calls: list[_Call], evaluation_id: str, chunk_index: int) -> list[JudgeOutput]:
    """One engine call for the whole chunk, retried a bounded number of times on engine errors."""
    if not calls:
        return []
    requests = [call.planned.request for call in calls]
    for attempt in range(1, ENGINE_ATTEMPTS + 1):
        try:
            outputs = backend.generate(requests)
            if len(outputs) != len(requests):
                raise RuntimeError(f"backend returned {len(outputs)} outputs for {len(requests)} requests")
            return outputs
        except BaseTimeoutException:  # the job's explicit timeout: let RQ stop and retry the job
            raise
        except Exception as exc:  # engine failure: retry, then record it on every call
            log.warning("engine failed on evaluation %s chunk %s (attempt %d/%d): %s",
                        evaluation_id, chunk_index, attempt, ENGINE_ATTEMPTS, exc,
                        extra={"evaluation_id": evaluation_id, "chunk_index": chunk_index})
            if attempt == ENGINE_ATTEMPTS:
                message = f"engine error after {ENGINE_ATTEMPTS} attempts: {type(exc).__name__}: {exc}"
                return [JudgeOutput(text="", error=message[:2000]) for _ in requests]
            time.sleep(RETRY_DELAY_SECONDS * attempt)
    raise AssertionError("unreachable")


def _persist(session: Session, evaluation: Evaluation, items: list[Item], calls: list[_Call],
             outputs: list[JudgeOutput], fingerprint: str, chunk_index: int) -> bool:
    """Judgments, verdicts and progress in one transaction; finalize when the last chunk lands.

    Returns True when this call closed the evaluation.
    """
    protocol, options = protocol_and_options(evaluation)
    rows = []
    for call, output in zip(calls, outputs):
        result = protocol.parse(call.planned, output, options)
        rows.append({
            "evaluation_id": evaluation.id, "item_id": call.item.id, "order": call.planned.order,
            "sample": call.planned.sample, "prompt_hash": call.planned.request.prompt_hash(),
            "raw_output": _storable(output.text), "rationale": _storable(output.rationale), "label": result.label,
            "label_probs": result.label_probs, "fingerprint": fingerprint,
            "prompt_tokens": output.prompt_tokens, "completion_tokens": output.completion_tokens,
            "latency_ms": output.latency_ms, "error": output.error,
        })
    repo.add_judgments(session, rows)
    judgments = repo.judgments_by_item(session, [item.id for item in items])
    verdicts = [verdict_row(evaluation, item, judgments.get(item.id, [])) for item in items]
    repo.put_verdicts(session, verdicts)
    failed = sum(1 for v in verdicts if v["failed"])
    if repo.complete_chunk(session, evaluation.id, chunk_index, len(verdicts) - failed, failed):
        current = repo.get_evaluation(session, evaluation.id)
        if current is not None and current.chunks_done == current.chunks_total:
            return finalize(session, evaluation.id)
    return False


def _storable(text: str | None) -> str | None:
    """Judge text without NUL characters, which Postgres cannot store."""
    return text.replace("\x00", "\ufffd") if text else text

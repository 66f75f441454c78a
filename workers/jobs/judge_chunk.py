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
from service.judges import cache as judge_cache
from service.judges.cache import storable
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
    cache_key: str | None = None


@dataclass
class _Work:
    evaluation: Evaluation
    items: list[Item]
    calls: list[_Call]
    attempts: int
    cached: dict[int, JudgeOutput]


def run(evaluation_id: str, chunk_index: int) -> str:
    """Job entry point (IDs only). Safe to run twice: stored calls are skipped, progress counts once."""
    url = runtime.settings().effective_database_url()
    with session_scope(url) as session:
        work = _claim(session, evaluation_id, chunk_index)
    if isinstance(work, str):
        return work
    evaluation = work.evaluation
    try:
        backend = runtime.backend(evaluation.judge)
    except Exception as exc:  # the engine cannot start (e.g. not enough memory): fail the calls, say why
        log.exception("judge %s could not start", evaluation.judge, extra={"evaluation_id": evaluation_id})
        backend = _Unavailable(runtime.settings().judges()[evaluation.judge].fingerprint(), exc)
    outputs = _outputs(work, backend, chunk_index)
    with session_scope(url) as session:
        finalized = _persist(session, work, outputs, backend.fingerprint, chunk_index)
    if finalized and evaluation.suite:
        enqueue_aggregate(runtime.dispatcher(), runtime.settings(), evaluation.suite, evaluation.protocol,
                          evaluation.judge)
    log.info("judged %d calls (%d from the cache) for %d items", len(work.calls), len(work.cached),
             len(work.items), extra={"evaluation_id": evaluation_id, "chunk_index": chunk_index,
                                     "judge": evaluation.judge})
    return f"judged {len(work.calls)} calls for {len(work.items)} items ({len(work.cached)} cached)"


class _Unavailable:
    """Stands in for a judge whose engine could not be built: every call fails with the reason."""

    def __init__(self, fingerprint: str, exc: Exception):
        self.fingerprint = fingerprint
        self.reason = f"judge engine could not start: {type(exc).__name__}: {exc}"[:2000]

    def generate(self, requests):
        """Fail every request with the reason."""
        return [JudgeOutput(text="", error=self.reason) for _ in requests]


def _claim(session: Session, evaluation_id: str, chunk_index: int) -> _Work | str:
    """Load the chunk, count the attempt, and work out which calls are still to make."""
    evaluation = repo.get_evaluation(session, evaluation_id)
    chunk = repo.get_chunk(session, evaluation_id, chunk_index)
    if evaluation is None or chunk is None:
        return "missing"
    if evaluation.status in repo.TERMINAL or chunk.status != "pending":
        if evaluation.status == "completed" and evaluation.suite:
            # a retry after the aggregate could not be queued: queue it now (the refresh is idempotent)
            enqueue_aggregate(runtime.dispatcher(), runtime.settings(), evaluation.suite, evaluation.protocol,
                              evaluation.judge)
        return f"skipped ({evaluation.status}, chunk {chunk.status})"
    attempts = chunk.attempts
    repo.mark_started(session, evaluation_id, chunk_index)
    items = repo.items_in_range(session, evaluation_id, chunk.start, chunk.stop)
    calls = _missing_calls(evaluation, items, repo.judgments_by_item(session, [item.id for item in items]))
    cached = _from_cache(session, evaluation, calls)
    return _Work(evaluation, items, calls, attempts, cached)


def _from_cache(session: Session, evaluation: Evaluation, calls: list[_Call]) -> dict[int, JudgeOutput]:
    """Outputs the judge-call cache already holds, by call index (none when the evaluation opts out)."""
    _, options = protocol_and_options(evaluation)
    if not getattr(options, "cache", False):
        return {}
    fingerprint = runtime.settings().judges()[evaluation.judge].fingerprint()
    for call in calls:
        call.cache_key = call.planned.request.cache_key(fingerprint)
    hits = judge_cache.lookup(session, [c.cache_key for c in calls if c.cache_key])
    return {i: hits[c.cache_key] for i, c in enumerate(calls) if c.cache_key in hits}


def _outputs(work: _Work, backend: JudgeBackend, chunk_index: int) -> list[JudgeOutput]:
    """Cached answers, plus one engine call for the rest (or the reason a chunk was given up)."""
    todo = [i for i in range(len(work.calls)) if i not in work.cached]
    if work.attempts >= MAX_CHUNK_ATTEMPTS:
        reason = f"chunk abandoned after {work.attempts} unfinished attempts"
        log.error(reason, extra={"evaluation_id": work.evaluation.id, "chunk_index": chunk_index})
        fresh = [JudgeOutput(text="", error=reason) for _ in todo]
    else:
        fresh = _generate(backend, [work.calls[i] for i in todo], work.evaluation.id, chunk_index)
    outputs = dict(work.cached)
    outputs.update(zip(todo, fresh))
    return [outputs[i] for i in range(len(work.calls))]


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


def _persist(session: Session, work: _Work, outputs: list[JudgeOutput], fingerprint: str, chunk_index: int) -> bool:
    """Judgments, verdicts and progress in one transaction; finalize when the last chunk lands.

    Returns True when this call closed the evaluation.
    """
    evaluation, items, calls = work.evaluation, work.items, work.calls
    protocol, options = protocol_and_options(evaluation)
    rows = []
    for call, output in zip(calls, outputs):
        result = protocol.parse(call.planned, output, options)
        rows.append({
            "evaluation_id": evaluation.id, "item_id": call.item.id, "order": call.planned.order,
            "sample": call.planned.sample, "prompt_hash": call.planned.request.prompt_hash(),
            "raw_output": storable(output.text), "rationale": storable(output.rationale), "label": result.label,
            "label_probs": result.label_probs, "fingerprint": fingerprint,
            "prompt_tokens": output.prompt_tokens, "completion_tokens": output.completion_tokens,
            "latency_ms": output.latency_ms, "error": output.error, "cached": bool(output.extra.get("cached")),
        })
    repo.add_judgments(session, rows)
    judge_cache.store(session, fingerprint, [(c.cache_key, o) for c, o in zip(calls, outputs)
                                             if c.cache_key and not o.extra.get("cached")])
    judgments = repo.judgments_by_item(session, [item.id for item in items])
    verdicts = [verdict_row(evaluation, item, judgments.get(item.id, [])) for item in items]
    repo.put_verdicts(session, verdicts)
    failed = sum(1 for v in verdicts if v["failed"])
    if repo.complete_chunk(session, evaluation.id, chunk_index, len(verdicts) - failed, failed):
        current = repo.get_evaluation(session, evaluation.id)
        if current is not None and current.chunks_done == current.chunks_total:
            return finalize(session, evaluation.id)
    return False


"""Judge one chunk of an evaluation: every call of every item in one engine call, then persist."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from functools import partial
from typing import Any

from pydantic import BaseModel
from rq.timeouts import BaseTimeoutException
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

from service.core.judging import JudgeOutput
from service.core.protocol import MAX_STAGES, CallResult, EvaluationProtocol, PlannedCall, is_single_stage
from service.db.engine import job_session, session_scope
from service.evaluations import repository as repo
from service.evaluations import chunk_queries
from service.evaluations.chunk_queries import ChunkEvaluation
from service.evaluations.repository import ItemRow
from service.evaluations.results import protocol_and_options
from service.judges import cache as judge_cache
from service.models import Evaluation
from service.queue import enqueue_aggregate
from workers import runtime
from workers.held_chunks import HELD
from workers.jobs import chunk_closing
from workers.jobs.chunk_closing import MAX_RAISING_ATTEMPTS, Claim as _Claim, give_up as _give_up
from workers.jobs.chunk_engine import generate_all

log = logging.getLogger(__name__)

# A chunk started this many times without finishing (crashes, killed workers) is given up.
MAX_CHUNK_ATTEMPTS = 5
__all__ = ["MAX_CHUNK_ATTEMPTS", "MAX_RAISING_ATTEMPTS", "JudgeUnreachable", "run"]


@dataclass
class _Call:
    item: ItemRow
    planned: PlannedCall
    cache_key: str | None = None


@dataclass
class _Work:
    evaluation: ChunkEvaluation | Evaluation
    items: list[ItemRow]
    attempts: int
    protocol: EvaluationProtocol
    options: Any
    # item id -> the item's payload validated by the protocol's item model (done once per job)
    parsed: dict[int, BaseModel]
    # the chunk's positions: start <= position < stop
    span: tuple[int, int] = (0, 0)
    # every stored or made call of the chunk's items: item id -> {(order, sample): result}
    results: dict[int, dict[tuple[str, int], CallResult]] = field(default_factory=dict)
    # calls made by this job (a failed one is not retried within the job)
    attempted: set[tuple[int, str, int]] = field(default_factory=set)
    n_calls: int = 0
    n_cached: int = 0


def run(evaluation_id: str, chunk_index: int) -> str:
    """Job entry point (IDs only). Safe to run twice: stored calls are skipped, progress counts once.

    The attempt is counted and committed first, so a job that then raises still counts: a chunk
    that keeps raising (not for a passing outage) is closed as failed with the error, so an
    evaluation never stays running because of one chunk.
    """
    url = runtime.settings().effective_database_url()
    with job_session(url) as session:
        claim = _claim(session, evaluation_id, chunk_index)
    if isinstance(claim, str):
        return claim
    try:
        return _judge(url, claim, chunk_index)
    except BaseTimeoutException:  # the job's explicit timeout: RQ stops and retries the job
        raise
    except Exception as exc:
        if chunk_closing.after_failure(url, claim, chunk_index, exc):
            raise
        return _give_up(url, claim, chunk_index, exc)


def _judge(url: str, claim: _Claim, chunk_index: int) -> str:
    """Judge the chunk's calls in stages and close it.

    Calls are made in stages (a protocol may plan calls that depend on earlier results);
    the stage that leaves nothing more to do stores its judgments, the chunk's verdicts and
    the progress update in one transaction.
    """
    with job_session(url) as session:  # reads only (each statement commits by itself on Postgres)
        work = _load(session, claim, chunk_index)
        calls = _missing_calls(work)
        cached = _from_cache(session, work, calls)
    # a single-stage protocol planned everything at once: re-planning would only render every prompt again
    last_stage = 1 if is_single_stage(work.protocol, work.options) else MAX_STAGES
    all_written = True
    for stage in range(1, last_stage + 1):
        if stage > 1:
            with session_scope(url) as session:
                cached = _from_cache(session, work, calls)
        outputs = _outputs(work, calls, cached, chunk_index) if calls else []
        _record(work, calls, outputs, len(cached))
        _defer_if_unreachable(url, work, calls, outputs, claim.attempts)
        following = _missing_calls(work) if stage < last_stage else []
        if not following:
            break
        with session_scope(url) as session:
            all_written = _store_judgments(session, work, calls, outputs) and all_written
        calls = following
    return _close(url, claim, chunk_index, work, _judgment_rows(work, calls, outputs), all_written)


def _close(url: str, claim: _Claim, chunk_index: int, work: _Work, rows: list[dict[str, Any]],
           all_written: bool) -> str:
    """Close the chunk: in this job, or (in a worker with a closing writer) in the writer while the next job runs.

    A chunk that may be its evaluation's last (by the progress read at its claim) is closed in the job,
    once the writer has committed the earlier ones: with one worker, the job that finalizes an evaluation
    ends with it completed, and its summary is not computed while the next evaluation's chunks are
    judged. With several workers the last chunk to close can still be one handed to a writer.
    """
    writer = runtime.closing_writer()
    counts_rows = make_url(url).get_backend_name() == "postgresql"
    closing = chunk_closing.prepare(claim, chunk_index, work, rows, all_written, counts_rows)
    handed = writer is not None and not writer.may_close_last(
        claim.evaluation.chunks_total - claim.evaluation.chunks_done) and writer.submit(
        partial(chunk_closing.close_in_background, url, closing))
    if not handed:  # inline: after the writer's closings, so that the last chunk to close finds them stored
        if writer is not None:
            writer.drain()
        chunk_closing.close(url, closing)
    where = " (closing handed to the closing writer)" if handed else ""
    log.info("judged %d calls (%d from the cache) for %d items%s", work.n_calls, work.n_cached, len(work.items),
             where, extra={"evaluation_id": claim.evaluation.id, "chunk_index": chunk_index,
                           "judge": claim.evaluation.judge})
    return f"judged {work.n_calls} calls for {len(work.items)} items ({work.n_cached} cached){where}"


class JudgeUnreachable(ConnectionError):
    """The judge could not be reached for some calls: the chunk is retried later (an outage, not bad work)."""


def _defer_if_unreachable(url: str, work: _Work, calls: list[_Call], outputs: list[JudgeOutput], attempts: int) -> None:
    """Keep what was judged and raise, when some calls found no serving judge and a later run may still reach it.

    A judge server restarting or overloaded must not turn the items of the chunks it missed into
    failures: the chunk stays pending and RQ (then the reaper) runs it again; only the calls that
    failed are made again. The chunk's last allowed run records the failures instead.
    """
    missed = sum(1 for output in outputs if output.extra.get("unreachable"))
    if not missed or attempts + 1 >= MAX_CHUNK_ATTEMPTS:
        return
    with session_scope(url) as session:
        _store_judgments(session, work, calls, outputs)
    first = next(output.error for output in outputs if output.extra.get("unreachable"))
    raise JudgeUnreachable(f"{missed} of {len(outputs)} judge calls found no serving judge (run {attempts + 1} of "
                           f"at most {MAX_CHUNK_ATTEMPTS}); the chunk is retried later: {first}")


def _claim(session: Session, evaluation_id: str, chunk_index: int) -> _Claim | str:
    """Check the chunk is still to do and count the attempt (committed before any work)."""
    evaluation, started = chunk_queries.claim_chunk(session, evaluation_id, chunk_index)
    if started is None:
        return _not_claimed(session, evaluation, evaluation_id, chunk_index)
    return _Claim(evaluation, started.attempts, started.start, started.stop, started.raised, started.items)


def _not_claimed(session: Session, evaluation: ChunkEvaluation | None, evaluation_id: str, chunk_index: int) -> str:
    """Why a chunk is not to do (missing, or its evaluation or itself ended); what an ended evaluation still needs."""
    chunk = repo.get_chunk(session, evaluation_id, chunk_index)
    if evaluation is None or chunk is None:
        return "missing"
    if evaluation.status in repo.TERMINAL:
        HELD.forget(evaluation_id)
    if evaluation.status == "completed" and evaluation.suite:
        # a retry after the aggregate could not be queued: queue it now (the refresh is idempotent)
        enqueue_aggregate(runtime.dispatcher(), runtime.settings(), evaluation.project_id, evaluation.suite,
                          evaluation.protocol, evaluation.judge)
    return f"skipped ({evaluation.status}, chunk {chunk.status})"


def _load(session: Session, claim: _Claim, chunk_index: int) -> _Work:
    """The chunk's items, validated once, and what their calls already gave."""
    evaluation = claim.evaluation
    items = claim.items if claim.items is not None else chunk_queries.items_in_range(
        session, evaluation.id, claim.start, claim.stop)
    protocol, options = protocol_and_options(evaluation)
    parsed = {item.id: protocol.item_model.model_validate(item.payload) for item in items}
    work = _Work(evaluation, items, claim.attempts, protocol, options, parsed, span=(claim.start, claim.stop))
    if claim.attempts == 0:
        # the chunk's first start: no run stored any of its calls before (a run storing them at the same time
        # keeps its successes: then the judgments statement says not all rows were written, and they are re-read)
        return work
    for item_id, results in repo.call_results_by_item(session, [item.id for item in items]).items():
        work.results[item_id] = {(r.order, r.sample): r for r in results}
    return work


def _from_cache(session: Session, work: _Work, calls: list[_Call]) -> dict[int, JudgeOutput]:
    """Outputs the judge-call cache already holds, by call index (none when the evaluation opts out)."""
    if not calls or not getattr(work.options, "cache", False):
        return {}
    judge = runtime.settings().judges()[work.evaluation.judge]
    fingerprint = judge.fingerprint()
    for call in calls:
        key = call.planned.request.cache_key(fingerprint)
        call.cache_key = key and judge_cache.scoped_key(key, judge.cache_scope, work.evaluation.project_id)
    hits = judge_cache.lookup(session, [c.cache_key for c in calls if c.cache_key])
    return {i: hits[c.cache_key] for i, c in enumerate(calls) if c.cache_key in hits}


def _outputs(work: _Work, calls: list[_Call], cached: dict[int, JudgeOutput], chunk_index: int) -> list[JudgeOutput]:
    """Cached answers, plus one engine call for the rest (or the reason a chunk was given up)."""
    todo = [i for i in range(len(calls)) if i not in cached]
    if work.attempts >= MAX_CHUNK_ATTEMPTS:
        reason = f"chunk abandoned after {work.attempts} unfinished attempts"
        log.error(reason, extra={"evaluation_id": work.evaluation.id, "chunk_index": chunk_index})
        fresh = [JudgeOutput(text="", error=reason) for _ in todo]
    else:
        fresh = generate_all(work.evaluation, [calls[i].planned.request for i in todo], chunk_index)
    outputs = dict(cached)
    outputs.update(zip(todo, fresh))
    return [outputs[i] for i in range(len(calls))]


def _missing_calls(work: _Work) -> list[_Call]:
    """Planned calls of the chunk's items that are neither stored nor already tried by this job."""
    calls = []
    for item in work.items:
        done = work.results.get(item.id, {})
        for planned in work.protocol.plan_calls(work.parsed[item.id], work.options, list(done.values())):
            key = (planned.order, planned.sample)
            stored = done.get(key)
            if (stored is None or stored.error is not None) and (item.id, *key) not in work.attempted:
                calls.append(_Call(item, planned))
    return calls


def _record(work: _Work, calls: list[_Call], outputs: list[JudgeOutput], n_cached: int) -> None:
    """Parse this stage's outputs into the work's results (so the next stage can be planned)."""
    for call, output in zip(calls, outputs):
        result = work.protocol.parse(call.planned, output, work.options)
        result.error = output.error
        work.results.setdefault(call.item.id, {})[(call.planned.order, call.planned.sample)] = result
        work.attempted.add((call.item.id, call.planned.order, call.planned.sample))
    work.n_calls += len(calls)
    work.n_cached += n_cached


def _store_judgments(session: Session, work: _Work, calls: list[_Call], outputs: list[JudgeOutput]) -> bool:
    """One statement for the stage's judgments (conflict-safe); a fresh success's row is its cache entry.

    Returns True when every row was stored as given; the work's results then hold exactly what
    is stored (a False means another run's success was kept, and the stored calls must be re-read).
    """
    rows = _judgment_rows(work, calls, outputs)
    return repo.add_judgments(session, rows) if rows else True


def _judgment_rows(work: _Work, calls: list[_Call], outputs: list[JudgeOutput]) -> list[dict[str, Any]]:
    """The stage's judgment rows; the work's results become what storing them gives (e.g. NULs replaced)."""
    if not calls:
        return []
    fingerprint = runtime.settings().judges()[work.evaluation.judge].fingerprint()
    rows = []
    for call, output in zip(calls, outputs):
        result = work.results[call.item.id][(call.planned.order, call.planned.sample)]
        request = call.planned.request
        rows.append({
            "evaluation_id": work.evaluation.id, "item_id": call.item.id, "order": call.planned.order,
            "sample": call.planned.sample, "prompt_hash": request.prompt_hash(), "template": request.template,
            "raw_output": judge_cache.storable(result.raw_output if request.similarity_texts else output.text),
            "rationale": judge_cache.storable(output.rationale), "label": result.label,
            "label_probs": result.label_probs, "verdict_top_logprobs": output.verdict_top_logprobs,
            "cache_key": judge_cache.entry_key(call.cache_key, output),
            "fingerprint": f"embedding:{runtime.settings().embedding_model}" if request.similarity_texts else fingerprint,
            "prompt_tokens": output.prompt_tokens, "completion_tokens": output.completion_tokens,
            "latency_ms": output.latency_ms, "error": output.error, "cached": bool(output.extra.get("cached")),
        })
    for row in rows:
        key = (row["order"], row["sample"])
        result = work.results[row["item_id"]][key]
        # a new result only where storing changes what the job holds (e.g. a NUL replaced in the output)
        if (row["raw_output"] is not result.raw_output or row["rationale"] is not result.rationale
                or row["error"] is not result.error or key != (result.order, result.sample)):
            work.results[row["item_id"]][key] = CallResult(
                row["order"], row["sample"], row["label"], row["label_probs"], row["raw_output"], row["error"],
                row["rationale"])
    return rows

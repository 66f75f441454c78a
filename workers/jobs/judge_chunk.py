"""Judge one chunk of an evaluation: every call of every item in one engine call, then persist."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from pydantic import BaseModel
from rq.timeouts import BaseTimeoutException
from sqlalchemy.orm import Session

from service.core.judging import JudgeOutput
from service.core.protocol import MAX_STAGES, CallResult, EvaluationProtocol, PlannedCall, is_single_stage
from service.db import json_codec
from service.db.engine import session_scope
from service.evaluations import repository as repo
from service.evaluations.repository import ItemRow
from service.evaluations.results import (
    HeldChunk,
    failed_verdict_row,
    finalize_or_fail,
    protocol_and_options,
    verdict_row,
)
from service.judges import cache as judge_cache
from service.models import Evaluation
from service.outages import is_transient
from service.queue import enqueue_aggregate
from service.webhooks.delivery import queue_deliveries
from workers import runtime
from workers.held_chunks import HELD
from workers.jobs.chunk_engine import generate_all
from workers.jobs.overlap import in_background, outcome, settle

log = logging.getLogger(__name__)

# A chunk started this many times without finishing (crashes, killed workers) is given up.
MAX_CHUNK_ATTEMPTS = 5
# A chunk whose job raised (not for an outage) on this many of its starts is given up.
MAX_RAISING_ATTEMPTS = 3


@dataclass
class _Call:
    item: ItemRow
    planned: PlannedCall
    cache_key: str | None = None


@dataclass(frozen=True)
class _Claim:
    """A chunk this job counted an attempt on: its evaluation, earlier starts (all; raising) and item range."""

    evaluation: Evaluation
    attempts: int
    start: int
    stop: int
    raised: int = 0


@dataclass
class _Work:
    evaluation: Evaluation
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
    with session_scope(url) as session:
        claim = _claim(session, evaluation_id, chunk_index)
    if isinstance(claim, str):
        return claim
    try:
        return _judge(url, claim, chunk_index)
    except BaseTimeoutException:  # the job's explicit timeout: RQ stops and retries the job
        raise
    except Exception as exc:
        if is_transient(exc):
            raise
        if claim.raised + 1 < MAX_RAISING_ATTEMPTS:
            with session_scope(url) as session:
                repo.count_raise(session, evaluation_id, chunk_index)
            raise
        log.exception("chunk %d of evaluation %s raised on %d starts: giving it up", chunk_index, evaluation_id,
                      claim.raised + 1, extra={"evaluation_id": evaluation_id, "chunk_index": chunk_index})
        return _give_up(url, claim, chunk_index, exc)


def _judge(url: str, claim: _Claim, chunk_index: int) -> str:
    """Judge the chunk's calls in stages and close it.

    Calls are made in stages (a protocol may plan calls that depend on earlier results);
    the stage that leaves nothing more to do stores its judgments, the chunk's verdicts and
    the progress update in one transaction.
    """
    with session_scope(url) as session:  # the first stage's cache lookup shares the load's transaction
        work = _load(session, claim, chunk_index)
        calls = _missing_calls(work)
        cached = _from_cache(session, work, calls)
    evaluation = work.evaluation
    # a single-stage protocol planned everything at once: re-planning would only render every prompt again
    last_stage = 1 if is_single_stage(work.protocol, work.options) else MAX_STAGES
    closed, all_written = _Closed(), True
    for stage in range(1, last_stage + 1):
        if stage > 1:
            with session_scope(url) as session:
                cached = _from_cache(session, work, calls)
        outputs = _outputs(work, calls, cached, chunk_index) if calls else []
        _record(work, calls, outputs, len(cached))
        _defer_if_unreachable(url, work, calls, outputs, claim.attempts)
        following = _missing_calls(work) if stage < last_stage else []
        with session_scope(url) as session:
            if following:
                all_written = _store_judgments(session, work, calls, outputs) and all_written
            else:
                closed = _close_chunk(session, work, calls, outputs, chunk_index, all_written)
        if not following:
            break
        calls = following
    _hold_or_forget(evaluation.id, closed)
    _after_close(evaluation, closed.finalized)
    log.info("judged %d calls (%d from the cache) for %d items", work.n_calls, work.n_cached,
             len(work.items), extra={"evaluation_id": evaluation.id, "chunk_index": chunk_index,
                                     "judge": evaluation.judge})
    return f"judged {work.n_calls} calls for {len(work.items)} items ({work.n_cached} cached)"


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


def _after_close(evaluation: Evaluation, finalized: bool) -> None:
    """Once the evaluation is closed: queue its webhook deliveries and its leaderboard refresh."""
    if not finalized:
        return
    # the outbox rows are committed: queue their delivery jobs (the sweep covers a lost one)
    queue_deliveries(runtime.settings(), runtime.dispatcher(), evaluation.id)
    if evaluation.suite:
        enqueue_aggregate(runtime.dispatcher(), runtime.settings(), evaluation.project_id, evaluation.suite,
                          evaluation.protocol, evaluation.judge)


def _give_up(url: str, claim: _Claim, chunk_index: int, exc: Exception) -> str:
    """Close a chunk that keeps raising: each of its items gets a failed verdict that says why."""
    reason = f"chunk given up after {claim.raised + 1} starts that raised; last error: {type(exc).__name__}: {exc}"
    with session_scope(url) as session:
        item_ids = repo.item_ids_in_range(session, claim.evaluation.id, claim.start, claim.stop)
        remaining = repo.complete_chunk(session, claim.evaluation.id, chunk_index, 0, len(item_ids))
        if remaining is None:  # another run of the chunk closed it meanwhile: its verdicts stand
            return "skipped (the chunk was closed by another run)"
        repo.put_verdicts(session, [failed_verdict_row(claim.evaluation.id, item_id, reason[:2000])
                                    for item_id in item_ids])
        finalized = remaining == 0 and finalize_or_fail(session, claim.evaluation.id)
    if remaining == 0:
        HELD.forget(claim.evaluation.id)
    _after_close(claim.evaluation, finalized)
    return f"gave up {len(item_ids)} items: {reason}"


def _claim(session: Session, evaluation_id: str, chunk_index: int) -> _Claim | str:
    """Check the chunk is still to do and count the attempt (committed before any work)."""
    evaluation = repo.get_evaluation(session, evaluation_id)
    chunk = repo.get_chunk(session, evaluation_id, chunk_index)
    if evaluation is None or chunk is None:
        return "missing"
    if evaluation.status in repo.TERMINAL or chunk.status != "pending":
        if evaluation.status in repo.TERMINAL:
            HELD.forget(evaluation_id)
        if evaluation.status == "completed" and evaluation.suite:
            # a retry after the aggregate could not be queued: queue it now (the refresh is idempotent)
            enqueue_aggregate(runtime.dispatcher(), runtime.settings(), evaluation.project_id, evaluation.suite,
                              evaluation.protocol, evaluation.judge)
        return f"skipped ({evaluation.status}, chunk {chunk.status})"
    claim = _Claim(evaluation, chunk.attempts, chunk.start, chunk.stop, chunk.raised)  # before mark_started
    repo.mark_started(session, evaluation_id, chunk_index, queued=evaluation.status == "queued")
    return claim


def _load(session: Session, claim: _Claim, chunk_index: int) -> _Work:
    """The chunk's items, validated once, and what their calls already gave."""
    evaluation = claim.evaluation
    items = repo.items_in_range(session, evaluation.id, claim.start, claim.stop)
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
        work.results[row["item_id"]][(row["order"], row["sample"])] = CallResult(
            row["order"], row["sample"], row["label"], row["label_probs"], row["raw_output"], row["error"],
            row["rationale"])
    return rows


class _Closed(NamedTuple):
    """What closing a chunk did: whether it closed the evaluation, the chunk to hold for finalize, and whether
    it was the evaluation's last chunk (the evaluation's held chunks are then dropped)."""

    finalized: bool = False
    held: HeldChunk | None = None
    last: bool = False
    payload_bytes: int = 0  # the held items' payloads as JSON (what holding them costs, roughly)


def _close_chunk(session: Session, work: _Work, calls: list[_Call], outputs: list[JudgeOutput], chunk_index: int,
                 all_written: bool) -> _Closed:
    """The last stage's judgments, the chunk's verdicts and the progress update; finalize when the last chunk lands.

    The judgments statement runs in the background while the verdicts are combined from the work's
    results (loaded at the claim, plus this job's, as stored); when some row was not stored as given
    (another run's success kept) they are combined again from a re-read. A run that finds the chunk
    closed by another run changes nothing (``_Closed()``).
    """
    evaluation, items = work.evaluation, work.items
    verdicts, written = _store_while_combining(session, work, _judgment_rows(work, calls, outputs), all_written)
    if verdicts is None or not written:
        verdicts = _verdicts(work, repo.call_results_by_item(session, [item.id for item in items]))
    failed = sum(1 for v in verdicts if v["failed"])
    remaining = repo.complete_chunk(session, evaluation.id, chunk_index, len(verdicts) - failed, failed)
    if remaining is None:  # another run of the chunk closed it: its verdicts and counts stand together
        return _Closed()
    repo.put_verdicts(session, verdicts)
    held = HeldChunk(*work.span, [(item.position, item.id, work.parsed[item.id], verdict)
                                  for item, verdict in zip(items, verdicts)])
    if remaining != 0:
        return _Closed(held=held, payload_bytes=sum(len(json_codec.dumps(item.payload)) for item in items))
    return _Closed(finalize_or_fail(session, evaluation.id, [*HELD.chunks(evaluation.id), held]), last=True)


def _store_while_combining(session: Session, work: _Work, rows: list[dict[str, Any]],
                           all_written: bool) -> tuple[list[dict[str, Any]] | None, bool]:
    """Store the judgment rows (in the background on Postgres) while combining the verdicts from the work's results.

    Returns the verdicts (None when they must come from a re-read: some row was known not to be
    stored as given before combining began, as SQLite's inline statement says) and whether every row
    of every stage was stored as given.
    """
    writing = None
    try:
        writing = in_background(session, repo.add_judgments, rows) if rows else None
        if not all_written or (writing is not None and writing.done() and writing.exception() is None
                               and not writing.result()):
            verdicts = None
        else:
            verdicts = _verdicts(work, {item_id: [results[key] for key in sorted(results)]
                                        for item_id, results in work.results.items()})
    except BaseException:
        if writing is not None:
            settle(writing)  # the session is the job's own again before the error leaves (and rolls it back)
        raise
    return verdicts, all_written and (outcome(writing) if writing is not None else True)


def _verdicts(work: _Work, stored: dict[int, list[CallResult]]) -> list[dict[str, Any]]:
    """The verdict row of every item of the chunk from its stored calls."""
    return [verdict_row(work.protocol, work.options, work.evaluation.id, item.id, work.parsed[item.id],
                        stored.get(item.id, [])) for item in work.items]


def _hold_or_forget(evaluation_id: str, closed: _Closed) -> None:
    """After the closing transaction committed: hold the chunk for finalize, or drop the evaluation's held chunks
    once its last chunk closed."""
    if closed.last:
        HELD.forget(evaluation_id)
    elif closed.held is not None:
        HELD.add(evaluation_id, closed.held, closed.payload_bytes)

"""The chunk job on real Postgres: idempotent re-execution, resume, progress counted once."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy import func, select, update

from service.core.judging import JudgeOutput
from service.core.protocol import get_protocol
from service.db.engine import session_scope
from service.evaluations import service
from service.evaluations.schemas import EvaluationCreate
from service.models import Chunk, Evaluation, Judgment, Verdict
from tests.support import project_id
from workers import runtime
from tests.workers.jobs.chunk_jobs import RecordingDispatcher, counts
from workers.jobs import chunk_engine, judge_chunk


def test_jobs_are_enqueued_by_name_with_ids_only(submitted):
    settings, evaluation_id, dispatcher = submitted
    assert [(job, args, queue) for job, args, queue, _, _ in dispatcher.jobs] == [
        ("workers.jobs.judge_chunk.run", (evaluation_id, 0), settings.queue_name("scripted")),
        ("workers.jobs.judge_chunk.run", (evaluation_id, 1), settings.queue_name("scripted")),
    ]
    assert all(timeout == settings.job_timeout_seconds for *_, timeout in dispatcher.jobs)
    assert dispatcher.fair_keys == [f"project:{project_id(settings)}"] * 2  # a project's chunks take its turns


def test_a_chunk_executed_twice_leaves_no_duplicates(submitted):
    settings, evaluation_id, _ = submitted
    judge_chunk.run(evaluation_id, 0)
    assert counts(settings, evaluation_id) == (6, 3, 3, 1, "running")
    # a redelivered job for a finished chunk does nothing
    assert judge_chunk.run(evaluation_id, 0).startswith("skipped")
    assert counts(settings, evaluation_id) == (6, 3, 3, 1, "running")
    judge_chunk.run(evaluation_id, 1)
    assert counts(settings, evaluation_id) == (12, 6, 6, 2, "completed")


def test_the_same_chunk_run_by_two_workers_at_once_counts_once(prod_settings, monkeypatch):
    """Two executions overlap (a stale job re-enqueued while the first still runs)."""
    runtime.configure(prod_settings)
    backend = runtime.backend("scripted-slow")
    both_judging, real_generate = threading.Barrier(2, timeout=30), backend.generate

    def generate(requests):
        both_judging.wait()  # both runs claimed the chunk before either stores: they really overlap
        return real_generate(requests)

    monkeypatch.setattr(backend, "generate", generate)
    items = [{"id": f"i{i}", "prompt": "p", "response_a": "a" * (i + 1), "response_b": "bb"} for i in range(4)]
    body = EvaluationCreate(protocol="pairwise", judge="scripted-slow", model="m", items=items,
                            options={"cache": False})
    with session_scope(prod_settings.database_url) as session:
        evaluation_id = service.submit(session, RecordingDispatcher(), prod_settings, body, project_id(prod_settings))
    try:
        with ThreadPoolExecutor(max_workers=2) as pool:
            results = [f.result(timeout=60) for f in [pool.submit(judge_chunk.run, evaluation_id, 0) for _ in range(2)]]
        assert all(r.startswith("judged 8 calls") for r in results), results  # both really judged, neither failed
        assert runtime.backend("scripted-slow").generate_calls == 2
        assert counts(prod_settings, evaluation_id) == (8, 4, 4, 1, "completed")
    finally:
        runtime.shutdown()


def test_a_partly_judged_chunk_resumes_with_only_the_missing_calls(submitted):
    settings, evaluation_id, _ = submitted
    judge_chunk.run(evaluation_id, 0)
    with session_scope(settings.database_url) as session:
        # simulate a crash after some calls were stored: drop the 'ba' calls and reopen the chunk
        session.execute(Judgment.__table__.delete().where(Judgment.evaluation_id == evaluation_id, Judgment.order == "ba"))
        session.execute(update(Chunk).where(Chunk.evaluation_id == evaluation_id, Chunk.index == 0).values(status="pending"))
        session.execute(update(Evaluation).where(Evaluation.id == evaluation_id).values(done=0, chunks_done=0))
    backend = runtime.backend("scripted")
    before = backend.requests_seen
    judge_chunk.run(evaluation_id, 0)
    assert backend.requests_seen - before == 3  # only the three missing 'ba' calls
    assert counts(settings, evaluation_id)[:4] == (6, 3, 3, 1)


def test_all_calls_of_a_chunk_go_to_the_engine_in_one_call(submitted):
    settings, evaluation_id, _ = submitted
    backend = runtime.backend("scripted")
    calls_before, requests_before = backend.generate_calls, backend.requests_seen
    judge_chunk.run(evaluation_id, 1)
    assert backend.generate_calls - calls_before == 1
    assert backend.requests_seen - requests_before == 6  # 3 items x 2 orders


def test_engine_failure_is_retried_then_recorded_and_a_later_run_replaces_it(submitted, monkeypatch):
    settings, evaluation_id, _ = submitted
    monkeypatch.setattr(chunk_engine, "RETRY_DELAY_SECONDS", 0.0)
    backend = runtime.backend("scripted")
    attempts = []

    def broken(requests):
        attempts.append(len(requests))
        raise RuntimeError("CUDA out of memory")

    monkeypatch.setattr(backend, "generate", broken)
    judge_chunk.run(evaluation_id, 0)
    judge_chunk.run(evaluation_id, 1)
    assert attempts == [6] * chunk_engine.ENGINE_ATTEMPTS * 2  # bounded retries, whole chunk per call
    with session_scope(settings.database_url) as session:
        evaluation = session.get(Evaluation, evaluation_id)
        assert evaluation.status == "failed" and evaluation.failed == 6 and "no item could be judged" in evaluation.error
        errors = session.scalars(select(Judgment.error).where(Judgment.evaluation_id == evaluation_id)).all()
    assert len(errors) == 12 and all("CUDA out of memory" in e for e in errors)

    # an operator re-opens a chunk: failed calls are judged again and replace the errors, no duplicates
    monkeypatch.undo()
    with session_scope(settings.database_url) as session:
        session.execute(update(Chunk).where(Chunk.evaluation_id == evaluation_id, Chunk.index == 0).values(status="pending"))
        session.execute(update(Evaluation).where(Evaluation.id == evaluation_id).values(status="running"))
    judge_chunk.run(evaluation_id, 0)
    with session_scope(settings.database_url) as session:
        rows = session.execute(select(Judgment.error).where(Judgment.evaluation_id == evaluation_id)).all()
    assert len(rows) == 12 and sum(1 for (e,) in rows if e is None) == 6


def test_the_job_timeout_is_not_swallowed(submitted, monkeypatch):
    from rq.timeouts import JobTimeoutException

    settings, evaluation_id, _ = submitted

    def hung(requests):
        raise JobTimeoutException("Task exceeded maximum timeout value")

    monkeypatch.setattr(runtime.backend("scripted"), "generate", hung)
    with pytest.raises(JobTimeoutException):
        judge_chunk.run(evaluation_id, 0)
    with session_scope(settings.database_url) as session:
        assert session.get(Chunk, (evaluation_id, 0)).status == "pending"  # left for RQ's retry
        assert session.scalar(select(func.count()).select_from(Judgment)) == 0


def test_a_chunk_that_keeps_crashing_is_abandoned_with_a_reason(submitted):
    settings, evaluation_id, _ = submitted
    with session_scope(settings.database_url) as session:
        session.execute(update(Chunk).where(Chunk.evaluation_id == evaluation_id, Chunk.index == 0)
                        .values(attempts=judge_chunk.MAX_CHUNK_ATTEMPTS))
    backend = runtime.backend("scripted")
    calls_before = backend.generate_calls
    judge_chunk.run(evaluation_id, 0)
    assert backend.generate_calls == calls_before  # no engine call for an abandoned chunk
    with session_scope(settings.database_url) as session:
        evaluation = session.get(Evaluation, evaluation_id)
        assert (evaluation.done, evaluation.failed, evaluation.chunks_done) == (0, 3, 1)
        errors = session.scalars(select(Judgment.error).where(Judgment.evaluation_id == evaluation_id)).all()
    assert len(errors) == 6 and all("abandoned after" in e for e in errors)


def test_a_judge_whose_engine_cannot_start_fails_the_evaluation_with_the_reason(submitted, monkeypatch):
    settings, evaluation_id, _ = submitted

    def no_engine(name):
        raise ValueError("Available memory on node 0 (6.73/23.54 GiB) is less than desired")

    monkeypatch.setattr(runtime, "backend", no_engine)
    judge_chunk.run(evaluation_id, 0)
    judge_chunk.run(evaluation_id, 1)
    with session_scope(settings.database_url) as session:
        evaluation = session.get(Evaluation, evaluation_id)
        assert evaluation.status == "failed" and evaluation.failed == 6
        assert "judge engine could not start: ValueError: Available memory" in evaluation.error


def test_verdicts_come_from_what_is_stored_when_another_run_stored_successes_first(submitted, monkeypatch):
    """This run's calls fail while a second run of the chunk judges and closes it: the successes are
    kept, and this run's verdicts must be built from them, not from its own failed outputs."""
    settings, evaluation_id, _ = submitted
    backend = runtime.backend("scripted")
    real_generate = backend.generate

    def fail_while_another_run_succeeds(requests):
        monkeypatch.setattr(backend, "generate", real_generate)
        assert judge_chunk.run(evaluation_id, 0).startswith("judged 6 calls")
        return [JudgeOutput(text="", error="engine down") for _ in requests]

    monkeypatch.setattr(backend, "generate", fail_while_another_run_succeeds)
    judge_chunk.run(evaluation_id, 0)
    with session_scope(settings.database_url) as session:
        errors = session.scalar(select(func.count()).select_from(Judgment)
                                .where(Judgment.evaluation_id == evaluation_id, Judgment.error.isnot(None)))
        failed = session.scalar(select(func.count()).select_from(Verdict)
                                .where(Verdict.evaluation_id == evaluation_id, Verdict.failed.is_(True)))
        scored = session.scalar(select(func.count()).select_from(Verdict)
                                .where(Verdict.evaluation_id == evaluation_id, Verdict.unscored.is_(False)))
    assert (errors, failed, scored) == (0, 0, 3)
    assert counts(settings, evaluation_id)[:4] == (6, 3, 3, 1)


def _raise_on_short_responses(monkeypatch, error: Exception):
    """Make the pairwise protocol raise while planning chunk 0's items (response_a of 1-3 characters)."""
    protocol = get_protocol("pairwise")
    real_plan = protocol.plan_calls

    def plan(item, options, done):
        if len(item.response_a) <= 3:
            raise error
        return real_plan(item, options, done)

    monkeypatch.setattr(protocol, "plan_calls", plan)


def test_a_chunk_that_keeps_raising_is_given_up_with_the_error(submitted, monkeypatch):
    """An exception that is not an outage: each run counts, and the last allowed one closes the chunk."""
    settings, evaluation_id, _ = submitted
    _raise_on_short_responses(monkeypatch, ValueError("no plan for this item"))
    for attempt in range(1, judge_chunk.MAX_RAISING_ATTEMPTS):
        with pytest.raises(ValueError):
            judge_chunk.run(evaluation_id, 0)
        with session_scope(settings.database_url) as session:
            chunk = session.get(Chunk, (evaluation_id, 0))
            assert (chunk.attempts, chunk.raised, chunk.status) == (attempt, attempt, "pending")  # counted though it raised
    assert judge_chunk.run(evaluation_id, 0).startswith("gave up 3 items")
    assert judge_chunk.run(evaluation_id, 1).startswith("judged 6 calls")
    with session_scope(settings.database_url) as session:
        evaluation = session.get(Evaluation, evaluation_id)
        verdicts = session.scalars(select(Verdict).where(Verdict.evaluation_id == evaluation_id)).all()
    assert (evaluation.status, evaluation.done, evaluation.failed, evaluation.chunks_done) == ("completed", 3, 3, 2)
    assert evaluation.summary["n_failed"] == 3 and evaluation.summary["n_scored"] == 3
    assert evaluation.summary["n_unscored"] == 0  # failed items are failed, not unscored
    given_up = [v for v in verdicts if v.failed]
    assert len(given_up) == 3 and all(v.outcome is None and not v.unscored for v in given_up)
    assert all(v.details["errors"] == ["chunk given up after 3 starts that raised; last error: ValueError: no plan for "
                                       "this item"]
               for v in given_up)


def test_starts_that_did_not_raise_do_not_count_towards_giving_up(submitted, monkeypatch):
    """Killed workers and judge outages used up starts; one error after them is one raising start, not the third."""
    settings, evaluation_id, _ = submitted
    with session_scope(settings.database_url) as session:
        session.execute(update(Chunk).where(Chunk.evaluation_id == evaluation_id, Chunk.index == 0)
                        .values(attempts=judge_chunk.MAX_CHUNK_ATTEMPTS - 1))
    _raise_on_short_responses(monkeypatch, ValueError("a one-off"))
    with pytest.raises(ValueError):
        judge_chunk.run(evaluation_id, 0)
    with session_scope(settings.database_url) as session:
        chunk = session.get(Chunk, (evaluation_id, 0))
    assert (chunk.attempts, chunk.raised, chunk.status) == (judge_chunk.MAX_CHUNK_ATTEMPTS, 1, "pending")


def test_an_outage_is_never_taken_for_a_bad_chunk(submitted, monkeypatch):
    """A lost database connection on the last allowed attempt leaves the chunk for a later retry."""
    from sqlalchemy.exc import OperationalError

    settings, evaluation_id, _ = submitted
    with session_scope(settings.database_url) as session:
        session.execute(update(Chunk).where(Chunk.evaluation_id == evaluation_id, Chunk.index == 0)
                        .values(attempts=judge_chunk.MAX_RAISING_ATTEMPTS, raised=judge_chunk.MAX_RAISING_ATTEMPTS - 1))
    _raise_on_short_responses(monkeypatch, OperationalError("SELECT 1", {}, Exception("server closed the connection")))
    with pytest.raises(OperationalError):
        judge_chunk.run(evaluation_id, 0)
    with session_scope(settings.database_url) as session:
        assert session.get(Chunk, (evaluation_id, 0)).status == "pending"
        assert session.scalar(select(func.count()).select_from(Verdict)) == 0


def test_results_that_cannot_be_computed_fail_the_evaluation_and_keep_its_verdicts(submitted, monkeypatch):
    settings, evaluation_id, _ = submitted

    def broken_summary(items, verdicts, options):
        raise ZeroDivisionError("division by zero")

    monkeypatch.setattr(get_protocol("pairwise"), "summarize", broken_summary)
    judge_chunk.run(evaluation_id, 0)
    assert judge_chunk.run(evaluation_id, 1).startswith("judged 6 calls")  # closed, not left to retry
    assert counts(settings, evaluation_id) == (12, 6, 6, 2, "failed")
    with session_scope(settings.database_url) as session:
        evaluation = session.get(Evaluation, evaluation_id)
    assert evaluation.error == "the results could not be computed: ZeroDivisionError: division by zero"
    assert evaluation.summary is None and evaluation.completed_at is not None


def test_giving_up_never_overwrites_what_another_run_closed(submitted, monkeypatch):
    """The last allowed run raises after a second run of the same chunk judged and closed it."""
    settings, evaluation_id, _ = submitted
    with session_scope(settings.database_url) as session:
        session.execute(update(Chunk).where(Chunk.evaluation_id == evaluation_id, Chunk.index == 0)
                        .values(raised=judge_chunk.MAX_RAISING_ATTEMPTS - 1))
    protocol = get_protocol("pairwise")
    real_plan = protocol.plan_calls

    def another_run_closes_the_chunk_then_this_one_raises(item, options, done):
        monkeypatch.setattr(protocol, "plan_calls", real_plan)
        assert judge_chunk.run(evaluation_id, 0).startswith("judged 6 calls")
        raise ValueError("late failure")

    monkeypatch.setattr(protocol, "plan_calls", another_run_closes_the_chunk_then_this_one_raises)
    assert judge_chunk.run(evaluation_id, 0) == "skipped (the chunk was closed by another run)"
    with session_scope(settings.database_url) as session:
        verdicts = session.scalars(select(Verdict).where(Verdict.evaluation_id == evaluation_id)).all()
    assert len(verdicts) == 3 and not any(v.failed for v in verdicts)
    assert counts(settings, evaluation_id)[:4] == (6, 3, 3, 1)


def _unreachable_for_short_responses(backend, monkeypatch):
    """The judge server stops answering the calls of chunk 0's first two items (as if it went down mid-batch)."""
    real_generate = backend.generate

    def generate(requests):
        outputs = real_generate(requests)
        missed = [any(f"\n{text}\n\n" in r.messages[-1]["content"] for text in ("a", "aa")) for r in requests]
        return [JudgeOutput(text="", error="ConnectError after 3 attempt(s): connection refused",
                            extra={"unreachable": True}) if miss else output for miss, output in zip(missed, outputs)]

    monkeypatch.setattr(backend, "generate", generate)
    return real_generate


def test_calls_that_found_no_serving_judge_leave_the_chunk_for_a_later_run(submitted, monkeypatch):
    settings, evaluation_id, _ = submitted
    backend = runtime.backend("scripted")
    real_generate = _unreachable_for_short_responses(backend, monkeypatch)
    with pytest.raises(judge_chunk.JudgeUnreachable, match="4 of 6 judge calls found no serving judge"):
        judge_chunk.run(evaluation_id, 0)
    with session_scope(settings.database_url) as session:
        assert session.get(Chunk, (evaluation_id, 0)).status == "pending"
        stored = session.scalars(select(Judgment).where(Judgment.evaluation_id == evaluation_id)).all()
    assert len(stored) == 6 and sum(j.error is None for j in stored) == 2  # what was judged is kept
    assert counts(settings, evaluation_id)[1:4] == (0, 0, 0)
    monkeypatch.setattr(backend, "generate", real_generate)  # the server is back
    asked = []
    monkeypatch.setattr(backend, "generate", lambda requests: asked.append(len(requests)) or real_generate(requests))
    assert judge_chunk.run(evaluation_id, 0).startswith("judged 4 calls")
    assert asked == [4]
    with session_scope(settings.database_url) as session:
        evaluation = session.get(Evaluation, evaluation_id)
        errors = session.scalar(select(func.count()).select_from(Judgment).where(Judgment.error.isnot(None)))
    assert (evaluation.done, evaluation.failed, errors) == (3, 0, 0)


def test_the_last_allowed_run_records_calls_that_found_no_serving_judge(submitted, monkeypatch):
    settings, evaluation_id, _ = submitted
    with session_scope(settings.database_url) as session:
        session.execute(update(Chunk).where(Chunk.evaluation_id == evaluation_id, Chunk.index == 0)
                        .values(attempts=judge_chunk.MAX_CHUNK_ATTEMPTS - 1))
    _unreachable_for_short_responses(runtime.backend("scripted"), monkeypatch)
    assert judge_chunk.run(evaluation_id, 0).startswith("judged 6 calls")
    with session_scope(settings.database_url) as session:
        evaluation = session.get(Evaluation, evaluation_id)
    assert (evaluation.done, evaluation.failed, evaluation.chunks_done) == (1, 2, 1)


def test_an_engine_outage_after_the_engine_attempts_leaves_the_chunk_for_a_later_run(submitted, monkeypatch):
    from workers.backends.openai_http import BackendUnavailableError

    settings, evaluation_id, _ = submitted
    monkeypatch.setattr(chunk_engine, "RETRY_DELAY_SECONDS", 0.0)

    def down(requests):
        raise BackendUnavailableError("all 6 requests to http://judge/v1/chat/completions failed: connection refused")

    monkeypatch.setattr(runtime.backend("scripted"), "generate", down)
    with pytest.raises(judge_chunk.JudgeUnreachable, match="6 of 6"):
        judge_chunk.run(evaluation_id, 0)
    with session_scope(settings.database_url) as session:
        assert session.get(Chunk, (evaluation_id, 0)).status == "pending"


def test_a_job_timeout_while_computing_results_is_left_to_rqs_retry(submitted, monkeypatch):
    """RQ's timeout is no bug in the metrics: the closing transaction is undone and the retry finishes it."""
    from rq.timeouts import JobTimeoutException

    settings, evaluation_id, _ = submitted
    judge_chunk.run(evaluation_id, 0)
    protocol = get_protocol("pairwise")
    real_summarize = protocol.summarize

    def out_of_time(items, verdicts, options):
        raise JobTimeoutException("Task exceeded maximum timeout value (3600 seconds)")

    monkeypatch.setattr(protocol, "summarize", out_of_time)
    with pytest.raises(JobTimeoutException):
        judge_chunk.run(evaluation_id, 1)
    assert counts(settings, evaluation_id) == (6, 3, 3, 1, "running")  # the closing transaction is undone whole
    monkeypatch.setattr(protocol, "summarize", real_summarize)
    assert judge_chunk.run(evaluation_id, 1).startswith("judged 6 calls")
    assert counts(settings, evaluation_id) == (12, 6, 6, 2, "completed")


def test_a_run_that_finds_its_chunk_closed_leaves_the_closing_runs_verdicts(submitted, monkeypatch):
    """Run A was given up (failed verdicts, failed counted); an overlapping run B that then judges the chunk must
    not replace A's verdicts, or verdicts and progress would disagree."""
    settings, evaluation_id, _ = submitted
    backend = runtime.backend("scripted")
    real_generate = backend.generate
    with session_scope(settings.database_url) as session:
        session.execute(update(Chunk).where(Chunk.evaluation_id == evaluation_id, Chunk.index == 0)
                        .values(attempts=judge_chunk.MAX_RAISING_ATTEMPTS - 1))

    def another_run_gives_the_chunk_up_meanwhile(requests):
        with session_scope(settings.database_url) as session:
            claim = judge_chunk._Claim(session.get(Evaluation, evaluation_id), judge_chunk.MAX_RAISING_ATTEMPTS, 0, 3)
        judge_chunk._give_up(settings.database_url, claim, 0, ValueError("no plan"))
        return real_generate(requests)

    monkeypatch.setattr(backend, "generate", another_run_gives_the_chunk_up_meanwhile)
    from service.evaluations.results import HeldChunk
    from workers.held_chunks import HELD

    HELD.add(evaluation_id, HeldChunk(3, 6, []), payload_bytes=0)  # what this process holds of the evaluation
    judge_chunk.run(evaluation_id, 0)
    with session_scope(settings.database_url) as session:
        verdicts = session.scalars(select(Verdict).where(Verdict.evaluation_id == evaluation_id)).all()
        evaluation = session.get(Evaluation, evaluation_id)
    assert (evaluation.done, evaluation.failed) == (0, 3)
    assert len(verdicts) == 3 and all(v.failed for v in verdicts)
    assert [chunk.start for chunk in HELD.chunks(evaluation_id)] == [3]  # neither this chunk held, nor the rest dropped
    HELD.forget(evaluation_id)

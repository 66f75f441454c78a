"""Closing a chunk in the worker's closing writer: the same rows as closing it in the job, and a closing that fails
there leaves the chunk pending with nothing of it stored (to run again), or is given up like a job that raises."""

from __future__ import annotations

import pytest
from sqlalchemy import select, update
from sqlalchemy.exc import OperationalError

from service.db.engine import session_scope
from service.evaluations import service
from service.evaluations.schemas import EvaluationCreate
from service.models import Chunk, Evaluation, Judgment, Verdict
from tests.support import project_id
from tests.workers.jobs.chunk_jobs import RecordingDispatcher, counts
from workers import runtime
from workers.held_chunks import HELD
from workers.jobs import chunk_closing, judge_chunk

N_ITEMS, CHUNK = 12, 2


@pytest.fixture
def worker_settings(prod_settings):
    """This process as a judge worker on Postgres (chunk jobs hand their closing to a closing writer)."""
    runtime.configure(prod_settings)
    yield prod_settings
    runtime.shutdown()


def submit(settings, seed: str = "") -> str:
    items = [{"id": f"i{i}", "prompt": f"question {i}{seed}", "response_a": "a" * (3 + 5 * i),
              "response_b": "b" * (30 + i), "human_label": "ab"[i % 2], "category": f"c{i % 3}"}
             for i in range(N_ITEMS)]
    body = EvaluationCreate(protocol="pairwise", judge="scripted", model="m", items=items,
                            options={"chunk_size": CHUNK, "cache": False, "review_fraction": 0.25})
    with session_scope(settings.database_url) as session:
        return service.submit(session, RecordingDispatcher(), settings, body, project_id(settings))


def stored(settings, evaluation_id):
    """What an evaluation stored, without ids and times: its verdicts, its judgments and its results."""
    with session_scope(settings.database_url) as session:
        verdicts = session.execute(select(Verdict.outcome, Verdict.score, Verdict.bpde, Verdict.needs_review,
                                          Verdict.details).where(Verdict.evaluation_id == evaluation_id)
                                   .order_by(Verdict.item_id)).all()
        judgments = session.execute(select(Judgment.order, Judgment.label, Judgment.raw_output, Judgment.label_probs)
                                    .where(Judgment.evaluation_id == evaluation_id)
                                    .order_by(Judgment.item_id, Judgment.order)).all()
        evaluation = session.get(Evaluation, evaluation_id)
        return verdicts, judgments, evaluation.status, evaluation.summary, evaluation.reliability


def test_closings_in_the_writer_store_what_closing_in_the_job_stores(worker_settings, monkeypatch):
    settings = worker_settings
    inline = submit(settings)
    for index in range(N_ITEMS // CHUNK):
        judge_chunk.run(inline, index)
    in_background = []
    real = chunk_closing.close_in_background
    monkeypatch.setattr(chunk_closing, "close_in_background",
                        lambda url, closing: in_background.append(closing.chunk_index) or real(url, closing))
    writer = runtime.start_closing_writer()
    behind = submit(settings)
    for index in range(N_ITEMS // CHUNK):
        judge_chunk.run(behind, index)
    assert writer.drain(timeout=30)
    # a chunk that may be the last to close is closed in its job, after the writer's: the last one always
    # (finalize among it); chunk 4 too when the writer had committed chunk 3 before chunk 4's claim
    assert in_background[:4] == [0, 1, 2, 3] and 5 not in in_background
    assert stored(settings, behind) == stored(settings, inline)
    assert stored(settings, behind)[2] == "completed"
    assert HELD.chunks(behind) == []


def outage(*args, **kwargs):
    raise OperationalError("UPDATE chunks ...", {}, Exception("server closed the connection unexpectedly"))


def test_a_closing_that_fails_for_an_outage_in_the_writer_leaves_the_chunk_pending_with_nothing_stored(
        worker_settings, monkeypatch):
    """The job has returned (RQ calls it finished); the chunk stays pending, nothing of it is stored or held, and
    a second run (as the reaper queues it) stores it once."""
    from service.evaluations import chunk_queries

    settings = worker_settings
    evaluation_id = submit(settings)
    writer = runtime.start_closing_writer()
    real_complete = chunk_queries.complete_chunk
    monkeypatch.setattr(chunk_queries, "complete_chunk", outage)
    assert judge_chunk.run(evaluation_id, 0).endswith("(closing handed to the closing writer)")
    assert writer.drain(timeout=30)
    assert counts(settings, evaluation_id) == (0, 0, 0, 0, "running")  # the judgments were rolled back too
    assert HELD.chunks(evaluation_id) == []
    with session_scope(settings.database_url) as session:
        chunk = session.get(Chunk, (evaluation_id, 0))
        assert (chunk.status, chunk.attempts, chunk.raised) == ("pending", 1, 0)  # an outage is not counted
    monkeypatch.setattr(chunk_queries, "complete_chunk", real_complete)
    judge_chunk.run(evaluation_id, 0)
    assert writer.drain(timeout=30)
    assert counts(settings, evaluation_id) == (2 * CHUNK, CHUNK, CHUNK, 1, "running")


@pytest.mark.parametrize("raised_before, expected", [(0, ("pending", 1, None)),
                                                     (chunk_closing.MAX_RAISING_ATTEMPTS - 1, ("done", 2, "a bug"))])
def test_a_closing_that_raises_in_the_writer_counts_as_a_raising_start_and_is_given_up_at_the_limit(
        worker_settings, monkeypatch, raised_before, expected):
    settings = worker_settings
    evaluation_id = submit(settings)
    with session_scope(settings.database_url) as session:
        session.execute(update(Chunk).where(Chunk.evaluation_id == evaluation_id, Chunk.index == 0)
                        .values(attempts=raised_before, raised=raised_before))
    writer = runtime.start_closing_writer()

    def a_bug(session, closing):
        raise ValueError("a bug in closing")

    monkeypatch.setattr(chunk_closing, "_write", a_bug)
    judge_chunk.run(evaluation_id, 0)
    assert writer.drain(timeout=30)
    with session_scope(settings.database_url) as session:
        chunk = session.get(Chunk, (evaluation_id, 0))
        verdicts = session.scalars(select(Verdict).where(Verdict.evaluation_id == evaluation_id)).all()
        failed = session.get(Evaluation, evaluation_id).failed
    status, raised, reason = expected
    assert (chunk.status, chunk.raised) == (status, raised)
    if reason is None:
        assert verdicts == [] and failed == 0
    else:  # given up: each of its items failed, saying why
        assert len(verdicts) == CHUNK and failed == CHUNK
        assert all(v.failed and reason in v.details["errors"][0] for v in verdicts)


@pytest.mark.parametrize("failures, error, retried", [
    (2, ConnectionError("Redis went away"), True),  # an outage: tried again, then queued
    (1, ValueError("a bug"), False),  # anything else: logged once, saying what happened
])
def test_queueing_what_follows_a_finished_evaluation_from_the_writer_is_retried_through_an_outage(
        worker_settings, monkeypatch, caplog, failures, error, retried):
    """With several workers the evaluation's last closing can run in a writer: its deliveries and leaderboard
    refresh are queued after the commit, and a Redis outage then must not be reported as a failed closing."""
    settings = worker_settings
    evaluation_id = submit(settings)
    writer = runtime.start_closing_writer()
    monkeypatch.setattr(writer, "may_close_last", lambda chunks_not_done: False)  # every closing in the writer
    monkeypatch.setattr(chunk_closing, "AFTER_CLOSE_RETRY_SECONDS", (0.0, 0.0, 0.0))
    calls = []
    real_after_close = chunk_closing.after_close

    def flaky_after_close(evaluation, finalized):
        calls.append(finalized)
        if finalized and calls.count(True) <= failures:
            raise error
        real_after_close(evaluation, finalized)

    monkeypatch.setattr(chunk_closing, "after_close", flaky_after_close)
    for index in range(N_ITEMS // CHUNK):
        judge_chunk.run(evaluation_id, index)
    assert writer.drain(timeout=30)
    assert counts(settings, evaluation_id) == (2 * N_ITEMS, N_ITEMS, N_ITEMS, N_ITEMS // CHUNK, "completed")
    assert calls.count(True) == (failures + 1 if retried else 1)
    assert "failed in the closing writer" not in caplog.text and "stays pending" not in caplog.text
    assert ("is stored and closed, but queueing" in caplog.text) is not retried

"""Closing a chunk: judgments written while verdicts are combined, chunks held for finalize, one combine per item."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from service.core.protocol import get_protocol
from service.db.engine import session_scope
from service.evaluations import service
from service.evaluations.schemas import EvaluationCreate
from service.models import Chunk, Evaluation, Verdict
from tests.support import project_id
from tests.workers.jobs.chunk_jobs import RecordingDispatcher, counts
from workers import runtime
from workers.jobs import judge_chunk


def test_a_combine_that_raises_while_the_judgments_are_written_stores_nothing_and_holds_nothing(submitted, monkeypatch):
    """The verdicts are combined while the judgments statement runs in a thread: a bug there waits for the
    statement, then undoes the whole closing transaction; the chunk stays pending and is not held."""
    from workers.held_chunks import HELD

    settings, evaluation_id, _ = submitted
    protocol = get_protocol("pairwise")

    def broken_combine(item, results, options):
        raise ZeroDivisionError("a bug in combine")

    monkeypatch.setattr(protocol, "combine", broken_combine)
    with pytest.raises(ZeroDivisionError):
        judge_chunk.run(evaluation_id, 0)
    assert counts(settings, evaluation_id) == (0, 0, 0, 0, "running")
    assert HELD.chunks(evaluation_id) == []
    with session_scope(settings.database_url) as session:
        chunk = session.get(Chunk, (evaluation_id, 0))
        assert (chunk.status, chunk.attempts, chunk.raised) == ("pending", 1, 1)


def _finalize_reads(settings, monkeypatch, forget_before_last: bool):
    """Judge a 12-item evaluation's chunks 2, 0, 1 in this process; returns what finalize read (rows per read),
    the status/summary/reliability at finalize, the flagged count, and the same recomputed from everything stored."""
    from service.evaluations import repository as repo
    from service.evaluations import results
    from workers.held_chunks import HELD

    items = [{"id": f"i{i}", "prompt": f"question {i}", "response_a": "a" * (5 + 7 * i), "response_b": "b" * (40 + i),
              "human_label": "ab"[i % 2], "category": f"c{i % 3}"} for i in range(12)]
    body = EvaluationCreate(protocol="pairwise", judge="scripted-first", model="m", items=items,
                            options={"chunk_size": 4, "review_fraction": 0.25})
    with session_scope(settings.database_url) as session:
        evaluation_id = service.submit(session, RecordingDispatcher(), settings, body, project_id(settings))
    read = []
    original = repo.items_with_verdicts
    monkeypatch.setattr(repo, "items_with_verdicts",
                        lambda *args, **kwargs: read.append(original(*args, **kwargs)) or read[-1])
    for index in (2, 0, 1):
        if index == 1 and forget_before_last:
            HELD.forget(evaluation_id)  # as if other workers had closed chunks 2 and 0
        judge_chunk.run(evaluation_id, index)
    assert HELD.chunks(evaluation_id) == []  # finalized: nothing of it stays held
    with session_scope(settings.database_url) as session:
        evaluation = session.get(Evaluation, evaluation_id)
        at_finalize = (evaluation.status, evaluation.summary, evaluation.reliability)
        flagged = session.scalar(select(func.count()).select_from(Verdict).where(
            Verdict.evaluation_id == evaluation_id, Verdict.needs_review.is_(True)))
    reads_at_finalize = [len(rows) for rows in read]
    with session_scope(settings.database_url) as session:
        results.recompute(session, evaluation_id)  # reads every item and verdict
    with session_scope(settings.database_url) as session:
        evaluation = session.get(Evaluation, evaluation_id)
        recomputed = (evaluation.status, evaluation.summary, evaluation.reliability)
    assert len(read) == len(reads_at_finalize) + 1 and len(read[-1]) == 12
    return reads_at_finalize, at_finalize, flagged, recomputed


@pytest.mark.parametrize("forget_before_last, rows_read", [(False, 0), (True, 8)])
def test_finalize_takes_the_chunks_this_process_closed_as_held_and_gets_what_reading_everything_gets(
        prod_settings, monkeypatch, forget_before_last, rows_read):
    """The chunks this process closed (all three here, or only the last one when the others are not held, as
    when other workers closed them) are handed to finalize instead of read back: the summary and reliability
    report equal the ones computed from everything stored."""
    runtime.configure(prod_settings)
    try:
        reads, at_finalize, flagged, recomputed = _finalize_reads(prod_settings, monkeypatch, forget_before_last)
    finally:
        runtime.shutdown()
    assert reads == [rows_read]
    assert at_finalize[0] == "completed" and at_finalize[1]["n_scored"] == 12 and flagged == 3
    assert at_finalize[1]["lc_win_rate"] is not None and at_finalize[1]["per_category"]
    assert recomputed == at_finalize


@pytest.mark.parametrize("database", ["postgres", "sqlite"])
def test_each_items_verdict_is_combined_once_per_chunk(prod_settings, tmp_path, monkeypatch, database):
    """Postgres combines while its judgments statement runs; SQLite, whose statement cannot say every row was
    stored as given, writes first and combines once from what it reads back (not once more before)."""
    from service.db.migrate import upgrade

    settings = prod_settings
    if database == "sqlite":
        settings = prod_settings.model_copy(update={"database_url": f"sqlite:///{tmp_path}/embedded.db"})
        upgrade(settings.database_url)
    runtime.configure(settings)
    protocol = get_protocol("pairwise")
    combined = []
    real_combine = protocol.combine
    monkeypatch.setattr(protocol, "combine", lambda item, results, options: combined.append(item.id)
                        or real_combine(item, results, options))
    items = [{"id": f"i{i}", "prompt": "p", "response_a": "a" * (i + 1), "response_b": "bb"} for i in range(4)]
    body = EvaluationCreate(protocol="pairwise", judge="scripted", model="m", items=items,
                            options={"chunk_size": 2, "cache": False})
    try:
        with session_scope(settings.database_url) as session:
            evaluation_id = service.submit(session, RecordingDispatcher(), settings, body, project_id(settings))
        for index in (0, 1):
            judge_chunk.run(evaluation_id, index)
        assert counts(settings, evaluation_id) == (8, 4, 4, 2, "completed")
    finally:
        runtime.shutdown()
    assert sorted(combined) == ["i0", "i1", "i2", "i3"]

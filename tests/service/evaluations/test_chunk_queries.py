"""claim_chunk (service/evaluations/chunk_queries.py): what it returns and what it stores, case by case, the same on
Postgres (one statement) and on SQLite (three).

It returns the evaluation as read before the claim and, when the chunk was pending and its evaluation not ended,
the counted attempt; the evaluation turns running (status, started_at) only with a claimed chunk. On Postgres the
claim also returns the chunk's items, as ``items_in_range`` reads them.
"""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timezone
from typing import NamedTuple

import pytest
from sqlalchemy import event, insert, select

from service.db.engine import get_engine, job_session, session_scope
from service.db.migrate import upgrade
from service.evaluations import repository
from service.evaluations.chunk_queries import ChunkEvaluation, ChunkStart, claim_chunk, items_in_range
from service.models import Chunk, Evaluation
from service.models.project import Project

T0 = datetime(2026, 11, 28, 12, 0, tzinfo=timezone.utc)
PROJECT = "11111111-1111-1111-1111-111111111111"
EVALUATION = "22222222-2222-2222-2222-222222222222"  # the evaluation the cases claim from
BYSTANDER = "33333333-3333-3333-3333-333333333333"  # queued, with a pending chunk 0 of its own: never touched
MISSING = "44444444-4444-4444-4444-444444444444"
NEW = "a new time"  # a timestamp the claim wrote (a different value from the one stored before)

CHUNK0 = ("chunks", (EVALUATION, 0))  # pending: items [0, 3), raised once before
CHUNK2 = ("chunks", (EVALUATION, 2))  # pending and empty: [5, 5)
EVALUATION_ROW = ("evaluations", EVALUATION)


class Case(NamedTuple):
    """A claim of chunk ``index`` of an evaluation in ``status`` after ``claims_before`` earlier claims of it."""

    status: str
    index: int
    returned_status: str | None  # the returned evaluation's status; None: no evaluation returned
    attempt: int | None  # the returned ChunkStart's attempts; None: no ChunkStart
    changes: dict  # (table, key, column) → the stored value after the claim, for every value the claim changed
    claims_before: int = 0
    evaluation_id: str = EVALUATION
    span: tuple[int, int] = (0, 3)  # the claimed chunk's positions (start, stop)
    raised: int = 1  # the claimed chunk's earlier raising starts


def claimed(attempts: int, turns_running: bool, chunk: tuple = CHUNK0) -> dict:
    """The stored changes of a claim of ``chunk`` that counts its ``attempts``-th attempt."""
    changes = {(*chunk, "attempts"): attempts, (*chunk, "updated_at"): NEW}
    if turns_running:
        changes |= {(*EVALUATION_ROW, "status"): "running", (*EVALUATION_ROW, "started_at"): NEW}
    return changes


CASES = {
    "pending chunk of a queued evaluation": Case("queued", 0, "queued", 0, claimed(1, turns_running=True)),
    "second claim of the same pending chunk": Case("queued", 0, "running", 1, claimed(2, turns_running=False),
                                                   claims_before=1),
    "third claim of the same pending chunk": Case("running", 0, "running", 2, claimed(3, turns_running=False),
                                                  claims_before=2),
    "pending chunk of a running evaluation": Case("running", 0, "running", 0, claimed(1, turns_running=False)),
    "done chunk of a queued evaluation": Case("queued", 1, "queued", None, {}),
    "done chunk of a running evaluation": Case("running", 1, "running", None, {}),
    "pending chunk of a cancelled evaluation": Case("cancelled", 0, "cancelled", None, {}),
    "pending chunk of a completed evaluation": Case("completed", 0, "completed", None, {}),
    "pending chunk of a failed evaluation": Case("failed", 0, "failed", None, {}),
    "done chunk of a cancelled evaluation": Case("cancelled", 1, "cancelled", None, {}),
    "empty pending chunk of a queued evaluation": Case("queued", 2, "queued", 0,
                                                       claimed(1, turns_running=True, chunk=CHUNK2), span=(5, 5),
                                                       raised=0),
    "missing evaluation": Case("queued", 0, None, None, {}, evaluation_id=MISSING),
    "missing chunk of a queued evaluation": Case("queued", 7, "queued", None, {}),
    "missing chunk of a running evaluation": Case("running", 7, "running", None, {}),
}


@pytest.fixture
def databases(clean_pg, tmp_path) -> dict[str, str]:
    """An emptied Postgres database and a new SQLite one, both migrated."""
    sqlite_url = f"sqlite:///{tmp_path / 'claims.db'}"
    upgrade(sqlite_url)
    return {"postgresql": clean_pg, "sqlite": sqlite_url}


def evaluation_row(evaluation_id: str, status: str) -> dict:
    """An evaluation of two chunks, one of them done; started unless queued."""
    return {"id": evaluation_id, "project_id": PROJECT, "protocol": "pairwise", "judge": "scripted", "model": "m",
            "suite": "s", "options": {"samples": [1, 2]}, "status": status, "total": 5, "done": 2, "failed": 0,
            "chunks_total": 2, "chunks_done": 1, "created_at": T0, "started_at": None if status == "queued" else T0}


def chunk_row(evaluation_id: str, index: int, start: int, stop: int, status: str, attempts: int = 0,
              raised: int = 0) -> dict:
    """A chunk last updated at T0."""
    return {"evaluation_id": evaluation_id, "index": index, "start": start, "stop": stop, "status": status,
            "attempts": attempts, "raised": raised, "updated_at": T0}


def item_rows(evaluation_id: str, positions: range) -> list[dict]:
    """Items at ``positions`` (payloads with nested and non-ASCII values, so their JSON text is not trivial)."""
    return [{"evaluation_id": evaluation_id, "position": position, "item_key": f"{evaluation_id[:4]}-{position}",
             "payload": {"prompt": f"Q{position} «é»", "n": [position, {"x": 0.1 * position}], "none": None}}
            for position in positions]


def store(url: str, case: Case) -> None:
    """The case's evaluation (chunk 0 pending, chunk 1 done) and a queued bystander, then its earlier claims."""
    with session_scope(url) as session:
        session.execute(insert(Project), [{"id": PROJECT, "name": "p", "created_at": T0}])
        repository.add_evaluation(session, evaluation_row(EVALUATION, case.status), item_rows(EVALUATION, range(5)), [
            chunk_row(EVALUATION, 0, 0, 3, "pending", raised=1), chunk_row(EVALUATION, 1, 3, 5, "done", attempts=1),
            chunk_row(EVALUATION, 2, 5, 5, "pending")])
        repository.add_evaluation(session, evaluation_row(BYSTANDER, "queued"), item_rows(BYSTANDER, range(3)),
                                  [chunk_row(BYSTANDER, 0, 0, 3, "pending")])
    for _ in range(case.claims_before):
        with session_scope(url) as session:
            assert claim_chunk(session, case.evaluation_id, case.index)[1] is not None


def stored(url: str) -> dict:
    """Every evaluation and chunk row, by (table, key)."""
    evaluations, chunks = Evaluation.__table__, Chunk.__table__
    with session_scope(url) as session:
        rows = {("evaluations", row["id"]): dict(row) for row in session.execute(select(evaluations)).mappings()}
        rows |= {("chunks", (row["evaluation_id"], row["index"])): dict(row)
                 for row in session.execute(select(chunks)).mappings()}
    return rows


def changes(before: dict, after: dict) -> dict:
    """(table, key, column) → the value after, for every stored value that changed (a new timestamp as NEW)."""
    assert before.keys() == after.keys()  # no row added or removed
    return {(*key, column): NEW if isinstance(value, datetime) else value
            for key, row in after.items() for column, value in row.items() if value != before[key][column]}


def run(url: str, case: Case) -> tuple[tuple, dict]:
    """Store the case, claim once (committed) and return what the claim returned (its items checked, then left out)
    and the stored changes."""
    store(url, case)
    before = stored(url)
    statements = []

    def record(conn, cursor, statement, parameters, context, executemany):
        if "chunks" in statement or "evaluations" in statement:
            statements.append(statement)

    engine = get_engine(url)
    event.listen(engine, "before_cursor_execute", record)
    try:
        with session_scope(url) as session:
            returned = claim_chunk(session, case.evaluation_id, case.index)
    finally:
        event.remove(engine, "before_cursor_execute", record)
    if engine.dialect.name == "postgresql":
        assert len(statements) == 1 and statements[0].startswith("WITH started AS")  # the one-statement claim
    evaluation, start = returned
    if start is not None:
        with session_scope(url) as session:
            in_range = items_in_range(session, case.evaluation_id, start.start, start.stop)
        assert len(in_range) == start.stop - start.start
        assert start.items == (in_range if engine.dialect.name == "postgresql" else None)
        start = start._replace(items=None)
    return (evaluation, start), changes(before, stored(url))


def expected(case: Case) -> tuple[tuple, dict]:
    """What the claim of ``case`` returns and changes."""
    evaluation = None if case.returned_status is None else ChunkEvaluation(
        EVALUATION, PROJECT, "pairwise", "scripted", {"samples": [1, 2]}, case.returned_status, "s", 2, 1)
    start = None if case.attempt is None else ChunkStart(case.attempt, case.raised, *case.span)
    return (evaluation, start), case.changes


@pytest.mark.parametrize("case", CASES.values(), ids=CASES.keys())
def test_a_claim_returns_and_stores_the_same_on_postgres_and_sqlite(databases, case):
    outcomes = {dialect: run(url, case) for dialect, url in databases.items()}
    for dialect, outcome in outcomes.items():
        assert outcome == expected(case), dialect
        returned, _ = outcome
        assert all(type(value) is kind for value, kind in zip(returned, (ChunkEvaluation, ChunkStart))
                   if value is not None), dialect
    assert outcomes["postgresql"] == outcomes["sqlite"]


def test_concurrent_claims_count_every_attempt_once_and_read_every_chunks_items_in_order(clean_pg):
    """Workers claiming the same chunks at once (Postgres, autocommit as the chunk job does): each claim counts one
    attempt, every chunk's attempts come back 0..n-1, and each claim reads its own chunk's items in order."""
    chunks, claimers = 20, 4
    with session_scope(clean_pg) as session:
        session.execute(insert(Project), [{"id": PROJECT, "name": "p", "created_at": T0}])
        repository.add_evaluation(
            session, evaluation_row(EVALUATION, "queued") | {"chunks_total": chunks, "chunks_done": 0},
            item_rows(EVALUATION, range(2 * chunks))[::-1],  # stored in reverse order of position
            [chunk_row(EVALUATION, index, 2 * index, 2 * index + 2, "pending") for index in range(chunks)])
    barrier = threading.Barrier(claimers)

    def claim_all(offset: int) -> list[tuple[int, ChunkStart]]:
        barrier.wait()
        starts = []
        for step in range(chunks):
            index = (step + offset) % chunks  # each claimer starts elsewhere, so claims of a chunk overlap
            with job_session(clean_pg) as session:
                starts.append((index, claim_chunk(session, EVALUATION, index)[1]))
        return starts

    with ThreadPoolExecutor(claimers) as pool:
        results = [start for starts in pool.map(claim_all, range(claimers)) for start in starts]
    by_chunk: dict[int, list[ChunkStart]] = {}
    for index, start in results:
        by_chunk.setdefault(index, []).append(start)
    assert sorted(by_chunk) == list(range(chunks))
    for index, starts in by_chunk.items():
        assert sorted(start.attempts for start in starts) == list(range(claimers))
        assert all([item.position for item in start.items] == [2 * index, 2 * index + 1] for start in starts)
    stored_rows = stored(clean_pg)
    assert stored_rows[EVALUATION_ROW]["status"] == "running"
    assert all(stored_rows[("chunks", (EVALUATION, index))]["attempts"] == claimers for index in range(chunks))

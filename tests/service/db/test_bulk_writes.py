"""Bulk writes and reads (service/db/conflict.py, evaluations repository) on Postgres and SQLite alike.

Postgres takes a one-statement form (``json_to_recordset``, or ``unnest`` for rows it must convert), SQLite the
plain one: all must store the same rows.
"""

from __future__ import annotations

import uuid

import numpy as np
import pytest
from sqlalchemy import event, insert, select, text

from service.db.conflict import among, insert_ignoring_conflicts, upsert
from service.db.engine import get_engine, session_scope
from service.db.migrate import upgrade
from service.evaluations import chunk_queries
from service.evaluations import repository as repo
from service.judges import cache as judge_cache
from service.core.protocol import CallResult
from service.models import Evaluation, Item, JudgeCacheEntry, Judgment, Verdict
from service.projects import repository as projects

JUDGMENT_KEY = ("item_id", "order", "sample")


@pytest.fixture(params=["postgresql", "sqlite"])
def db_url(request, tmp_path):
    if request.param == "postgresql":
        return request.getfixturevalue("clean_pg")
    url = f"sqlite:///{tmp_path / 'bulk.db'}"
    upgrade(url)
    return url


def new_evaluation(url: str, n_items: int) -> tuple[str, list[int]]:
    evaluation_id = str(uuid.uuid4())
    with session_scope(url) as session:
        project = projects.get_project_by_name(session, "test") or projects.add_project(session, "test")
        session.execute(insert(Evaluation), [{
            "id": evaluation_id, "project_id": project.id, "protocol": "pairwise", "judge": "scripted", "model": "m",
            "options": {},
            "status": "running", "total": n_items, "done": 0, "failed": 0, "chunks_total": 1, "chunks_done": 0}])
        session.execute(insert(Item), [{"evaluation_id": evaluation_id, "position": i, "item_key": f"k{i}",
                                        "payload": {"n": i}} for i in range(n_items)])
        ids = list(session.scalars(select(Item.id).where(Item.evaluation_id == evaluation_id).order_by(Item.position)))
    return evaluation_id, ids


def judgment(evaluation_id: str, item_id: int, **changes) -> dict:
    row = {"evaluation_id": evaluation_id, "item_id": item_id, "order": "ab", "sample": 0, "prompt_hash": "h",
           "template": "t", "raw_output": "1", "rationale": None, "label": "a",
           "label_probs": {"a": 0.25, "b": 0.75}, "fingerprint": "f", "prompt_tokens": 3, "completion_tokens": 1,
           "latency_ms": 0, "error": None, "cached": False}
    return row | changes


def count_statements(url: str):
    statements = []

    def record(conn, cursor, statement, parameters, context, executemany):
        statements.append(statement)

    event.listen(get_engine(url), "before_cursor_execute", record)
    return statements, lambda: event.remove(get_engine(url), "before_cursor_execute", record)


def test_judgments_upsert_keeps_successes_replaces_failures_and_stores_json_null(db_url):
    evaluation_id, (first, second) = new_evaluation(db_url, 2)
    rows = [judgment(evaluation_id, first),
            judgment(evaluation_id, second, label=None, label_probs=None, raw_output="", latency_ms=1.5,
                     error="boom", cached=True)]
    with session_scope(db_url) as session:
        repo.add_judgments(session, rows)
    with session_scope(db_url) as session:
        repo.add_judgments(session, [dict(row, raw_output="2", error=None, label="b") for row in rows])
    with session_scope(db_url) as session:
        stored = {j.item_id: j for j in session.scalars(select(Judgment))}
        null_kind = session.execute(text(
            "SELECT label_probs IS NULL FROM judgments WHERE item_id = :i"), {"i": second}).scalar()
    assert (stored[first].raw_output, stored[first].label, stored[first].error) == ("1", "a", None)  # kept
    assert (stored[second].raw_output, stored[second].label, stored[second].error) == ("2", "b", None)  # replaced
    assert stored[first].label_probs == {"a": 0.25, "b": 0.75} and stored[second].label_probs is None
    assert null_kind is False or null_kind == 0  # JSON null, as SQLAlchemy stores None in a JSON column
    assert stored[second].latency_ms == 1.5 and stored[second].cached is True
    assert all(j.created_at is not None for j in stored.values())


def test_mixed_numeric_types_numpy_values_nones_and_rows_in_any_key_order(db_url):
    evaluation_id, ids = new_evaluation(db_url, 3)
    rows = [judgment(evaluation_id, ids[0], latency_ms=0),                      # int in a float column
            judgment(evaluation_id, ids[1], latency_ms=np.float64(2.5), prompt_tokens=7),
            dict(reversed(list(judgment(evaluation_id, ids[2], latency_ms=None, label=None).items())))]
    with session_scope(db_url) as session:
        repo.add_judgments(session, rows)
        verdicts = [{"item_id": i, "evaluation_id": evaluation_id, "outcome": "a", "score": 1, "unscored": False,
                     "failed": np.bool_(False), "position_inconsistent": np.bool_(True), "bpde": None,
                     "details": {"x": [1, 2]}, "needs_review": False} for i in ids]
        repo.put_verdicts(session, verdicts)
    with session_scope(db_url) as session:
        latency = dict(session.execute(select(Judgment.item_id, Judgment.latency_ms)).all())
        tokens = dict(session.execute(select(Judgment.item_id, Judgment.prompt_tokens)).all())
        stored = session.scalars(select(Verdict).order_by(Verdict.item_id)).all()
        labels = dict(session.execute(select(Judgment.item_id, Judgment.label)).all())
    # a None takes the column's Python default (latency_ms 0.0) or stays NULL (label), as in SQLAlchemy's ORM
    assert latency == {ids[0]: 0.0, ids[1]: 2.5, ids[2]: 0.0} and labels[ids[2]] is None and tokens[ids[1]] == 7
    assert [(v.score, v.failed, v.position_inconsistent, v.details) for v in stored] == [(1.0, False, True, {"x": [1, 2]})] * 3


def inserts_of(url, rows) -> list[str]:
    """The INSERT statements one add_judgments call sends."""
    statements, stop = count_statements(url)
    try:
        with session_scope(url) as session:
            repo.add_judgments(session, rows)
    finally:
        stop()
    return [s for s in statements if s.lstrip().upper().startswith("INSERT")]


def test_a_chunk_of_rows_is_one_statement_on_postgres(clean_pg):
    evaluation_id, ids = new_evaluation(clean_pg, 300)
    inserts = inserts_of(clean_pg, [judgment(evaluation_id, i, order=order) for i in ids for order in ("ab", "ba")])
    assert len(inserts) == 1 and "json_to_recordset" in inserts[0]  # plain rows: one JSON parameter
    inserts = inserts_of(clean_pg, [judgment(evaluation_id, i, order="x", latency_ms=np.float64(1.5)) for i in ids])
    assert len(inserts) == 1 and "unnest" in inserts[0]  # numpy values: one array per column, converted
    with session_scope(clean_pg) as session:
        assert len(session.scalars(select(Judgment.id)).all()) == 900


def cache_entry(key: str, text: str, **changes) -> dict:
    row = {"key": key, "project_id": None, "fingerprint": "fp", "text": text, "verdict_top_logprobs": None,
           "rationale": None, "prompt_tokens": 0, "completion_tokens": 0}
    return row | changes


def test_insert_ignoring_conflicts_keeps_the_first_row(db_url):
    evaluation_id, ids = new_evaluation(db_url, 2)
    with session_scope(db_url) as session:
        insert_ignoring_conflicts(session, JudgeCacheEntry, [cache_entry("k1", "1", verdict_top_logprobs={"1": -0.1})],
                                  ("key",))
        repo.add_judgments(session, [  # a keyed judgment is a cache entry; a failed one never is
            judgment(evaluation_id, ids[0], raw_output="2", cache_key="k4", verdict_top_logprobs={"2": -0.2},
                     prompt_tokens=9),
            judgment(evaluation_id, ids[1], raw_output="", cache_key="k2", error="failed: not cached")])
    with session_scope(db_url) as session:
        insert_ignoring_conflicts(session, JudgeCacheEntry, [cache_entry("k1", "2"), cache_entry("k5", "5")], ("key",))
        insert_ignoring_conflicts(session, JudgeCacheEntry, [], ("key",))
        upsert(session, JudgeCacheEntry, [], ("key",), ("text",))
    with session_scope(db_url) as session:
        hits = judge_cache.lookup(session, ["k1", "k2", "k1", "k3", "k4"])
    assert sorted(hits) == ["k1", "k4"]
    assert (hits["k1"].text, hits["k1"].verdict_top_logprobs, hits["k1"].extra) == ("1", {"1": -0.1}, {"cached": True})
    assert (hits["k4"].text, hits["k4"].verdict_top_logprobs, hits["k4"].prompt_tokens, hits["k4"].extra) == (
        "2", {"2": -0.2}, 9, {"cached": True})


def test_among_reads_any_number_of_values(db_url):
    evaluation_id, ids = new_evaluation(db_url, 2000)
    with session_scope(db_url) as session:
        repo.add_judgments(session, [judgment(evaluation_id, i) for i in ids])
    wanted = ids[::2]  # 1,000 values: over SQLite's batch of 900
    with session_scope(db_url) as session:
        conditions = among(session, Judgment.item_id, wanted)
        results = repo.call_results_by_item(session, wanted)
        assert among(session, Judgment.item_id, []) == [] and repo.call_results_by_item(session, []) == {}
    assert len(conditions) == (1 if db_url.startswith("postgresql") else 2)
    assert sorted(results) == sorted(wanted)
    assert all(r == [CallResult("ab", 0, "a", {"a": 0.25, "b": 0.75}, "1", None)] for r in results.values())


def test_review_flags_are_set_exactly_and_only_for_this_evaluation(db_url):
    evaluation_id, ids = new_evaluation(db_url, 1500)
    other_id, other_ids = new_evaluation(db_url, 3)

    def verdicts(evaluation, items):
        return [{"item_id": i, "evaluation_id": evaluation, "outcome": "a", "score": 1.0, "unscored": False,
                 "failed": False, "position_inconsistent": False, "bpde": 0.1, "details": {},
                 "needs_review": False} for i in items]

    with session_scope(db_url) as session:
        repo.put_verdicts(session, verdicts(evaluation_id, ids) + verdicts(other_id, other_ids))
        repo.set_review_flags(session, other_id, other_ids)

    def flagged(evaluation):
        with session_scope(db_url) as session:
            return set(session.scalars(select(Verdict.item_id).where(Verdict.evaluation_id == evaluation,
                                                                     Verdict.needs_review.is_(True))))

    for wanted in (ids[:1000], ids[500:501], []):  # more ids than SQLite's batch; then fewer; then none
        with session_scope(db_url) as session:
            repo.set_review_flags(session, evaluation_id, wanted)
        assert flagged(evaluation_id) == set(wanted)
    assert flagged(other_id) == set(other_ids)


def test_items_with_verdicts_are_plain_rows_in_submission_order(db_url):
    evaluation_id, ids = new_evaluation(db_url, 3)
    with session_scope(db_url) as session:
        repo.put_verdicts(session, [{"item_id": ids[1], "evaluation_id": evaluation_id, "outcome": "b", "score": 0.0,
                                     "unscored": False, "failed": False, "position_inconsistent": True, "bpde": 0.5,
                                     "details": {"k": 1}, "needs_review": False}])
    with session_scope(db_url) as session:
        rows = repo.items_with_verdicts(session, evaluation_id)
        assert not session.identity_map  # nothing loaded into the session
    assert [item.id for item, _ in rows] == ids and [item.payload for item, _ in rows] == [{"n": i} for i in range(3)]
    assert rows[0][1] is None and rows[2][1] is None
    verdict = rows[1][1]
    assert (verdict.outcome, verdict.score, verdict.position_inconsistent, verdict.bpde, verdict.details,
            verdict.reviewed, verdict.needs_review, verdict.failed) == ("b", 0.0, True, 0.5, {"k": 1}, False, False, False)
    with session_scope(db_url) as session:
        assert [item.id for item, _ in repo.items_with_verdicts(session, evaluation_id, skip=[(1, 2)])] == [ids[0], ids[2]]
        assert [item.id for item, _ in repo.items_with_verdicts(session, evaluation_id, skip=[(2, 3), (0, 1)])] == [ids[1]]
        assert repo.items_with_verdicts(session, evaluation_id, skip=[(1, 3), (0, 1)]) == []


@pytest.mark.parametrize("held, gaps", [
    ([], None),
    ([(0, 4)], [(4, None)]),
    ([(4, 8)], [(0, 4), (8, None)]),
    ([(8, 12), (0, 4)], [(4, 8), (12, None)]),
    ([(0, 4), (4, 8)], [(8, None)]),
    ([(0, 4), (2, 6)], [(6, None)]),
    ([(3, 5), (7, 9), (5, 6)], [(0, 3), (6, 7), (9, None)]),
])
def test_position_gaps_are_the_ranges_not_held(held, gaps):
    assert repo.position_gaps(held) == gaps


PAYLOADS = [{"prompt": "plain", "n": 1}, {"text": 'quotes " \\ and émoji 🎉\n', "x": 0.1, "big": 2**62},
            {"nested": {"list": [1, 2.5, None, True, {"deep": "x"}]}, "neg": -0.0}, {}, {"tiny": 5e-324}]


def test_items_in_range_reads_the_payloads_a_plain_read_gives(db_url):
    """Postgres decodes a range's payloads from their JSON text in one call: the values of a plain ORM read."""
    evaluation_id, _ = new_evaluation(db_url, 1)  # position 0
    with session_scope(db_url) as session:
        session.execute(insert(Item), [{"evaluation_id": evaluation_id, "position": i, "item_key": f"p{i}",
                                        "payload": payload} for i, payload in enumerate(PAYLOADS, start=1)])
    with session_scope(db_url) as session:
        rows = chunk_queries.items_in_range(session, evaluation_id, 2, 6)
        plain = session.execute(select(Item.id, Item.position, Item.item_key, Item.payload)
                                .where(Item.evaluation_id == evaluation_id).order_by(Item.position)).all()
    assert [(r.id, r.position, r.item_key, r.payload) for r in rows] == [tuple(p) for p in plain[2:6]]
    assert [r.payload for r in rows] == PAYLOADS[1:5] and rows[0].evaluation_id == evaluation_id
    with session_scope(db_url) as session:
        assert chunk_queries.items_in_range(session, evaluation_id, 7, 9) == []

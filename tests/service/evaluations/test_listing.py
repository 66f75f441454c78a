"""The evaluation list query: the database reads every protocol's headline metric out of the summary, on
Postgres and on SQLite (embedded mode), and pages newest first in one statement."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta, timezone

import pytest

from service.core.protocol import get_protocol, protocol_names
from service.db.engine import session_scope
from service.db.migrate import upgrade
from service.evaluations import repository, service
from service.evaluations.schemas import EvaluationFilters
from service.projects.repository import add_project

T0 = datetime(2026, 11, 28, 12, 0, tzinfo=timezone.utc)


@pytest.mark.parametrize("protocol", protocol_names())
def test_every_protocols_headline_metric_is_the_one_it_declares_and_the_query_reads(protocol):
    implementation = get_protocol(protocol)
    summary, _ = implementation.summarize([], [], implementation.options_model())
    assert summary["metric"] == implementation.headline_metric
    assert summary["metric"] in repository.headline_metrics()


@pytest.fixture(params=["sqlite", "postgres"])
def database(request, tmp_path):
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path}/list.db"
        upgrade(url)
        return url
    return request.getfixturevalue("clean_pg")


def evaluation(project_id: str, minute: int, summary: dict | None, **fields) -> dict:
    return {"id": str(uuid.uuid4()), "project_id": project_id, "protocol": "pairwise", "judge": "j", "model": "m",
            "options": {}, "status": "completed" if summary else "queued", "total": 3, "chunks_total": 1,
            "summary": summary, "reliability": None, "created_at": T0 + timedelta(minutes=minute), **fields}


SUMMARIES = [
    {"metric": "win_rate", "win_rate": 0.625, "win_rate_ci95": [0.5, 0.75], "mean_score": 9.0},
    {"metric": "mean_score", "mean_score": 3.5, "mean_score_ci95": [3.0, 4.0], "win_rate": 0.1},
    {"metric": "accuracy", "accuracy": 1, "accuracy_ci95": [0.4, 1.0]},
    {"metric": "goal_success_rate", "goal_success_rate": None, "goal_success_rate_ci95": None},
    {"metric": "win_rate", "win_rate": 0.5, "win_rate_ci95": [None, None]},
    None,
]


def test_the_headline_metric_is_read_by_the_database(database):
    with session_scope(database) as session:
        owner = add_project(session, "p").id
        rows = [evaluation(owner, minute, summary) for minute, summary in enumerate(SUMMARIES)]
        for row in rows:
            repository.add_evaluation(session, row, [], [])
    with session_scope(database) as session:
        page = service.list_evaluations(session, owner, EvaluationFilters(), 10, None)
    headlines = [(row.metric, row.metric_value, row.metric_ci95) for row in reversed(page.data)]
    assert headlines == [("win_rate", 0.625, (0.5, 0.75)), ("mean_score", 3.5, (3.0, 4.0)),
                         ("accuracy", 1.0, (0.4, 1.0)), ("goal_success_rate", None, None),
                         ("win_rate", 0.5, None), (None, None, None)]
    assert [row.id for row in page.data] == [row["id"] for row in reversed(rows)] and page.next_cursor is None


def test_pages_follow_the_cursor_newest_first(database):
    with session_scope(database) as session:
        owner, other = add_project(session, "p").id, add_project(session, "q").id
        rows = [evaluation(owner, minute % 3, None, model=f"m{minute % 2}") for minute in range(7)]
        for row in rows + [evaluation(other, 1, None)]:
            repository.add_evaluation(session, row, [], [])
    expected = [row["id"] for row in sorted(rows, key=lambda r: (r["created_at"], r["id"]), reverse=True)]
    for filters, wanted in ((EvaluationFilters(), expected),
                            (EvaluationFilters(model="m1", status="queued"),
                             [i for i in expected if next(r for r in rows if r["id"] == i)["model"] == "m1"])):
        seen, cursor = [], None
        while True:
            with session_scope(database) as session:
                page = service.list_evaluations(session, owner, filters, 2, cursor)
            seen.extend(row.id for row in page.data)
            cursor = page.next_cursor
            if cursor is None:
                break
        assert seen == wanted

"""GET /v1/evaluations on real Postgres/Redis: newest first, filters, keyset pages that stay stable while
evaluations arrive, project isolation, the headline metric, 422s that name the field, and the index; and
the same in embedded mode (SQLite)."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest
from sqlalchemy import update

from service.config import Settings
from service.db.engine import dispose_all, session_scope
from service.evaluations import repository
from service.evaluations.schemas import EvaluationFilters
from service.models import Evaluation
from tests.support import api_client, project_id, query_plan, run_worker, wait_for

ROW_FIELDS = {"id", "status", "protocol", "judge", "model", "suite", "suite_version", "baseline_model", "progress",
              "metric", "metric_value", "metric_ci95", "created_at", "started_at", "completed_at", "tags",
              "leaderboard", "links"}


def submit(client, model="m", judge="unserved", n=2, **extra) -> str:
    items = [{"id": f"i{i}", "prompt": f"question {i}", "response_a": "a" * (i + 1), "response_b": "bb"}
             for i in range(n)]
    response = client.post("/v1/evaluations", json={"protocol": "pairwise", "judge": judge, "model": model,
                                                    "items": items, **extra})
    assert response.status_code == 202, response.text
    return response.json()["id"]


def listed(client, **params) -> list[dict]:
    """Every evaluation the filters match, following next_cursor."""
    rows, cursor = [], None
    while True:
        response = client.get("/v1/evaluations", params=params | ({"cursor": cursor} if cursor else {}))
        assert response.status_code == 200, response.text
        page = response.json()
        rows.extend(page["data"])
        cursor = page["next_cursor"]
        if not cursor:
            return rows


@pytest.fixture
def client(prod_settings):
    with api_client(prod_settings) as test_client:
        yield test_client


def test_newest_first_with_progress_and_the_headline_metric(client, prod_settings):
    judged = submit(client, model="judged", judge="scripted", n=4)
    queued = submit(client, model="waiting")
    assert run_worker(prod_settings, "scripted").returncode == 0
    page = client.get("/v1/evaluations").json()
    assert [row["id"] for row in page["data"]] == [queued, judged] and page["next_cursor"] is None
    newest, done = page["data"]
    assert set(done) == ROW_FIELDS  # no options, summary or reliability report
    full = client.get(f"/v1/evaluations/{judged}").json()
    for field in ROW_FIELDS - {"metric", "metric_value", "metric_ci95", "links"}:
        assert done[field] == full[field], field
    assert done["status"] == "completed" and done["progress"]["done"] == 4
    assert done["metric"] == "win_rate" and done["metric_value"] == full["summary"]["win_rate"]
    assert done["metric_ci95"] == full["summary"]["win_rate_ci95"]
    assert done["links"] == {"self": f"/v1/evaluations/{judged}", "verdicts": f"/v1/evaluations/{judged}/verdicts"}
    assert newest["status"] == "queued" and newest["metric"] is newest["metric_value"] is newest["metric_ci95"] is None
    assert newest["completed_at"] is None and newest["progress"] == {"total": 2, "done": 0, "failed": 0,
                                                                       "chunks_total": 1, "chunks_done": 0}


def test_filters_match_exactly_and_combine(client, prod_settings):
    suite_items = [{"id": f"q{i}", "prompt": f"question {i}", "baseline_response": "base"} for i in range(2)]
    assert client.post("/v1/suites", json={"name": "bench", "baseline_model": "ref",
                                           "items": suite_items}).status_code == 201
    on_suite = client.post("/v1/evaluations", json={
        "protocol": "pairwise", "judge": "unserved", "model": "alpha", "suite": "bench",
        "items": [{"id": f"q{i}", "response": "r"} for i in range(2)]}).json()["id"]
    alpha = submit(client, model="alpha")
    beta = submit(client, model="beta")
    judged = submit(client, model="alpha", judge="scripted")
    rating = client.post("/v1/evaluations", json={"protocol": "rating", "judge": "unserved", "model": "beta",
                                                  "items": [{"id": "r1", "prompt": "p", "response": "r"}]}).json()["id"]
    assert run_worker(prod_settings, "scripted").returncode == 0

    def ids(**params):
        return [row["id"] for row in listed(client, **params)]

    assert ids() == [rating, judged, beta, alpha, on_suite]
    assert ids(model="alpha") == [judged, alpha, on_suite]
    assert ids(model="alph") == [] and ids(model="ALPHA") == []
    assert ids(suite="bench") == ids(suite="bench", model="alpha") == [on_suite]
    assert ids(suite="bench", model="beta") == []
    assert ids(protocol="rating") == [rating] and ids(protocol="nonesuch") == []
    assert ids(judge="scripted") == [judged] and ids(judge="unserved", model="beta") == [rating, beta]
    assert ids(status="completed") == [judged] and ids(status="queued", model="alpha") == [alpha, on_suite]
    assert ids(status="cancelled") == []
    client.post(f"/v1/evaluations/{beta}/cancel")
    assert ids(status="cancelled") == [beta] and ids(status="cancelled", protocol="rating") == []
    assert ids(model="beta", limit=1) == [rating, beta]  # filters hold across pages


def test_pages_cover_every_evaluation_once_while_new_ones_arrive(client, prod_settings):
    before = [submit(client, model=f"m{i}") for i in range(7)]
    # m2, m3 and m4 share m3's created_at: the id breaks the tie, across page boundaries too
    with session_scope(prod_settings.database_url) as session:
        same = session.get(Evaluation, before[3]).created_at
        session.execute(update(Evaluation).where(Evaluation.id.in_(before[2:5])).values(created_at=same))
    # newest first: m6, m5, the three tied ones by id (descending), then m1, m0
    expected = [before[6], before[5], *sorted(before[2:5], reverse=True), before[1], before[0]]
    seen, cursor, arrived = [], None, []
    while True:
        page = client.get("/v1/evaluations", params={"limit": 2} | ({"cursor": cursor} if cursor else {})).json()
        assert len(page["data"]) <= 2
        seen.extend(row["id"] for row in page["data"])
        arrived.append(submit(client, model="late"))  # a new evaluation after every page
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert seen == expected  # no duplicate, no gap, none of the late ones
    assert len(seen) == 7 and not set(seen) & set(arrived)
    assert [row["id"] for row in listed(client, limit=500)] == arrived[::-1] + expected


def test_another_projects_evaluations_never_appear(client, prod_settings):
    mine = submit(client, model="shared-name")
    with api_client(prod_settings, "other-project") as other:
        theirs = submit(other, model="shared-name")
        assert [row["id"] for row in listed(other)] == [theirs]
        assert [row["id"] for row in listed(other, model="shared-name", status="queued")] == [theirs]
        # a cursor holds a position, not a project: project A's cursor shows B only B's evaluations
        submit(client, model="older-than-the-cursor")
        cursor = client.get("/v1/evaluations", params={"limit": 1}).json()["next_cursor"]
        rows = other.get("/v1/evaluations", params={"cursor": cursor}).json()["data"]
        assert {row["id"] for row in rows} <= {theirs}
    assert mine in [row["id"] for row in listed(client)] and theirs not in [row["id"] for row in listed(client)]


@pytest.mark.parametrize("params, parameter", [
    ({"limit": 501}, "limit"), ({"limit": 0}, "limit"), ({"limit": "many"}, "limit"),
    ({"status": "done"}, "status"), ({"status": "QUEUED"}, "status"), ({"model": "m" * 257}, "model"),
])
def test_bad_parameters_are_422s_naming_the_parameter(client, params, parameter):
    response = client.get("/v1/evaluations", params=params)
    assert response.status_code == 422 and response.headers["content-type"] == "application/problem+json"
    assert [error["parameter"] for error in response.json()["errors"]] == [parameter]


@pytest.mark.parametrize("cursor", ["!!", "eyJwIjogM30", "eyJ0IjogInllc3RlcmRheSIsICJpIjogIngifQ"])
def test_a_bad_cursor_is_the_same_422_as_on_other_pages(client, cursor):
    response = client.get("/v1/evaluations", params={"cursor": cursor})
    reviews = client.get("/v1/reviews", params={"cursor": "!!"})
    assert response.status_code == reviews.status_code == 422
    assert response.json() == reviews.json()
    assert response.json()["errors"] == [{"pointer": "/cursor", "detail": "invalid cursor"}]


def test_the_page_query_is_one_backward_index_scan_without_a_sort(client, prod_settings):
    submit(client)
    owner = project_id(prod_settings)
    after = (datetime.now(timezone.utc), "z")
    plan = query_plan(prod_settings.database_url,
                      lambda session: repository.evaluation_page(session, owner, EvaluationFilters(), after, 5))
    assert "Index Scan Backward using ix_evaluations_project_id_created_at_id" in plan, plan
    assert "Sort" not in plan, plan
    assert "ROW(created_at, (id)::text) < ROW(" in plan.split("Index Cond:")[1], plan  # the cursor bounds the scan


def test_embedded_mode_lists_evaluations_newest_first(tmp_path, judges_file):
    """Embedded mode (SQLite, jobs in process): pages with the cursor, the headline metric, the index."""
    settings = Settings(data_dir=tmp_path / "data", judges_file=judges_file)
    items = [{"id": f"i{i}", "prompt": "p", "response_a": "x" * (i + 1), "response_b": "yy"} for i in range(3)]
    with api_client(settings) as client:
        ids = [client.post("/v1/evaluations", json={"protocol": "pairwise", "judge": "scripted", "model": f"m{n}",
                                                    "items": items}).json()["id"] for n in range(3)]
        for evaluation_id in ids:
            wait_for(lambda: client.get(f"/v1/evaluations/{evaluation_id}").json()["status"] == "completed")
        first = client.get("/v1/evaluations", params={"limit": 2}).json()
        rest = client.get("/v1/evaluations", params={"limit": 2, "cursor": first["next_cursor"]}).json()
        assert [row["id"] for row in first["data"] + rest["data"]] == ids[::-1] and rest["next_cursor"] is None
        newest = first["data"][0]
        summary = client.get(f"/v1/evaluations/{ids[2]}").json()["summary"]
        assert (newest["metric"], newest["metric_value"], newest["metric_ci95"]) == (
            "win_rate", summary["win_rate"], summary["win_rate_ci95"])
        only = client.get("/v1/evaluations", params={"model": "m1", "status": "completed"}).json()["data"]
        assert [row["id"] for row in only] == [ids[1]]
        assert client.get("/v1/evaluations", params={"cursor": "!!"}).status_code == 422
    owner = project_id(settings)
    after = (datetime.now(timezone.utc), "z")
    plan = query_plan(settings.effective_database_url(), lambda session: repository.evaluation_page(
        session, owner, EvaluationFilters(), after, 5), explain="EXPLAIN QUERY PLAN")
    assert "USING INDEX ix_evaluations_project_id_created_at_id" in plan and "TEMP B-TREE" not in plan, plan
    dispose_all()

"""The suites API in production mode: real Postgres."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import func, select, text

from tests.support import api_client, project_id
from service.db.engine import get_engine, session_scope
from service.errors import Conflict
from service.models import Suite, SuiteItem
from service.suites import repository, service
from service.suites.schemas import SuiteCreate

NDJSON = {"content-type": "application/x-ndjson"}


def items(n: int, prefix: str = "q") -> list[dict]:
    return [{"id": f"{prefix}{i}", "prompt": f"question {i}", "category": "math" if i % 2 else "writing",
             "reference": f"answer {i}"} for i in range(n)]


def ndjson(rows) -> bytes:
    return "\n".join(row if isinstance(row, str) else json.dumps(row) for row in rows).encode()


@pytest.fixture
def suites_db(prod_settings):
    """prod_settings with the suite tables emptied too (the shared clean_pg fixture does not know them)."""
    with get_engine(prod_settings.database_url).begin() as conn:
        conn.execute(text("TRUNCATE suite_items, suites RESTART IDENTITY CASCADE"))
    return prod_settings


@pytest.fixture
def client(suites_db):
    with api_client(suites_db) as test_client:
        yield test_client


def count(settings, model) -> int:
    with session_scope(settings.database_url) as session:
        return session.scalar(select(func.count()).select_from(model))


def all_items(client, path: str, limit: int = 100) -> list[dict]:
    seen, cursor = [], None
    while True:
        page = client.get(path, params={"limit": limit} | ({"cursor": cursor} if cursor else {}))
        assert page.status_code == 200, page.text
        seen.extend(page.json()["items"])
        cursor = page.json()["next_cursor"]
        if not cursor:
            return seen


def test_json_upload_creates_version_1(client):
    body = {"name": "demo", "description": "a demo", "baseline_model": "gpt-4", "items": items(3)}
    body["items"][2] |= {"prompt": None, "turns": ["first", "second"], "baseline_response": "b"}
    del body["items"][2]["prompt"]
    response = client.post("/v1/suites", json=body)
    assert response.status_code == 201, response.text
    assert response.headers["location"] == "/v1/suites/demo/versions/1"
    created = response.json()
    assert (created["name"], created["version"], created["n_items"]) == ("demo", 1, 3)
    assert created["baseline_model"] == "gpt-4" and created["description"] == "a demo"
    stored = client.get(response.headers["location"]).json()
    assert stored["items"] == body["items"] and stored["next_cursor"] is None


def test_new_version_leaves_the_old_one_unchanged(client, suites_db):
    first = client.post("/v1/suites", json={"name": "bench", "items": items(4)})
    second = client.post("/v1/suites", json={"name": "bench", "description": "v2", "items": items(2, "new")})
    assert (first.json()["version"], second.json()["version"]) == (1, 2)
    assert second.headers["location"] == "/v1/suites/bench/versions/2"
    assert [i["id"] for i in all_items(client, "/v1/suites/bench/versions/1")] == ["q0", "q1", "q2", "q3"]
    old = client.get("/v1/suites/bench/versions/1").json()
    assert old["n_items"] == 4 and old["description"] is None
    latest = client.get("/v1/suites/bench").json()
    assert latest["version"] == 2 and [i["id"] for i in latest["items"]] == ["new0", "new1"]
    assert count(suites_db, Suite) == 2 and count(suites_db, SuiteItem) == 6


def test_ndjson_upload_with_query_parameters(client):
    rows = [*items(3), "", {"id": "t", "turns": ["a", "b"], "reference_turns": ["x", "y"]}]
    params = {"name": "lines", "description": "from JSONL", "baseline_model": "base-model"}
    response = client.post("/v1/suites", params=params, content=ndjson(rows) + b"\n", headers=NDJSON)
    assert response.status_code == 201, response.text
    assert response.json()["n_items"] == 4 and response.json()["baseline_model"] == "base-model"
    stored = client.get("/v1/suites/lines").json()
    assert stored["description"] == "from JSONL" and stored["items"][-1] == rows[-1]
    jsonl = client.post("/v1/suites", params={"name": "lines"}, content=ndjson(items(1)),
                        headers={"content-type": "application/jsonl"})
    assert jsonl.status_code == 201 and jsonl.json()["version"] == 2


def test_bad_ndjson_line_is_422_naming_line_and_field_and_stores_nothing(client, suites_db):
    rows = [*items(2), {"id": "q2", "category": "math"}, *items(1, "z")]
    response = client.post("/v1/suites", params={"name": "bad"}, content=ndjson(rows), headers=NDJSON)
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"
    problem = response.json()
    assert problem["title"] == "Invalid suite" and problem["detail"].startswith("/lines/3/prompt")
    assert [(e["pointer"], e["line"]) for e in problem["errors"]] == [("/lines/3/prompt", 3)]
    assert count(suites_db, Suite) == 0 and count(suites_db, SuiteItem) == 0


@pytest.mark.parametrize(
    "params, content, content_type, status, where",
    [
        ({}, ndjson(items(1)), "application/x-ndjson", 422, "name"),
        ({"name": "-bad"}, ndjson(items(1)), "application/x-ndjson", 422, "name"),
        ({"name": "s"}, json.dumps({"name": "s", "items": items(1)}).encode(), "application/json", 422, "name"),
        ({"name": "s"}, b"q0,question", "text/csv", 415, None),
    ],
    ids=["jsonl-without-name", "jsonl-bad-name", "json-with-query-name", "csv"],
)
def test_upload_parameter_and_media_type_errors(client, suites_db, params, content, content_type, status, where):
    response = client.post("/v1/suites", params=params, content=content, headers={"content-type": content_type})
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    if where:
        assert response.json()["errors"][0]["parameter"] == where
    assert count(suites_db, Suite) == 0


def test_bad_json_upload_points_at_the_item_field(client, suites_db):
    body = {"name": "s", "items": items(3)}
    body["items"][2]["id"] = "q0"
    response = client.post("/v1/suites", json=body)
    assert response.status_code == 422 and response.json()["errors"][0]["pointer"] == "/items/2/id"
    bad = client.post("/v1/suites", content=b'{"name": ', headers={"content-type": "application/json"})
    assert bad.status_code == 422 and "not valid JSON" in bad.json()["detail"]
    assert count(suites_db, Suite) == 0


def test_list_shows_the_latest_version_of_each(client):
    for name, n in (("beta", 2), ("alpha", 1), ("beta", 3)):
        assert client.post("/v1/suites", json={"name": name, "items": items(n)}).status_code == 201
    listed = client.get("/v1/suites").json()["data"]
    assert [(s["name"], s["version"], s["n_items"]) for s in listed] == [("alpha", 1, 1), ("beta", 2, 3)]


def test_get_paginates_with_cursor(client):
    client.post("/v1/suites", json={"name": "paged", "items": items(7)})
    first = client.get("/v1/suites/paged", params={"limit": 3}).json()
    assert [i["id"] for i in first["items"]] == ["q0", "q1", "q2"] and first["next_cursor"]
    assert [i["id"] for i in all_items(client, "/v1/suites/paged", limit=3)] == [f"q{i}" for i in range(7)]
    exact = client.get("/v1/suites/paged", params={"limit": 7}).json()
    assert len(exact["items"]) == 7 and exact["next_cursor"] is None
    bad = client.get("/v1/suites/paged", params={"cursor": "!!"})
    assert bad.status_code == 422 and bad.headers["content-type"] == "application/problem+json"
    assert client.get("/v1/suites/paged", params={"limit": 0}).status_code == 422


@pytest.mark.parametrize("path, fragment", [("/v1/suites/nope", "'nope' not found"),
                                            ("/v1/suites/nope/versions/1", "'nope' not found"),
                                            ("/v1/suites/known/versions/5", "no version 5 (latest is version 1)")])
def test_unknown_suite_or_version_is_404(client, path, fragment):
    client.post("/v1/suites", json={"name": "known", "items": items(1)})
    response = client.get(path)
    assert response.status_code == 404 and response.headers["content-type"] == "application/problem+json"
    assert fragment in response.json()["detail"]


def test_openapi_documents_both_upload_formats(client):
    operation = client.get("/openapi.json").json()["paths"]["/v1/suites"]["post"]
    content = operation["requestBody"]["content"]
    assert {"application/json", "application/x-ndjson", "application/jsonl"} <= set(content)
    schema = content["application/json"]["schema"]
    assert "$ref" not in json.dumps(schema) and schema["properties"]["items"]["items"]["properties"]["turns"]
    assert {p["name"] for p in operation["parameters"] if p["in"] == "query"} == {"name", "description", "baseline_model"}
    assert {p["name"] for p in operation["parameters"] if p["in"] == "header"} == {"Idempotency-Key"}


def test_load_example_suites_is_idempotent(suites_db):
    owner = project_id(suites_db)
    with session_scope(suites_db.database_url) as session:
        first = service.load_example_suites(session, owner)
    with session_scope(suites_db.database_url) as session:
        again = service.ensure_example_suites(session, owner)
    assert [(s.name, s.version, s.n_items) for s in first] == [("mt-bench", 1, 80), ("vicuna-bench", 1, 80)]
    assert [(s.name, s.version, new) for s, new in again] == [("mt-bench", 1, False), ("vicuna-bench", 1, False)]
    assert count(suites_db, Suite) == 2 and count(suites_db, SuiteItem) == 160
    with session_scope(suites_db.database_url) as session:
        mt = service.get_suite(session, owner, "mt-bench", limit=1000)
    with_refs = [i for i in mt.items if "reference_turns" in i]
    assert len(with_refs) == 30 and all(len(i["turns"]) == 2 for i in mt.items)


def test_concurrent_version_clash_is_a_conflict_and_stores_nothing(suites_db, monkeypatch):
    body = SuiteCreate(name="race", items=items(2))
    owner = project_id(suites_db)
    with session_scope(suites_db.database_url) as session:
        service.create_suite(session, body, owner)
    monkeypatch.setattr(repository, "next_version", lambda session, project, name: 1)  # as if another upload raced us
    with pytest.raises(Conflict, match="version 1 was just created by another upload"):
        with session_scope(suites_db.database_url) as session:
            service.create_suite(session, body, owner)
    assert count(suites_db, Suite) == 1 and count(suites_db, SuiteItem) == 2

"""Bad bodies cost little and are named: a 422 lists at most 100 errors with the count of all, JSON nested past
the limit is a 422 naming its line, field or parameter (never a RecursionError), a NUL names its field, and review
and webhook bodies say what is wrong. Production mode on the real Postgres and Redis.
"""

from __future__ import annotations

import json

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from service.api.app import create_app
from service.core.json_depth import MAX_JSON_DEPTH
from service.db.engine import session_scope
from service.errors import MAX_LISTED_ERRORS
from service.models import Evaluation, Suite
from tests.support import authed

UPLOAD = {"protocol": "pairwise", "judge": "scripted", "model": "m"}
NDJSON = {"content-type": "application/x-ndjson"}
JSON = {"content-type": "application/json"}
TOO_DEEP = MAX_JSON_DEPTH + 1
DEPTH_TEXT = f"nested deeper than limit max_json_depth={MAX_JSON_DEPTH}"


@pytest.fixture
def client(prod_settings):
    with TestClient(create_app(prod_settings), raise_server_exceptions=False) as test_client:
        yield authed(test_client, prod_settings)


def item(i: int, **fields) -> dict:
    return {"id": f"i{i}", "prompt": "q", "response_a": "a", "response_b": "b", **fields}


def nested(depth: int, leaf="x") -> list:
    value = leaf
    for _ in range(depth):
        value = [value]
    return value


def deep_text(depth: int) -> str:
    return "[" * depth + '"x"' + "]" * depth


def ndjson(rows: list) -> bytes:
    return "".join((row if isinstance(row, str) else json.dumps(row)) + "\n" for row in rows).encode()


def problem(response, status: int = 422) -> dict:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    return response.json()


def count(settings, model) -> int:
    with session_scope(settings.database_url) as session:
        return session.scalar(select(func.count()).select_from(model))


# ----------------------------------------------------------------------------- at most 100 errors, and their count

def test_a_million_non_objects_get_a_hundred_errors_and_reading_stops(client, prod_settings):
    raw = b'{"protocol": "pairwise", "judge": "scripted", "model": "m", "items": [' + b"1," * 999_999 + b"1]}"
    body = problem(client.post("/v1/evaluations", content=raw, headers=JSON))
    assert len(body["errors"]) == MAX_LISTED_ERRORS == body["error_count"] and body["stopped_early"] is True
    assert [e["pointer"] for e in body["errors"][:2]] == ["/items/0", "/items/1"]
    assert body["errors"][0]["detail"] == "an item must be a JSON object, not int"
    assert "validation stopped after 100 problems" in body["detail"]
    assert len(json.dumps(body)) < 20_000
    suite = b'{"name": "s", "items": [' + b"1," * 999_999 + b"1]}"
    body = problem(client.post("/v1/suites", content=suite, headers=JSON))
    assert len(body["errors"]) == MAX_LISTED_ERRORS and body["stopped_early"] is True
    assert body["errors"][0]["pointer"] == "/items/0"
    assert count(prod_settings, Evaluation) == 0 and count(prod_settings, Suite) == 0


def test_uploads_list_a_hundred_errors_of_many_bad_lines(client):
    body = problem(client.post("/v1/evaluations", params=UPLOAD, content=ndjson(["{bad"] * 150), headers=NDJSON))
    assert len(body["errors"]) == 100 and body["error_count"] == 100 and body["stopped_early"] is True
    assert body["errors"][-1]["line"] == 100
    body = problem(client.post("/v1/suites", params={"name": "s"}, content=ndjson(["{bad"] * 150), headers=NDJSON))
    assert len(body["errors"]) == 100 and body["stopped_early"] is True


def test_the_count_covers_errors_past_the_hundred_listed(client):
    body = problem(client.post("/v1/webhooks", json={"url": "https://example.com/h", "event_types": ["nope"] * 250}))
    assert len(body["errors"]) == 100 and body["error_count"] == 250 and "stopped_early" not in body
    assert body["errors"][99]["pointer"] == "/event_types/99"


def test_a_few_errors_are_all_listed_with_their_count(client):
    body = problem(client.post("/v1/evaluations", json={**UPLOAD, "items": [item(0), 5, "x"]}))
    assert body["error_count"] == 2 and [e["pointer"] for e in body["errors"]] == ["/items/1", "/items/2"]
    assert "stopped_early" not in body


# ----------------------------------------------------------------------------- nesting past the limit

def test_depth_at_the_limit_is_parsed_and_one_more_is_a_422_at_its_field(client):
    at_limit = {**UPLOAD, "items": [item(0, prompt=nested(MAX_JSON_DEPTH - 3))]}  # body, items, item: 3 levels
    body = problem(client.post("/v1/evaluations", json=at_limit))
    assert DEPTH_TEXT not in json.dumps(body) and body["errors"][0]["pointer"] == "/items/0/prompt"
    one_more = {**UPLOAD, "items": [item(0, prompt=nested(MAX_JSON_DEPTH - 2))]}
    body = problem(client.post("/v1/evaluations", json=one_more))
    assert body["errors"] == [{"pointer": "/items/0/prompt" + "/0" * (MAX_JSON_DEPTH - 3), "detail": body["detail"]
                               .removeprefix(body["errors"][0]["pointer"] + ": ")}]
    assert DEPTH_TEXT in body["detail"]
    too_deep = json.dumps({**UPLOAD, "items": [item(0), item(1, prompt="PROMPT")]}).replace('"PROMPT"',
                                                                                        deep_text(10_000))
    body = problem(client.post("/v1/evaluations", content=too_deep, headers=JSON))
    (error,) = body["errors"]
    assert error["pointer"].startswith("/items/1/prompt/0/0") and DEPTH_TEXT in error["detail"]


@pytest.mark.parametrize("where", ["line", "options", "tags-like-options", "fastchat", "alpacaeval"])
def test_every_upload_entry_point_names_where_json_nests_too_deep(client, where):
    suite = [{"id": "81", "prompt": "Instruction", "baseline_response": "base"}]
    assert client.post("/v1/suites", json={"name": "bench", "baseline_model": "ref", "items": suite}).status_code == 201
    if where == "line":
        lines = ndjson([item(0), '{"id": "x", "prompt": ' + deep_text(10_000) + "}"])
        body = problem(client.post("/v1/evaluations", params=UPLOAD, content=lines, headers=NDJSON))
        assert body["errors"][0]["pointer"] == "/lines/2" and body["errors"][0]["line"] == 2
        assert body["errors"][0]["detail"].startswith(f"line 2 is {DEPTH_TEXT}")
        assert ", at /prompt/0/0/0" in body["errors"][0]["detail"]
    elif where in ("options", "tags-like-options"):
        options = '{"samples": ' + deep_text(4_000) + "}"
        body = problem(client.post("/v1/evaluations", params=UPLOAD | {"options": options}, content=ndjson([item(0)]),
                                   headers=NDJSON))
        assert body["errors"][0]["parameter"] == "options" and DEPTH_TEXT in body["errors"][0]["detail"]
    elif where == "fastchat":
        answer = '{"question_id": 81, "choices": ' + deep_text(10_000) + "}"
        params = UPLOAD | {"suite": "bench", "format": "fastchat"}
        body = problem(client.post("/v1/evaluations", params=params, content=answer.encode() + b"\n", headers=NDJSON))
        assert body["errors"][0]["pointer"] == "/lines/1" and DEPTH_TEXT in body["errors"][0]["detail"]
    else:
        outputs = '[{"instruction": "Instruction", "output": ' + deep_text(10_000) + "}]"
        params = UPLOAD | {"suite": "bench", "format": "alpacaeval"}
        body = problem(client.post("/v1/evaluations", params=params, content=outputs, headers=JSON))
        assert body["errors"][0]["pointer"].startswith("/records/0/output/0") and DEPTH_TEXT in body["detail"]


def test_suites_name_where_json_nests_too_deep(client):
    raw = '{"name": "s", "items": [{"id": "q", "prompt": "p"}, {"id": "r", "turns": ' + deep_text(10_000) + "}]}"
    body = problem(client.post("/v1/suites", content=raw, headers=JSON))
    assert body["errors"][0]["pointer"].startswith("/items/1/turns/0/0") and DEPTH_TEXT in body["detail"]
    lines = ndjson([{"id": "q", "prompt": "p"}, '{"id": "r", "turns": ' + deep_text(10_000) + "}"])
    body = problem(client.post("/v1/suites", params={"name": "s"}, content=lines, headers=NDJSON))
    assert body["errors"][0]["pointer"] == "/lines/2" and DEPTH_TEXT in body["errors"][0]["detail"]


@pytest.mark.parametrize("method, path, fields, field", [
    ("POST", "/v1/reviews/00000000-0000-0000-0000-000000000000", {"reviewer": "me"}, "label"),
    ("POST", "/v1/webhooks", {"url": "https://example.com/h"}, "description"),
    ("PATCH", "/v1/webhooks/00000000-0000-0000-0000-000000000000", {}, "description"),
    ("POST", "/v1/comparisons", {"baseline_evaluation_id": "a"}, "candidate_evaluation_id"),
])
def test_small_bodies_name_where_json_nests_too_deep(client, method, path, fields, field):
    raw = json.dumps(fields)[:-1] + (", " if fields else "") + f'"{field}": ' + deep_text(10_000) + "}"
    body = problem(client.request(method, path, content=raw, headers=JSON))
    assert body["errors"][0]["pointer"].startswith(f"/{field}/0/0") and DEPTH_TEXT in body["detail"]


# ----------------------------------------------------------------------------- NUL characters name their field

@pytest.mark.parametrize("fields, pointer", [
    ({"model": "m\x00"}, "/model"),
    ({"baseline_model": "b\x00"}, "/baseline_model"),
    ({"items": [item(0), item(1), item(2), item(3, response_a="a\x00")]}, "/items/3/response_a"),
    ({"options": {"samples": "2\x00"}}, "/options/samples"),
])
def test_a_nul_in_an_evaluation_body_names_its_field(client, prod_settings, fields, pointer):
    body = problem(client.post("/v1/evaluations", json={**UPLOAD, "items": [item(0)], **fields}))
    assert body["errors"][0]["pointer"] == pointer and "NUL" in body["errors"][0]["detail"]
    assert count(prod_settings, Evaluation) == 0


@pytest.mark.parametrize("name", ["model", "baseline_model"])
def test_a_nul_in_an_upload_parameter_names_it(client, name):
    body = problem(client.post("/v1/evaluations", params=UPLOAD | {name: "m\x00"}, content=ndjson([item(0)]),
                               headers=NDJSON))
    assert body["errors"][0]["parameter"] == name and "NUL" in body["errors"][0]["detail"]


@pytest.mark.parametrize("method, path, fields, pointer", [
    ("POST", "/v1/webhooks", {"url": "https://example.com/h", "description": "d\x00"}, "/description"),
    ("PATCH", "/v1/webhooks/00000000-0000-0000-0000-000000000000", {"description": "d\x00"}, "/description"),
    ("POST", "/v1/reviews/00000000-0000-0000-0000-000000000000", {"label": "a", "reviewer": "me\x00"}, "/reviewer"),
    ("POST", "/v1/reviews/00000000-0000-0000-0000-000000000000", {"label": "a", "reviewer": "me", "note": "\x00"},
     "/note"),
    ("POST", "/v1/comparisons", {"baseline_evaluation_id": "a\x00", "candidate_evaluation_id": "b"},
     "/baseline_evaluation_id"),
])
def test_a_nul_in_a_small_body_names_its_field(client, method, path, fields, pointer):
    body = problem(client.request(method, path, json=fields))
    assert body["errors"][0]["pointer"] == pointer and "NUL" in body["errors"][0]["detail"]


def test_a_nul_in_a_suite_upload_parameter_names_it(client, prod_settings):
    body = problem(client.post("/v1/suites", params={"name": "s", "description": "d\x00"},
                               content=ndjson([{"id": "q", "prompt": "p"}]), headers=NDJSON))
    assert body["errors"][0]["parameter"] == "description" and "NUL" in body["errors"][0]["detail"]
    assert count(prod_settings, Suite) == 0


# ----------------------------------------------------------------------------- review and webhook bodies

@pytest.mark.parametrize("path", ["/v1/reviews/00000000-0000-0000-0000-000000000000", "/v1/webhooks"])
@pytest.mark.parametrize("raw, expected", [
    (b'{"reviewer": "\xff"}', "not UTF-8 text: invalid start byte at byte 14"),
    (b'{"reviewer": "me",}', "Expecting property name enclosed in double quotes at line 1 column 19"),
    (b"[" * 3000, DEPTH_TEXT),
])
def test_review_and_webhook_bodies_say_what_is_wrong(client, path, raw, expected):
    body = problem(client.post(path, content=raw, headers=JSON))
    assert expected in body["errors"][0]["detail"] and "UTF-8" not in body["detail"].replace(expected, "")


def test_small_bodies_have_a_small_size_limit(client):
    note = "n" * (1024 * 1024)
    body = problem(client.post("/v1/reviews/00000000-0000-0000-0000-000000000000",
                               json={"label": "a", "reviewer": "me", "note": note}), 413)
    assert "limit small_body_bytes=1048576" in body["detail"]

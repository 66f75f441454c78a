"""Batch uploads to POST /v1/evaluations: NDJSON items, AlpacaEval and FastChat files; real Postgres/Redis."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import func, select

from service.config import Limits
from service.db.engine import session_scope
from service.models import Evaluation, Item
from tests.support import api_client, run_worker

NDJSON = {"Content-Type": "application/x-ndjson"}
HEADER = {"protocol": "pairwise", "judge": "scripted", "model": "cand"}


def item(i: int, **extra) -> dict:
    return {"id": f"i{i}", "prompt": f"question {i}", "response_a": "a" * (i % 3 + 1), "response_b": "bb"} | extra


def ndjson(rows) -> bytes:
    return b"".join(json.dumps(row).encode() + b"\n" for row in rows)


def stored(settings) -> tuple[int, int]:
    with session_scope(settings.database_url) as session:
        return (session.scalar(select(func.count()).select_from(Evaluation)),
                session.scalar(select(func.count()).select_from(Item)))


@pytest.fixture
def client(prod_settings):
    with api_client(prod_settings) as test_client:
        yield test_client


def test_ndjson_upload_is_judged_like_a_json_submission(client, prod_settings):
    body = b"\xef\xbb\xbf" + ndjson(item(i) for i in range(5)) + b"\n   \n" + ndjson([item(5)])
    params = HEADER | {"options": json.dumps({"chunk_size": 2})}
    response = client.post("/v1/evaluations", params=params, content=body, headers=NDJSON)
    assert response.status_code == 202, response.text
    created = response.json()
    assert created["progress"]["total"] == 6 and created["progress"]["chunks_total"] == 3
    assert created["options"]["chunk_size"] == 2 and created["model"] == "cand"
    assert run_worker(prod_settings, "scripted").returncode == 0
    done = client.get(response.headers["location"]).json()
    assert done["status"] == "completed" and done["summary"]["n_scored"] == 6
    page = client.get(f"{response.headers['location']}/verdicts", params={"include_item": True}).json()["data"]
    assert [v["item_id"] for v in page] == [f"i{i}" for i in range(6)]


def test_a_bad_line_7_is_named_and_nothing_is_stored(client, prod_settings):
    rows = [item(i) for i in range(10)]
    del rows[6]["response_b"]  # line 7
    response = client.post("/v1/evaluations", params=HEADER, content=ndjson(rows), headers=NDJSON)
    assert response.status_code == 422 and response.headers["content-type"] == "application/problem+json"
    (error,) = response.json()["errors"]
    assert error["line"] == 7 and error["pointer"] == "/lines/7/response_b"
    assert stored(prod_settings) == (0, 0)


@pytest.mark.parametrize("body, line, words", [
    (b'{"id": "x", "prompt": "p", "response_a": "a", "response_b": "b"}\n{not json\n', 2, "not valid JSON"),
    (ndjson([item(1), item(1)]), 2, "duplicate item id"),
    (ndjson([item(1), [1, 2]]), 2, "JSON object"),
])
def test_malformed_lines(client, prod_settings, body, line, words):
    response = client.post("/v1/evaluations", params=HEADER, content=body, headers=NDJSON)
    assert response.status_code == 422, response.text
    error = response.json()["errors"][0]
    assert error["line"] == line and words in error["detail"]
    assert stored(prod_settings) == (0, 0)


def test_many_items_in_batches_all_or_nothing(client, prod_settings):
    rows = [item(i) for i in range(2500)]
    rows[2400]["human_label"] = "maybe"  # in the third insert batch
    response = client.post("/v1/evaluations", params=HEADER, content=ndjson(rows), headers=NDJSON)
    assert response.status_code == 422 and response.json()["errors"][0]["line"] == 2401
    assert stored(prod_settings) == (0, 0)
    rows[2400]["human_label"] = "a"
    response = client.post("/v1/evaluations", params=HEADER, content=ndjson(rows), headers=NDJSON)
    assert response.status_code == 202 and stored(prod_settings) == (1, 2500)


def test_limits_name_themselves(prod_settings):
    small = prod_settings.model_copy(update={"limits": Limits(max_upload_bytes=5000, max_line_bytes=300)})
    with api_client(small) as client:
        long_line = ndjson([item(0, response_a="x" * 400)])
        response = client.post("/v1/evaluations", params=HEADER, content=long_line, headers=NDJSON)
        assert response.status_code == 422 and "max_line_bytes=300" in response.json()["errors"][0]["detail"]
        big = ndjson(item(i) for i in range(100))
        response = client.post("/v1/evaluations", params=HEADER, content=big, headers=NDJSON)
        assert response.status_code == 413 and "max_upload_bytes=5000" in response.json()["detail"]
    assert stored(prod_settings) == (0, 0)


def test_a_line_cut_short_is_named_with_its_real_column(prod_settings):
    small = prod_settings.model_copy(update={"limits": Limits(max_line_bytes=300)})
    at_limit = json.dumps(item(0)).encode()
    at_limit = json.dumps(item(0, prompt="p" * (300 - len(at_limit) + len("question 0")))).encode()
    assert len(at_limit) == 300
    with api_client(small) as client:  # after a byte order mark, a line at the limit is still read whole
        response = client.post("/v1/evaluations", params=HEADER, headers=NDJSON,
                               content=b"\xef\xbb\xbf" + at_limit + b"\n" + ndjson([item(1)]))
        assert response.status_code == 202 and response.json()["progress"]["total"] == 2, response.text
        for cut in (b'{"id": "i3", "prompt": ', b'{"id": "i3", "prompt": \n'):  # with or without its newline
            response = client.post("/v1/evaluations", params=HEADER, content=ndjson([item(2)]) + cut, headers=NDJSON)
            assert response.status_code == 422
            (error,) = response.json()["errors"]
            assert error["line"] == 2 and error["pointer"] == "/lines/2"
            assert error["detail"] == "line 2 is not valid JSON (Expecting value at column 24)"
    assert stored(prod_settings) == (1, 2)


@pytest.mark.parametrize("params, parameter", [
    ({"judge": "scripted", "model": "m"}, "protocol"),
    (HEADER | {"options": "{oops"}, "options"),
    (HEADER | {"judge": "nobody"}, "judge"),
    (HEADER | {"format": "csv"}, "format"),
])
def test_bad_query_parameters_are_named(client, prod_settings, params, parameter):
    response = client.post("/v1/evaluations", params=params, content=ndjson([item(1)]), headers=NDJSON)
    assert response.status_code == 422, response.text
    assert parameter in [e.get("parameter") for e in response.json()["errors"]], response.json()
    assert stored(prod_settings) == (0, 0)


def test_json_body_with_query_parameters_or_other_types_are_refused(client):
    body = HEADER | {"items": [item(1)]}
    assert client.post("/v1/evaluations", params={"model": "x"}, json=body).status_code == 422
    response = client.post("/v1/evaluations", content=b"a,b", headers={"Content-Type": "text/csv"})
    assert response.status_code == 415


def test_uploads_are_idempotent(client, prod_settings):
    body = ndjson(item(i) for i in range(3))
    headers = NDJSON | {"Idempotency-Key": "upload-7"}
    first = client.post("/v1/evaluations", params=HEADER, content=body, headers=headers)
    again = client.post("/v1/evaluations", params=HEADER, content=body, headers=headers)
    assert first.json()["id"] == again.json()["id"] and again.headers["idempotent-replayed"] == "true"
    changed = client.post("/v1/evaluations", params=HEADER, content=body + ndjson([item(9)]), headers=headers)
    assert changed.status_code == 422 and stored(prod_settings) == (1, 3)


def suite(client):
    items = [{"id": str(81 + i), "prompt": f"Instruction number {i}", "baseline_response": "base"} for i in range(3)]
    assert client.post("/v1/suites", json={"name": "bench", "baseline_model": "ref", "items": items}).status_code == 201


def test_alpacaeval_outputs_are_matched_to_the_suite_by_instruction(client, prod_settings):
    suite(client)
    outputs = [{"instruction": f" Instruction number {i} ", "output": f"answer {i}", "generator": "my-model"}
               for i in range(3)]
    params = HEADER | {"suite": "bench", "format": "alpacaeval", "model": "my-model"}
    response = client.post("/v1/evaluations", params=params, content=json.dumps(outputs),
                           headers={"Content-Type": "application/json"})  # the file as it is
    assert response.status_code == 202, response.text
    assert run_worker(prod_settings, "scripted").returncode == 0
    page = client.get(f"{response.headers['location']}/verdicts", params={"include_item": True}).json()["data"]
    assert {v["item_id"]: v["item"]["response_a"] for v in page} == {str(81 + i): f"answer {i}" for i in range(3)}
    assert all(v["item"]["response_b"] == "base" for v in page)
    outputs[1]["instruction"] = "something else"
    bad = client.post("/v1/evaluations", params=params, content=json.dumps(outputs), headers=NDJSON)
    assert bad.status_code == 422 and bad.json()["errors"][0]["pointer"] == "/records/1/instruction"


def test_fastchat_answers_are_matched_by_question_id(client, prod_settings):
    suite(client)
    answers = [{"question_id": 81 + i, "model_id": "vicuna", "choices": [{"index": 0, "turns": [f"t{i}", "2nd"]}]}
               for i in range(3)]
    params = HEADER | {"suite": "bench", "format": "fastchat"}
    response = client.post("/v1/evaluations", params=params, content=ndjson(answers), headers=NDJSON)
    assert response.status_code == 202, response.text
    answers.append({"question_id": 999, "model_id": "vicuna", "choices": [{"turns": ["x"]}]})
    bad = client.post("/v1/evaluations", params=params, content=ndjson(answers), headers=NDJSON)
    assert bad.status_code == 422 and bad.json()["errors"][0]["line"] == 4
    assert "no item '999'" in bad.json()["errors"][0]["detail"]


def test_an_upload_can_name_a_webhook_url_checked_like_a_json_submission(client, prod_settings):
    params = HEADER | {"webhook_url": "http://10.0.0.1/hook"}
    response = client.post("/v1/evaluations", params=params, content=ndjson([item(1)]), headers=NDJSON)
    assert response.status_code == 422 and response.json()["errors"][0]["pointer"] == "/webhook_url"
    assert stored(prod_settings) == (0, 0)
    params = HEADER | {"webhook_url": "https://hooks.example.com/judgeserve"}
    created = client.post("/v1/evaluations", params=params, content=ndjson([item(1)]), headers=NDJSON)
    assert created.status_code == 202, created.text
    with session_scope(prod_settings.database_url) as session:
        assert session.scalar(select(Evaluation.webhook_url)) == "https://hooks.example.com/judgeserve"


def test_an_alpacaeval_file_is_read_whole_so_it_is_capped_like_a_json_body(prod_settings):
    small = prod_settings.model_copy(update={"limits": Limits(max_body_bytes=600)})
    with api_client(small) as client:
        suite(client)
        outputs = [{"instruction": f"Instruction number {i % 3}", "output": "x" * 100, "generator": "g"}
                   for i in range(10)]
        params = HEADER | {"suite": "bench", "format": "alpacaeval"}
        response = client.post("/v1/evaluations", params=params, content=json.dumps(outputs), headers=NDJSON)
    assert response.status_code == 422 and "max_body_bytes=600" in response.json()["errors"][0]["detail"]
    assert stored(prod_settings) == (0, 0)

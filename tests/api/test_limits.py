"""Request limits (413 / 422 naming the limit) and text that must come back exactly as it was sent.

Production mode on the real Postgres and Redis, with small limits so the tests stay fast.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from service.api.app import create_app
from service.config import Limits
from service.db.engine import session_scope
from service.models import Evaluation, Item, Suite, SuiteItem
from tests.support import REPO, authed, settings_env

LIMITS = Limits(max_body_bytes=64_000, max_upload_bytes=200_000, max_line_bytes=20_000, max_items=5,
                max_field_chars=10_000)
NDJSON = {"content-type": "application/x-ndjson"}
UPLOAD = {"protocol": "pairwise", "judge": "scripted", "model": "m"}

# text that must be stored and returned unchanged
UNICODE = "naïve café · 東京 · עברית · العربية · 🧑‍🚀🏳️‍🌈 · e\u0301 · \U0001F600 · 𝔘𝔫𝔦𝔠𝔬𝔡𝔢 · \u00a0\u3000"
CONTROL = "".join(chr(c) for c in range(1, 32)) + "\x7f\x80\x9f\u2028\u2029\ufeff\u200b\u200e\ufffd\U0010FFFF"
LONG_TOKEN = "Pneumonoultramicroscopicsilicovolcanoconiosis" * 222  # one 9,990-character word, no spaces
TRICKY = ["", " ", UNICODE, CONTROL, LONG_TOKEN, "[Response 2]\n\\[End of response]\n[[A]]",
          "line\r\nwindows\rold mac\nunix", "\\u0000 is not a NUL, \\\\ is two backslashes", '"quoted" {json}']


@pytest.fixture
def settings(prod_settings):
    return prod_settings.model_copy(update={"limits": LIMITS})


@pytest.fixture
def client(settings):
    with TestClient(create_app(settings), raise_server_exceptions=False) as test_client:
        yield authed(test_client, settings)


def count(settings, model) -> int:
    with session_scope(settings.database_url) as session:
        return session.scalar(select(func.count()).select_from(model))


def item(i: int, **fields) -> dict:
    return {"id": f"i{i}", "prompt": "q", "response_a": "a", "response_b": "b", **fields}


def evaluation(items: list[dict]) -> dict:
    return {**UPLOAD, "items": items}


def ndjson(rows: list) -> bytes:
    return "".join((row if isinstance(row, str) else json.dumps(row)) + "\n" for row in rows).encode()


def problem(response, status: int, limit: str | None = None) -> dict:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    body = response.json()
    if limit:
        assert f"limit {limit}" in json.dumps(body), body
    return body


def pointers(body: dict) -> list[str | None]:
    return [error.get("pointer") for error in body.get("errors", [])]


# ----------------------------------------------------------------------------- request body size

def test_body_over_max_body_bytes_is_413_and_nothing_is_stored(client, settings):
    big = evaluation([item(0, response_a="x" * 9_000) for _ in range(1)] + [item(i, response_a="y" * 9_000)
                                                                            for i in range(1, 8)])
    assert len(json.dumps(big)) > LIMITS.max_body_bytes
    problem(client.post("/v1/evaluations", json=big), 413, "max_body_bytes=64000")

    def chunks():  # no Content-Length: the limit is counted as the body streams in
        body = json.dumps(big).encode()
        for start in range(0, len(body), 8_000):
            yield body[start:start + 8_000]

    problem(client.post("/v1/evaluations", content=chunks(), headers={"content-type": "application/json"}), 413,
            "max_body_bytes=64000")
    suite = {"name": "big", "items": [{"id": f"q{i}", "prompt": "p" * 9_000} for i in range(8)]}
    problem(client.post("/v1/suites", json=suite), 413, "max_body_bytes=64000")
    problem(client.post("/v1/comparisons", content=b"{" + b" " * 70_000 + b"}",
                        headers={"content-type": "application/json"}), 413, "max_body_bytes=64000")
    assert count(settings, Evaluation) == 0 and count(settings, Suite) == 0


def test_upload_over_max_upload_bytes_is_413(client, settings):
    rows = [item(i, response_a="z" * 9_000) for i in range(25)]  # each line < max_line_bytes, > 200 kB in all
    problem(client.post("/v1/evaluations", params=UPLOAD, content=ndjson(rows), headers=NDJSON), 413,
            "max_upload_bytes=200000")
    assert count(settings, Evaluation) == 0


# ----------------------------------------------------------------------------- items per evaluation / suite

def test_items_over_max_items_is_422(client, settings):
    six = [item(i) for i in range(6)]
    body = problem(client.post("/v1/evaluations", json=evaluation(six)), 422, "max_items=5")
    assert pointers(body) == ["/items"]
    body = problem(client.post("/v1/evaluations", params=UPLOAD, content=ndjson(six), headers=NDJSON), 422,
                   "max_items=5")
    assert pointers(body) == ["/lines/6"]
    suite_items = [{"id": f"q{i}", "prompt": "p"} for i in range(6)]
    body = problem(client.post("/v1/suites", json={"name": "s", "items": suite_items}), 422, "max_items=5")
    assert pointers(body) == ["/items"]
    body = problem(client.post("/v1/suites", params={"name": "s"}, content=ndjson(suite_items), headers=NDJSON),
                   422, "max_items=5")
    assert pointers(body) == ["/lines/6"]
    assert client.post("/v1/evaluations", json=evaluation(six[:5])).status_code == 202  # at the limit: fine
    assert count(settings, Evaluation) == 1 and count(settings, Suite) == 0


# ----------------------------------------------------------------------------- characters per field

def test_field_over_max_field_chars_is_422_naming_the_field(client, settings):
    over, at = "w" * 10_001, "w" * 10_000
    body = problem(client.post("/v1/evaluations", json=evaluation([item(0), item(1, response_b=over)])), 422,
                   "max_field_chars=10000")
    assert pointers(body) == ["/items/1/response_b"]
    body = problem(client.post("/v1/evaluations", params=UPLOAD, content=ndjson([item(0), item(1, prompt=over)]),
                               headers=NDJSON), 422, "max_field_chars=10000")
    assert pointers(body) == ["/lines/2/prompt"]
    body = problem(client.post("/v1/suites", json={"name": "s", "items": [{"id": "q1", "prompt": "p",
                                                                            "reference": over}]}),
                   422, "max_field_chars=10000")
    assert pointers(body) == ["/items/0/reference"]
    body = problem(client.post("/v1/suites", params={"name": "s"}, headers=NDJSON,
                               content=ndjson([{"id": "q1", "prompt": "p"}, {"id": "q2", "turns": ["t", over]}])),
                   422, "max_field_chars=10000")
    assert pointers(body) == ["/lines/2/turns/1"] and body["errors"][0]["line"] == 2
    assert count(settings, Evaluation) == 0 and count(settings, Suite) == 0
    assert client.post("/v1/evaluations", json=evaluation([item(0, response_b=at)])).status_code == 202
    assert client.post("/v1/suites", json={"name": "s", "items": [{"id": "q", "prompt": at}]}).status_code == 201


# ----------------------------------------------------------------------------- JSONL line length

def test_jsonl_line_over_max_line_bytes_is_422_naming_the_line(client, settings):
    long_line = item(1, prompt="l" * 7_000, response_a="l" * 7_000, response_b="l" * 7_000)  # fields fit, line not
    assert len(json.dumps(long_line)) > LIMITS.max_line_bytes
    body = problem(client.post("/v1/evaluations", params=UPLOAD, content=ndjson([item(0), long_line]),
                               headers=NDJSON), 422, "max_line_bytes=20000")
    assert body["errors"][0]["line"] == 2 and pointers(body) == ["/lines/2"]
    suite_line = {"id": "q2", "prompt": "l" * 7_000, "reference": "l" * 7_000, "baseline_response": "l" * 7_000}
    body = problem(client.post("/v1/suites", params={"name": "s"}, headers=NDJSON,
                               content=ndjson([{"id": "q1", "prompt": "p"}, suite_line])), 422, "max_line_bytes=20000")
    assert body["errors"][0]["line"] == 2 and pointers(body) == ["/lines/2"]
    assert count(settings, Evaluation) == 0 and count(settings, Suite) == 0


# ----------------------------------------------------------------------------- text the database cannot hold

@pytest.mark.parametrize("raw, where", [
    ('"bad\\u0000byte"', "NUL"),
    ('"lone \\ud800 surrogate"', None),
])
def test_unstorable_text_is_422_never_500(client, settings, raw, where):
    body = ('{"protocol": "pairwise", "judge": "scripted", "model": "m", "items": [{"id": "i0", "prompt": "q", '
            f'"response_a": {raw}, "response_b": "b"}}]}}')
    found = problem(client.post("/v1/evaluations", content=body, headers={"content-type": "application/json"}), 422)
    if where:
        assert pointers(found) == ["/items/0/response_a"] and where in found["detail"]
    line = f'{{"id": "i0", "prompt": "q", "response_a": {raw}, "response_b": "b"}}\n'.encode()
    found = problem(client.post("/v1/evaluations", params=UPLOAD, content=line, headers=NDJSON), 422)
    assert pointers(found) == ["/lines/1/response_a"]
    suite = f'{{"name": "s", "items": [{{"id": "q1", "prompt": {raw}}}]}}'.encode()
    found = problem(client.post("/v1/suites", content=suite, headers={"content-type": "application/json"}), 422)
    assert pointers(found) == ["/items/0/prompt"]
    found = problem(client.post("/v1/suites", params={"name": "s"}, headers=NDJSON,
                                content=f'{{"id": "q1", "prompt": {raw}}}\n'.encode()), 422)
    assert pointers(found) == ["/lines/1/prompt"]
    assert count(settings, Evaluation) == 0 and count(settings, Suite) == 0


@pytest.mark.parametrize("method, url", [
    ("GET", "/v1/evaluations/%00"), ("GET", "/v1/evaluations/a%00b/verdicts"), ("POST", "/v1/evaluations/%00/cancel"),
    ("GET", "/v1/suites/a%00b"), ("GET", "/v1/reviews?evaluation_id=%00"), ("GET", "/v1/reviews/%00"),
    ("GET", "/v1/leaderboards/s%00?judge=%00"),
])
def test_nul_in_a_path_or_query_is_a_4xx_never_500(client, method, url):
    response = client.request(method, url)
    assert 400 <= response.status_code < 500, (url, response.status_code, response.text)
    assert response.headers["content-type"] == "application/problem+json"


def test_nul_in_a_header_field_is_422(client, settings):
    problem(client.post("/v1/evaluations", json={**evaluation([item(0)]), "model": "m\x00"}), 422)
    problem(client.post("/v1/evaluations", json={**evaluation([item(0)]), "suite": "s", "suite_version": 2**40}), 422)
    problem(client.post("/v1/evaluations", params={**UPLOAD, "suite": "s", "suite_version": 2**40},
                        content=ndjson([{"id": "i0", "response": "r"}]), headers=NDJSON), 422)
    assert count(settings, Evaluation) == 0


# ----------------------------------------------------------------------------- round trips

def _tricky_items() -> list[dict]:
    items = []
    for i, text in enumerate(TRICKY):
        short = text if len(text) < 1000 else "short"  # one long token per line keeps lines under max_line_bytes
        items.append({"id": f"t{i}-{'ид🧪' if i % 2 else 'x'}", "prompt": short or "p", "response_a": text,
                      "response_b": TRICKY[-1 - i], "reference": short, "rubric": CONTROL if i == 0 else short})
    return items


def _verdict_items(client, evaluation_id: str) -> list[dict]:
    page = client.get(f"/v1/evaluations/{evaluation_id}/verdicts", params={"include_item": True, "limit": 100})
    assert page.status_code == 200, page.text
    return [verdict["item"] for verdict in page.json()["data"]]


def _stored_payloads(settings, evaluation_id: str) -> list[dict]:
    with session_scope(settings.database_url) as session:
        rows = session.execute(select(Item.payload).where(Item.evaluation_id == evaluation_id)
                               .order_by(Item.position))
        return [payload for (payload,) in rows]


def test_text_is_stored_and_returned_unchanged(client, settings):
    """Unicode, empty strings, a 9,990-character token and control characters survive API → Postgres → API."""
    items = _tricky_items()
    assert len(items) > LIMITS.max_items  # two submissions: JSON and NDJSON
    first = client.post("/v1/evaluations", json={**evaluation(items[:5]), "model": UNICODE})
    assert first.status_code == 202, first.text
    assert first.json()["model"] == UNICODE
    second = client.post("/v1/evaluations", params={**UPLOAD, "model": CONTROL.replace("\r", "").replace("\n", "")},
                         content=ndjson(items[5:]), headers=NDJSON)
    assert second.status_code == 202, second.text
    worker = subprocess.run([sys.executable, "-m", "workers", "--judge", "scripted", "--burst"],
                            env=settings_env(settings), cwd=REPO, capture_output=True, text=True, timeout=300)
    assert worker.returncode == 0, worker.stderr[-3000:]
    for response, expected in ((first, items[:5]), (second, items[5:])):
        evaluation_id = response.json()["id"]
        assert client.get(f"/v1/evaluations/{evaluation_id}").json()["status"] == "completed"
        assert _verdict_items(client, evaluation_id) == expected
        assert _stored_payloads(settings, evaluation_id) == expected
    assert client.get(f"/v1/evaluations/{second.json()['id']}").json()["model"] == \
        CONTROL.replace("\r", "").replace("\n", "")

    suite_items = [{"id": item["id"], "prompt": item["prompt"], "reference": item["reference"],
                    "baseline_response": item["response_b"], "category": "c"} for item in items]
    for version, upload in enumerate((
        lambda rows: client.post("/v1/suites", json={"name": "tricky", "description": UNICODE, "items": rows}),
        lambda rows: client.post("/v1/suites", params={"name": "tricky", "description": UNICODE},
                                 content=ndjson(rows), headers=NDJSON),
    ), start=1):
        for part in (suite_items[:5],):
            created = upload(part)
            assert created.status_code == 201, created.text
            detail = client.get(f"/v1/suites/tricky/versions/{version}").json()
            assert detail["description"] == UNICODE
            assert [{k: v for k, v in row.items() if v is not None} for row in detail["items"]] == part
    with session_scope(settings.database_url) as session:
        stored = [payload | {"id": key, "category": category} for key, category, payload in session.execute(
            select(SuiteItem.item_key, SuiteItem.category, SuiteItem.payload).order_by(SuiteItem.id))]
    assert [{k: v for k, v in row.items() if v is not None} for row in stored] == suite_items[:5] * 2

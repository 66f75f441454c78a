"""Bad bodies cost little and are named: a 422 lists at most 100 errors with the count of all, JSON nested past
the limit is a 422 naming its line, field or parameter (never a RecursionError), a NUL names its field, and review
and webhook bodies say what is wrong. Production mode on the real Postgres and Redis.
"""

from __future__ import annotations

import json
import select as selectors
import socket
import subprocess
import sys

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from service.api.app import create_app
from service.core.json_depth import MAX_JSON_DEPTH
from service.db.engine import session_scope
from service.errors import MAX_LISTED_ERRORS
from service.models import Evaluation, Suite
from tests.live_gateway import free_port
from tests.support import REPO, api_key, authed, settings_env, wait_for

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
    def bad(i: int) -> dict:
        return item(i, response_a=1, response_b=2, category=3)

    per_item = problem(client.post("/v1/evaluations", json={**UPLOAD, "items": [bad(0)]}))["error_count"]
    assert per_item >= 3 and 100 % per_item
    n = 100 // per_item + 1  # the last item takes the count past 100 (no item is left unread)
    body = problem(client.post("/v1/evaluations", json={**UPLOAD, "items": [bad(i) for i in range(n)]}))
    assert len(body["errors"]) == 100 and body["error_count"] == n * per_item and "stopped_early" not in body
    assert body["errors"][99]["pointer"].startswith(f"/items/{n - 1}/")


def test_a_suite_of_one_repeated_id_lists_a_hundred_repeats(client, prod_settings):
    items = [{"id": "same", "prompt": "p"}] * 5000
    body = problem(client.post("/v1/suites", json={"name": "s", "items": items}))
    assert len(body["errors"]) == 100 and body["stopped_early"] is True
    assert body["errors"][0] == {"pointer": "/items/1/id", "detail": "duplicate item id 'same' (first at /items/0)"}
    assert count(prod_settings, Suite) == 0


def test_a_header_field_is_built_whole_only_up_to_a_number_of_values(client):
    options = '{"a": [' + ", ".join(["[]"] * 100_001) + "]}"
    raw = json.dumps({**UPLOAD, "options": "OPTIONS", "items": [item(0)]}).replace('"OPTIONS"', options)
    body = problem(client.post("/v1/evaluations", content=raw, headers=JSON))
    assert body["errors"] == [{"pointer": "/options",
                               "detail": "holds more than limit max_field_values=100000 JSON values"}]


def test_a_long_list_of_wrong_values_in_a_small_body_is_one_error(client):
    body = problem(client.post("/v1/webhooks", json={"url": "https://example.com/h", "event_types": ["nope"] * 5000}))
    assert body["error_count"] == 1 and body["errors"][0]["pointer"] == "/event_types"


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


@pytest.mark.parametrize("where", ["line", "options", "tags", "fastchat", "alpacaeval"])
def test_every_upload_entry_point_names_where_json_nests_too_deep(client, where):
    suite = [{"id": "81", "prompt": "Instruction", "baseline_response": "base"}]
    assert client.post("/v1/suites", json={"name": "bench", "baseline_model": "ref", "items": suite}).status_code == 201
    if where == "line":
        lines = ndjson([item(0), '{"id": "x", "prompt": ' + deep_text(10_000) + "}"])
        body = problem(client.post("/v1/evaluations", params=UPLOAD, content=lines, headers=NDJSON))
        assert body["errors"][0]["pointer"] == "/lines/2" and body["errors"][0]["line"] == 2
        assert body["errors"][0]["detail"].startswith(f"line 2 is {DEPTH_TEXT}")
        assert ", at /prompt/0/0/0" in body["errors"][0]["detail"]
    elif where in ("options", "tags"):  # the query parameters that hold JSON
        value = '{"samples": ' + deep_text(4_000) + "}"
        body = problem(client.post("/v1/evaluations", params=UPLOAD | {where: value}, content=ndjson([item(0)]),
                                   headers=NDJSON))
        assert body["errors"][0]["parameter"] == where and DEPTH_TEXT in body["errors"][0]["detail"]
        assert body["errors"][0]["detail"].endswith(", at /samples" + "/0" * (MAX_JSON_DEPTH - 1))
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
    note = "n" * (64 * 1024)
    body = problem(client.post("/v1/reviews/00000000-0000-0000-0000-000000000000",
                               json={"label": "a", "reviewer": "me", "note": note}), 413)
    assert "limit small_body_bytes=65536" in body["detail"]


# ----------------------------------------------------------------------------- a live gateway: the event loop stays free

@pytest.fixture
def gateway(prod_settings, tmp_path):
    """A uvicorn gateway process with the default limits: its URL, an API key and its log file."""
    key, port, log = api_key(prod_settings, "bad-bodies"), free_port(), tmp_path / "gateway.log"
    process = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "--factory", "service.api.app:app_from_env", "--port", str(port)],
        env=settings_env(prod_settings), cwd=REPO, stdout=log.open("w"), stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"

    def up() -> bool:
        assert process.poll() is None, log.read_text()
        try:
            return httpx.get(f"{url}/healthz", timeout=2).status_code == 200
        except httpx.HTTPError:
            return False

    try:
        wait_for(up, timeout=60, interval=0.2)
        yield url, key, log
    finally:
        process.terminate()
        process.wait(timeout=30)


def raw_request(port: int, key: str, body: bytes, length: int | None = None) -> socket.socket:
    """A POST /v1/evaluations sent over a plain socket (its response is read later, or never)."""
    sock = socket.create_connection(("127.0.0.1", port))
    head = (f"POST /v1/evaluations HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {key}\r\n"
            f"Content-Type: application/json\r\nContent-Length: {length or len(body)}\r\nConnection: close\r\n\r\n")
    sock.sendall(head.encode() + body)
    return sock


def response_of(sock: socket.socket) -> tuple[int, dict]:
    data = b""
    while chunk := sock.recv(1 << 16):
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    if b"transfer-encoding: chunked" in head.lower():
        body = _unchunked(body)
    return int(head.split()[1]), json.loads(body)


def _unchunked(body: bytes) -> bytes:
    out, position = b"", 0
    while True:
        end = body.index(b"\r\n", position)
        size = int(body[position:end], 16)
        if size == 0:
            return out
        out += body[end + 2:end + 2 + size]
        position = end + 2 + size + 2


def test_healthz_is_answered_while_a_30_mb_body_is_validated(gateway):
    url, key, _ = gateway
    good = json.dumps(item(0)).encode()
    count = 30_000_000 // (len(good) + 1)
    body = (b'{"protocol": "pairwise", "judge": "scripted", "model": "m", "items": [' + b",".join([good] * count)
            + b", 1]}")  # every item is read before the last is found not to be an object
    assert len(body) > 30_000_000
    big = raw_request(int(url.rsplit(":", 1)[1]), key, body)  # sent: the gateway now reads and validates it
    answered_meanwhile = 0
    with httpx.Client(base_url=url, timeout=30) as client:
        while not selectors.select([big], [], [], 0)[0]:  # its answer has not started yet
            assert client.get("/healthz").status_code == 200
            if not selectors.select([big], [], [], 0)[0]:
                answered_meanwhile += 1
    status, answer = response_of(big)
    assert answered_meanwhile >= 1, "no /healthz completed before the big request's answer"
    assert status == 422 and answer["errors"] == [{"pointer": f"/items/{count}",
                                                   "detail": "an item must be a JSON object, not int"}]


def test_a_client_disconnect_is_logged_at_info_as_a_disconnect(gateway):
    url, key, log = gateway
    port = int(url.rsplit(":", 1)[1])
    for _ in range(3):
        sock = raw_request(port, key, b'{"protocol": "pairwise", "items": [', length=1_000_000)
        sock.close()  # gone before sending the rest of the promised body

    def disconnects() -> list[dict]:
        lines = [json.loads(line) for line in log.read_text().splitlines() if line.startswith("{")]
        return [entry for entry in lines if entry["message"].startswith("client disconnected")]

    found = wait_for(lambda: len(disconnects()) == 3 and disconnects(), timeout=30)
    assert {entry["level"] for entry in found} == {"INFO"}
    assert found[0]["message"] == "client disconnected: POST /v1/evaluations (the request was not completed)"
    assert "unhandled error" not in log.read_text() and "Traceback" not in log.read_text()

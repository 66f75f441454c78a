"""Evaluation ids on the command line: every argument and option that takes one refuses an empty or malformed
id with exit 2 and a message naming it, before any request; a well-formed id is sent (lower-cased). A service
answer the client cannot read is exit 3 with a message, not a traceback."""

from __future__ import annotations

import json

import httpx
import pytest
from typer.testing import CliRunner

from service.cli.main import app

ID = "0b4f1c2e-8d3a-4f6b-9c1d-2e3f4a5b6c7d"
URL = "http://judgeserve.test"


@pytest.fixture
def sent(monkeypatch) -> list[httpx.Request]:
    """Every request the CLI sends (none reach a network); each is answered 404 Not Found."""
    requests: list[httpx.Request] = []

    def send(client, request, **kwargs):
        requests.append(request)
        return httpx.Response(404, json={"title": "Not Found", "status": 404, "detail": "no such evaluation"},
                              headers={"Content-Type": "application/problem+json"}, request=request)

    monkeypatch.setattr(httpx.Client, "send", send)
    return requests


def run(*args: str):
    return CliRunner().invoke(app, [*args, "--url", URL, "--retries", "0"])


def submit_args(tmp_path, *extra: str) -> list[str]:
    file = tmp_path / "outputs.jsonl"
    file.write_text(json.dumps({"id": "q0", "prompt": "p", "response_a": "a", "response_b": "b"}) + "\n")
    return ["submit", "--file", str(file), "--model", "m", "--judge", "j", *extra]


# every command-line place an evaluation id goes, as (words before the id, words after it, the name in messages)
PLACES = {
    "status": (["status"], [], "EVALUATION_ID"),
    "verdicts": (["verdicts"], [], "EVALUATION_ID"),
    "reviews --evaluation": (["reviews", "--evaluation"], [], "--evaluation"),
    "reviews -e": (["reviews", "-e"], [], "--evaluation"),
    "submit --gate-against": (None, [], "--gate-against"),
}
BAD_IDS = {
    "": "is empty: give an evaluation id (a UUID such as",
    "   ": "is empty: give an evaluation id (a UUID such as",
    "not-an-id": "'not-an-id' is not an evaluation id (a UUID such as",
    ID[:-1]: f"'{ID[:-1]}' is not an evaluation id",
    ID + "/verdicts": f"'{ID}/verdicts' is not an evaluation id",
    "..": "'..' is not an evaluation id",
}


def words(place: str, value: str, tmp_path) -> list[str]:
    before, after, _ = PLACES[place]
    if before is None:
        return submit_args(tmp_path, "--gate-against", value, *after)
    return [*before, value, *after]


@pytest.mark.parametrize("value", list(BAD_IDS))
@pytest.mark.parametrize("place", list(PLACES))
def test_an_empty_or_malformed_id_exits_2_naming_the_argument_and_sends_nothing(place, value, sent, tmp_path):
    result = run(*words(place, value, tmp_path))
    assert result.exit_code == 2, result.output
    name = PLACES[place][2]
    sep = " " if BAD_IDS[value].startswith("is empty") else ": "
    assert f"error: {name}{sep}{BAD_IDS[value]}" in result.output
    assert "nothing was sent" in result.output
    assert sent == []
    assert "Traceback" not in result.output and not isinstance(result.exception, (ValueError, AttributeError))


@pytest.mark.parametrize("place", list(PLACES))
def test_a_well_formed_id_is_sent_lower_cased(place, sent, tmp_path):
    result = run(*words(place, f"  {ID.upper()} ", tmp_path))
    assert len(sent) == 1, result.output
    request = sent[0]
    if place.startswith("reviews"):
        assert request.url.path == "/v1/reviews" and request.url.params["evaluation_id"] == ID
    else:  # status, verdicts; the gate's baseline is looked up before anything is submitted
        assert request.url.path in (f"/v1/evaluations/{ID}", f"/v1/evaluations/{ID}/verdicts")
    assert result.exit_code == 2, result.output
    if place.startswith("submit"):
        assert f"--gate-against: no evaluation '{ID}'" in result.output
    else:
        assert "HTTP 404 Not Found: no such evaluation" in result.output


def test_an_answer_the_client_cannot_read_exits_3_with_a_message(monkeypatch):
    def send(client, request, **kwargs):
        return httpx.Response(200, headers={"Content-Type": "text/html"}, content=b"<html>sign in</html>",
                              request=request)

    monkeypatch.setattr(httpx.Client, "send", send)
    result = run("status", ID)
    assert result.exit_code == 3, result.output
    assert f"error: GET {URL}/v1/evaluations/{ID}: HTTP 200 with a body that is not JSON (text/html)" in result.output
    assert "Traceback" not in result.output and "JSONDecodeError" not in result.output

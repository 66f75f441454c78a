"""Tags, leaderboard membership and the gate's baseline found by query, on real Postgres/Redis with a real worker."""

from __future__ import annotations

import json

import pytest

from tests.support import api_client, run_worker

SUITE_ITEMS = [{"id": f"q{i}", "prompt": f"question {i}", "baseline_response": "b" * 20} for i in range(12)]


@pytest.fixture
def client(prod_settings):
    with api_client(prod_settings) as test_client:
        assert test_client.post("/v1/suites", json={"name": "bench", "baseline_model": "ref",
                                                    "items": SUITE_ITEMS}).status_code == 201
        yield test_client


def submit(client, model="m", length=40, judge="scripted", **extra) -> str:
    """A run on the suite; the scripted judge prefers the longer response, so ``length`` > 20 wins."""
    body = {"protocol": "pairwise", "judge": judge, "model": model, "suite": "bench",
            "items": [{"id": item["id"], "response": "a" * length} for item in SUITE_ITEMS], **extra}
    response = client.post("/v1/evaluations", json=body)
    assert response.status_code == 202, response.text
    return response.json()["id"]


def ids(client, **params) -> list[str]:
    response = client.get("/v1/evaluations", params=params)
    assert response.status_code == 200, response.text
    return [row["id"] for row in response.json()["data"]]


def test_tags_are_stored_shown_and_filtered(client):
    main = submit(client, tags={"branch": "main", "commit": "aaa111"})
    pr = submit(client, tags={"branch": "feature/x", "pr": "123"}, leaderboard=False)
    release = submit(client, tags={"branch": "main", "release": "2.1"})
    untagged = submit(client)
    shown = client.get(f"/v1/evaluations/{pr}").json()
    assert shown["tags"] == {"branch": "feature/x", "pr": "123"} and shown["leaderboard"] is False
    assert client.get(f"/v1/evaluations/{untagged}").json()["tags"] == {}
    rows = {row["id"]: row for row in client.get("/v1/evaluations").json()["data"]}
    assert rows[main]["tags"] == {"branch": "main", "commit": "aaa111"} and rows[main]["leaderboard"] is True
    assert ids(client, tag="branch=main") == [release, main]
    assert ids(client, tag=["branch=main", "release"]) == [release]
    assert ids(client, tag="release=*") == [release] and ids(client, tag="pr=123") == [pr]
    assert ids(client, tag="branch=Main") == [] and ids(client, tag="pr=12") == []
    assert ids(client, tag="nonesuch") == []


def test_an_upload_takes_tags_and_the_leaderboard_flag_as_query_parameters(client):
    lines = "\n".join(json.dumps({"id": item["id"], "response": "a" * 30}) for item in SUITE_ITEMS)
    params = {"protocol": "pairwise", "judge": "scripted", "model": "up", "suite": "bench",
              "tags": json.dumps({"branch": "main"}), "leaderboard": "false"}
    response = client.post("/v1/evaluations", params=params, content=lines.encode(),
                           headers={"Content-Type": "application/x-ndjson"})
    assert response.status_code == 202, response.text
    shown = client.get(f"/v1/evaluations/{response.json()['id']}").json()
    assert shown["tags"] == {"branch": "main"} and shown["leaderboard"] is False


@pytest.mark.parametrize(("tags", "pointer"), [
    ({"bad key": "x"}, "/tags/bad key"),  # pydantic names a bad key /tags/bad key/[key]
    ({"branch": "a\nb"}, "/tags/branch"),
    ({"branch": "x" * 257}, "/tags/branch"),
    ({f"k{i}": "v" for i in range(33)}, "/tags"),
    ({"branch": 3}, "/tags/branch"),
])
def test_bad_tags_are_a_422_naming_the_tag_and_nothing_is_stored(client, tags, pointer):
    before = ids(client)
    response = client.post("/v1/evaluations", json={
        "protocol": "pairwise", "judge": "scripted", "model": "m", "suite": "bench", "tags": tags,
        "items": [{"id": "q0", "response": "r"}]})
    assert response.status_code == 422, response.text
    pointers = [error.get("pointer") for error in response.json()["errors"]]
    assert any(p == pointer or p.startswith(pointer + "/[key]") for p in pointers), response.text
    assert ids(client) == before


@pytest.mark.parametrize("tag", ["bad key=x", "=x", "k=" + "x" * 300, "k=a\tb"])
def test_a_bad_tag_filter_is_a_422_naming_the_parameter(client, tag):
    response = client.get("/v1/evaluations", params={"tag": tag})
    assert response.status_code == 422, response.text
    assert response.json()["errors"][0]["parameter"] == "tag"


def gate(client, candidate: str, **baseline) -> dict:
    return client.post("/v1/comparisons", json={"candidate_evaluation_id": candidate, **baseline})


def test_the_baseline_query_finds_the_newest_completed_matching_run(client, prod_settings):
    old_main = submit(client, model="m", tags={"branch": "main"})
    assert run_worker(prod_settings, "scripted").returncode == 0
    new_main = submit(client, model="m", tags={"branch": "main"})
    other_model = submit(client, model="other", tags={"branch": "main"})
    other_judge = submit(client, model="m", judge="scripted-first", tags={"branch": "main"})
    pr = submit(client, model="m", length=5, tags={"branch": "feature"}, leaderboard=False)
    assert run_worker(prod_settings, "scripted").returncode == 0
    assert run_worker(prod_settings, "scripted-first").returncode == 0
    queued_main = submit(client, model="m", judge="unserved", tags={"branch": "main"})  # never completes

    response = gate(client, pr, baseline={"latest": {"model": "m", "tags": {"branch": "main"}}})
    assert response.status_code == 200, response.text
    result = response.json()
    assert result["baseline_evaluation_id"] == new_main
    assert result["baseline_query"] == {"latest": {"model": "m", "tags": {"branch": "main"}, "leaderboard": None}}
    assert result["decision"] == "fail" and result["difference"] < 0  # the PR's responses got shorter
    assert gate(client, pr, baseline={"latest": {"model": "other"}}).json()["baseline_evaluation_id"] == other_model
    assert gate(client, pr, baseline={"latest": {"tags": {"branch": "*"}, "leaderboard": True}}).json()[
        "baseline_evaluation_id"] == other_model  # the newest on the same judge; the PR itself is never its baseline
    assert gate(client, other_judge, baseline={"latest": {"model": "m"}}).status_code == 422  # no other such run
    by_id = gate(client, pr, baseline_evaluation_id=old_main)
    assert by_id.status_code == 200 and by_id.json()["baseline_query"] is None
    assert queued_main not in {new_main, old_main}


def test_no_matching_baseline_is_a_422_that_quotes_the_query(client, prod_settings):
    candidate = submit(client, model="m")
    assert run_worker(prod_settings, "scripted").returncode == 0
    response = gate(client, candidate, baseline={"latest": {"model": "m", "tags": {"branch": "main"}}})
    assert response.status_code == 422, response.text
    error = response.json()["errors"][0]
    assert error["pointer"] == "/baseline/latest"
    assert "model=m, tag branch=main" in error["detail"] and "'bench'" in error["detail"]


@pytest.mark.parametrize("body", [
    {},  # neither
    {"baseline_evaluation_id": "x", "baseline": {"latest": {}}},  # both
    {"baseline": {"latest": {"colour": "red"}}},  # an unknown key of the query
    {"baseline": {"newest": {}}},  # an unknown kind of query
])
def test_a_malformed_baseline_is_a_422(client, body):
    response = client.post("/v1/comparisons", json={"candidate_evaluation_id": "c", **body})
    assert response.status_code == 422, response.text


def board(client, **params) -> dict:
    response = client.get("/v1/leaderboards/bench", params={"judge": "scripted", **params})
    assert response.status_code == 200, response.text
    return response.json()


def test_runs_off_leaderboards_and_tag_filtered_leaderboards(client, prod_settings):
    submit(client, model="released", length=40, tags={"release": "1.0"})
    submit(client, model="nightly", length=30)
    submit(client, model="pr-123", length=60, tags={"pr": "123"}, leaderboard=False)
    assert run_worker(prod_settings, "scripted").returncode == 0
    assert {row["model"] for row in board(client)["rows"]} == {"released", "nightly"}  # never the PR run
    assert {row["model"] for row in board(client, runs="all")["rows"]} == {"released", "nightly"}
    released = board(client, tag="release")
    assert [row["model"] for row in released["rows"]] == ["released"] and released["tags"] == ["release"]
    assert board(client, tag="release=1.0")["rows"] == released["rows"]
    assert board(client, tag="release=2.0")["rows"] == [] and board(client, tag="pr")["rows"] == []
    rows = {row["model"]: row for row in board(client)["rows"]}
    assert rows["released"]["avg_length"] == 40.0 and rows["nightly"]["avg_length"] == 30.0
    assert client.get("/v1/leaderboards/bench", params={"tag": "bad key"}).status_code == 422


def test_a_leaderboard_as_csv(client, prod_settings):
    submit(client, model="=HYPERLINK(\"x\")", length=40)
    submit(client, model="plain", length=30)
    assert run_worker(prod_settings, "scripted").returncode == 0
    by_header = client.get("/v1/leaderboards/bench", params={"judge": "scripted"}, headers={"Accept": "text/csv"})
    by_query = client.get("/v1/leaderboards/bench", params={"judge": "scripted", "format": "csv"})
    assert by_header.status_code == by_query.status_code == 200
    assert by_header.headers["content-type"].startswith("text/csv") and by_header.text == by_query.text
    assert "attachment" in by_header.headers["content-disposition"]
    import csv
    rows = list(csv.DictReader(by_header.text.splitlines()))
    json_rows = board(client)["rows"]
    assert [r["model"] for r in rows] == ["'" + json_rows[0]["model"], json_rows[1]["model"]]  # formulas stay text
    assert list(rows[0])[:8] == ["rank", "rank_best", "rank_worst", "model", "win_rate", "win_rate_ci95_low",
                                 "win_rate_ci95_high", "n"]
    assert [float(r["win_rate"]) for r in rows] == [row["value"] for row in json_rows]
    assert [float(r["avg_length"]) for r in rows] == [40.0, 30.0]
    etag = by_header.headers["etag"]
    assert etag != client.get("/v1/leaderboards/bench", params={"judge": "scripted"}).headers["etag"]
    assert client.get("/v1/leaderboards/bench", params={"judge": "scripted"},
                      headers={"Accept": "text/csv", "If-None-Match": etag}).status_code == 304


def test_a_tagged_leaderboard_is_computed_once_per_snapshot(client, prod_settings, monkeypatch):
    from service.leaderboards import snapshot

    submit(client, model="released", length=40, tags={"release": "1.0"})
    assert run_worker(prod_settings, "scripted").returncode == 0
    calls = []
    compute = snapshot.compute
    monkeypatch.setattr(snapshot, "compute", lambda *a, **k: calls.append(a) or compute(*a, **k))
    first = client.get("/v1/leaderboards/bench", params={"judge": "scripted", "tag": "release"})
    again = client.get("/v1/leaderboards/bench", params={"judge": "scripted", "tag": "release"},
                       headers={"If-None-Match": first.headers["etag"]})
    assert again.status_code == 304 and len(calls) == 1
    submit(client, model="released-2", length=50, tags={"release": "1.1"})  # a completion refreshes the snapshot
    assert run_worker(prod_settings, "scripted").returncode == 0
    fresh = client.get("/v1/leaderboards/bench", params={"judge": "scripted", "tag": "release"})
    assert len(calls) == 2 and {row["model"] for row in fresh.json()["rows"]} == {"released", "released-2"}

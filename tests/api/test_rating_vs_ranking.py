"""POST /v1/analyses/rating-vs-ranking on real Postgres/Redis with a real worker and a scripted judge whose scores
(markers in the responses) and preferences (the longer response wins) are set per item."""

from __future__ import annotations

import pytest

from tests.support import api_client, run_worker

# item → (X's score, Y's score, X's length − Y's length): the expected matrix is in the test
PLAN = [(5, 3, 10)] * 4 + [(2, 4, 10)] * 2 + [(3, 3, 0)] + [(3, 3, -10)] * 2 + [(1, 5, -10)]


def texts(i: int) -> tuple[str, str]:
    score_x, score_y, longer = PLAN[i]
    base = 30
    return (f"<<scripted:{score_x}=1>> " + "x" * (base + max(longer, 0)),
            f"<<scripted:{score_y}=1>> " + "y" * (base + max(-longer, 0)))


@pytest.fixture
def client(prod_settings):
    with api_client(prod_settings) as test_client:
        yield test_client


def submit(client, body) -> str:
    response = client.post("/v1/evaluations", json={"judge": "scripted", **body})
    assert response.status_code == 202, response.text
    return response.json()["id"]


@pytest.fixture
def triple(client, prod_settings):
    """X's and Y's responses scored one by one, and X (A) against Y (B), over the same ten items."""
    ids = [f"q{i}" for i in range(len(PLAN))]
    x = submit(client, {"protocol": "rating", "model": "X", "items": [
        {"id": key, "prompt": f"question {i}", "response": texts(i)[0]} for i, key in enumerate(ids)]})
    y = submit(client, {"protocol": "rating", "model": "Y", "items": [
        {"id": key, "prompt": f"question {i}", "response": texts(i)[1]} for i, key in enumerate(ids)]})
    pair = submit(client, {"protocol": "pairwise", "model": "X", "baseline_model": "Y", "items": [
        {"id": key, "prompt": f"question {i}", "response_a": texts(i)[0], "response_b": texts(i)[1]}
        for i, key in enumerate(ids)]})
    assert run_worker(prod_settings, "scripted").returncode == 0
    return x, y, pair


def analyse(client, x, y, pair):
    return client.post("/v1/analyses/rating-vs-ranking", json={
        "rating_x_evaluation_id": x, "rating_y_evaluation_id": y, "pairwise_evaluation_id": pair})


def test_agreement_matrix_kappa_and_disagreements(client, triple):
    response = analyse(client, *triple)
    assert response.status_code == 200, response.text
    report = response.json()
    assert (report["model_x"], report["model_y"], report["warnings"]) == ("X", "Y", [])
    assert report["n_items"] == 10 and report["n_agree"] == 6 and report["agreement_rate"] == 0.6
    assert report["matrix"] == {"x": {"x": 4, "tie": 0, "y": 0}, "tie": {"x": 0, "tie": 1, "y": 2},
                                "y": {"x": 2, "tie": 0, "y": 1}}
    low, high = report["agreement_rate_ci95"]
    assert low < 0.6 < high
    # κ: po = 0.6; scores imply x 4, tie 3, y 3; the comparisons say x 6, tie 1, y 3
    pe = 0.4 * 0.6 + 0.3 * 0.1 + 0.3 * 0.3
    assert report["cohen_kappa"] == pytest.approx((0.6 - pe) / (1 - pe))
    assert [d["item_id"] for d in report["disagreements"]] == ["q4", "q5", "q7", "q8"]
    first = report["disagreements"][0]
    assert (first["score_x"], first["score_y"], first["from_scores"], first["from_comparison"]) == (2, 4, "y", "x")
    verdict = client.get(first["links"]["comparison"]).json()["data"]
    assert [v["item_id"] for v in verdict] == ["q4"] and verdict[0]["outcome"] == "a"
    assert client.get(first["links"]["rating_y"]).json()["data"][0]["score"] == 4


def test_a_triple_that_is_not_two_scorings_and_a_comparison_is_a_422(client, triple):
    x, y, pair = triple
    response = analyse(client, pair, y, x)
    assert response.status_code == 422, response.text
    pointers = {e["pointer"] for e in response.json()["errors"]}
    assert pointers == {"/rating_x_evaluation_id", "/pairwise_evaluation_id"}


def test_unknown_unfinished_and_unshared(client, prod_settings, triple):
    x, y, pair = triple
    assert analyse(client, x, y, "00000000-0000-4000-8000-000000000000").status_code == 404
    waiting = client.post("/v1/evaluations", json={"protocol": "rating", "judge": "unserved", "model": "Z", "items": [
        {"id": "q0", "prompt": "p", "response": "r"}]}).json()["id"]
    response = analyse(client, x, waiting, pair)
    assert response.status_code == 422 and response.json()["errors"][0]["pointer"] == "/rating_y_evaluation_id"
    other = submit(client, {"protocol": "rating", "model": "Y", "items": [
        {"id": "elsewhere", "prompt": "p", "response": "<<scripted:3=1>> r"}]})
    assert run_worker(prod_settings, "scripted").returncode == 0
    response = analyse(client, x, other, pair)
    assert response.status_code == 422 and "share no item" in response.text


def test_names_that_do_not_line_up_are_warned_about(client, triple):
    x, y, pair = triple
    report = analyse(client, y, x, pair).json()  # X and Y swapped: the comparison's A is X, not Y
    assert len(report["warnings"]) == 2 and "response A" in report["warnings"][0]

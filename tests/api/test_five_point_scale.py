"""Pairwise ``scale: 5`` (Arena-Hard's verdicts) through the API: suite → leaderboard, review, comparison.

The scripted judge answers a five-point call from the first ``<<scripted:...>>`` marker in the prompt
(labels percent-encoded). The baseline responses carry none, so the candidate's marker decides:
with ``orders: single`` it names the verdict of the one order (A = the candidate); with both
orders the same positional label comes back in each, which is the first-position bias BPC cancels.
"""

from __future__ import annotations

import math
import uuid
from urllib.parse import quote

import numpy as np
import pytest
from scipy.optimize import minimize

from service.db.engine import session_scope
from service.suites import repository as suites_repo
from tests.support import api_client, project_id, run_worker

N_ITEMS = 6
BASELINE = "ref-model"
JUDGE = "scripted"
SINGLE = {"scale": 5, "orders": "single"}


def marker(label: str) -> str:
    return f"answer <<scripted:{quote(label, safe='')}=1>>"


# bold: 2 strong wins, 4 slight losses; steady: 4 slight wins, 2 strong losses
VERDICTS = {"bold": ["A>>B"] * 2 + ["B>A"] * 4, "steady": ["A>B"] * 4 + ["B>>A"] * 2}
WIN_CREDIT = {"A>>B": 1.0, "A>B": 1.0, "A=B": 0.5, "B>A": 0.0, "B>>A": 0.0}


def make_suite(settings, name: str) -> None:
    suite_id = str(uuid.uuid4())
    items = [{"suite_id": suite_id, "position": i, "item_key": f"q{i}", "category": "hard",
              "payload": {"prompt": f"question {i}", "baseline_response": f"baseline answer {i}"}}
             for i in range(N_ITEMS)]
    with session_scope(settings.database_url) as session:
        suites_repo.add_suite(session, {"id": suite_id, "project_id": project_id(settings), "name": name, "version": 1,
                                        "description": None, "baseline_model": BASELINE, "n_items": N_ITEMS}, items)


@pytest.fixture
def client(prod_settings):
    make_suite(prod_settings, "arena")
    make_suite(prod_settings, "arena-plain")
    with api_client(prod_settings) as test_client:
        yield test_client


def evaluate(client, settings, model, options, suite="arena"):
    body = {"protocol": "pairwise", "judge": JUDGE, "model": model, "suite": suite, "options": options,
            "items": [{"id": f"q{i}", "response": marker(label)} for i, label in enumerate(VERDICTS[model])]}
    created = client.post("/v1/evaluations", json=body)
    assert created.status_code == 202, created.text
    assert run_worker(settings, JUDGE).returncode == 0
    evaluation = client.get(created.headers["location"]).json()
    assert evaluation["status"] == "completed", evaluation
    return evaluation


def verdicts_of(client, evaluation_id):
    return client.get(f"/v1/evaluations/{evaluation_id}/verdicts", params={"limit": 100}).json()["data"]


def weighted_elo(battles, anchor):
    """Bradley–Terry by direct likelihood maximisation (scipy), each battle weighted, Elo scale, anchor at 1000."""
    models = sorted({m for a, b, _, _ in battles for m in (a, b)})
    index = {m: i for i, m in enumerate(models)}

    def nll(theta):
        return -sum(w * (s * (theta[index[a]] - theta[index[b]]) - math.log1p(math.exp(theta[index[a]] - theta[index[b]])))
                    for a, b, s, w in battles)

    theta = minimize(nll, np.zeros(len(models)), method="BFGS", options={"gtol": 1e-10}).x
    return {m: 1000 + 400 / math.log(10) * (theta[index[m]] - theta[index[anchor]]) for m in models}


def test_strong_verdicts_count_three_battles_and_change_the_ranking(client, prod_settings):
    evaluations = {model: evaluate(client, prod_settings, model, SINGLE) for model in VERDICTS}
    for model, evaluation in evaluations.items():
        labels = VERDICTS[model]
        summary = evaluation["summary"]
        assert summary["win_rate"] == pytest.approx(np.mean([WIN_CREDIT[x] for x in labels]))
        weights = [3.0 if ">>" in x else 1.0 for x in labels]
        assert summary["weighted_win_rate"] == pytest.approx(
            sum(w * WIN_CREDIT[x] for w, x in zip(weights, labels)) / sum(weights))
        stored = sorted(verdicts_of(client, evaluation["id"]), key=lambda v: v["item_id"])
        assert [v["details"]["calls"][0]["verdict"] for v in stored] == labels
        assert [v["details"]["battle"]["weight"] for v in stored] == weights
        assert [j["label"] for v in stored for j in v["judgments"]] == labels
    assert evaluations["bold"]["summary"]["weighted_win_rate"] == pytest.approx(0.6)   # 6 of 10 battles
    assert evaluations["steady"]["summary"]["weighted_win_rate"] == pytest.approx(0.4)  # 4 of 10

    board = client.get("/v1/leaderboards/arena", params={"protocol": "pairwise", "judge": JUDGE}).json()
    rows = {row["model"]: row for row in board["rows"]}
    assert [row["model"] for row in board["rows"]] == ["bold", "steady"]  # by Elo, though steady's win rate is higher
    assert rows["steady"]["value"] > rows["bold"]["value"]
    battles = [(model, BASELINE, WIN_CREDIT[x], 3.0 if ">>" in x else 1.0) for model in VERDICTS for x in VERDICTS[model]]
    expected = weighted_elo(battles, BASELINE)
    for model in VERDICTS:
        assert rows[model]["elo"] == pytest.approx(expected[model], abs=1e-3)
    assert rows["bold"]["elo"] > 1000.0 > rows["steady"]["elo"]

    # strong_weight 1: every verdict one battle, the win rates decide and the order flips
    for model in VERDICTS:
        evaluate(client, prod_settings, model, {**SINGLE, "strong_weight": 1}, suite="arena-plain")
    plain = client.get("/v1/leaderboards/arena-plain", params={"protocol": "pairwise", "judge": JUDGE}).json()
    assert [row["model"] for row in plain["rows"]] == ["steady", "bold"]
    plain_rows = {row["model"]: row for row in plain["rows"]}
    expected = weighted_elo([(a, b, s, 1.0) for a, b, s, _ in battles], BASELINE)
    for model in VERDICTS:
        assert plain_rows[model]["elo"] == pytest.approx(expected[model], abs=1e-3)


def test_the_regression_gate_compares_five_point_evaluations(client, prod_settings):
    bold = evaluate(client, prod_settings, "bold", SINGLE)
    steady = evaluate(client, prod_settings, "steady", SINGLE)
    gate = client.post("/v1/comparisons", json={"baseline_evaluation_id": steady["id"],
                                                "candidate_evaluation_id": bold["id"]})
    assert gate.status_code == 200, gate.text
    result = gate.json()
    assert result["n_shared"] == N_ITEMS
    assert result["difference"] == pytest.approx(2 / 6 - 4 / 6)


def test_both_orders_reliability_and_a_review_on_five_points(client, prod_settings):
    # the same positional label in both orders: first-position bias, cancelled to ties, all flagged for review
    evaluation = evaluate(client, prod_settings, "bold", {"scale": 5, "review_fraction": 1.0})
    summary, reliability = evaluation["summary"], evaluation["reliability"]
    assert summary["win_rate"] == pytest.approx(0.5) and summary["ties"] == N_ITEMS
    assert reliability["position_consistency_rate"] == 0.0
    # bold's markers: A>>B twice (first slot wins in both orders), B>A four times (second slot wins)
    assert reliability["first_position_win_rate"] == pytest.approx(2 / 6)
    assert summary["weighted_win_rate"] == pytest.approx(0.5)  # strong verdicts both ways balance out

    reviews = client.get("/v1/reviews", params={"status": "open", "evaluation_id": evaluation["id"]}).json()["data"]
    assert len(reviews) == N_ITEMS
    strong = next(r for r in reviews if r["item_id"] == "q0")
    assert sorted(j["label"] for j in strong["judgments"]) == ["A>>B", "A>>B"]
    labelled = client.post(f"/v1/reviews/{strong['id']}", json={"label": "a", "reviewer": "me"})
    assert labelled.status_code == 200, labelled.text
    assert labelled.json()["verdict"]["score"] == 1.0
    after = client.get(f"/v1/evaluations/{evaluation['id']}").json()["summary"]
    assert after["win_rate"] == pytest.approx((1 + 0.5 * 5) / 6)
    # the reviewed item is one plain battle won: (1 + 5 items × 1.5 of 3 or ½ of 1 ...) recomputed from details
    reviewed = next(v for v in verdicts_of(client, evaluation["id"]) if v["item_id"] == "q0")
    assert reviewed["details"]["battle"] is None and reviewed["reviewed"]
    others = [v["details"]["battle"] for v in verdicts_of(client, evaluation["id"]) if v["item_id"] != "q0"]
    expected = (1.0 + sum(b["score"] * b["weight"] for b in others)) / (1.0 + sum(b["weight"] for b in others))
    assert after["weighted_win_rate"] == pytest.approx(expected)

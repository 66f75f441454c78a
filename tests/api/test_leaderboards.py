"""Suites evaluated through real workers → leaderboard snapshots, ETags, and the regression gate."""

from __future__ import annotations

import math
import uuid

import numpy as np
import pytest
from scipy.optimize import minimize

from service.core.statistics import bootstrap_mean_ci
from service.db.engine import session_scope
from service.suites import repository as suites_repo
from tests.support import api_client, project_id, run_worker

N_ITEMS = 12
BASELINE = "ref-model"


def make_suite(settings, name="chat"):
    """A suite whose baseline responses have lengths 20..31 characters (and human references, for href)."""
    suite_id = str(uuid.uuid4())
    items = [{"suite_id": suite_id, "position": i, "item_key": f"q{i}", "category": "writing" if i % 2 else "math",
              "payload": {"prompt": f"question {i}", "baseline_response": "b" * (20 + i),
                          "human_reference": f"reference {i}"}} for i in range(N_ITEMS)]
    with session_scope(settings.database_url) as session:
        suites_repo.add_suite(session, {"id": suite_id, "project_id": project_id(settings), "name": name, "version": 1, "description": None,
                                        "baseline_model": BASELINE, "n_items": N_ITEMS}, items)


# the scripted judge prefers the longer response; baseline i has 20+i characters
RESPONSES = {
    "long": lambda i: "a" * (40 + i) if i else "a" * 20,       # longer on 11 items, tie on q0
    "same": lambda i: "a" * (20 + i),                           # ties everywhere
    "short": lambda i: "a" * 5 if i % 3 else "a" * (20 + i),    # shorter on 8, ties on 4
}


def evaluate(client, settings, model, responses=None, items=None, judge="scripted", protocol="pairwise"):
    responses = responses or RESPONSES[model]
    items = items if items is not None else range(N_ITEMS)
    body = {"protocol": protocol, "judge": judge, "model": model, "suite": "chat",
            "items": [{"id": f"q{i}", "response": responses(i)} for i in items]}
    created = client.post("/v1/evaluations", json=body)
    assert created.status_code == 202, created.text
    assert run_worker(settings, judge).returncode == 0
    evaluation = client.get(created.headers["location"]).json()
    assert evaluation["status"] == "completed", evaluation
    return evaluation


def stored_scores(client, evaluation_id):
    data = client.get(f"/v1/evaluations/{evaluation_id}/verdicts", params={"limit": 1000}).json()["data"]
    return [v["score"] for v in data if not v["unscored"] and not v["failed"]]


def independent_elo(battles, anchor):
    """Bradley–Terry by direct likelihood maximisation (scipy), on the Elo scale with the anchor at 1000."""
    models = sorted({m for a, b, _ in battles for m in (a, b)})
    index = {m: i for i, m in enumerate(models)}

    def nll(theta):
        total = 0.0
        for a, b, s in battles:
            d = theta[index[a]] - theta[index[b]]
            total -= s * d - math.log1p(math.exp(d))
        return total

    theta = minimize(nll, np.zeros(len(models)), method="BFGS", options={"gtol": 1e-10}).x
    scale = 400 / math.log(10)
    return {m: 1000 + scale * (theta[index[m]] - theta[index[anchor]]) for m in models}


@pytest.fixture
def client(prod_settings):
    make_suite(prod_settings)
    with api_client(prod_settings) as test_client:
        yield test_client


def test_three_models_make_a_leaderboard_matching_the_stored_verdicts(client, prod_settings):
    evaluations = {model: evaluate(client, prod_settings, model) for model in RESPONSES}
    response = client.get("/v1/leaderboards/chat", params={"protocol": "pairwise", "judge": "scripted"})
    assert response.status_code == 200, response.text
    board = response.json()
    rows = {row["model"]: row for row in board["rows"]}
    assert [row["model"] for row in board["rows"]] == ["long", "same", "short"]
    assert [row["rank"] for row in board["rows"]] == [1, 2, 3]
    battles = []
    for model, evaluation in evaluations.items():
        scores = stored_scores(client, evaluation["id"])
        row = rows[model]
        assert row["evaluation_id"] == evaluation["id"] and row["n"] == len(scores) == N_ITEMS
        assert row["value"] == pytest.approx(np.mean(scores))
        assert row["ci95"] == pytest.approx(list(bootstrap_mean_ci(scores, seed=0)))
        assert row["baseline_model"] == BASELINE
        if model == "same":  # no length difference at all: the GLM is undefined, and says so
            assert row["lc_win_rate"] is None and row["lc_note"]
        else:
            assert 0.0 <= row["lc_win_rate"] <= 1.0
        battles += [(model, BASELINE, s) for s in scores]
    expected_elo = independent_elo(battles, BASELINE)
    for model in RESPONSES:
        assert rows[model]["elo"] == pytest.approx(expected_elo[model], abs=1e-3)
        low, high = rows[model]["elo_ci95"]
        assert low - 1e-3 <= rows[model]["elo"] <= high + 1e-3  # bootstrap refits use a looser tolerance
    assert board["ranking"]["anchor"] == BASELINE
    # the model that wins every decided comparison has a win-rate interval excluding 50%
    assert rows["long"]["ci95"][0] > 0.5 and rows["short"]["ci95"][1] < 0.5


def test_polling_gets_304_until_a_new_evaluation_completes(client, prod_settings):
    evaluate(client, prod_settings, "same")
    first = client.get("/v1/leaderboards/chat")
    etag = first.headers["etag"]
    assert first.headers["cache-control"] == "no-cache"
    again = client.get("/v1/leaderboards/chat", headers={"If-None-Match": etag})
    assert again.status_code == 304 and again.content == b"" and again.headers["etag"] == etag
    evaluate(client, prod_settings, "long")
    changed = client.get("/v1/leaderboards/chat", headers={"If-None-Match": etag})
    assert changed.status_code == 200 and changed.headers["etag"] != etag
    assert {row["model"] for row in changed.json()["rows"]} == {"same", "long"}
    all_runs = client.get("/v1/leaderboards/chat", params={"runs": "all"})
    assert all_runs.headers["etag"] != changed.headers["etag"] and len(all_runs.json()["rows"]) == 2


def test_href_leaderboards_carry_the_length_controlled_win_rate(client, prod_settings):
    """href is pairwise against the suite's baseline: its summary and leaderboard rows get the LC columns too."""
    evaluations = {model: evaluate(client, prod_settings, model, protocol="href") for model in ("long", "short", "same")}
    board = client.get("/v1/leaderboards/chat", params={"protocol": "href", "judge": "scripted"}).json()
    rows = {row["model"]: row for row in board["rows"]}
    for model, evaluation in evaluations.items():
        summary = evaluation["summary"]
        assert {"lc_win_rate", "lc_win_rate_ci95", "lc_note"} <= set(summary)
        assert rows[model]["lc_win_rate"] == summary["lc_win_rate"]
        assert rows[model]["lc_win_rate_ci95"] == summary["lc_win_rate_ci95"]
    for model in ("long", "short"):  # judged on 12 items with varying length differences
        low, high = rows[model]["lc_win_rate_ci95"]  # resamples are refitted to a different tolerance
        assert 0.0 <= low <= high <= 1.0 and low - 1e-6 <= rows[model]["lc_win_rate"] <= high + 1e-6
    assert rows["same"]["lc_win_rate"] is None and "std is 0" in rows["same"]["lc_note"]


def test_failed_items_are_left_out_of_leaderboards_and_the_gate(client, prod_settings):
    """An item whose judge calls all failed has no score: not a battle, not a shared item, not a loss."""
    def failing_on_q3(i):  # scripted-flaky fails every call whose prompt holds its marker
        return "FAIL-ME" if i == 3 else RESPONSES["long"](i)

    first = evaluate(client, prod_settings, "long", failing_on_q3, judge="scripted-flaky")
    second = evaluate(client, prod_settings, "long-again", failing_on_q3, judge="scripted-flaky")
    summary = first["summary"]
    assert (summary["n_scored"], summary["n_unscored"], summary["n_failed"]) == (N_ITEMS - 1, 0, 1)
    scores = stored_scores(client, first["id"])
    assert len(scores) == N_ITEMS - 1 and None not in scores
    board = client.get("/v1/leaderboards/chat", params={"protocol": "pairwise", "judge": "scripted-flaky"}).json()
    row = {r["model"]: r for r in board["rows"]}["long"]
    assert row["n"] == N_ITEMS - 1 and row["value"] == pytest.approx(np.mean(scores))
    assert row["elo"] is not None
    gate = client.post("/v1/comparisons", json={"baseline_evaluation_id": first["id"],
                                                "candidate_evaluation_id": second["id"]}).json()
    assert gate["n_shared"] == N_ITEMS - 1 and gate["difference"] == 0 and gate["decision"] == "pass"


def test_unknown_leaderboard_is_404(client):
    response = client.get("/v1/leaderboards/nothing-here")
    assert response.status_code == 404 and response.headers["content-type"] == "application/problem+json"


def test_regression_gate(client, prod_settings):
    baseline = evaluate(client, prod_settings, "long")
    same_again = evaluate(client, prod_settings, "long")
    worse = evaluate(client, prod_settings, "short")

    def gate(candidate, **extra):
        return client.post("/v1/comparisons", json={"baseline_evaluation_id": baseline["id"],
                                                    "candidate_evaluation_id": candidate["id"], **extra})

    passed = gate(same_again).json()
    assert passed["decision"] == "pass" and passed["difference"] == 0 and passed["n_shared"] == N_ITEMS
    failed = gate(worse, margin=0.05).json()
    assert failed["decision"] == "fail" and failed["difference"] < -0.05
    assert failed["difference_ci95"][1] < -0.05 and failed["p_value"] < 0.05

    partial = client.post("/v1/evaluations", json={"protocol": "pairwise", "judge": "scripted", "model": "x",
                                                   "items": [{"id": "zz", "prompt": "p", "response_a": "a",
                                                              "response_b": "b"}]})
    assert run_worker(prod_settings, "scripted").returncode == 0
    not_comparable = gate({"id": partial.json()["id"]})
    assert not_comparable.status_code == 422 and "suite differs" in not_comparable.json()["detail"]
    missing = gate({"id": "no-such-evaluation"})
    assert missing.status_code == 404


def test_suite_submissions_name_unknown_suites_and_items(client):
    unknown = client.post("/v1/evaluations", json={"protocol": "pairwise", "judge": "scripted", "model": "m",
                                                   "suite": "nope", "items": [{"id": "q0", "response": "a"}]})
    assert unknown.status_code == 422 and unknown.json()["errors"][0]["pointer"] == "/suite"
    bad_item = client.post("/v1/evaluations", json={"protocol": "pairwise", "judge": "scripted", "model": "m",
                                                    "suite": "chat", "items": [{"id": "q0", "response": "a"},
                                                                               {"id": "q99", "response": "b"}]})
    assert bad_item.status_code == 422 and bad_item.json()["errors"][0]["pointer"] == "/items/1/id"


def test_a_new_suite_version_starts_a_fresh_leaderboard_and_old_runs_are_kept(client, prod_settings):
    old = evaluate(client, prod_settings, "long")
    suite_id = str(uuid.uuid4())
    with session_scope(prod_settings.database_url) as session:  # version 2 changes the baseline responses
        suites_repo.add_suite(session, {"id": suite_id, "project_id": project_id(prod_settings), "name": "chat", "version": 2, "description": None,
                                        "baseline_model": BASELINE, "n_items": N_ITEMS},
                              [{"suite_id": suite_id, "position": i, "item_key": f"q{i}", "category": None,
                                "payload": {"prompt": f"question {i}", "baseline_response": "c" * 100}}
                               for i in range(N_ITEMS)])
    new = evaluate(client, prod_settings, "same")
    assert (old["suite_version"], new["suite_version"]) == (1, 2)
    board = client.get("/v1/leaderboards/chat").json()
    assert board["suite_version"] == 2 and [row["model"] for row in board["rows"]] == ["same"]
    assert client.get(f"/v1/evaluations/{old['id']}").json()["summary"] == old["summary"]  # untouched
    gate = client.post("/v1/comparisons", json={"baseline_evaluation_id": old["id"],
                                                "candidate_evaluation_id": new["id"]})
    assert gate.status_code == 422 and "suite_version differs" in gate.json()["detail"]

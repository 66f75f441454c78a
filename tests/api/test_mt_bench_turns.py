"""The bundled MT-Bench suite judged end to end per turn (scripted judge): rating and pairwise through the API.

A submission on a two-turn suite item is ``{id, responses: [turn1, turn2]}``. The scripted judge answers a
rating call from the first ``<<scripted:...>>`` marker in its prompt: turn 1's prompt holds only the
turn-1 answer (no marker here: every score equally likely, 3.0 expected on the default 1–5 rubric);
turn 2's holds the whole conversation, so its first marker is the one in the turn-2 answer. Pairwise
calls are answered by the longer response where the prompt has the single-turn layout (turn 1); a
later turn's prompt holds two conversations instead, which the scripted judge reads as a tie.
"""

from __future__ import annotations

import pytest
from sqlalchemy import text

from service.db.engine import get_engine, session_scope
from service.suites import service as suites_service
from service.suites.examples import mt_bench
from tests.support import api_client, project_id, run_worker

JUDGE = "scripted"
# the turn-2 score the scripted judge gives per MT-Bench category
TURN2_SCORE = {"writing": 5, "roleplay": 4, "reasoning": 2, "math": 1, "coding": 2, "extraction": 3, "stem": 4,
               "humanities": 5}


@pytest.fixture
def client(prod_settings):
    with get_engine(prod_settings.database_url).begin() as conn:
        conn.execute(text("TRUNCATE suite_items, suites RESTART IDENTITY CASCADE"))
    with session_scope(prod_settings.database_url) as session:
        suites_service.load_example_suites(session, project_id(prod_settings))
    with api_client(prod_settings) as test_client:
        yield test_client


def evaluate(client, settings, body):
    created = client.post("/v1/evaluations", json=body)
    assert created.status_code == 202, created.text
    assert run_worker(settings, JUDGE).returncode == 0
    evaluation = client.get(created.headers["location"]).json()
    assert evaluation["status"] == "completed", evaluation
    return evaluation


def verdicts_of(client, evaluation_id):
    return client.get(f"/v1/evaluations/{evaluation_id}/verdicts", params={"limit": 1000}).json()["data"]


def test_rating_grades_both_turns_of_every_mt_bench_question(client, prod_settings):
    questions = mt_bench().items
    items = [{"id": q.id, "responses": [f"first answer to {q.id}",
                                        f"second answer <<scripted:{TURN2_SCORE[q.category]}=1>>"]}
             for q in questions]
    evaluation = evaluate(client, prod_settings, {"protocol": "rating", "judge": JUDGE, "model": "m",
                                                  "suite": "mt-bench", "items": items})
    summary = evaluation["summary"]
    assert (summary["n_items"], summary["n_scored"]) == (80, 80)
    assert summary["per_turn"]["1"]["mean_score"] == pytest.approx(3.0)
    turn2 = [TURN2_SCORE[q.category] for q in questions]
    assert summary["per_turn"]["2"]["mean_score"] == pytest.approx(sum(turn2) / 80)
    assert summary["mean_score"] == pytest.approx((3.0 + sum(turn2) / 80) / 2)
    assert set(summary["per_category"]) == set(TURN2_SCORE)
    for category, score in TURN2_SCORE.items():
        entry = summary["per_category"][category]
        assert entry["n"] == 10 and entry["per_turn"] == {"1": pytest.approx(3.0), "2": pytest.approx(score)}
        assert entry["mean_score"] == pytest.approx((3.0 + score) / 2)

    verdicts = {v["item_id"]: v for v in verdicts_of(client, evaluation["id"])}
    assert len(verdicts) == 80
    math = next(q for q in questions if q.category == "math")
    verdict = verdicts[math.id]
    assert sorted(j["order"] for j in verdict["judgments"]) == ["turn1", "turn2"]
    assert [t["score"] for t in verdict["details"]["turns"]] == [pytest.approx(3.0), 1.0]
    # the stored item is the multi-turn item, with the suite's reference answers of both turns
    with_items = client.get(f"/v1/evaluations/{evaluation['id']}/verdicts",
                            params={"limit": 1000, "include_item": True}).json()["data"]
    stored = next(v["item"] for v in with_items if v["item_id"] == math.id)
    assert stored["turns"] == math.turns and stored["reference_turns"] == math.reference_turns
    assert stored["responses"][1].startswith("second answer") and "response" not in stored


def test_pairwise_compares_every_turn_against_baseline_answers(client, prod_settings):
    bundled = mt_bench()
    suite = {"name": "mt-bench", "baseline_model": "base",
             "items": [{**q.model_dump(exclude_none=True), "baseline_responses": ["base one", "base two"]}
                       for q in bundled.items]}
    uploaded = client.post("/v1/suites", json=suite)
    assert uploaded.status_code == 201, uploaded.text
    assert uploaded.json()["version"] == 2
    items = [{"id": q.id, "responses": ["a much longer first answer", "x"]} for q in bundled.items]
    evaluation = evaluate(client, prod_settings, {"protocol": "pairwise", "judge": JUDGE, "model": "m",
                                                  "suite": "mt-bench", "items": items})
    summary = evaluation["summary"]
    assert summary["n_scored"] == 80
    assert summary["per_turn"]["1"]["win_rate"] > 0.75          # the longer answer wins turn 1
    assert summary["per_turn"]["2"]["win_rate"] == pytest.approx(0.5)  # two conversations: the scripted tie
    assert set(summary["per_category"]) == set(TURN2_SCORE)
    assert all(entry["n"] == 10 for entry in summary["per_category"].values())
    verdict = verdicts_of(client, evaluation["id"])[0]
    assert sorted(j["order"] for j in verdict["judgments"]) == ["ab", "ab.t2", "ba", "ba.t2"]
    assert evaluation["reliability"]["position_consistency_rate"] == 1.0
    board = client.get("/v1/leaderboards/mt-bench", params={"protocol": "pairwise", "judge": JUDGE}).json()
    assert [row["model"] for row in board["rows"]] == ["m"] and board["suite_version"] == 2


def test_a_two_turn_item_needs_a_response_per_turn(client):
    bundled = mt_bench().items
    body = {"protocol": "rating", "judge": JUDGE, "model": "m", "suite": "mt-bench",
            "items": [{"id": bundled[0].id, "responses": ["a", "b"]}, {"id": bundled[1].id, "response": "one"},
                      {"id": bundled[2].id, "responses": ["only one"]}]}
    refused = client.post("/v1/evaluations", json=body)
    assert refused.status_code == 422
    errors = {e["pointer"]: e["detail"] for e in refused.json()["errors"]}
    assert "has 2 turns: submit 'responses'" in errors["/items/1"]
    assert "holds 1 responses" in errors["/items/2"]
    no_baseline = client.post("/v1/evaluations", json={**body, "protocol": "pairwise", "items": body["items"][:1]})
    assert no_baseline.status_code == 422 and "no baseline_responses" in no_baseline.text


@pytest.mark.parametrize("fields, pointer", [
    ({"turns": ["a", "b"], "baseline_responses": ["only one"]}, "/items/0/baseline_responses"),
    ({"turns": ["a", "b"], "reference_turns": ["x", "y", "z"]}, "/items/0/reference_turns"),
    ({"prompt": "a", "baseline_responses": ["x"]}, "/items/0/baseline_responses"),
])
def test_suite_items_give_one_baseline_and_reference_per_turn(client, fields, pointer):
    refused = client.post("/v1/suites", json={"name": "turns", "items": [{"id": "q", **fields}]})
    assert refused.status_code == 422, refused.text
    assert [e["pointer"] for e in refused.json()["errors"]] == [pointer]
